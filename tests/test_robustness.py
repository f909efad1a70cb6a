"""Hostile but fair use of the command line (issue 16): --force never deletes what audiogen did
not write, bad output paths and a full disk get one line, an interrupted or killed run leaves
nothing behind for long, and options that would silently mean "default" are refused."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap

import mido
import pytest
import soundfile as sf

from audiogen.cli import main
from audiogen.midi import write_midi


@pytest.fixture
def beat_mid(tmp_path, basic_score):
    path = tmp_path / "beat.mid"
    write_midi(basic_score, path)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("audiogen: error:") and "\n" not in err, err
    assert "internal error" not in err and "Traceback" not in err
    return err


def _render(beat_mid, out, *extra) -> int:
    return main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", *extra])


# -- --force and output folders --------------------------------------------------------------


def test_force_never_replaces_a_folder_audiogen_did_not_write(tiny_kit, beat_mid, tmp_path, capsys):
    music = tmp_path / "Music"
    music.mkdir()
    (music / "song.flac").write_bytes(b"the user's music")
    assert _render(beat_mid, music, "--force") == 2
    assert "did not write" in _one_error_line(capsys)
    assert (music / "song.flac").read_bytes() == b"the user's music"

    # An audiogen folder the user has since added a file to is theirs too.
    out = tmp_path / "beat"
    assert _render(beat_mid, out) == 0
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert _render(beat_mid, out, "--force") == 2
    assert "notes.txt" in _one_error_line(capsys)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    assert _render(beat_mid, out, "--force") == 0  # its own output: replaced


@pytest.mark.parametrize("name", [".", "", "..", "  "])
def test_the_current_folder_or_an_empty_name_is_refused(
    tiny_kit, beat_mid, tmp_path, monkeypatch, capsys, name
):
    here = tmp_path / "work"
    here.mkdir()
    (here / "keep.txt").write_text("x")
    monkeypatch.chdir(here)
    assert _render(beat_mid, name, "--force") == 2
    _one_error_line(capsys)
    assert (here / "keep.txt").read_text() == "x"
    assert sorted(p.name for p in here.iterdir()) == ["keep.txt"]


def test_long_names_are_written_or_refused_for_what_they_are(tiny_kit, beat_mid, tmp_path, capsys):
    assert _render(beat_mid, tmp_path / ("b" * 250)) == 0  # legal: staging must not break it
    assert (tmp_path / ("b" * 250) / "mix.wav").is_file()
    assert _render(beat_mid, tmp_path / ("c" * 256)) == 2
    assert "255" in _one_error_line(capsys)
    deep = tmp_path.joinpath(*["d" * 200] * 25)  # over PATH_MAX
    assert _render(beat_mid, deep) == 2
    assert "too long" in _one_error_line(capsys)
    assert not list(tmp_path.glob(".*")) and not (tmp_path / ("d" * 200)).exists()


@pytest.mark.parametrize("where", ["audio", "midi"])
def test_a_full_disk_is_one_line_and_leaves_nothing(
    tiny_kit, beat_mid, tmp_path, monkeypatch, capsys, where
):
    import audiogen.export

    def libsndfile_full(*args, **kwargs):
        raise sf.LibsndfileError(2, "")  # what libsndfile says on a full tmpfs

    def midi_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "audio":
        monkeypatch.setattr(audiogen.export.sf.SoundFile, "write", libsndfile_full)
        usage = audiogen.export.shutil.disk_usage(tmp_path)
        monkeypatch.setattr(
            audiogen.export.shutil, "disk_usage", lambda p: usage._replace(free=4096)
        )
    else:
        monkeypatch.setattr(audiogen.export, "write_midi", midi_full)
    out = tmp_path / "out"
    assert _render(beat_mid, out) == 2
    assert f"the disk is full writing {out}" in _one_error_line(capsys)
    assert not out.exists() and not list(tmp_path.glob(".*"))


def test_output_folders_have_the_umasks_mode(tiny_kit, beat_mid, tmp_path):
    old = os.umask(0o022)
    try:
        assert _render(beat_mid, tmp_path / "out") == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_sigterm_cleans_up_like_ctrl_c(tiny_kit, beat_mid, tmp_path):
    out = tmp_path / "out"
    # Stop the run from outside while it writes, as a service manager or `kill` would.
    code = textwrap.dedent(
        f"""
        import os, signal, sys, time
        import audiogen.export
        from audiogen.cli import main

        def stopped(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

        audiogen.export.write_midi = stopped
        sys.exit(main(["render", {str(beat_mid)!r}, "-o", {str(out)!r}, "--kit", "tiny"]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".*"))


def test_the_next_run_removes_what_a_dead_run_left(tiny_kit, beat_mid, tmp_path):
    dead = tmp_path / ".beat.partial-999999999-0a1b2c3d"  # no process has this pid
    alive = tmp_path / f".other.partial-{os.getppid()}-0a1b2c3d"  # a run still writing
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "mix.wav").write_bytes(b"half")
    assert _render(beat_mid, tmp_path / "beat") == 0
    assert not dead.exists() and alive.exists()


# -- options that would silently mean "the default" ------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--genre", "rock", "--meter", ""],
        ["generate", "--genre", "rock", "--feel", ""],
        ["generate", "--genre", "rock", "--mix", ""],
        ["render", "BEAT", "--mix", ""],
    ],
)
def test_blank_option_values_are_refused(tiny_kit, beat_mid, tmp_path, capsys, argv):
    argv = [str(beat_mid) if a == "BEAT" else a for a in argv]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 2
    assert "give a value" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_a_sentence_starting_with_an_option_is_not_swallowed(tmp_path, capsys):
    assert main(["generate", "-o fast trap"]) == 2
    assert 'put -- before it (audiogen generate -- "-o fast trap")' in _one_error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_out_of_range_sentence_numbers_are_refused_by_the_cli(tmp_path, capsys):
    assert main(["generate", "trap at 999 bpm", "-o", str(tmp_path / "out")]) == 2
    assert "40 to 300" in _one_error_line(capsys)


# -- broken MIDI through the CLI -------------------------------------------------------------


def _bad_key_signature(path):
    mid = mido.MidiFile()
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("key_signature", key="C"),
                mido.Message("note_on", channel=9, note=36, velocity=90),
            ]
        )
    )
    mid.save(path)
    data = bytearray(path.read_bytes())
    at = data.find(bytes([0xFF, 0x59, 0x02]))
    data[at + 3] = 8  # 8 sharps: mido cannot decode it
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["render", "vary"])
def test_a_malformed_key_signature_is_one_line(tiny_kit, tmp_path, capsys, command):
    midi = tmp_path / "in.mid"
    _bad_key_signature(midi)
    assert main([command, str(midi), "-o", str(tmp_path / "out"), "--kit", "tiny"]) == 2
    assert "not a readable MIDI file (Could not decode key" in _one_error_line(capsys)


def test_vary_refuses_bars_too_dense_for_the_planner(tiny_kit, tmp_path, capsys):
    from audiogen.instruments import INSTRUMENTS
    from audiogen.score import DrumScore, Hit, Meter

    # 128 hits in each bar: every other tick, on three instruments.
    hits = [
        Hit(bar * 96 + t, i, 90)
        for bar in range(2)
        for i in list(INSTRUMENTS)[:3]
        for t in range(0, 96, 2)
    ][: 2 * 144]
    midi = tmp_path / "dense.mid"
    write_midi(DrumScore(100.0, Meter(4, 4), 2, tuple(hits)), midi)
    assert main(["vary", str(midi), "-o", str(tmp_path / "out"), "--kit", "tiny"]) == 2
    assert "thin it" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_batch_output_and_manifest_key_names_used_by_force(tiny_kit, beat_mid, tmp_path):
    # --force trusts a manifest with audiogen's keys; the export must keep writing them.
    out = tmp_path / "o"
    assert _render(beat_mid, out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"audiogen", "files"} <= set(manifest)
