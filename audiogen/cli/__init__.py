"""The `audiogen` command. Heavy modules are imported inside the commands so that
``audiogen --help`` answers at once."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from audiogen.cli import info
from audiogen.cli.common import out_dir, terminal_session
from audiogen.errors import AudiogenError
from audiogen.request import PROMPT_HELP, cli_fields, plan_fields, vary_fields

if TYPE_CHECKING:
    import dataclasses

    from audiogen.beat import Beat
    from audiogen.request import PlanOptions, RenderRequest
    from audiogen.score import DrumScore

log = logging.getLogger("audiogen")


def _add_request_options(
    parser: argparse.ArgumentParser,
    fields: list[dataclasses.Field] | None = None,
    title: str = "sound",
    hide_defaults: tuple[str, ...] = (),
) -> None:
    group = parser.add_argument_group(title)
    for f in fields if fields is not None else cli_fields():
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        default = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        if f.metadata.get("kind") == "switch":  # --loop / --no-loop; unset leaves it to presets
            group.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                help=f.metadata["help"],
            )  # fmt: skip
            continue
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
        "prompt", nargs="?", metavar="SENTENCE",
        help=PROMPT_HELP,
    )  # fmt: skip
    gen.add_argument(
        "-o", "--out", metavar="OUT", help="output folder (default: out/<genre>-<seed>)"
    )
    gen.add_argument("--force", action="store_true", help="replace OUT if it exists")
    _add_request_options(gen, plan_fields(), "beat")
    sound = [f for f in cli_fields() if f.name != "note_map"]  # no MIDI is read
    _add_request_options(gen, sound, hide_defaults=("kit", "mix"))

    vary = sub.add_parser(
        "vary",
        help="write section variations of your own drum MIDI, and the song built from them",
        description="Keep a drum beat's identity (its kick, and as much more as --amount "
        "says) and write section variations of it with the planner: OUT/sections/<name>.mid "
        "for each, and the song built from them (fills, crashes, section markers) rendered "
        "into stems, a mix, MIDI and a manifest.",
    )
    vary.add_argument("midi", metavar="BEAT.mid", help="drum MIDI file")
    vary.add_argument("-o", "--out", metavar="OUT", help="output folder (default: out/<name>-vary)")
    vary.add_argument("--force", action="store_true", help="replace OUT if it exists")
    _add_request_options(vary, vary_fields(), "variations")
    _add_request_options(vary)

    batch = sub.add_parser(
        "batch",
        help="render every request of a YAML recipe, in parallel, resumably",
        description="Render a recipe (defaults plus a list or a matrix of requests) into "
        "OUT/<item>/ with a summary table (summary.csv, summary.json). Run it again after an "
        "interruption: finished items are kept, half-written ones redone.",
    )
    batch.add_argument("recipe", metavar="RECIPE.yaml", help="the recipe (see pipelines/)")
    batch.add_argument("-o", "--out", metavar="OUT", help="output folder (default: the recipe's)")
    batch.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default: 1)"
    )
    batch.add_argument(
        "--backend", choices=("local", "ray"), default="local",
        help="local processes, or a Ray cluster (needs ray installed)",
    )  # fmt: skip
    batch.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: local)")
    serve = sub.add_parser(
        "serve",
        help="serve the HTTP API for programs and chat assistants (Ctrl-C stops it)",
        description="Serve the HTTP API (FastAPI on uvicorn): POST /v1/beats and the routes "
        "beside it, described at /openapi.json and /docs. Each worker loads the models once; "
        "jobs wait in a bounded queue (429 when it is full).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument(
        "--out", default="out/serve", metavar="DIR",
        help="where each beat's folder is written (default: out/serve)",
    )  # fmt: skip
    serve.add_argument(
        "--workers", type=int, metavar="N", help="jobs run at once (default: one per core)"
    )
    serve.add_argument(
        "--ttl", type=float, metavar="S",
        help="seconds a finished beat's files are kept (default: an hour)",
    )  # fmt: skip
    serve.add_argument(
        "--token", metavar="TOKEN",
        help="require Authorization: Bearer TOKEN on every request (default: $AUDIOGEN_TOKEN; "
        "needed to bind beyond this machine)",
    )  # fmt: skip
    serve.add_argument(
        "--cors", action="append", default=[], metavar="ORIGIN",
        help="let pages from ORIGIN (such as https://app.example.com) call the API from a "
        "browser; repeat for more (default: none)",
    )  # fmt: skip
    serve.add_argument(
        "--backend", choices=("local", "ray"), default="local",
        help="run the jobs here, or on the batch's Ray backend (needs ray installed)",
    )  # fmt: skip
    serve.add_argument(
        "--address", metavar="ADDR",
        help="Ray cluster address (default: a Ray started here); its workers must reach --out",
    )  # fmt: skip
    tools = sub.add_parser(
        "tools",
        help="print the API's operations as function-calling tool definitions (JSON Schema)",
        description="Print the HTTP API's operations as tool definitions for a chat model's "
        "tool list, generated from the same option schema as the CLI and the API.",
    )
    tools.add_argument(
        "--style", default="openai", help="openai (the default) or anthropic: the shape of a tool"
    )
    kits = sub.add_parser(
        "kits",
        help="list the drum kits that ship with audiogen, or check your own",
        description="List the shipped kits; with --check PATH, show how your own kit (a folder "
        "of one-shots, an .sfz or an .sf2 file) would play: each class's files, layers and "
        "round robins, what falls back to what, and what is missing. Nothing is rendered.",
    )
    kits.add_argument("--check", metavar="PATH", help="your kit: a folder, an .sfz or an .sf2")
    kits.add_argument(
        "--preset-name", metavar="NAME", help="with an .sf2: the preset (default: its drum kit)"
    )
    explain = sub.add_parser(
        "explain",
        help="a rhythm lesson you can hear (swing, backbeat, clave...), or a drum MIDI described",
        description="TOPIC: write a lesson folder (the concept in words, how to count it, and "
        "planner beats that differ only in it: audio, MIDI, annotated grid pictures and an "
        "index.html that plays them side by side). BEAT.mid: describe a drum MIDI file in "
        "words (tempo, meter, feel and swing, syncopation, density, kick and snare figures, "
        "ghost notes, accents, fills, cross-rhythms, nearest genres) beside its annotated grid.",
    )
    explain.add_argument(
        "topic", nargs="*", metavar="TOPIC|BEAT.mid",
        help='a topic ("swing", "four on the floor", "3:2"; see --list) or a drum MIDI file',
    )  # fmt: skip
    explain.add_argument("--list", action="store_true", help="list the topics")
    explain.add_argument(
        "-o", "--out", metavar="OUT",
        help="output folder (default: out/explain-<topic>, or out/<name>-explained)",
    )  # fmt: skip
    explain.add_argument("--force", action="store_true", help="replace OUT if it exists")
    explain.add_argument("--seed", default="0", metavar="N", help="planner seed (default: 0)")
    explain.add_argument("--kit", metavar="NAME", help="kit to play the examples on")
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
    previous = _interrupt_on_sigterm()
    try:
        commands = {
            "render": _render, "generate": _generate, "vary": _vary, "batch": _batch,
            "kits": info.kits, "genres": info.genres, "serve": info.serve, "tools": info.tools,
            "explain": info.explain,
        }  # fmt: skip
        if args.command == "generate":
            _check_sentence(sys.argv[1:] if argv is None else argv)
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm() -> signal._HANDLER | None:
    """Make SIGTERM (a stop from a service manager, ``kill``) clean up as Ctrl-C does: staged
    files are removed on the way out. Returns the handler it replaced (None off the main
    thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _check_sentence(argv: list[str]) -> None:
    """Refuse a sentence that starts with a short option ("-o fast trap"): argparse reads it
    as that option with the rest as its value, and the sentence would be lost."""
    for arg in argv:
        if arg == "--":
            return
        if arg[:1] == "-" and arg[1:2].isalpha() and len(arg.split()) > 1:
            raise AudiogenError(
                f"{arg!r} reads as the option {arg[:2]}: to give a sentence that starts with "
                f'"-", put -- before it (audiogen generate -- "{arg}")'
            )


def _render(args: argparse.Namespace) -> int:
    from audiogen.export import check_writable
    from audiogen.pipeline import read_score
    from audiogen.request import RenderRequest, check_source

    source = check_source(args.midi)
    out = out_dir(args, Path("out") / source.stem)
    request = RenderRequest.create(**{f.name: getattr(args, f.name) for f in cli_fields()})
    check_writable(out, args.force)
    with terminal_session(args) as session:
        beat = session.render(read_score(source, request.note_map), request)
    _save_and_report(beat, out, args, f"{beat.duration_s:.1f} s, {len(beat.stems)} stems")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from audiogen.export import check_writable
    from audiogen.planner.genres import GENRES
    from audiogen.request import resolve_generation

    fields = [*plan_fields(), *(f for f in cli_fields() if f.name != "note_map")]
    request = resolve_generation(args.prompt, {f.name: getattr(args, f.name) for f in fields})
    plan_opts, render_request = request.plan, request.render
    genre = GENRES[plan_opts.genre]
    if request.prompt is not None and not args.quiet:
        from audiogen.prompt import describe

        print(describe(request.prompt, _resolved_summary(plan_opts, render_request)), flush=True)
    out = out_dir(args, Path("out") / f"{genre.name}-{render_request.seed}")
    check_writable(out, args.force)
    with terminal_session(args) as session:
        beat = session.generate(request)
    score = beat.score
    summary = f"{genre.title}, {score.bpm:g} bpm, {score.meter}, {score.bars} bars"
    if plan_opts.form:
        summary += f" ({_sections(score)})"
    _save_and_report(beat, out, args, summary)
    return 0


def _sections(score: DrumScore) -> str:
    """A song's sections for the summary line: "intro 4 verse 8 chorus 8"."""
    return " ".join(f"{s.name} {s.bars}" for s in score.sections)


def _vary(args: argparse.Namespace) -> int:
    from audiogen.export import check_writable
    from audiogen.pipeline import read_score
    from audiogen.request import RenderRequest, VaryOptions, check_source

    source = check_source(args.midi)
    out = out_dir(args, Path("out") / f"{source.stem}-vary")
    opts = VaryOptions.create(**{f.name: getattr(args, f.name) for f in vary_fields()})
    request = RenderRequest.create(**{f.name: getattr(args, f.name) for f in cli_fields()})
    check_writable(out, args.force)
    with terminal_session(args) as session:
        score = read_score(source, request.note_map)
        beat = session.vary(score, opts, request, name=source.name)
    score = beat.score
    summary = (
        f"{score.bpm:g} bpm, {score.bars} bars ({_sections(score)}), amount {opts.amount:g}, "
        f"sections in {out / 'sections'}"
    )
    _save_and_report(beat, out, args, summary)
    return 0


def _resolved_summary(plan_opts: PlanOptions, request: RenderRequest) -> dict:
    """The options a sentence can move, as they will run."""
    return {
        "genre": plan_opts.genre, "bpm": plan_opts.bpm, "bars": plan_opts.bars,
        "meter": plan_opts.meter, "energy": plan_opts.energy, "feel": plan_opts.feel,
        "syncopation": plan_opts.syncopation, "kit": request.kit, "mix": request.mix,
        "loudness": request.loudness, "preset": request.preset, "loop": request.loop,
    }  # fmt: skip


def _save_and_report(beat: Beat, out: Path, args: argparse.Namespace, summary: str) -> None:
    import json

    saved = beat.save(out, force=args.force)
    if not args.quiet:
        # Each master file as delivered (an MP3 decoded), as its manifest lists it.
        files = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))["files"]
        levels = ", ".join(
            f"{name.split('.')[-1]} {entry['integrated_lufs']:.1f} LUFS "
            f"{entry['true_peak_dbtp']:.1f} dBTP"
            for name, entry in files.items()
            if name.startswith("mix.") and entry.get("integrated_lufs") is not None
        )
        print(f"{out}/  {summary}, kit {beat.request.kit}, {levels}")


def _batch(args: argparse.Namespace) -> int:
    from audiogen.batch import load_recipe, run_batch
    from audiogen.progress import terminal_bar

    if args.workers < 1:
        raise AudiogenError(f"--workers {args.workers}: use 1 or more")
    bar = None if not args.quiet else False
    with terminal_bar(enabled=bar, items=True) as draw:  # a large recipe takes a while to check
        recipe = load_recipe(args.recipe, out=out_dir(args, None), callback=draw)
    try:
        with terminal_bar(enabled=bar, items=True) as draw:
            outcomes = run_batch(
                recipe, workers=args.workers, backend=args.backend, address=args.address,
                callback=draw,
            )  # fmt: skip
    except KeyboardInterrupt:
        print(
            f"audiogen: interrupted; finished items in {recipe.out} are kept: run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    if not args.quiet:
        done = sum(o.status == "done" for o in outcomes)
        skipped = sum(o.status == "skipped" for o in outcomes)
        print(
            f"{recipe.out}/  {len(outcomes)} items: {done} rendered, {skipped} already done, "
            f"{len(failed)} failed; summary in {recipe.out / 'summary.csv'}"
        )
    for o in failed:
        print(f"audiogen: failed: {o.name}: {o.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
