"""The CLI cases of bench_fuzz.py: issue 16's reproducers as `audiogen` command lines, then a
sample of the generated bad inputs (options, sentences, MIDI files, output paths, recipes)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from bench_fuzz import REPO, CliCase
from fuzz_inputs import (
    BAD_OPTIONS,
    BAD_SENTENCES,
    bad_recipes,
    hostile_midi,
    notes,
    smf,
    tempo,
)

FLAGS = {
    "fade_in_s": "--fade-in", "fade_out_s": "--fade-out", "formats": "--format",
    "sample_rate": "--sample-rate", "note_map": "--note-map", "preset_name": "--preset-name",
}  # fmt: skip
_HELD: list[int] = []  # lock files this process holds for a case


def _write(name: str, data: bytes):
    def setup(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return setup


def _no_output(folder: Path, done: subprocess.CompletedProcess) -> str:
    """A refused run leaves no output folder."""
    made = [p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("out")]
    return f"left {made}" if done.returncode != 0 and made else ""


def _killed(sig: int, then_again: bool):
    """A render stopped by ``sig`` as it writes; with ``then_again``, a second run into the same
    parent afterwards (which must clear what the first left)."""

    def after(folder: Path, done: subprocess.CompletedProcess) -> str:
        argv = [sys.executable, "-m", "audiogen", "-q", "render", "beat.mid", "--kit", "acoustic"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        run = subprocess.Popen([*argv, "-o", "out/a"], cwd=folder, env=env,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.time() + 240
        while time.time() < deadline and run.poll() is None:
            if any(".partial" in p.name for p in (folder / "out").glob(".*")):
                break
            time.sleep(0.02)
        if run.poll() is None:
            run.send_signal(sig)
        run.wait(120)
        if then_again:
            subprocess.run([*argv, "-o", "out/b"], cwd=folder, env=env, capture_output=True,
                           timeout=240)  # fmt: skip
        return ""  # what is left is counted as leftovers

    return after


def _hold_lock(folder: Path) -> None:
    import fcntl

    (folder / "out").mkdir()
    fd = os.open(folder / "out" / ".batch.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, still empty: a batch that has not written its pid
    _HELD.append(fd)


def cli_cases(rng: random.Random, n: int, midi: Path) -> list[CliCase]:
    """The reproducers, then generated cases up to ``n`` in all."""
    beat = midi.read_bytes()
    good = notes(16)
    render = ["render", "beat.mid", "--kit", "acoustic"]
    cases = [
        CliCase("key signature 8 sharps", ["render", "k.mid", "-o", "out"], "refuse",
                setup=_write("k.mid", smf(b"\x00\xff\x59\x02\x08\x00" + good))),
        CliCase("key signature 8 sharps, vary", ["vary", "k.mid", "-o", "out"], "refuse",
                setup=_write("k.mid", smf(b"\x00\xff\x59\x02\x08\x00" + good))),
        CliCase("tempo 0", ["render", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(tempo(0) + good))),
        CliCase("tempo 0, vary", ["vary", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(tempo(0) + good))),
        CliCase("ticks per beat 0", ["render", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(good, division=0))),
        CliCase("ticks per beat 0, vary", ["vary", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(good, division=0))),
        CliCase("format 7", ["render", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(good, fmt=7))),
        CliCase("format -1", ["render", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", smf(good, fmt=0xFFFF))),
        CliCase("truncated", ["render", "t.mid", "-o", "out"], "refuse",
                setup=_write("t.mid", beat[:50])),
        CliCase("vary on 5,000 dense notes", ["vary", "d.mid", "-o", "out", "--kit", "acoustic"],
                "either", timeout=400, setup=_write("d.mid", smf(notes(5000, step=6)))),
        CliCase("vary on 128 hits a bar", ["vary", "d.mid", "-o", "out"], "refuse", timeout=300,
                setup=_write("d.mid", smf(notes(256, step=15, pitches=(36, 38, 42, 46))))),
        CliCase("name of 256 characters", [*render, "-o", "a" * 256], "refuse",
                setup=_write("beat.mid", beat)),
        CliCase("name of 250 characters", [*render, "-o", "a" * 250], "accept",
                setup=_write("beat.mid", beat)),
        CliCase("path over PATH_MAX", [*render, "-o", "/".join(["d" * 200] * 25)], "refuse",
                setup=_write("beat.mid", beat)),
        CliCase("-o . --force", [*render, "-o", ".", "--force"], "refuse",
                setup=_write("beat.mid", beat)),
        CliCase("-o ''", [*render, "-o", ""], "refuse", setup=_write("beat.mid", beat)),
        CliCase("-o '' --force", [*render, "-o", "", "--force"], "refuse",
                setup=_write("beat.mid", beat)),
        CliCase("--force on the user's music", [*render, "-o", "Music", "--force"], "refuse",
                setup=lambda f: (_write("beat.mid", beat)(f), (f / "Music").mkdir(),
                                 (f / "Music" / "song.flac").write_bytes(b"music")),
                after=lambda f, d: "" if (f / "Music" / "song.flac").exists() else "deleted"),
        CliCase("--meter ''", ["generate", "--meter", "", "-o", "out"], "refuse"),
        CliCase("--mix ''", ["generate", "--mix", "", "-o", "out"], "refuse"),
        CliCase("--feel ''", ["generate", "--feel", "", "-o", "out"], "refuse"),
        CliCase("sentence starting with -o", ["generate", "-o fast trap"], "refuse"),
        CliCase("one-note MIDI", ["render", "one.mid", "-o", "out"], "accept",
                setup=_write("one.mid", smf(notes(1)))),
        CliCase("20 bpm MIDI", ["render", "slow.mid", "-o", "out"], "accept", timeout=300,
                setup=_write("slow.mid", smf(tempo(3_000_000) + good))),
        CliCase("1 bar at 40 bpm", ["generate", "--genre", "lofi", "--bpm", "40", "--bars", "1",
                                    "-o", "out"], "accept", timeout=300),  # fmt: skip
        CliCase("SIGTERM while writing", ["kits"], "either", timeout=30,
                setup=_write("beat.mid", beat), after=_killed(15, False)),
        CliCase("SIGKILL while writing, then a run", ["kits"], "either", timeout=30,
                setup=_write("beat.mid", beat), after=_killed(9, True)),
        CliCase("batch: lock held, still empty", ["batch", "r.yaml", "-o", "out"], "refuse",
                setup=lambda f: (_write("r.yaml", b"items: [{genre: house, bars: 1}]\n")(f),
                                 _hold_lock(f))),  # fmt: skip
        CliCase("batch --backend ray, no cluster", ["batch", "r.yaml", "-o", "out", "--backend",
                "ray", "--address", "127.0.0.1:9"], "refuse", timeout=120,
                setup=_write("r.yaml", b"items: [{genre: house, bars: 1}]\n"),
                after=_no_output),  # fmt: skip
    ]  # fmt: skip
    for text in BAD_SENTENCES:
        cases.append(CliCase(f"sentence {text!r}", ["generate", "-o", "out", "--", text],
                             "refuse", after=_no_output))  # fmt: skip
    for label, text, expect, _, _ in bad_recipes(rng, 0, "beat.mid"):
        if "100,0" in label:
            continue  # timed through the API; a recipe of 100,000 items is not rendered here
        cases.append(CliCase(f"recipe {label}", ["batch", "r.yaml", "-o", "out"],
                             "either" if expect == "accept" else "refuse", timeout=300,
                             setup=lambda f, t=text: (_write("r.yaml", t.encode())(f),
                                                      _write("beat.mid", beat)(f))))  # fmt: skip
    generated: list[CliCase] = []
    for name, value in BAD_OPTIONS:
        if isinstance(value, (dict, list)) or name in ("fallback", "preset_name"):
            continue
        flag = FLAGS.get(name, f"--{name.replace('_', '-')}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        generated.append(CliCase(f"{flag} {text[:30]!r}", ["generate", flag, text, "-o", "out"],
                                 "refuse", after=_no_output))  # fmt: skip
    for label, data, expect, _ in hostile_midi(rng, 60):
        if "100,000" in label or "20,000" in label or "5,000" in label:
            continue
        generated.append(CliCase(f"MIDI {label}", ["render", "t.mid", "-o", "out"], expect,
                                 timeout=300, setup=_write("t.mid", data)))  # fmt: skip
    rng.shuffle(generated)
    return cases + generated[: max(0, n - len(cases))]
