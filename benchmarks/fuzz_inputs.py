"""The hostile inputs of bench_fuzz.py: option values, sentences, MIDI files and recipes, each
the issue's reproducers first, then generated ones (from a seeded `random.Random`)."""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

# Values that must be refused, each beside its option (issue 16's first).
BAD_OPTIONS: list[tuple[str, Any]] = [
    ("meter", ""), ("mix", ""), ("feel", ""), ("genre", ""), ("kit", ""), ("loudness", ""),
    ("bpm", 0), ("bpm", 39), ("bpm", 301), ("bpm", float("inf")), ("bpm", float("nan")),
    ("bpm", True), ("bpm", "fast"), ("bpm", 10**400), ("bpm", -120), ("bpm", "1e999"),
    ("bars", 0), ("bars", 257), ("bars", 1.5), ("bars", True), ("bars", False), ("bars", "8x"),
    ("duration", 0), ("duration", 1801), ("duration", float("inf")), ("duration", -30),
    ("energy", -0.1), ("energy", 1.1), ("energy", float("nan")), ("energy", True),
    ("swing", 0.4), ("swing", 0.8), ("syncopation", 2), ("temperature", 0), ("temperature", 3),
    ("humanize", 2), ("humanize", -1), ("meter", "5/4"), ("meter", "4/0"), ("meter", 44),
    ("mix", 5), ("mix", "loud"), ("feel", "wobbly"), ("feel", 8), ("genre", "polka-core"),
    ("genre", 5), ("genre", ["house"]), ("kit", "tin-cans"), ("kit", "a" * 300),
    ("kit", "/no/such/kit.sfz"),
    ("kit", "~nobody-audiogen/kit"), ("loudness", "-99"), ("loudness", "+5"), ("loudness", "inf"),
    ("loudness", {}), ("loudness", "loud"), ("sample_rate", 0), ("sample_rate", 44100.5),
    ("sample_rate", float("inf")), ("sample_rate", "48k"), ("sample_rate", True),
    ("formats", ""), ("formats", 5), ("formats", "ogg"), ("formats", []), ("formats", ["wav", 5]),
    ("seed", -1), ("seed", 2**32), ("seed", 1.5), ("seed", float("inf")), ("seed", True),
    ("seed", "x"), ("polyrhythm", "3:5"), ("polyrhythm", 184), ("polyrhythm", ""),
    ("on", "bass"), ("on", ""), ("form", "verse:0"), ("form", "verse:300"), ("form", "nope:4"),
    ("form", ""), ("form", "verse:8:2"), ("form", "verse:8:nan"), ("fade_in_s", -1),
    ("fade_in_s", 61), ("fade_out_s", float("inf")), ("preset", "party"), ("preset", ""),
    ("renderer", "magic"), ("renderer", ""), ("note_map", "xg"), ("preset_name", ""),
    ("loop", "maybe"), ("colour", "red"), ("fallback", {}), ("sample_rate", 44100.5),
    ("sample_rate", "48000.5"),
]  # fmt: skip
# Sentences that must be refused: numbers out of range (issue 16's), and nothing to play.
BAD_SENTENCES = [
    "techno 257 bars", "rock 99:59", "trap at 999 bpm", "house at 0 bpm", "lofi -5 minutes",
    "jazz for 10 hours", "pop 31 minutes", "techno 0 bars", "techno 0:60", "rock 100:00",
    "house 3:75", "trap at 39 bpm", "funk -120 bpm", "lofi 0 seconds", "rock 1801 seconds",
    "house 1000 bars", "", "   ", "the", "zzzz qqqq",
]  # fmt: skip
# Sentences that must be delivered as they say: (text, plan option, value).
GOOD_SENTENCES = [
    ("techno 256 bars", "bars", 256), ("house at 124 bpm", "bpm", 124), ("rock at 40 bpm", "bpm",
    40), ("trap 300 bpm", "bpm", 300), ("lofi 2 minutes", "duration", 120), ("funk 1 bar",
    "bars", 1), ("jazz 1:30", "duration", 90), ("lofi 5 minutes", "duration", 300),
]  # fmt: skip
VALUE_POOL: list[Any] = [
    None, True, False, 0, 1, -1, 8, 120, 2**31, 2**64, 10**30, 0.5, 1e308, -1e308,
    float("inf"), float("-inf"), float("nan"), "", " ", "0", "inf", "nan", "120", "8.0", "1_0",
    "3:4", "4/4", "house", "acoustic", "streaming", "wav,mp3", "wav,,", "verse:4", "yes",
    "\x00", "é", "a" * 300, [], ["wav"], ["wav", "ogg"], [1, 2], {}, {"a": 1},
]  # fmt: skip
OPTION_NAMES = sorted({name for name, _ in BAD_OPTIONS} - {"colour", "fallback"})
WORDS = (
    "dark chill fast slow trap house techno rock lofi jazz funk bpm bars bar minutes seconds "
    "at for around intro outro verse loop video podcast 4/4 6/8 swing shuffle the a and with "
    "very - , : 0 1 8 40 120 256 300 999 1e3 -5 3:45 ½ ٣ １２０ twelve sixteen"
).split()


def random_options(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """``n`` option sets of one to three options, values drawn from the pool or nearby."""
    out = []
    for _ in range(n):
        options = {}
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(OPTION_NAMES)
            value = rng.choice(VALUE_POOL)
            if rng.random() < 0.3:
                value = rng.choice([rng.uniform(-1e3, 1e3), rng.randint(-1000, 100_000)])
            options[name] = value
        out.append(options)
    return out


def random_sentences(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) for _ in range(n)]


# -- MIDI --------------------------------------------------------------------------------------


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def _meta(kind: int, data: bytes, delta: int = 0) -> bytes:
    return _vlq(delta) + b"\xff" + bytes([kind]) + _vlq(len(data)) + data


def smf(events: bytes, fmt: int = 0, tracks: int = 1, division: int = 480) -> bytes:
    """A standard MIDI file of one track of raw ``events`` (header values as given)."""
    track = events + b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, fmt & 0xFFFF, tracks & 0xFFFF, division & 0xFFFF)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def notes(count: int, step: int = 120, pitches: tuple[int, ...] = (36, 38, 42)) -> bytes:
    out = b""
    for i in range(count):
        out += _vlq(step if i else 0) + bytes([0x99, pitches[i % len(pitches)], 100])
    return out


def tempo(us: int, delta: int = 0) -> bytes:
    return _meta(0x51, (us & 0xFFFFFF).to_bytes(3, "big"), delta)


def base_midi() -> bytes:
    """Two bars of a beat as audiogen writes it (its metadata included)."""
    import io

    from audiogen.midi import score_to_midi
    from audiogen.score import DrumScore, Hit, Meter, Section

    hits = tuple(Hit(b * 96 + s * 12, "hat_closed", 80) for b in range(2) for s in range(8))
    hits += (Hit(0, "kick", 120), Hit(48, "snare", 110), Hit(96, "kick", 120))
    score = DrumScore(120.0, Meter(4, 4), 2, hits, (Section("verse", 0, 2, 0.5),))
    data = io.BytesIO()
    score_to_midi(score).save(file=data)
    return data.getvalue()


def _with_meta(edit: Callable[[dict], None]) -> bytes:
    meta = {"bars": 2, "sections": [{"name": "verse", "first_bar": 0, "bars": 2, "energy": 0.5}],
            "provenance": {"source": "planner", "genre": "house", "feel": "straight",
                           "swing": 0.0, "kit": None, "seed": 1, "models": {"planner": "p@1"}}}
    edit(meta)
    text = "audiogen:" + json.dumps(meta)
    return smf(tempo(500_000) + _meta(0x01, text.encode()) + notes(16))


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def edit(meta: dict) -> None:
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def hostile_midi(rng: random.Random, n: int) -> Iterator[tuple[str, bytes, str, float]]:
    """(label, bytes, expect, time limit): the issue's files, then ``n`` generated ones."""
    good = notes(16)
    yield "key signature of 8 sharps", smf(_meta(0x59, bytes([8, 0])) + good), "refuse", 10
    yield "key signature of 71 flats", smf(_meta(0x59, bytes([256 - 71, 0])) + good), "refuse", 10
    yield "tempo 0", smf(tempo(0) + good), "refuse", 10
    yield "tempo 0 after a note", smf(good + tempo(0, 10)), "refuse", 10
    yield "ticks per beat 0", smf(good, division=0), "refuse", 10
    yield "SMPTE division", smf(good, division=0xE728), "refuse", 10
    yield "format 7", smf(good, fmt=7), "refuse", 10
    yield "format -1", smf(good, fmt=0xFFFF), "refuse", 10
    yield "format 2", smf(good, fmt=2), "refuse", 10
    yield "truncated", base_midi()[:60], "refuse", 10
    yield "empty", b"", "refuse", 10
    yield "no drum notes", smf(bytes([0, 0x90, 60, 100])), "refuse", 10
    for label, path, value in [
        ("bars as text", ("bars",), "8"), ("bars infinite", ("bars",), float("inf")),
        ("bars 1e308", ("bars",), 1e308), ("bars huge", ("bars",), 10**30),
        ("bars negative", ("bars",), -4), ("first bar as text", ("sections", 0, "first_bar"), "0"),
        ("first bar past the end", ("sections", 0, "first_bar"), 99),
        ("energy infinite", ("sections", 0, "energy"), float("inf")),
        ("energy as text", ("sections", 0, "energy"), "high"),
        ("models as a list", ("provenance", "models"), ["p"]),
        ("source as a number", ("provenance", "source"), 5),
        ("seed infinite", ("provenance", "seed"), float("inf")),
        ("sections as text", ("sections",), "verse"), ("provenance null", ("provenance",), None),
    ]:  # fmt: skip
        yield f"metadata {label}", _with_meta(_set(path, value)), "either", 10
    yield "one note", smf(notes(1)), "accept", 10
    yield "20 bpm", smf(tempo(3_000_000) + good), "accept", 10
    yield "5,000 dense notes", smf(notes(5000, step=6)), "either", 30
    yield "100,000 dense notes", smf(notes(100_000, step=3)), "either", 60
    changes = b"".join(tempo(400_000 + i, 0 if i == 0 else 5) for i in range(2000))
    yield "2,000 tempo changes", smf(changes + good), "either", 30
    changes = b"".join(tempo(400_000 + i, 0 if i == 0 else 5) for i in range(20_000))
    yield "20,000 tempo changes", smf(changes + good), "either", 60
    base = base_midi()
    for i in range(n):
        kind = i % 5
        if kind == 0:
            data = bytearray(base)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            yield f"bit flips #{i}", bytes(data), "either", 10
        elif kind == 1:
            yield f"truncated at {(cut := rng.randrange(len(base)))}", base[:cut], "either", 10
        elif kind == 2:
            yield f"random bytes #{i}", b"MThd" + rng.randbytes(rng.randint(0, 300)), "either", 10
        elif kind == 3:
            events = tempo(rng.choice([0, 1, 2, 0xFFFFFF, rng.randrange(1 << 24)]))
            events += _meta(0x58, bytes([rng.randrange(256), rng.randrange(256), 24, 8]))
            events += _meta(0x59, bytes([rng.randrange(256), rng.randrange(256)]))
            division = rng.choice([0, 1, 2, 96, 480, 0x7FFF, 0x8000, rng.randrange(1 << 16)])
            fmt = rng.choice([0, 1, 2, 3, 0xFFFF])
            yield f"header and meta #{i}", smf(events + good, fmt, 1, division), "either", 10
        else:
            place = rng.choice([("bars",), ("sections", 0, "first_bar"), ("sections", 0, "bars"),
                                ("sections", 0, "name"), ("provenance", "models"),
                                ("provenance", "genre"), ("provenance", "swing")])  # fmt: skip
            value = rng.choice(VALUE_POOL)
            yield f"metadata {place}={value!r:.40}", _with_meta(_set(place, value)), "either", 10


# -- recipes -------------------------------------------------------------------------------------


def _items_check(good: int, bad: int | None) -> Callable[[Any], str]:
    """What is wrong with a loaded recipe whose item ``good`` must be fine and item ``bad``
    must fail alone."""

    def check(recipe: Any) -> str:
        items = recipe.items
        if items[good].error:
            return f"the good item failed: {items[good].error}"
        if bad is not None and not items[bad].error:
            return f"the bad item was accepted: {items[bad].options}"
        return ""

    return check


def bad_recipes(
    rng: random.Random, n: int, midi: Any
) -> Iterator[tuple[str, str, str, float, Callable[[Any], str] | None]]:
    """(label, YAML, expect, time limit, check of the loaded recipe)."""
    good = f"{{midi: {midi}, kit: acoustic, seed: 1}}"
    for label, bad in [
        ("seed .inf", "{seed: .inf}"), ("sample_rate .inf", "{sample_rate: .inf}"),
        ("mix 5", "{mix: 5}"), ("formats 5", "{formats: 5}"), ("bpm true", "{bpm: true}"),
        ("bars 1e400", "{bars: 1e400}"), ("kit 300 chars", "{kit: " + "k" * 300 + "}"),
        ("midi 300 chars", "{midi: " + "m" * 300 + ".mid}"),
        ("prompt 0:60", "{prompt: techno 0:60}"),
    ]:  # fmt: skip
        yield (f"bad item {label}", f"items:\n  - {good}\n  - {bad}\n", "accept", 60,
               _items_check(0, 1))  # fmt: skip
    yield ("name_format {genre.nope}", f"name_format: '{{genre.nope}}'\nitems:\n  - {good}\n",
           "accept", 60, lambda r: "" if r.items[0].error else "a bad name_format passed")
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    )
    yield "billion laughs", bomb + "items: [{genre: house}]\n", "refuse", 10, None
    yield ("on: and 3:4", "items:\n  - {genre: rock, polyrhythm: 3:4, on: snare}\n", "accept", 30,
           lambda r: "" if r.items[0].options.get("polyrhythm") == "3:4"
           and r.items[0].options.get("on") == "snare" and not r.items[0].error
           else f"read as {r.items[0].options}")  # fmt: skip
    yield ("generate-only defaults with a MIDI item",
           f"defaults: {{bars: 4, genre: rock}}\nitems:\n  - {good}\n", "accept", 30,
           _items_check(0, None))  # fmt: skip
    seeds = ", ".join(map(str, range(25_000)))
    yield ("100,000-item matrix", f"matrix:\n  genre: [house, techno]\n  bpm: [120, 128]\n"
           f"  seed: [{seeds}]\n", "accept", 240,
           lambda r: "" if len(r.items) == 100_000 else f"{len(r.items)} items")  # fmt: skip
    yield ("100,001-item matrix", f"matrix:\n  seed: [{', '.join(map(str, range(100_001)))}]\n",
           "refuse", 30, None)  # fmt: skip
    yield "items not a list", "items: 3\n", "refuse", 10, None
    yield "tagged value", "items: [{seed: !!python/object:os.system 1}]\n", "refuse", 10, None
    keys = [*OPTION_NAMES, "prompt", "midi"]
    for i in range(n):
        key = rng.choice(keys)
        value = rng.choice(["yes", "on", "~", ".inf", ".nan", "0x10", "0o17", "1_000", "3:4",
                            "2024-01-01", "[]", "{}", "''", "-1", "1e400", "!!str 5",
                            json.dumps(rng.choice(VALUE_POOL), default=str)])  # fmt: skip
        text = f"items:\n  - {good}\n  - {{{key}: {value}, seed: 2}}\n"
        yield f"item {key}: {value[:40]} #{i}", text, "either", 60, _items_check(0, None)
