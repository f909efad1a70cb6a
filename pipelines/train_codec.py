"""Train the drum codec (audiocraft EnCodec parts) on sampler renders; resumable.

    python pipelines/train_codec.py --minutes 60              # CPU or GPU, whichever is there
    python pipelines/train_codec.py --minutes 60 --resume     # go on from the saved state

Material: the Groove MIDI Dataset's train split and the style library, through every kit but
the held-out one (lofi). State goes to ~/.cache/audiogen/train/codec (``--state``); the
checkpoint and its card to checkpoints/codec (``--out``). ``--phrases FILE`` reads the material
from a pickle written by ``--save-phrases FILE`` (to train on a machine without the dataset).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiogen.codec.config import CodecConfig, TrainConfig  # noqa: E402
from audiogen.codec.data import training_kits  # noqa: E402


def material(groove: Path) -> list:
    from audiogen.planner.data import load_groove, load_library

    return load_groove(groove, ("train",)) + load_library(seed=0, variants=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--groove", type=Path, default=ROOT.parent / "shared/datasets/groove")
    parser.add_argument("--phrases", type=Path, help="read the material from this pickle")
    parser.add_argument("--save-phrases", type=Path, help="write the material here and stop")
    parser.add_argument("--state", type=Path,
                        default=Path.home() / ".cache/audiogen/train/codec")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--fresh", action="store_true", help="ignore a saved state")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--segment", type=float, default=TrainConfig.segment_s, help="clip, s")
    parser.add_argument("--adversarial-after", type=int, default=TrainConfig.adversarial_after)
    parser.add_argument("--device", default=None)
    parser.add_argument("--log", type=Path, default=None, help="also log to this file")
    parser.add_argument("--tiny", action="store_true", help="a tiny model (tests, smoke runs)")
    parser.add_argument("--export-only", action="store_true",
                        help="only write the ONNX decoder of the checkpoint in --out")  # fmt: skip
    args = parser.parse_args()

    handlers = [logging.StreamHandler()]
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)

    if args.export_only:
        export(args.out)
        return
    if args.phrases:
        phrases = pickle.loads(args.phrases.read_bytes())
    else:
        phrases = material(args.groove)
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
