"""Training the neural renderer on (score, codec tokens) pairs made on the fly by the sampler.

The same material and held-out kit as the codec (`audiogen.training.clips`); each pair is one
stem of a short excerpt: its frame features and its audio, which the frozen codec turns into
tokens.
Time-boxed and resumable like the codec's training (``state_dir/last.pt``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiogen.codec.model import Codec
from audiogen.files import atomic_path
from audiogen.instruments import GROUPS
from audiogen.kits import load_kit
from audiogen.planner.bars import Phrase
from audiogen.renderers.features import stem_frames
from audiogen.renderers.neural import RendererConfig, build, predict, save_checkpoint
from audiogen.renderers.sampler import Sampler
from audiogen.training.clips import excerpt

log = logging.getLogger(__name__)

STATE = "last.pt"


@dataclass
class PairMaker:
    """(audio, features, stem, kit) examples of ``frames`` codec frames each."""

    phrases: Sequence[Phrase]
    kits: Sequence[str]
    sample_rate: int
    frame_rate: float
    frames: int

    def pairs(self, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray, int, int]]:
        rng = np.random.default_rng(seed)
        samplers: dict[str, Sampler] = {}
        hop = round(self.sample_rate / self.frame_rate)
        while True:
            k = int(rng.integers(len(self.kits)))
            kit = self.kits[k]
            sampler = samplers.setdefault(kit, Sampler(load_kit(kit), self.sample_rate))
            score = excerpt(self.phrases[int(rng.integers(len(self.phrases)))], rng)
            stems = sampler.render(score, seed=int(rng.integers(2**31))).stems
            for group, audio in sorted(stems.items()):
                total = len(audio) // hop
                start = int(rng.integers(max(1, total - self.frames // 2)))
                clip = audio[start * hop : (start + self.frames) * hop]
                clip = np.pad(clip, (0, self.frames * hop - len(clip)))
                features = stem_frames(score, group, self.frame_rate, self.frames,
                                       start / self.frame_rate)  # fmt: skip
                yield clip.astype(np.float32), features, GROUPS.index(group), k


def train(
    phrases: Sequence[Phrase], kits: Sequence[str], codec: Codec, out_dir: Path, state_dir: Path,
    minutes: float, config: RendererConfig, batch_size: int = 16, frames: int = 250,
    lr: float = 5e-4, device: str | None = None, workers: int = 0, max_steps: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Train (or resume) for ``minutes`` or ``max_steps``; returns steps, rate and last loss."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    codec.model.to(device)
    lm, conditioner = build(config)
    lm.to(device)
    conditioner.to(device)
    params = list(lm.parameters()) + list(conditioner.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    step, runs = 0, 0
    state_path = state_dir / STATE
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        lm.load_state_dict(state["lm"])
        conditioner.load_state_dict(state["cond"])
        optimizer.load_state_dict(state["optim"])
        step, runs = state["step"], state["runs"]
        log.info("resumed from %s at step %d", state_path, step)
    runs += 1
    maker = PairMaker(phrases, kits, codec.sample_rate, codec.config.frame_rate, frames)

    class Pairs(IterableDataset):
        def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, int, int]]:
            info = get_worker_info()
            yield from maker.pairs(seed * 1000 + runs * 100 + (info.id if info else 0))

    batches = iter(DataLoader(Pairs(), batch_size=batch_size, num_workers=workers))

    def save_state() -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(state_path) as tmp:
            torch.save({"lm": lm.state_dict(), "cond": conditioner.state_dict(),
                        "optim": optimizer.state_dict(), "step": step, "runs": runs,
                        "config": config.to_dict()}, tmp)  # fmt: skip

    start = last_log = last_save = time.time()
    first, average = step, None
    lm.train()
    conditioner.train()
    while time.time() - start < minutes * 60 and (max_steps is None or step - first < max_steps):
        audio, features, stem, kit = (t.to(device) for t in next(batches))
        with torch.no_grad():
            codes, _ = codec.model.encode(audio[:, None])
        logits, mask = predict(lm, conditioner, codes, features, stem, kit)
        loss = torch.nn.functional.cross_entropy(logits[mask], codes[mask])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        value = float(loss.detach())
        average = value if average is None else 0.98 * average + 0.02 * value
        now = time.time()
        if now - last_log > 30 or step == first + 1:
            rate = (step - first) / (now - start)
            log.info("step %d  %.2f steps/s  loss %.4f", step, rate, average)
            last_log = now
        if now - last_save > 180:
            save_state()
            last_save = now
    save_state()
    meta = {"version": f"renderer@{step}", "steps": step, "codec": codec.version,
            "train_loss": round(average or float("nan"), 4), "frames": frames,
            "batch": batch_size}  # fmt: skip
    save_checkpoint(lm, conditioner, config, out_dir, meta)
    return {"steps": step, "runs": runs, "loss": average,
            "steps_per_s": (step - first) / max(time.time() - start, 1e-9)}  # fmt: skip
