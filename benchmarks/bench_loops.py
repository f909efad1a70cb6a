"""Seamless-loop benchmark: tempos × bars × sample rates, every loop written and read back.

    python benchmarks/bench_loops.py                       # 60-200 bpm step 10 × 1/2/4/8 bars
    python benchmarks/bench_loops.py --tempos 60:200:40 --bars 1,2
    python benchmarks/bench_loops.py --humanize 0 --out benchmarks/results/loops-quantised.json

For each loop: a beat from the planner (genres in turn), played by the humanizer as `audiogen
generate --loop` plays it (``--humanize`` amount; 0: the planner's quantised score), rendered
with ``loop=True`` and the same seed, saved, and read back from ``mix.wav``. Measured on the file:
- length: samples in the file against ``bars × beats × 60 / bpm × rate`` (nearest sample);
- smpl/acid chunks: loop end = last sample, beats and tempo as asked;
- seam against interior (see `audiogen.loop.seam_report`): sample jump and spectral flux (frame
  pairs every 32 samples, so no onset's flux depends on where it falls on a frame grid);
- seam_error: the loop's start against what follows its end when the mix plays on;
- continuous_error: the loop's dry stems against a pass of its score played on without a loop
  (the music as it goes on: tails of the passes before, early hits of the pass after), largest
  difference over the stems' peak, where a pass is a whole number of samples (else the passes
  would not fall on the same sample grid); one file per velocity layer and no gain or tuning
  spread, so that every pass plays the same sounds;
- loudness on repeat against the -14 LUFS target.
A naive loop (the ordinary render cut at N bars, tails dropped) is measured alongside, to show
that the seam measures catch a bad seam. Prints Markdown; writes benchmarks/results/loops.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import numpy as np
import soundfile as sf
from machine import describe_machine

from audiogen.api import render
from audiogen.export import read_loop_chunks
from audiogen.kits import load_kit
from audiogen.loop import fold_tails, seam_report
from audiogen.pipeline import Session
from audiogen.renderers import Sampler, Variation
from audiogen.renderers.sampler import MAX_TAIL_S
from audiogen.request import PlanOptions
from audiogen.score import DrumScore

REPO = Path(__file__).resolve().parents[1]
# The dry loop and its score played on are the same sums of the same samples: they differ by
# float rounding (about 1e-7 of the peak), where any misplaced or missing sound is far above this.
CONTINUOUS_TOLERANCE = 1e-5
GENRES = ("hip-hop", "trap", "house", "rock", "funk", "drum-and-bass", "pop", "reggaeton")


def _range(text: str) -> list[int]:
    low, high, step = (int(x) for x in text.split(":"))
    return list(range(low, high + 1, step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tempos", default="60:200:10", help="LOW:HIGH:STEP bpm")
    parser.add_argument("--bars", default="1,2,4,8")
    parser.add_argument("--rates", default="44100,48000")
    parser.add_argument(
        "--humanize", type=float, default=1.0, help="as generate's --humanize (0: quantised)"
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "loops.json"))
    args = parser.parse_args()
    tempos = _range(args.tempos)
    bars_list = [int(b) for b in args.bars.split(",")]
    rates = [int(r) for r in args.rates.split(",")]

    session = Session()
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, bpm in enumerate(tempos):
            for bars in bars_list:
                genre = GENRES[(i + bars) % len(GENRES)]
                options, g = PlanOptions.create(genre=genre, bpm=bpm, bars=bars)
                score = session.plan(options, seed=i)
                score = session.humanize(score, args.humanize, seed=i, loop=True)
                for rate in rates:
                    t0 = time.perf_counter()
                    beat = render(score, kit=g.kit, mix=g.mix, sample_rate=rate, loop=True, seed=i)
                    seconds = time.perf_counter() - t0
                    out = beat.save(Path(tmp) / f"{bpm}-{bars}-{rate}")
                    audio, read_rate = sf.read(out / "mix.wav", always_2d=True, dtype="float32")
                    chunks = read_loop_chunks(out / "mix.wav")
                    exact = Fraction(score.total_ticks, 24) * 60 * rate / Fraction(score.bpm)
                    expected = int(exact + Fraction(1, 2))
                    seam = seam_report(audio.T)
                    naive = render(score, kit=g.kit, mix=g.mix, sample_rate=rate, seed=i).mix
                    naive_seam = seam_report(naive[:, :expected])
                    continuous = continuous_errors(score, g.kit, rate, exact)
                    rows.append(
                        {
                            "bpm": bpm, "bars": bars, "rate": rate, "genre": genre,
                            "humanize": args.humanize,
                            "samples": audio.shape[0], "expected": expected,
                            "exact": str(exact),
                            "chunks_ok": chunks.get("loop_end") == expected - 1
                            and chunks.get("beats") == bars * 4
                            and abs(chunks.get("bpm", 0) - bpm) < 1e-3
                            and read_rate == rate,
                            **seam,
                            "naive_seam_jump": naive_seam["seam_jump"],
                            "naive_seam_flux": naive_seam["seam_flux"],
                            "seam_error": beat.seam_error,
                            "continuous_error": continuous[0],
                            "naive_continuous_error": continuous[1],
                            "lufs": beat.loudness.integrated_lufs,
                            "true_peak_dbtp": beat.loudness.true_peak_dbtp,
                            "render_s": seconds,
                        }
                    )  # fmt: skip
                    print(
                        f"{bpm:>3} bpm {bars} bars {rate} Hz {genre:<14} "
                        f"len {audio.shape[0] - expected:+d}  "
                        f"jump {seam['seam_jump']:.4f}/{seam['interior_jump']:.4f}  "
                        f"flux {seam['seam_flux']:.0f}/{seam['interior_flux']:.0f}  "
                        f"naive jump {naive_seam['seam_jump']:.4f}  {seconds:.1f} s",
                        flush=True,
                    )
    total = time.perf_counter() - started
    summary = summarise(rows, total)
    Path(args.out).write_text(
        json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n", encoding="utf-8"
    )
    print(markdown(summary))


def continuous_errors(
    score: DrumScore, kit: str, rate: int, exact: Fraction
) -> tuple[float | None, float | None]:
    """The dry loop, and the naive cut (one pass, tails dropped), against a pass of the score
    played on; (None, None) where a pass is not a whole number of samples."""
    if exact.denominator != 1:
        return None, None
    n = int(exact)
    # One file per velocity layer, no gain or tuning spread: every pass plays the same sounds.
    full = load_kit(kit)
    fixed = {
        name: dataclasses.replace(spec, layers=tuple(
            dataclasses.replace(layer, files=layer.files[:1]) for layer in spec.layers))
        for name, spec in full.instruments.items()
    }  # fmt: skip
    sampler = Sampler(
        dataclasses.replace(full, instruments=MappingProxyType(fixed)), rate, Variation.none()
    )
    # Enough passes before the one compared for the longest tail to ring out, one after it.
    before = math.ceil(MAX_TAIL_S * rate / n)
    stems = sampler.render(score.repeated(before + 2)).stems
    middle = {g: st[..., before * n : (before + 1) * n] for g, st in stems.items()}
    looped = sampler.render(score, loop_samples=n).stems
    plain = sampler.render(score).stems
    peak = max(float(np.abs(st).max()) for st in middle.values())

    def error(stems: dict, fold: bool) -> float:
        worst = 0.0
        for g, st in stems.items():
            short = [(0, 0)] * (st.ndim - 1) + [(0, max(0, n - st.shape[-1]))]
            one = fold_tails(st, n) if fold else np.pad(st, short)
            worst = max(worst, float(np.abs(one[..., :n] - middle[g]).max()))
        return worst / peak

    return error(looped, True), error(plain, False)


def summarise(rows: list[dict], total_s: float) -> dict:
    n = len(rows)
    jump_ratio = [r["seam_jump"] / max(r["interior_jump"], 1e-12) for r in rows]
    flux_ratio = [r["seam_flux"] / max(r["interior_flux"], 1e-12) for r in rows]
    whole = [r for r in rows if r.get("continuous_error") is not None]
    naive_bad = [
        r
        for r in rows
        if r["naive_seam_jump"] > r["interior_jump"] or r["naive_seam_flux"] > r["interior_flux"]
    ]
    return {
        "loops": n,
        "length_exact": sum(r["samples"] == r["expected"] for r in rows),
        "chunks_ok": sum(r["chunks_ok"] for r in rows),
        "seam_jump_within_interior": sum(x <= 1.0 for x in jump_ratio),
        "seam_flux_within_interior": sum(x <= 1.0 for x in flux_ratio),
        "worst_jump_ratio": max(jump_ratio),
        "median_jump_ratio": float(np.median(jump_ratio)),
        "worst_flux_ratio": max(flux_ratio),
        "flux_misses": [
            f"{r['genre']} {r['bpm']} bpm {r['bars']} bar{'s' if r['bars'] > 1 else ''} "
            f"{r['rate'] / 1000:g} kHz ({x:.3f})"
            for r, x in zip(rows, flux_ratio)
            if x > 1.0
        ],
        "median_flux_ratio": float(np.median(flux_ratio)),
        "worst_seam_error": max(r["seam_error"] for r in rows),
        "continuous_checked": len(whole),
        "worst_continuous_error": max((r["continuous_error"] for r in whole), default=None),
        "continuous_within": sum(r["continuous_error"] <= CONTINUOUS_TOLERANCE for r in whole),
        # A naive cut is right where nothing rings past its end and no hit is played early.
        "naive_continuous_off": sum(
            r["naive_continuous_error"] > CONTINUOUS_TOLERANCE for r in whole
        ),
        "naive_continuous_error_median": float(
            np.median([r["naive_continuous_error"] for r in whole])
        )
        if whole
        else None,
        "naive_cuts_caught": len(naive_bad),
        "worst_lufs_error": max(abs(r["lufs"] + 14.0) for r in rows),
        "worst_true_peak_dbtp": max(r["true_peak_dbtp"] for r in rows),
        "median_render_s": float(np.median([r["render_s"] for r in rows])),
        "total_s": total_s,
        "machine": describe_machine(),
    }


def markdown(s: dict) -> str:
    n = s["loops"]
    jumps = f"median {s['median_jump_ratio']:.3f}, worst {s['worst_jump_ratio']:.3f}"
    fluxes = f"median {s['median_flux_ratio']:.3f}, worst {s['worst_flux_ratio']:.3f}"
    return "\n".join(
        [
            "| measure | result |",
            "|---|---|",
            f"| length exact to the sample | {s['length_exact']}/{n} |",
            f"| smpl + acid chunks right (loop end, beats, tempo) | {s['chunks_ok']}/{n} |",
            f"| seam sample jump ≤ interior's largest | {s['seam_jump_within_interior']}/{n} "
            f"(seam/interior: {jumps}) |",
            f"| seam spectral flux ≤ interior's largest | {s['seam_flux_within_interior']}/{n} "
            f"(seam/interior: {fluxes}) |",
            f"| seam flux misses | {', '.join(s['flux_misses']) or 'none'} |",
            f"| loop start vs continuous playback, largest difference | "
            f"{s['worst_seam_error']:.1e} FS |",
            f"| dry loop against the score played on (whole-sample passes: "
            f"{s['continuous_checked']}/{n}), within {CONTINUOUS_TOLERANCE:.0e} of the peak | "
            f"{s['continuous_within']}/{s['continuous_checked']} (worst "
            f"{s['worst_continuous_error']:.1e}); naive cut off in "
            f"{s['naive_continuous_off']}/{s['continuous_checked']} "
            f"(median {s['naive_continuous_error_median']:.1e}) |",
            f"| naive cut (tails dropped) caught by the same measures | "
            f"{s['naive_cuts_caught']}/{n} |",
            f"| loudness on repeat, worst error vs -14 LUFS | {s['worst_lufs_error']:.2f} LU |",
            f"| true peak, worst | {s['worst_true_peak_dbtp']:.2f} dBTP |",
            f"| render time per loop, median | {s['median_render_s']:.1f} s |",
        ]
    )


if __name__ == "__main__":
    main()
