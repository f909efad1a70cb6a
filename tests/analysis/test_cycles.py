"""Cross-rhythms and the clave, found in beats built in the test, and not found where none is."""

from audiogen.analysis import cycles
from audiogen.score import DrumScore, Hit, Meter

BAR = 96


def _score(hits, bars):
    return DrumScore(100.0, Meter(4, 4), bars, tuple(hits))


def _rock(bars):
    hits = []
    for b in range(bars):
        hits += [Hit(b * BAR + k * 24, "kick", 110) for k in (0, 2)]
        hits += [Hit(b * BAR + s * 24, "snare", 112) for s in (1, 3)]
        hits += [Hit(b * BAR + e * 12, "hat_closed", 80) for e in range(8)]
    return _score(hits, bars)


def test_cross_rhythm_and_clave_are_found_and_not_imagined():
    three_two = [Hit(t, "cowbell", 100) for t in range(0, 4 * BAR, 16)]  # 3 across 2 beats
    score = _score([*_rock(bars=4).hits, *three_two], bars=4)
    assert cycles.cross_rhythms(score) == {"cowbell": "3:2"}
    assert cycles.cross_rhythms(_rock(bars=4)) == {}
    son = [Hit(c * 2 * BAR + p * 12, "clave", 100) for c in range(2) for p in (0, 3, 6, 10, 12)]
    assert cycles.detect_clave(_score(son, bars=4)) == ("son 3-2", "clave")
    turned = [Hit((h.tick + BAR) % (4 * BAR), "clave", 100) for h in son]
    assert cycles.detect_clave(_score(turned, bars=4)) == ("son 2-3", "clave")
    assert cycles.detect_clave(_rock(bars=4)) is None


def test_a_long_beat_is_searched_a_few_bars_at_a_time():
    """A cross-rhythm played through half of a 16-bar beat is named; one across a single
    window of it is not."""
    bars = 16
    half = [Hit(t, "cowbell", 100) for t in range(0, 8 * BAR, 16)]
    assert cycles.cross_rhythms(_score([*_rock(bars).hits, *half], bars)) == {"cowbell": "3:2"}
    once = [Hit(t, "cowbell", 100) for t in range(0, 4 * BAR, 16)]
    steady = [Hit(t, "cowbell", 100) for t in range(4 * BAR, bars * BAR, 24)]
    assert cycles.cross_rhythms(_score([*_rock(bars).hits, *once, *steady], bars)) == {}
