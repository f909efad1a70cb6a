"""Write the token model's codes beside the sampler's audio: material for the codec's decoder.

    python pipelines/make_pairs.py --minutes 12 --out ~/.cache/audiogen/train/pairs/train
    python pipelines/make_pairs.py --minutes 2 --split test --out ~/.cache/audiogen/train/pairs/test
    python pipelines/train_codec.py --decoder-only --pairs ~/.cache/audiogen/train/pairs/train \\
        --eval-pairs ~/.cache/audiogen/train/pairs/test --minutes 60

The shipped token model renders 4-bar pieces of the Groove split (train: with the style library)
through its kits in turn; each stem's codes go beside the sampler's render of that stem
(`audiogen.training.pairs`). Run it again to add more.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.common import setup_logging  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--split", choices=("train", "validation", "test"), default="train")
    parser.add_argument("--groove", type=Path, default=ROOT.parent / "shared/datasets/groove")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    setup_logging(args.log)

    import torch

    from audiogen.codec.model import Codec
    from audiogen.renderers.neural import NeuralRenderer
    from audiogen.training.clips import material
    from audiogen.training.groove import load_groove
    from audiogen.training.pairs import make_pairs

    torch.set_num_threads(1)  # generation is step after step: a second thread buys little
    renderer = NeuralRenderer.load(args.checkpoints / "renderer",
                                   Codec.load(args.checkpoints / "codec"))  # fmt: skip
    phrases = material(args.groove) if args.split == "train" \
        else load_groove(args.groove, (args.split,))  # fmt: skip
    print(make_pairs(renderer, phrases, args.out, args.minutes, args.seed))


if __name__ == "__main__":
    main()
