"""Fit the genre model `audiogen explain` names a beat's nearest genres with, and write
checkpoints/genre/genre_model.npz.

    python pipelines/fit_genre_model.py --groove ../shared/datasets/groove

The genre classifier's softmax regression (`audiogen.planner.genre_classifier`, feel, swing and
tempo included) fitted on the Groove MIDI Dataset's train split and the style library with a few
seeded variations of each pattern; the validation and test splits stay out, for the benchmarks.
Deterministic: the same data give the same file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from audiogen.planner.genre_classifier import (
    classifier_threads,
    fit_logreg,
    phrase_rows,
    with_tempo_prior,
)
from audiogen.planner.library import load_library
from audiogen.training.groove import load_groove

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "checkpoints" / "genre" / "genre_model.npz"
LIBRARY_VARIANTS = 3

log = logging.getLogger("fit_genre_model")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groove", type=Path, default=ROOT.parent / "shared/datasets/groove")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    groove = load_groove(args.groove, ("train", "validation"))
    train = [p for p in groove if p.split == "train" and p.genre is not None]
    held = [p for p in groove if p.split == "validation" and p.genre is not None]
    x, y, _ = phrase_rows(train + load_library(seed=0, variants=LIBRARY_VARIANTS))
    log.info("fitting on %d segments", len(y))
    with classifier_threads():
        model = fit_logreg(x, y)
    xv, yv, _ = phrase_rows(held)
    right = with_tempo_prior(model)(xv).argmax(1) == yv
    log.info("Groove validation segments: %.1f %% right (%d)", 100 * np.mean(right), len(yv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
