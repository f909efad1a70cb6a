"""Train the humanizer and write checkpoints/humanizer/ (weights, config, model card).

    python pipelines/train_humanizer.py --groove ../shared/datasets/groove --minutes 20

Resumable: progress is saved in --work every evaluation; run the same command again to go on.
Reproducible from --seed (same data order, same initial weights). Logs go to --log as well.
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

from audiogen.humanize.checkpoint import META, WEIGHTS
from audiogen.training.humanizer import WINDOW_BARS, HumanizerTrainConfig, train

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groove", type=Path, default=REPO.parent / "shared/datasets/groove")
    parser.add_argument("--out", type=Path, default=REPO / "checkpoints/humanizer")
    parser.add_argument(
        "--work", type=Path, default=Path.home() / ".cache/audiogen/train/humanizer"
    )
    parser.add_argument("--log", type=Path, default=None, help="log file (default: WORK/train.log)")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: all cores)")
    args = parser.parse_args()
    log_file = args.log or args.work / "train.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.StreamHandler(), logging.FileHandler(log_file)],
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    result = train(
        HumanizerTrainConfig(
            groove=args.groove, out=args.out, work=args.work, minutes=args.minutes,
            max_steps=args.max_steps, seed=args.seed,
        )
    )  # fmt: skip
    result["wall_minutes"] = (time.time() - started) / 60
    write_model_card(args.out, threads=torch.get_num_threads())
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))


def write_model_card(folder: Path, metrics: str = "", threads: int = 1) -> None:
    """MODEL_CARD.md beside the weights: data, steps, hardware, validation loss (and benchmark
    numbers when given)."""
    meta = json.loads((folder / META).read_text())
    best = min(meta["history"], key=lambda h: h["val_loss"])
    cfg, train_cfg = meta["config"], meta["train"]
    size_kb = (folder / WEIGHTS).stat().st_size // 1024
    text = f"""# Humanizer checkpoint

A small sequence model (`audiogen/humanize/`): a 2-layer bidirectional GRU ({cfg["d_encoder"]}
per direction) reads a score's quantised hits in time order (instrument, place in the beat,
velocity bin, gap to the previous hit; genre, tempo, feel, swing, meter), and a GRU decoder
({cfg["d_decoder"]}) writes each hit's timing offset and velocity as a Laplace distribution, fed
what it wrote for the previous hit. Weights in fp32 safetensors ({size_kb} KB).

- **Data**: Groove MIDI Dataset v1.0.0 train split (CC BY 4.0, Google LLC / Magenta: Gillick et
  al., ICML 2019): each performance quantised by `audiogen.training.groove.load_groove` (feel and
  swing measured per performance); input velocity = the planner's velocity bin of the played
  one; targets = performed offset from the straight grid minus the feel's mechanical swing, and
  the played velocity. Windows of {WINDOW_BARS} bars. Genres with at least 5 training
  performances are learned by name ({", ".join(cfg["genres"])}); the rest, and
  {train_cfg["genre_dropout"]:.0%} of the training windows, as "no genre".
  Validation: the Groove validation split.
- **Training**: `python pipelines/train_humanizer.py --minutes {train_cfg.get("minutes", 20):g}`
  (seed {train_cfg["seed"]}, AdamW, lr {train_cfg["lr"]}, batch {train_cfg["batch_size"]}
  windows); kept at step {best["step"]} of {meta["history"][-1]["step"]} ({best["minutes"]:.1f}
  min), the best validation loss.
- **Hardware**: {platform.machine()} CPU, {os.cpu_count()} cores ({threads} torch thread), no GPU.
- **Validation loss**: {best["val_loss"]:.4f} nats/hit, Laplace NLL of the offset and velocity
  residuals in units of 20 ms and 16 velocity steps (train {best["train_loss"]:.4f}).
{metrics}"""
    (folder / "MODEL_CARD.md").write_text(text)


if __name__ == "__main__":
    main()
