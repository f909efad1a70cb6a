"""compare_renderer.py on two synthetic benchmark runs whose differences are known."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def compare(benchmark_script):
    return benchmark_script("compare_renderer")


def run(onset_f: np.ndarray, log_mel: np.ndarray, sources: list[str]) -> dict:
    """A bench result with one kick stem per performance, its neural onset F and log-mel given."""
    rows = []
    for source, f, mel in zip(sources, onset_f, log_mel, strict=True):
        render = {"onset_f": float(f), "onset_error_ms": 2.0, "onset_f_audible": float(f),
                  "log_mel": float(mel), "rung_out_db": -60.0}  # fmt: skip
        spearman = {"kick": {"neural": 0.95, "model": 0.5, "sampler": 0.95}}
        rows.append({"group": "kick", "source": source, "log_mel_codec": 0.1, "neural": render,
                     "model": dict(render), "sampler": {"onset_f": 1.0, "onset_error_ms": 0.5},
                     "spearman": spearman})  # fmt: skip
    return {"checkpoint": "x", "stems": rows}


def test_a_difference_the_draw_cannot_make_is_told_from_one_it_can(compare):
    rng = np.random.default_rng(0)
    sources = [f"p{i}" for i in range(40)]
    onset_f = rng.uniform(0.85, 0.99, 40)
    mel = rng.uniform(0.1, 0.2, 40)
    wobble = rng.normal(0.0, 0.005, 40)  # B's log-mel: A's, up and down by chance
    result = compare.compare(run(onset_f, mel, sources),
                             run(np.minimum(onset_f + 0.05, 1.0), mel + wobble, sources),
                             draws=200)  # fmt: skip
    kick = result["groups"]["kick"]
    low, high = kick["neural_onset_f"]["interval"]
    assert 0 < low <= kick["neural_onset_f"]["b_minus_a"] <= high  # B places hits better
    low, high = kick["neural_log_mel_ratio"]["interval"]
    assert low < 0 < high  # the wobble is not a difference
    met = result["targets_met"]
    # of its 5 (log-mel ratio 1.5 misses), B meets onset F too: its mean passes 0.95, A's not
    assert (met["a"], met["b"]) == (3, 4)
    with pytest.raises(ValueError, match="same performances"):
        compare.compare(run(onset_f, mel, sources), run(onset_f, mel, sources[:-1] + ["q"]))
