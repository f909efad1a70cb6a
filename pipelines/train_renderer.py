"""Train the neural renderer (audiocraft LMModel over our codec's tokens); resumable.

    python pipelines/train_renderer.py --precompute            # once: tokens of the material
    python pipelines/train_renderer.py --minutes 60            # train on them
    python pipelines/train_renderer.py --minutes 60            # again: resumes from its state
    python pipelines/train_renderer.py --export OUT --sampling checkpoints/renderer/renderer.json
                                                               # the state as a checkpoint

``--precompute`` renders the material (as the codec's: Groove train split + style library, every
kit but lofi; ``--phrases`` reads it from the pickle that ``pipelines/train_codec.py
--save-phrases`` writes) through the sampler and encodes it with the frozen codec into shards in
``--tokens`` (default ~/.cache/audiogen/train/renderer-tokens); run it again to resume, or with
``--passes N`` to play each piece through N kits (``--workers`` processes make shards side by
side; ``--steady`` plays the kit's hits without the sampler's per-hit variation, ``--grid 20``
puts each hit on a whole millisecond; ``--hits 64`` gives the model each hit's own vector,
a key of instrument, position, velocity and kit). Training
reads the shards only; tokens of another codec are refused. State goes to
~/.cache/audiogen/train/renderer (``--state``), the checkpoint to checkpoints/renderer.
``--from-checkpoint`` starts a new state from a shipped model's weights, and ``--no-envelope``
trains a model that reads the score alone (as the card's own) on shards that carry the kit's
envelope too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiogen.errors import AudiogenError  # noqa: E402
from audiogen.renderers.neural import RendererConfig  # noqa: E402
from pipelines.common import setup_logging, training_parser  # noqa: E402


def main() -> None:
    parser = training_parser(__doc__, "renderer", 16)
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--frames", type=int, default=250, help="frames per example (50/s)")
    tokens = Path.home() / ".cache/audiogen/train/renderer-tokens"
    parser.add_argument("--tokens", type=Path, default=tokens, help="precomputed tokens' folder")
    parser.add_argument("--precompute", action="store_true", help="make the tokens and stop")
    parser.add_argument("--passes", type=int, default=1, help="kits each piece is played by")
    parser.add_argument("--shard-pieces", type=int, default=48, help="pieces per shard")
    parser.add_argument("--max-shards", type=int, default=None, help="stop after this many")
    parser.add_argument("--steady", action="store_true",
                        help="with --precompute or --add-bands: the kit's hits without the "
                             "sampler's per-hit pitch and level variation, as the renderer's key "
                             "plays them (into a --tokens folder of their own)")  # fmt: skip
    parser.add_argument("--grid", type=int, default=0,
                        help="with --precompute or --add-bands: every hit at one of N even "
                             "positions in its frame (20: a whole ms); a model trained on them "
                             "renders so (into a --tokens folder of their own)")  # fmt: skip
    parser.add_argument("--dim", type=int, default=RendererConfig.dim, help="model width")
    parser.add_argument("--layers", type=int, default=RendererConfig.num_layers)
    parser.add_argument("--heads", type=int, default=RendererConfig.num_heads)
    parser.add_argument("--window", type=int, default=None,
                        help="frames of the score the model reads at each step (default: the "
                             f"state's, else {RendererConfig.window}; more than the state's: "
                             "the older frames start at zero)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--score-dropout", type=float, default=0.15,
                        help="chance an example is trained without its score (for guidance)")
    parser.add_argument("--guidance", type=float, default=2.0,
                        help="classifier-free guidance the checkpoint renders with")  # fmt: skip
    parser.add_argument("--token-noise", type=float, default=0.0,
                        help="share of the tokens read back replaced by random ones")  # fmt: skip
    parser.add_argument("--attack-weight", type=float, default=1.0,
                        help="weight in the loss of the tokens where a hit starts and of "
                             "--attack-frames after (1: as every frame)")  # fmt: skip
    parser.add_argument("--attack-frames", type=int, default=1,
                        help="frames after a hit's first that --attack-weight covers")
    parser.add_argument("--coarse-weight", type=float, default=1.0,
                        help="weight in the loss of the first codebook's tokens (1: as the "
                             "others')")  # fmt: skip
    parser.add_argument("--hits", type=int, default=0, metavar="WIDTH",
                        help="give the model each hit's own vector of this width, from its "
                             "instrument, position, velocity and kit (default: the state's, "
                             "else none)")  # fmt: skip
    parser.add_argument("--hit-table", type=int, default=0, metavar="WIDTH",
                        help="with --hits: a learned row of this width per kit, instrument and "
                             "grid position beside the one-hots (default: the state's, else "
                             "none)")  # fmt: skip
    parser.add_argument("--lr-decay", action="store_true",
                        help="cosine from --lr to a tenth of it over this run")  # fmt: skip
    parser.add_argument("--group-weight", type=group_weights, default=None,
                        help="draw stem groups more often: cymbals=2,toms=2")  # fmt: skip
    parser.add_argument("--eval-every", type=int, default=250, help="steps between held-out losses")
    parser.add_argument("--from-checkpoint", type=Path, default=None,
                        help="start a state that has none from this checkpoint folder's weights "
                             "(a shipped model trained on)")  # fmt: skip
    parser.add_argument("--export", type=Path, default=None, metavar="FOLDER",
                        help="write the state as a checkpoint in FOLDER (no training)")
    parser.add_argument("--sampling", type=Path, default=None, metavar="CARD",
                        help="with --export: take guidance, temperature and top-k from this "
                             "renderer.json")  # fmt: skip
    parser.add_argument("--add-bands", action="store_true",
                        help="add the kit's spectral envelope to the precomputed tokens' shards "
                             "(rendered again, not encoded) and stop")  # fmt: skip
    parser.add_argument("--bands", action="store_true",
                        help="train a model that also reads the kit's spectral envelope (shards "
                             "need --add-bands first)")  # fmt: skip
    parser.add_argument("--no-envelope", action="store_true",
                        help="train on the score alone where the tokens carry the kit's "
                             "envelope too (as a model made without it)")  # fmt: skip
    args = parser.parse_args()
    if args.bands and args.no_envelope:
        parser.error("--bands reads the envelope too: leave out --no-envelope")
    if not args.coarse_weight > 0:
        parser.error("--coarse-weight must be above 0")
    if not args.attack_weight > 0 or args.attack_frames < 0:
        parser.error("--attack-weight must be above 0 and --attack-frames 0 or more")

    setup_logging(args.log)
    try:
        run(args)
    except AudiogenError as exc:
        sys.exit(f"error: {exc}")


def group_weights(text: str) -> dict[str, float]:
    """``--group-weight``: 'cymbals=2,toms=2', each a stem group and how many times as often."""
    from audiogen.instruments import parse_group_weights

    try:
        weights = parse_group_weights(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if any(not w > 0 for w in weights.values()):
        raise argparse.ArgumentTypeError("each group's weight must be above 0")
    return weights


def run(args) -> None:  # noqa: ANN001 (argparse's namespace)
    from audiogen.training.clips import material, training_kits
    from audiogen.training.tokens import Plan, Shards, add_bands, codec_identity, precompute

    plan = Plan(kits=training_kits(), shard_pieces=args.shard_pieces, passes=args.passes,
                steady=args.steady, grid=args.grid)
    if args.add_bands:
        made = add_bands(material(args.groove, args.phrases), args.tokens, plan, args.workers)
        logging.info("bands added to %d shards in %s", made, args.tokens)
        return
    if args.precompute:
        summary = precompute(material(args.groove, args.phrases), args.codec, args.tokens, plan,
                             max_shards=args.max_shards, workers=args.workers)  # fmt: skip
        logging.info("precompute: %s", summary)
        return
    from audiogen.training.renderer import (
        SAMPLING,
        export_state,
        saved_hits,
        saved_window,
        state_from_checkpoint,
        train,
    )

    if args.export is not None:
        sampling = None
        if args.sampling is not None:
            try:
                card = json.loads(args.sampling.read_text())["config"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise AudiogenError(f"no renderer card in {args.sampling} ({exc})") from None
            sampling = {k: card[k] for k in SAMPLING if k in card}
        version = export_state(args.state, args.export, codec_identity(args.codec), sampling)
        logging.info("%s written to %s", version, args.export)
        return

    shards = Shards.load(args.tokens, codec_identity(args.codec)["codec_sha256"])
    if args.no_envelope:
        shards.envelope = None
    if not args.bands:
        shards.bands = None
    elif shards.bands is None:
        raise AudiogenError(f"the shards in {args.tokens} have no bands: run --add-bands first")
    logging.info("%d examples, %.1f hours of stems", shards.examples,
                 shards.tokens.shape[-1] / shards.manifest["frame_rate"] / 3600)  # fmt: skip
    if args.fresh:
        (args.state / "last.pt").unlink(missing_ok=True)
    if args.from_checkpoint is not None:
        step = state_from_checkpoint(args.from_checkpoint, args.state)
        logging.info("state in %s started from %s at step %d", args.state, args.from_checkpoint,
                     step)  # fmt: skip
    window = args.window or saved_window(args.state) or RendererConfig.window
    hit_width, hit_table = saved_hits(args.state)
    manifest = shards.manifest
    config = RendererConfig(kits=tuple(manifest["kits"]), n_q=manifest["n_q"],
                            card=manifest["card"], dim=args.dim, num_layers=args.layers,
                            num_heads=args.heads, score_dropout=args.score_dropout,
                            guidance=args.guidance if args.score_dropout > 0 else 1.0,
                            envelope=shards.envelope is not None, bands=args.bands,
                            token_noise=args.token_noise, window=window,
                            attack_weight=args.attack_weight,
                            attack_frames=args.attack_frames,
                            coarse_weight=args.coarse_weight,
                            grid=shards.grid,
                            hit_width=args.hits or hit_width,
                            hit_table=args.hit_table or hit_table)  # fmt: skip
    summary = train(shards, args.out, args.state, args.minutes, config, batch_size=args.batch,
                    frames=args.frames, device=args.device, max_steps=args.max_steps,
                    lr=args.lr, lr_decay=args.lr_decay, eval_every=args.eval_every,
                    group_weight=args.group_weight)  # fmt: skip
    logging.info("done: %s", summary)


if __name__ == "__main__":
    main()
