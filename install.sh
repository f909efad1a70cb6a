#!/usr/bin/env bash
# Installs audiogen into ./.venv (Python 3.11, or $PYTHON: 3.12 and 3.13 work too) at the exact
# versions it is tested with (requirements/constraints.txt).
#   ./install.sh           everything: the product (with torch 2.11 for the planner) and the
#                          neural renderer's stack (torchaudio 2.11, audiocraft 1.3.0)
#   ./install.sh --core    the product without the neural renderer's stack
#   ./install.sh --dev     everything plus the test tools (what CI runs), and Debian's chromium
#                          and chromium-driver (the web page's tests drive them)
#   ./install.sh --bench   also Debian's fluidsynth, GM soundfonts and ffmpeg (benchmarks, kits)
set -euo pipefail
cd "$(dirname "$0")"

neural=1 extras="" bench=0
for arg in "$@"; do
  case "$arg" in
    --core) neural=0 ;;
    --dev) extras="[test]" ;;
    --bench) bench=1 ;;
    *) echo "install.sh: unknown option $arg (use --core, --dev or --bench)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert (3, 11) <= sys.version_info < (3, 14), "audiogen needs Python 3.11-3.13"'

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
if [ -n "$extras" ] || [ "$bench" = 1 ]; then
  $sudo apt-get update -q
fi
if [ -n "$extras" ]; then
  $sudo apt-get install -y -q chromium chromium-driver
fi
if [ "$bench" = 1 ]; then
  # musescore-general-soundfont-lossless: MuseScore General as .sf2 (benchmarks/bench_soundfonts.py)
  $sudo apt-get install -y -q fluidsynth fluid-soundfont-gm musescore-general-soundfont \
    musescore-general-soundfont-lossless ffmpeg
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
pin=(-c requirements/constraints.txt)
.venv/bin/python -m pip install -q "${pin[@]}" -e ".$extras"
if [ "$neural" = 1 ]; then
  .venv/bin/python -m pip install -q "${pin[@]}" -r requirements/neural.txt
  .venv/bin/python -m pip install -q "${pin[@]}" --no-deps audiocraft
fi
echo "audiogen installed in .venv ($(.venv/bin/audiogen kits | wc -l) kits)"
