"""A drum MIDI described in words: tempo, meter, feel and swing, syncopation, density, the kick
and snare figures in counts, ghost notes, accents, fills, cross-rhythms and the nearest genres,
with the grid picture annotated to match."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from audiogen.analysis import cycles, rhythm, swing
from audiogen.picture import Marks
from audiogen.planner.feel import estimate_feel
from audiogen.score import DrumScore

if TYPE_CHECKING:
    from audiogen.planner.genre_classifier import Predictor

LIBRARY_VARIANTS = 3  # seeded variations of each style-library pattern the genre model learns
TOP_GENRES = 3


@dataclass(frozen=True)
class Description:
    """What `describe` measured of a beat (`to_dict` for JSON)."""

    bpm: float
    meter: str
    bars: int
    feel: str
    swing: float
    syncopation: float
    density_per_bar: tuple[float, ...]
    density_per_section: tuple[tuple[str, float], ...]
    kick: tuple[str, int]  # the kick's most played figure and in how many bars
    snare: tuple[str, int]
    backbeat: float
    half_time: float
    four_on_the_floor: float
    ghost_notes: int
    ghost_counts: tuple[str, ...]
    accents: int
    accent_counts: tuple[str, ...]
    fills: tuple[int, ...]  # 1-based bars
    cross_rhythms: tuple[tuple[str, str], ...]
    clave: str | None
    genres: tuple[tuple[str, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)


def _groove_hits(score: DrumScore, crossing: dict[str, str]) -> DrumScore:
    """The score without lanes that play a cross-rhythm (they would read as a swing)."""
    return score.replace(hits=tuple(h for h in score.hits if h.instrument not in crossing))


def _common_figure(score: DrumScore, instruments: tuple[str, ...]) -> tuple[str, int]:
    figures = Counter(rhythm.figure(score, instruments, b) for b in range(score.bars))
    figure, bars = figures.most_common(1)[0]
    return figure, bars


def _common_counts(score: DrumScore, ticks: list[int]) -> tuple[str, ...]:
    per_bar = score.meter.ticks_per_bar
    counts = Counter(rhythm.syllable(t % per_bar, score.meter) for t in ticks)
    return tuple(name for name, _ in counts.most_common(4))


def on_grid(score: DrumScore) -> DrumScore:
    """A performance as the planner's scores are: each hit on the grid its measured feel
    predicts (16ths, or 8th triplets), its timing kept as the offset (`phrase_from_score`), so
    that a hit a few ms early still counts as the beat it was played on."""
    from audiogen.planner.bars import phrase_to_score
    from audiogen.planner.feel import phrase_from_score

    quantised = phrase_to_score(phrase_from_score(score))
    bars = max(score.bars, quantised.bars)
    sections = score.sections if bars == score.bars else ()
    return quantised.replace(bars=bars, sections=sections, provenance=score.provenance)


def describe(score: DrumScore, genres: bool = True) -> Description:
    """Measure a beat, put on the grid first (`on_grid`).

    Args:
        score: the beat, as read from its MIDI file.
        genres: name the nearest genres too.
    """
    score = on_grid(score)
    crossing = cycles.cross_rhythms(score)
    groove = _groove_hits(score, crossing)
    feel = swing.measure_feel(groove)
    ghosts = rhythm.ghost_notes(score)
    accents = rhythm.accents(score)
    clave = cycles.detect_clave(score)
    return Description(
        bpm=round(float(score.bpm), 2), meter=str(score.meter), bars=score.bars,
        feel=feel.name, swing=feel.swing, syncopation=round(rhythm.mean_syncopation(score), 3),
        density_per_bar=tuple(round(d, 2) for d in rhythm.densities(score)),
        density_per_section=tuple((n, round(d, 2)) for n, d in rhythm.section_densities(score)),
        kick=_common_figure(score, ("kick",)),
        snare=_common_figure(score, rhythm.BACKBEAT_VOICES),
        backbeat=round(rhythm.backbeat_share(score), 3),
        half_time=round(rhythm.half_time_share(score), 3),
        four_on_the_floor=round(rhythm.four_on_the_floor_share(score), 3),
        ghost_notes=len(ghosts), ghost_counts=_common_counts(score, ghosts),
        accents=len(accents), accent_counts=_common_counts(score, [t for t, _ in accents]),
        fills=tuple(b + 1 for b in rhythm.fill_bars(score)),
        cross_rhythms=tuple(sorted(crossing.items())),
        clave=clave[0] if clave else None,
        genres=nearest_genres(score, swing.Feel(*estimate_feel(groove))) if genres else (),
    )  # fmt: skip


GENRE_MODEL = "genre/genre_model.npz"  # under the checkpoints (pipelines/fit_genre_model.py)


@lru_cache(maxsize=1)
def genre_model() -> Predictor:
    """The genre classifier with its tempo prior: the shipped model fitted on the Groove MIDI
    Dataset's train split and the style library, or, without it, one fitted now on the style
    library and its seeded variations (about a second)."""
    from audiogen.paths import checkpoints_dir
    from audiogen.planner.genre_classifier import (
        LogReg,
        classifier_threads,
        fit_logreg,
        phrase_rows,
        with_tempo_prior,
    )
    from audiogen.planner.library import load_library

    path = checkpoints_dir() / GENRE_MODEL
    if path.is_file():
        return with_tempo_prior(LogReg.load(path))
    x, y, _ = phrase_rows(load_library(seed=0, variants=LIBRARY_VARIANTS))
    with classifier_threads():
        return with_tempo_prior(fit_logreg(x, y))


def nearest_genres(
    score: DrumScore, feel: swing.Feel | None = None
) -> tuple[tuple[str, float], ...]:
    """The `TOP_GENRES` genres the beat is nearest to, with the classifier's probability.

    The classifier learned from phrases whose feel the feel fit gave (`estimate_feel`), so that
    is the feel it is given by default, not the named one (`swing.measure_feel`), which also
    names swing too light for the fit."""
    from audiogen.planner.feel import phrase_from_score
    from audiogen.planner.genre_classifier import features, segments
    from audiogen.planner.genres import GENRES
    from audiogen.score import FEELS

    feel = feel or swing.Feel(*estimate_feel(score))
    name = feel.name if feel.name in FEELS else "straight"
    phrase = phrase_from_score(score, feel=name, swing=feel.swing)
    rows = [features(seg, phrase.meter, phrase.bpm, name, feel.swing)
            for seg in segments(phrase.bars) if any(seg)]  # fmt: skip
    if not rows:
        return ()
    probs = genre_model()(np.array(rows)).mean(axis=0)
    names = list(GENRES)
    best = np.argsort(-probs)[:TOP_GENRES]
    return tuple((names[i], round(float(probs[i]), 3)) for i in best)


def description_text(d: Description, name: str = "the beat") -> str:
    """The description in words, as printed and saved (description.txt)."""
    feel = {"straight": "straight", "swing8": "swung 8ths", "swing16": "swung 16ths",
            "triplet": "triplet (shuffle)"}.get(d.feel, d.feel)  # fmt: skip
    lines = [f"{name}: {d.bpm:g} bpm, {d.meter}, {d.bars} bars",
             f"feel: {feel}, swing ratio {d.swing:.2f} (0.50 straight, 0.67 triplet)",
             f"syncopation index: {d.syncopation:.2f} (0 on the beat ... 1 off it)"]  # fmt: skip
    lines.append("density (hits per quarter), bar by bar: "
                 + " ".join(f"{x:g}" for x in d.density_per_bar))  # fmt: skip
    if len(d.density_per_section) > 1:
        lines.append("by section: " + ", ".join(f"{n} {x:g}" for n, x in d.density_per_section))
    lines.append(f"kick: {d.kick[0]}  ({d.kick[1]} of {d.bars} bars)")
    lines.append(f"snare: {d.snare[0]}  ({d.snare[1]} of {d.bars} bars)")
    figures = []
    if d.four_on_the_floor >= 0.5:
        figures.append(f"four on the floor in {d.four_on_the_floor:.0%} of bars")
    if d.backbeat >= 0.5:
        figures.append(f"backbeat in {d.backbeat:.0%} of bars")
    if d.half_time >= 0.5:
        figures.append(f"half-time (snare on 3) in {d.half_time:.0%} of bars")
    lines.append("figures: " + (", ".join(figures) if figures else "no backbeat, no four on "
                                "the floor"))  # fmt: skip
    where = f" (mostly on {', '.join(d.ghost_counts)})" if d.ghost_counts else ""
    lines.append(f"ghost notes: {d.ghost_notes}{where}")
    where = f" (mostly on {', '.join(d.accent_counts)})" if d.accent_counts else ""
    lines.append(f"accents: {d.accents}{where}")
    lines.append("fills: " + (f"bars {', '.join(map(str, d.fills))}" if d.fills else "none"))
    cross = ", ".join(f"{spec} on the {inst.replace('_', ' ')}" for inst, spec in d.cross_rhythms)
    lines.append(f"cross-rhythms: {cross or 'none'}")
    if d.clave:
        lines.append(f"clave: {d.clave}")
    if d.genres:
        lines.append("nearest genres: " + ", ".join(f"{g} {p:.0%}" for g, p in d.genres))
    return "\n".join(lines) + "\n"


def description_marks(score: DrumScore, d: Description) -> Marks:
    """The picture's marks: syncopations and ghost notes outlined, cross-rhythm lanes banded,
    the straight grid under a swung beat, the counts under the bars."""
    meter = score.meter
    counts = rhythm.count_marks(meter, d.feel)
    hits = set(rhythm.syncopations(score))
    ghosts = set(rhythm.ghost_notes(score))
    hits |= {
        (h.tick, h.instrument) for h in score.hits if h.instrument == "snare" and h.tick in ghosts
    }
    legend = ("outlined: syncopated hits and ghost notes",
              f"feel {d.feel}, swing {d.swing:.2f}; syncopation {d.syncopation:.2f}")  # fmt: skip
    return Marks(frozenset(hits), d.cross_rhythms, legend, d.feel != "straight", counts)
