"""Peak resident memory of a whole `audiogen render` (read MIDI, render, mix, loudness, every
file written) at 1, 5 and 25 minutes and for 100,000 notes, each in a fresh process.

    python benchmarks/bench_memory.py                 # every case
    python benchmarks/bench_memory.py --only 1 5      # some cases (minutes, or "notes")
    python benchmarks/bench_memory.py --stages 5      # where one case's memory goes, by stage

Results: benchmarks/results/memory.json (written after each case), printed as Markdown; the
stages of a case go under "stages" (resident memory on entering each stage and at its highest
while it ran, sampled every 5 ms in the rendering process).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_spine import busy_groove
from machine import describe_machine

from audiogen.midi import write_midi
from audiogen.score import DrumScore, Hit, Meter

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "memory.json"
INSTRUMENTS = ("kick", "snare", "hat_closed", "hat_pedal", "ride", "tom_high", "tom_low",
               "tambourine", "cowbell")  # fmt: skip


def dense_score(notes: int = 100_000) -> DrumScore:
    """``notes`` hits at 120 bpm: every instrument on every 16th-of-a-bar tick, as many bars as
    it takes (a stress case, not music)."""
    hits = [Hit(tick, name, 60 + tick % 60) for tick in range(notes // len(INSTRUMENTS) + 1)
            for name in INSTRUMENTS][:notes]  # fmt: skip
    bars = hits[-1].tick // 96 + 1
    return DrumScore(120.0, Meter(4, 4), bars, tuple(hits))


def peak_rss(midi: Path, out: Path) -> dict:
    """Run ``audiogen render`` in a fresh process; its peak RSS (MB) and wall time (s)."""
    command = [sys.executable, "-m", "audiogen", "-q", "render", str(midi), "-o", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        "exit": os.waitstatus_to_exitcode(status),
        "message": stderr.strip().splitlines()[-1] if stderr.strip() else "",
    }


# The stages `--stages` follows: (module, attribute, name); threads of one stage count once.
STAGES = (
    ("audiogen.renderers.sampler", "Sampler.render", "render stems (sampler)"),
    ("audiogen.mix.mixer", "_process_stem", "stem chains (pedalboard), pan"),
    ("audiogen.mix.mixer", "_room_return", "room (reverb)"),
    ("audiogen.mix.mixer", "compressor_gain", "bus and glue"),
    ("audiogen.mix.mixer", "drive_stems", "drive (parallel compression, clipping)"),
    ("audiogen.mix.mixer", "normalize", "loudness and true-peak limiter"),
    ("audiogen.export", "_write_all", "writing (stems, mix, MIDI, picture)"),
    ("audiogen.export", "save_grid", "picture"),
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def stage_memory(case: str) -> dict[str, Any]:
    """Resident memory by stage of one `audiogen render`, in this process (Linux)."""
    import importlib

    from audiogen.cli import main as cli

    active: dict[str, int] = {}
    seen: dict[str, list[float]] = {}  # stage -> [on entering, highest while it ran]
    lock = threading.Lock()

    def follow(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def followed(*args: Any, **kwargs: Any) -> Any:
            with lock:
                now = _rss_mb()
                seen.setdefault(name, [now, now])
                active[name] = active.get(name, 0) + 1
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    seen[name][1] = max(seen[name][1], _rss_mb())
                    active[name] -= 1

        return followed

    for module_name, attribute, name in STAGES:
        owner: Any = importlib.import_module(module_name)
        *path, last = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, last, follow(name, getattr(owner, last)))

    def sample() -> None:
        while True:
            now = _rss_mb()
            with lock:
                for name, count in active.items():
                    if count:
                        seen[name][1] = max(seen[name][1], now)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    score = dense_score() if case == "notes" else busy_groove(round(float(case) * 30))
    with tempfile.TemporaryDirectory() as tmp:
        write_midi(score, Path(tmp) / "beat.mid")
        start = time.perf_counter()
        status = cli(["-q", "render", str(Path(tmp) / "beat.mid"), "-o", str(Path(tmp) / "out")])
        seconds = time.perf_counter() - start
    return {
        "audio_s": round(score.duration_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        "exit": status,
        "stages_mb": {name: [round(v) for v in seen[name]] for _, _, name in STAGES
                      if name in seen},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["1", "5", "25", "notes"])
    parser.add_argument("--stages", metavar="CASE", help="resident memory by stage of one case")
    args = parser.parse_args()
    # Cases run one at a time add to what earlier runs measured.
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"cases": {}}
    results["machine"] = describe_machine()
    if args.stages:
        result = stage_memory(args.stages)
        results.setdefault("stages", {})[args.stages] = {**result,
                                                         "machine": describe_machine()}  # fmt: skip
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print("| stage | on entering | highest |\n|---|---|---|")
        for name, (entering, highest) in result["stages_mb"].items():
            print(f"| {name} | {entering:,} MB | {highest:,} MB |")
        print(f"whole render: {result['peak_rss_mb']:,.0f} MB peak, {result['seconds']} s")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.only:
            if case == "notes":
                score, label = dense_score(), "100,000 notes"
            else:
                score, label = busy_groove(round(float(case) * 30)), f"{case} min"
            midi = Path(tmp) / f"{case}.mid"
            write_midi(score, midi)
            result = {"audio_s": round(score.duration_s, 1), "notes": len(score.hits),
                      **peak_rss(midi, Path(tmp) / f"out-{case}")}  # fmt: skip
            results["cases"][label] = result
            print(f"{label}: {result}", flush=True)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print("\n| case | audio | notes | peak RSS | wall time | exit |\n|---|---|---|---|---|---|")
    for label, r in results["cases"].items():
        print(f"| {label} | {r['audio_s'] / 60:.1f} min | {r['notes']:,} "
              f"| {r['peak_rss_mb']:,.0f} MB | {r['seconds']:.0f} s | {r['exit']} |")  # fmt: skip


if __name__ == "__main__":
    main()
