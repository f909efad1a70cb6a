import numpy as np
import pytest

from audiogen.errors import KitError
from audiogen.renderers import Sampler, Variation
from audiogen.renderers.sampler import _repitch, _repitched_length, pick_layer, velocity_gain
from audiogen.score import DrumScore, Hit, Meter


def _score(*hits, bpm=120.0, bars=1):
    return DrumScore(bpm=bpm, meter=Meter(4, 4), bars=bars, hits=tuple(hits))


def _onsets(stem, threshold=1e-4):
    """Sample indices where a stem goes from silence to sound."""
    loud = np.abs(stem) > threshold
    return np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))


@pytest.mark.parametrize("sample_rate", [48000, 44100])
def test_hits_land_on_the_exact_sample_including_offsets(tiny_kit, sample_rate):
    hits = [Hit(0, "kick", 127), Hit(24, "kick", 127, 7.3), Hit(48, "kick", 127, -4.1)]
    score = _score(*hits)
    stem = Sampler(tiny_kit, sample_rate, Variation.none()).render(score).stems["kick"]
    expected = [round(score.time_s(h) * sample_rate) for h in hits]
    assert list(_onsets(stem)) == expected


def test_a_bar_played_again_later_repeats_to_the_sample(tiny_kit):
    # At 200 bpm and 44.1 kHz a tick is 551.25 samples: every other 16th note falls half-way
    # between two samples, and a bar is 52920 samples. Each bar must sound as the one before
    # (its tails included); rounding the float time alone put some hits a sample early or
    # late, by where they fell in the song.
    bars, n = 16, 52920
    hits = [Hit(bar * 96 + t, "hat_closed", 100) for bar in range(bars) for t in range(0, 96, 6)]
    score = _score(*hits, bpm=200.0, bars=bars)
    stem = Sampler(tiny_kit, 44100, Variation.none()).render(score).stems["hats"]
    second = stem[n : 2 * n]
    assert np.abs(second).max() > 0.1
    for bar in range(2, bars):
        np.testing.assert_allclose(stem[bar * n : (bar + 1) * n], second, atol=1e-6)


def test_stems_are_grouped_and_last_the_score_plus_tails(tiny_kit):
    score = _score(Hit(0, "kick", 100), Hit(24, "snare", 100), Hit(90, "hat_open", 100))
    result = Sampler(tiny_kit).render(score)
    assert set(result.stems) == {"kick", "snare", "hats"}
    lengths = {len(s) for s in result.stems.values()}
    assert len(lengths) == 1
    # the open hat on the last 16th rings past the bar: its tail is kept, not cut
    assert lengths.pop() > round(score.duration_s * 48000)
    assert all(s.dtype == np.float32 for s in result.stems.values())


def test_velocity_makes_hits_softer_and_picks_layers(tiny_kit):
    kick = tiny_kit.instruments["kick"]
    assert pick_layer(kick.layers, 30).velocity == 64
    assert pick_layer(kick.layers, 100).velocity == 127
    peaks = []
    for velocity in (20, 50, 63, 64, 65, 66, 100, 127):
        stem = (
            Sampler(tiny_kit, variation=Variation.none())
            .render(_score(Hit(0, "kick", velocity)))
            .stems["kick"]
        )
        peaks.append(np.abs(stem).max())
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)
    assert peaks[-1] / peaks[0] > 10  # ghost notes are really quiet
    assert velocity_gain(127) == 1.0 and velocity_gain(64) == pytest.approx(0.29, abs=0.02)


def test_closed_hat_chokes_the_open_hat(tiny_kit):
    sr = 48000
    choke_tick = 24
    score = _score(Hit(0, "hat_open", 127), Hit(choke_tick, "hat_closed", 127))
    alone = _score(Hit(0, "hat_open", 127))
    sampler = Sampler(tiny_kit, variation=Variation.none())
    stem = sampler.render(score).stems["hats"]
    ringing = sampler.render(alone).stems["hats"]
    closed_ends = round(score.time_s(score.hits[1]) * sr) + 2400
    # after the closed hat has died away, the open hat is silent instead of ringing on
    assert np.abs(stem[closed_ends + 10 : sr]).max() == 0.0
    assert np.abs(ringing[closed_ends + 10 : sr]).max() > 0.1


def test_repeated_hits_vary_but_a_seed_repeats_exactly(tiny_kit):
    score = _score(*(Hit(t, "snare", 100) for t in range(0, 96, 24)))
    a = Sampler(tiny_kit).render(score, seed=1).stems["snare"]
    b = Sampler(tiny_kit).render(score, seed=1).stems["snare"]
    c = Sampler(tiny_kit).render(score, seed=2).stems["snare"]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    hop = 24000  # a quarter at 120 bpm
    first, second = a[:4800], a[hop : hop + 4800]
    assert not np.allclose(first, second, atol=1e-4)
    assert np.abs(first).max() == pytest.approx(np.abs(second).max(), rel=0.35)
    flat = Sampler(tiny_kit, variation=Variation.none()).render(
        _score(Hit(0, "kick", 90), Hit(24, "kick", 90))
    )
    stem = flat.stems["kick"]
    assert np.array_equal(stem[:4800], stem[hop : hop + 4800])


def test_missing_classes_fall_back_or_are_reported(tiny_kit):
    score = _score(Hit(0, "rim", 100), Hit(24, "hat_pedal", 100), Hit(48, "cowbell", 100))
    result = Sampler(tiny_kit).render(score)
    assert result.substitutions == {"rim": "snare", "hat_pedal": "hat_closed"}
    assert result.dropped == {"cowbell": 1}
    assert set(result.stems) == {"snare", "hats"}


def test_unknown_kit_lists_the_known_ones(tiny_kit):
    from audiogen.kits import load_kit

    with pytest.raises(KitError, match="available kits: tiny"):
        load_kit("nope")


def test_memory_grows_with_the_songs_length_not_its_note_count(tiny_kit):
    """A dense file must not need a copy of a sample per hit (it once ran out of memory)."""
    import tracemalloc

    def peak_mb(notes_per_bar):
        step = 96 // notes_per_bar
        score = _score(*(Hit(bar * 96 + i * step, "hat_open", 100)
                         for bar in range(8) for i in range(notes_per_bar)), bars=8)  # fmt: skip
        tracemalloc.start()
        Sampler(tiny_kit).render(score)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20

    sparse, dense = peak_mb(2), peak_mb(96)  # 16 hits against 768, each a second of audio
    assert dense < sparse * 1.5 + 1.0


def test_a_long_beats_stems_are_rendered_into_scratch_files_alike(tiny_kit, monkeypatch):
    # A long beat's stems live in scratch files, their pages handed back as the voices go by:
    # the same samples as stems held in memory.
    import audiogen.renderers.sampler
    import audiogen.scratch

    hits = [Hit(bar * 96 + t, name, 100) for bar in range(8) for t in range(0, 96, 12)
            for name in ("kick", "hat_closed", "snare")]  # fmt: skip
    score = _score(*hits, bars=8)
    in_memory = Sampler(tiny_kit).render(score, seed=3)
    monkeypatch.setattr(audiogen.scratch, "RESIDENT_SAMPLES", 0)
    monkeypatch.setattr(audiogen.renderers.sampler, "_VOICES_PER_RELEASE", 7)
    scratch = Sampler(tiny_kit).render(score, seed=3)
    assert scratch.stems.keys() == in_memory.stems.keys()
    for group, stem in in_memory.stems.items():
        assert isinstance(scratch.stems[group], np.memmap)
        assert np.array_equal(scratch.stems[group], stem), group


@pytest.mark.parametrize("cents", [0.0, 0.0004, 7.3, -11.9])
def test_a_hit_cut_short_is_the_start_of_the_whole_repitched_hit(cents) -> None:
    # A choked or last hit repitches only what sounds: those samples must be the whole's.
    sample = np.random.default_rng(3).standard_normal(5000).astype(np.float32)
    whole = _repitch(sample, cents)
    assert whole.size == _repitched_length(sample.size, cents)
    for count in (0, 1, 777, whole.size - 1, whole.size):
        assert np.array_equal(_repitch(sample, cents, count), whole[:count])
