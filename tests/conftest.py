"""Shared fixtures: tiny scores made in the test, the location of the shared datasets, and a
real server for the tests that need one."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from audiogen.score import DrumScore, Hit, Meter, Section

REPO = Path(__file__).resolve().parents[1]
# The neural renderer's tests need audiocraft's stack, which `./install.sh --core` and a plain
# `pip install audiogen` leave out: without it they are not collected.
collect_ignore = [] if importlib.util.find_spec("audiocraft") else [
    "codec", "renderers/test_neural.py"
]  # fmt: skip
GROOVE = REPO.parent / "shared" / "datasets" / "groove"


@pytest.fixture(scope="session")
def benchmark_script() -> Callable[[str], ModuleType]:
    """Loads ``benchmarks/<name>.py`` as a module (its measures are tested on audio whose
    answers are known); the test is skipped where the benchmarks are not beside the package."""

    def load(name: str) -> ModuleType:
        path = REPO / "benchmarks" / f"{name}.py"
        if not path.exists():
            pytest.skip("the benchmarks are not beside the package")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Resampled one-shots go to a cache of the test run's own, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDIOGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    """The ASGI ``app`` served by uvicorn on a free port of 127.0.0.1, in this process; its
    URL. It stops when the block ends."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def serving() -> Callable[[Any], contextlib.AbstractContextManager[str]]:
    """``with serving(app) as url:``: a real server, where a test client is not enough (a
    browser, a socket)."""
    return _serving


@pytest.fixture
def groove_dir() -> Path:
    """The Groove MIDI Dataset as CI lays it beside the repo (../shared)."""
    if not GROOVE.is_dir():
        pytest.skip("the shared Groove MIDI Dataset is not beside the repo")
    return GROOVE


@pytest.fixture
def basic_score() -> DrumScore:
    """Two bars of a rock beat with an open hat choked by a closed one, and sections."""
    hits = []
    for bar in range(2):
        base = bar * 96
        for step in range(8):
            hits.append(Hit(base + step * 12, "hat_closed", 90 if step % 2 == 0 else 60))
        hits += [Hit(base, "kick", 120), Hit(base + 48, "kick", 100)]
        hits += [Hit(base + 24, "snare", 118, 3.0), Hit(base + 72, "snare", 112, -2.0)]
    hits.append(Hit(90, "hat_open", 100))
    hits.append(Hit(0, "crash", 110))
    return DrumScore(
        bpm=120.0,
        meter=Meter(4, 4),
        bars=2,
        hits=tuple(h for h in hits if not (h.tick == 96 and h.instrument == "hat_closed")),
        sections=(Section("verse", 0, 1, 0.4), Section("chorus", 1, 1, 0.8)),
    )


def _decay(n: int, freq_hz: float, sample_rate: int = 48000, level: float = 0.8):
    import numpy as np

    t = np.arange(n) / sample_rate
    # always above zero, so a test can find where each hit starts
    return (level * np.exp(-t * 30) * (0.6 + 0.4 * np.cos(2 * np.pi * freq_hz * t))).astype(
        "float32"
    )


def _ring(n: int, freq_hz: float, sample_rate: int = 48000):
    import numpy as np

    t = np.arange(n) / sample_rate
    return (0.5 * np.exp(-t * 2) * np.sin(2 * np.pi * freq_hz * t + 0.3)).astype("float32")


@pytest.fixture
def tiny_kit(tmp_path, monkeypatch):
    """A three-piece kit written in the test: kick (two velocity layers), snare, and a long open
    hat plus a closed hat, so layers, chokes and fallbacks can be checked. Returns the Kit."""
    import soundfile as sf

    from audiogen.kits import load_kit

    folder = tmp_path / "samples" / "kits" / "tiny"
    folder.mkdir(parents=True)
    sounds = {
        "kick_soft.flac": _decay(4800, 60, level=0.3),
        "kick_hard.flac": _decay(4800, 90, level=0.9),
        "snare.flac": _decay(4800, 200),
        "snare_b.flac": _decay(4800, 210),
        "hat_open.flac": _ring(48000, 3000),  # rings a full second
        "hat_closed.flac": _decay(2400, 5000, level=0.5),
    }
    for name, audio in sounds.items():
        sf.write(folder / name, audio, 48000, subtype="PCM_24")
    (folder / "kit.toml").write_text(
        """name = "tiny"
title = "Tiny test kit"
description = "made by the tests"
style = "electronic"
source = "tests/conftest.py"
license = "CC0-1.0"

[instruments.kick]
layers = [
  { velocity = 64, files = ["kick_soft.flac"] },
  { velocity = 127, files = ["kick_hard.flac"] },
]
[instruments.snare]
gain_db = -3.0
layers = [{ velocity = 127, files = ["snare.flac", "snare_b.flac"] }]
[instruments.hat_open]
layers = [{ velocity = 127, files = ["hat_open.flac"] }]
[instruments.hat_closed]
layers = [{ velocity = 127, files = ["hat_closed.flac"] }]
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDIOGEN_SAMPLES", str(tmp_path / "samples"))
    return load_kit("tiny")
