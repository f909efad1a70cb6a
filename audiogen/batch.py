"""Batch rendering: a YAML recipe of requests (defaults plus a list and/or a matrix) rendered by
parallel worker processes into ``<out>/<item>/``, resumable after any interruption, with a
summary table.

A recipe::

    name: video-loops            # the output folder is out/<name> unless `out:` says otherwise
    defaults: {preset: video, bars: 4}
    matrix:                      # every combination; keys are request options (or `prompt`)
      genre: [house, techno]
      bpm: [120, 128]
      seed: [0, 1]
    items:                       # and/or a list, each merged over the defaults
      - {prompt: "chill lofi", seed: 3}
      - {midi: beats/take1.mid, kit: room}   # render a MIDI file (relative to the recipe; of
                                             # the defaults, it takes those a render takes)
    name_format: "{genre}-{bpm}-{seed}"      # optional; default: from the options that vary

Resume: every item is written atomically (see `audiogen.export`), so a folder with a manifest
is a finished item; what a killed run left half-written (hidden staging folders) is removed and
redone. Items are never written twice: a lock file keeps a second batch off the same folder.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import itertools
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.errors import AudiogenError, OutputError, RequestError
from audiogen.files import exists, expand_user, take_lock, write_text_atomic
from audiogen.progress import ProgressCallback, report

if TYPE_CHECKING:
    from audiogen.pipeline import Session

log = logging.getLogger(__name__)

SUMMARY_FIELDS = (
    "name", "status", "seconds", "integrated_lufs", "true_peak_dbtp", "duration_s", "samples",
    "genre", "bpm", "bars", "seed", "error",
)  # fmt: skip
RECIPE_KEYS = ("name", "out", "defaults", "items", "matrix", "name_format", "description")
LOCK = ".batch.lock"
LOG = ".batch-log.jsonl"
MAX_ITEMS = 100_000


@dataclass(frozen=True)
class Item:
    """One request of a recipe: its folder name and its options (``prompt`` and ``midi`` too)."""

    name: str
    options: dict[str, Any]
    error: str = ""  # why the item cannot run (found when the recipe was read)


@dataclass(frozen=True)
class Recipe:
    name: str
    out: Path
    items: tuple[Item, ...]
    source: Path


def load_recipe(
    path: str | Path, out: str | Path | None = None, callback: ProgressCallback | None = None
) -> Recipe:
    """Read and check a YAML recipe: every item's options are validated before any work starts
    (``callback`` is told the items checked; a recipe holds at most `MAX_ITEMS`).

    Raises:
        RequestError: a missing or malformed file, unknown keys, bad option values, or two items
            with the same name; one line saying which item and what is wrong.
    """
    import yaml

    path = Path(path)
    if not exists(path) or not path.is_file():
        raise RequestError(f"{path}: no such recipe file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_recipe_loader())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RequestError(f"{path}: not a readable YAML recipe ({first})") from None
    if not isinstance(data, dict):
        raise RequestError(f"{path}: a recipe is a mapping with defaults and items or a matrix")
    unknown = sorted(set(data) - set(RECIPE_KEYS))
    if unknown:
        raise RequestError(f"{path}: unknown key {unknown[0]!r}; use {', '.join(RECIPE_KEYS)}")
    name = str(data.get("name") or path.stem)
    defaults = _mapping(data.get("defaults") or {}, path, "defaults")
    listed = data.get("items") or []
    if not isinstance(listed, list):
        raise RequestError(f"{path}: items must be a list of mappings")
    matrix = _mapping(data.get("matrix") or {}, path, "matrix")
    axes = {k: v if isinstance(v, list) else [v] for k, v in matrix.items()}
    total = len(listed) + (math.prod(len(v) for v in axes.values()) if axes else 0)
    if total > MAX_ITEMS:  # before any item is looked at
        raise RequestError(f"{path}: the recipe makes {total} items; the most is {MAX_ITEMS}")
    entries = [_over(defaults, _mapping(e, path, f"item {i + 1}")) for i, e in enumerate(listed)]
    if axes:
        for combo in itertools.product(*axes.values()):
            entries.append(_over(defaults, dict(zip(axes, combo))))
    if not entries:
        raise RequestError(f"{path}: no items: give `items:` (a list) or `matrix:`")
    varying = [k for k in dict.fromkeys(k for e in entries for k in e) if _varies(entries, k)]
    fmt = data.get("name_format")
    items = []
    seen: dict[str, int] = {}
    requests: dict[str, int] = {}
    check = _checker()
    for index, entry in enumerate(entries):
        if index % 1000 == 0:
            report(callback, "checking items", index, len(entries))
        same = requests.setdefault(json.dumps(entry, sort_keys=True, default=str), index)
        if same != index:
            raise RequestError(
                f"{path}: items {same + 1} and {index + 1} are the same request, which would "
                "be rendered twice; give them different seeds"
            )
        try:
            item_name, error = _item_name(entry, index, varying, fmt, path), ""
        except RequestError as exc:  # this item's values do not fit the name: it fails alone
            item_name, error = _item_name(entry, index, varying, None, path), str(exc)
        if item_name in seen:
            raise RequestError(
                f"{path}: items {seen[item_name] + 1} and {index + 1} would both be written to "
                f"{item_name!r}; make them differ or set name_format"
            )
        seen[item_name] = index
        if "midi" in entry:
            midi = Path(str(entry["midi"]))
            entry = {**entry, "midi": str(midi if midi.is_absolute() else path.parent / midi)}
        if "kit" in entry:  # a user's kit, like a MIDI file, lies relative to the recipe
            entry = {**entry, "kit": _kit_beside(str(entry["kit"]), path.parent)}
        items.append(Item(item_name, entry, error or check(entry)))
    report(callback, "checking items", len(entries), len(entries))
    out_dir = Path(out) if out is not None else Path(str(data.get("out") or Path("out") / name))
    return Recipe(name=name, out=out_dir, items=tuple(items), source=path)


@functools.lru_cache(maxsize=1)
def _recipe_loader() -> type:
    """A YAML loader for recipes as data: YAML 1.2's core types only (``on`` and ``no`` stay
    words, ``3:4`` stays text, not the base-60 number 184), and no aliases, whose nesting
    lets a 1 KB file expand to gigabytes."""
    import yaml

    class RecipeLoader(yaml.SafeLoader):
        yaml_implicit_resolvers: dict = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in a recipe", mark
                )
            return super().compose_node(parent, index)

    core = {
        "tag:yaml.org,2002:bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        "tag:yaml.org,2002:int": (r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
        "tag:yaml.org,2002:float": (
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            "-+.0123456789",
        ),
        "tag:yaml.org,2002:null": (r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    }
    for tag, (pattern, first) in core.items():
        RecipeLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))
    return RecipeLoader


def _kit_beside(kit: str, folder: Path) -> str:
    """A recipe's kit: a shipped kit's name as it is, a relative path taken from the recipe's
    folder."""
    from audiogen.kits import kit_names, looks_like_path

    if kit.strip().lower() in kit_names():
        return kit
    local = expand_user(kit)
    beside = folder / local
    if not local.is_absolute() and (exists(beside) or looks_like_path(kit)):
        return str(beside)
    return kit


def _over(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """An item over the recipe's defaults. A MIDI item takes the defaults a render takes, so
    defaults written for the recipe's new beats (``bars``, ``genre``...) do not fail it."""
    from audiogen.request import cli_fields

    if "midi" not in entry and "midi" not in defaults:
        return {**defaults, **entry}
    render = {f.name for f in cli_fields()} | {"midi"}
    return {**{k: v for k, v in defaults.items() if k in render}, **entry}


def _mapping(value: Any, path: Path, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{path}: {what} must be a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in value.items()}


def _varies(entries: list[dict[str, Any]], key: str) -> bool:
    return len({json.dumps(e.get(key), sort_keys=True, default=str) for e in entries}) > 1


def _item_name(entry: dict, index: int, varying: list[str], fmt: Any, path: Path) -> str:
    if fmt:
        try:
            text = str(fmt).format(index=index, **entry)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            raise RequestError(f"{path}: name_format {fmt!r} cannot be filled ({exc})") from None
    else:
        parts = [f"{index:04d}"]
        for key in varying:
            value = entry.get(key)
            if value is None:
                continue
            if key == "midi":
                value = Path(str(value)).stem
            elif key == "prompt":
                value = "-".join(str(value).split()[:4])
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            parts.append(f"{key}{value}" if numeric else str(value))
        text = "-".join(parts)
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or f"{index:04d}"
    return text[:120]


def _checker() -> Callable[[dict[str, Any]], str]:
    """`_check`, done once per distinct request but for the seed: a matrix of 100,000 seeds is
    checked as fast as one item (the seed, the only option that changes no other's meaning, is
    checked on its own)."""
    from audiogen.request import check_seed

    known: dict[str, str] = {}

    def check(entry: dict[str, Any]) -> str:
        rest = {k: v for k, v in entry.items() if k != "seed"}
        key = json.dumps(rest, sort_keys=True, default=lambda v: f"{type(v).__name__}:{v!r}")
        if key not in known:
            known[key] = _check(rest)
        if known[key] or "seed" not in entry:
            return known[key]
        try:
            check_seed(entry["seed"])
        except AudiogenError as exc:
            return str(exc)
        return ""

    return check


def _check(entry: dict[str, Any]) -> str:
    """Validate an item's options the way the CLI would, without rendering anything.

    Returns:
        "" for a good item, else what is wrong with it (the item fails; the others run).
    """
    from audiogen.request import RenderRequest, check_source, resolve_generation

    options = dict(entry)
    try:
        if "midi" in options:
            check_source(options.pop("midi"))
            options.pop("prompt", None)
            RenderRequest.create(**options)
        else:
            resolve_generation(options.pop("prompt", None), options)
    except AudiogenError as exc:
        return str(exc)
    except Exception as exc:  # a bug in checking one item must not stop the others
        log.debug("checking an item failed", exc_info=True)
        return f"internal: {exc!r}"
    return ""


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What happened to one item."""

    name: str
    status: str  # "done", "skipped" (done before), "failed"
    seconds: float = 0.0
    error: str = ""
    row: dict[str, Any] = dataclasses.field(default_factory=dict)


def run_batch(
    recipe: Recipe, workers: int = 1, backend: str = "local", address: str | None = None,
    callback: ProgressCallback | None = None,
) -> list[Outcome]:  # fmt: skip
    """Render every item not done yet, ``workers`` at a time; write the summary.

    ``callback`` is told the items finished (those done before included) of all the recipe's.

    Returns:
        One outcome per item, in recipe order.

    Raises:
        OutputError: another batch holds the output folder.
    """
    out = recipe.out
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the output folder {out}: {exc.strerror}") from None
    try:
        return _run_locked(recipe, workers, backend, address, callback)
    except AudiogenError:
        if made and not any(out.iterdir()):  # a batch that could not start leaves no folder
            out.rmdir()
        raise


def _run_locked(
    recipe: Recipe, workers: int, backend: str, address: str | None,
    callback: ProgressCallback | None,
) -> list[Outcome]:  # fmt: skip
    out = recipe.out
    with _lock(out):
        _clear_half_done(out)
        times = _read_log(out)
        outcomes: dict[str, Outcome] = {}
        todo = []
        for item in recipe.items:
            if item.error:
                outcomes[item.name] = Outcome(item.name, "failed", error=item.error)
            elif is_done(out / item.name):
                row = summary_row(out / item.name)
                outcomes[item.name] = Outcome(
                    item.name, "skipped", times.get(item.name, 0.0), row=row
                )
            else:
                todo.append(item)
        total = len(recipe.items)
        report(callback, "rendering", total - len(todo), total)
        for outcome in outcomes.values():
            if outcome.status == "failed":
                log.warning("item %s cannot run: %s", outcome.name, outcome.error)
        for done, outcome in enumerate(_execute(todo, out, workers, backend, address), 1):
            outcomes[outcome.name] = outcome
            _append_log(out, outcome)
            report(callback, "rendering", total - len(todo) + done, total)
        ordered = [outcomes[item.name] for item in recipe.items]
        write_summary(out, ordered)
    return ordered


def _execute(
    items: list[Item], out: Path, workers: int, backend: str, address: str | None
) -> Iterator[Outcome]:
    if not items:
        return
    if backend == "ray":
        yield from _execute_ray(items, out, workers, address)
        return
    if backend != "local":
        raise RequestError(f"backend {backend!r}: use local or ray")
    if workers <= 1:
        for item in items:
            yield render_item(item, str(out))
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    # Spawned, not forked: torch and the mix's thread pools do not survive a fork.
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
        initargs=(os.getpid(),),
    ) as pool:  # fmt: skip
        futures = [pool.submit(render_item, item, str(out)) for item in items]
        for future in as_completed(futures):
            yield future.result()


def start_ray(workers: int, address: str | None) -> bool:
    """Connect to the Ray cluster at ``address``, else start one here with ``workers`` CPUs,
    unless this process is connected already (`audiogen serve --backend ray` uses it too).

    Returns:
        Whether this call connected, so the caller shuts Ray down when done.

    Raises:
        RequestError: ray is not installed.
        OutputError: Ray could not start; one line.
    """
    try:
        import ray
    except ImportError:
        raise RequestError(
            "the ray backend needs ray: pip install 'ray==2.60.0' (or use --backend local)"
        ) from None
    if ray.is_initialized():
        return False
    _check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), log_to_driver=False, include_dashboard=False)
    except Exception as exc:  # Ray's own errors, of many kinds: one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OutputError(f"Ray could not start ({first[:200]}); use --backend local") from None
    return True


def _execute_ray(
    items: list[Item], out: Path, workers: int, address: str | None
) -> Iterator[Outcome]:
    started = start_ray(workers, address)
    import ray

    try:
        remote = ray.remote(num_cpus=1)(_ray_task)
        pending = [remote.remote(item, str(out)) for item in items]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str | None) -> None:
    """Refuse a Ray cluster address that nothing answers at, at once: `ray.init` would retry
    it for minutes."""
    import socket

    if not address or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), 5.0):
            pass
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(
            f"no Ray cluster answers at {address} ({why}); check --address, or use --backend local"
        ) from None


def _ray_task(item: Item, out: str) -> Outcome:
    _worker_init()
    return render_item(item, out)


def worker_session() -> Session:
    """The session of a worker process (a Ray task's, the server's on Ray too): one thread,
    its models loaded once per process."""
    _worker_init()
    return _session()


def _worker_init(parent: int | None = None) -> None:
    if parent is not None:
        die_with_parent(parent)
    # One thread per worker: the workers are the parallelism, and results must not depend on
    # how many there are.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` ends: a batch killed outright (``kill -9``)
    must not leave workers writing with no lock held."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # gone before the kernel was told
            os._exit(1)
        return

    def watch() -> None:  # elsewhere: look every second
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


@functools.lru_cache(maxsize=1)
def _session() -> Session:
    """The pipeline with its models, loaded once per worker process."""
    from audiogen.pipeline import Session

    return Session()


def render_item(item: Item, out: str) -> Outcome:
    """Render one item into ``out/<name>``; failures are returned, not raised."""
    from audiogen.pipeline import read_score
    from audiogen.request import RenderRequest, resolve_generation

    started = time.perf_counter()
    folder = Path(out) / item.name
    try:
        options = dict(item.options)
        if "midi" in options:
            midi = options.pop("midi")
            options.pop("prompt", None)
            request = RenderRequest.create(**options)
            beat = _session().render(read_score(midi, request.note_map), request)
        else:
            beat = _session().generate(resolve_generation(options.pop("prompt", None), options))
        beat.save(folder, force=True)
    except AudiogenError as exc:
        return Outcome(item.name, "failed", time.perf_counter() - started, str(exc))
    except Exception as exc:  # a bug in one item must not stop the others
        log.debug("item %s failed", item.name, exc_info=True)
        return Outcome(item.name, "failed", time.perf_counter() - started, f"internal: {exc!r}")
    return Outcome(item.name, "done", time.perf_counter() - started, row=summary_row(folder))


# -- state on disk ---------------------------------------------------------------------------


def is_done(folder: Path) -> bool:
    """A finished item: its folder holds a manifest whose every file is there, whole."""
    from audiogen.export import sha256

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        return all(
            (folder / name).stat().st_size == entry["bytes"]
            and sha256(folder / name) == entry["sha256"]
            for name, entry in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _clear_half_done(out: Path) -> None:
    """Remove what a killed run left: staging folders, swapped-out old folders, broken items."""
    for child in out.iterdir():
        if child.name.startswith(".") and (".partial-" in child.name or ".old-" in child.name):
            shutil.rmtree(child, ignore_errors=True)


class _lock:
    """An exclusive lock on the output folder (`files.take_lock`): a lock file holding its
    batch's pid, removed when the batch ends."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._fd = take_lock(
            self.path, "another batch{holder} is writing {folder}; wait for it or stop it first"
        )

    def __exit__(self, *exc: object) -> None:
        # Unlinked while still held: a batch that opened this file meanwhile sees it is gone.
        self.path.unlink(missing_ok=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_log(out: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    try:
        lines = (out / LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return times
    for line in lines:
        try:
            entry = json.loads(line)
            if entry.get("status") == "done":
                times[entry["name"]] = float(entry["seconds"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut short by a kill
    return times


def _append_log(out: Path, outcome: Outcome) -> None:
    entry = {"name": outcome.name, "status": outcome.status, "seconds": round(outcome.seconds, 3)}
    with (out / LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def summary_row(folder: Path) -> dict[str, Any]:
    """The summary's measures of a finished item, read from its manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    plan = manifest.get("plan") or {}
    return {
        "integrated_lufs": manifest["loudness"]["integrated_lufs"],
        "true_peak_dbtp": manifest["loudness"]["true_peak_dbtp"],
        "duration_s": manifest["audio"]["duration_s"],
        "samples": manifest["audio"].get("samples"),
        "genre": plan.get("genre") or manifest["score"]["provenance"].get("genre"),
        "bpm": manifest["score"]["bpm"],
        "bars": manifest["score"]["bars"],
        "seed": manifest["seed"],
    }


def write_summary(out: Path, outcomes: list[Outcome]) -> None:
    """``summary.csv`` and ``summary.json`` in ``out``, each written atomically."""
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {k: "" for k in SUMMARY_FIELDS}
        row.update(o.row)
        row.update(name=o.name, status=o.status, seconds=round(o.seconds, 3), error=o.error)
        rows.append(row)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    failed = [r for r in rows if r["status"] == "failed"]
    summary = {
        "items": len(rows),
        "done": sum(r["status"] == "done" for r in rows),
        "skipped": sum(r["status"] == "skipped" for r in rows),
        "failed": len(failed),
        "failures": [{"name": r["name"], "error": r["error"]} for r in failed],
        "rows": rows,
    }
    write_text_atomic(out / "summary.csv", text.getvalue())
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
