"""The `audiogen` commands that are not a beat: the server, the tool list, lessons, genres and
kits."""

from __future__ import annotations

import argparse
from pathlib import Path

from audiogen.cli.common import out_dir, terminal_session
from audiogen.errors import AudiogenError
from audiogen.files import exists


def serve(args: argparse.Namespace) -> int:
    import ipaddress
    import os

    if args.workers is not None and args.workers < 1:
        raise AudiogenError(f"--workers {args.workers}: use 1 or more")
    try:
        local = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        local = False
    token = args.token if args.token is not None else os.environ.get("AUDIOGEN_TOKEN")
    if token is not None and not token.strip():
        raise AudiogenError("the token is empty: give a secret, or leave --token out")
    if not local and token is None:  # anyone who reaches the port could fill disk and queue
        raise AudiogenError(
            f"--host {args.host}: serving beyond this machine needs a token (--token, or "
            "AUDIOGEN_TOKEN in the environment) that callers send as Authorization: Bearer"
        )
    import uvicorn

    from audiogen.server.app import create_app
    from audiogen.server.jobs import TTL_S

    out = out_dir(args, None) or Path("out/serve")
    ttl = args.ttl if args.ttl is not None else TTL_S
    if not 0 < ttl < float("inf"):
        raise AudiogenError(f"--ttl {ttl:g}: give a number of seconds over 0")
    if args.address and args.backend != "ray":
        raise AudiogenError("--address is a Ray cluster's: give --backend ray with it")
    cors = [_origin(o) for o in args.cors]
    app = create_app(
        out, workers=args.workers, token=token, ttl_s=ttl, cors=cors, backend=args.backend,
        address=args.address,
    )  # fmt: skip
    app.state.jobs.open()  # Ray, the folder and its lock: a refusal here is one line
    level = "debug" if args.debug else "error" if args.quiet else "info"
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=level)
    except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then passes the signal on
        pass
    finally:
        app.state.jobs.close()  # the lock and Ray, had uvicorn not started
    return 0


def _origin(text: str) -> str:
    """A CORS origin as browsers send it: scheme, host and port, nothing more."""
    from urllib.parse import urlsplit

    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise AudiogenError(
            f"--cors {text}: give an origin, such as https://app.example.com (no path, no *)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def tools(args: argparse.Namespace) -> int:
    import json

    from audiogen.server.schema import tool_definitions

    print(json.dumps(tool_definitions(args.style), indent=2))
    return 0


def explain(args: argparse.Namespace) -> int:
    from audiogen.explain.run import explain_beat, explain_topic, topic_list

    if args.list:
        print(topic_list())
        return 0
    text = " ".join(args.topic).strip()
    if not text:
        raise AudiogenError("name a topic (see `audiogen explain --list`) or a drum MIDI file")
    with terminal_session(args) as session:
        if text.lower().endswith((".mid", ".midi")) or (exists(text) and Path(text).is_file()):
            printed, out = explain_beat(session, text, out_dir(args, None), args.force)
        else:
            printed, out = explain_topic(
                session, text, out_dir(args, None), args.force, args.seed, args.kit
            )
    if not args.quiet:
        print(printed, end="")
        print(f"{out}/")
    return 0


def genres(args: argparse.Namespace) -> int:
    from audiogen.planner.genres import GENRES

    for g in GENRES.values():
        low, high = g.bpm_range
        print(
            f"{g.name:<14} {g.title:<24} {low:g}-{high:g} bpm (default {g.default_bpm:g})  "
            f"{g.feels[0]:<8} {g.meters[0]:<5} kit {g.kit}"
        )
    return 0


def kits(args: argparse.Namespace) -> int:
    from audiogen.kits import list_kits, load_kit

    if args.check is not None:
        from audiogen.kits.user import describe

        print("\n".join(describe(load_kit(args.check, args.preset_name))))
        return 0
    kits = list_kits()
    name_w = max((len(k.name) for k in kits), default=4)
    license_w = max((len(k.license) for k in kits), default=7)
    for kit in kits:
        print(
            f"{kit.name:<{name_w}}  {kit.style:<10}  {kit.license:<{license_w}}  {kit.description}"
        )
    return 0
