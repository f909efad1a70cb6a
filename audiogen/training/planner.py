"""Training the planner: Groove MIDI performances plus the project's style library become token
windows of a few bars; a seeded, resumable loop fits the transformer and keeps the checkpoint
with the best validation loss.

    python pipelines/train_planner.py --groove PATH/TO/groove --minutes 50
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from audiogen.planner.bars import Phrase, bar_energy, syncopation_index
from audiogen.planner.checkpoint import Labeller, save_checkpoint, write_bar_index
from audiogen.planner.genres import GENRES
from audiogen.planner.library import load_library
from audiogen.planner.model import PlannerConfig, PlannerModel
from audiogen.planner.tokens import BOS, PAD, BarCondition, Vocabulary, encode_bar, tempo_bucket
from audiogen.training.config import LoopConfig
from audiogen.training.groove import load_groove
from audiogen.training.loop import seed_everything, train_loop
from audiogen.training.schedule import length_batches

log = logging.getLogger(__name__)

WINDOW_BARS = 3


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


def windows(
    phrases: Sequence[Phrase], labeller: Labeller, vocab: Vocabulary, max_len: int
) -> list[list[int]]:
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


@dataclass(frozen=True, kw_only=True)
class PlannerTrainConfig(LoopConfig):
    """A planner training run: the loop's settings, the library's share and the model's shape."""

    minutes: float = 45.0
    batch_size: int = 16
    lr: float = 1e-3
    library_variants: int = 40
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    max_len: int = 512
    eval_every: int = 200


def train(cfg: PlannerTrainConfig) -> dict:
    """Train (or resume) and write the best checkpoint to ``cfg.out``; returns its metrics."""
    seed_everything(cfg.seed)
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
    pad = vocab.id(PAD)

    def losses(step: int) -> Iterator[Callable[[], torch.Tensor]]:
        for batch in length_batches(train_ids, cfg.batch_size, random.Random(cfg.seed + step)):
            ids, targets = _batch([train_ids[i] for i in batch], pad)
            yield partial(model.loss, ids, targets)

    return train_loop(
        cfg, model, opt, losses, evaluate=lambda: evaluate(model, val_ids, pad),
        keep_best=lambda history: save_checkpoint(
            model, vocab, labeller, _card(cfg), history, cfg.out
        ),
        started=started,
    )  # fmt: skip


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


def _card(cfg: PlannerTrainConfig) -> dict:
    """The training settings the checkpoint's card records."""
    return {"seed": cfg.seed, "library_variants": cfg.library_variants,
            "batch_size": cfg.batch_size, "lr": cfg.lr}  # fmt: skip
