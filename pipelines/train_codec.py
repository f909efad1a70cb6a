"""Train the drum codec (audiocraft EnCodec parts) on sampler renders; resumable.

    python pipelines/train_codec.py --minutes 60              # CPU or GPU, whichever is there
    python pipelines/train_codec.py --minutes 60 --resume     # go on from the saved state

Material: the Groove MIDI Dataset's train split and the style library, through every kit but
the held-out one (lofi). State goes to ~/.cache/audiogen/train/codec (``--state``); the
checkpoint and its card to checkpoints/codec (``--out``). ``--phrases FILE`` reads the material
from a pickle written by ``--save-phrases FILE`` (to train on a machine without the dataset).
"""

from __future__ import annotations

import logging
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiogen.codec.config import CodecConfig, TrainConfig  # noqa: E402
from audiogen.codec.data import material, training_kits  # noqa: E402
from pipelines.common import setup_logging, training_parser  # noqa: E402


def main() -> None:
    parser = training_parser(__doc__, "codec", TrainConfig.batch_size)
    parser.add_argument("--save-phrases", type=Path, help="write the material here and stop")
    parser.add_argument("--segment", type=float, default=TrainConfig.segment_s, help="clip, s")
    parser.add_argument("--adversarial-after", type=int, default=TrainConfig.adversarial_after)
    parser.add_argument("--tiny", action="store_true", help="a tiny model (tests, smoke runs)")
    parser.add_argument("--export-only", action="store_true",
                        help="only write the ONNX decoder of the checkpoint in --out")  # fmt: skip
    args = parser.parse_args()

    setup_logging(args.log)
    if args.export_only:
        export(args.out)
        return
    phrases = material(args.groove, args.phrases)
    if args.save_phrases:
        args.save_phrases.parent.mkdir(parents=True, exist_ok=True)
        args.save_phrases.write_bytes(pickle.dumps(phrases))
        print(f"{len(phrases)} phrases → {args.save_phrases}")
        return
    if args.fresh:
        for old in args.state.glob("last*.pt"):
            old.unlink()

    from audiogen.codec.train import train

    config = CodecConfig(n_filters=4, ratios=(4, 4, 4, 10), dimension=16, n_q=2, bins=16) \
        if args.tiny else CodecConfig()  # fmt: skip
    train_config = TrainConfig(batch_size=args.batch, adversarial_after=args.adversarial_after,
                               segment_s=args.segment)  # fmt: skip
    summary = train(phrases, training_kits(), args.out, args.state, args.minutes, config,
                    train_config, args.device, args.workers, args.max_steps)  # fmt: skip
    logging.info("done: %s", summary)
    export(args.out)


def export(folder: Path) -> None:
    from audiogen.codec.model import Codec, export_decoder

    codec = Codec.load(folder)
    logging.info("decoder for onnxruntime → %s", export_decoder(codec.model, codec.config, folder))


if __name__ == "__main__":
    main()
