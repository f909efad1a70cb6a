"""What one codec training step costs on this CPU, per recipe: reconstruction only, the shipped
discriminator, and lighter ones (fewer STFT scales, fewer filters, every k-th step).

    python benchmarks/bench_codec_cost.py [--steps 4] [--batch 8] [--threads 1]

CPU seconds per step (process time, so other work on the machine changes it little), after one
warm-up step, with the material made in the same process (the same for every recipe). The other
half of the choice — what each recipe buys on the held-out curve per CPU-hour — comes from
training runs (``checkpoints/codec/train-state/curve.jsonl``). Writes
benchmarks/results/codec-cost.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import describe_machine  # noqa: E402

from audiogen.codec.config import CodecConfig  # noqa: E402
from audiogen.planner.library import load_library  # noqa: E402
from audiogen.training.clips import training_kits  # noqa: E402
from audiogen.training.codec import CodecTrainConfig, train  # noqa: E402

NO_DISCRIMINATOR = 10**9  # adversarial_after: never
RECIPES = {
    "reconstruction only": dict(adversarial_after=NO_DISCRIMINATOR),
    "discriminator 5 scales x 32 filters (shipped)": dict(adversarial_after=0),
    "5 scales x 32, every 4th step": dict(adversarial_after=0, disc_every=4),
    "3 scales x 16 filters": dict(adversarial_after=0, disc_scales=3, disc_filters=16),
    "2 scales x 8 filters": dict(adversarial_after=0, disc_scales=2, disc_filters=8),
}


def step_cost(recipe: dict, steps: int, batch: int) -> float:
    """CPU seconds per step of ``recipe``: ``steps`` steps after a warm-up step, fresh state."""
    phrases = [p for p in load_library() if p.genre in ("rock", "house", "funk", "trap")]
    config = CodecTrainConfig(batch_size=batch, **recipe)
    with tempfile.TemporaryDirectory() as tmp:
        run = dict(phrases=phrases, kits=training_kits(), out_dir=Path(tmp) / "out",
                   state_dir=Path(tmp) / "state", minutes=60, config=CodecConfig(),
                   train_config=config, device="cpu", workers=0)  # fmt: skip
        train(**run, max_steps=1)  # allocation and warm-up
        started = time.process_time()
        train(**run, max_steps=steps)
        # Each call also builds the model and reads the state back: measured alone, taken off.
        with_setup = time.process_time() - started
        started = time.process_time()
        train(**run, max_steps=0)
        setup = time.process_time() - started
    return (with_setup - setup) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    rows = {}
    for name, recipe in RECIPES.items():
        seconds = step_cost(recipe, args.steps, args.batch)
        rows[name] = {"cpu_s_per_step": round(seconds, 3), **recipe}
        print(f"{name:48s} {seconds:7.2f} CPU s a step", flush=True)
    base = rows["reconstruction only"]["cpu_s_per_step"]
    for row in rows.values():
        row["x_reconstruction"] = round(row["cpu_s_per_step"] / base, 2)
    result = {
        "machine": describe_machine(torch_threads=args.threads),
        "batch": f"{args.batch} x 1 s at 32 kHz",
        "steps_timed": args.steps,
        "recipes": rows,
    }
    out = ROOT / "benchmarks" / "results" / "codec-cost.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
