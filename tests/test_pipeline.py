"""The one flow behind every front door: a Session loads each model once, reports progress to
whoever asked, and writes the same beat as the one-call API."""

from __future__ import annotations

import numpy as np
import pytest

import audiogen
from audiogen.paths import checkpoints_dir
from audiogen.pipeline import Session


@pytest.fixture
def counted_loads(monkeypatch):
    """How often the planner and the humanizer are loaded from disk."""
    from audiogen.humanize import Humanizer
    from audiogen.planner.generate import Planner

    if not (checkpoints_dir() / "planner" / "planner.safetensors").is_file():
        pytest.skip("no planner checkpoint")
    loads = {"planner": 0, "humanizer": 0}
    for name, cls in (("planner", Planner), ("humanizer", Humanizer)):
        original = cls.load.__func__

        def counting(klass, folder=None, _name=name, _original=original):
            loads[_name] += 1
            return _original(klass, folder)

        monkeypatch.setattr(cls, "load", classmethod(counting))
    return loads


def test_a_session_loads_each_model_once_and_reports_every_step(counted_loads):
    events = []
    session = Session(callback=events.append)
    first = audiogen.generate(genre="house", bars=1, seed=3, session=session)
    second = audiogen.generate(genre="funk", bars=1, seed=4, session=session)
    assert counted_loads == {"planner": 1, "humanizer": 1}
    assert [e.task for e in events[:5]] == [
        "planning", "humanizing", "rendering stems", "mixing and loudness", "done",
    ]  # fmt: skip
    fractions = [e.fraction for e in events[:5]]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert first.score.provenance.genre == "house" and second.score.provenance.genre == "funk"
    alone = audiogen.generate(genre="house", bars=1, seed=3)  # a fresh session, same beat
    assert np.array_equal(alone.mix, first.mix)


def test_a_quantised_beat_never_loads_the_humanizer(counted_loads):
    beat = audiogen.generate(genre="rock", bars=1, humanize=0)
    assert counted_loads["humanizer"] == 0
    assert all(h.offset_ms == 0 for h in beat.score.hits)


def test_a_batch_loads_the_models_once_for_all_its_items(counted_loads, tmp_path):
    from audiogen.batch import _session, load_recipe, run_batch

    _session.cache_clear()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("defaults: {bars: 1}\nmatrix: {genre: [house, trap], seed: [0, 1]}\n")
    events = []
    outcomes = run_batch(load_recipe(recipe, out=tmp_path / "out"), callback=events.append)
    _session.cache_clear()
    assert [o.status for o in outcomes] == ["done"] * 4
    assert counted_loads == {"planner": 1, "humanizer": 1}
    assert [(e.done, e.total) for e in events] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
