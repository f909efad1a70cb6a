"""Train the planner and write checkpoints/planner/ (weights, config, model card numbers).

    python pipelines/train_planner.py --groove ../shared/datasets/groove --minutes 45

Resumable: progress is saved in --work every evaluation; run the same command again to go on.
Reproducible from --seed (same data order, same initial weights). The kept weights are also
exported as the decoding step's ONNX graph (`--export-only` does only that).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import torch

from audiogen.planner.checkpoint import (
    BAR_INDEX,
    CARD,
    WEIGHTS,
    load_bar_index,
    load_checkpoint,
    write_bar_index,
)
from audiogen.planner.library import load_library
from audiogen.planner.steps import STEP_ONNX, export_step
from audiogen.training.groove import load_groove
from audiogen.training.planner import WINDOW_BARS, PlannerTrainConfig, train

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groove", type=Path, default=REPO.parent / "shared/datasets/groove")
    parser.add_argument("--out", type=Path, default=REPO / "checkpoints/planner")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/audiogen/train/planner")
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--bar-index-only", action="store_true",
                        help="only (re)write the training-bar fingerprints of the checkpoint in "
                        "--out (its seed and library variations), then stop")  # fmt: skip
    parser.add_argument("--export-only", action="store_true",
                        help=f"only (re)write {STEP_ONNX}, the decoding step of the checkpoint "
                        "in --out for onnxruntime, then stop")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.bar_index_only:
        train_meta = json.loads((args.out / CARD).read_text())["train"]
        phrases = load_groove(args.groove, splits=("train",)) + load_library(
            seed=train_meta["seed"], variants=train_meta["library_variants"]
        )
        print(f"{write_bar_index(phrases, args.out)} training bars indexed in {args.out}")
        return
    if args.export_only:
        print(export_step(load_checkpoint(args.out)[0], args.out))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    result = train(
        PlannerTrainConfig(
            groove=args.groove, out=args.out, work=args.work, minutes=args.minutes,
            max_steps=args.max_steps, seed=args.seed,
        )
    )  # fmt: skip
    result["wall_minutes"] = (time.time() - started) / 60
    export_step(load_checkpoint(args.out)[0], args.out)
    write_model_card(args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))


def write_model_card(folder: Path, metrics: str = "") -> None:
    """MODEL_CARD.md beside the weights: data, steps, hardware, validation loss (and benchmark
    numbers when given)."""
    meta = json.loads((folder / CARD).read_text())
    best = min(meta["history"], key=lambda h: h["val_loss"])
    cfg = meta["config"]
    train = meta["train"]
    text = f"""# Planner checkpoint

A decoder-only transformer over drum tokens (`audiogen/planner/`): {cfg["n_layers"]} layers,
d_model {cfg["d_model"]}, {cfg["n_heads"]} heads, context {cfg["max_len"]} tokens, vocabulary
{cfg["vocab_size"]}; weights in fp16 safetensors ({
        (folder / WEIGHTS).stat().st_size // 1024
    } KB).

- **Data**: Groove MIDI Dataset v1.0.0 train split (CC BY 4.0, Google LLC / Magenta: Gillick et
  al., ICML 2019), quantised to the 24-per-quarter grid with feel and swing estimated per
  performance; plus audiogen's own style library (`audiogen/planner/styles/`, 114 patterns for 20
  genres) with {train["library_variants"]} seeded variations per pattern. Windows of {
        WINDOW_BARS
    } bars.
  Validation: the Groove validation split.
- **Training**: `python pipelines/train_planner.py --minutes 50` (seed {train["seed"]}, AdamW,
  lr {train["lr"]}, batch {train["batch_size"]}); kept at step {best["step"]} of
  {meta["history"][-1]["step"]} ({best["minutes"]:.1f} min), the best validation loss.
- **Decoding**: `{STEP_ONNX}`, the same weights' decoding step for onnxruntime (fp32, exported
  from the safetensors); `Planner` falls back to torch without it.
- **Novelty index**: `{BAR_INDEX}`, the fingerprints of the {
        len(load_bar_index(folder))
    } distinct training bars (onsets,
  velocities aside); the generator writes again any bar that equals one.
- **Hardware**: {platform.machine()} CPU, {os.cpu_count()} cores, no GPU.
- **Validation loss**: {best["val_loss"]:.4f} nats/token (train {best["train_loss"]:.4f}).
{metrics}"""
    (folder / "MODEL_CARD.md").write_text(text)


if __name__ == "__main__":
    main()
