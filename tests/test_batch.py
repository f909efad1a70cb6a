"""Batch recipes: a matrix and a list of requests rendered into one folder each, failures listed
without stopping the rest, and resume after a kill with identical files and nothing twice."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audiogen.batch import is_done, load_recipe, run_batch
from audiogen.cli import main
from audiogen.errors import OutputError, RequestError
from audiogen.files import sha256
from audiogen.midi import write_midi


@pytest.fixture
def recipe(tmp_path, tiny_kit, basic_score) -> Path:
    write_midi(basic_score, tmp_path / "beat.mid")
    path = tmp_path / "recipe.yaml"
    path.write_text(
        """
name: tiny-batch
defaults: {kit: tiny, midi: beat.mid, loudness: podcast}
matrix:
  seed: [0, 1, 2]
  preset: [podcast, video]
items:
  - {seed: 9, loudness: -99}   # fails: out of range; the rest still run
""",
        encoding="utf-8",
    )
    return path


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith((".", "summary"))
    }


def test_matrix_and_list_render_with_a_summary_and_failures_listed(recipe, tmp_path):
    loaded = load_recipe(recipe, out=tmp_path / "out")
    names = [item.name for item in loaded.items]
    assert len(names) == 7 and len(set(names)) == 7
    assert names[0] == "0000-loudness-99-seed9"
    outcomes = run_batch(loaded)
    assert [o.status for o in outcomes].count("done") == 6
    assert outcomes[0].status == "failed" and "-99" in outcomes[0].error
    with (tmp_path / "out" / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == names
    done = [r for r in rows if r["status"] == "done"]
    assert all(abs(float(r["integrated_lufs"]) - (-16 if "podcast" in r["name"] else -14)) < 0.5
               for r in done)  # fmt: skip
    assert all(float(r["seconds"]) > 0 and int(r["samples"]) > 0 for r in done)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["failed"] == 1 and summary["failures"][0]["name"] == names[0]
    video = json.loads((tmp_path / "out" / names[2] / "manifest.json").read_text())
    assert video["request"]["loop"] is True
    # Run again: everything is done, nothing is rendered twice.
    again = run_batch(loaded)
    assert [o.status for o in again].count("skipped") == 6


def test_half_done_items_are_redone_and_stale_staging_removed(recipe, tmp_path):
    loaded = load_recipe(recipe, out=tmp_path / "out")
    run_batch(loaded)
    out = tmp_path / "out"
    first, second = loaded.items[1].name, loaded.items[2].name
    (out / first / "mix.wav").write_bytes(b"RIFF broken")  # corrupt
    (out / f".{second}.partial-abc").mkdir()  # what a kill leaves mid-write
    before = _files(out / second)
    outcomes = run_batch(loaded)
    status = {o.name: o.status for o in outcomes}
    assert status[first] == "done" and status[second] == "skipped"
    assert is_done(out / first) and _files(out / second) == before
    assert not any(p.name.startswith(f".{second}.partial") for p in out.iterdir())


def _hold_lock(out: Path, text: str) -> subprocess.Popen:
    """Another batch holding ``out``'s lock (as `audiogen.batch` takes it), its file holding
    ``text``; returns once the lock is held."""
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(out / '.batch.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        f"os.write(fd, {text!r}.encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_batch_on_the_same_folder_is_refused(recipe, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = _hold_lock(out, "12345")  # a live batch holds it
    try:
        with pytest.raises(OutputError, match=r"another batch \(process 12345\)"):
            run_batch(load_recipe(recipe, out=out))
    finally:
        holder.kill()
        holder.wait()
    assert (out / ".batch.lock").exists()  # a dead one's lock, its pid still in it: taken over
    assert len(run_batch(load_recipe(recipe, out=out))) == 7
    assert not (out / ".batch.lock").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items: 3", "items must be a list"),
        ("matrix: {seed: [1, 1]}", "the same request"),
        ("matrix: {seed: [1, 2]}\nname_format: x", "would both be written"),
        ("colour: red", "unknown key 'colour'"),
        ("{{{", "not a readable YAML recipe"),
        ("defaults: {seed: 1}", "no items"),
    ],
)
def test_bad_recipes_get_one_line(tmp_path, text, message, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RequestError, match=message):
        load_recipe(path)
    assert main(["batch", str(path), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("audiogen: error:") and "\n" not in err


def test_killed_batch_resumes_to_the_same_files(recipe, tmp_path):
    reference = tmp_path / "reference"
    run_batch(load_recipe(recipe, out=reference))
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "audiogen", "-q", "batch", str(recipe), "-o", str(out)]
    env = {**os.environ}
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    # Kill it the moment the second item is in place, while the third is being written.
    while time.monotonic() < deadline and process.poll() is None:
        if out.is_dir() and sum(is_done(p) for p in out.iterdir() if p.is_dir()) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert main(["-q", "batch", str(recipe), "-o", str(out)]) == 1  # the bad item still fails
    assert _files(out) == _files(reference)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in reference.iterdir() if not p.name.startswith("."))


def test_shipped_recipes_load_with_every_item_valid():
    recipes = sorted((Path(__file__).resolve().parents[1] / "pipelines").glob("*.yaml"))
    names = {p.stem for p in recipes}
    assert {"video-loops", "podcast-stems"} <= names
    assert {
        f"family-{f}" for f in ("hip-hop", "electronic", "pop", "rock", "jazz", "world")
    } <= names
    for path in recipes:
        recipe = load_recipe(path)
        assert recipe.items and not [i.error for i in recipe.items if i.error], path.name


def test_ray_backend_writes_the_same_files_as_local(recipe, tmp_path):
    pytest.importorskip("ray", reason="ray is optional: pip install 'audiogen[ray]'")
    local = tmp_path / "local"
    run_batch(load_recipe(recipe, out=local))
    remote = tmp_path / "ray"
    outcomes = run_batch(load_recipe(recipe, out=remote), workers=2, backend="ray")
    assert [o.status for o in outcomes].count("done") == 6
    assert _files(remote) == _files(local)


# -- hostile recipes and interrupted batches (issue 16) --------------------------------------


def _recipe(tmp_path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_one_bad_value_fails_only_its_item(tmp_path, tiny_kit):
    path = _recipe(
        tmp_path,
        """
defaults: {kit: tiny, genre: rock, bars: 1}
items:
  - {seed: .inf}
  - {sample_rate: .inf}
  - {mix: 5}
  - {formats: 5}
  - {seed: 7}
""",
    )
    items = load_recipe(path).items
    assert [bool(i.error) for i in items] == [True, True, True, True, False]
    assert not any("internal" in i.error for i in items)
    named = load_recipe(_recipe(tmp_path, 'matrix: {seed: [1, 2]}\nname_format: "{seed.nope}"'))
    assert all("name_format" in i.error for i in named.items)


def test_recipes_are_read_as_yaml_1_2_data(tmp_path, tiny_kit):
    text = "defaults: {genre: rock, kit: tiny, polyrhythm: 3:4, on: snare}\nitems: [{}]"
    path = _recipe(tmp_path, text)
    (item,) = load_recipe(path).items
    assert item.options["polyrhythm"] == "3:4" and item.options["on"] == "snare"
    assert item.error == ""


def test_an_alias_bomb_is_refused_at_once(tmp_path, capsys):
    lines = ["description:", '  - &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 16)]
    lines += ["items: [{prompt: *a15}]"]  # 8 x 4^15 strings once expanded
    path = _recipe(tmp_path, "\n".join(lines))
    started = time.perf_counter()
    assert main(["batch", str(path), "-o", str(tmp_path / "o")]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err.strip()
    assert "aliases" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_generate_only_defaults_do_not_fail_midi_items(tmp_path, tiny_kit, basic_score):
    write_midi(basic_score, tmp_path / "beat.mid")
    path = _recipe(
        tmp_path, "defaults: {kit: tiny, bars: 4, genre: rock}\nitems: [{midi: beat.mid}]"
    )
    (item,) = load_recipe(path).items
    assert item.error == "" and "bars" not in item.options


def test_an_empty_lock_is_held_however_old(recipe, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    holder = _hold_lock(out, "")  # a batch between taking its lock and writing its pid
    old = time.time() - 600
    os.utime(out / ".batch.lock", (old, old))  # and slow about it: still held
    try:
        with pytest.raises(OutputError, match="another batch"):
            run_batch(load_recipe(recipe, out=out))
        assert (out / ".batch.lock").exists()
    finally:
        holder.kill()
        holder.wait()


def test_racing_batches_take_a_dead_batchs_lock_once(tmp_path):
    # Eight batches start at the same moment on a folder whose lock a killed batch left: one
    # takes it, the others are refused (three folders, one round each).
    folders = [tmp_path / f"o{r}" for r in range(3)]
    for folder in folders:
        folder.mkdir()
        (folder / ".batch.lock").write_text("999999999")
    code = f"""
import sys, time
from pathlib import Path
from audiogen.batch import _lock
from audiogen.errors import OutputError
start = float(sys.argv[1])
for r, folder in enumerate({[str(f) for f in folders]!r}):
    time.sleep(max(0.0, start + 1.5 * r - time.time()))
    try:
        with _lock(Path(folder)):
            print("took", end=" ", flush=True)
            time.sleep(max(0.0, start + 1.5 * r + 1.0 - time.time()))
    except OutputError:
        print("refused", end=" ", flush=True)
"""
    start = time.time() + 3.0
    argv = [sys.executable, "-c", code, str(start)]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(8)]
    said = [run.communicate(timeout=60)[0].split() for run in runs]
    for r in range(3):
        assert sorted(words[r] for words in said) == ["refused"] * 7 + ["took"]


def test_workers_die_with_their_batch(tmp_path):
    # A "batch" that starts a worker (initialised as the pool does) and is then killed -9.
    pid_file = tmp_path / "worker.pid"
    code = f"""
import multiprocessing as mp, os, time
from audiogen.batch import die_with_parent

def work(parent, path):
    die_with_parent(parent)
    open(path, "w").write(str(os.getpid()))
    time.sleep(60)

if __name__ == "__main__":
    mp.get_context("spawn").Process(target=work, args=(os.getpid(), {str(pid_file)!r})).start()
    time.sleep(60)
"""
    script = tmp_path / "batch.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.time() < deadline and parent.poll() is None
        time.sleep(0.1)
    worker = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the worker outlived its batch")


def test_ray_that_cannot_start_is_one_line_and_leaves_no_folder(
    recipe, tmp_path, monkeypatch, capsys
):
    import types

    def init(**kwargs):
        raise RuntimeError("Failed to start the raylet\nmore detail")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setitem(sys.modules, "ray", fake)
    out = tmp_path / "o"
    assert main(["batch", str(recipe), "-o", str(out), "--backend", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Ray could not start (Failed to start the raylet)" in err and "\n" not in err
    assert not out.exists()


def test_a_ray_address_nothing_answers_at_is_one_line_at_once(recipe, tmp_path, capsys):
    pytest.importorskip("ray")
    out = tmp_path / "o"
    started = time.monotonic()
    code = main(["batch", str(recipe), "-o", str(out), "--backend", "ray",
                 "--address", "127.0.0.1:9"])  # fmt: skip
    assert code == 2 and time.monotonic() - started < 60  # ray.init would retry for minutes
    err = capsys.readouterr().err.strip()
    assert "no Ray cluster answers at 127.0.0.1:9" in err and "\n" not in err
    assert not out.exists()
