"""Hostile MIDI files through the reader that `render`, `vary` and `explain` share: random,
bit-flipped and truncated files, headers and tempo, meter and key events out of range, and
audiogen's own metadata edited to any JSON value. Each one reads as a valid score or is refused
with a `MidiError`; nothing else escapes."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiogen.errors import AudiogenError
from audiogen.midi import _meta, read_midi
from audiogen.pipeline import read_score
from audiogen.score import DrumScore, Hit, Meter, Provenance, Section

FUZZ = settings.get_profile("fuzz")


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def _meta_event(kind: int, data: bytes) -> bytes:
    return b"\x00\xff" + bytes([kind]) + _vlq(len(data)) + data


def _smf(events: bytes, fmt: int = 0, tracks: int = 1, division: int = 480) -> bytes:
    """A standard MIDI file of one track holding ``events`` (raw, with their delta times)."""
    track = events + b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, fmt & 0xFFFF, tracks & 0xFFFF, division & 0xFFFF)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def _notes(count: int = 4, step: int = 240) -> bytes:
    out = b""
    for i in range(count):
        out += (_vlq(step) if i else b"\x00") + bytes([0x99, 36 + i % 3 * 2, 100])
    return out


META = _meta(DrumScore(120.0, Meter(4, 4), 1, (Hit(0, "kick", 100),),
                       (Section("verse", 0, 1, 0.5),),
                       Provenance(source="planner", genre="house", seed=3,
                                  models={"planner": "p@1"})))  # fmt: skip
BASE = _smf(
    _meta_event(0x51, (500_000).to_bytes(3, "big"))
    + _meta_event(0x58, bytes([4, 2, 24, 8]))
    + _meta_event(0x01, ("audiogen:" + json.dumps(META)).encode())
    + _notes()
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**80), 2**80),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
        st.sampled_from([10**400, -1, 0, 2**31, 1e308, "verse", "", "\x00"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
META_PLACES = [
    ("bars",), ("sections",), ("sections", 0), ("sections", 0, "first_bar"),
    ("sections", 0, "bars"), ("sections", 0, "energy"), ("sections", 0, "name"),
    ("provenance",), ("provenance", "source"), ("provenance", "genre"),
    ("provenance", "models"), ("provenance", "seed"), ("provenance", "swing"),
    ("provenance", "feel"), ("provenance", "kit"), ("provenance", "models", "planner"),
]  # fmt: skip


def _reads_or_refuses(data: bytes) -> DrumScore | None:
    """What the reader makes of ``data``: a score, or None after a one-line `AudiogenError`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "take.mid"
        path.write_bytes(data)
        try:
            score = read_score(path)
        except AudiogenError as exc:
            assert str(exc) and "\n" not in str(exc) and "()" not in str(exc)
            return None
    assert isinstance(score, DrumScore) and score.hits and 1 <= score.bars
    assert all(s.first_bar + s.bars <= score.bars for s in score.sections)
    return score


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 7)), min_size=1,
                      max_size=6))  # fmt: skip
def test_bit_flipped_files(flips):
    data = bytearray(BASE)
    for at, bit in flips:
        data[at] ^= 1 << bit
    _reads_or_refuses(bytes(data))


@FUZZ
@given(length=st.integers(0, len(BASE) - 1))
def test_truncated_files(length):
    assert _reads_or_refuses(BASE[:length]) is None or length > len(BASE) - 5


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_after_a_midi_header(data):
    _reads_or_refuses(b"MThd" + data)
    _reads_or_refuses(data)


@FUZZ
@given(
    fmt=st.sampled_from([0, 1, 2, 3, 7, 0x7FFF, 0xFFFF]),
    tracks=st.sampled_from([0, 1, 2, 0xFFFF]),
    division=st.sampled_from([0, 1, 3, 24, 480, 0x7FFF, 0x8000, 0xE728, 0xFFFF]),
)
def test_headers(fmt, tracks, division):
    score = _reads_or_refuses(_smf(_notes(), fmt, tracks, division))
    if score is not None:
        assert fmt in (0, 1) and 0 < division < 0x8000  # format 7, SMPTE time: refused


@FUZZ
@given(
    tempi=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=5),
    numerator=st.integers(0, 255),
    denominator=st.integers(0, 255),
    key=st.tuples(st.integers(0, 255), st.integers(0, 255)),
)
def test_tempo_meter_and_key_events(tempi, numerator, denominator, key):
    events = b"".join(_meta_event(0x51, t.to_bytes(3, "big")) for t in tempi)
    events += _meta_event(0x58, bytes([numerator, denominator, 24, 8]))
    events += _meta_event(0x59, bytes(key))
    score = _reads_or_refuses(_smf(events + _notes()))
    if score is not None:
        assert 0 < score.bpm < float("inf") and tempi[0] > 0


@FUZZ
@given(place=st.sampled_from(META_PLACES), value=JSON_VALUES)
def test_audiogen_metadata_edited_to_any_value(place, value):
    meta = json.loads(json.dumps(META))
    target = meta
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    text = "audiogen:" + json.dumps(meta)
    score = _reads_or_refuses(_smf(_meta_event(0x01, text.encode()) + _notes()))
    if score is not None and place == ("bars",):
        assert score.bars == value or score.bars == 1  # its own value, or the notes' length


@pytest.mark.parametrize("note_map", ["auto", "gm", "td11"])
def test_the_reader_reads_the_base_file(note_map, tmp_path):
    path = tmp_path / "base.mid"
    path.write_bytes(BASE)
    score = read_midi(path, note_map)
    assert score.bpm == 120 and score.provenance.genre == "house" and len(score.hits) >= 1
