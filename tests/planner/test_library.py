"""The style library: every pattern reads as a valid phrase, and its variations stay musical."""

from __future__ import annotations

from collections import Counter

import pytest

from audiogen.errors import ScoreError
from audiogen.instruments import GROUP_OF
from audiogen.planner.bars import Phrase, phrase_to_score
from audiogen.planner.feel import FINE_GRIDS, grid_ticks
from audiogen.planner.genres import GENRES
from audiogen.planner.library import _library_tempi, _read_style_file, library_files, load_library


@pytest.fixture(scope="module")
def library() -> list[Phrase]:
    return load_library()


def _lane(bar, instrument: str) -> list[int]:
    return [h.position for h in bar if h.instrument == instrument]


def test_every_genre_has_a_style_file_with_beats_and_a_fill(library):
    assert {p.stem for p in library_files()} == set(GENRES)
    kinds = Counter((p.genre, p.kind) for p in library)
    for genre in GENRES:
        assert kinds[(genre, "beat")] >= 3, genre
        assert kinds[(genre, "fill")] >= 1, genre


def test_patterns_fit_their_meter_and_use_known_instruments(library):
    for p in library:
        assert p.split == "train" and p.source == f"library:{p.style}"
        assert p.bars and all(p.bars), p.style
        for bar in p.bars:
            assert [(h.position, h.instrument) for h in bar] == sorted(
                (h.position, h.instrument) for h in bar
            )
            for h in bar:
                assert h.instrument in GROUP_OF
                assert 0 <= h.position < p.meter.ticks_per_bar
                assert any(h.position % g == 0 for g in (grid_ticks(p.feel), *FINE_GRIDS))
                assert h.velocity in (118, 96, 72, 40) and h.offset_ms == 0.0
        low, high = GENRES[p.genre].bpm_range
        assert low <= p.bpm <= high
        assert low <= _library_tempi()[p.source][0] <= _library_tempi()[p.source][1] <= high
        score = phrase_to_score(p)  # a valid DrumScore
        assert score.bars == len(p.bars) and score.provenance.genre == p.genre


def test_genre_signatures(library):
    by = {p.style: p for p in library}
    for p in library:
        if p.genre == "house":  # four on the floor, fills included
            for bar in p.bars:
                assert set(range(0, 96, 24)) <= set(_lane(bar, "kick")), p.style
        if p.genre == "afro-cuban":
            assert str(p.meter) in ("6/8", "12/8"), p.style
    for bar in by["trap/main"].bars:  # half time: the backbeat on beat 3
        assert 48 in _lane(bar, "clap") + _lane(bar, "snare")
        assert 24 not in _lane(bar, "clap") + _lane(bar, "snare")
    dembow = by["reggaeton/dembow"].bars[0]
    assert _lane(dembow, "kick") == [0, 24, 48, 72]
    assert _lane(dembow, "snare") == [18, 36, 66, 84]
    one_drop = by["reggae/one-drop"].bars[0]
    assert _lane(one_drop, "kick") == [48] and _lane(one_drop, "rim") == [48]
    bembe = by["afro-cuban/bembe"]
    bell = [h.position + i * 72 for i, bar in enumerate(bembe.bars) for h in bar
            if h.instrument == "cowbell"]  # fmt: skip
    assert bell == [12 * k for k in (0, 2, 4, 5, 7, 9, 11)]  # the standard bell
    jazz = by["jazz/main"].bars[0]
    assert _lane(jazz, "hat_pedal") == [24, 72] and _lane(jazz, "kick") == [0, 24, 48, 72]
    assert by["jazz/main"].feel == "swing8" and by["blues/main"].feel == "triplet"


def test_one_hi_hat_stroke_at_a_time():
    # An open hat and a closed or pedal hat at one instant cannot be played (one cymbal pair).
    for p in load_library(seed=0, variants=3):
        for bar in p.bars:
            opened = set(_lane(bar, "hat_open"))
            assert not opened & set(_lane(bar, "hat_closed") + _lane(bar, "hat_pedal")), p.source


def test_step_parser_rejects_what_does_not_fit(tmp_path):
    bad = tmp_path / "pop.toml"
    bad.write_text(
        'genre = "pop"\n[[patterns]]\nname = "main"\nkind = "beat"\nsteps_per_bar = 16\n'
        '[patterns.lanes]\nkick = "X... X... X..."\n',
        encoding="utf-8",
    )
    with pytest.raises(ScoreError, match=r"pop\.toml, pattern 'main'.*12 steps, expected 16"):
        _read_style_file(bad)
    bad.write_text(bad.read_text().replace('kick = "X... X... X..."', 'cabasa = "X..."'))
    with pytest.raises(ScoreError, match="unknown instrument 'cabasa'"):
        _read_style_file(bad)
    bad.write_text(bad.read_text().replace('cabasa = "X..."', 'kick = "7:X......"'))
    with pytest.raises(ScoreError, match="7 steps do not divide"):
        _read_style_file(bad)


def test_variations_are_deterministic_plausible_and_new(library):
    a = load_library(seed=3, variants=2)
    assert a == load_library(seed=3, variants=2)
    assert len(a) == 3 * len(library)
    originals = {p.source: p for p in library}
    changed_structure = 0
    for p in a:
        if "#v" not in p.source:
            continue
        base = originals[p.source.split("#")[0]]
        assert p.bars != base.bars
        assert (p.genre, p.meter, p.feel, p.kind) == (base.genre, base.meter, base.feel, base.kind)
        phrase_to_score(p)  # still a valid score
        shape = [[(h.position, h.instrument) for h in bar] for bar in p.bars]
        changed_structure += shape != [[(h.position, h.instrument) for h in bar]
                                       for bar in base.bars]  # fmt: skip
    assert changed_structure >= 0.6 * len(library) * 2
    assert load_library(seed=4, variants=1) != load_library(seed=3, variants=1)
