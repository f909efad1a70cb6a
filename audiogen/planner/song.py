"""Arranging the planner's bars into a beat: a core phrase with fills every few bars, or a song
whose sections vary one core groove (lanes written anew at each section's energy, density kept in
the order of the energies), fills ending sections and crashes marking their downbeats."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiogen.instruments import GROUP_OF, GROUPS
from audiogen.planner.controls import POLY_VOICE, PlanRequest, cross_rhythm, poly_velocity
from audiogen.planner.decode import Job, Row
from audiogen.planner.model import KVCache
from audiogen.planner.search import CANDIDATES, TRIES, VARIATION_BAND, Search, dice
from audiogen.planner.tokens import BOS
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Hit, Provenance, Section, swing_offset_ms

CORE_BARS = 2  # within the 3-bar windows the model was trained on, with room for a fill
FILL_EVERY = 8
MAX_ROWS = 8  # fills written side by side at most
FILL_CANDIDATES = 4  # versions of a song's fill written at a time
MAX_FILL_ROWS = 32  # a song's fills (one context: the start of a phrase) side by side at most
FILL_DEPARTS = 0.5  # a fill's second half shares less than this with the groove's (Dice)
REGENERATED = ("hats", "cymbals", "toms", "perc")  # what a section changes; kick, snare stay
CRASH_VELOCITY = 112
GHOST_VELOCITY = 64  # a backbone hit softer than this is a ghost note, which a quiet part drops
DENSITY_SLOPE = 1.5  # a section 0.1 lower in energy plays at most 2^-0.15 = 90 % of the hits
# Variations of a given beat: the lanes written anew from each amount up (the kick stays).
VARY_LANES = ((0.0, ("perc", "toms")), (0.3, ("cymbals",)), (0.55, ("hats",)),
              (0.85, ("snare",)))  # fmt: skip


@dataclass(frozen=True)
class Song:
    """A song as written: its quantised score; per distinct section, the bars of its
    variation of the core groove; and the (tick, instrument) of hits taken over from the core
    rather than written (a varied beat keeps their played timing and velocity)."""

    score: DrumScore
    core: list[list[tuple[int, str, int]]]
    variations: dict[str, list[list[tuple[int, str, int]]]]
    kept: frozenset[tuple[int, str]]


def vary_lanes(amount: float) -> frozenset[str]:
    """The lanes a variation of ``amount`` (0-1) writes anew; the others are the input's."""
    return frozenset(
        lane for start, lanes in VARY_LANES if amount > start or 0 < start <= amount
        for lane in lanes
    )  # fmt: skip


def groove_fills(bars: int) -> list[int]:
    """The bars of a groove of ``bars`` that `write_groove` plays as fills: every FILL_EVERY-th
    and the last (after the core phrase). The other bars repeat the core phrase, whose bars
    hold the genre's figure (`figures`); a fill may leave it."""
    fills = list(range(FILL_EVERY - 1, bars, FILL_EVERY))
    if bars > min(CORE_BARS, bars) and bars - 1 not in fills:
        fills.append(bars - 1)
    return fills


def write_groove(search: Search, req: PlanRequest, version: str) -> DrumScore:
    """One groove of ``req.bars``: a core phrase of CORE_BARS, repeated, with a fill every
    FILL_EVERY bars and at the end, and a crash after each fill; a cross-rhythm, if asked,
    keeps its own cycle through every bar."""
    gen = torch.Generator().manual_seed(req.seed)
    poly = cross_rhythm(req.polyrhythm, req.meter, req.bars) if req.polyrhythm else None
    shape = (lambda b: poly[b]) if poly else (lambda b: None)
    core_n = min(CORE_BARS, req.bars)
    fills = groove_fills(req.bars)
    cache = KVCache(search.decoder.model.cfg)
    pending: list[int] = [search.decoder.vocab.id(BOS)]  # words not yet fed to the model
    core: list[list[tuple[int, str, int]]] = []
    for b in range(core_n - 1):
        row = search.bar(req, pending, cache, gen, Job(shape=shape(b)))
        core.append(row.hits)
        # The cache takes in the bar kept, all but its closing <bar>, which opens the next.
        search.decoder.model(torch.tensor([row.tokens[:-1]]), cache)
        pending = []
    # The phrase's last bar and the fills are written side by side after the same bars: a
    # fill takes the place of the phrase's last bar (bars 8, 16, ... of a two-bar phrase).
    by_bar: dict[int, list[tuple[int, str, int]]] = {}
    for i in range(0, max(len(fills), 1), MAX_ROWS):
        chunk = fills[i : i + MAX_ROWS]
        core_job = Job(shape=shape(core_n - 1)) if i == 0 else None
        fill_jobs = [Job("fill", shape=shape(b)) for b in chunk]
        last, rows = search.bars(req, pending, cache, gen, core_job, fill_jobs)
        if last is not None:
            core.append(last.hits)
        by_bar.update((b, r.hits) for b, r in zip(chunk, rows))
    song = [by_bar.get(b, core[b % core_n]) for b in range(req.bars)]
    if poly:  # the cross-rhythm keeps its own cycle in every bar, repeated or not
        voice = POLY_VOICE[req.poly_lane]
        for b in range(req.bars):
            others = [h for h in song[b] if GROUP_OF[h[1]] != req.poly_lane]
            song[b] = others + [(p, voice, poly_velocity(i)) for i, p in enumerate(poly[b])]
    crashes = {b + 1 for b in fills if b + 1 < req.bars}
    sections = (Section("groove", 0, req.bars, req.energy),)
    return to_score(req, song, crashes, sections, version)


def write_song(
    search: Search, req: PlanRequest, gen: torch.Generator, core: list[list[tuple[int, str, int]]],
    core_words: list[list[int]], regenerate: frozenset[str], fills: bool = True,
    half_fills: bool = False, pull: float | None = None, *, version: str,
) -> Song:  # fmt: skip
    """The song of ``req.form`` from a core groove (its bars' hits and words): variations
    writing the ``regenerate`` lanes anew per distinct section, density kept in the order
    of the sections' energies, then fills and crashes."""
    form = req.form
    assert form is not None  # the callers write songs of requests with a form
    n = len(core)
    level: dict[str, float] = {}
    for s in form:
        level.setdefault(s.name, s.energy)
    names = list(level)
    poly = cross_rhythm(req.polyrhythm, req.meter, req.bars) if req.polyrhythm else None
    variations: dict[str, list[list[tuple[int, str, int]]]] = {}
    words: dict[str, list[list[int]]] = {}
    if not regenerate:
        variations = {name: [list(bar) for bar in core] for name in names}
        words = {name: list(core_words) for name in names}
    else:
        # Each section's first bar, all side by side after the core phrase; then its later
        # bars, each after the section's bars before it.
        for j in range(n):
            jobs = {name: Job("groove", level[name], poly[j] if poly else None,
                              _kept(core[j], regenerate)) for name in names}  # fmt: skip
            versions: dict[str, list[Row]] = {name: [] for name in names}
            # The bars before this one, the same in every round: written into a cache once.
            if j == 0:
                caches = dict.fromkeys(names, search.decoder.context(core_words))
            else:
                caches = {name: search.decoder.context(words[name]) for name in names}
            todo = names
            for attempt in range(TRIES):  # a song's bars: rounds, hotter, until one varies
                batches = [todo] if j == 0 else [[name] for name in todo]
                for group in batches:
                    wanted = [jobs[name] for name in group for _ in range(CANDIDATES)]
                    rows = search.decoder.write(req, [], caches[group[0]], gen, wanted, attempt)
                    for i, name in enumerate(group):
                        versions[name] += rows[i * CANDIDATES : (i + 1) * CANDIDATES]
                if pull is not None:
                    break
                todo = [n for n in todo
                        if not any(search.varies(r, core[j]) for r in versions[n])]  # fmt: skip
                if not todo:
                    break
            for name in names:
                row = search.pick(req, versions[name], core[j], pull)
                variations.setdefault(name, []).append(row.hits)
                words.setdefault(name, []).append(row.words())
        if pull is None:  # what the model could not vary, a drummer's move does
            for name in names:
                variations[name] = [_recolour(bar, core[j], level[name] >= req.energy)
                                    for j, bar in enumerate(variations[name])]  # fmt: skip
        _order_density(variations, level, regenerate, req, core)
    # The song's bars, then a fill ending each section but the last.
    bars: list[list[tuple[int, str, int]]] = []
    kept: set[tuple[int, str]] = set()
    filled: set[tuple[int, str]] = set()  # (tick, instrument) of the fills' hits
    ticks = req.meter.ticks_per_bar
    for s in form:
        for b in range(s.bars):
            j = b % n
            bars.append(list(variations[s.name][j]))
            kept.update(((s.first_bar + b) * ticks + p, i)
                        for p, i, _ in variations[s.name][j]
                        if GROUP_OF[i] not in regenerate)  # fmt: skip
    if fills:  # and a crash on each section's downbeat (the first's when it starts hard)
        _fills(search, req, gen, form[:-1], bars, poly, half_fills, kept, filled)
        for s in form:
            if s.first_bar or s.energy >= 0.5:
                crash = [h for h in bars[s.first_bar] if h[:2] != (0, "crash")]
                bars[s.first_bar] = [*crash, (0, "crash", CRASH_VELOCITY)]
                kept.add((s.first_bar * ticks, "crash"))
    if poly:  # the cross-rhythm keeps its own cycle in every bar
        voice = POLY_VOICE[req.poly_lane]
        for b in range(req.bars):
            others = [h for h in bars[b] if GROUP_OF[h[1]] != req.poly_lane]
            bars[b] = others + [(p, voice, poly_velocity(i)) for i, p in enumerate(poly[b])]
            kept.update((b * ticks + p, voice) for p in poly[b])
    if regenerate:  # (amount 0 of a variation keeps the input as it is)
        groove = [{(p, i) for p, i, _ in core[(b - s.first_bar) % n]}
                  for s in form for b in range(s.first_bar, s.first_bar + s.bars)]  # fmt: skip
        _order_sections(bars, form, kept, filled, groove, ticks)
    score = to_score(req, bars, set(), form, version)
    return Song(score, [list(bar) for bar in core], variations, frozenset(kept))


def _fills(search: Search, req: PlanRequest, gen: torch.Generator, sections: tuple[Section, ...],
           bars: list[list[tuple[int, str, int]]], poly: list[list[int]] | None, half: bool,
           kept: set[tuple[int, str]], filled: set[tuple[int, str]]) -> None:  # fmt: skip
    """Write the last bar of each of ``sections`` as a fill (its second half only for a
    section of 4 bars or fewer, or when ``half``). Fills are written as the drummers' fill
    takes in the data were, from the start of a phrase (after groove bars the model keeps
    the groove going), FILL_CANDIDATES at a time, in rounds (hotter each time) until each
    section has one that leaves the groove (FILL_DEPARTS) and is new to the training data;
    of those, the one nearest the section's energy is kept."""
    ticks = req.meter.ticks_per_bar
    cut = ticks // 2
    cache = search.decoder.context([])
    todo = list(sections)
    versions: dict[Section, list[Row]] = {s: [] for s in sections}

    def good(row: Row, s: Section) -> bool:
        groove = bars[s.first_bar + s.bars - 1]
        return search.departs(row, groove, cut) < FILL_DEPARTS and not search.copied(row)

    for attempt in range(TRIES):  # rounds until every section has a fill that departs
        jobs = [Job("fill", s.energy, poly[s.first_bar + s.bars - 1] if poly else None)
                for s in todo for _ in range(FILL_CANDIDATES)]  # fmt: skip
        rows = [row for i in range(0, len(jobs), MAX_FILL_ROWS)
                for row in search.decoder.write(req, [], cache, gen, jobs[i : i + MAX_FILL_ROWS],
                                       attempt)]  # fmt: skip
        for k, s in enumerate(todo):
            versions[s] += rows[k * FILL_CANDIDATES : (k + 1) * FILL_CANDIDATES]
        todo = [s for s in todo if not any(good(r, s) for r in versions[s])]
        if not todo:
            break
    for s in sections:
        last = s.first_bar + s.bars - 1
        chosen = [r for r in versions[s] if good(r, s)]
        row = search.nearest(req, chosen) if chosen else min(
            versions[s], key=lambda r: search.departs(r, bars[last], cut)
        )  # fmt: skip
        start = cut if half or s.bars <= 4 else 0
        fill = [h for h in bars[last] if h[0] < start]
        fill += [h for h in row.hits if h[0] >= start]
        kept.difference_update((last * ticks + p, i) for p, i, _ in bars[last] if p >= start)
        bars[last] = fill
        filled.update((last * ticks + p, i) for p, i, _ in fill if p >= start)


def to_score(req: PlanRequest, song: list[list[tuple[int, str, int]]], crashes: set[int],
             sections: tuple[Section, ...], version: str) -> DrumScore:  # fmt: skip
    """The bars of a beat as a quantised `DrumScore`: the feel's swing in the offsets, a crash
    on each bar of ``crashes``, the planner (``version``) in its provenance."""
    bar_ticks = req.meter.ticks_per_bar
    hits: dict[tuple[int, str], Hit] = {}
    for b, bar in enumerate(song):
        for position, instrument, velocity in bar:
            offset = swing_offset_ms(position, req.feel, req.swing, req.bpm)
            tick = b * bar_ticks + position
            hits[(tick, instrument)] = Hit(tick, instrument, int(velocity), round(offset, 3))
        if b in crashes:
            hits[(b * bar_ticks, "crash")] = Hit(b * bar_ticks, "crash", CRASH_VELOCITY)
    return DrumScore(
        bpm=req.bpm,
        meter=req.meter,
        bars=req.bars,
        hits=tuple(hits.values()),
        sections=tuple(sections),
        provenance=Provenance(
            source="planner",
            genre=req.genre,
            feel=req.feel,
            swing=req.swing,
            seed=req.seed,
            models=(("planner", version),),
        ),  # fmt: skip
    )


def core_bars(score: DrumScore) -> tuple[int, list[list[tuple[int, str, int]]]]:
    """A given beat's core groove: its most repeated pair of bars (the first such pair on a
    tie; one bar for a one-bar beat). Returns the first bar's index and the bars, as
    (position, instrument, velocity) per bar."""
    ticks = score.meter.ticks_per_bar
    bars: list[list[tuple[int, str, int]]] = [[] for _ in range(score.bars)]
    for h in score.hits:
        bars[h.tick // ticks].append((h.tick % ticks, h.instrument, h.velocity))
    n = min(CORE_BARS, score.bars)
    pairs = [tuple(tuple(sorted((p, i) for p, i, _ in bars[b + k])) for k in range(n))
             for b in range(0, score.bars - n + 1, n)]  # fmt: skip
    counts: dict[tuple, int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    start = max(range(len(pairs)), key=lambda k: (bool(any(pairs[k])), counts[pairs[k]], -k))
    return start * n, [sorted(bars[start * n + k]) for k in range(n)]


def _recolour(bar: list[tuple[int, str, int]], core: list, louder: bool) -> list:
    """A section bar nearly the core's own (over VARIATION_BAND's top) changed as a drummer
    changes a part, one stroke of the time-keeping voice (closed hat or ride, whichever plays
    more) at a time until it is a variation: in a louder section the strokes move to the
    other voice (hats to the ride, the ride to the hats), in a quieter one the strokes off
    the beat's 8ths drop out."""
    keys = {(p, i) for p, i, _ in core}
    out = list(bar)
    counts = {v: sum(i == v for _, i, _ in out) for v in ("hat_closed", "ride")}
    voice = max(counts, key=counts.__getitem__)
    other = "ride" if voice == "hat_closed" else "hat_closed"
    strokes = [p for p, i, _ in out if i == voice]
    if not louder:
        strokes = [p for p in strokes if p % (TICKS_PER_QUARTER // 2)][::-1]
    for p in strokes:
        if dice({(q, i) for q, i, _ in out}, keys) <= VARIATION_BAND[1]:
            break
        k = next(k for k, h in enumerate(out) if h[:2] == (p, voice))
        if louder and (p, other) not in {(q, i) for q, i, _ in out}:
            out[k] = (p, other, out[k][2])
        elif not louder:
            del out[k]
    return out


def _kept(bar: list[tuple[int, str, int]], regenerate: frozenset[str]) -> dict[str, list]:
    """The lanes of ``bar`` that a variation keeps as they are."""
    return {g: [h for h in bar if GROUP_OF[h[1]] == g] for g in GROUPS if g not in regenerate}


def _order_density(
    variations: dict[str, list[list]], level: dict[str, float], regenerate: frozenset[str],
    req: PlanRequest, core: list[list],
) -> None:  # fmt: skip
    """Thin sections so that each plays fewer hits a bar than any section of higher energy,
    by a factor that grows with the energy gap (DENSITY_SLOPE): the softest hits of the lanes
    written anew go first (those whose loss keeps the bar within VARIATION_BAND of its
    ``core`` bar before the others), as a drummer holds back in an intro or a breakdown."""
    low, high = VARIATION_BAND
    keys = [{(p, i) for p, i, _ in bar} for bar in core]

    def strays(bar: list, j: int, hit: tuple[int, str]) -> bool:
        return not low <= dice({(p, i) for p, i, _ in bar} - {hit}, keys[j]) <= high

    density = {name: sum(map(len, bars)) / len(bars) for name, bars in variations.items()}
    poly_lane = req.poly_lane if req.polyrhythm else None
    for name in sorted(variations, key=lambda k: -level[k]):
        caps = [density[o] * 2 ** (-DENSITY_SLOPE * (level[o] - level[name]))
                for o in variations if level[o] > level[name]]  # fmt: skip
        bars = variations[name]
        while caps and sum(map(len, bars)) / len(bars) > min(caps):
            loose = [(strays(bar, b, (p, i)), v, -p, b, k) for b, bar in enumerate(bars)
                     for k, (p, i, v) in enumerate(bar)
                     if GROUP_OF[i] in regenerate and GROUP_OF[i] != poly_lane]  # fmt: skip
            if not loose:
                break
            *_, b, k = min(loose)
            del bars[b][k]
        density[name] = sum(map(len, bars)) / len(bars)


def _order_sections(
    bars: list[list], form: tuple[Section, ...], fixed: set[tuple[int, str]],
    fills: set[tuple[int, str]], groove: list[set], ticks: int,
) -> None:  # fmt: skip
    """The song-wide pass of `_order_density`, fills and crashes counted: each section thinned
    to fewer hits a bar than any section of higher energy, by the energy gap's factor. The
    softest written hits go first (those whose loss keeps the bar near VARIATION_BAND of the
    core groove's, in ``groove``, before the others), then those of the fill (in ``fills``); of
    those in ``fixed`` ((tick, instrument): the groove's backbone, crashes, a cross-rhythm)
    only ghost notes may go, and only after them."""
    low, high = VARIATION_BAND

    def strays(b: int, hit: tuple[int, str]) -> bool:
        """Whether bar b without ``hit`` leaves VARIATION_BAND of its core bar."""
        share = dice({(p, i) for p, i, _ in bars[b]} - {hit}, groove[b])
        return not low <= share <= high

    hits = [sum(len(bars[b]) for b in range(s.first_bar, s.first_bar + s.bars)) for s in form]
    for k in sorted(range(len(form)), key=lambda k: -form[k].energy):
        s = form[k]
        caps = [hits[o] / form[o].bars * 2 ** (-DENSITY_SLOPE * (form[o].energy - s.energy))
                for o in range(len(form)) if form[o].energy > s.energy]  # fmt: skip
        while caps and hits[k] / s.bars > min(caps):
            loose = [(2 if (b * ticks + p, name) in fixed else (b * ticks + p, name) in fills,
                      strays(b, (p, name)), v, -p, b, i)
                     for b in range(s.first_bar, s.first_bar + s.bars)
                     for i, (p, name, v) in enumerate(bars[b])
                     if (b * ticks + p, name) not in fixed or v < GHOST_VELOCITY]  # fmt: skip
            if not loose:
                break
            *_, b, i = min(loose)
            del bars[b][i]
            hits[k] -= 1
