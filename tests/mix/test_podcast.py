"""Podcast stems: stems that add up to the master before its limiter (within a stated
tolerance, in memory and in the files), platform loudness, a bed for under speech, fades."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import audiogen
import audiogen.mix.mixer as mixer
from audiogen.cli import main
from audiogen.errors import MixError
from audiogen.midi import write_midi
from audiogen.mix import (
    PLATFORM_LOUDNESS,
    integrated_lufs,
    loudness_ceiling,
    mix_stems,
    resolve_loudness,
)
from audiogen.mix.mixer import fade_curve
from audiogen.score import DrumScore, Hit, Meter

SR = 48_000
# The stems' sum against the master before its limiter, as a share of that master's peak:
# float32 rounding in memory; in 24-bit files, half a step per stem on top.
SUM_TOLERANCE = 1e-5
FILE_SUM_TOLERANCE = 6 * 2.0**-24 + SUM_TOLERANCE


@pytest.fixture
def premaster(monkeypatch):
    """Record what the mixer hands to loudness normalisation, and the gain it applied."""
    seen = {}
    normalize = mixer.normalize

    def recording(audio, sample_rate, target_lufs, ceiling_dbtp, max_shortfall_lu, **caps):
        out, report = normalize(
            audio, sample_rate, target_lufs, ceiling_dbtp, max_shortfall_lu, **caps
        )
        seen["master"] = np.asarray(audio, dtype=np.float64) * 10.0 ** (report.gain_db / 20.0)
        return out, report

    monkeypatch.setattr(mixer, "normalize", recording)
    return seen


@pytest.mark.parametrize("preset", ["acoustic", "hiphop", "bed"])
def test_stems_sum_to_the_master_before_its_limiter(beat, premaster, preset) -> None:
    result = mix_stems(beat, SR, preset=preset, target_lufs=-14.0)
    assert result.loudness.limiting_db > 0.0  # the limiter did work on the master
    total = sum(stem.astype(np.float64) for stem in result.stems.values())
    peak = np.max(np.abs(premaster["master"]))
    assert np.max(np.abs(total - premaster["master"])) <= SUM_TOLERANCE * peak


def test_written_stems_sum_within_the_file_tolerance(tiny_kit, basic_score, premaster, tmp_path):
    beat = audiogen.render(basic_score, kit="tiny", loudness="podcast", fade_out_s=1.0)
    out = beat.save(tmp_path / "pod")
    stems = [sf.read(p, always_2d=True)[0] for p in sorted((out / "stems").glob("*.wav"))]
    total = sum(stems).T
    peak = np.max(np.abs(premaster["master"]))
    assert np.max(np.abs(total - premaster["master"])) <= FILE_SUM_TOLERANCE * max(peak, 1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["audio"]["stems_sum_to"].startswith("the master before its true-peak limiter")


def test_stems_over_full_scale_are_written_as_float(tiny_kit, tmp_path) -> None:
    # One hard kick in a bar of whispered 16th hats: a podcast must land within 1 LU of -16
    # LUFS, so past the drive's depth the limiter goes deep on the kick, and the stems (which
    # sum to the master before it) pass full scale.
    hits = [Hit(0, "kick", 127)] + [Hit(t, "hat_closed", 20) for t in range(6, 96, 6)]
    score = DrumScore(bpm=120, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    beat = audiogen.render(score, kit="tiny", loudness="podcast")
    assert beat.loudness.integrated_lufs == pytest.approx(-17.0, abs=0.1)
    assert beat.loudness.limiting_db > 3.0
    assert max(float(np.max(np.abs(s))) for s in beat.stems.values()) > 1.0
    out = beat.save(tmp_path / "hot")
    info = sf.info(out / "stems" / "kick.wav")
    assert info.subtype == "FLOAT" and sf.info(out / "mix.wav").subtype == "PCM_24"
    # libsndfile's PEAK chunk carries no time of writing: the same beat gives the same bytes.
    data = (out / "stems" / "kick.wav").read_bytes()
    at = data.find(b"PEAK")
    assert at > 0 and data[at + 12 : at + 16] == b"\0\0\0\0"
    written = sum(sf.read(p, always_2d=True)[0] for p in (out / "stems").glob("*.wav"))
    np.testing.assert_allclose(written.T, sum(beat.stems.values()), atol=1e-6)


def test_bed_sits_under_speech_quieter_and_out_of_the_voice_band(beat) -> None:
    _, target = resolve_loudness("bed")
    bed = mix_stems(beat, SR, preset="bed", target_lufs=target)
    plain = mix_stems(beat, SR, preset="acoustic", target_lufs=target)
    assert integrated_lufs(bed.mix, SR) == pytest.approx(-26.0, abs=0.1)

    def band_db(stereo: np.ndarray, low: float, high: float) -> float:
        spectrum = np.abs(np.fft.rfft(stereo.astype(np.float64), axis=-1)) ** 2
        freqs = np.fft.rfftfreq(stereo.shape[1], 1.0 / SR)
        return 10.0 * np.log10(spectrum[:, (freqs >= low) & (freqs < high)].sum())

    # At the same loudness: less in the speech band (1-4 kHz), much less top (6 kHz and up);
    # the bed carries its loudness in the low end instead.
    assert band_db(bed.mix, 1000, 4000) < band_db(plain.mix, 1000, 4000) - 2.0
    assert band_db(bed.mix, 6000, 24000) < band_db(plain.mix, 6000, 24000) - 8.0
    assert band_db(bed.mix, 20, 200) > band_db(plain.mix, 20, 200)


def test_platform_names_resolve_with_their_ceilings() -> None:
    assert resolve_loudness("Spotify") == ("spotify", -14.0)
    assert resolve_loudness("apple-podcasts") == ("apple-podcasts", -16.0)
    assert resolve_loudness("atsc-a85") == ("atsc-a85", -24.0)
    assert loudness_ceiling("atsc-a85") == -2.0 and loudness_ceiling("spotify") == -1.0
    assert all(-24.0 <= lufs <= -14.0 for lufs in PLATFORM_LOUDNESS.values())
    with pytest.raises(MixError, match="spotify"):
        resolve_loudness("myspace")


def test_fades_start_and_end_in_silence_and_keep_the_target(beat, premaster) -> None:
    result = mix_stems(beat, SR, preset="acoustic", target_lufs=-16.0, fade_in_s=0.5, fade_out_s=1)
    assert np.max(np.abs(result.mix[:, :48])) < 1e-3
    assert np.max(np.abs(result.mix[:, -48:])) < 1e-3
    assert integrated_lufs(result.mix, SR) == pytest.approx(-16.0, abs=0.1)
    total = sum(stem.astype(np.float64) for stem in result.stems.values())
    peak = np.max(np.abs(premaster["master"]))
    assert np.max(np.abs(total - premaster["master"])) <= SUM_TOLERANCE * peak


def test_fade_curve_shape_and_refusals() -> None:
    curve = fade_curve(1000, 1000, 0.1, 0.2)
    assert curve[0] == 0.0 and curve[-1] == pytest.approx(0.0, abs=1e-7)
    assert np.all(curve[100:800] == 1.0) and np.all(np.diff(curve[:100]) > 0)
    with pytest.raises(MixError, match="do not fit"):
        fade_curve(1000, 1000, 0.6, 0.6)


def test_podcast_and_bed_presets_from_the_command_line(tiny_kit, basic_score, tmp_path, capsys):
    mid = tmp_path / "beat.mid"
    write_midi(basic_score, mid)
    pod = tmp_path / "pod"
    assert main(["render", str(mid), "-o", str(pod), "--kit", "tiny", "--preset", "podcast"]) == 0
    assert (pod / "mix.mp3").is_file() and (pod / "stems" / "kick.mp3").is_file()
    mix, rate = sf.read(pod / "mix.wav", always_2d=True)
    assert integrated_lufs(mix.T, rate) == pytest.approx(-16.0, abs=0.5)
    bed = tmp_path / "bed"
    args = [
        "render",
        str(mid),
        "-o",
        str(bed),
        "--kit",
        "tiny",
        "--preset",
        "bed",
        "--fade-in",
        "1",
    ]
    assert main(args) == 0
    request = json.loads((bed / "manifest.json").read_text())["request"]
    assert (request["mix"], request["loudness"], request["fade_in_s"]) == ("bed", "bed", 1.0)
    capsys.readouterr()
    assert main([*args[:-2], "--force", "--fade-out", "99"]) == 2
    assert capsys.readouterr().err.startswith("audiogen: error: fade out")
