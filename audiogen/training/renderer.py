"""Training the neural renderer on precomputed (score features, codec tokens) pairs.

The material is made once by `audiogen.training.tokens` (the sampler's stems of the codec's
material through the training kits, encoded by the frozen codec); each step reads random windows
of ``frames`` frames of it from memory, so no step renders or encodes.
Time-boxed and resumable like the codec's training (``state_dir/last.pt``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from audiogen.files import atomic_path
from audiogen.renderers.neural import RendererConfig, build, predict, save_checkpoint
from audiogen.training.tokens import Shards

log = logging.getLogger(__name__)

STATE = "last.pt"


def train(
    shards: Shards, out_dir: Path, state_dir: Path, minutes: float, config: RendererConfig,
    batch_size: int = 16, frames: int = 250, lr: float = 5e-4, device: str | None = None,
    max_steps: int | None = None, seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Train (or resume) for ``minutes`` or ``max_steps``; returns steps, rate and last loss.

    ``steps_per_s`` counts the steps after this run's first (which pays for warm-up).
    """
    import torch

    if tuple(shards.manifest["kits"]) != config.kits:
        raise ValueError(f"the tokens' kits {shards.manifest['kits']} are not {config.kits}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
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
    rng = np.random.default_rng([seed, runs])

    def save_state() -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(state_path) as tmp:
            torch.save({"lm": lm.state_dict(), "cond": conditioner.state_dict(),
                        "optim": optimizer.state_dict(), "step": step, "runs": runs,
                        "config": config.to_dict()}, tmp)  # fmt: skip

    start = last_log = last_save = time.time()
    first, average, warm = step, None, None
    lm.train()
    conditioner.train()
    while time.time() - start < minutes * 60 and (max_steps is None or step - first < max_steps):
        codes, features, stem, kit, valid = (
            torch.from_numpy(a).to(device) for a in shards.batch(rng, batch_size, frames)
        )
        logits, mask = predict(lm, conditioner, codes, features, stem, kit)
        real = torch.arange(frames, device=device)[None, None, :] < valid[:, None, None]
        mask = mask & real  # padding past a short example's end is not learned
        loss = torch.nn.functional.cross_entropy(logits[mask], codes[mask])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        value = float(loss.detach())
        average = value if average is None else 0.98 * average + 0.02 * value
        now = time.time()
        warm = warm or now  # the end of this run's first step
        if now - last_log > 30 or step == first + 1:
            rate = (step - first - 1) / (now - warm) if now > warm else float("nan")
            log.info("step %d  %.2f steps/s  loss %.4f", step, rate, average)
            last_log = now
        if now - last_save > 180:
            save_state()
            last_save = now
    end = time.time()
    save_state()
    meta = {"version": f"renderer@{step}", "steps": step, "codec": shards.manifest["codec"],
            "codec_sha256": shards.manifest["codec_sha256"],
            "train_loss": round(average or float("nan"), 4), "frames": frames,
            "batch": batch_size}  # fmt: skip
    save_checkpoint(lm, conditioner, config, out_dir, meta)
    rate = (step - first - 1) / (end - warm) if warm and end > warm else float("nan")
    return {"steps": step, "runs": runs, "loss": average, "steps_per_s": rate}
