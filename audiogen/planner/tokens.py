"""The planner's vocabulary: a bar is its conditioning (genre, tempo bucket, energy, syncopation,
section, feel, meter) then six lanes in the order kick → snare → hats → cymbals → toms → perc,
each a run of (position, instrument-and-velocity) events. Every later lane is written knowing the
earlier ones: backbone, backbeat, subdivision, texture."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from audiogen.instruments import GROUP_OF, GROUPS, INSTRUMENTS
from audiogen.score import FEELS, SECTION_NAMES

METERS = ("4/4", "3/4", "6/8", "12/8", "other")
TEMPO_EDGES = (70, 85, 95, 105, 115, 125, 135, 150, 165)  # 10 buckets
ENERGY_BINS = 5
SYNC_BINS = 5
MAX_BAR_TICKS = 144  # 12/8
# Velocity bins and the velocity each one plays back at.
VELOCITY_EDGES = (24, 40, 56, 72, 88, 104, 116)
VELOCITY_OF_BIN = (16, 32, 48, 64, 80, 96, 110, 122)

PAD, BOS, BAR = "<pad>", "<bos>", "<bar>"


def _build_vocab(genres: Sequence[str]) -> tuple[str, ...]:
    words = [PAD, BOS, BAR]
    words += [f"genre:{g}" for g in (*genres, "none")]
    words += [f"tempo:{i}" for i in range(len(TEMPO_EDGES) + 1)]
    words += [f"energy:{i}" for i in range(ENERGY_BINS)]
    words += [f"sync:{i}" for i in range(SYNC_BINS)]
    words += [f"section:{s}" for s in SECTION_NAMES]
    words += [f"feel:{f}" for f in FEELS]
    words += [f"meter:{m}" for m in METERS]
    words += [f"lane:{g}" for g in GROUPS]
    words += [f"pos:{p}" for p in range(MAX_BAR_TICKS)]
    words += [f"hit:{i}:{v}" for i in INSTRUMENTS for v in range(len(VELOCITY_OF_BIN))]
    return tuple(words)


def velocity_bin(velocity: int) -> int:
    return sum(velocity >= edge for edge in VELOCITY_EDGES)


def tempo_bucket(bpm: float) -> int:
    return sum(bpm >= edge for edge in TEMPO_EDGES)


def meter_word(meter: str) -> str:
    return meter if meter in METERS else "other"


@dataclass(frozen=True)
class BarCondition:
    """What a bar is asked to be; each field is a bin or a name from this module's tables."""

    genre: str  # a genre id or "none"
    tempo: int
    energy: int
    sync: int
    section: str
    feel: str
    meter: str

    def words(self) -> list[str]:
        return [
            BAR,
            f"genre:{self.genre}",
            f"tempo:{self.tempo}",
            f"energy:{self.energy}",
            f"sync:{self.sync}",
            f"section:{self.section}",
            f"feel:{self.feel}",
            f"meter:{meter_word(self.meter)}",
        ]


# Where each of a bar's conditioning words sits (`BarCondition.words`): decoding reads them by name.
SLOT = MappingProxyType({name: i for i, name in enumerate(
    ("bar", "genre", "tempo", "energy", "sync", "section", "feel", "meter"))})  # fmt: skip
CONDITION_LENGTH = len(SLOT)  # BAR + seven fields


class Vocabulary:
    """Word ↔ id, and the facts about ids that constrained decoding needs."""

    def __init__(self, genres: Sequence[str]) -> None:
        self.words = _build_vocab(genres)
        self.index = MappingProxyType({w: i for i, w in enumerate(self.words)})
        self.genres = tuple(genres)

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        return self.index[word]

    def ids(self, words: Iterable[str]) -> list[int]:
        return [self.index[w] for w in words]

    def hit_ids(self, group: str) -> list[int]:
        return [
            self.index[f"hit:{i}:{v}"]
            for i in INSTRUMENTS
            if GROUP_OF[i] == group
            for v in range(len(VELOCITY_OF_BIN))
        ]


def encode_bar(condition: BarCondition, hits: Iterable[tuple[int, str, int]]) -> list[str]:
    """Words of one bar; ``hits`` are (position, instrument, velocity)."""
    return condition.words() + encode_lanes(hits)


def encode_lanes(hits: Iterable[tuple[int, str, int]]) -> list[str]:
    """Words of one bar's lanes, from the kick's lane word on: what follows its conditioning."""
    words: list[str] = []
    by_group: dict[str, list[tuple[int, int, str, int]]] = {g: [] for g in GROUPS}
    for position, instrument, velocity in hits:
        if 0 <= position < MAX_BAR_TICKS:
            order = INSTRUMENTS.index(instrument)
            by_group[GROUP_OF[instrument]].append((position, order, instrument, velocity))
    for group in GROUPS:
        words.append(f"lane:{group}")
        for position, _, instrument, velocity in sorted(by_group[group]):
            words += [f"pos:{position}", f"hit:{instrument}:{velocity_bin(velocity)}"]
    return words


def decode_bars(words: Sequence[str]) -> list[list[tuple[int, str, int]]]:
    """Bars of (position, instrument, velocity) from words; malformed events are skipped."""
    bars: list[list[tuple[int, str, int]]] = []
    position: int | None = None
    for word in words:
        if word == BAR:
            bars.append([])
            position = None
        elif word.startswith("pos:"):
            position = int(word[4:])
        elif word.startswith("hit:") and position is not None and bars:
            _, instrument, vbin = word.split(":")
            bars[-1].append((position, instrument, VELOCITY_OF_BIN[int(vbin)]))
            position = None
    return bars
