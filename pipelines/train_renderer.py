"""Train the neural renderer (audiocraft LMModel over our codec's tokens); resumable.

    python pipelines/train_renderer.py --minutes 60          # needs checkpoints/codec
    python pipelines/train_renderer.py --minutes 60          # again: resumes from its state

Material: as the codec's (Groove train split + style library, every kit but lofi); ``--phrases``
reads it from the pickle that ``pipelines/train_codec.py --save-phrases`` writes. State goes to
~/.cache/audiogen/train/renderer (``--state``), the checkpoint to checkpoints/renderer.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiogen.renderers.neural import RendererConfig  # noqa: E402
from audiogen.training.clips import material, training_kits  # noqa: E402
from pipelines.common import setup_logging, training_parser  # noqa: E402


def main() -> None:
    parser = training_parser(__doc__, "renderer", 16)
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--frames", type=int, default=250, help="frames per example (50/s)")
    args = parser.parse_args()

    setup_logging(args.log)
    from audiogen.codec.model import Codec
    from audiogen.training.renderer import train

    phrases = material(args.groove, args.phrases)
    if args.fresh:
        (args.state / "last.pt").unlink(missing_ok=True)
    codec = Codec.load(args.codec, device=args.device or "cpu")
    config = RendererConfig(kits=training_kits(), n_q=codec.config.n_q, card=codec.config.bins)
    summary = train(phrases, training_kits(), codec, args.out, args.state, args.minutes, config,
                    batch_size=args.batch, frames=args.frames, device=args.device,
                    workers=args.workers, max_steps=args.max_steps)  # fmt: skip
    logging.info("done: %s", summary)


if __name__ == "__main__":
    main()
