"""The humanizer's checkpoint: fp32 weights and the card that says how to use them. The one place
that saves and loads them, for training and humanizing alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from audiogen.files import atomic_path, write_text_atomic
from audiogen.humanize.model import HumanizerConfig, HumanizerNet

WEIGHTS, META = "humanizer.safetensors", "humanizer.json"


def save_checkpoint(model: HumanizerNet, train: dict[str, Any], history: list[dict],
                    out: Path) -> None:  # fmt: skip
    """Weights as fp32 safetensors (a few hundred KB) plus a JSON of what is needed to use them
    (``train``: the training settings the card records)."""
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(weights, str(tmp))
    meta = {
        "config": model.cfg.to_dict(),
        "train": train,
        "step": history[-1]["step"] if history else 0,
        "history": history,
    }
    write_text_atomic(out / META, json.dumps(meta, indent=1) + "\n")


def load_checkpoint(folder: Path) -> tuple[HumanizerNet, dict]:
    """The network (in eval mode) and its card."""
    meta = json.loads((folder / META).read_text())
    cfg = dict(meta["config"])
    cfg["genres"] = tuple(cfg["genres"])
    model = HumanizerNet(HumanizerConfig(**cfg))
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    model.eval()
    return model, meta
