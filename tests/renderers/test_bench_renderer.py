"""The neural renderer benchmark's measures on synthetic stems whose answers are known: onsets
on time or 60 ms late, levels that follow velocity or not, silence or hiss between hits."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

SR = 32000
pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("bench_renderer")


def hits_audio(times, gains, seconds=4.0, decay_s=0.03):
    """Noise bursts starting at ``times`` with peak ``gains``, decaying to nothing in ~0.3 s."""
    rng = np.random.default_rng(0)
    audio = np.zeros(round(seconds * SR), dtype=np.float32)
    length = round(0.3 * SR)
    envelope = np.exp(-np.arange(length) / (decay_s * SR))
    for t, g in zip(times, gains):
        start = round(t * SR)
        burst = rng.uniform(-1, 1, length) * envelope
        burst *= g / np.abs(burst).max()
        audio[start : start + length] += burst[: len(audio) - start]
    return audio


TIMES = np.arange(0.25, 3.5, 0.5)  # seven hits, 0.5 s apart


def test_onsets_on_time_score_one_and_60_ms_late_score_zero(bench):
    on_time = bench.onset_timing(TIMES, hits_audio(TIMES, [0.5] * 7), SR)
    assert on_time["onset_f"] == 1.0 and on_time["onset_error_ms"] <= 1.0  # read where it begins
    late = bench.onset_timing(TIMES, hits_audio(TIMES + 0.06, [0.5] * 7), SR)
    assert late["onset_f"] == 0.0
    slightly = bench.onset_timing(TIMES, hits_audio(TIMES + 0.02, [0.5] * 7), SR)
    assert slightly["onset_f"] == 1.0 and 19.0 <= slightly["onset_error_ms"] <= 21.0
    flam = np.append(TIMES, TIMES[0] + 0.01)  # two hits 10 ms apart are one attack
    assert bench.onset_timing(flam, hits_audio(TIMES, [0.5] * 7), SR)["onset_f"] == 1.0


def test_hit_level_follows_velocity_only_when_the_audio_does(bench):
    velocities = np.array([20, 40, 60, 80, 100, 120, 127])
    following = hits_audio(TIMES, velocities / 127)
    levels = bench.hit_levels(TIMES, following, SR)
    assert levels[-1] == pytest.approx(0.0, abs=0.1)  # peak 1.0 is 0 dBFS
    assert bench.velocity_spearman(velocities, levels) == pytest.approx(1.0)
    reversed_ = bench.hit_levels(TIMES, hits_audio(TIMES, velocities[::-1] / 127), SR)
    assert bench.velocity_spearman(velocities, reversed_) == pytest.approx(-1.0)
    assert bench.velocity_spearman(np.full(7, 90), levels) is None  # one velocity: no ranking
    assert bench.isolated(np.array([0.0, 0.01, 0.5])).tolist() == [False, False, True]


def test_level_between_rung_out_hits_finds_hiss_and_not_silence(bench):
    reference = hits_audio(TIMES, [0.8] * 7)
    assert bench.rung_out_level(reference, reference, SR, TIMES) < -60  # the sampler's own tails
    hiss = reference + np.random.default_rng(1).uniform(-0.01, 0.01, len(reference))  # -40 dBFS
    assert bench.rung_out_level(reference, hiss, SR, TIMES) == pytest.approx(-40, abs=1.0)
    late = hits_audio(TIMES + 0.01, [0.8] * 7)  # a hit 10 ms late lands in the guard, not the gap
    assert bench.rung_out_level(reference, late, SR, TIMES) < -60
    dense = np.random.default_rng(2).uniform(-0.5, 0.5, len(reference))  # never rings out
    assert bench.rung_out_level(dense, dense, SR, TIMES) is None


def test_two_detuned_tails_cancelling_for_a_moment_are_not_a_kit_rung_out(bench):
    # Two 808 tails at -40 dBFS, 0.25 Hz apart (the sampler's per-hit variation), cancel around
    # 2 s for about 0.25 s; the same score without the variation rings on through it.
    t = np.arange(round(4.0 * SR)) / SR
    varied = 0.005 * (np.sin(2 * np.pi * 50 * t) + np.sin(2 * np.pi * 50.25 * t))
    steady = (0.01 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    hits = np.array([0.0])
    # Read against the varied render alone, a render that rings as the kit does is caught.
    assert bench.rung_out_level(varied, steady, SR, hits) == pytest.approx(-40, abs=1.0)
    # With the steady render, the notch is not taken for silence...
    assert bench.rung_out_level(varied, steady, SR, hits, steady=steady) is None
    # ...and where both have rung out, hiss is still found.
    quiet = np.where(t < 2.5, varied, 0).astype(np.float32)
    ended = np.where(t < 2.5, steady, 0).astype(np.float32)
    hiss = ended + np.random.default_rng(3).uniform(-0.01, 0.01, len(t)).astype(np.float32)
    assert bench.rung_out_level(quiet, hiss, SR, hits, steady=ended) == pytest.approx(-40, abs=1.0)
    assert bench.rung_out_level(quiet, ended, SR, hits, steady=ended) < -60


def test_onsets_against_what_the_kit_makes_audible_leave_out_what_it_does_not(bench):
    kit = hits_audio(TIMES[:-1], [0.5] * 6)  # the kit's render: the last attack is not heard
    all_seven = hits_audio(TIMES, [0.5] * 7)
    six = hits_audio(TIMES[:-1], [0.5] * 6)
    assert bench.audible_onset_f(TIMES, kit, all_seven, SR) == 1.0  # the 7th: neither way
    assert bench.audible_onset_f(TIMES, kit, six, SR) == 1.0
    against_score = bench.onset_timing(TIMES, six, SR)
    assert against_score["onset_f"] < 0.95  # against the score: missed
    assert (against_score["missed"], against_score["extra"]) == (1, 0)
    extra = hits_audio(np.append(TIMES[:-1], 1.0), [0.5] * 7)  # one onset off the score
    counted = bench.onset_timing(TIMES, extra, SR)
    assert (counted["missed"], counted["extra"]) == (1, 1)  # the last attack moved to 1.0 s
    assert bench.audible_onset_f(TIMES, kit, extra, SR) == pytest.approx(12 / 13)
    missed = hits_audio(TIMES[1:-1], [0.5] * 5)  # an attack the kit makes heard, left out
    assert bench.audible_onset_f(TIMES, kit, missed, SR) == pytest.approx(10 / 11)


def test_onsets_added_where_the_kit_adds_them_too_are_counted_apart(bench):
    # The kit's own render shows an onset off the score at 1.0 s (its texture); the render
    # adds that one and another at 2.0 s, which the kit does not have.
    kit = hits_audio(np.append(TIMES, 1.0), [0.5] * 8)
    render = hits_audio(np.append(TIMES, [1.0, 2.0]), [0.5] * 9)
    assert bench.onset_timing(TIMES, render, SR)["extra"] == 2
    assert bench.extras_in_kit(TIMES, kit, render, SR) == 1
    assert bench.extras_in_kit(TIMES, hits_audio(TIMES, [0.5] * 7), render, SR) == 0


def test_the_summary_counts_the_targets_it_misses(bench):
    """The benchmark's last line says how many targets were met and names each one missed."""
    groups = {"kick": {"neural_log_mel_ratio": 1.76, "neural_onset_f": 0.967,
                       "neural_onset_error_ms": 4.1, "neural_rung_out_db": -57.8},
              "toms": {"neural_log_mel_ratio": 1.2, "neural_onset_f": 0.94,
                       "neural_onset_error_ms": 5.4, "neural_rung_out_db": None}}  # fmt: skip
    spearman = {"ride": {"neural": 0.891}, "rim": {"neural": 0.99}}
    measured, missed = bench.missed_targets({"groups": groups, "spearman": spearman})
    assert measured == 10
    assert missed == ["kick log_mel_ratio 1.76", "toms onset_f 0.94", "toms onset_error_ms 5.4",
                      "ride spearman 0.891"]  # fmt: skip
    assert bench.parse_guidance("2.5") == 2.5
    assert bench.parse_guidance("kick=3,snare=2.5") == {"kick": 3.0, "snare": 2.5}
    with pytest.raises(argparse.ArgumentTypeError, match="no stem group snares"):
        bench.parse_guidance("kick=3,snares=2.5")


def test_the_summary_adds_up_the_attacks_missed_and_the_onsets_added(bench):
    """Which side of the onset F a renderer loses on (hits it drops, or strikes it adds) is
    summed per group; a result written before the counts were kept sums what it has."""

    def row(missed: int | None, extra: int | None) -> dict:
        render = {"onset_f": 0.9, "onset_error_ms": 2.0, "onset_f_audible": 0.9, "log_mel": 0.2,
                  "rung_out_db": -60.0, "missed": missed, "extra": extra,
                  "extra_in_kit": extra and extra - 1}  # fmt: skip
        return {"group": "snare", "log_mel_codec": 0.1, "neural": render, "model": dict(render),
                "sampler": {"onset_f": 1.0, "onset_error_ms": 0.5, "missed": 0, "extra": 0},
                "spearman": {}}  # fmt: skip

    rows = [row(2, 1), row(0, 3), row(None, None)]
    snare = bench.summarise(rows, 1.0, 1.0, 10.0, 1)["groups"]["snare"]
    assert (snare["neural_missed"], snare["neural_extra"]) == (2, 4)
    assert snare["neural_extra_in_kit"] == 2  # 0 + 2: the kit's own texture among the 4
    assert (snare["sampler_missed"], snare["sampler_extra"]) == (0, 0)
    older = bench.summarise([row(None, None)], 1.0, 1.0, 10.0, 1)["groups"]["snare"]
    assert older["neural_missed"] is None


def test_stems_kept_are_read_back_as_they_were_and_go_through_the_dynamics_of_now(bench, tmp_path):
    """--keep-stems then --from-stems: a dynamics change is measured on the same token model
    stems without rendering again, so the figures differ only by what the change does."""
    from audiogen.renderers.dynamics import follow_kit
    from audiogen.score import DrumScore, Hit, Meter

    hits = (Hit(0, "kick", 110), Hit(24, "snare", 90), Hit(36, "kick", 50))
    beat = DrumScore(bpm=120, meter=Meter(4, 4), bars=1, hits=hits)
    length = round((beat.duration_s + 0.5) * SR)
    noise = np.random.default_rng(5)
    made = {who: {g: noise.uniform(-0.3, 0.3, length).astype(np.float32)
                  for g in ("kick", "snare")} for who in ("model", "sampler", "codec")}  # fmt: skip
    bench.keep_stems(tmp_path, 3, 1003, made)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stems-3-1003.npz"]  # nothing partial
    back = bench.kept_pair(tmp_path, 3, 1003, beat, "acoustic", SR)
    for who in ("model", "sampler", "codec"):
        for group, audio in made[who].items():
            np.testing.assert_array_equal(back[who][group], audio)
    keyed = follow_kit({g: a.copy() for g, a in made["model"].items()}, beat, {"acoustic": 1.0},
                       SR, 1003)  # fmt: skip
    for group in ("kick", "snare"):
        np.testing.assert_array_equal(back["neural"][group], keyed[group])
        assert not np.array_equal(back["neural"][group], made["model"][group])
    with pytest.raises(SystemExit, match="keeps no stems of performance 5 with seed 4"):
        bench.kept_pair(tmp_path, 4, 4, beat, "acoustic", SR)
