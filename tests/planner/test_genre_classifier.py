"""The genre classifier: what its features see of a bar, that it learns two styles apart, and
that a fit is the same under the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiogen.instruments import GROUPS
from audiogen.planner.bars import BarHit, Phrase
from audiogen.planner.genre_classifier import (
    BEATS_SEEN,
    CELLS,
    CLASSIFIER_THREADS,
    LEVEL_SLOTS,
    N_DETAIL,
    N_FEATURES,
    REQUESTED,
    ROLES,
    classifier_threads,
    features,
    fit_classifier,
    fit_mlp,
    phrase_rows,
    tempo_weight,
)
from audiogen.planner.genres import GENRES
from audiogen.score import Meter

FOUR_FOUR = Meter.parse("4/4")
BEAT = 24  # ticks of a quarter
GENRE_NAMES = list(GENRES)
# Where the description block keeps each role's onsets on the first four beats (see `features`).
ON_BEATS = N_DETAIL + 3 + 2 * len(ROLES) * len(LEVEL_SLOTS)


def bar(*hits: tuple[int, str, int]) -> tuple[BarHit, ...]:
    return tuple(
        sorted((BarHit(p, i, v) for p, i, v in hits), key=lambda h: (h.position, h.instrument))
    )


def four_on_the_floor(rng: np.random.Generator) -> tuple[BarHit, ...]:
    """House: a kick on every beat, a clap on 2 and 4, open hats on the off-beat 8ths."""
    kicks = [(b * BEAT, "kick", int(rng.integers(100, 127))) for b in range(4)]
    claps = [(b * BEAT, "clap", int(rng.integers(90, 120))) for b in (1, 3)]
    hats = [(b * BEAT + 12, "hat_open", int(rng.integers(60, 100))) for b in range(4)]
    return bar(*kicks, *claps, *hats)


def backbeat(rng: np.random.Generator) -> tuple[BarHit, ...]:
    """Hip-hop: kick on 1 and the "and" of 3, snare on 2 and 4, closed 16th hats, ghost snares."""
    kicks = [(0, "kick", int(rng.integers(100, 127))), (2 * BEAT + 12, "kick", 100)]
    snares = [(b * BEAT, "snare", int(rng.integers(100, 127))) for b in (1, 3)]
    hats = [(t, "hat_closed", int(rng.integers(50, 90))) for t in range(0, 4 * BEAT, 6)]
    ghosts = [(int(t), "snare", 35) for t in rng.choice([18, 42, 66, 90], 2, replace=False)]
    return bar(*kicks, *snares, *hats, *ghosts)


def style_rows(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` two-bar segments of each style, both at 100 bpm, labelled house and hip-hop."""
    rng = np.random.default_rng(seed)
    phrases = [
        Phrase(source=f"test:{name}/{k}", split="train", genre=name, style=name, bpm=100.0,
               meter=FOUR_FOUR, feel="straight", swing=0.5, kind="beat",
               bars=(play(rng), play(rng)))
        for k in range(count)
        for name, play in (("house", four_on_the_floor), ("hip-hop", backbeat))
    ]  # fmt: skip
    x, y, _ = phrase_rows(phrases)
    return x, y


def test_features_tell_four_on_the_floor_from_a_backbeat() -> None:
    rng = np.random.default_rng(0)
    house = features([four_on_the_floor(rng)], FOUR_FOUR, 124.0, "straight", 0.5)
    hiphop = features([backbeat(rng)], FOUR_FOUR, 90.0, "straight", 0.5)
    assert house.shape == hiphop.shape == (N_FEATURES,)
    grid = {name: x[: len(GROUPS) * CELLS].reshape(len(GROUPS), CELLS) for name, x in
            (("house", house), ("hip-hop", hiphop))}  # fmt: skip
    kick, snare = GROUPS.index("kick"), GROUPS.index("snare")
    beat_cells = [b * CELLS // 4 for b in range(4)]
    assert grid["house"][kick, beat_cells].tolist() == [1, 1, 1, 1]
    assert grid["hip-hop"][kick, beat_cells].tolist() == [1, 0, 0, 0]
    assert grid["hip-hop"][snare, beat_cells].tolist() == [0, 1, 0, 1]

    def on_beats(x: np.ndarray, role: str) -> list[float]:
        start = ON_BEATS + ROLES.index(role) * BEATS_SEEN
        return x[start : start + BEATS_SEEN].tolist()

    assert on_beats(house, "kick") == [1, 1, 1, 1]
    assert on_beats(hiphop, "kick") == [1, 0, 0, 0]
    assert on_beats(house, "clap") == on_beats(hiphop, "snare") == [0, 1, 0, 1]


def test_tempo_weight_favours_the_genres_whose_range_holds_the_tempo() -> None:
    rng = np.random.default_rng(1)
    x = np.stack([features([backbeat(rng)], FOUR_FOUR, bpm, "straight", 0.5) for bpm in (90, 174)])
    weight = dict(zip(GENRE_NAMES, tempo_weight(x).T, strict=True))
    assert weight["hip-hop"].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert weight["drum-and-bass"].tolist() == pytest.approx([0.0, 1.0], abs=1e-6)


def test_phrase_rows_take_bars_in_pairs_and_skip_empty_pairs() -> None:
    rng = np.random.default_rng(2)
    bars = (backbeat(rng), backbeat(rng), (), (), backbeat(rng))
    phrase = Phrase(source="test:5-bars", split="train", genre="funk", style="funk", bpm=100.0,
                    meter=FOUR_FOUR, feel="straight", swing=0.5, kind="beat",
                    bars=bars)  # fmt: skip
    x, y, sources = phrase_rows([phrase])
    assert x.shape == (2, N_FEATURES)
    assert y.tolist() == [GENRE_NAMES.index("funk")] * 2 and sources == ["test:5-bars"] * 2


def test_a_classifier_fitted_on_two_styles_names_held_out_examples() -> None:
    x, y = style_rows(seed=3, count=12)
    held_x, held_y = style_rows(seed=4, count=10)
    torch.manual_seed(0)
    with classifier_threads():
        # Without the requested block: the tempo is the same, only the onsets tell them apart.
        predict = fit_classifier(x, y, "logreg", requested=False)
        probabilities = predict(held_x)
        mlp = fit_mlp(x[:, N_DETAIL : N_FEATURES - REQUESTED], y, seed=0, steps=60)
        mlp_probabilities = mlp(held_x[:, N_DETAIL : N_FEATURES - REQUESTED])
    assert probabilities.shape == (len(held_y), len(GENRES))
    assert probabilities.sum(1) == pytest.approx(1.0)
    assert (probabilities.argmax(1) == held_y).all()
    assert (mlp_probabilities.argmax(1) == held_y).all()


def test_fitting_is_deterministic_under_a_seed() -> None:
    x, y = style_rows(seed=5, count=6)
    description = slice(N_DETAIL, N_FEATURES)
    with classifier_threads():
        first = fit_mlp(x[:, description], y, seed=7, steps=20)(x[:, description])
        torch.rand(10)  # the MLP seeds itself: what ran before does not matter
        again = fit_mlp(x[:, description], y, seed=7, steps=20)(x[:, description])
        other = fit_mlp(x[:, description], y, seed=8, steps=20)(x[:, description])
        # The regression starts from torch's global generator, so it is seeded from outside.
        torch.manual_seed(1)
        logreg = fit_classifier(x, y, "logreg", requested=True)(x)
        torch.manual_seed(1)
        logreg_again = fit_classifier(x, y, "logreg", requested=True)(x)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_array_equal(logreg, logreg_again)


def test_classifier_threads_are_given_back() -> None:
    before = torch.get_num_threads()
    with classifier_threads():
        assert torch.get_num_threads() == CLASSIFIER_THREADS
    assert torch.get_num_threads() == before


def test_a_fitted_regression_ships_as_one_file_and_answers_the_same(tmp_path) -> None:
    from audiogen.planner.genre_classifier import LogReg, fit_logreg

    x, y = style_rows(seed=6, count=8)
    torch.manual_seed(0)
    with classifier_threads():
        model = fit_logreg(x, y)
    model.save(tmp_path / "model.npz")
    again = LogReg.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(again(x), model(x))
    assert (again(x).argmax(1) == y).all()
