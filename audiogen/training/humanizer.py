"""Training the humanizer: Groove MIDI performances become windows of a few bars of hits, each with
its quantised place (input) and its performed offset and velocity (target); a seeded, resumable,
time-boxed loop fits `HumanizerNet` and keeps the checkpoint with the best validation loss.

    python pipelines/train_humanizer.py --groove PATH/TO/groove --minutes 20
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from audiogen.files import write_text_atomic
from audiogen.humanize.checkpoint import META, save_checkpoint
from audiogen.humanize.model import (
    NO_GENRE,
    Batch,
    HumanizerConfig,
    HumanizerNet,
    Track,
    collate,
    make_track,
    time_order,
)
from audiogen.planner.bars import Phrase
from audiogen.training.config import LoopConfig
from audiogen.training.groove import load_groove
from audiogen.training.loop import seed_everything, train_loop
from audiogen.training.schedule import length_batches

log = logging.getLogger(__name__)

WINDOW_BARS = 8
MIN_GENRE_PHRASES = 5  # a genre with fewer training performances is learned as "no genre"


def phrase_hits(phrase: Phrase, first: int = 0, count: int | None = None) -> list[tuple]:
    """Hits of bars ``first .. first+count`` of a phrase in time order, as `make_track` reads
    them: (tick from the first bar, position in bar, instrument, velocity, offset_ms)."""
    per_bar = phrase.meter.ticks_per_bar
    bars = phrase.bars[first : None if count is None else first + count]
    hits = [
        (b * per_bar + h.position, h.position, h.instrument, h.velocity, h.offset_ms)
        for b, bar in enumerate(bars)
        for h in bar
    ]
    return sorted(hits, key=lambda h: (h[0], time_order(h[2])))


def phrase_track(phrase: Phrase, first: int = 0, count: int | None = None) -> Track:
    """A performed phrase (or some of its bars) as a training `Track`."""
    return make_track(
        phrase_hits(phrase, first, count), genre=phrase.genre, bpm=phrase.bpm,
        feel=phrase.feel, swing=phrase.swing, meter=str(phrase.meter), performed=True,
    )  # fmt: skip


def windows(phrases: Sequence[Phrase], hop: int = WINDOW_BARS // 2) -> list[Track]:
    """Overlapping windows of `WINDOW_BARS` bars (one window for a shorter phrase)."""
    out = []
    for p in phrases:
        starts = range(0, max(1, len(p.bars) - WINDOW_BARS + hop), hop)
        for first in starts:
            track = phrase_track(p, first, WINDOW_BARS)
            if len(track) >= 2:
                out.append(track)
    return out


def known_genres(phrases: Sequence[Phrase]) -> tuple[str, ...]:
    counts = Counter(p.genre for p in phrases if p.genre)
    return tuple(sorted(g for g, n in counts.items() if n >= MIN_GENRE_PHRASES))


@dataclass(frozen=True, kw_only=True)
class HumanizerTrainConfig(LoopConfig):
    """A humanizer training run: the loop's settings and how often a window forgets its genre."""

    minutes: float = 20.0
    batch_size: int = 32
    lr: float = 2e-3
    genre_dropout: float = 0.15
    eval_every: int = 100


def train(cfg: HumanizerTrainConfig) -> dict:
    """Train (or resume) and write the best checkpoint to ``cfg.out``; returns its metrics."""
    seed_everything(cfg.seed)
    started = time.monotonic()
    phrases = load_groove(cfg.groove, splits=("train", "validation"))
    train_phrases = [p for p in phrases if p.split == "train"]
    genres = known_genres(train_phrases)
    train_tracks = windows(train_phrases)
    val_tracks = windows([p for p in phrases if p.split == "validation"], hop=WINDOW_BARS)
    log.info(
        "windows: %d train, %d validation; %d hits; genres %s",
        len(train_tracks), len(val_tracks), sum(len(t) for t in train_tracks), ", ".join(genres),
    )  # fmt: skip
    model = HumanizerNet(HumanizerConfig(genres=genres))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    val_batches = [collate(val_tracks[i : i + 64], genres) for i in range(0, len(val_tracks), 64)]

    def losses(step: int) -> Iterator[Callable[[], torch.Tensor]]:
        rng = random.Random(cfg.seed + step)
        for batch in length_batches(train_tracks, cfg.batch_size, rng):
            picked = [
                dataclasses.replace(t, genre=NO_GENRE) if rng.random() < cfg.genre_dropout else t
                for t in (train_tracks[i] for i in batch)
            ]
            yield partial(model.loss, collate(picked, genres))

    result = train_loop(
        cfg, model, opt, losses, evaluate=lambda: evaluate(model, val_batches),
        keep_best=lambda history: save_checkpoint(model, _card(cfg), history, cfg.out),
        started=started,
    )  # fmt: skip
    history = result["history"]
    if (cfg.out / META).is_file():  # the last history, even when the best was saved earlier
        meta = json.loads((cfg.out / META).read_text())
        meta["history"] = history
        write_text_atomic(cfg.out / META, json.dumps(meta, indent=1) + "\n")
    return result


@torch.no_grad()
def evaluate(model: HumanizerNet, batches: Sequence[Batch]) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        n = int(batch.mask.sum())
        total += float(model.loss(batch)) * n
        count += n
    return total / max(count, 1)


def _card(cfg: HumanizerTrainConfig) -> dict:
    """The training settings the checkpoint's card records."""
    return {
        "seed": cfg.seed, "minutes": cfg.minutes, "batch_size": cfg.batch_size, "lr": cfg.lr,
        "window_bars": WINDOW_BARS, "genre_dropout": cfg.genre_dropout,
    }  # fmt: skip
