"""Seamless loops: exact length, tails wrapped to the start, no click at the seam, and loop
points and tempo in the WAV that DAWs read."""

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

import audiogen
from audiogen.cli import main
from audiogen.export import read_loop_chunks
from audiogen.loop import fold_tails, loop_length, seam_report
from audiogen.midi import write_midi
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter


def _score(bpm: float, bars: int, meter: Meter | None = None) -> DrumScore:
    meter = meter or Meter(4, 4)
    per_bar = meter.ticks_per_bar
    hits = []
    for bar in range(bars):
        hits += [Hit(bar * per_bar, "kick", 120), Hit(bar * per_bar + per_bar // 2, "snare", 110)]
        hits += [Hit(bar * per_bar + t, "hat_closed", 80) for t in range(0, per_bar, 12)]
    # The open hat on the last off-beat rings a second: past the loop's end, into its start.
    hits.append(Hit(bars * per_bar - 6, "hat_open", 100))
    return DrumScore(bpm=bpm, meter=meter, bars=bars, hits=tuple(hits))


@pytest.mark.parametrize(
    ("bpm", "bars", "rate", "samples"),
    [
        (120, 1, 48000, 96000),
        (140, 1, 44100, 75600),
        (137, 1, 44100, 77255),
        (60, 8, 48000, 1536000),
    ],
)
def test_loop_length_is_the_bars_at_the_tempo_rounded_to_the_nearest_sample(
    bpm, bars, rate, samples
):
    length = loop_length(_score(bpm, bars), rate)
    assert length.samples == samples
    assert length.exact == Fraction(bars * 4 * 60 * rate) / Fraction(bpm)
    assert abs(length.error_samples) <= 0.5
    assert length.beats == bars * 4


def test_loop_length_counts_quarter_note_beats_in_compound_meters():
    # Two bars of 6/8 are six quarter notes; at 90 bpm that is exactly 4 s.
    length = loop_length(_score(90, 2, Meter(6, 8)), 48000)
    assert (length.beats, length.samples) == (6, 192000)


def test_fold_tails_wraps_everything_that_rings_past_the_end():
    stem = np.arange(1, 11, dtype=np.float32)  # 10 samples onto a loop of 4
    folded = fold_tails(stem, 4)
    np.testing.assert_array_equal(folded, [1 + 5 + 9, 2 + 6 + 10, 3 + 7, 4 + 8])
    assert float(folded.sum()) == float(stem.sum())  # nothing is lost


def test_rendered_loop_is_exact_wraps_its_tail_and_has_a_clean_seam(tiny_kit):
    # Two bars, so that what sounds on the seam's downbeat (a kick) also sounds inside the loop;
    # the tiny kit's sounds start at full level, so every onset is a step.
    score = _score(137, 2)
    beat = audiogen.render(score, kit="tiny", loop=True, sample_rate=44100, loudness="broadcast")
    assert beat.mix.shape == (2, 154511)
    for stem in beat.stems.values():
        assert stem.shape == beat.mix.shape
    # The open hat struck just before the end is heard at the start, before the next hat hit.
    assert np.abs(beat.stems["hats"][:, :50]).max() > 1e-3
    report = seam_report(beat.mix)
    assert report["seam_jump"] <= report["interior_jump"]
    assert report["seam_flux"] <= report["interior_flux"]
    # The loop's start is what follows its end when the mix plays on.
    assert beat.seam_error < 1e-4
    assert abs(beat.loudness.integrated_lufs - (-23.0)) <= 0.5
    assert beat.loudness.true_peak_dbtp <= -1.0


def test_a_loop_plays_on_as_its_score_does_when_repeated(tiny_kit):
    # Every downbeat kick is pushed 5 ms early, and the last 16th's open hat is closed by the
    # next downbeat's closed hat: at the loop's restart as on every other bar.
    rate, per_bar = 48000, 96
    hits = [Hit(0, "kick", 120, -5.0), Hit(per_bar, "kick", 120, -5.0)]
    hits += [Hit(t, "hat_closed", 80) for t in range(0, 2 * per_bar, 12)]
    hits.append(Hit(2 * per_bar - 6, "hat_open", 100))
    score = DrumScore(bpm=120, meter=Meter(4, 4), bars=2, hits=tuple(hits))
    n = loop_length(score, rate).samples  # 192000: one pass is 4 s
    sampler = Sampler(tiny_kit, rate, Variation.none())
    loop = {g: fold_tails(s, n) for g, s in sampler.render(score, loop_samples=n).stems.items()}
    # The same bars played three times over without a loop: the middle pass is what a loop
    # should be, tails of the pass before and the early kick of the pass after included.
    thrice = DrumScore(
        bpm=120, meter=Meter(4, 4), bars=6,
        hits=tuple(dataclasses.replace(h, tick=h.tick + k * 2 * per_bar)
                   for k in range(3) for h in hits),
    )  # fmt: skip
    played = sampler.render(thrice).stems
    for group in ("kick", "hats"):
        np.testing.assert_allclose(loop[group], played[group][n : 2 * n], atol=1e-6)
    # Heard: the early downbeat kick sounds at the loop's end, and the open hat stops on the
    # one instead of ringing over the restart's first beat (the closed hat dies in 50 ms).
    early = n - round(0.005 * rate)
    assert loop["kick"][early - 1] == 0.0 and loop["kick"][early] > 0.0
    assert np.abs(loop["hats"][round(0.06 * rate) : round(0.25 * rate)]).max() == 0.0


def test_a_rendered_loop_restarts_with_its_early_downbeat_and_choked_hat(tiny_kit):
    import audiogen

    hits = [Hit(0, "kick", 120, -5.0), Hit(90, "hat_open", 100), Hit(0, "hat_closed", 80)]
    score = DrumScore(bpm=150, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    beat = audiogen.render(score, kit="tiny", loop=True, seed=1)
    n = beat.mix.shape[1]
    dry = beat.stems["kick"][0]
    early = n - round(0.005 * beat.sample_rate)  # the kick played 5 ms early: heard at the end
    assert np.abs(dry[early - 200 : early - 1]).max() < 1e-4 < np.abs(dry[early:]).max()
    # The open hat is choked by the downbeat's closed hat, not left ringing over the restart
    # (what is left there is the room's reverb): against the same loop with no hat to choke it.
    ringing = audiogen.render(dataclasses.replace(score, hits=tuple(hits[:2])), kit="tiny",
                              loop=True, seed=1)  # fmt: skip
    window = slice(round(0.1 * beat.sample_rate), round(0.5 * beat.sample_rate))
    choked = np.sqrt(np.mean(beat.stems["hats"][0][window] ** 2))
    assert choked < 0.2 * np.sqrt(np.mean(ringing.stems["hats"][0][window] ** 2))


def test_a_humanized_loop_restarts_like_its_other_bar_lines():
    # The planner's 4-bar drum-and-bass at 70 bpm, seed 1. Humanized as a take, its first bar
    # was played as an opening: kick and hat within 2 ms, where the drummer spreads them at the
    # bar lines inside; on repeat, that restart read 4 % above the loop's loudest bar line.
    from audiogen.humanize import humanize
    from audiogen.pipeline import Session
    from audiogen.request import PlanOptions

    options, genre = PlanOptions.create(genre="drum-and-bass", bpm=70, bars=4)
    score = Session().plan(options, seed=1)
    played = humanize(score, 1.0, seed=1, loop=True)
    assert sorted((h.tick, h.instrument) for h in played.hits) == sorted(
        (h.tick, h.instrument) for h in score.hits
    )
    assert played.bars == 4 and played.sections == score.sections
    assert dict(played.provenance.models)["humanizer"].endswith("played on repeat")
    beat = audiogen.render(played, kit=genre.kit, mix=genre.mix, sample_rate=48000, loop=True)
    report = seam_report(beat.mix)
    assert report["seam_flux"] <= report["interior_flux"]
    assert humanize(score, 1.0, seed=1, loop=True).hits == played.hits


def test_a_loop_too_sparse_for_its_target_stops_short_and_says_so_once(tiny_kit, caplog):
    # One hard kick in a bar of soft 8th-note hats at 90 bpm: -14 LUFS would take far more
    # than 3 dB off the kick, and the drive may not crush it either. The loop's mix is
    # normalised up to three times on its way to the target on repeat; the user hears once
    # where it was delivered, and the kick keeps its hit.
    hits = [Hit(0, "kick", 127)] + [Hit(t, "hat_closed", 40) for t in range(12, 96, 12)]
    score = DrumScore(bpm=90, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    with caplog.at_level("WARNING", logger="audiogen"):
        beat = audiogen.render(score, kit="tiny", loop=True, loudness="streaming")
    report = beat.loudness
    warned = [r.getMessage() for r in caplog.records if "LU under" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].startswith(f"delivered at {report.integrated_lufs:.1f} LUFS")
    assert report.stopped_short_lu > 1.0 and report.limiting_db <= 3.0 + 1e-6
    assert report.integrated_lufs == pytest.approx(-14.0 - report.stopped_short_lu, abs=0.05)
    assert report.true_peak_dbtp <= -1.0


@pytest.mark.parametrize("period", [6080, 6050])
def test_seam_flux_is_the_same_wherever_the_seam_falls_among_frames(period):
    # Four identical hits: the one on the seam is no louder than the others. On a 256-sample
    # frame grid it read 3 % louder (period 6080) or 17 % softer (6050), by where it fell.
    hit = np.random.default_rng(0).standard_normal(4000) * np.exp(-np.arange(4000) / 600)
    audio = np.zeros(4 * period)
    for k in range(4):
        audio[k * period : k * period + 4000] += hit
    report = seam_report(audio)
    assert report["seam_flux"] == pytest.approx(report["interior_flux"], rel=0.005)


def test_a_hard_cut_is_what_the_seam_report_catches():
    t = np.arange(48000) / 48000
    cut = np.stack([np.sin(2 * np.pi * 441.3 * t)] * 2) * 0.5  # not a whole number of cycles
    report = seam_report(cut)
    assert report["seam_jump"] > 10 * report["interior_jump"]


def test_loop_wav_carries_smpl_and_acid_chunks(tiny_kit, tmp_path):
    score = _score(124, 2)
    beat = audiogen.render(score, kit="tiny", loop=True, formats="wav,flac")
    out = beat.save(tmp_path / "loop")
    n = beat.loop.samples
    for path in (out / "mix.wav", out / "stems" / "kick.wav"):
        chunks = read_loop_chunks(path)
        assert chunks == {
            "loop_start": 0,
            "loop_end": n - 1,
            "loop_type": 0,
            "play_count": 0,
            "acid_flags": 4,
            "beats": 8,
            "meter": "4/4",
            "bpm": 124.0,
        }
        audio, rate = sf.read(path, always_2d=True)  # libsndfile still reads it
        assert (audio.shape[0], rate) == (n, 48000)
    assert sf.info(out / "mix.flac").frames == n
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["loop"]["samples"] == n
    assert manifest["loop"]["exact_samples"] == str(beat.loop.exact)
    assert manifest["request"]["loop"] is True


def test_video_preset_loops_at_48k_and_refuses_fades(tiny_kit, tmp_path, basic_score, capsys):
    mid = tmp_path / "beat.mid"
    write_midi(basic_score, mid)
    out = tmp_path / "video"
    assert main(["render", str(mid), "-o", str(out), "--kit", "tiny", "--preset", "video"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["request"]["loop"] is True and manifest["audio"]["sample_rate"] == 48000
    assert manifest["audio"]["samples"] == 192000  # 2 bars at 120 bpm
    assert read_loop_chunks(out / "mix.wav")["loop_end"] == 192000 - 1
    capsys.readouterr()
    bad = tmp_path / "bad"
    args = ["render", str(mid), "-o", str(bad), "--kit", "tiny", "--preset", "video"]
    assert main([*args, "--fade-in", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("audiogen: error: fades and --loop") and "\n" not in err
    assert not bad.exists()
    # --no-loop wins over the preset.
    assert main([*args, "--no-loop", "--fade-in", "1"]) == 0
    assert json.loads((bad / "manifest.json").read_text())["loop"] is None
