"""mix_stems: presets, stereo placement, stems that add up to the master, and refusals."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pyloudnorm
import pytest

from audiogen.errors import MixError
from audiogen.instruments import GROUPS
from audiogen.mix import LOUDNESS_PRESETS, MIX_PRESETS, MixResult, mix_stems
from audiogen.mix.chains import build_chain, build_room
from audiogen.mix.mixer import _BLOCK_SAMPLES, ROOM_STEM, _room_return

SR = 48_000


def lufs(audio: np.ndarray, sample_rate: int = SR) -> float:
    return pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))


def side_balance_db(stereo: np.ndarray) -> float:
    """How much louder the right channel is than the left, in dB."""
    left, right = (float(np.sum(np.square(ch, dtype=np.float64))) for ch in stereo)
    return 10.0 * np.log10(right / left)


@pytest.fixture(scope="module")
def streaming_mixes(beat: dict[str, np.ndarray]) -> dict[str, MixResult]:
    return {name: mix_stems(beat, SR, preset=name, target_lufs=-14.0) for name in MIX_PRESETS}


@pytest.mark.parametrize("preset", sorted(MIX_PRESETS))
def test_every_preset_lands_on_target_under_the_ceiling(
    preset: str, streaming_mixes, beat, independent_true_peak_dbtp
) -> None:
    result = streaming_mixes[preset]
    n = beat["kick"].size
    assert result.preset == preset and result.sample_rate == SR
    assert result.mix.shape == (2, n) and result.mix.dtype == np.float32
    assert set(result.stems) == set(beat) | {ROOM_STEM}
    for stem in result.stems.values():
        assert stem.shape == (2, n) and stem.dtype == np.float32
        assert np.all(np.isfinite(stem))
    assert lufs(result.mix) == pytest.approx(-14.0, abs=0.1)
    assert independent_true_peak_dbtp(result.mix) <= -1.0
    assert result.loudness.target_lufs == -14.0 and result.loudness.ceiling_dbtp == -1.0


@pytest.mark.parametrize("preset", ["podcast", "broadcast"])
def test_other_loudness_presets_land_too(preset: str, beat, independent_true_peak_dbtp) -> None:
    result = mix_stems(beat, SR, preset="hiphop", target_lufs=LOUDNESS_PRESETS[preset])
    assert lufs(result.mix) == pytest.approx(LOUDNESS_PRESETS[preset], abs=0.1)
    assert independent_true_peak_dbtp(result.mix) <= -1.0


def test_stems_sum_to_the_master_before_the_limiter(streaming_mixes, beat) -> None:
    # Without limiting (broadcast loudness) the stems add up to the master to float32 rounding.
    quiet = mix_stems(beat, SR, preset="acoustic", target_lufs=-23.0)
    assert quiet.loudness.limiting_db == 0.0
    np.testing.assert_allclose(sum(quiet.stems.values()), quiet.mix, atol=1e-5)
    # With limiting, the master differs from the sum by no more than the limiter took off.
    for result in streaming_mixes.values():
        total = sum(result.stems.values())
        taken = 1.0 - 10.0 ** (-result.loudness.limiting_db / 20.0)
        assert np.max(np.abs(total - result.mix)) <= np.max(np.abs(total)) * taken + 1e-5


def test_pan_places_hats_right_perc_left_kick_centre(streaming_mixes) -> None:
    for result in streaming_mixes.values():
        assert side_balance_db(result.stems["hats"]) > 1.0
        assert side_balance_db(result.stems["perc"]) < -1.0
        assert abs(side_balance_db(result.stems["kick"])) < 0.01


def test_hiphop_is_darker_than_electronic(streaming_mixes) -> None:
    def treble_share(stereo: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(stereo.astype(np.float64), axis=-1)) ** 2
        frequencies = np.fft.rfftfreq(stereo.shape[1], 1.0 / SR)
        return float(spectrum[:, frequencies > 6000].sum() / spectrum.sum())

    hiphop = treble_share(streaming_mixes["hiphop"].mix)
    assert hiphop < 0.7 * treble_share(streaming_mixes["electronic"].mix)


def test_same_input_gives_identical_output(streaming_mixes, beat) -> None:
    again = mix_stems(beat, SR, preset="electronic", target_lufs=-14.0)
    first = streaming_mixes["electronic"]
    np.testing.assert_array_equal(again.mix, first.mix)
    for group in beat:
        np.testing.assert_array_equal(again.stems[group], first.stems[group])
    assert again.loudness == first.loudness


def test_missing_groups_and_silent_stems_are_fine(beat) -> None:
    sparse = {"kick": beat["kick"], "snare": beat["snare"], "toms": np.zeros_like(beat["toms"])}
    result = mix_stems(sparse, SR, preset="acoustic")
    assert set(result.stems) == {"kick", "snare", "toms", ROOM_STEM}
    assert not np.any(result.stems["toms"])
    assert lufs(result.mix) == pytest.approx(-14.0, abs=0.1)


def test_44100_hz_works(beat_44k, independent_true_peak_dbtp) -> None:
    result = mix_stems(beat_44k, 44_100, preset="hiphop")
    assert result.sample_rate == 44_100
    assert lufs(result.mix, 44_100) == pytest.approx(-14.0, abs=0.1)
    assert independent_true_peak_dbtp(result.mix) <= -1.0


def test_mixing_needs_little_more_memory_than_its_result(long_beat) -> None:
    # Mixing once took 3.6 times the size of its result (1 GB to render a minute); now 1.4-1.6.
    tracemalloc.start()
    try:
        result = mix_stems(long_beat, SR, preset="acoustic")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = result.mix.nbytes + sum(stem.nbytes for stem in result.stems.values())
    assert peak < 2.0 * size


def test_the_room_runs_in_blocks_without_seams() -> None:
    # A send longer than several blocks: the room returns what one pass over it returns.
    rng = np.random.default_rng(5)
    n = 2 * _BLOCK_SAMPLES + 1000
    voiced = np.zeros(n, dtype=np.float32)
    voiced[700:] = (
        rng.standard_normal(n - 700) * np.repeat(rng.random(n // 4800 + 1), 4800)[: n - 700]
    ).astype(np.float32)
    room = MIX_PRESETS["acoustic"].room
    stereo = _room_return(voiced * np.float32(0.25), room, SR)

    filters, reverb = build_room(room)
    start = 700 + round(room.predelay_ms * SR / 1000.0)
    send = (voiced[700 : 700 + n - start] * np.float32(0.25)) / np.float32(math.sqrt(2.0))
    filtered = filters(send[np.newaxis, :], SR)[0]
    expected = np.zeros((2, n), dtype=np.float32)
    expected[:, start:] = reverb(np.stack([filtered, filtered]), SR)
    np.testing.assert_array_equal(stereo, expected)


def test_the_room_is_its_own_stem_and_the_instruments_stay_dry_of_it(beat) -> None:
    # One shared room, as a drum multitrack's room mics: the kick (which sends nothing) ends with
    # its last hit's decay in both mixes, the snare's stem is as dry as its chain left it, and
    # the room stem carries every send.
    at_broadcast = mix_stems(beat, SR, preset="acoustic", target_lufs=-23.0)
    room = at_broadcast.stems[ROOM_STEM]
    tail = slice(-SR // 10, None)  # the last 100 ms: the snare's last hit has long decayed
    assert np.max(np.abs(at_broadcast.stems["snare"][:, tail])) < 1e-4
    assert np.max(np.abs(room[:, tail])) > 1e-3  # the room rings on


def test_a_silent_beat_is_refused(beat) -> None:
    with pytest.raises(MixError, match="silent"):
        mix_stems({group: np.zeros_like(stem) for group, stem in beat.items()}, SR)


def test_unknown_preset_is_refused_with_the_presets_listed(beat) -> None:
    with pytest.raises(MixError, match="acoustic, electronic, hiphop"):
        mix_stems(beat, SR, preset="polka")


@pytest.mark.parametrize(
    ("stems", "message"),
    [
        ({}, "no stems"),
        ({"cowbell": np.ones(SR, np.float32)}, "unknown stem group"),
        ({"kick": np.ones(SR, np.float32), "snare": np.ones(SR - 1, np.float32)}, "same length"),
        ({"kick": np.ones((2, SR), np.float32)}, "mono"),
        ({"kick": np.full(SR, np.nan, np.float32)}, "NaN"),
    ],
)
def test_malformed_stems_are_refused(stems, message: str) -> None:
    with pytest.raises(MixError, match=message):
        mix_stems(stems, SR)


@pytest.mark.parametrize("preset", sorted(MIX_PRESETS))
def test_presets_treat_every_group_with_valid_plugins(preset: str) -> None:
    chosen = MIX_PRESETS[preset]
    assert set(chosen.stems) == set(GROUPS)
    for spec in chosen.stems.values():
        assert len(build_chain(spec.chain)) == len(spec.chain)
        assert -1.0 <= spec.pan <= 1.0
    assert len(build_chain(chosen.master_eq, linear_only=True)) == len(chosen.master_eq)


def test_released_stems_mix_the_same_and_are_let_go(beat) -> None:
    kept = mix_stems(beat, SR, preset="electronic")
    handed = {group: stem.copy() for group, stem in beat.items()}
    released = mix_stems(handed, SR, preset="electronic", release_stems=True)
    assert handed == {}  # the caller's dry stems are not held through the mix
    assert np.array_equal(released.mix, kept.mix)
    assert all(np.array_equal(released.stems[g], kept.stems[g]) for g in kept.stems)


def test_a_stem_lifted_a_little_past_its_ceiling_is_held_under_it_and_a_far_one_is_not():
    # A preset that must come within its shortfall may lift the stems past their ceiling: a
    # stem 0.4 dB over keeps its 24-bit file (its peak held, the rest untouched); one 6 dB over
    # is left whole, to be written as float, so that the stems still add up to the master.
    from audiogen.mix.mixer import STEM_CEILING_DBFS, _hold_under_ceiling

    rate = 48000
    t = np.arange(rate) / rate
    hit = np.exp(-t * 30) * np.sin(2 * np.pi * 60 * t)
    ceiling = 10 ** (STEM_CEILING_DBFS / 20)
    for over_db, held in ((0.4, True), (6.0, False)):
        stereo = np.stack([hit, hit]).astype(np.float32)
        stereo *= ceiling * 10 ** (over_db / 20) / np.max(np.abs(stereo))
        before = stereo.copy()
        _hold_under_ceiling(stereo, rate)
        if held:
            assert np.max(np.abs(stereo)) <= ceiling
            tail = slice(rate // 4, None)  # the hit's decay, far under the ceiling
            np.testing.assert_allclose(stereo[:, tail], before[:, tail], atol=1e-6)
        else:
            np.testing.assert_array_equal(stereo, before)


def test_a_beat_that_may_stop_short_has_the_final_limiter_spare_its_hits_punch(
    beat, monkeypatch
) -> None:
    # The final limiter may take no loud hit past the crest factor kept (nor further past it
    # than the chains and the drive left it); the beat stops short instead. Here what is kept is
    # set low, so that the limiter must give way.
    from audiogen.mix import mixer
    from audiogen.mix.dynamics import sum_of

    def mixed() -> MixResult:
        return mix_stems(beat, SR, preset="acoustic", target_lufs=-12.0,
                         max_shortfall_lu=math.inf)  # fmt: skip

    plain = mixed()
    punch = plain.loudness.drive.punch
    assert punch is not None and punch.starts.size > 0
    before = punch.lost_db(sum_of(plain.stems.values()), SR)  # the final limiter's input
    added = punch.lost_db(plain.mix, SR) - before
    assert plain.loudness.limiting_db > 0.5 and np.max(added) > 0.3  # it took its share
    floor = float(np.median(before))
    monkeypatch.setattr(mixer, "PUNCH_KEPT_DB", floor)
    kept = mixed()
    allowed = np.maximum(punch.lost_db(sum_of(kept.stems.values()), SR), floor)
    assert np.max(punch.lost_db(kept.mix, SR) - allowed) <= 0.01
    assert kept.loudness.limiting_db < plain.loudness.limiting_db
    assert kept.loudness.stopped_short_lu > plain.loudness.stopped_short_lu


@pytest.mark.parametrize(
    ("preset", "options"),
    [
        ("acoustic", {"target_lufs": -9.0}),  # stems and the sum clipped, the limiter deep
        ("hiphop", {"target_lufs": -14.0, "fade_in_s": 0.5, "fade_out_s": 1.0}),
        ("electronic", {"target_lufs": -9.0, "max_shortfall_lu": math.inf}),
    ],
)
def test_a_beat_mixed_through_scratch_files_a_few_ms_at_a_time_is_the_same(
    preset: str, options: dict, beat, monkeypatch
) -> None:
    # A long beat's tracks live in scratch files and every whole-track step runs a block at a
    # time (here every track, in blocks of ~0.1 s, with edges anywhere): it must not change
    # a sample of any stem or the master.
    import audiogen.scratch

    in_memory = mix_stems(beat, SR, preset=preset, **options)
    monkeypatch.setattr(audiogen.scratch, "RESIDENT_SAMPLES", 0)
    monkeypatch.setattr(audiogen.scratch, "BLOCK_SAMPLES", 4999)
    scratch = mix_stems(beat, SR, preset=preset, **options)
    assert isinstance(scratch.mix, np.memmap) and isinstance(scratch.stems["kick"], np.memmap)
    assert scratch.loudness == in_memory.loudness
    assert np.array_equal(scratch.mix, in_memory.mix)
    assert scratch.stems.keys() == in_memory.stems.keys()
    for group, stem in in_memory.stems.items():
        assert np.array_equal(scratch.stems[group], stem), group
