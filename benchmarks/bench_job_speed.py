"""The whole job's time for the 60 s spine beat (read MIDI, render, mix, loudness, write every
file) beside `fluidsynth` on the same MIDI, in one or more trees taken in turn, so that an old
and a new tree are timed in the same minutes. Each run is a fresh process (after a warm-up job
in it); CPU seconds (all threads) are reported beside wall seconds, since on a shared machine
the wall time says more about the load than about the code.

    python benchmarks/bench_job_speed.py                       # this tree, 3 rounds
    python benchmarks/bench_job_speed.py --rounds 5 OLD .      # an older checkout, then this
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def one_run(tree: Path) -> dict[str, float]:
    """In this process (``tree`` first on the path): a warm-up job, then one timed job and one
    timed fluidsynth render of the same MIDI."""
    sys.path[:0] = [str(tree), str(HERE)]
    from bench_spine import sixty_second_beat

    from audiogen import render
    from audiogen.midi import write_midi

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_midi(sixty_second_beat(), tmp / "sixty.mid")
        render(tmp / "sixty.mid", kit="acoustic").save(tmp / "warm", force=True)
        cpu, wall = time.process_time(), time.perf_counter()
        render(tmp / "sixty.mid", kit="acoustic").save(tmp / "out", force=True)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        fluid_wall = time.perf_counter()
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", "48000", "-F",
                        str(tmp / "f.wav"), str(SOUNDFONT), str(tmp / "sixty.mid")],
                       check=True, capture_output=True)  # fmt: skip
        fluid_wall = time.perf_counter() - fluid_wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fluid_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"job_cpu_s": cpu, "job_wall_s": wall, "fluidsynth_cpu_s": fluid_cpu,
            "fluidsynth_wall_s": fluid_wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, default=[HERE.parent])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one.resolve())))
        return
    runs: dict[Path, list[dict[str, float]]] = {tree: [] for tree in args.trees}
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for _ in range(args.rounds):
        for tree in args.trees:  # in turn, so every tree sees the same load
            out = subprocess.run([sys.executable, __file__, "--one", str(tree)], env=env,
                                 check=True, capture_output=True, text=True).stdout  # fmt: skip
            runs[tree].append(json.loads(out.strip().splitlines()[-1]))
    for tree, done in runs.items():
        median = {key: round(statistics.median(r[key] for r in done), 3) for key in done[0]}
        median["real_time_cpu"] = round(60.0 / median["job_cpu_s"], 1)
        median["real_time_wall"] = round(60.0 / median["job_wall_s"], 1)
        print(json.dumps({"tree": str(tree), "rounds": len(done), **median,
                          "each_job_cpu_s": [round(r["job_cpu_s"], 2) for r in done]}))  # fmt: skip


if __name__ == "__main__":
    main()
