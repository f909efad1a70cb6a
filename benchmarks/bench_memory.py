"""Peak resident memory of a whole `audiogen render` (read MIDI, render, mix, loudness, every
file written) at 1, 5 and 25 minutes and for 100,000 notes, each in a fresh process.

    python benchmarks/bench_memory.py                 # every case
    python benchmarks/bench_memory.py --only 1 5      # some cases (minutes, or "notes")

Results: benchmarks/results/memory.json (written after each case), printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["1", "5", "25", "notes"])
    args = parser.parse_args()
    # Cases run one at a time add to what earlier runs measured.
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"cases": {}}
    results["machine"] = describe_machine()
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
