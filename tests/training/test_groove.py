"""The Groove MIDI Dataset as training material: every performance loaded, quantised on the grid
near where it was played, with a feel that follows the music."""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path

from audiogen.planner.bars import Phrase, phrase_to_score
from audiogen.planner.feel import FINE_GRIDS, grid_ticks
from audiogen.training.groove import load_groove


@lru_cache(maxsize=1)
def _groove(root: Path) -> tuple[Phrase, ...]:
    return tuple(load_groove(root))


def test_groove_loads_every_performance(groove_dir):
    phrases = _groove(groove_dir)
    assert len(phrases) == 1150
    assert Counter(p.split for p in phrases) == {"train": 897, "validation": 124, "test": 129}
    with (groove_dir / "info.csv").open(newline="") as f:
        styles = {row["style"] for row in csv.DictReader(f)}
    from audiogen.planner.genres import GROOVE_GENRES

    assert styles == set(GROOVE_GENRES)  # every style string has a documented mapping
    mapped = sum(p.genre is not None for p in phrases)
    assert mapped >= 0.95 * len(phrases)
    assert load_groove(groove_dir, splits=("validation",)) == [
        p for p in phrases if p.split == "validation"
    ]


def test_groove_hits_sit_on_the_grid_near_where_they_were_played(groove_dir):
    total = near = main = 0
    for p in _groove(groove_dir):
        grid = grid_ticks(p.feel)
        half_step_ms = grid / 2 * 60_000.0 / (p.bpm * 24)
        for bar in p.bars:
            for h in bar:
                total += 1
                assert 0 <= h.position < p.meter.ticks_per_bar
                assert any(h.position % g == 0 for g in (grid, *FINE_GRIDS)), (p.source, h)
                assert 1 <= h.velocity <= 127
                main += h.position % grid == 0
                near += abs(h.offset_ms) < half_step_ms
    assert total > 400_000
    assert near >= 0.99 * total
    assert main >= 0.9 * total


def test_groove_feel_follows_the_music(groove_dir):
    phrases = _groove(groove_dir)
    swung = [p.feel != "straight" for p in phrases
             if p.style in ("jazz", "jazz/swing", "blues/shuffle", "rock/shuffle")]  # fmt: skip
    assert sum(swung) >= 0.75 * len(swung)
    rock = [p.feel == "straight" for p in phrases if p.style.startswith("rock")]
    assert sum(rock) >= 0.6 * len(rock)
    for p in phrases:
        assert p.feel in ("straight", "swing8", "swing16", "triplet")
        assert (p.swing == 0.5) == (p.feel == "straight")
        assert 0.5 <= p.swing <= 0.75
    score = phrase_to_score(phrases[0])
    assert score.provenance.source == phrases[0].source


def test_groove_parses_a_fresh_dataset_and_reads_it_back_from_its_cache(
    tmp_path, monkeypatch, basic_score
):
    """A machine without the parse cache reads every MIDI file (the first training run there),
    writes the cache, and the next load gives the same phrases from it."""
    from audiogen.midi import write_midi

    root = tmp_path / "groove"
    root.mkdir()
    fields = ["id", "split", "style", "beat_type", "midi_filename"]
    rows = [
        {"id": f"drummer1/session1/{i}", "split": split, "style": "rock",
         "beat_type": "beat", "midi_filename": f"take{i}.mid"}
        for i, split in enumerate(("train", "validation"))
    ]  # fmt: skip
    with (root / "info.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        write_midi(basic_score, root / row["midi_filename"])
    (root / "MANIFEST.sha256").write_text("fixture\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    parsed = load_groove(root)
    assert [p.source for p in parsed] == [f"groove:{row['id']}" for row in rows]
    assert all(sum(map(len, p.bars)) == len(basic_score.hits) for p in parsed)
    assert list((tmp_path / "cache" / "audiogen").glob("groove-*.npz"))
    assert load_groove(root) == parsed
