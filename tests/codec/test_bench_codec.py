"""The codec benchmark's onset counts on synthetic stems whose answers are known: a decoded stem
that drops one of the original's hits and adds two is one missed and two added."""

from __future__ import annotations

import numpy as np
import pytest

SR = 32000
pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("bench_codec")


def bursts(times, seconds: float = 4.0) -> np.ndarray:
    """Noise bursts at ``times`` that die away in about 0.2 s."""
    rng = np.random.default_rng(0)
    audio = np.zeros(round(seconds * SR), dtype=np.float32)
    envelope = np.exp(-np.arange(round(0.3 * SR)) / (0.03 * SR))
    for t in times:
        start = round(t * SR)
        burst = (rng.uniform(-1, 1, len(envelope)) * envelope * 0.5)[: len(audio) - start]
        audio[start : start + len(burst)] += burst
    return audio


def test_the_codec_benchmark_counts_the_onsets_a_codec_drops_and_adds(bench):
    original = np.arange(0.25, 3.5, 0.5)  # seven hits
    decoded = np.append(np.delete(original, 3), [0.5, 1.0])  # one dropped, two added between
    measured = bench.measure(bursts(original), bursts(decoded), SR)
    assert (measured["missed"], measured["extra"]) == (1, 2)
    assert measured["onset_f"] == pytest.approx(2 * 6 / (7 + 8))
    same = bench.measure(bursts(original), bursts(original), SR)
    assert (same["missed"], same["extra"], same["onset_f"]) == (0, 0, 1.0)
    # Summed over a group's stems; the other measures are averaged.
    rows = [{"system": "audiogen", "condition": "seen kits", "group": "cymbals", "label": "x",
             "measures": m} for m in (measured, same)]  # fmt: skip
    cymbals = bench.summarise(rows)["audiogen"]["seen kits"]["cymbals"]
    assert (cymbals["missed"], cymbals["extra"], cymbals["stems"]) == (1, 2, 2)
    assert cymbals["onset_f"] == pytest.approx((measured["onset_f"] + 1.0) / 2, abs=1e-4)
