"""Train the planner and write checkpoints/planner/ (weights, config, model card numbers).

    python pipelines/train_planner.py --groove ../shared/datasets/groove --minutes 45

Resumable: progress is saved in --work every evaluation; run the same command again to go on.
Reproducible from --seed (same data order, same initial weights).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from audiogen.planner.train import TrainConfig, train

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
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    result = train(
        TrainConfig(
            groove=args.groove, out=args.out, work=args.work, minutes=args.minutes,
            max_steps=args.max_steps, seed=args.seed,
        )
    )  # fmt: skip
    result["wall_minutes"] = (time.time() - started) / 60
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
