"""The time-boxed, resumable training loop that the planner and the humanizer share: resume from
``work/state.pt``, step with the learning-rate schedule, evaluate every ``eval_every`` steps, keep
the best checkpoint, save the state after each evaluation."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from audiogen.files import atomic_path
from audiogen.training.config import LoopConfig
from audiogen.training.schedule import learning_rate

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators: a run's weights and draws follow its seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_loop(
    cfg: LoopConfig,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    losses: Callable[[int], Iterator[Callable[[], torch.Tensor]]],
    evaluate: Callable[[], float],
    keep_best: Callable[[list[dict[str, Any]]], None],
    started: float | None = None,
) -> dict[str, Any]:
    """Train (or resume) until ``cfg.minutes`` of training in all or ``cfg.max_steps`` steps.

    Args:
        cfg: the run's settings.
        model: the model, fresh (its state is read back when the run resumes).
        opt: its optimizer.
        losses: given the step training starts (or resumes) at, the batches as loss functions in
            order (a model's batches are drawn by a generator seeded from that step).
        evaluate: the validation loss.
        keep_best: writes the checkpoint, given the history so far, when validation improves.
        started: when the run began (`time.monotonic`), its data preparation counted in the
            time box; default: now.

    Returns:
        Steps done in all, the best validation loss and the history of evaluations.
    """
    started = time.monotonic() if started is None else started
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
    batches = losses(step)
    while step < cfg.max_steps and time.monotonic() - started < budget_s:
        loss_of_batch = next(batches)
        elapsed_s = elapsed_before * 60 + time.monotonic() - started
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step, elapsed_s)
        model.train()
        loss = loss_of_batch()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % cfg.eval_every:
            continue
        val = evaluate()
        minutes = elapsed_before + (time.monotonic() - started) / 60
        history.append(
            {"step": step, "train_loss": loss.item(), "val_loss": val, "minutes": minutes}
        )
        log.info(
            "step %d  train %.4f  validation %.4f  (%.1f min)", step, loss.item(), val, minutes
        )
        if val < best:
            best = val
            keep_best(history)
        cfg.work.mkdir(parents=True, exist_ok=True)
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                 "best": best, "history": history}  # fmt: skip
        with atomic_path(state_path) as tmp:
            torch.save(state, tmp)
    return {"steps": step, "best_val_loss": best, "history": history}
