import csv
import json
import logging

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiogen.errors import MidiError
from audiogen.instruments import INSTRUMENTS
from audiogen.midi import MIDI_PPQ, read_midi, score_to_midi, write_midi
from audiogen.score import SECTION_NAMES, DrumScore, Hit, Meter, Provenance, Section

METERS = [Meter(4, 4), Meter(3, 4), Meter(6, 8), Meter(12, 8), Meter(7, 8), Meter(5, 4)]


@st.composite
def scores(draw) -> DrumScore:
    bpm = draw(st.integers(4000, 30000)) / 100
    meter = draw(st.sampled_from(METERS))
    bars = draw(st.integers(1, 6))
    ms_per_midi_tick = 60_000 / (bpm * MIDI_PPQ)
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, bars * meter.ticks_per_bar - 1),
                st.sampled_from(INSTRUMENTS),
                st.integers(1, 127),
                st.floats(-9.0, 9.0),
            ),
            min_size=1,
            max_size=60,
        )
    )
    hits = {}
    for tick, instrument, velocity, k in raw:
        offset = round(k * ms_per_midi_tick, 3) if tick > 0 else abs(round(k * ms_per_midi_tick, 3))
        hits[(tick, instrument)] = Hit(tick, instrument, velocity, offset)
    cuts = sorted(set(draw(st.lists(st.integers(1, bars - 1), max_size=3)))) if bars > 1 else []
    firsts = [0, *cuts]
    sections = tuple(
        Section(draw(st.sampled_from(SECTION_NAMES)), a, b - a, draw(st.integers(0, 10)) / 10)
        for a, b in zip(firsts, [*cuts, bars])
    )
    provenance = Provenance(
        source="test",
        genre=draw(st.sampled_from([None, "funk", "trap"])),
        seed=draw(st.integers(0, 99)),
    )
    return DrumScore(bpm, meter, bars, tuple(hits.values()), sections, provenance)


def _export_import(score, tmp_path):
    path = tmp_path / "beat.mid"
    write_midi(score, path)
    return read_midi(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(score=scores())
def test_import_of_export_equals_the_score(score, tmp_path):
    back = _export_import(score, tmp_path)
    assert (back.bpm, back.meter, back.bars) == (score.bpm, score.meter, score.bars)
    assert back.sections == score.sections
    assert back.provenance == score.provenance
    assert [(h.tick, h.instrument, h.velocity) for h in back.hits] == [
        (h.tick, h.instrument, h.velocity) for h in score.hits
    ]
    # MIDI keeps time at 480 per quarter: an offset survives to within half a MIDI tick.
    half_tick_ms = 60_000 / (score.bpm * MIDI_PPQ) / 2
    for a, b in zip(back.hits, score.hits):
        assert abs(a.offset_ms - b.offset_ms) <= half_tick_ms + 1e-3
    # ...and a second trip changes nothing at all.
    assert _export_import(back, tmp_path) == back


def test_export_is_what_a_daw_expects(basic_score, tmp_path):
    mid = score_to_midi(basic_score)
    assert mid.type == 1 and mid.ticks_per_beat == 480
    conductor, drums = mid.tracks
    assert [m.text for m in conductor if m.type == "marker"] == ["Verse", "Chorus"]
    assert any(m.type == "set_tempo" and m.tempo == 500_000 for m in conductor)
    assert any(
        m.type == "time_signature" and (m.numerator, m.denominator) == (4, 4) for m in conductor
    )
    notes = [m for m in drums if m.type in ("note_on", "note_off")]
    assert {m.channel for m in notes} == {9}
    assert {m.note for m in notes if m.type == "note_on"} == {36, 38, 42, 46, 49}
    assert mid.length == pytest.approx(basic_score.duration_s)  # full bars, not up to the last hit
    # every note has a visible length and no two notes of one pitch overlap
    now, open_at = 0, {}
    for msg in drums:
        now += msg.time
        if msg.type == "note_on":
            assert msg.note not in open_at
            open_at[msg.note] = now
        elif msg.type == "note_off":
            assert now - open_at.pop(msg.note) >= 1


def test_reads_a_plain_gm_file_from_another_program(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(93)),
            mido.MetaMessage("marker", text="Chorus 1", time=0),
            mido.Message("note_on", channel=9, note=35, velocity=100, time=0),
            mido.Message("note_on", channel=9, note=35, velocity=0, time=10),
            mido.Message("note_on", channel=9, note=40, velocity=80, time=86),
            mido.Message("note_off", channel=9, note=40, velocity=0, time=10),
            mido.Message("note_on", channel=0, note=60, velocity=80, time=0),
        ]
    )
    mid.tracks.append(track)
    mid.save(tmp_path / "x.mid")
    score = read_midi(tmp_path / "x.mid")
    assert score.bpm == 93.0 and score.meter == Meter(4, 4) and score.bars == 1
    assert [(h.tick, h.instrument, h.velocity) for h in score.hits] == [
        (0, "kick", 100),
        (24, "snare", 80),
    ]
    assert score.sections[0].name == "chorus"


def test_td11_map_is_detected(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", channel=9, note=22, velocity=70),
                mido.Message("note_on", channel=9, note=58, velocity=90, time=240),
                mido.Message("note_on", channel=9, note=55, velocity=90, time=240),
            ]
        )
    )
    mid.save(tmp_path / "td.mid")
    assert [h.instrument for h in read_midi(tmp_path / "td.mid").hits] == [
        "hat_closed",
        "tom_low",
        "crash",
    ]
    assert read_midi(tmp_path / "td.mid", note_map="gm").hits[-1].instrument == "splash"


def test_tempo_changes_keep_real_time(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=500_000),
                mido.Message("note_on", channel=9, note=36, velocity=100),
                mido.MetaMessage("set_tempo", tempo=1_000_000, time=480),
                mido.Message("note_on", channel=9, note=38, velocity=100, time=480),
            ]
        )
    )
    mid.save(tmp_path / "t.mid")
    score = read_midi(tmp_path / "t.mid")
    snare = score.hits[-1]
    assert score.time_s(snare) == pytest.approx(1.5, abs=1e-3)  # 0.5 s + 1 s at half the tempo


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such MIDI file"),
        (b"not midi at all", "not a readable MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02", "not a readable MIDI file"),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.mid"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MidiError, match=message):
        read_midi(path)


def test_non_drum_midi_is_refused(tmp_path):
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=90)]))
    mid.save(tmp_path / "piano.mid")
    with pytest.raises(MidiError, match="no drum notes on MIDI channel 10 .*channel 1"):
        read_midi(tmp_path / "piano.mid")


def test_every_groove_file_imports(groove_dir, caplog):
    caplog.set_level(logging.ERROR)
    rows = list(csv.DictReader((groove_dir / "info.csv").open()))
    assert len(rows) == 1150
    for row in rows:
        score = read_midi(groove_dir / row["midi_filename"])
        assert score.bpm == float(row["bpm"])
        assert str(score.meter) == row["time_signature"].replace("-", "/")
        # trimmed by the last note, so the score never outlasts the performance by a bar
        assert score.duration_s <= float(row["duration"]) + score.duration_s / score.bars + 0.01
        assert len(score.hits) > 0


# -- hostile files (issue 16): each is one MidiError, never an internal error ----------------


def _drums(path, *meta, ticks_per_beat=480):
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    notes = [mido.Message("note_on", channel=9, note=n, velocity=90, time=480) for n in (36, 38)]
    mid.tracks.append(mido.MidiTrack([*meta, *notes]))
    mid.save(path)
    return path


def _patched(path, at, data):
    raw = bytearray(path.read_bytes())
    raw[at : at + len(data)] = data
    path.write_bytes(bytes(raw))
    return path


def _eight_sharps(path):
    _drums(path, mido.MetaMessage("key_signature", key="C"))
    return _patched(path, path.read_bytes().find(b"\xff\x59\x02") + 3, b"\x08")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(_drums(p).read_bytes()[:20]), "ends before"),
        (lambda p: _patched(_drums(p), 8, b"\0\7"), "format 7"),
        (lambda p: _patched(_drums(p), 8, b"\xff\xff"), "format -1"),
        (lambda p: _patched(_drums(p), 12, b"\0\0"), "0 ticks per beat"),
        (lambda p: _drums(p, mido.MetaMessage("set_tempo", tempo=0)), "tempo 0"),
        (_eight_sharps, "Could not decode key with 8 sharps"),
    ],
)
def test_broken_files_are_one_clear_midi_error(tmp_path, make, message):
    path = tmp_path / "bad.mid"
    make(path)
    with pytest.raises(MidiError, match=message) as info:
        read_midi(path)
    assert "()" not in str(info.value)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(bars=float("inf")),
        lambda m: m.update(bars="8"),
        lambda m: m["sections"][0].update(first_bar=0.5),
        lambda m: m["sections"][0].update(energy=float("inf")),
        lambda m: m["provenance"].update(models=[1, 2]),
        lambda m: m["provenance"].update(source=5),
        lambda m: m.update(provenance="planner"),
    ],
)
def test_edited_metadata_is_ignored_not_trusted(tmp_path, basic_score, edit, caplog):
    path = tmp_path / "beat.mid"
    mid = score_to_midi(basic_score)
    for msg in mid.tracks[0]:
        if msg.type == "text" and msg.text.startswith("audiogen:"):
            meta = json.loads(msg.text[len("audiogen:") :])
            edit(meta)
            msg.text = "audiogen:" + json.dumps(meta)
    mid.save(path)
    with caplog.at_level(logging.WARNING):
        score = read_midi(path)
    assert "unknown shape" in caplog.text
    assert score.hits and score.bars == 2
    write_midi(score, tmp_path / "again.mid")  # and it can be written back


def test_many_tempo_changes_are_read_in_little_time(tmp_path):
    import time

    track = [mido.MetaMessage("set_tempo", tempo=500_000 + i, time=1) for i in range(5000)]
    note = mido.Message("note_on", channel=9, note=36, velocity=90, time=1)
    track += [note] * 20000
    mid = mido.MidiFile(type=0)
    mid.tracks.append(mido.MidiTrack(track))
    mid.save(tmp_path / "tempi.mid")
    started = time.perf_counter()
    read_midi(tmp_path / "tempi.mid")
    assert time.perf_counter() - started < 10  # notes x changes: minutes
