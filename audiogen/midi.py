"""MIDI in and out: any drum MIDI (General MIDI channel 10, or the Roland TD-11 map of the Groove
MIDI Dataset) becomes a `DrumScore`; a score becomes a DAW-ready type-1 MIDI file.

Timing: the score's 24-per-quarter grid is written at 480 ticks per quarter, so a performed
offset survives a round trip to within half a MIDI tick (about 0.5 ms at 120 bpm).
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import math
from collections import Counter
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError

from audiogen.errors import MidiError, ScoreError
from audiogen.instruments import GM_NOTE_OF, NOTE_MAPS, TD11_TELLTALE_NOTES
from audiogen.score import (
    SECTION_NAMES,
    TICKS_PER_QUARTER,
    DrumScore,
    Hit,
    Meter,
    Provenance,
    Section,
)

log = logging.getLogger(__name__)

MIDI_PPQ = 480
DRUM_CHANNEL = 9  # "channel 10" as musicians count
_META_PREFIX = "audiogen:"
_NOTE_LENGTH = MIDI_PPQ // 4  # a 16th: what drum editors draw

NOTE_MAP_CHOICES = ("auto", "gm", "td11")


def read_midi(path: str | Path, note_map: str = "auto") -> DrumScore:
    """Read a drum MIDI file into a quantised-with-offsets `DrumScore`.

    Args:
        path: a .mid file; drums on channel 10.
        note_map: "gm", "td11" (Roland TD-11, as in the Groove MIDI Dataset) or "auto"
            (TD-11 when the file uses its notes 22, 26 or 58, else General MIDI).

    Returns:
        The score, with sections and provenance restored when audiogen wrote the file.

    Raises:
        MidiError: missing, corrupt or non-drum files, with a message saying which.
    """
    path = Path(path)
    if note_map not in NOTE_MAP_CHOICES:
        raise MidiError(f"unknown note map {note_map!r}: use {', '.join(NOTE_MAP_CHOICES)}")
    if not path.is_file():
        raise MidiError(f"{path}: no such MIDI file")
    try:
        mid = mido.MidiFile(path, clip=True)
    except EOFError:
        raise MidiError(f"{path}: not a readable MIDI file (it ends before its data)") from None
    except (OSError, ValueError, KeyError, IndexError, KeySignatureError) as exc:
        why = str(exc) or type(exc).__name__
        raise MidiError(f"{path}: not a readable MIDI file ({why})") from None
    if mid.type == 2:
        raise MidiError(f"{path}: MIDI type 2 (independent sequences) is not supported")
    if mid.type not in (0, 1):
        raise MidiError(f"{path}: not a readable MIDI file (format {mid.type}; MIDI has 0-2)")
    if mid.ticks_per_beat <= 0:
        raise MidiError(
            f"{path}: its header says {mid.ticks_per_beat} ticks per beat (SMPTE time or a "
            "broken file); save it with ticks per quarter note"
        )
    return _score_from_midi(mid, note_map, source=f"midi:{path.name}", label=str(path))


def round_trip(score: DrumScore) -> DrumScore:
    """``score`` as its MIDI file (`score_to_midi`) reads back: what a user gets, to measure."""
    data = io.BytesIO()
    score_to_midi(score).save(file=data)
    data.seek(0)
    return _score_from_midi(mido.MidiFile(file=data), "gm", score.provenance.source, "score")


def _score_from_midi(mid: mido.MidiFile, note_map: str, source: str, label: str) -> DrumScore:
    tpb = mid.ticks_per_beat
    tempi: list[tuple[int, int]] = []  # (midi tick, microseconds per quarter)
    meter: Meter | None = None
    markers: list[tuple[int, str]] = []
    meta: dict | None = None
    notes: list[tuple[int, int, int]] = []  # (midi tick, note, velocity)
    other_channels: set[int] = set()
    end_tick = 0
    now = 0
    # merge_tracks copies every message; a type-0 file (the Groove dataset's 500k hi-hat CCs)
    # is already one track.
    events = mid.tracks[0] if len(mid.tracks) == 1 else mido.merge_tracks(mid.tracks)
    for msg in events:
        now += msg.time
        end_tick = now
        if msg.type == "note_on" and msg.velocity > 0:
            if msg.channel == DRUM_CHANNEL:
                notes.append((now, msg.note, msg.velocity))
            else:
                other_channels.add(msg.channel + 1)
        elif msg.type == "set_tempo":
            if msg.tempo <= 0:
                raise MidiError(f"{label}: a tempo change at tick {now} sets tempo 0")
            tempi.append((now, msg.tempo))
        elif msg.type == "time_signature" and meter is None:
            try:
                meter = Meter(msg.numerator, msg.denominator)
            except ScoreError as exc:
                raise MidiError(f"{label}: {exc}") from None
        elif msg.type == "marker":
            markers.append((now, msg.text))
        elif msg.type == "text" and msg.text.startswith(_META_PREFIX) and meta is None:
            try:
                meta = json.loads(msg.text[len(_META_PREFIX) :])
            except json.JSONDecodeError:
                log.warning("%s: ignoring an unreadable audiogen text event", label)

    if not notes:
        hint = (
            f" (it has notes on channel {', '.join(map(str, sorted(other_channels)))})"
            if other_channels
            else ""
        )
        raise MidiError(f"{label}: no drum notes on MIDI channel 10{hint}")
    meter = meter or Meter(4, 4)
    us_per_quarter = tempi[0][1] if tempi else 500_000
    bpm = round(60_000_000 / us_per_quarter, 2)
    if note_map == "auto":
        note_map = "td11" if any(n in TD11_TELLTALE_NOTES for _, n, _ in notes) else "gm"
    mapping = NOTE_MAPS[note_map]

    quarters = _quarter_positions([t for t, _, _ in notes], tempi, tpb, bpm)
    ms_per_tick = 60_000.0 / (bpm * TICKS_PER_QUARTER)
    chosen: dict[tuple[int, str], Hit] = {}
    skipped: Counter[int] = Counter()
    for q, (_, note, velocity) in zip(quarters, notes):
        instrument = mapping.get(note)
        if instrument is None:
            skipped[note] += 1
            continue
        exact = q * TICKS_PER_QUARTER
        tick = max(0, round(exact))
        hit = Hit(tick, instrument, velocity, round((exact - tick) * ms_per_tick, 3))
        # Two notes of one class on one grid tick (a TD-11 bow and edge, a flam): keep the louder.
        old = chosen.get((tick, instrument))
        if old is None or hit.velocity > old.velocity:
            chosen[(tick, instrument)] = hit
    if skipped:
        log.warning(
            "%s: skipped %d notes with no drum class (notes %s)",
            label, sum(skipped.values()), ", ".join(map(str, sorted(skipped))),
        )  # fmt: skip
    if not chosen:
        raise MidiError(f"{label}: no notes on channel 10 are drums this {note_map} map knows")

    bar_ticks = meter.ticks_per_bar
    last_tick = max(h.tick for h in chosen.values())
    bars = last_tick // bar_ticks + 1
    # A DAW export that ends exactly on a later bar line means those empty bars are intended.
    end_q = _quarter_positions([end_tick], tempi, tpb, bpm)[0] * TICKS_PER_QUARTER
    if abs(end_q - round(end_q)) < 1e-6 and round(end_q) % bar_ticks == 0:
        bars = max(bars, min(round(end_q) // bar_ticks, bars + 1))

    sections: tuple[Section, ...] = ()
    provenance = Provenance(source=source)
    restored = _restore(meta) if meta is not None else None
    if restored is not None:
        bars, sections, provenance = restored
    elif meta is not None:
        log.warning("%s: ignoring an audiogen text event of an unknown shape", label)
    if meta is None and markers:
        sections = _sections_from_markers(markers, tempi, tpb, bpm, bar_ticks, bars)
    try:
        return DrumScore(bpm, meter, bars, tuple(chosen.values()), sections, provenance)
    except ScoreError as exc:
        raise MidiError(f"{label}: {exc}") from None


def _restore(meta: object) -> tuple[int, tuple[Section, ...], Provenance] | None:
    """Bars, sections and provenance from audiogen's own text event, if every value has the
    type `_meta` writes (the file may have been edited since): None otherwise."""

    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def text(v: object, optional: bool = False) -> bool:
        return isinstance(v, str) or (optional and v is None)

    def real(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not isinstance(meta, dict) or not whole(meta.get("bars")):
        return None
    listed = meta.get("sections", [])
    p = meta.get("provenance", {})
    if not isinstance(listed, list) or not isinstance(p, dict):
        return None
    for s in listed:
        if not (isinstance(s, dict) and set(s) <= {"name", "first_bar", "bars", "energy"}
                and text(s.get("name")) and whole(s.get("first_bar")) and whole(s.get("bars"))
                and real(s.get("energy", 0.5))):  # fmt: skip
            return None
    models = p.get("models") or {}
    if not (text(p.get("source", "")) and text(p.get("genre"), True)
            and text(p.get("feel", "")) and real(p.get("swing", 0.0))
            and text(p.get("kit"), True) and (p.get("seed") is None or whole(p.get("seed")))
            and isinstance(models, dict)
            and all(text(k) and text(v) for k, v in models.items())):  # fmt: skip
        return None
    return meta["bars"], tuple(Section(**s) for s in listed), Provenance.from_dict(p)


def _quarter_positions(
    ticks: list[int], tempi: list[tuple[int, int]], tpb: int, bpm: float
) -> list[float]:
    """Positions in quarter notes at the first tempo, keeping real time under tempo changes."""
    if len(tempi) <= 1:
        return [t / tpb for t in ticks]
    # The time at each change, summed once (linear in the changes, not changes x notes).
    starts = [change_tick for change_tick, _ in tempi]
    reached = []
    seconds, prev_tick, prev_tempo = 0.0, 0, tempi[0][1]
    for change_tick, tempo in tempi:
        seconds += mido.tick2second(change_tick - prev_tick, tpb, prev_tempo)
        prev_tick, prev_tempo = change_tick, tempo
        reached.append((seconds, prev_tick, prev_tempo))
    out = []
    for t in ticks:
        before = bisect.bisect_left(starts, t)  # the changes that come before t
        seconds, prev_tick, prev_tempo = reached[before - 1] if before else (0.0, 0, tempi[0][1])
        out.append((seconds + mido.tick2second(t - prev_tick, tpb, prev_tempo)) * bpm / 60.0)
    return out


def _sections_from_markers(
    markers: list[tuple[int, str]],
    tempi: list[tuple[int, int]],
    tpb: int,
    bpm: float,
    bar_ticks: int,
    bars: int,
) -> tuple[Section, ...]:
    """Markers a DAW wrote ("Verse", "Chorus 2") become sections; unknown names are ignored."""
    starts: dict[int, str] = {}
    for (_, text), q in zip(markers, _quarter_positions([t for t, _ in markers], tempi, tpb, bpm)):
        word = text.strip().lower().split(" ")[0] if text.strip() else ""
        bar = int(q * TICKS_PER_QUARTER) // bar_ticks
        if word in SECTION_NAMES and bar < bars:
            starts.setdefault(bar, word)
    if not starts:
        return ()
    firsts = sorted(starts)
    if firsts[0] != 0:
        firsts.insert(0, 0)
        starts[0] = "intro"
    ends = firsts[1:] + [bars]
    return tuple(Section(starts[a], a, b - a) for a, b in zip(firsts, ends))


def score_to_midi(score: DrumScore, track_name: str = "Drums") -> mido.MidiFile:
    """A type-1 MIDI file a DAW opens as a drum track: GM notes on channel 10, tempo, meter,
    a marker per section, 16th-long notes, and the full bar length."""
    mid = mido.MidiFile(type=1, ticks_per_beat=MIDI_PPQ)
    per_grid = MIDI_PPQ // TICKS_PER_QUARTER
    bar_midi = score.meter.ticks_per_bar * per_grid
    end = score.bars * bar_midi

    conductor: list[tuple[int, mido.Message | mido.MetaMessage]] = [
        (0, mido.MetaMessage("track_name", name="audiogen")),
        (0, mido.MetaMessage("set_tempo", tempo=round(60_000_000 / score.bpm))),
        (0, mido.MetaMessage("time_signature", numerator=score.meter.numerator,
                             denominator=score.meter.denominator)),
        (0, mido.MetaMessage("text", text=_META_PREFIX + json.dumps(_meta(score), sort_keys=True))),
    ]  # fmt: skip
    for s in score.sections:
        name = s.name.capitalize()
        conductor.append((s.first_bar * bar_midi, mido.MetaMessage("marker", text=name)))

    onsets = sorted(
        (midi_tick(h, score.bpm), GM_NOTE_OF[h.instrument], h.velocity) for h in score.hits
    )
    next_same: dict[int, int] = {}
    drum: list[tuple[int, mido.Message | mido.MetaMessage]] = [
        (0, mido.MetaMessage("track_name", name=track_name))
    ]
    for start, note, velocity in reversed(onsets):
        # Stop before the same note sounds again, so a DAW never sees overlapping notes.
        after = next_same.get(note)
        length = _NOTE_LENGTH if after is None else max(1, min(_NOTE_LENGTH, after - start - 1))
        next_same[note] = start
        drum.append(
            (start, mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=velocity))
        )
        drum.append(
            (start + length, mido.Message("note_off", channel=DRUM_CHANNEL, note=note, velocity=0))
        )
    for events in (conductor, drum):
        events.sort(key=lambda e: (e[0], e[1].type == "note_on"))  # note-offs before note-ons
        track = mido.MidiTrack()
        now = 0
        for tick, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        mid.tracks.append(track)
    return mid


def midi_tick(hit: Hit, bpm: float) -> int:
    """Where a hit lands at 480 per quarter, its offset rounded to the nearest MIDI tick."""
    ms_per_midi_tick = 60_000.0 / (bpm * MIDI_PPQ)
    per_grid = MIDI_PPQ // TICKS_PER_QUARTER
    return max(0, hit.tick * per_grid + round(hit.offset_ms / ms_per_midi_tick))


def _meta(score: DrumScore) -> dict:
    return {
        "bars": score.bars,
        "sections": [{"name": s.name, "first_bar": s.first_bar, "bars": s.bars, "energy": s.energy}
                     for s in score.sections],
        "provenance": score.provenance.to_dict(),
    }  # fmt: skip


def write_midi(score: DrumScore, path: str | Path) -> None:
    """Write `score_to_midi(score)` to ``path``."""
    score_to_midi(score).save(str(path))
