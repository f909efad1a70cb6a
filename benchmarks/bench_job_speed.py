"""The whole job's time for the 60 s spine beat (read MIDI, render, mix, loudness, write every
file), in the tree given, so that two trees can be timed alternately in the same minutes.

    python benchmarks/bench_job_speed.py                       # this tree
    PYTHONPATH=OLD python benchmarks/bench_job_speed.py OLD    # a checkout of an older tree
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
sys.path[:0] = [str(TREE), str(TREE / "benchmarks")]

from bench_spine import sixty_second_beat  # noqa: E402

from audiogen import render  # noqa: E402
from audiogen.midi import write_midi  # noqa: E402


def main(repeats: int = 3) -> None:
    tmp = Path(tempfile.mkdtemp())
    score = sixty_second_beat()
    write_midi(score, tmp / "sixty.mid")
    render(tmp / "sixty.mid", kit="acoustic").save(tmp / "warm", force=True)  # imports, caches
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        render(tmp / "sixty.mid", kit="acoustic").save(tmp / f"out{i}", force=True)
        times.append(time.perf_counter() - start)
    each = ", ".join(f"{t:.2f}" for t in times)
    print(f"{TREE}: median {statistics.median(times):.2f} s over {repeats} ({each}) "
          f"for {score.duration_s:.0f} s of audio")  # fmt: skip


if __name__ == "__main__":
    main()
