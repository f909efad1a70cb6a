"""`audiogen explain` as a user meets it: the list, a lesson folder, a beat described, and the
same one-line errors as `render` for files that are not drum MIDI."""

import mido
import pytest

from audiogen.cli import main
from audiogen.midi import write_midi


def test_list_names_the_topics(capsys):
    assert main(["explain", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("backbeat", "swing", "polyrhythm", "clave", "compound-meters"):
        assert name in out


def test_an_unknown_topic_is_one_line_with_the_nearest_names(capsys):
    assert main(["explain", "syncopaton"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean syncopation" in err[0]


def test_a_lesson_in_words_of_several_words(tiny_kit, tmp_path, capsys):
    out = tmp_path / "lesson"
    assert main(["explain", "four", "on", "the", "floor", "--kit", "tiny", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Four on the floor" in printed and "1 e & a" in printed
    assert (out / "index.html").is_file() and len(list(out.glob("*.mid"))) == 2
    assert main(["explain", "four on the floor", "--kit", "tiny", "-o", str(out)]) != 0
    assert "already exists" in capsys.readouterr().err


def test_a_beat_described(basic_score, tmp_path, capsys):
    midi = tmp_path / "mine.mid"
    write_midi(basic_score.repeated(2), midi)
    out = tmp_path / "described"
    assert main(["explain", str(midi), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "120 bpm, 4/4, 4 bars" in printed and "kick: 1 3" in printed
    assert "snare: 2 4" in printed and "nearest genres:" in printed
    assert {p.name for p in out.iterdir()} == {"description.txt", "description.json", "grid.png"}


def _empty_drums(path):
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    mid.save(path)


def _piano(path):
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=90)]))
    mid.save(path)


@pytest.mark.parametrize("make", [
    lambda p: p.write_bytes(b"garbage"), lambda p: p.write_bytes(b""), _piano, _empty_drums,
])  # fmt: skip
def test_bad_input_gets_the_same_line_as_render(tiny_kit, tmp_path, capsys, make):
    midi = tmp_path / "in.mid"
    make(midi)
    assert main(["render", str(midi), "--kit", "tiny", "-o", str(tmp_path / "r")]) == 2
    rendered = capsys.readouterr().err.strip().splitlines()
    assert main(["explain", str(midi), "-o", str(tmp_path / "e")]) == 2
    explained = capsys.readouterr().err.strip().splitlines()
    assert len(explained) == 1 and explained == rendered
    assert not (tmp_path / "e").exists()
