"""Serve benchmark: a bounded load test against a real `audiogen serve` on 127.0.0.1, then the
server killed with SIGKILL mid-job and restarted on the same folder.

    nice -n 15 python benchmarks/bench_serve.py                  # 8 then 32 clients, 60 s each
    nice -n 15 python benchmarks/bench_serve.py --quick          # a smoke run: 2 then 4, 8 s
    nice -n 15 python benchmarks/bench_serve.py --duration 30 --clients 8 32 --ttl 15

1. load: for each client count, that many threads for ``--duration`` seconds, each looping over
   a mix of valid beats (1-2 bars, a genre or a sentence, a random seed: submitted, then polled
   until done), invalid requests (bad values, a body that is no JSON, unknown beats) and polls;
   a 429 is honoured (its Retry-After). Measured: beats finished per minute, p50/p95 of a beat's
   time from submit to done and of every HTTP answer, the status codes (5xx must be 0), the
   server's peak RSS, and the disk its folder takes at the end and once the TTL has passed;
2. the same valid requests as one `audiogen batch` recipe with as many workers as the server
   has: its beats per minute (its start included);
3. kill test: beats submitted, the server SIGKILLed while one runs, restarted on the same
   ``--out``: every beat must be done (each file served whole: size and SHA-256 of its manifest)
   or failed (no file served), nothing half-written left in the folder.
Writes benchmarks/results/serve.json after every step (a killed run still leaves numbers) and
prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from machine import describe_machine
from served import Server, call, disk_bytes

REPO = Path(__file__).resolve().parents[1]
SENTENCES = ("chill lofi beat", "bouncy house groove", "dark trap beat", "driving rock beat")
INVALID = (
    ("POST", "/v1/beats", {"bpm": "fast"}, 422),
    ("POST", "/v1/beats", {"kit": "tin-cans"}, 422),
    ("POST", "/v1/beats", {"bars": 0}, 422),
    ("POST", "/v1/beats", "{not json", 422),
    ("GET", "/v1/beats/0123456789abcdef", None, 404),
    ("GET", "/v1/beats/0123456789abcdef/files/mix.wav", None, 404),
)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def valid_request(rng: random.Random, genres: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"bars": rng.choice((1, 2)), "seed": rng.randrange(2**31)}
    if rng.random() < 0.3:
        body["prompt"] = rng.choice(SENTENCES)
    else:
        body["genre"] = rng.choice(genres)
    body["formats"] = ["wav"]
    return body


def load(port: int, clients: int, duration_s: float, genres: list[str], seed: int) -> dict:
    """``clients`` threads for ``duration_s``; what they saw."""
    lock = threading.Lock()
    statuses: dict[str, int] = {}
    answers: list[float] = []
    beats: list[float] = []
    done_requests: list[dict] = []
    wrong: list[str] = []
    finished_in_window = [0]
    started = time.perf_counter()
    end = started + duration_s

    def note(status: int, seconds: float) -> None:
        with lock:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            answers.append(seconds)

    def client(index: int) -> None:
        rng = random.Random(seed * 1_000_000 + clients * 1000 + index)
        while time.perf_counter() < end:
            roll = rng.random()
            if roll < 0.25:
                method, path, body, expected = rng.choice(INVALID)
                status, _, seconds, _ = call(port, method, path, body)
                note(status, seconds)
                if status != expected:
                    with lock:
                        wrong.append(f"{method} {path} {body!r}: {status}, not {expected}")
                continue
            body = valid_request(rng, genres)
            submitted = time.perf_counter()
            status, job, seconds, headers = call(port, "POST", "/v1/beats", body)
            note(status, seconds)
            if status == 429:
                wait = float(headers.get("retry-after", "1"))
                time.sleep(min(wait, max(0.0, end - time.perf_counter())))
                continue
            if status != 202:
                with lock:
                    wrong.append(f"POST /v1/beats {body!r}: {status}")
                continue
            path = job["url"].split(str(port), 1)[1]
            while job["status"] in ("queued", "running"):
                time.sleep(0.25)
                status, job, seconds, _ = call(port, "GET", path)
                note(status, seconds)
                if status != 200:
                    break
            if status == 200 and job["status"] == "done":
                ended = time.perf_counter()
                with lock:
                    beats.append(ended - submitted)
                    done_requests.append(body)
                    finished_in_window[0] += ended <= end
            else:
                with lock:
                    wrong.append(f"beat {body!r}: {status} {job.get('error') if job else ''}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    five_xx = sum(n for code, n in statuses.items() if code.startswith("5"))
    return {
        "clients": clients,
        "duration_s": duration_s,
        "beats_done": len(beats),
        "beats_done_in_window": finished_in_window[0],
        "beats_per_min": round(finished_in_window[0] / duration_s * 60, 1),
        "beat_p50_s": _round(percentile(beats, 0.5)),
        "beat_p95_s": _round(percentile(beats, 0.95)),
        "answer_p50_ms": _round(_ms(percentile(answers, 0.5))),
        "answer_p95_ms": _round(_ms(percentile(answers, 0.95))),
        "requests": len(answers),
        "statuses": dict(sorted(statuses.items())),
        "5xx": five_xx,
        "unexpected": wrong[:20],
        "unexpected_count": len(wrong),
        "valid_requests": done_requests,
    }


def warm_up(port: int, workers: int, genres: list[str]) -> list[float]:
    """One beat per worker first: a worker's first beat loads what its models and kits need,
    which the load phases should not count. Their times, for the record."""
    rng = random.Random(0)
    started = time.perf_counter()
    ids = [call(port, "POST", "/v1/beats", valid_request(rng, genres))[1]["id"] for _ in
           range(workers)]  # at once, so that each worker takes one  # fmt: skip
    times = []
    for job_id in ids:
        status, job, _, _ = call(port, "GET", f"/v1/beats/{job_id}")
        while job["status"] in ("queued", "running"):
            time.sleep(0.2)
            status, job, _, _ = call(port, "GET", f"/v1/beats/{job_id}")
        assert job["status"] == "done", job
        times.append(round(time.perf_counter() - started, 1))
    return times


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def batch_rate(requests: list[dict], folder: Path, workers: int) -> dict:
    """The same requests as one `audiogen batch` recipe: beats per minute with its start (the
    worker processes load their models) and without (its items' own seconds)."""
    unique = list({json.dumps(r, sort_keys=True): r for r in requests}.values())
    folder.mkdir()
    recipe = folder / "same.yaml"
    recipe.write_text(json.dumps({"name": "same", "items": unique}), encoding="utf-8")
    command = [sys.executable, "-m", "audiogen", "-q", "batch", str(recipe),
               "-o", str(folder / "batch"), "--workers", str(workers)]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    summary = json.loads((folder / "batch" / "summary.json").read_text())
    busy = sum(row["seconds"] for row in summary["rows"]) / workers
    return {"items": len(unique), "done": summary["done"], "seconds": round(seconds, 2),
            "beats_per_min": round(summary["done"] / seconds * 60, 1),
            "beats_per_min_without_start": round(summary["done"] / busy * 60, 1),
            "load_average": os.getloadavg()[0]}  # fmt: skip


def kill_test(out: Path, workers: int, genres: list[str]) -> dict:
    """Beats submitted, the server SIGKILLed while one runs, restarted on the same folder (with
    a TTL long enough that none expires meanwhile)."""
    ttl_s = 3600.0
    rng = random.Random(3)
    server = Server(out, ttl_s, workers)
    server.start()
    ids = []
    for _ in range(2 * workers + 2):
        body = {**valid_request(rng, genres), "bars": 8}  # long enough to be caught running
        status, job, _, _ = call(server.port, "POST", "/v1/beats", body)
        if status == 202:
            ids.append(job["id"])
    # Once a beat is done, the kill waits for the next one to be half-written: its staging
    # folder there, not yet renamed into place (within a minute; else it lands mid-job).
    states: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "done" not in states:
        states = [call(server.port, "GET", f"/v1/beats/{i}")[1]["status"] for i in ids]
        time.sleep(0.05)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not staging(out):
        time.sleep(0.002)
    server.kill()
    staging_at_kill = staging(out)
    at_kill = dict(zip(ids, states))  # as last polled, before the wait for a staging folder
    again = Server(out, ttl_s, workers)
    restart_s = again.start()
    result: dict[str, Any] = {"jobs": len(ids), "states_before_kill": sorted(states),
                              "staging_folders_at_kill": len(staging_at_kill),
                              "restart_s": round(restart_s, 1)}  # fmt: skip
    done = failed = 0
    bad: list[str] = []
    for job_id in ids:
        status, job, _, _ = call(again.port, "GET", f"/v1/beats/{job_id}")
        if status != 200:
            bad.append(f"{job_id}: {status}")
            continue
        if job["status"] == "done":
            done += 1
            manifest = call(again.port, "GET", f"/v1/beats/{job_id}/files/manifest.json")[1]
            for name, entry in manifest["files"].items():
                path = f"/v1/beats/{job_id}/files/{name}"
                code, data, _, _ = call(again.port, "GET", path, raw=True)
                whole = len(data) == entry["bytes"] and (
                    hashlib.sha256(data).hexdigest() == entry["sha256"]
                )
                if code != 200 or not whole:
                    bad.append(f"{job_id}/{name}: {code}, not whole")
        elif job["status"] == "failed":
            failed += 1
            code = call(again.port, "GET", f"/v1/beats/{job_id}/files/mix.wav")[0]
            if job["files"] or code != 409:
                bad.append(f"{job_id}: failed, yet serves files ({code})")
        else:
            bad.append(f"{job_id}: {job['status']} after the restart (was {at_kill[job_id]})")
    result.update(
        done=done,
        failed=failed,
        problems=bad,
        staging_folders_after_restart=len(staging(out)),
    )
    again.stop()
    return result


def staging(out: Path) -> list[str]:
    """The half-written beat folders in ``out`` (a beat is written beside, then renamed)."""
    return [p.name for p in out.iterdir() if ".partial-" in p.name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per client count")
    parser.add_argument("--ttl", type=float, default=20.0, help="the server's --ttl (seconds)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 then 4 clients, 8 s")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "serve.json"))
    args = parser.parse_args()
    if args.quick:
        args.clients, args.duration, args.ttl = [2, 4], 8.0, 6.0
    load_at_start = os.getloadavg()[0]
    result: dict[str, Any] = {
        "machine": describe_machine(),
        "command": " ".join(["python", "benchmarks/bench_serve.py", *sys.argv[1:]]),
        "workers": args.workers,
        "ttl_s": args.ttl,
        "niceness": os.nice(0),
    }

    def save() -> None:
        result["machine"] = describe_machine(load_at_start=load_at_start)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = folder / "serve"
        server = Server(out, args.ttl, args.workers)
        try:
            result["start_s"] = round(server.start(), 1)
            genres = [g["name"] for g in call(server.port, "GET", "/v1/genres")[1]]
            result["first_beats_s"] = warm_up(server.port, args.workers, genres)
            save()
            for clients in args.clients:
                phase = load(server.port, clients, args.duration, genres, args.seed)
                phase["load_average"] = os.getloadavg()[0]
                phase["disk_bytes_at_end"], phase["job_folders_at_end"] = disk_bytes(out)
                result.setdefault("load", []).append(phase)
                result["peak_rss_bytes"] = server.peak_rss
                save()
                # at once, so that the machine's other load is about the same (the server idles)
                requests = phase.pop("valid_requests")
                phase["batch"] = batch_rate(requests, folder / f"batch-{clients}", args.workers)
                print(json.dumps({k: v for k, v in phase.items() if k != "unexpected"}), flush=True)
                save()
            # the sweep looks every TTL/4: after TTL and one more look, nothing is left
            time.sleep(args.ttl * 1.25 + 2)
            size, jobs = disk_bytes(out)
            result["after_ttl"] = {"disk_bytes": size, "job_folders": jobs}
            result["peak_rss_bytes"] = server.peak_rss
            save()
        finally:
            server.stop()
        result["kill_test"] = kill_test(folder / "killed", args.workers, genres)
        print(json.dumps(result["kill_test"]), flush=True)
        save()
    print(table(result))


def table(result: dict) -> str:
    rows = ["| measure | " + " | ".join(f"{p['clients']} clients" for p in result["load"]) + " |",
            "|---" * (len(result["load"]) + 1) + "|"]  # fmt: skip

    def row(name: str, cell: Any) -> None:
        rows.append(f"| {name} | " + " | ".join(str(cell(p)) for p in result["load"]) + " |")

    def statuses(p: dict) -> str:
        return ", ".join(f"{code}: {n}" for code, n in p["statuses"].items())

    row(
        "beats finished (per minute)",
        lambda p: f"{p['beats_done_in_window']} ({p['beats_per_min']})",
    )
    row(
        "beat, submit to done: p50 / p95",
        lambda p: f"{p['beat_p50_s']:.1f} / {p['beat_p95_s']:.1f} s",
    )
    row(
        "HTTP answer: p50 / p95",
        lambda p: f"{p['answer_p50_ms']:.0f} / {p['answer_p95_ms']:.0f} ms",
    )
    row("requests (by status)", lambda p: f"{p['requests']} ({statuses(p)})")
    row(
        "`audiogen batch`, same requests: beats/min (without its start)",
        lambda p: f"{p['batch']['beats_per_min']} ({p['batch']['beats_per_min_without_start']})",
    )
    row("load average (1 min) after the phase / the batch", lambda p: f"{p['load_average']:.1f} / "
        f"{p['batch']['load_average']:.1f}")  # fmt: skip
    row("5xx", lambda p: p["5xx"])
    row("unexpected answers", lambda p: p["unexpected_count"])
    row("disk at the end of the phase", lambda p: f"{p['disk_bytes_at_end'] / 1e6:.1f} MB, "
        f"{p['job_folders_at_end']} beats")  # fmt: skip
    kill = result["kill_test"]
    lines = [
        *rows,
        "",
        f"- server: {result['workers']} workers, up in {result['start_s']} s, first beats (one "
        f"per worker, not counted above) {result['first_beats_s']} s",
        f"- peak server RSS: {result['peak_rss_bytes'] / 2**20:.0f} MiB",
        f"- disk after the TTL ({result['ttl_s']:g} s): {result['after_ttl']['disk_bytes']} bytes, "
        f"{result['after_ttl']['job_folders']} beats",
        f"- kill test: {kill['jobs']} beats, SIGKILL (states just before: "
        f"{kill['states_before_kill']}, staging folders at the kill: "
        f"{kill['staging_folders_at_kill']}); after the "
        f"restart ({kill['restart_s']} s) {kill['done']} done (every file whole), "
        f"{kill['failed']} failed (no file served), problems: {kill['problems'] or 'none'}, "
        f"staging folders left: {kill['staging_folders_after_restart']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
