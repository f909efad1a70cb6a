"""Training the neural renderer on precomputed (score features, codec tokens) pairs.

The material is made once by `audiogen.training.tokens` (the sampler's stems of the codec's
material through the training kits, encoded by the frozen codec); each step reads random windows
of ``frames`` frames of it from memory, so no step renders or encodes.
Time-boxed and resumable like the codec's training (``state_dir/last.pt``). Every
``HELD_OUT``-th example is kept out of training; the loss on fixed windows of them is logged to
``state_dir/curve.jsonl`` as the run goes, and the checkpoint is replaced only when that loss is
lower than the shipped one's (for the same codec).

On a CPU with bfloat16 arithmetic the forward and backward run under autocast (weights, optimizer
and loss stay float32): 0.87 CPU s a step of 16 × 250 frames against 1.4 in float32 here.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from audiogen.errors import AudiogenError
from audiogen.files import atomic_path
from audiogen.instruments import GROUPS
from audiogen.renderers.neural import (
    CARD,
    RendererConfig,
    build,
    loss,
    read_checkpoint,
    save_checkpoint,
)
from audiogen.training.schedule import cosine_decay
from audiogen.training.tokens import Shards

log = logging.getLogger(__name__)

STATE = "last.pt"
CURVE = "curve.jsonl"
HELD_OUT = 50  # every 50th example is held out (when there are enough of them)
WARMUP = 300  # steps of linear learning-rate warm-up at the model's start
EVAL_WINDOWS = 64


def held_out(shards: Shards) -> np.ndarray:
    """The examples kept out of training (none when there are too few to spare)."""
    index = np.arange(shards.examples)
    return index[index % HELD_OUT == HELD_OUT - 1] if shards.examples >= 2 * HELD_OUT else index[:0]


def saved_window(state_dir: Path) -> int | None:
    """How many frames of the score the state in ``state_dir`` reads (None: no state there), so
    that a resumed run reads as many unless told more."""
    weights = _saved_conditioner(state_dir)
    return None if weights is None else int(weights["conv.weight"].shape[-1])


def saved_hits(state_dir: Path) -> tuple[int, int]:
    """The width of the hit vectors the state in ``state_dir`` makes and of its hit table's rows
    (0: none, or no state), so that a resumed run keeps them unless told otherwise."""
    weights = _saved_conditioner(state_dir) or {}
    width = weights["hits.conv.weight"].shape[1] if "hits.conv.weight" in weights else 0
    table = weights["hits.table"].shape[-1] if "hits.table" in weights else 0
    return int(width), int(table)


def _saved_conditioner(state_dir: Path) -> dict[str, Any] | None:
    """The conditioner's weights in the state in ``state_dir`` (None: no state there)."""
    import torch

    path = state_dir / STATE
    if not path.exists():
        return None
    return dict(torch.load(path, map_location="cpu", weights_only=False)["cond"])


def state_from_checkpoint(folder: Path, state_dir: Path) -> int:
    """Write ``state_dir``'s state from the checkpoint in ``folder`` (its weights in float32, its
    step count; no optimizer state, so Adam warms up again), for training a shipped model on.
    Returns the step it starts at.

    Raises:
        AudiogenError: ``state_dir`` holds a state already, or ``folder`` holds no checkpoint.
    """
    import torch
    from safetensors import SafetensorError

    path = state_dir / STATE
    if path.exists():
        raise AudiogenError(f"{path} exists: train on from it, or pass --fresh to start from "
                            f"{folder}")  # fmt: skip
    try:
        meta, config, parts = read_checkpoint(folder)
        step = int(meta["steps"])
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise AudiogenError(f"no renderer checkpoint to start from in {folder} ({exc})") from None
    state_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"lm": parts["lm"], "cond": parts["cond"], "step": step,
                    "runs": int(meta.get("runs", 0)), "config": config.to_dict()}, tmp)  # fmt: skip
    return step


SAMPLING = ("guidance", "guidance_between", "guidance_frames", "temperature", "top_k")


def export_state(state_dir: Path, out_dir: Path, codec: dict[str, str],
                 sampling: dict[str, Any] | None = None) -> str:  # fmt: skip
    """Write ``state_dir``'s state as a checkpoint in ``out_dir``: its weights, the ``codec``
    whose tokens it writes (``codec_identity``), its losses at that step from the curve, and
    ``sampling``'s settings (a card's guidance, temperature, top-k; the state's own where not
    given). Returns the checkpoint's version.

    Raises:
        AudiogenError: no state in ``state_dir``, or ``sampling`` that is not a setting or does
            not fit (a guidance per group that leaves a group out).
    """
    import torch

    path = state_dir / STATE
    if not path.exists():
        raise AudiogenError(f"no training state to export in {state_dir}")
    unknown = set(sampling or {}) - set(SAMPLING)
    if unknown:
        raise AudiogenError(f"not a sampling setting: {', '.join(sorted(unknown))}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    try:
        config = RendererConfig.from_dict(dict(state["config"], **(sampling or {})))
    except ValueError as exc:
        raise AudiogenError(f"these sampling settings do not fit: {exc}") from None
    lm, conditioner = build(config)
    lm.load_state_dict(state["lm"])
    conditioner.load_state_dict(state["cond"])
    step = int(state["step"])
    points = []
    if (state_dir / CURVE).exists():
        lines = (state_dir / CURVE).read_text().splitlines()
        points = [p for p in map(json.loads, filter(None, lines)) if p["step"] == step]
    last = points[-1] if points else {}
    version = f"renderer@{step}"
    meta = {"version": version, "steps": step, **codec, "train_loss": last.get("train_loss"),
            "held_out_loss": last.get("held_out_loss")}  # fmt: skip
    save_checkpoint(lm, conditioner, config, out_dir, meta)
    return version


def widen_window(weights: dict[str, Any], window: int) -> int:
    """A conditioner's ``weights`` (changed in place) made to read ``window`` frames of the score
    and envelope: a narrower state's taps are the newest frames', the older frames' start at
    zero, so the model begins as it was. Returns how many frames were added.

    Raises:
        ValueError: the state reads more frames than ``window``.
    """
    import torch

    added = 0
    for name in ("conv.weight", "envelope.weight"):
        if name in weights and weights[name].shape[-1] > window:
            raise ValueError(f"the state reads {weights[name].shape[-1]} frames of the score: "
                             f"train it with --window {weights[name].shape[-1]}")  # fmt: skip
        if name in weights and weights[name].shape[-1] < window:
            old = weights[name]
            added = window - old.shape[-1]
            weights[name] = torch.cat([old.new_zeros((*old.shape[:-1], added)), old], dim=-1)
    return added


def train(
    shards: Shards, out_dir: Path, state_dir: Path, minutes: float, config: RendererConfig,
    batch_size: int = 16, frames: int = 250, lr: float = 5e-4, device: str | None = None,
    max_steps: int | None = None, seed: int = 0, lr_decay: bool = False, eval_every: int = 250,
    group_weight: dict[str, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train (or resume) for ``minutes`` or ``max_steps``; returns steps, rate, last loss and the
    held-out loss.

    ``lr_decay`` decays the learning rate (cosine, to a tenth) over this run. ``group_weight``
    draws the named stem groups' examples that many times as often (the others 1; the held-out
    windows stay as they are). ``steps_per_s`` counts the steps after this run's first (which
    pays for warm-up).
    """
    import torch

    if tuple(shards.manifest["kits"]) != config.kits:
        raise ValueError(f"the tokens' kits {shards.manifest['kits']} are not {config.kits}")
    if shards.grid != config.grid:
        raise ValueError(f"the tokens' hits sit at {shards.grid or 'any'} positions a frame, "
                         f"the model's at {config.grid or 'any'}")  # fmt: skip
    if shards.width != config.width:
        raise ValueError(f"the tokens have {shards.width} feature columns, the model reads "
                         f"{config.width} (envelope: {config.envelope}, "
                         f"bands: {config.bands})")  # fmt: skip
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    lm, conditioner = build(config)
    lm.to(device)
    conditioner.to(device)
    params = list(lm.parameters()) + list(conditioner.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    step, runs, warm_from = 0, 0, 0
    state_path = state_dir / STATE
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        lm.load_state_dict(state["lm"])
        widened = widen_window(state["cond"], config.window)
        if widened:
            log.info("%s read %d frames of the score: the %d older ones start at zero",
                     state_path, config.window - widened, widened)  # fmt: skip
        missing, unexpected = conditioner.load_state_dict(state["cond"], strict=False)
        if unexpected or any(not k.startswith(("envelope.", "bands.", "hits.")) for k in missing):
            raise ValueError(f"{state_path} does not fit this model: {missing + unexpected}")
        if missing:  # a model trained without them learns to read them from here on
            log.info("%s has no weights for %s: they start at zero", state_path,
                     " or ".join(sorted({k.split(".")[0] for k in missing})))  # fmt: skip
        step, runs = state["step"], state["runs"]
        if "optim" in state and not missing and not widened:
            optimizer.load_state_dict(state["optim"])
        else:  # a committed state keeps the weights only (see pipelines/TRAINING.md)
            warm_from = step
            log.info("no optimizer state in %s: Adam starts afresh, with a warm-up", state_path)
        log.info("resumed from %s at step %d", state_path, step)
    runs += 1
    rng = np.random.default_rng([seed, runs])
    unknown = set(group_weight or {}) - set(GROUPS)
    if unknown:
        raise ValueError(f"no stem group {', '.join(sorted(unknown))} to weight")
    stem_weight = None
    if group_weight:
        log.info("stem groups drawn more often: %s", group_weight)
        stem_weight = np.array([group_weight.get(g, 1.0) for g in GROUPS])
    kept = held_out(shards)
    training = np.setdiff1d(np.arange(shards.examples), kept)
    probe = (shards.batch(np.random.default_rng(seed), EVAL_WINDOWS, frames, kept)
             if len(kept) else None)  # fmt: skip
    mixed = device == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=mixed)
    cpu_start = time.process_time()

    def evaluate() -> float | None:
        if probe is None:
            return None
        lm.eval()
        conditioner.eval()
        with torch.no_grad():
            tensors = [torch.from_numpy(a).to(device) for a in probe]
            chunks = [float(loss(lm, conditioner, *(t[i : i + 16] for t in tensors)))
                      for i in range(0, EVAL_WINDOWS, 16)]  # fmt: skip
        lm.train()
        conditioner.train()
        return round(float(np.mean(chunks)), 4)

    def record(held: float | None) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        with (state_dir / CURVE).open("a") as fh:
            fh.write(json.dumps({"step": step, "run": runs, "train_loss": round(average or 0, 4),
                                 "held_out_loss": held, "lr": optimizer.param_groups[0]["lr"],
                                 "run_cpu_h": round((time.process_time() - cpu_start) / 3600, 3),
                                 "time": round(time.time())}) + "\n")  # fmt: skip

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
        elapsed = time.time() - start
        progress = max(elapsed / (minutes * 60), (step - first) / max_steps if max_steps else 0)
        for group in optimizer.param_groups:
            group["lr"] = (min(1.0, (step + 1 - warm_from) / WARMUP)
                           * (cosine_decay(lr, progress) if lr_decay else lr))  # fmt: skip
        batch = shards.batch(rng, batch_size, frames, training, stem_weight)
        with autocast:  # padding past a short example's end is not learned
            value_t = loss(lm, conditioner, *(torch.from_numpy(a).to(device) for a in batch),
                           token_noise=config.token_noise, attack_weight=config.attack_weight,
                           attack_frames=config.attack_frames,
                           coarse_weight=config.coarse_weight)  # fmt: skip
        optimizer.zero_grad()
        value_t.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        value = float(value_t.detach())
        average = value if average is None else 0.98 * average + 0.02 * value
        now = time.time()
        warm = warm or now  # the end of this run's first step
        if now - last_log > 30 or step == first + 1:
            rate = (step - first - 1) / (now - warm) if now > warm else float("nan")
            log.info("step %d  %.2f steps/s  loss %.4f", step, rate, average)
            last_log = now
        if (step - first) % eval_every == 0:
            record(evaluate())
        if now - last_save > 180:
            save_state()
            last_save = now
    end = time.time()
    save_state()
    held = evaluate()
    record(held)
    meta = {"version": f"renderer@{step}", "steps": step, "codec": shards.manifest["codec"],
            "codec_sha256": shards.manifest["codec_sha256"],
            "train_loss": round(average or float("nan"), 4), "held_out_loss": held,
            "frames": frames, "batch": batch_size}  # fmt: skip
    if _improves(out_dir, meta):
        save_checkpoint(lm, conditioner, config, out_dir, meta)
    else:
        save_checkpoint(lm, conditioner, config, state_dir / "candidate", meta)
        log.info("held-out loss %s is not below the checkpoint's in %s: kept in %s", held,
                 out_dir, state_dir / "candidate")  # fmt: skip
    rate = (step - first - 1) / (end - warm) if warm and end > warm else float("nan")
    return {"steps": step, "runs": runs, "loss": average, "held_out_loss": held,
            "steps_per_s": rate}  # fmt: skip


def _improves(out_dir: Path, meta: dict[str, Any]) -> bool:
    """Whether ``meta``'s model should replace the checkpoint in ``out_dir``: there is none, it
    was made for another codec, or its held-out loss is higher."""
    try:
        old = json.loads((out_dir / CARD).read_text())
    except (OSError, ValueError):
        return True
    if old.get("codec_sha256") != meta["codec_sha256"] or old.get("held_out_loss") is None:
        return True
    return meta["held_out_loss"] is not None and meta["held_out_loss"] < old["held_out_loss"]
