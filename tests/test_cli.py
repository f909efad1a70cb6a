"""The command line as a user meets it: outputs, one-line errors, atomic writes, instant help."""

import json
import subprocess
import sys

import mido
import numpy as np
import pytest
import soundfile as sf

from audiogen.cli import main
from audiogen.files import sha256
from audiogen.midi import read_midi, write_midi
from audiogen.mix import integrated_lufs, true_peak_dbtp


@pytest.fixture
def beat_mid(tmp_path, basic_score):
    path = tmp_path / "beat.mid"
    write_midi(basic_score, path)
    return path


def test_help_is_instant_without_heavy_imports():
    heavy = "('numpy', 'torch', 'pedalboard', 'scipy', 'audiocraft')"
    code = f"import sys, audiogen.cli; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    help_text = subprocess.run(
        [sys.executable, "-m", "audiogen", "render", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--kit", "--loudness", "--sample-rate", "--format", "--force", "-o"):
        assert flag in help_text


def test_render_writes_a_finished_beat(tiny_kit, beat_mid, tmp_path, basic_score):
    out = tmp_path / "out" / "my-beat"
    assert (
        main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", "--loudness", "podcast"])
        == 0
    )
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "beat.mid",
        "grid.png",
        "manifest.json",
        "mix.wav",
        "stems/hats.wav",
        "stems/kick.wav",
        "stems/room.wav",
        "stems/snare.wav",
    ]
    mix, rate = sf.read(out / "mix.wav", always_2d=True)
    info = sf.info(out / "mix.wav")
    assert (rate, info.channels, info.subtype) == (48000, 2, "PCM_24")
    assert abs(integrated_lufs(mix.T, rate) - (-16.0)) <= 0.5
    assert true_peak_dbtp(mix.T, rate) <= -1.0
    assert len(mix) >= round(basic_score.duration_s * rate)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["request"]["kit"] == "tiny" and manifest["request"]["loudness"] == "podcast"
    assert manifest["loudness"]["target_lufs"] == -16.0
    assert manifest["sources"]["kit"]["license"] == "CC0-1.0"
    assert manifest["sources"]["samples"] and all(
        s.startswith("kits/tiny/") for s in manifest["sources"]["samples"]
    )
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(out / name)
    assert set(manifest["files"]) == set(names) - {"manifest.json"}

    mid = mido.MidiFile(out / "beat.mid")
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == ["Verse", "Chorus"]
    assert not list(out.parent.glob(".*"))  # no staging folders left behind


def test_formats_and_sample_rate(tiny_kit, beat_mid, tmp_path):
    out = tmp_path / "o"
    args = [
        "render",
        str(beat_mid),
        "-o",
        str(out),
        "--kit",
        "tiny",
        "--format",
        "flac,mp3",
        "--sample-rate",
        "44100",
    ]
    assert main(args) == 0
    assert sf.info(out / "mix.flac").samplerate == 44100
    assert sf.info(out / "mix.flac").subtype == "PCM_24"
    mp3, rate = sf.read(out / "mix.mp3")
    assert rate == 44100 and len(mp3) > rate * 3
    assert (out / "stems" / "kick.mp3").is_file() and not (out / "mix.wav").exists()


def test_same_seed_same_audio_and_force(tiny_kit, beat_mid, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", "--seed", "7"]) == 0
    first = sha256(out / "mix.wav")
    assert main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", "--seed", "7"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (
        main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", "--seed", "7", "--force"])
        == 0
    )
    assert sha256(out / "mix.wav") == first
    assert (
        main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny", "--seed", "8", "--force"])
        == 0
    )
    assert sha256(out / "mix.wav") != first


def _piano(path):
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=90)]))
    mid.save(path)


def _tempo(path, bpm, last_beat=0):
    mid = mido.MidiFile()
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                mido.Message("note_on", channel=9, note=36, velocity=90),
                mido.Message("note_on", channel=9, note=38, velocity=90, time=480 * last_beat),
            ]
        )
    )
    mid.save(path)


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (None, [], "no such file"),
        (lambda p: p.write_bytes(b"garbage"), [], "not a readable MIDI file"),
        (_piano, [], "no drum notes"),
        (lambda p: _tempo(p, 1000), [], "tempo"),
        (lambda p: _tempo(p, 30, last_beat=4 * 500), [], "renders up to 30 minutes"),
        ("ok", ["--kit", "nope"], "unknown kit 'nope'; available kits: tiny"),
        ("ok", ["--loudness", "loud"], "unknown loudness"),
        ("ok", ["--loudness", "+3"], "out of range"),
        ("ok", ["--sample-rate", "96000"], "sample rate"),
        ("ok", ["--format", "ogg"], "unknown format"),
        ("ok", ["--seed", "-1"], "seed"),
        ("ok", ["--mix", "metal"], "mix preset"),
    ],
)
def test_bad_input_gets_one_line_and_no_output(
    tiny_kit, tmp_path, make, extra, message, basic_score
):
    midi = tmp_path / "in.mid"
    if make == "ok":
        write_midi(basic_score, midi)
    elif make is not None:
        make(midi)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiogen",
            "render",
            str(midi),
            "-o",
            str(out),
            "--kit",
            "tiny",
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audiogen: error:"), proc.stderr
    assert message in lines[0]
    assert not out.exists()


def test_unwritable_output_is_refused_before_work(tiny_kit, beat_mid, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["render", str(beat_mid), "-o", str(blocker / "out"), "--kit", "tiny"]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_a_failure_while_writing_leaves_nothing(tiny_kit, beat_mid, tmp_path, monkeypatch, capsys):
    import audiogen.export

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(audiogen.export, "write_midi", broken)
    out = tmp_path / "out"
    assert main(["render", str(beat_mid), "-o", str(out), "--kit", "tiny"]) == 2
    assert "disk full" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_debug_shows_the_traceback(tiny_kit, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "audiogen", "--debug", "render", str(tmp_path / "none.mid")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_kits_lists_kits(tiny_kit, capsys):
    assert main(["kits"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tiny") and "CC0-1.0" in line


def test_python_api_matches_the_cli_schema(tiny_kit, beat_mid, tmp_path):
    import audiogen

    beat = audiogen.render(beat_mid, kit="tiny", loudness=-18)
    assert beat.request.loudness == "-18" and beat.loudness.target_lufs == -18.0
    assert set(beat.stems) == {"kick", "snare", "hats", "room"}
    assert all(s.shape == beat.mix.shape for s in beat.stems.values())
    # the delivered stems add up to the mix (the limiter only shaves peaks)
    total = sum(beat.stems.values())
    err = np.sqrt(np.mean((total - beat.mix) ** 2)) / np.sqrt(np.mean(beat.mix**2))
    assert err < 0.2
    saved = beat.save(tmp_path / "api")
    assert (saved / "mix.wav").is_file()
    with pytest.raises(audiogen.AudiogenError, match="unknown option"):
        audiogen.render(beat_mid, kits="tiny")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--genre", "polka"], "unknown genre"),
        (["--genre", "huose"], "did you mean house"),
        (["--energy", "2"], "energy"),
        (["--bpm", "900"], "bpm"),
        (["--bars", "0"], "bars"),
        (["--syncopation", "x"], "syncopation"),
        (["--polyrhythm", "5:7"], "polyrhythm"),
        (["--on", "bass"], "lane"),
        (["--feel", "wobbly"], "feel"),
        (["--meter", "7/8"], "meter"),
    ],
)
def test_generate_refuses_bad_values_in_one_line(tmp_path, extra, message):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audiogen", "generate", "-o", str(out), *extra],
        capture_output=True,
        text=True,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("audiogen: error:")
    assert message in lines[0].lower()
    assert not out.exists()


def test_generate_writes_a_new_beat(tiny_kit, tmp_path, monkeypatch):
    from audiogen.paths import checkpoints_dir

    shipped = checkpoints_dir()
    if not (shipped / "planner" / "planner.safetensors").is_file():
        pytest.skip("no planner checkpoint")
    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(shipped))
    out = tmp_path / "gen"
    args = [
        "generate",
        "--genre",
        "House",
        "--bars",
        "4",
        "--kit",
        "tiny",
        "-o",
        str(out),
        "--seed",
        "6",  # a beat of kick, snare and hats: what the tiny kit can sound
    ]
    assert main(args) == 0
    score = read_midi(out / "beat.mid")
    assert score.bars == 4 and score.bpm == 124.0 and score.provenance.genre == "house"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["score"]["provenance"]["models"]["planner"].startswith("planner@")
    assert any("Groove MIDI Dataset" in a for a in manifest["attributions"])
