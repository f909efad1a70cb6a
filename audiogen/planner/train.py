"""Training the planner: Groove MIDI performances plus the project's style library become token
windows of a few bars; a seeded, resumable loop fits the transformer and keeps the checkpoint
with the best validation loss.

    python pipelines/train_planner.py --groove PATH/TO/groove --minutes 50
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from audiogen.planner.data import (
    Phrase,
    bar_fingerprint,
    density,
    load_groove,
    load_library,
    syncopation_index,
)
from audiogen.planner.genres import GENRES
from audiogen.planner.model import PlannerConfig, PlannerModel
from audiogen.planner.tokens import (
    BOS,
    ENERGY_BINS,
    PAD,
    SYNC_BINS,
    BarCondition,
    Vocabulary,
    encode_bar,
    tempo_bucket,
)
from audiogen.score import Meter

log = logging.getLogger(__name__)

WINDOW_BARS = 3
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


def bar_energy(bar, meter: Meter) -> float:
    """How hard a bar drives: onset density weighted by how loud it is played."""
    if not bar:
        return 0.0
    loudness = sum(h.velocity for h in bar) / len(bar) / 127
    return density(bar, meter) * (0.5 + loudness)


def phrase_words(phrase: Phrase, labeller: Labeller, first: int, count: int) -> list[str]:
    words = [BOS]
    for bar in phrase.bars[first : first + count]:
        condition = BarCondition(
            genre=phrase.genre or "none",
            tempo=tempo_bucket(phrase.bpm),
            energy=labeller.energy_bin(bar_energy(bar, phrase.meter)),
            sync=labeller.sync_bin(syncopation_index(bar, phrase.meter)),
            section="fill" if phrase.kind == "fill" else "groove",
            feel=phrase.feel,
            meter=str(phrase.meter),
        )
        words += encode_bar(condition, ((h.position, h.instrument, h.velocity) for h in bar))
    return words


def windows(phrases: Sequence[Phrase], labeller: Labeller, vocab: Vocabulary, max_len: int):
    """Token-id windows of up to WINDOW_BARS bars, every 2 bars, cut at max_len."""
    out = []
    for p in phrases:
        starts = range(0, max(1, len(p.bars) - WINDOW_BARS + 1), 2) if len(p.bars) > 1 else [0]
        for first in starts:
            ids = vocab.ids(phrase_words(p, labeller, first, WINDOW_BARS))
            out.append(ids[:max_len])
    return out


def _batch(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length - 1), pad, dtype=torch.long)
    targets = torch.full((len(seqs), length - 1), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s) - 1] = torch.tensor(s[:-1])
        targets[i, : len(s) - 1] = torch.tensor(s[1:])
    return ids, targets


@dataclass(frozen=True)
class TrainConfig:
    groove: Path
    out: Path  # checkpoints/planner
    work: Path  # resumable state
    minutes: float = 45.0
    max_steps: int = 100_000
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    library_variants: int = 40
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    max_len: int = 512
    eval_every: int = 200


def train(cfg: TrainConfig) -> dict:
    """Train (or resume) and write the best checkpoint to ``cfg.out``; returns its metrics."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    started = time.monotonic()
    groove = load_groove(cfg.groove, splits=("train", "validation"))
    library = load_library(seed=cfg.seed, variants=cfg.library_variants)
    train_phrases = [p for p in groove if p.split == "train"] + library
    val_phrases = [p for p in groove if p.split == "validation"]
    labeller = Labeller.fit(train_phrases)
    write_bar_index(train_phrases, cfg.out)
    vocab = Vocabulary(tuple(GENRES))
    train_ids = windows(train_phrases, labeller, vocab, cfg.max_len)
    val_ids = windows(val_phrases, labeller, vocab, cfg.max_len)
    log.info("windows: %d train, %d validation", len(train_ids), len(val_ids))

    model_cfg = PlannerConfig(
        vocab_size=len(vocab), max_len=cfg.max_len, d_model=cfg.d_model,
        n_layers=cfg.n_layers, n_heads=cfg.n_heads,
    )  # fmt: skip
    model = PlannerModel(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.05, betas=(0.9, 0.95))
    state_path = cfg.work / "state.pt"
    step, best, history = 0, math.inf, []
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best, history = state["step"], state["best"], state["history"]
        log.info("resumed at step %d (best validation loss %.4f)", step, best)
    elapsed_before = history[-1]["minutes"] if history else 0.0
    budget_s = cfg.minutes * 60 - elapsed_before * 60
    pad = vocab.id(PAD)
    batches = _length_batches(train_ids, cfg.batch_size, random.Random(cfg.seed + step))
    while step < cfg.max_steps and time.monotonic() - started < budget_s:
        batch = next(batches)
        elapsed_s = elapsed_before * 60 + time.monotonic() - started
        for group in opt.param_groups:
            group["lr"] = _learning_rate(cfg, step, elapsed_s)
        model.train()
        ids, targets = _batch([train_ids[i] for i in batch], pad)
        loss = model.loss(ids, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % cfg.eval_every:
            continue
        val = evaluate(model, val_ids, pad)
        minutes = elapsed_before + (time.monotonic() - started) / 60
        history.append(
            {"step": step, "train_loss": loss.item(), "val_loss": val, "minutes": minutes}
        )
        log.info(
            "step %d  train %.4f  validation %.4f  (%.1f min)", step, loss.item(), val, minutes
        )
        if val < best:
            best = val
            save_checkpoint(model, vocab, labeller, cfg, history, cfg.out)
        cfg.work.mkdir(parents=True, exist_ok=True)
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                 "best": best, "history": history}  # fmt: skip
        torch.save(state, state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)
    return {"steps": step, "best_val_loss": best, "history": history}


def _length_batches(seqs: list[list[int]], batch_size: int, rng: random.Random):
    """Endless batches of indices: shuffled, but each drawn from windows of similar length so
    that little CPU goes to padding."""
    while True:
        order = list(range(len(seqs)))
        rng.shuffle(order)
        pool = batch_size * 50
        for i in range(0, len(order), pool):
            chunk = sorted(order[i : i + pool], key=lambda j: len(seqs[j]))
            batches = [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
            rng.shuffle(batches)
            yield from batches


def _learning_rate(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """Linear warm-up, then a cosine decay over the time budget (training is time-boxed)."""
    progress = min(1.0, elapsed_s / (cfg.minutes * 60))
    return cfg.lr * min(1.0, (step + 1) / 300) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model: PlannerModel, seqs: list[list[int]], pad: int, batch_size: int = 32) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(seqs), batch_size):
        ids, targets = _batch(seqs[i : i + batch_size], pad)
        n = int((targets != -100).sum())
        total += float(model.loss(ids, targets)) * n
        count += n
    return total / max(count, 1)


def save_checkpoint(model, vocab, labeller, cfg: TrainConfig, history, out: Path) -> None:
    """Weights as fp16 safetensors plus a JSON of everything needed to use them."""
    out.mkdir(parents=True, exist_ok=True)
    weights = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if k != "head.weight"
    }  # fmt: skip  (tied to tok.weight)
    tmp = out / "planner.safetensors.tmp"
    save_file(weights, str(tmp))
    tmp.replace(out / "planner.safetensors")
    meta = {
        "config": model.cfg.to_dict(),
        "genres": list(vocab.genres),
        "labels": labeller.to_dict(),
        "train": {"seed": cfg.seed, "library_variants": cfg.library_variants,
                  "batch_size": cfg.batch_size, "lr": cfg.lr},
        "history": history,
    }  # fmt: skip
    (out / "planner.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_checkpoint(folder: Path) -> tuple[PlannerModel, Vocabulary, Labeller, dict]:
    meta = json.loads((folder / "planner.json").read_text())
    model = PlannerModel(PlannerConfig(**meta["config"]))
    weights = {k: v.float() for k, v in load_file(str(folder / "planner.safetensors")).items()}
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
    tmp = out / f"{BAR_INDEX}.tmp"
    with tmp.open("wb") as f:
        np.save(f, np.array(prints, dtype=np.int64))
    tmp.replace(out / BAR_INDEX)
    return len(prints)


def load_bar_index(folder: Path) -> frozenset[int]:
    """The fingerprints `write_bar_index` saved (none for a checkpoint without them)."""
    path = folder / BAR_INDEX
    return frozenset(np.load(path).tolist()) if path.is_file() else frozenset()
