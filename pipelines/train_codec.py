"""Train the drum codec (audiocraft EnCodec parts) on sampler renders; resumable.

    python pipelines/train_codec.py --minutes 60              # CPU or GPU, whichever is there
    python pipelines/train_codec.py --minutes 60              # again: goes on from the state

Material: the Groove MIDI Dataset's train split and the style library, through every kit but
the held-out one (lofi). The resumable state is one file in checkpoints/codec/train-state/
(``--state``; committed, never shipped), with the learning curve beside it (``curve.jsonl``:
held-out log-mel distance and onset F every ``--eval-every`` steps). The run's model goes to
``--state``/candidate; it replaces the shipped checkpoint (``--out``) only when its held-out
log-mel distance is lower and the token models shipped beside it (``renderer/`` next to
``--out``) were trained on its tokens. ``--phrases FILE`` reads the material from a pickle
written by ``--save-phrases FILE`` (to train on a machine without the dataset).

``--decoder-only`` trains the decoder alone: the tokens stay those of the shipped codec, so the
token model trained on them goes on fitting. ``--pairs DIR`` then gives part of each batch the
token model's own codes for a score beside the sampler's render of it (`RenderedPairs`, made by
``pipelines/make_pairs.py``), so that the decoder learns to play what the token model writes.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audiogen.codec.config import CodecConfig  # noqa: E402
from audiogen.training.clips import material, parse_emphasis, training_kits  # noqa: E402
from audiogen.training.codec import CodecTrainConfig  # noqa: E402
from pipelines.common import setup_logging, training_parser  # noqa: E402

EVAL_SECONDS = 6.0  # of each held-out stem: enough hits, a few seconds of CPU per evaluation
EVAL_RENDERED_STEMS = 60  # of the held-out pairs (--eval-pairs)


def main() -> None:
    parser = training_parser(__doc__, "codec", 8)
    parser.set_defaults(state=ROOT / "checkpoints/codec/train-state")
    parser.add_argument("--save-phrases", type=Path, help="write the material here and stop")
    parser.add_argument("--segment", type=float, default=CodecTrainConfig.segment_s, help="clip, s")
    parser.add_argument("--lr", type=float, default=CodecTrainConfig.lr)
    parser.add_argument("--lr-decay", action="store_true",
                        help="cosine from --lr to a tenth of it over this run")  # fmt: skip
    parser.add_argument("--adversarial-after", type=int, default=CodecTrainConfig.adversarial_after)
    parser.add_argument("--disc-scales", type=int, default=CodecTrainConfig.disc_scales,
                        help="STFT resolutions of the discriminator (1-5)")  # fmt: skip
    parser.add_argument("--disc-filters", type=int, default=CodecTrainConfig.disc_filters)
    parser.add_argument("--disc-every", type=int, default=CodecTrainConfig.disc_every,
                        help="adversarial losses every k-th step")  # fmt: skip
    parser.add_argument("--decoder-only", action="store_true",
                        help="train the decoder alone; the tokens stay those of --tokens-of, "
                             "so the token model trained on them still fits")  # fmt: skip
    parser.add_argument("--tokens-of", type=Path, default=ROOT / "checkpoints/codec",
                        help="with --decoder-only: the codec whose encoder and codebooks stay")
    parser.add_argument("--pairs", type=Path,
                        help="with --decoder-only: the token model's codes beside the sampler's "
                             "audio (RenderedPairs), for --pair-share of each batch")
    parser.add_argument("--pair-share", type=float, default=CodecTrainConfig.pair_share)
    parser.add_argument("--eval-pairs", type=Path,
                        help="held-out pairs: the evaluation also decodes the token model's codes")
    parser.add_argument("--flux", type=float, default=CodecTrainConfig.flux,
                        help="the onset loss's weight beside l1 0.1 and msspec 2 (0: off)")
    parser.add_argument("--emphasis", action="append", default=[], metavar="GROUP=N",
                        help="the stem group gives N times as many clips (cymbals=3); repeatable")
    parser.add_argument("--eval-every", type=int, default=500, help="steps between evaluations")
    parser.add_argument("--eval-performances", type=int, default=3,
                        help="Groove test performances in the held-out evaluation")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="a tiny model (tests, smoke runs)")
    parser.add_argument("--export-only", action="store_true",
                        help="only write the ONNX decoder of the checkpoint in --out")  # fmt: skip
    args = parser.parse_args()

    if (args.pairs or args.eval_pairs) and not args.decoder_only:
        parser.error("--pairs and --eval-pairs are for the decoder alone: add --decoder-only")
    try:
        emphasis = parse_emphasis(args.emphasis)
    except ValueError as error:
        parser.error(str(error))
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
        (args.state / "state.pt").unlink(missing_ok=True)

    from audiogen.training.codec import train

    config = CodecConfig(n_filters=4, ratios=(4, 4, 4, 10), dimension=16, n_q=2, bins=16) \
        if args.tiny else CodecConfig()  # fmt: skip
    train_config = CodecTrainConfig(
        batch_size=args.batch, segment_s=args.segment, lr=args.lr,
        adversarial_after=args.adversarial_after, disc_scales=args.disc_scales,
        disc_filters=args.disc_filters, disc_every=args.disc_every, lr_decay=args.lr_decay,
        decoder_only=args.decoder_only, pair_share=args.pair_share, flux=args.flux,
        emphasis=emphasis,
    )  # fmt: skip
    evaluate = held_out_evaluation(args.groove, args.eval_performances, config,
                                   args.eval_pairs) if args.groove.exists() else None  # fmt: skip
    candidate = args.state / "candidate"
    summary = train(phrases, training_kits(), candidate, args.state, args.minutes, config,
                    train_config, args.device, args.workers, args.max_steps,
                    evaluate, args.eval_every, tokens_from=args.tokens_of,
                    pairs=args.pairs)  # fmt: skip
    logging.info("done: %s", summary)
    promote(candidate, args.state, args.out)


def held_out_evaluation(groove: Path, performances: int, config: CodecConfig,
                        pairs: Path | None = None) -> Any:  # fmt: skip
    """A callback scoring a codec on fixed held-out stems (Groove test split, seen kits and
    the held-out kit): mean log-mel distance and onset F, each overall and per condition.
    With ``pairs`` (held-out `RenderedPairs`), also the log-mel distance between the sampler's
    stem and the decoded codes the token model wrote for it (``log_mel_rendered``)."""
    import torch
    from bench_codec import held_out_stems
    from measures import detect_onsets, log_mel_distance, onset_f_measure

    from audiogen.training.pairs import RenderedPairs

    sample_rate = config.sample_rate
    rendered = [] if pairs is None else list(RenderedPairs.load(pairs, config.hop_length).stems())
    rendered = rendered[:EVAL_RENDERED_STEMS]
    stems = held_out_stems(performances, sample_rate, groove)
    clips = {c: [a[: round(EVAL_SECONDS * sample_rate)] for _, a in rows]
             for c, rows in stems.items()}  # fmt: skip
    onsets = {c: [detect_onsets(a, sample_rate) for a in rows] for c, rows in clips.items()}

    def evaluate(model: Any) -> dict[str, float]:
        scores: dict[str, float] = {}
        for condition, rows in clips.items():
            mel, f = [], []
            for audio, reference_onsets in zip(rows, onsets[condition]):
                x = torch.from_numpy(audio)[None, None]
                codes, scale = model.encode(x)
                y = model.decode(codes, scale)[0, 0, : len(audio)].numpy()
                mel.append(log_mel_distance(audio, y, sample_rate))
                f.append(onset_f_measure(reference_onsets, detect_onsets(y, sample_rate)))
            key = condition.replace(" ", "_").replace("-", "_")
            scores[f"log_mel_{key}"] = round(float(np.mean(mel)), 4)
            scores[f"onset_f_{key}"] = round(float(np.mean(f)), 4)
        scores["log_mel"] = round(float(np.mean([v for k, v in scores.items()
                                                 if k.startswith("log_mel_")])), 4)  # fmt: skip
        if rendered:
            decoded = [model.decode(torch.from_numpy(c)[None])[0, 0].numpy() for c, _ in rendered]
            mel = [log_mel_distance(a, y, sample_rate) for (_, a), y in zip(rendered, decoded)]
            scores["log_mel_rendered"] = round(float(np.mean(mel)), 4)
        return scores

    return evaluate


def promote(candidate: Path, state: Path, shipped: Path) -> None:
    """Copy the run's checkpoint over the shipped one when its held-out log-mel is lower, and
    when the token models shipped beside it (``renderer/`` next to ``shipped``) read its tokens."""
    from audiogen.training.tokens import token_models_left_behind

    curve = state / "curve.jsonl"
    if not curve.exists():
        logging.info("no held-out evaluation: the candidate stays in %s", candidate)
        return
    last = json.loads(curve.read_text().splitlines()[-1])
    card_path = candidate / "codec.json"
    card = json.loads(card_path.read_text())
    card["held_out"] = {k: v for k, v in last.items() if k.startswith(("log_mel", "onset_f"))}
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    old = shipped / "codec.json"
    old_score = json.loads(old.read_text()).get("held_out", {}).get("log_mel") \
        if old.exists() else None  # fmt: skip
    if old_score is not None and old_score <= last["log_mel"]:
        logging.info("held-out log-mel %.4f does not beat the shipped %.4f: not replaced",
                     last["log_mel"], old_score)  # fmt: skip
        return
    left_behind = token_models_left_behind(candidate, shipped.parent / "renderer")
    if left_behind:
        logging.warning("not replaced: its tokens differ from those %s were trained on, so the "
                        "neural renderer would not load; the candidate stays in %s (make the "
                        "token shards with it and train those models first)",
                        ", ".join(left_behind), candidate)  # fmt: skip
        return
    export(candidate)
    shipped.mkdir(parents=True, exist_ok=True)
    for name in ("codec.safetensors", "decoder.onnx", "codec.json", "train_config.json"):
        shutil.copy2(candidate / name, shipped / name)
    logging.info("held-out log-mel %.4f (shipped was %s): checkpoint replaced in %s",
                 last["log_mel"], old_score, shipped)  # fmt: skip


def export(folder: Path) -> None:
    from audiogen.codec.model import Codec, export_decoder

    codec = Codec.load(folder)
    logging.info("decoder for onnxruntime → %s", export_decoder(codec.model, codec.config, folder))


if __name__ == "__main__":
    main()
