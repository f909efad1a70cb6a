"""Shared fixtures: tiny scores made in the test, and the location of the shared datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiogen.score import DrumScore, Hit, Meter, Section

REPO = Path(__file__).resolve().parents[1]
GROOVE = REPO.parent / "shared" / "datasets" / "groove"


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
