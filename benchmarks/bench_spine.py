"""Benchmarks of the spine (render → mix → export), printed as Markdown for BENCHMARKS.md and saved
as JSON in benchmarks/results/spine.json.

    python benchmarks/bench_spine.py    # everything (needs Debian's fluidsynth and FluidR3_GM)
    python benchmarks/bench_spine.py --only loudness

1. speed: the sampler on a 60 s beat against the `fluidsynth` CLI rendering the same MIDI with
   FluidR3_GM, in the same run (median of repeats; ratio = fluidsynth time / audiogen time).
2. loudness: every kit × every loudness preset (and a custom -18 LUFS) × both example beats:
   integrated-loudness error and true peak (4× oversampled), re-measured on the written file.
3. onsets: rendered stems against the score, with an onset detector that never sees the score.
4. memory: peak resident memory of `audiogen render` on the 60 s beat, in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from machine import describe_machine

from audiogen.api import render
from audiogen.kits import kit_names, load_kit
from audiogen.midi import write_midi
from audiogen.mix import LOUDNESS_PRESETS, integrated_lufs, true_peak_dbtp
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter

REPO = Path(__file__).resolve().parents[1]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
EXAMPLES = sorted((REPO / "samples" / "beats").glob("*.mid"))


def sixty_second_beat() -> DrumScore:
    """30 bars at 120 bpm of a busy 16th-note groove with ghost notes, toms and cymbals."""
    return busy_groove(30)


def busy_groove(bars: int) -> DrumScore:
    """``bars`` bars at 120 bpm (2 s each) of the 60 s beat's busy 16th-note groove."""
    hits = []
    for bar in range(bars):
        base = bar * 96
        for step in range(16):
            tick = base + step * 6
            hits.append(
                Hit(tick, "hat_closed" if step != 14 else "hat_open", 100 if step % 4 == 0 else 70)
            )
            if step in (0, 7, 10):
                hits.append(Hit(tick, "kick", 118))
            if step in (4, 12):
                hits.append(Hit(tick, "snare", 120))
            elif step in (6, 15):
                hits.append(Hit(tick, "snare", 35))
            if step in (2, 11):
                hits.append(Hit(tick, "tambourine", 80))
        if bar % 4 == 3:
            hits += [
                Hit(base + 84, "tom_high", 110),
                Hit(base + 87, "tom_mid", 110),
                Hit(base + 90, "tom_low", 115),
            ]
        if bar % 4 == 0:
            hits.append(Hit(base, "crash", 115))
    unique = {(h.tick, h.instrument): h for h in hits}
    return DrumScore(120.0, Meter(4, 4), bars, tuple(unique.values()))


def bench_speed(tmp: Path, repeats: int) -> dict:
    score = sixty_second_beat()
    midi = tmp / "sixty.mid"
    write_midi(score, midi)
    fluid = shutil.which("fluidsynth")
    if fluid is None or not SOUNDFONT.is_file():
        sys.exit(
            "the speed benchmark needs fluidsynth and fluid-soundfont-gm: ./install.sh --bench"
        )
    fluid_times, sampler_times, full_times = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        wav = str(tmp / "fluid.wav")
        args = ["-ni", "-q", "-R", "0", "-C", "0", "-r", "48000", "-F", wav, str(SOUNDFONT)]
        subprocess.run([fluid, *args, str(midi)], check=True, capture_output=True)
        fluid_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        Sampler(load_kit("acoustic"), 48000).render(score, seed=0)  # kit loading included
        sampler_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        render(midi, kit="acoustic").save(tmp / "full", force=True)
        full_times.append(time.perf_counter() - t)
    fluid_s, sampler_s, full_s = (
        statistics.median(x) for x in (fluid_times, sampler_times, full_times)
    )
    return {
        "audio_s": score.duration_s,
        "hits": len(score.hits),
        "fluidsynth_s": fluid_s,
        "sampler_s": sampler_s,
        "full_render_s": full_s,
        "ratio_sampler": fluid_s / sampler_s,
        "ratio_full": fluid_s / full_s,
        "repeats": repeats,
    }


def bench_loudness(tmp: Path) -> dict:
    targets = [*LOUDNESS_PRESETS, "-18"]
    rows = []
    for kit in kit_names():
        for preset in targets:
            for midi in EXAMPLES:
                beat = render(midi, kit=kit, loudness=preset)
                out = beat.save(tmp / f"{kit}-{preset}-{midi.stem}", force=True)
                audio, rate = sf.read(out / "mix.wav", always_2d=True)
                target = beat.loudness.target_lufs
                lufs = integrated_lufs(audio.T, rate)
                rows.append(
                    {"kit": kit, "loudness": preset, "beat": midi.stem, "target_lufs": target,
                     "error_lu": lufs - target, "true_peak_dbtp": true_peak_dbtp(audio.T, rate)}
                )  # fmt: skip
    errors = [abs(r["error_lu"]) for r in rows]
    peaks = [r["true_peak_dbtp"] for r in rows]
    return {
        "renders": len(rows),
        "max_abs_error_lu": max(errors),
        "mean_abs_error_lu": statistics.mean(errors),
        "max_true_peak_dbtp": max(peaks),
        "within_0_5_lu": sum(e <= 0.5 for e in errors),
        "at_or_below_minus_1_dbtp": sum(p <= -1.0 for p in peaks),
        "rows": rows,
    }


def detect_onsets(stem: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onsets from the audio alone, blind to the score: a rise out of 50 ms of near-silence
    (-50 dB under the stem's peak), placed at the first sample within 40 dB of that hit's own
    peak. Hits in the benchmark are seconds apart, so tails never mask an onset."""
    from scipy.ndimage import maximum_filter1d

    a = np.abs(stem.astype(np.float64))
    quiet = round(0.05 * sample_rate)
    above = a > a.max() * 10 ** (-50 / 20)
    # the loudest sample in the `quiet` samples before each index
    before = maximum_filter1d(a, size=quiet, origin=(quiet - 1) // 2)
    before = np.concatenate([[0.0], before[:-1]])
    starts = np.flatnonzero(above & (before <= a.max() * 10 ** (-50 / 20)))
    onsets = []
    for i in starts:
        lo = max(0, i - round(0.005 * sample_rate))
        window = a[lo : i + quiet]
        onsets.append(lo + int(np.argmax(window > window.max() * 10 ** (-40 / 20))))
    return np.array(onsets)


def bench_onsets() -> dict:
    """Sparse hits (seconds apart within a group) with performed offsets, at both sample rates."""
    results = []
    rng = np.random.default_rng(0)
    for kit_name in kit_names():
        kit = load_kit(kit_name)
        for sample_rate in (48000, 44100):
            hits = []
            for i, instrument in enumerate(
                ("kick", "snare", "hat_closed", "tom_mid", "crash", "cowbell")
            ):
                if kit.resolve(instrument) is None:
                    continue
                for k in range(4):
                    tick = 192 * k + 7 * i + 24  # a hit every 2 bars (4.8 s) per group
                    hits.append(Hit(tick, instrument, 110, round(float(rng.uniform(-15, 15)), 3)))
            score = DrumScore(100.0, Meter(4, 4), 8, tuple(hits))
            stems = Sampler(kit, sample_rate, Variation.none()).render(score).stems
            for group, stem in stems.items():
                expected = np.array([score.time_s(h) for h in score.hits_in_group(group)]) * 1000
                found = detect_onsets(stem, sample_rate) / sample_rate * 1000
                for e in expected:
                    nearest = found[np.argmin(np.abs(found - e))] if len(found) else np.inf
                    results.append(
                        {
                            "kit": kit_name,
                            "rate": sample_rate,
                            "group": group,
                            "error_ms": float(nearest - e),
                        }
                    )
    errors = np.abs([r["error_ms"] for r in results])
    return {
        "onsets": len(results),
        "max_abs_error_ms": float(errors.max()),
        "mean_abs_error_ms": float(errors.mean()),
        "within_1_ms": int((errors <= 1.0).sum()),
    }


def bench_memory(tmp: Path) -> dict:
    """Peak resident memory of a whole `audiogen render` of the 60 s beat, in a fresh process."""
    midi = tmp / "sixty.mid"
    write_midi(sixty_second_beat(), midi)
    code = (
        "import resource, sys; from audiogen.cli import main; "
        f"main(['-q', 'render', {str(midi)!r}, '-o', {str(tmp / 'mem')!r}, '--force']); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {"peak_rss_mb": int(out.stdout.split()[-1]) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description="spine benchmarks")
    parser.add_argument("--only", choices=["speed", "loudness", "onsets", "memory"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out: dict = {"machine": describe_machine()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.only in (None, "memory"):
            out["memory"] = bench_memory(tmp)  # first: a fresh child process
        if args.only in (None, "speed"):
            out["speed"] = bench_speed(tmp, args.repeats)
        if args.only in (None, "onsets"):
            out["onsets"] = bench_onsets()
        if args.only in (None, "loudness"):
            out["loudness"] = bench_loudness(tmp)
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / f"spine{'-' + args.only if args.only else ''}.json").write_text(
        json.dumps(out, indent=1)
    )
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "rows"} if isinstance(v, dict) else v
               for k, v in out.items()}  # fmt: skip
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
