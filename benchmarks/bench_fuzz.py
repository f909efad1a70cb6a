"""Hostile input benchmark (issue 16): generated bad inputs, and every reproducer of the issue,
through the Python API, batch recipes, the HTTP server (FastAPI's TestClient) and the CLI (a
subprocess each), counted per category:

- clean: refused with one line (`AudiogenError`; exit 2; a 4xx with {"error": line}; argparse's
  usage line and one error line for an option a command does not have);
- valid: accepted, and the input was one a user may give (what it made checks out);
- internal: any other exception, an "internal error", a traceback, a 500;
- hang: past the case's time limit;
- nonsense: accepted, though the input must be refused (an out-of-range number, an empty name);
- refused valid: refused, though the input must be delivered (a legal long name, one note);
- leftovers: cases that left a partial folder or temporary file in the output's parent.

    nice -n 15 python benchmarks/bench_fuzz.py            # about 1,900 inputs, 160 by the CLI
    nice -n 15 python benchmarks/bench_fuzz.py --quick    # a smoke: a few of each

Writes benchmarks/results/fuzz.json after every category (and every 25 CLI cases) and prints
the Markdown table of BENCHMARKS.md's "Hostile input (fuzz)" section.
"""

# ruff: noqa: B023  (each case's lambda runs at once, inside `judge`, in its own loop turn)
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz_inputs import (
    BAD_OPTIONS,
    BAD_SENTENCES,
    GOOD_SENTENCES,
    bad_recipes,
    base_midi,
    hostile_midi,
    random_options,
    random_sentences,
)
from machine import describe_machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
COLUMNS = ("tried", "clean", "valid", "internal", "hang", "nonsense", "refused_valid", "leftovers")


@dataclass
class Tally:
    """One category's counts, and the first few cases of each bad kind, to reproduce."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, verdict: str, case: str, detail: str = "", leftovers: bool = False) -> None:
        self.counts["tried"] += 1
        self.counts[verdict] += 1
        if verdict not in ("clean", "valid"):
            self.examples.setdefault(verdict, [])
            if len(self.examples[verdict]) < 8:
                self.examples[verdict].append(f"{case[:300]} -> {detail[:300]}")
        if leftovers:
            self.counts["leftovers"] += 1
            self.examples.setdefault("leftovers", [])
            if len(self.examples["leftovers"]) < 8:
                self.examples["leftovers"].append(case[:300])


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in this (main) thread after ``seconds``."""

    def alarm(signum: int, frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def leftovers(folder: Path) -> list[str]:
    """Staging folders and temporary files anywhere under ``folder``."""
    return [
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if ".partial" in p.name or ".old-" in p.name or p.name.endswith(".tmp")
    ]  # fmt: skip


def judge(
    tally: Tally, case: str, run: Callable[[], Any], expect: str, limit: float = 30.0,
    check: Callable[[Any], str] | None = None,
) -> None:  # fmt: skip
    """Run one in-process case. ``expect``: "refuse" (nonsense if accepted), "accept" (refused
    valid if refused) or "either"; ``check`` says what is wrong with an accepted result."""
    from audiogen.errors import AudiogenError

    started = time.perf_counter()
    try:
        with time_limit(limit):
            result = run()
    except Hang:
        tally.add("hang", case, f"over {limit:g} s")
        return
    except AudiogenError as exc:
        line = str(exc)
        if "\n" in line.strip() or not line or "()" in line:
            tally.add("internal", case, f"not one line: {line!r}")
        else:
            tally.add("refused_valid" if expect == "accept" else "clean", case, line)
        return
    except Exception as exc:  # noqa: BLE001 - what the benchmark counts
        tally.add("internal", case, repr(exc))
        return
    problem = check(result) if check else ""
    if time.perf_counter() - started > limit:
        tally.add("hang", case, f"{time.perf_counter() - started:.0f} s")
    elif expect == "refuse":
        tally.add("nonsense", case, f"accepted: {str(result)[:200]}")
    elif problem:
        tally.add("nonsense", case, problem)
    else:
        tally.add("valid", case)


# -- the API ---------------------------------------------------------------------------------


def api_requests(rng: random.Random, n: int) -> Tally:
    from audiogen.request import resolve_generation, split_vary_options

    def sane(request: Any) -> str:
        plan, render = request.plan, request.render
        if not (40 <= plan.bpm <= 300 and 1 <= plan.bars <= 256 and 0 <= plan.energy <= 1):
            return f"out of range: {plan}"
        if isinstance(render.seed, bool) or not 0 <= render.seed < 2**32:
            return f"seed {render.seed!r}"
        return ""

    tally = Tally()
    for name, value in BAD_OPTIONS:
        judge(tally, f"generate {name}={value!r}",
              lambda: resolve_generation(None, {name: value}), "refuse")  # fmt: skip
    for options in random_options(rng, n):
        judge(tally, f"generate {options!r}", lambda: resolve_generation(None, options), "either",
              check=sane)  # fmt: skip
        judge(tally, f"vary {options!r}", lambda: split_vary_options(options), "either")
    return tally


def api_sentences(rng: random.Random, n: int) -> Tally:
    from audiogen.request import resolve_generation

    tally = Tally()
    for text in BAD_SENTENCES:
        judge(tally, f"sentence {text!r}", lambda: resolve_generation(text, {}), "refuse")
    for text, option, value in GOOD_SENTENCES:
        judge(tally, f"sentence {text!r}", lambda: resolve_generation(text, {}), "accept",
              check=lambda r: "" if getattr(r.plan, option) == value else
              f"{option} {getattr(r.plan, option)}, not {value}")  # fmt: skip
    for text in random_sentences(rng, n):
        judge(tally, f"sentence {text!r}", lambda: resolve_generation(text, {}), "either")
    return tally


def api_midi(rng: random.Random, n: int, folder: Path) -> Tally:
    from audiogen.pipeline import read_score

    tally = Tally()
    for index, (label, data, expect, limit) in enumerate(hostile_midi(rng, n)):
        path = folder / f"case{index}.mid"
        path.write_bytes(data)
        judge(tally, f"read_score({label})", lambda: read_score(path), expect, limit=limit)
        path.unlink()
    return tally


def api_paths(rng: random.Random, n: int, folder: Path) -> Tally:
    import audiogen
    from audiogen.score import DrumScore, Hit, Meter

    score = DrumScore(120.0, Meter(4, 4), 1, (Hit(0, "kick", 110), Hit(24, "snare", 100)))
    beat = audiogen.render(score, kit="acoustic", seed=1)
    tally = Tally()
    names: list[tuple[str, bool, str]] = [
        ("a" * 256, False, "refuse"), ("a" * 255, False, "accept"), ("é" * 120, False, "accept"),
        ("b" * 240, False, "accept"), ("/".join(["d" * 200] * 25), False, "refuse"),
        (".", True, "either"), ("..", True, "refuse"), ("", True, "either"), ("x\0y", False,
        "refuse"), ("a/../", True, "refuse"),
    ]  # fmt: skip
    alphabet = "ab09 ._-~*?'\"\\:;|<>$&é\u202e\u3042\t/"
    for _ in range(n):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        names.append((name, rng.random() < 0.5, "either"))
    for index, (name, force, expect) in enumerate(names):
        parent = folder / f"p{index}"
        parent.mkdir()
        out = Path(str(parent) + "/" + name) if name else parent / name
        judge(tally, f"save({name[:60]!r}, force={force})",
              lambda: beat.save(out, force=force), expect)  # fmt: skip
        if leftovers(parent):
            tally.counts["leftovers"] += 1
            tally.examples.setdefault("leftovers", []).append(f"save({name[:60]!r})")
    for index in range(max(3, n // 4)):  # --force on folders audiogen did not write
        music = folder / f"music{index}"
        music.mkdir()
        files = {f"f{k}{rng.choice(['.flac', '.txt', '.json', ''])}": os.urandom(8)
                 for k in range(rng.randint(1, 3))}  # fmt: skip
        if rng.random() < 0.3:
            files["manifest.json"] = json.dumps({"files": {}}).encode()
        for fname, data in files.items():
            (music / fname).write_bytes(data)

        def force_over(music: Path = music, files: dict = files) -> Any:
            try:
                return beat.save(music, force=True)
            finally:
                if {p.name: p.read_bytes() for p in music.iterdir()} != files:
                    raise RuntimeError(f"--force changed {music}: the user's files")

        judge(tally, f"save(force=True) over {sorted(files)}", force_over, "refuse")
    return tally


# -- batch -----------------------------------------------------------------------------------


def batch(rng: random.Random, n: int, folder: Path, midi: Path, runs: int) -> Tally:
    from audiogen.batch import load_recipe, run_batch

    tally = Tally()
    for index, (label, text, expect, limit, check) in enumerate(bad_recipes(rng, n, midi)):
        path = folder / f"r{index}.yaml"
        path.write_text(text, encoding="utf-8")
        out_parent = folder / f"o{index}"
        out_parent.mkdir()

        def load_and_run(path: Path = path, out: Path = out_parent / "out", go: bool = index <
                         runs) -> Any:  # fmt: skip
            recipe = load_recipe(path, out=out)
            if go:  # a few are run: the bad items fail, the good one is rendered
                outcomes = run_batch(recipe)
                internal = [o for o in outcomes if o.error.startswith("internal")]
                if internal:
                    raise RuntimeError(f"item {internal[0].name}: {internal[0].error}")
            internal = [i for i in recipe.items if i.error.startswith("internal")]
            if internal:
                raise RuntimeError(f"item {internal[0].name}: {internal[0].error}")
            return recipe

        judge(tally, f"recipe {label}", load_and_run, expect, limit=limit, check=check)
        if leftovers(out_parent):
            tally.counts["leftovers"] += 1
            tally.examples.setdefault("leftovers", []).append(f"recipe {label}")
    return tally


# -- the server ------------------------------------------------------------------------------


def server(rng: random.Random, n: int, folder: Path) -> Tally:
    from fastapi.testclient import TestClient

    from audiogen.errors import RequestError
    from audiogen.pipeline import Session
    from audiogen.server.app import create_app

    class NoRender(Session):  # a body that passes is counted; rendering it is not this test's
        def generate(self, request: Any) -> Any:
            raise RequestError("not rendered by the fuzz benchmark")

        def render(self, score: Any, request: Any) -> Any:
            raise RequestError("not rendered by the fuzz benchmark")

    tally = Tally()
    bodies: list[tuple[str, str, Any, str]] = []  # (route, label, body, expect)
    for name, value in BAD_OPTIONS:
        if isinstance(value, (str, int, float, bool, type(None), list)):
            bodies.append(("/v1/beats", f"{name}={value!r}", {name: value}, "refuse"))
    for text in BAD_SENTENCES:
        bodies.append(("/v1/beats", f"prompt {text!r}", {"prompt": text}, "refuse"))
    for options in random_options(rng, n):
        bodies.append(("/v1/beats", repr(options)[:200], options, "either"))
    bodies += [
        ("/v1/beats", "a list body", [1, 2], "refuse"), ("/v1/beats", "a number", 5, "refuse"),
        ("/v1/beats", "huge int bpm", {"bpm": 10**400}, "refuse"),
        ("/v1/beats", "nested", {"kit": {"a": [1]}}, "refuse"),
        ("/v1/render/score", "no score", {}, "refuse"),
        ("/v1/render/score", "inf bpm", {"score": {"bpm": 1e308, "meter": "4/4", "bars": 1,
                                                   "hits": [[0, "kick", 90, 0]]}}, "refuse"),
        ("/v1/render/score", "hit far away", {"score": {"bpm": 120, "meter": "4/4", "bars": 1,
                                                        "hits": [[10**12, "kick", 90, 0]]}},
         "refuse"),
    ]  # fmt: skip
    with TestClient(create_app(folder, workers=1, max_queue=4096, session=NoRender)) as client:
        for route, label, body, expect in bodies:  # JSON as Python writes it: Infinity, NaN
            _http(tally, client, "POST", route, f"POST {route} {label}", expect,
                  content=json.dumps(body, default=repr),
                  headers={"content-type": "application/json"})  # fmt: skip
        for label, data, expect, _ in hostile_midi(rng, max(10, n // 2)):
            _http(tally, client, "POST", "/v1/render?filename=take.mid", f"upload {label}",
                  expect, content=data)  # fmt: skip
        for raw in (b"{", b"\xff\xfe", b"[" * 10000, b'{"bpm": 1e999}', b"null"):
            _http(tally, client, "POST", "/v1/beats", f"raw {raw[:20]!r}", "refuse", content=raw,
                  headers={"content-type": "application/json"})  # fmt: skip
    return tally


def _http(tally: Tally, client: Any, method: str, route: str, case: str, expect: str,
          **kwargs: Any) -> None:  # fmt: skip
    try:
        with time_limit(30):
            answer = client.request(method, route, **kwargs)
    except Hang:
        tally.add("hang", case, "over 30 s")
        return
    except Exception as exc:  # noqa: BLE001
        tally.add("internal", case, repr(exc))
        return
    if answer.status_code >= 500:
        tally.add("internal", case, f"{answer.status_code} {answer.text[:200]}")
    elif answer.status_code >= 400:
        try:
            error = answer.json()["error"]
            one_line = isinstance(error, str) and error and "\n" not in error
        except (ValueError, KeyError, TypeError):
            one_line = False
        if not one_line:
            tally.add("internal", case, f"{answer.status_code} not one line: {answer.text[:200]}")
        else:
            tally.add("refused_valid" if expect == "accept" else "clean", case, error)
    elif expect == "refuse":
        tally.add("nonsense", case, f"{answer.status_code} {answer.text[:200]}")
    else:
        tally.add("valid", case)
        job = answer.json()
        if isinstance(job, dict) and job.get("id"):
            client.delete(f"/v1/beats/{job['id']}")


# -- the CLI ---------------------------------------------------------------------------------


@dataclass
class CliCase:
    label: str
    argv: list[str]  # after `audiogen`; "{dir}" is the case's own folder
    expect: str  # "refuse", "accept" or "either"
    timeout: float = 120.0
    setup: Callable[[Path], None] | None = None
    after: Callable[[Path, subprocess.CompletedProcess], str] | None = None  # what is wrong


def run_cli(case: CliCase, root: Path) -> tuple[str, str, bool]:
    """One CLI case in a folder of its own: (verdict, detail, leftovers)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    if case.setup:
        case.setup(folder)
    argv = [part.replace("{dir}", str(folder)) for part in case.argv]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run([sys.executable, "-m", "audiogen", "-q", *argv], cwd=folder,
                              capture_output=True, text=True, timeout=case.timeout, env=env)
    except subprocess.TimeoutExpired:  # fmt: skip
        return "hang", f"over {case.timeout:g} s", bool(leftovers(folder))
    err = done.stderr.strip()
    problem = case.after(folder, done) if case.after else ""
    left = bool(leftovers(folder))
    if "Traceback" in err or "internal error" in err or done.returncode not in (0, 2, 1):
        return "internal", f"rc {done.returncode}: {err[-300:]}", left
    if problem:
        return "internal", problem, left
    if done.returncode == 2 and err.startswith("usage:") and len(err.splitlines()) == 2:
        err = err.splitlines()[1]  # argparse's refusal: its usage line, then one error line
    if done.returncode != 0:
        if not err.startswith("audiogen: error:") or len(err.splitlines()) != 1:
            if done.returncode == 1 and "failed:" in err:  # a batch whose bad items failed
                return ("clean" if case.expect != "accept" else "refused_valid"), err[:200], left
            return "internal", f"not one line: {err[:300]}", left
        return ("refused_valid" if case.expect == "accept" else "clean"), err, left
    return ("nonsense" if case.expect == "refuse" else "valid"), done.stdout[:200], left


def cli(rng: random.Random, cases: list[CliCase], root: Path, tally: Tally,
        save: Callable[[], None]) -> None:  # fmt: skip
    with ThreadPoolExecutor(max_workers=4) as pool:  # the machine's cores wait on startup
        for index, (case, (verdict, detail, left)) in enumerate(
            zip(cases, pool.map(lambda c: run_cli(c, root), cases))
        ):
            tally.add(verdict, f"{case.label}: audiogen {' '.join(case.argv)[:200]}", detail,
                      leftovers=left)  # fmt: skip
            if index % 25 == 24:
                save()


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    from fuzz_cli import cli_cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke: a few inputs of each kind")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fuzz.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scale = 0.1 if args.quick else 1.0
    size = lambda n: max(3, int(n * scale))  # noqa: E731
    load = os.getloadavg()[0]
    result: dict[str, Any] = {
        "command": "nice -n 15 python benchmarks/bench_fuzz.py" + (" --quick" if args.quick
                                                                   else ""),  # fmt: skip
        "seed": args.seed, "categories": {}, "seconds": {},
    }  # fmt: skip
    tallies: dict[str, Tally] = {}

    def save() -> None:
        result["machine"] = describe_machine(load_at_start=load)
        result["categories"] = {k: t.counts for k, t in tallies.items()}
        result["examples"] = {k: t.examples for k, t in tallies.items() if t.examples}
        result["total"] = {c: sum(t.counts[c] for t in tallies.values()) for c in COLUMNS}
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="audiogen-fuzz-") as tmp:
        root = Path(tmp)
        midi = root / "beat.mid"
        midi.write_bytes(base_midi())
        steps: list[tuple[str, Callable[[], Tally]]] = [
            ("api: options", lambda: api_requests(rng, size(300))),
            ("api: sentences", lambda: api_sentences(rng, size(250))),
            ("api: MIDI files", lambda: api_midi(rng, size(350), _fresh(root, "midi"))),
            ("api: output paths", lambda: api_paths(rng, size(60), _fresh(root, "paths"))),
            ("batch: recipes", lambda: batch(rng, size(150), _fresh(root, "batch"), midi,
                                             runs=size(8))),  # fmt: skip
            ("server: HTTP bodies", lambda: server(rng, size(120), _fresh(root, "serve"))),
        ]
        for name, step in steps:
            started = time.perf_counter()
            tallies[name] = step()
            result["seconds"][name] = round(time.perf_counter() - started, 1)
            print(f"{name}: {tallies[name].counts}", flush=True)
            save()
        started = time.perf_counter()
        tallies["cli: subprocess"] = Tally()
        cases = cli_cases(rng, 150 if not args.quick else 20, midi)
        cli(rng, cases, _fresh(root, "cli"), tallies["cli: subprocess"], save)
        result["seconds"]["cli: subprocess"] = round(time.perf_counter() - started, 1)
        print(f"cli: {tallies['cli: subprocess'].counts}", flush=True)
        save()
        stray = [p.name for p in Path(tempfile.gettempdir()).iterdir() if ".partial" in p.name]
        result["stray_partials_in_tmp"] = stray
    save()
    print(markdown(result))


def _fresh(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    return folder


def markdown(r: dict) -> str:
    lines = [
        "| category | tried | clean errors | accepted, valid | internal errors | hangs | "
        "accepted nonsense | refused valid | leftovers | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [*r["categories"].items(), ("all", r["total"])]
    for name, c in rows:
        seconds = r["seconds"].get(name, sum(r["seconds"].values()))
        lines.append(
            f"| {name} | {c['tried']} | {c['clean']} | {c['valid']} | {c['internal']} | "
            f"{c['hang']} | {c['nonsense']} | {c['refused_valid']} | {c['leftovers']} | "
            f"{seconds:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
