"""Batch benchmark: a 200-item batch killed at random moments, resumed, and compared file by file
with an uninterrupted run; throughput with one and two workers, local and Ray.

    python benchmarks/bench_batch.py                    # 200 items, 5 kills, 2 workers
    python benchmarks/bench_batch.py --items 40 --kills 2 --throughput-items 20

1. reference: the recipe run once, uninterrupted (``audiogen batch``, ``--workers N``);
2. kill test: the same recipe into a fresh folder, its whole process group SIGKILLed
   ``--kills`` times at random points spread over the batch (after a random number of finished
   items plus a random fraction of an item), then run to the end; then every item must be there
   once, whole (manifest checksums), byte-identical to the reference, nothing else left behind;
3. throughput: items per second on a smaller recipe with 1 and 2 workers, local and (when ray is
   installed) Ray, whose files must equal the local ones.
Prints Markdown; writes benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe_machine

REPO = Path(__file__).resolve().parents[1]
GENRES = ("house", "trap", "rock", "lofi")


def recipe(folder: Path, items: int) -> Path:
    seeds = -(-items // len(GENRES))
    path = folder / f"bench-{items}.yaml"
    path.write_text(
        "name: bench\n"
        "defaults: {bars: 1, formats: wav}\n"
        f"matrix:\n  genre: [{', '.join(GENRES)}]\n  seed: {list(range(seeds))}\n",
        encoding="utf-8",
    )
    return path


def run(recipe_path: Path, out: Path, workers: int, backend: str = "local") -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "audiogen", "-q", "batch", str(recipe_path), "-o", str(out)]
    command += ["--workers", str(workers), "--backend", backend]
    subprocess.run(command, check=False, start_new_session=True)
    return time.perf_counter() - started


def files(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith((".", "summary")):
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--throughput-items", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7, help="for the kill moments")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "batch.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    result: dict = {
        "machine": describe_machine(),
        "items": args.items,
        "workers": args.workers,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        big = recipe(tmp_path, args.items)
        reference = tmp_path / "reference"
        result["reference_s"] = run(big, reference, args.workers)
        print(f"reference: {result['reference_s']:.0f} s", flush=True)

        killed = tmp_path / "killed"
        moments = []
        # Kill points spread over the batch: a random number of finished items for each kill
        # (sorted), then a random delay of up to two items' time, so the kill lands mid-item.
        per_item_s = result["reference_s"] / args.items * args.workers
        targets = sorted(rng.randrange(1, args.items) for _ in range(args.kills))
        for k, target in enumerate(targets):
            command = [sys.executable, "-m", "audiogen", "-q", "batch", str(big), "-o", str(killed)]
            command += ["--workers", str(args.workers)]
            started = time.perf_counter()
            process = subprocess.Popen(command, start_new_session=True)
            while process.poll() is None and _done(killed) < target:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 2.0 * per_item_s))
            done_before = _done(killed)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            moment = time.perf_counter() - started
            moments.append({"after_s": round(moment, 2), "items_done_at_kill": done_before})
            print(f"kill {k + 1}: after {moment:.1f} s, {done_before} items done", flush=True)
        result["kills"] = moments
        result["resume_s"] = run(big, killed, args.workers)
        ref_files, got_files = files(reference), files(killed)
        items_ref = sorted(p.name for p in reference.iterdir() if not p.name.startswith("."))
        items_got = sorted(p.name for p in killed.iterdir() if not p.name.startswith("."))
        leftovers = [p.name for p in killed.iterdir() if ".partial-" in p.name or ".old-" in p.name]
        summary = json.loads((killed / "summary.json").read_text())
        result["kill_test"] = {
            "items_expected": args.items,
            "item_folders": len([n for n in items_got if not n.startswith("summary")]),
            "same_item_names": items_got == items_ref,
            "all_whole": summary["failed"] == 0
            and summary["done"] + summary["skipped"] == args.items,
            "identical_files": ref_files == got_files,
            "files_compared": len(ref_files),
            "files_differing": sum(ref_files.get(k) != v for k, v in got_files.items()),
            "leftovers": leftovers,
        }
        print(json.dumps(result["kill_test"]), flush=True)

        small = recipe(tmp_path, args.throughput_items)
        throughput = {}
        backends = ["local"]
        try:
            import ray  # noqa: F401

            backends.append("ray")
        except ImportError:
            result["ray"] = "not installed"
        outputs = {}
        for backend in backends:
            for workers in (1, 2):
                out = tmp_path / f"tp-{backend}-{workers}"
                seconds = run(small, out, workers, backend)
                throughput[f"{backend}-{workers}"] = {
                    "seconds": round(seconds, 1),
                    "items_per_s": round(args.throughput_items / seconds, 3),
                }
                outputs[f"{backend}-{workers}"] = files(out)
                print(f"{backend} x{workers}: {seconds:.0f} s", flush=True)
        result["throughput"] = throughput
        first = outputs["local-1"]
        result["identical_across_runs"] = {key: value == first for key, value in outputs.items()}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(markdown(result))


def _done(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def markdown(r: dict) -> str:
    k = r["kill_test"]
    lines = [
        "| measure | result |",
        "|---|---|",
        f"| items present once after {len(r['kills'])} kills and a resume | "
        f"{k['item_folders']}/{k['items_expected']} |",
        f"| all whole (manifest checksums), none failed | {k['all_whole']} |",
        f"| files identical to the uninterrupted run | {k['identical_files']} "
        f"({k['files_compared']} files, {k['files_differing']} differ) |",
        f"| half-written leftovers | {len(k['leftovers'])} |",
        f"| uninterrupted run, {r['workers']} workers | {r['reference_s']:.0f} s |",
    ]
    for key, value in r["throughput"].items():
        lines.append(
            f"| throughput {key} | {value['items_per_s']:.2f} items/s ({value['seconds']} s) |"
        )
    lines.append(
        f"| same files for every backend and worker count | {r['identical_across_runs']} |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
