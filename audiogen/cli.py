"""The `audiogen` command. Heavy modules are imported inside the commands so that
``audiogen --help`` answers at once."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from audiogen.errors import AudiogenError
from audiogen.request import cli_fields, plan_fields

log = logging.getLogger("audiogen")


def _add_request_options(
    parser: argparse.ArgumentParser, fields=None, title: str = "sound", hide_defaults=()
) -> None:
    group = parser.add_argument_group(title)
    for f in fields if fields is not None else cli_fields():
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        default = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        shown = (
            f" (default: {default})" if default is not None and f.name not in hide_defaults else ""
        )
        group.add_argument(
            flag, dest=f.name, metavar=f.metadata["metavar"], help=f.metadata["help"] + shown
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiogen",
        description="Royalty-free drum beats, offline: drum MIDI in; stems, mix and MIDI out.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = sub.add_parser(
        "render",
        help="render a drum MIDI file into stems, a mix and a manifest",
        description="Render a drum MIDI file (General MIDI channel 10, or Roland TD-11) into "
        "mixed stems, a loudness-normalised mix, DAW-ready MIDI and a manifest.",
    )
    render.add_argument("midi", metavar="BEAT.mid", help="drum MIDI file")
    render.add_argument(
        "-o", "--out", metavar="OUT", help="output folder (default: out/<name of the MIDI file>)"
    )
    render.add_argument("--force", action="store_true", help="replace OUT if it exists")
    _add_request_options(render)

    gen = sub.add_parser(
        "generate",
        help="write a new beat with the planner and render it",
        description="Write a new drum beat for a genre with the planner (a transformer trained "
        "on real drummers) and render it into stems, a mix, MIDI and a manifest. Unset options "
        "take the genre's defaults (tempo, feel, meter, kit, mix).",
    )
    gen.add_argument(
        "-o", "--out", metavar="OUT", help="output folder (default: out/<genre>-<seed>)"
    )
    gen.add_argument("--force", action="store_true", help="replace OUT if it exists")
    gen.add_argument(
        "--renderer", choices=("sample",), default="sample", help="renderer (default: sample)"
    )
    _add_request_options(gen, plan_fields(), "beat")
    sound = [f for f in cli_fields() if f.name != "note_map"]  # no MIDI is read
    _add_request_options(gen, sound, hide_defaults=("kit", "mix"))

    sub.add_parser("kits", help="list the drum kits that ship with audiogen")
    sub.add_parser("genres", help="list the genres the planner knows, with their defaults")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 0
    try:
        commands = {"render": _render, "generate": _generate, "kits": _kits, "genres": _genres}
        return commands[args.command](args)
    except AudiogenError as exc:
        if args.debug:
            raise
        print(f"audiogen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("audiogen: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback with --debug
        if args.debug:
            raise
        print(f"audiogen: internal error: {exc!r} (run with --debug for details)", file=sys.stderr)
        return 1


def _render(args: argparse.Namespace) -> int:
    from audiogen.api import render
    from audiogen.export import check_writable
    from audiogen.request import RenderRequest, check_source

    source = check_source(args.midi)
    out = Path(args.out) if args.out else Path("out") / source.stem
    options = {f.name: getattr(args, f.name) for f in cli_fields()}
    request = RenderRequest.create(**options)
    check_writable(out, args.force)
    beat = render(source, request=request, progress=None if not args.quiet else False)
    _save_and_report(beat, out, args, f"{beat.duration_s:.1f} s, {len(beat.stems)} stems")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from audiogen.api import plan_score, render
    from audiogen.export import check_writable
    from audiogen.request import PlanOptions, RenderRequest

    plan_opts, genre = PlanOptions.create(**{f.name: getattr(args, f.name) for f in plan_fields()})
    options = {f.name: getattr(args, f.name) for f in cli_fields() if f.name != "note_map"}
    options["kit"] = options["kit"] or genre.kit
    options["mix"] = options["mix"] or genre.mix
    request = RenderRequest.create(**options)
    out = Path(args.out) if args.out else Path("out") / f"{genre.name}-{request.seed}"
    check_writable(out, args.force)
    score = plan_score(plan_opts, request.seed)
    beat = render(score, request=request, progress=None if not args.quiet else False)
    summary = f"{genre.title}, {score.bpm:g} bpm, {score.meter}, {score.bars} bars"
    _save_and_report(beat, out, args, summary)
    return 0


def _save_and_report(beat, out: Path, args: argparse.Namespace, summary: str) -> None:
    beat.save(out, force=args.force)
    if not args.quiet:
        report = beat.loudness
        print(
            f"{out}/  {summary}, kit {beat.request.kit}, {report.integrated_lufs:.1f} LUFS, "
            f"{report.true_peak_dbtp:.1f} dBTP"
        )


def _genres(args: argparse.Namespace) -> int:
    from audiogen.planner.genres import GENRES

    for g in GENRES.values():
        low, high = g.bpm_range
        print(
            f"{g.name:<14} {g.title:<24} {low:g}-{high:g} bpm (default {g.default_bpm:g})  "
            f"{g.feels[0]:<8} {g.meters[0]:<5} kit {g.kit}"
        )
    return 0


def _kits(args: argparse.Namespace) -> int:
    from audiogen.kits import list_kits

    kits = list_kits()
    name_w = max((len(k.name) for k in kits), default=4)
    license_w = max((len(k.license) for k in kits), default=7)
    for kit in kits:
        print(
            f"{kit.name:<{name_w}}  {kit.style:<10}  {kit.license:<{license_w}}  {kit.description}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
