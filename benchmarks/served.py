"""A real `audiogen serve` for the serve benchmark: started in its own process on 127.0.0.1,
called over HTTP, its memory and its folder measured."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # the local server only: this is no tool to load anyone else's
START_S = 300.0  # for the server to load its models on a busy machine


def call(
    port: int, method: str, path: str, body: Any = None, raw: bool = False
) -> tuple[int, Any, float, dict]:
    """One HTTP request on a fresh connection: status, the JSON answer (the bytes with ``raw``,
    or for an answer that is no JSON), seconds, headers."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        data = body if isinstance(body, str) else None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        answer = conn.getresponse()
        data_in = answer.read()
        headers_out = {k.lower(): v for k, v in answer.getheaders()}
        try:
            json_type = "json" in headers_out.get("content-type", "")
            parsed = json.loads(data_in) if json_type and not raw else data_in
        except ValueError:
            parsed = data_in
        return answer.status, parsed, time.perf_counter() - started, headers_out
    finally:
        conn.close()


class Server:
    """`audiogen serve` in its own process group, with its RSS sampled while it runs."""

    def __init__(self, out: Path, ttl_s: float, workers: int) -> None:
        self.out, self.ttl_s, self.workers = out, ttl_s, workers
        self.port = free_port()
        self.peak_rss = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        command = [sys.executable, "-m", "audiogen", "-q", "serve", "--port", str(self.port),
                   "--out", str(self.out), "--ttl", str(self.ttl_s),
                   "--workers", str(self.workers)]  # fmt: skip
        started = time.perf_counter()
        self.process = subprocess.Popen(command, start_new_session=True, cwd=REPO)
        threading.Thread(target=self._sample, args=(self.process,), daemon=True).start()
        while time.perf_counter() - started < START_S:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}")
            try:
                if call(self.port, "GET", "/v1/kits")[0] == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not answer")

    def _sample(self, process: subprocess.Popen) -> None:
        while process.poll() is None:
            self.peak_rss = max(self.peak_rss, rss_bytes(process.pid))
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """The resident memory of ``pid`` and its children (Linux)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def disk_bytes(folder: Path) -> tuple[int, int]:
    """Bytes under ``folder`` and the job folders in it."""
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    jobs = sum(1 for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return size, jobs
