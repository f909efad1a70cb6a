"""Each genre's defining figure, as a drummer would teach it: what a bar must play to be heard as
that genre (rock's backbeat, house's four on the floor, reggae's one drop...), written as checks
on one bar of a score. The planner prefers bars that hold their genre's figure, the benchmarks
count them, and a figure's words explain a beat.

A `Figure` is a few `Part`s, each one thing a teacher would say ("snare on 2 and 4", "kick on
every beat"). A bar is a set of (position, instrument, velocity) hits on the score's tick grid,
as the planner writes it (`BarHit` or plain tuples). Fills and deliberate variations (a
cross-rhythm forced on a lane) may break a figure: the planner marks fill bars, and a lane handed
to a cross-rhythm is left out of the check (``skip``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from audiogen.instruments import GROUP_OF
from audiogen.planner.bars import BarHit
from audiogen.planner.genres import GENRES
from audiogen.score import TICKS_PER_QUARTER, Meter

Hit = tuple[int, str, int]  # (position in the bar in ticks, instrument, velocity)
LOUD = 56  # a stroke at least this hard is played, not ghosted (a backbeat must be heard)
ADDED_VELOCITY = 96  # the velocity of a stroke a figure adds to a bar (`Figure.impose`)
_EIGHTH = TICKS_PER_QUARTER // 2
_SIXTEENTH = TICKS_PER_QUARTER // 4

BACKBEAT = ("snare", "clap", "rim")
KICK = ("kick",)
HATS = ("hat_closed", "hat_open", "hat_pedal")
TIME = ("hat_closed", "hat_open", "ride", "ride_bell", "shaker", "crash", "tambourine")
BELLS = ("cowbell", "ride_bell", "agogo_high", "agogo_low", "woodblock_high", "clave")


def _as_hits(bar: Iterable) -> list[Hit]:
    """A bar's hits as (position, instrument, velocity), from `BarHit`s or tuples."""
    return [(h.position, h.instrument, h.velocity) if isinstance(h, BarHit) else
            (int(h[0]), str(h[1]), int(h[2])) for h in bar]  # fmt: skip


@dataclass(frozen=True)
class Part:
    """One thing a figure asks of a bar: at least ``at_least`` strokes of ``instruments``
    (``loud``: LOUD or harder) on ``positions`` (None: anywhere; a strict ``at_least`` of
    len(positions) asks for every one), or, with ``at_most`` set, no more than that many
    there. ``add`` are the positions a stroke is added at, in order, when the bar lacks it."""

    text: str
    instruments: tuple[str, ...]
    positions: tuple[int, ...] | None
    at_least: int = 0
    at_most: int | None = None
    loud: bool = False
    add: tuple[int, ...] = ()

    def strokes(self, bar: list[Hit]) -> list[Hit]:
        """The bar's hits this part counts."""
        where = None if self.positions is None else set(self.positions)
        return [h for h in bar if h[1] in self.instruments and (where is None or h[0] in where)
                and (not self.loud or h[2] >= LOUD)]  # fmt: skip

    def count(self, bar: list[Hit]) -> int:
        return len({h[0] for h in self.strokes(bar)})

    def holds(self, bar: list[Hit]) -> bool:
        n = self.count(bar)
        return n >= self.at_least and (self.at_most is None or n <= self.at_most)

    @property
    def lanes(self) -> frozenset[str]:
        """The lane groups (kick, snare, hats...) this part looks at."""
        return frozenset(GROUP_OF[i] for i in self.instruments)

    def impose(self, bar: list[Hit]) -> list[Hit]:
        """The bar changed as little as a drummer would to make this part hold: missing
        strokes added at ``add`` (a soft one there played harder), extra ones taken away."""
        out = list(bar)
        if self.at_most is not None:
            while self.count(out) > self.at_most:
                extra = max(self.strokes(out), key=lambda h: (h[2], h[0]))
                out.remove(extra)
        for position in self.add:
            if self.count(out) >= self.at_least:
                break
            if position in {h[0] for h in self.strokes(out)}:
                continue
            soft = [h for h in out if h[0] == position and h[1] in self.instruments]
            if soft:  # there, but ghosted: play it
                out[out.index(soft[0])] = (position, soft[0][1], ADDED_VELOCITY)
            else:
                out.append((position, self.instruments[0], ADDED_VELOCITY))
        return out


@dataclass(frozen=True)
class Figure:
    """A genre's defining figure in one meter: its ``name``, a ``description`` a drummer
    could play from, and the `Part`s it is checked by. ``either`` holds alternative sets of
    parts (punk's backbeat or its skate beat), any one of which is enough."""

    genre: str
    meter: Meter
    name: str
    description: str
    parts: tuple[Part, ...]
    either: tuple[tuple[Part, ...], ...] = ()

    def _options(self) -> tuple[tuple[Part, ...], ...]:
        return tuple(self.parts + alt for alt in self.either) or (self.parts,)

    def holds(self, bar: Iterable, skip: frozenset[str] = frozenset()) -> bool:
        """Whether ``bar`` (hits as (position, instrument, velocity)) plays the figure; parts
        on the lane groups in ``skip`` (a lane a cross-rhythm took over) are not asked."""
        hits = _as_hits(bar)
        return any(all(p.holds(hits) for p in parts if not p.lanes & skip)
                   for parts in self._options())  # fmt: skip

    def missing(self, bar: Iterable) -> list[str]:
        """What ``bar`` lacks, in the parts' words (empty when it holds the figure); of
        alternatives, those of the one nearest to holding."""
        hits = _as_hits(bar)
        return min(([p.text for p in parts if not p.holds(hits)] for parts in self._options()),
                   key=len)  # fmt: skip

    def hits(self, bar: Iterable) -> list[Hit]:
        """The hits of ``bar`` that make the figure (those its parts count), sorted."""
        hits = _as_hits(bar)
        parts = next((ps for ps in self._options() if all(p.holds(hits) for p in ps)),
                     self._options()[0])  # fmt: skip
        return sorted({h for p in parts if p.at_most is None for h in p.strokes(hits)})

    def impose(self, bar: Iterable, skip: frozenset[str] = frozenset()) -> list[Hit]:
        """``bar`` made to hold the figure with as few changes as a drummer would make (the
        first alternative's parts; lanes in ``skip`` left alone)."""
        hits = _as_hits(bar)
        if self.holds(hits, skip):
            return hits
        for part in self._options()[0]:
            if not part.lanes & skip:
                hits = part.impose(hits)
        return hits


# -- the figures --------------------------------------------------------------------------------


def _beats(meter: Meter) -> tuple[int, ...]:
    return tuple(range(0, meter.ticks_per_bar, meter.beat_ticks))


def _backbeat(meter: Meter) -> tuple[int, ...]:
    """Where the backbeat falls: 2 and 4 (of 4 beats, 12/8 included), 2 in 6/8, 2 and 3 in
    3/4."""
    beats = _beats(meter)
    if len(beats) == 3:
        return beats[1:]
    return beats[1::2]


def _offbeats(meter: Meter) -> tuple[int, ...]:
    return tuple(b + meter.beat_ticks // 2 for b in _beats(meter))


def _every(step: int, meter: Meter) -> tuple[int, ...]:
    return tuple(range(0, meter.ticks_per_bar, step))


def _kick_on_one() -> Part:
    return Part("kick on 1", KICK, (0,), 1, add=(0,))


def _backbeat_part(meter: Meter, instruments: tuple[str, ...] = BACKBEAT) -> Part:
    at = _backbeat(meter)
    counts = " and ".join(str(1 + b // meter.beat_ticks) for b in at)
    return Part(f"snare on {counts} (the backbeat)", instruments, at, len(at), loud=True, add=at)


def _time(meter: Meter, strokes: int = 4, instruments: tuple[str, ...] = TIME) -> Part:
    eighths = _every(_EIGHTH if meter.beat_ticks % 3 else meter.beat_ticks // 3, meter)
    return Part(f"time kept on hats or ride (at least {strokes} strokes)", instruments, None,
                strokes, add=eighths)  # fmt: skip


def _four_on_the_floor(meter: Meter) -> Part:
    beats = _beats(meter)
    return Part("kick on every beat (four on the floor)", KICK, beats, len(beats), add=beats)


def _half_time(meter: Meter) -> tuple[Part, ...]:
    middle = meter.ticks_per_bar // 2
    beat = 1 + middle // meter.beat_ticks
    others = tuple(b for b in _backbeat(meter) if b != middle)
    return (
        Part(f"snare on {beat} (half time)", BACKBEAT, (middle,), 1, loud=True, add=(middle,)),
        Part("no backbeat on 2 and 4", BACKBEAT, others, at_most=0, loud=True),
    )


def _figure(genre: str, meter: Meter) -> Figure:
    beat = meter.beat_ticks
    beats, bb = _beats(meter), _backbeat(meter)
    rock_like = (_kick_on_one(), _backbeat_part(meter), _time(meter))
    if genre in ("rock", "pop", "soul"):
        words = {
            "rock": "the rock backbeat: kick on 1 (and 3, with pushes), snare hard on the "
                    "backbeat, 8ths on the hats or ride",
            "pop": "the pop backbeat: kick on 1 and 3 with a pickup, snare on 2 and 4, "
                   "steady hats",
            "soul": "the soul backbeat: kick on 1, snare (or the whole Motown snare on every "
                    "beat) cracking on 2 and 4, hats or tambourine keeping time",
        }[genre]  # fmt: skip
        return Figure(genre, meter, "backbeat", words, rock_like)
    if genre in ("hip-hop", "lofi"):
        words = ("boom-bap: a heavy kick on 1 with a syncopated answer, the snare (or rim) on 2 "
                 "and 4, hats in 8ths or 16ths")
        if genre == "lofi":
            words = "lazy boom-bap: " + words.split(": ", 1)[1] + ", soft and swung"
        return Figure(genre, meter, "boom-bap", words, rock_like)
    if genre == "funk":
        sixteenths = tuple(p for p in _every(_SIXTEENTH, meter) if p % _EIGHTH)
        return Figure(genre, meter, "on the one", "the funk backbeat: everything on the one, "
                      "snare on 2 and 4 among ghost notes, a syncopated 16th kick or hats",
                      (*rock_like[:2], Part("16th-note syncopation (two strokes between the "
                                            "8ths)", ("kick", "snare", *HATS), sixteenths, 2,
                                            add=(sixteenths[-3], sixteenths[-1]))))  # fmt: skip
    if genre == "punk":
        return Figure(genre, meter, "driving backbeat",
                      "kick and snare oom-pah on 1-2-3-4 (or the skate beat: snare on every "
                      "off-beat 8th), driving 8ths on the hats or crash",
                      (_kick_on_one(), _time(meter)),
                      either=((_backbeat_part(meter),),
                              (Part("snare on every off-beat (skate beat)", BACKBEAT,
                                    _offbeats(meter), len(beats), loud=True),)))  # fmt: skip
    if genre == "drum-and-bass":
        return Figure(genre, meter, "two-step", "the two-step: kick on 1 and the \"and\" of 3, "
                      "the snare cracking on 2 and 4, 8th hats or a ride", rock_like)
    if genre == "blues":
        skip = 2 * beat // 3 if beat % 3 == 0 and beat != TICKS_PER_QUARTER else None
        skips = tuple(b + s for b in beats for s in ((skip,) if skip else (12, 16)))
        return Figure(genre, meter, "shuffle", "the shuffle: \"1 - let 2 - let\" on the hats "
                      "or ride, snare on 2 and 4, kick on 1 and 3 or on every beat",
                      (_kick_on_one(), _backbeat_part(meter),
                       Part("shuffled skip notes (the last triplet of at least 3 beats)",
                            ("hat_closed", "hat_open", "ride", "snare", "shaker"), skips,
                            min(3, len(beats)), add=tuple(b + (skip or 16) for b in beats))))
    if genre == "jazz":
        pedal = bb if len(beats) == 4 else beats[1:]
        return Figure(genre, meter, "spang-a-lang",
                      "swing time: the ride's \"spang-a-lang\" (1, 2-let, 3, 4-let) or brushes "
                      "on every beat, the hi-hat foot on 2 and 4, the bass drum feathered",
                      (Part("the ride (or brushes) on every beat", ("ride", "ride_bell", "snare"),
                            beats, len(beats) - 1, add=beats),
                       Part("hi-hat foot on 2 and 4", ("hat_pedal", "hat_closed"), pedal,
                            len(pedal), add=pedal)))  # fmt: skip
    if genre in ("house", "techno"):
        open_hat = ("hat_open",) if genre == "house" else HATS
        kind = "open hats" if genre == "house" else "hats"
        floor = (_four_on_the_floor(meter),
                 Part(f"{kind} on the off-beat 8ths", open_hat, _offbeats(meter),
                      len(beats) - 1, add=_offbeats(meter)))  # fmt: skip
        words = {"house": "four on the floor: a kick on every beat, a clap on 2 and 4, open "
                          "hats on the off-beat 8ths, closed hats or a shaker in 16ths",
                 "techno": "four on the floor: a relentless kick on every beat, off-beat hats, "
                           "16th closed hats, a clap or a cycling rim figure"}[genre]  # fmt: skip
        return Figure(genre, meter, "four on the floor", words, floor)
    if genre in ("trap", "dubstep"):
        slow: tuple[Part, ...] = (_kick_on_one(), *_half_time(meter))
        if genre == "trap":
            slow += (Part("rolling hats (8ths or finer)", HATS, None, len(beats) * 2,
                           add=_offbeats(meter) + beats),)  # fmt: skip
        words = {"trap": "half time: a booming kick on 1, the snare or clap on 3, hats "
                         "rolling in 8ths and 16ths with 32nd and triplet rolls",
                 "dubstep": "half time: a kick on 1, a huge snare on 3, hats in 8ths, 16ths "
                            "or triplets"}[genre]  # fmt: skip
        return Figure(genre, meter, "half time", words, slow)
    if genre == "reggae":
        middle = meter.ticks_per_bar // 2
        return Figure(genre, meter, "one drop",
                      "the one drop: nothing on 1, kick and cross-stick together on 3, hats "
                      "skanking on the off-beats",
                      (Part("kick on 3", KICK, (middle,), 1, add=(middle,)),
                       Part("cross-stick or snare on 3", BACKBEAT, (middle,), 1, add=(middle,)),
                       Part("nothing on 1 (the drop)", KICK, (0,), at_most=0)))  # fmt: skip
    if genre == "reggaeton":
        half = meter.ticks_per_bar // 2
        dembow = tuple(h + p for h in (0, half) for p in (3 * _SIXTEENTH, 6 * _SIXTEENTH))
        return Figure(genre, meter, "dembow",
                      "the dembow: the kick on every beat (at least 1 and 3), the snare or rim "
                      "on the \"a\" of 1 and the \"and\" of 2, twice a bar (3+3+2)",
                      (Part("kick on 1 and 3", KICK, (0, half), 2, add=(0, half)),
                       Part("snare or rim on the \"a\" of 1 and the \"and\" of 2, twice",
                            BACKBEAT, dembow, 4, add=dembow)))  # fmt: skip
    if genre == "afrobeat":
        sixteenths = tuple(p for p in _every(_SIXTEENTH, meter) if p % _EIGHTH)
        return Figure(genre, meter, "afrobeat groove",
                      "kick on 1, hats or shaker running 16ths, a syncopated snare, rim or "
                      "cowbell figure between the beats",
                      (_kick_on_one(),
                       Part("16ths running on hats or shaker", (*HATS, "shaker", "ride"), None,
                            10, add=_every(_SIXTEENTH, meter)),
                       Part("a snare, rim or cowbell stroke between the 8ths",
                            (*BACKBEAT, "cowbell"), sixteenths, 1,
                            add=(3 * _SIXTEENTH,))))  # fmt: skip
    if genre == "bossa-nova":
        half = meter.ticks_per_bar // 2
        off = tuple(p for p in _every(_EIGHTH, meter) if p % beat)
        return Figure(genre, meter, "bossa nova",
                      "the cross-stick plays the bossa clave over two bars, the kick the "
                      "surdo's \"1 . . & 3 . . &\", the hats or brushes even 8ths",
                      (Part("kick on 1 and 3", KICK, (0, half), 2, add=(0, half)),
                       Part("cross-stick clave (at least 2 strokes, one off the beat)",
                            ("rim",), None, 2, add=(0, 6 * _SIXTEENTH)),
                       Part("a cross-stick stroke off the beat", ("rim",), off, 1,
                            add=(6 * _SIXTEENTH,)),
                       _time(meter, 6, (*TIME, "snare", "hat_pedal"))))  # fmt: skip
    if genre == "samba":
        pickups = tuple(b - _SIXTEENTH for b in beats[1:])
        return Figure(genre, meter, "surdo",
                      "the surdo on the kick: \"1 . . a 2 . . a\", a kick on every beat with "
                      "the 16th pickup before it, the weight on 2; hats or shaker in 16ths",
                      (Part("kick on every beat", KICK, beats, len(beats), add=beats),
                       Part("the surdo's pickup (kick on the \"a\" before a beat)", KICK,
                            pickups, 1, add=pickups[::2]),
                       Part("16ths running (hats, shaker, snare or ride)",
                            (*TIME, "snare", "hat_pedal"), None, 8,
                            add=_every(_SIXTEENTH, meter))))  # fmt: skip
    if genre == "afro-cuban":
        eighth = beat // 3
        bell = (0, 2, 4, 5, 7, 9, 11)  # the standard 12/8 bell, in 8ths
        if meter.ticks_per_bar == 12 * eighth:
            allowed: tuple[tuple[int, ...], ...] = (tuple(e * eighth for e in bell),)
        else:  # 6/8: the bell spans two bars, either half may fall in this one
            allowed = (tuple(e * eighth for e in bell if e < 6),
                       tuple((e - 6) * eighth for e in bell if e >= 6))  # fmt: skip
        grid = _every(eighth // 2, meter)

        def bell_on(strokes: tuple[int, ...]) -> tuple[Part, ...]:
            return (Part("the bell on the standard pattern's strokes", BELLS, strokes, 3,
                         add=strokes),
                    Part("no bell stroke off the pattern", BELLS,
                         tuple(p for p in grid if p not in strokes), at_most=0))  # fmt: skip

        return Figure(genre, meter, "6/8 bell",
                      "the standard bell \"x.x.xx.x.x.x\" on cowbell or ride bell, lined up "
                      "with the clave; the kick on the dotted-quarter pulse",
                      (Part("kick on 1", KICK, (0,), 1, add=(0,)),),
                      either=tuple(bell_on(a) for a in allowed))
    raise KeyError(genre)


@lru_cache(maxsize=128)
def figure_for(genre: str, meter: Meter | None = None) -> Figure:
    """The defining figure of ``genre`` (a name in `GENRES`) in ``meter`` (default: the
    genre's first meter)."""
    if genre not in GENRES:
        raise KeyError(f"no figure for genre {genre!r}")
    return _figure(genre, meter or Meter.parse(GENRES[genre].meters[0]))


def figure_in(genre: str, meter: Meter) -> Figure | None:
    """The figure a bar of ``genre`` in ``meter`` is asked to hold; None for a free request
    ("none", an unknown genre) or a meter the genre is not played in (`Genre.meters`)."""
    if genre not in GENRES or str(meter) not in GENRES[genre].meters:
        return None
    return figure_for(genre, meter)
