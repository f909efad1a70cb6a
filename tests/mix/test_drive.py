"""The drum-bus drive: loud beats come from the stem and bus processing, not the final limiter;
hits keep their punch; a beat that cannot get there stops short and says so; every delivered
file, MP3 included, is measured as delivered and holds its ceiling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

import audiogen
from audiogen.mix import DriveReport, integrated_lufs, mix_stems
from audiogen.mix.drive import soft_clip
from audiogen.score import DrumScore, Hit, Meter

SR = 48_000


def hit_crests_db(audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """Peak over RMS across each hit's first 50 ms, channels summed in power."""
    frames = audio if audio.ndim == 2 else audio[np.newaxis, :]
    out = []
    for start in starts:
        power = np.sum(np.square(frames[:, start : start + SR // 20], dtype=np.float64), axis=0)
        out.append(10 * math.log10(power.max() / power.mean()))
    return np.array(out)


def test_a_peaky_beat_is_made_loud_by_the_drive_and_keeps_its_punch(sparse_beat) -> None:
    result = mix_stems(
        sparse_beat, SR, preset="acoustic", target_lufs=-14.0, max_shortfall_lu=math.inf
    )
    report = result.loudness
    assert report.limiting_db <= 3.0 + 1e-9  # the final limiter only catches what is left
    assert report.drive.peak_reduction_db > 1.0 and report.drive.parallel_db > 0.0
    # Delivered at the target, or short of it by exactly what the report says.
    lufs = integrated_lufs(result.mix, SR)
    assert lufs == pytest.approx(-14.0 - report.stopped_short_lu, abs=0.5)
    # The kick and snare hits keep their crest factor within 6 dB of the dry render.
    dry = sparse_beat["kick"] + sparse_beat["snare"] + sparse_beat["hats"]
    starts = [s for s in range(0, dry.size, SR) if np.max(np.abs(dry[s : s + 480])) > 0.3]
    loss = hit_crests_db(dry, starts) - hit_crests_db(result.mix, starts)
    assert len(starts) >= 6 and np.max(loss) <= 6.0


def test_a_beat_with_room_to_spare_is_not_driven(beat) -> None:
    # -23 LUFS under -1 dBTP leaves 22 dB from peak to loudness: nothing to do.
    result = mix_stems(beat, SR, preset="acoustic", target_lufs=-23.0)
    assert result.loudness.drive == DriveReport()
    assert result.loudness.limiting_db == 0.0


def test_the_drive_stops_where_punch_would_go_and_the_beat_stops_short(sparse_beat, caplog) -> None:
    # The bed preset may clip only 3 dB: -9 LUFS is out of reach, and the beat says how far.
    result = mix_stems(sparse_beat, SR, preset="bed", target_lufs=-9.0, max_shortfall_lu=math.inf)
    report = result.loudness
    assert report.stopped_short_lu > 2.0 and report.limiting_db <= 3.0 + 1e-9
    assert report.drive.clip_db <= 3.0 + 1e-9


def test_punch_the_stem_chains_took_counts_against_the_drives_budget(sparse_beat) -> None:
    # Against the dry render, stems whose hits were already squashed by their chains have
    # less punch left to spend: the drive goes less deep than on the same stems taken as dry.
    from audiogen.mix.chains import MIX_PRESETS
    from audiogen.mix.drive import drive_stems

    stereo = {g: np.stack([s, s]) * np.float32(0.25) for g, s in sparse_beat.items()}
    squashed = {g: np.tanh(4.0 * s) / np.float32(4.0) for g, s in stereo.items()}
    spec = MIX_PRESETS["acoustic"].drive
    alone = drive_stems({g: s.copy() for g, s in squashed.items()}, SR, spec, 10.0)
    counted = drive_stems({g: s.copy() for g, s in squashed.items()}, SR, spec, 10.0,
                          dry=sum(sparse_beat.values()))  # fmt: skip
    assert alone.peak_reduction_db > counted.peak_reduction_db + 0.5
    assert alone.clip_db > counted.clip_db


def test_a_loudness_that_must_be_met_is_reached_in_the_drive_not_the_limiter(sparse_beat) -> None:
    kept = mix_stems(sparse_beat, SR, preset="acoustic", target_lufs=-8.0,
                     max_shortfall_lu=math.inf)  # fmt: skip
    met = mix_stems(sparse_beat, SR, preset="acoustic", target_lufs=-8.0, max_shortfall_lu=1.0)
    assert kept.loudness.stopped_short_lu > 1.5  # punch kept: it stops well short
    # Where the loudness must come within 1 LU, the drive clips deeper, and the final limiter
    # still takes no more than its 3 dB.
    assert met.loudness.drive.clip_db > kept.loudness.drive.clip_db + 1.0
    assert met.loudness.stopped_short_lu < kept.loudness.stopped_short_lu - 0.5
    assert met.loudness.limiting_db <= 3.0 + 1e-9


def test_soft_clip_bends_only_the_loud_hits_and_never_past_its_level() -> None:
    t = np.arange(SR // 4) / SR
    hit = np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.05)
    stereo = np.stack([hit, 0.5 * hit]).astype(np.float32)
    clipped = soft_clip(stereo, 6.0)
    level = np.max(np.abs(stereo)) * 10 ** (-6 / 20)
    assert np.max(np.abs(clipped)) <= level + 1e-6
    quiet = np.abs(stereo) < level * 10 ** (-2 / 20)  # under the knee: untouched
    np.testing.assert_array_equal(clipped[quiet], stereo[quiet])
    # Louder in, louder (or equal) out: the curve never folds back.
    order = np.argsort(np.abs(stereo[0]))
    assert np.all(np.diff(np.abs(clipped[0][order])) >= -1e-7)


def test_every_delivered_master_holds_its_ceiling_as_decoded(tiny_kit, basic_score, tmp_path):
    beat = audiogen.render(basic_score, kit="tiny", formats=("wav", "mp3"), loudness="streaming")
    out = beat.save(tmp_path / "mp3")
    files = json.loads((out / "manifest.json").read_text())["files"]
    decoded, _ = sf.read(out / "mix.mp3", dtype="float32", always_2d=True)
    from audiogen.mix import true_peak_dbtp

    assert true_peak_dbtp(decoded.T, beat.sample_rate) <= -1.0
    entry = files["mix.mp3"]
    assert entry["measured_from"] == "the decoded file"
    assert entry["true_peak_dbtp"] <= -1.0
    aimed = beat.loudness.target_lufs - beat.loudness.stopped_short_lu
    assert abs(entry["integrated_lufs"] - aimed) <= 0.5
    assert files["mix.wav"]["true_peak_dbtp"] == round(beat.loudness.true_peak_dbtp, 2)
    # Every stem file lists its own loudness and (sample) peak too, as decoded.
    for group in beat.stems:
        entry = files[f"stems/{group}.mp3"]
        assert entry["measured_from"] == "the decoded file" and "integrated_lufs" in entry
        assert "sample_peak_dbfs" in entry


def test_one_limiting_figure_in_the_warning_and_the_manifest(tiny_kit, tmp_path, caplog):
    # A podcast must land within 1 LU of -16 LUFS: on this peaky bar (one hard kick over
    # whispered hats) the limiter goes past 3 dB even after the drive has gone as deep as it
    # may, the sum's clip included.
    hits = [Hit(0, "kick", 127)] + [Hit(t, "hat_closed", 20) for t in range(6, 96, 6)]
    score = DrumScore(bpm=120, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    with caplog.at_level("WARNING", logger="audiogen"):
        beat = audiogen.render(score, kit="tiny", loudness="podcast")
    out = beat.save(tmp_path / "pod")
    manifest = json.loads((out / "manifest.json").read_text())
    warned = [r.getMessage() for r in caplog.records if "limit" in r.getMessage()]
    assert len(warned) == 1 and manifest["loudness"]["limiting_db"] > 3.0
    assert f"took {manifest['loudness']['limiting_db']:.1f} dB off the loudest hit" in warned[0]


def test_a_beat_that_may_stop_short_keeps_every_stem_under_full_scale(tiny_kit, tmp_path):
    # One hard kick over soft hats: at -14 LUFS its kick stem alone would pass 0 dBFS, and the
    # stems would have to be written as float. It stops short first: 24-bit stems that add up.
    hits = [Hit(0, "kick", 127)] + [Hit(t, "hat_closed", 50) for t in range(6, 96, 6)]
    score = DrumScore(bpm=120, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    beat = audiogen.render(score, kit="tiny", loudness="streaming", formats=("wav", "flac"))
    assert max(float(np.max(np.abs(s))) for s in beat.stems.values()) < 1.0
    out = beat.save(tmp_path / "short")
    assert sf.info(out / "stems" / "kick.wav").subtype == "PCM_24"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["audio"]["stem_wav_subtype"] == "PCM_24"
    assert manifest["loudness"]["stopped_short_lu"] > 0.0


def test_hits_that_land_together_are_clipped_on_the_sum_where_the_loudness_must_be_met(
    sparse_beat,
) -> None:
    # A one-drop: kick and snare on the same beat. Each stem clipped as deep as it may be, their
    # sum still peaks over what the target leaves; the sum is clipped, and the stems add up to it.
    import dataclasses

    from audiogen.mix.chains import MIX_PRESETS
    from audiogen.mix.drive import drive_stems

    together = {**sparse_beat, "snare": np.roll(sparse_beat["snare"], -SR)}
    spec = MIX_PRESETS["acoustic"].drive
    target_plr_db, must_reach_db = 7.5, 2.0

    def driven(bus_clip_db: float) -> tuple[DriveReport, float]:
        stems = {g: np.stack([s, s]) for g, s in together.items()}
        report = drive_stems(stems, SR, dataclasses.replace(spec, bus_clip_db=bus_clip_db),
                             target_plr_db, must_reach_db=must_reach_db)  # fmt: skip
        total = sum(stems.values())
        return report, 20 * math.log10(np.max(np.abs(total))) - integrated_lufs(total, SR)

    stems_only, plr_stems_only = driven(0.0)
    assert stems_only.clip_db == spec.clip_db and stems_only.bus_clip_db == 0.0
    assert plr_stems_only > target_plr_db + must_reach_db + 0.5  # the limiter would take more
    clipped, plr_clipped = driven(3.0)
    assert 0.0 < clipped.bus_clip_db <= 3.0
    assert plr_clipped <= target_plr_db + must_reach_db + 1e-3


def test_an_mp3_limited_for_its_codec_headroom_keeps_the_masters_loudness(tmp_path, beat):
    # A dense master at -9 LUFS: its MP3 overshoots the ceiling, and the copy limited under it
    # for the codec's headroom is turned up again, so the file lands where the master did.
    from audiogen.audiofiles import write_measured
    from audiogen.mix import true_peak_dbtp

    master = mix_stems(beat, SR, preset="electronic", target_lufs=-9.0).mix
    measured = write_measured(tmp_path / "mix.mp3", master, SR, "mp3", -1.0)
    decoded, _ = sf.read(tmp_path / "mix.mp3", dtype="float32", always_2d=True)
    assert measured.headroom_db > 0.0
    assert true_peak_dbtp(decoded.T, SR) <= -1.0
    assert abs(integrated_lufs(decoded.T, SR) - integrated_lufs(master, SR)) <= 0.5


def test_a_long_beats_drive_holds_no_more_memory_when_the_beat_is_longer(
    sparse_beat, monkeypatch
) -> None:
    # A long beat's tracks live in scratch files (here every track, in small blocks): the
    # drive's working memory (what it allocates over the stems) must not grow with the length,
    # or a long song would run out of memory in the drive alone.
    import tracemalloc

    import audiogen.scratch
    from audiogen.mix.chains import MIX_PRESETS
    from audiogen.mix.drive import drive_stems
    from audiogen.scratch import track

    monkeypatch.setattr(audiogen.scratch, "RESIDENT_SAMPLES", 0)
    monkeypatch.setattr(audiogen.scratch, "BLOCK_SAMPLES", 1 << 14)
    spec = MIX_PRESETS["acoustic"].drive

    def drive_peak_mb(times: int) -> tuple[float, DriveReport]:
        stems = {}
        for group, mono in sparse_beat.items():
            stems[group] = track((2, times * mono.size))
            stems[group][:] = np.tile(mono, times)
        tracemalloc.start()
        report = drive_stems(stems, SR, spec, 10.0, must_reach_db=2.0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20, report

    short_mb, short = drive_peak_mb(1)
    long_mb, long = drive_peak_mb(4)
    assert short.clip_db > 0.0 and long.clip_db > 0.0  # the clipper's candidates were used
    assert long_mb < short_mb + 1.0, (short_mb, long_mb)
