"""What the token model writes, beside what it stands for: material for the codec's decoder.

The decoder learned to play the encoder's tokens. The token model writes tokens of its own for a
score, near the encoder's but not the same; a decoder trained on them beside the sampler's render
of the same score learns to play what the token model writes (as a vocoder is trained on an
acoustic model's output). `make_pairs` writes shards of such pairs; `RenderedPairs` reads them.

A shard, ``pairs-<seed>-<n>.npz``: ``codes`` int16 [K, frames] and ``audio`` float16 [frames x hop]
of stems one after another, and ``bounds``, where each stem starts (and where the last ends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiogen.files import atomic_path
from audiogen.planner.bars import Phrase

if TYPE_CHECKING:
    import torch

    from audiogen.renderers.neural import NeuralRenderer

log = logging.getLogger(__name__)

PIECE_BARS = 4
SHARD_STEMS = 64


class RenderedPairs:
    """Every shard of a folder, in memory."""

    def __init__(self, codes: np.ndarray, audio: np.ndarray, bounds: np.ndarray, hop: int):
        self.codes, self.audio, self.bounds, self.hop = codes, audio, bounds, hop

    @classmethod
    def load(cls, folder: Path, hop: int) -> RenderedPairs:
        parts = [np.load(path) for path in sorted(folder.glob("pairs-*.npz"))]
        if not parts:
            raise ValueError(f"no pairs-*.npz in {folder}")
        offsets = np.cumsum([0] + [p["codes"].shape[-1] for p in parts])
        bounds = np.unique(np.concatenate([p["bounds"] + o for p, o in zip(parts, offsets)]))
        return cls(np.concatenate([p["codes"] for p in parts], axis=-1),
                   np.concatenate([p["audio"] for p in parts]), bounds, hop)  # fmt: skip

    def __str__(self) -> str:
        return f"{len(self.bounds) - 1} stems, {self.codes.shape[-1]} frames"

    def stems(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each stem whole: (codes [K, frames], float32 audio)."""
        for lo, hi in zip(self.bounds[:-1], self.bounds[1:]):
            audio = self.audio[lo * self.hop : hi * self.hop].astype(np.float32)
            yield self.codes[:, lo:hi].astype(np.int64), audio

    def batches(
        self, n: int, frames: float, seed: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless random crops of ``frames`` frames, each within one stem: (codes [n, K, frames],
        audio [n, 1, frames x hop])."""
        import torch

        rng = np.random.default_rng(seed)
        span = round(frames)
        starts, ends = self.bounds[:-1], self.bounds[1:]
        usable = np.flatnonzero(ends - starts >= span)
        if not len(usable):
            raise ValueError(f"no stem of {span} frames or more among the pairs")
        weights = (ends - starts)[usable] / (ends - starts)[usable].sum()
        while True:
            stems = rng.choice(usable, size=n, p=weights)
            firsts = [int(rng.integers(starts[i], ends[i] - span + 1)) for i in stems]
            codes = np.stack([self.codes[:, f : f + span] for f in firsts]).astype(np.int64)
            audio = np.stack([self.audio[f * self.hop : (f + span) * self.hop] for f in firsts])
            yield torch.from_numpy(codes), torch.from_numpy(audio.astype(np.float32))[:, None]


def make_pairs(
    renderer: NeuralRenderer, phrases: Sequence[Phrase], folder: Path, minutes: float, seed: int
) -> dict[str, float]:
    """Pieces of ``phrases`` through the renderer's kits in turn (random tempo, as the token
    model's material): its codes for each stem, as it writes them when it renders
    (`NeuralRenderer.codes`), beside the sampler's stem. Shards go to ``folder`` as they fill; a
    run numbers its shards on from those of its ``seed`` already there (a later run adds more).

    Returns:
        stems and seconds of stems written, and the run's wall seconds.
    """
    from audiogen.kits import load_kit
    from audiogen.renderers.sampler import Sampler
    from audiogen.training.tokens import piece_score, pieces

    config, codec = renderer.config, renderer.codec
    rate, hop = codec.config.frame_rate, codec.config.hop_length
    folder.mkdir(parents=True, exist_ok=True)
    index = len(list(folder.glob(f"pairs-{seed}-*.npz")))
    rng = np.random.default_rng([seed, index])
    samplers: dict[str, Sampler] = {}
    shard: list[tuple[np.ndarray, np.ndarray]] = []
    start, stems, seconds = time.time(), 0, 0.0

    def flush() -> None:
        nonlocal shard, index
        if not shard:
            return
        path = folder / f"pairs-{seed}-{index:04d}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            np.savez(out, bounds=np.cumsum([0] + [c.shape[-1] for c, _ in shard]),
                     codes=np.concatenate([c for c, _ in shard], axis=-1).astype(np.int16),
                     audio=np.concatenate([a for _, a in shard]).astype(np.float16))  # fmt: skip
        shard, index = [], index + 1

    todo = pieces(phrases, PIECE_BARS, int(rng.integers(2**31)))
    for n, (phrase, first) in enumerate(todo):
        if time.time() - start > minutes * 60:
            break
        kit = config.kits[(n + index) % len(config.kits)]
        sampler = samplers.setdefault(kit, Sampler(load_kit(kit), codec.sample_rate))
        score = piece_score(phrase, first, PIECE_BARS, rng)
        audio = sampler.render(score, seed=int(rng.integers(2**31))).stems
        if not any(g in audio for g in score.groups):
            continue
        codes = renderer.codes(score, {kit: 1.0}, int(rng.integers(2**31))).numpy()
        frames = codes.shape[-1]
        for group, written in zip(score.groups, codes, strict=True):
            if group not in audio:
                continue
            stem = np.pad(audio[group], (0, max(0, frames * hop - len(audio[group]))))
            shard.append((written, stem[: frames * hop]))
            stems, seconds = stems + 1, seconds + frames / rate
        if len(shard) >= SHARD_STEMS:
            flush()
            log.info("%d stems, %.0f s of stems in %.0f s", stems, seconds, time.time() - start)
    flush()
    return {"stems": stems, "seconds": round(seconds, 1), "wall_s": round(time.time() - start, 1)}
