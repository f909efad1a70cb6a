"""The planner's checkpoint: its weights, the card that says how to use them (shape, genres, the
control bins), and the fingerprints of its training bars. The one place that saves and loads
them, for training and generation alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from audiogen.files import atomic_path, write_text_atomic
from audiogen.planner.bars import Phrase, bar_energy, bar_fingerprint, syncopation_index
from audiogen.planner.model import PlannerConfig, PlannerModel
from audiogen.planner.tokens import ENERGY_BINS, SYNC_BINS, Vocabulary

WEIGHTS = "planner.safetensors"
CARD = "planner.json"
BAR_INDEX = "train_bars.npy"  # beside the weights: fingerprints of every training bar


@dataclass(frozen=True)
class Labeller:
    """Bins for the learned controls, fixed from the training bars' quantiles."""

    energy_edges: tuple[float, ...]
    sync_edges: tuple[float, ...]

    @classmethod
    def fit(cls, phrases: Sequence[Phrase]) -> Labeller:
        energies, syncs = [], []
        for p in phrases:
            for bar in p.bars:
                energies.append(bar_energy(bar, p.meter))
                syncs.append(syncopation_index(bar, p.meter))
        q = lambda xs, n: tuple(float(np.quantile(xs, i / n)) for i in range(1, n))  # noqa: E731
        return cls(q(energies, ENERGY_BINS), q(syncs, SYNC_BINS))

    def energy_bin(self, value: float) -> int:
        return int(np.searchsorted(self.energy_edges, value, side="right"))

    def energy_rank(self, value: float) -> float:
        """Where a bar's energy lies among the training bars', 0 to 1, read off the quintile
        edges (linear between them; the top bin spans as far again as the one below it)."""
        e = self.energy_edges
        xs = [0.0, *e, e[-1] + (e[-1] - e[-2])]
        return float(np.interp(value, xs, np.linspace(0.0, 1.0, len(xs))))

    def sync_bin(self, value: float) -> int:
        return int(np.searchsorted(self.sync_edges, value, side="right"))

    def to_dict(self) -> dict:
        return {"energy_edges": list(self.energy_edges), "sync_edges": list(self.sync_edges)}


def save_checkpoint(model: PlannerModel, vocab: Vocabulary, labeller: Labeller,
                    train: dict[str, Any], history: list[dict], out: Path) -> None:  # fmt: skip
    """Weights as fp16 safetensors plus a JSON of everything needed to use them (``train``: the
    training settings the card records)."""
    out.mkdir(parents=True, exist_ok=True)
    weights = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if k != "head.weight"
    }  # fmt: skip  (tied to tok.weight)
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(weights, str(tmp))
    meta = {
        "config": model.cfg.to_dict(),
        "genres": list(vocab.genres),
        "labels": labeller.to_dict(),
        "train": train,
        "history": history,
    }
    write_text_atomic(out / CARD, json.dumps(meta, indent=1) + "\n")


def load_checkpoint(folder: Path) -> tuple[PlannerModel, Vocabulary, Labeller, dict]:
    """The model (in eval mode), its vocabulary, its control bins and its card."""
    meta = json.loads((folder / CARD).read_text())
    model = PlannerModel(PlannerConfig(**meta["config"]))
    weights = {k: v.float() for k, v in load_file(str(folder / WEIGHTS)).items()}
    weights["head.weight"] = weights["tok.weight"]
    model.load_state_dict(weights)
    model.eval()
    labels = meta["labels"]
    return (
        model,
        Vocabulary(meta["genres"]),
        Labeller(tuple(labels["energy_edges"]), tuple(labels["sync_edges"])),
        meta,
    )


def write_bar_index(phrases: Sequence[Phrase], out: Path) -> int:
    """Save the fingerprints of every bar of ``phrases`` (the training data) beside the
    weights, for the generator's novelty check; returns how many distinct bars there are."""
    prints = sorted({bar_fingerprint(bar, p.meter) for p in phrases for bar in p.bars})
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / BAR_INDEX) as tmp, tmp.open("wb") as f:
        np.save(f, np.array(prints, dtype=np.int64))
    return len(prints)


def load_bar_index(folder: Path) -> frozenset[int]:
    """The fingerprints `write_bar_index` saved (none for a checkpoint without them)."""
    path = folder / BAR_INDEX
    return frozenset(np.load(path).tolist()) if path.is_file() else frozenset()
