"""Kit blends: does a blended hit sit between the two kits' hits, and move steadily between them?

    python benchmarks/bench_blend.py [--checkpoint checkpoints/renderer] [--kits acoustic 808]

For the kick and the snare, a bar of isolated hits (quarters at 120 bpm, velocities 70-127) is
rendered by the neural renderer through ``A:(1-w),B:w`` for w = 0, 0.25, 0.5, 0.75, 1, over
``--seeds`` seeds. Per hit: the spectral centroid of its first 80 ms and its decay time (from its
peak to 30 dB below it, on 5 ms RMS frames, up to the next hit). The medians per weight should
move monotonically from kit A's to kit B's; onset F-measure and median onset error against the
score are given per weight (targets as bench_renderer's), with the sampler's figures for each kit
beside. Writes benchmarks/results/blend.json and blend-<instrument>.png (one hit per weight).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_renderer import onset_timing  # noqa: E402
from machine import describe_machine  # noqa: E402
from measures import spectrogram_image  # noqa: E402

from audiogen.score import DrumScore, Hit, Meter  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
VELOCITIES = (127, 110, 90, 70)
CENTROID_S = 0.08
FRAME_S = 0.005
DECAY_DB = 30.0


def hits_score(instrument: str) -> DrumScore:
    """Two bars of quarter notes at 120 bpm: 8 isolated hits at the `VELOCITIES` in turn."""
    hits = tuple(Hit(t * 24, instrument, VELOCITIES[t % len(VELOCITIES)]) for t in range(8))
    return DrumScore(bpm=120, meter=Meter(4, 4), bars=2, hits=hits)


def centroid_hz(audio: np.ndarray, sr: int, start_s: float) -> float:
    """Power-weighted mean frequency of the `CENTROID_S` from ``start_s``."""
    a = round(start_s * sr)
    piece = audio[a : a + round(CENTROID_S * sr)] * np.hanning(round(CENTROID_S * sr))
    power = np.abs(np.fft.rfft(piece)) ** 2
    freqs = np.fft.rfftfreq(len(piece), 1 / sr)
    return float((freqs * power).sum() / max(power.sum(), 1e-20))


def decay_s(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    """Seconds from the hit's loudest frame to the first frame `DECAY_DB` below it (or to
    ``end_s``, the next hit)."""
    hop = round(FRAME_S * sr)
    piece = audio[round(start_s * sr) : round(end_s * sr)]
    n = len(piece) // hop
    rms = np.sqrt((piece[: n * hop].reshape(n, hop) ** 2).mean(axis=1) + 1e-20)
    level = 20 * np.log10(rms)
    peak = int(level.argmax())
    below = np.flatnonzero(level[peak:] < level[peak] - DECAY_DB)
    return float((below[0] if len(below) else n - peak) * FRAME_S)


def measure(audio: np.ndarray, score: DrumScore, sr: int) -> dict:
    times = np.array([score.time_s(h) for h in score.hits])
    ends = np.append(times[1:], score.duration_s)
    return {
        "centroid_hz": [centroid_hz(audio, sr, t) for t in times],
        "decay_s": [decay_s(audio, sr, t, e) for t, e in zip(times, ends)],
        **onset_timing(times, audio, sr),
    }


def monotonic(values: list[float]) -> bool:
    steps = np.diff(values)
    return bool((steps >= 0).all() or (steps <= 0).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/renderer")
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--kits", nargs=2, default=["acoustic", "808"], metavar=("A", "B"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the outputs")
    args = parser.parse_args()

    from audiogen.codec.model import Codec
    from audiogen.errors import AudiogenError
    from audiogen.kits import load_kit
    from audiogen.renderers.neural import CARD, NeuralRenderer
    from audiogen.renderers.sampler import Sampler

    if not (args.checkpoint / CARD).exists():
        sys.exit(f"no renderer checkpoint in {args.checkpoint}: train one first")
    try:
        codec = Codec.load(args.codec)
        renderer = NeuralRenderer.load(args.checkpoint, codec)
    except AudiogenError as exc:
        sys.exit(f"error: {exc}")
    sr, (a, b) = codec.sample_rate, args.kits
    args.results.mkdir(parents=True, exist_ok=True)
    out: dict = {"machine": describe_machine(), "checkpoint": renderer.version,
                 "models": renderer.versions(),
                 "codec": codec.version, "kits": [a, b], "weights": list(WEIGHTS),
                 "instruments": {}}  # fmt: skip
    for instrument in ("kick", "snare"):
        score = hits_score(instrument)
        group = score.groups[0]
        rows, pictures = [], []
        for w in WEIGHTS:
            measured = [measure(renderer.render(score, {a: 1 - w, b: w}, sr, seed)[group], score,
                                sr) for seed in range(args.seeds)]  # fmt: skip
            rows.append({
                "weight_b": w,
                "centroid_hz": round(float(np.median([m["centroid_hz"] for m in measured])), 1),
                "decay_ms": round(1000 * float(np.median([m["decay_s"] for m in measured])), 1),
                "onset_f": round(float(np.mean([m["onset_f"] for m in measured])), 3),
                "onset_error_ms": round(float(np.nanmedian([m["onset_error_ms"]
                                                            for m in measured])), 2),
            })  # fmt: skip
            audio = renderer.render(score, {a: 1 - w, b: w}, sr, 0)[group]
            pictures.append((f"{a} {1 - w:g} / {b} {w:g}", audio[: round(0.5 * sr)]))
        sampler = {}
        for kit in (a, b):
            audio = Sampler(load_kit(kit), sr).render(score, seed=0).stems[group]
            m = measure(audio, score, sr)
            sampler[kit] = {"centroid_hz": round(float(np.median(m["centroid_hz"])), 1),
                            "decay_ms": round(1000 * float(np.median(m["decay_s"])), 1),
                            "onset_f": round(m["onset_f"], 3)}  # fmt: skip
        out["instruments"][instrument] = {
            "by_weight": rows, "sampler": sampler,
            "centroid_monotonic": monotonic([r["centroid_hz"] for r in rows]),
            "decay_monotonic": monotonic([r["decay_ms"] for r in rows]),
        }  # fmt: skip
        spectrogram_image(pictures, sr, args.results / f"blend-{instrument}.png")
        for r in rows:
            print(f"{instrument:6s} " + "  ".join(f"{k} {v}" for k, v in r.items()), flush=True)
        print(f"{instrument:6s} sampler {sampler}; monotonic: centroid "
              f"{out['instruments'][instrument]['centroid_monotonic']}, decay "
              f"{out['instruments'][instrument]['decay_monotonic']}")  # fmt: skip
    (args.results / "blend.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
