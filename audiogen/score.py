"""`DrumScore`: the one object that crosses stage boundaries — everything symbolic, nothing audio.

Time lives on a grid of 24 ticks per quarter note (16th = 6, 32nd = 3, 8th-triplet = 8,
16th-triplet = 4); a hit's ``offset_ms`` is the performed deviation from its grid position.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from audiogen.errors import ScoreError
from audiogen.instruments import GROUP_OF, INSTRUMENTS

TICKS_PER_QUARTER = 24
MIN_BPM, MAX_BPM = 20.0, 400.0
MAX_BARS = 2048
MAX_OFFSET_MS = 250.0
FEELS = ("straight", "swing8", "swing16", "triplet")  # swing8/16: the off-beat 8th/16th is late
SECTION_NAMES = (
    "intro", "verse", "pre-chorus", "chorus", "bridge", "breakdown", "fill", "outro", "groove",
)  # fmt: skip
_DENOMINATORS = (1, 2, 4, 8, 16)


@dataclass(frozen=True, order=True)
class Meter:
    """A time signature such as 4/4, 3/4, 6/8 or 12/8."""

    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.numerator <= 32 or self.denominator not in _DENOMINATORS:
            raise ScoreError(
                f"unsupported meter {self.numerator}/{self.denominator}: "
                "use 1-32 beats over 1, 2, 4, 8 or 16 (e.g. 4/4, 3/4, 6/8, 12/8)"
            )

    @classmethod
    def parse(cls, text: str) -> Meter:
        """Read ``"6/8"`` (or ``"6-8"``, as the Groove dataset writes it)."""
        parts = text.replace("-", "/").split("/")
        try:
            return cls(int(parts[0]), int(parts[1]))
        except (ValueError, IndexError):
            raise ScoreError(f"cannot read meter {text!r}: write it like 4/4 or 6/8") from None

    @property
    def ticks_per_bar(self) -> int:
        return self.numerator * TICKS_PER_QUARTER * 4 // self.denominator

    @property
    def beat_ticks(self) -> int:
        """The felt beat in ticks: the denominator's note, or the dotted quarter in compound
        time (3/8, 6/8, 9/8, 12/8)."""
        if self.denominator == 8 and self.numerator % 3 == 0:
            return 3 * TICKS_PER_QUARTER // 2
        return TICKS_PER_QUARTER * 4 // self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True, order=True)
class Hit:
    """One drum hit: grid position, instrument class, velocity 1-127, performed offset in ms."""

    tick: int
    instrument: str
    velocity: int
    offset_ms: float = 0.0

    @property
    def group(self) -> str:
        return GROUP_OF[self.instrument]


def swing_offset_ms(position: int, feel: str, swing: float, bpm: float) -> float:
    """Where a feel's swing puts a hit at ``position`` (ticks from the bar start), in ms after
    the straight grid: the swung 8th (swing8) or 16th (swing16) is late by (swing - 0.5) of two
    grid steps; every other hit, and every hit of another feel, is on time."""
    ms_per_tick = 60_000.0 / (bpm * TICKS_PER_QUARTER)
    late = (swing - 0.5) * 2
    if feel == "swing8" and position % TICKS_PER_QUARTER == 12:
        return late * 12 * ms_per_tick
    if feel == "swing16" and position % 12 == 6:
        return late * 6 * ms_per_tick
    return 0.0


@dataclass(frozen=True)
class Section:
    """A named span of bars (intro, verse, chorus...) with its energy 0-1."""

    name: str
    first_bar: int
    bars: int
    energy: float = 0.5


@dataclass(frozen=True)
class Provenance:
    """Where a score came from: enough to reproduce it and to credit its sources."""

    source: str = "unknown"  # e.g. "midi:beat.mid", "planner", "groove:drummer1/..."
    genre: str | None = None
    feel: str = "straight"
    swing: float = 0.0
    kit: str | None = None
    seed: int | None = None
    models: tuple[tuple[str, str], ...] = ()  # (model name, version) pairs

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["models"] = dict(self.models)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        data = dict(data)
        data["models"] = tuple(sorted((data.get("models") or {}).items()))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class DrumScore:
    """A drum performance on the 24-per-quarter grid. Validated on construction.

    Hits are kept sorted (tick, instrument); at most one hit per instrument per tick.
    """

    bpm: float
    meter: Meter
    bars: int
    hits: tuple[Hit, ...]
    sections: tuple[Section, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hits", tuple(sorted(self.hits)))
        if not self.sections:
            object.__setattr__(self, "sections", (Section("groove", 0, self.bars, 0.5),))
        self._validate()

    def _validate(self) -> None:
        if not (isinstance(self.bpm, (int, float)) and MIN_BPM <= self.bpm <= MAX_BPM):
            raise ScoreError(f"tempo {self.bpm} bpm is out of range: use {MIN_BPM:g}-{MAX_BPM:g}")
        if not (isinstance(self.bars, int) and 1 <= self.bars <= MAX_BARS):
            raise ScoreError(f"{self.bars} bars is out of range: use 1-{MAX_BARS}")
        end = self.total_ticks
        seen: set[tuple[int, str]] = set()
        for hit in self.hits:
            if hit.instrument not in GROUP_OF:
                raise ScoreError(
                    f"unknown instrument {hit.instrument!r}; known: {', '.join(INSTRUMENTS)}"
                )
            if not (isinstance(hit.tick, int) and 0 <= hit.tick < end):
                raise ScoreError(f"hit at tick {hit.tick} lies outside the score (0-{end - 1})")
            if not (isinstance(hit.velocity, int) and 1 <= hit.velocity <= 127):
                raise ScoreError(f"velocity {hit.velocity} at tick {hit.tick}: use 1-127")
            if not (math.isfinite(hit.offset_ms) and abs(hit.offset_ms) <= MAX_OFFSET_MS):
                raise ScoreError(
                    f"offset {hit.offset_ms} ms at tick {hit.tick}: use ±{MAX_OFFSET_MS:g}"
                )
            key = (hit.tick, hit.instrument)
            if key in seen:
                raise ScoreError(f"two {hit.instrument} hits at tick {hit.tick}: keep one")
            seen.add(key)
        for s in self.sections:
            if s.name not in SECTION_NAMES:
                raise ScoreError(f"unknown section {s.name!r}; known: {', '.join(SECTION_NAMES)}")
            if s.first_bar < 0 or s.bars < 1 or s.first_bar + s.bars > self.bars:
                raise ScoreError(
                    f"section {s.name} (bars {s.first_bar}-{s.first_bar + s.bars - 1}) "
                    f"does not fit in {self.bars} bars"
                )
            if not 0.0 <= s.energy <= 1.0:
                raise ScoreError(f"section {s.name} energy {s.energy}: use 0-1")
        starts = [s.first_bar for s in self.sections]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ScoreError("sections must be in order and must not start on the same bar")

    # -- time ---------------------------------------------------------------------------------
    @property
    def total_ticks(self) -> int:
        return self.bars * self.meter.ticks_per_bar

    @property
    def seconds_per_tick(self) -> float:
        return 60.0 / (self.bpm * TICKS_PER_QUARTER)

    @property
    def duration_s(self) -> float:
        """Length of the score in seconds (bars × bar length; ringing tails come after)."""
        return self.total_ticks * self.seconds_per_tick

    def time_s(self, hit: Hit) -> float:
        """When a hit sounds, in seconds from the start, including its performed offset."""
        return hit.tick * self.seconds_per_tick + hit.offset_ms / 1000.0

    # -- views --------------------------------------------------------------------------------
    def hits_in_group(self, group: str) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if GROUP_OF[h.instrument] == group)

    @property
    def groups(self) -> tuple[str, ...]:
        """Stem groups this score plays, in lane order."""
        from audiogen.instruments import GROUPS

        used = {GROUP_OF[h.instrument] for h in self.hits}
        return tuple(g for g in GROUPS if g in used)

    def replace(self, **changes: Any) -> DrumScore:
        return dataclasses.replace(self, **changes)

    def repeated(self, times: int) -> DrumScore:
        """The score played ``times`` times in a row, as one score without sections."""
        span = self.total_ticks
        hits = tuple(
            dataclasses.replace(h, tick=h.tick + k * span) for k in range(times) for h in self.hits
        )
        return self.replace(bars=times * self.bars, sections=(), hits=hits)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "bpm": self.bpm,
            "meter": str(self.meter),
            "bars": self.bars,
            "ticks_per_quarter": TICKS_PER_QUARTER,
            "sections": [dataclasses.asdict(s) for s in self.sections],
            "provenance": self.provenance.to_dict(),
            "hits": [[h.tick, h.instrument, h.velocity, h.offset_ms] for h in self.hits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrumScore:
        try:
            return cls(
                bpm=float(data["bpm"]),
                meter=Meter.parse(str(data["meter"])),
                bars=int(data["bars"]),
                hits=tuple(Hit(int(t), str(i), int(v), float(o)) for t, i, v, o in data["hits"]),
                sections=tuple(Section(**s) for s in data.get("sections", ())),
                provenance=Provenance.from_dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoreError(f"not a drum score: {exc}") from None
