"""A tiny synthetic beat for the mix tests: decaying tones and noise bursts at 120 bpm."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.signal import resample_poly

SAMPLE_RATE = 48_000


def synth_beat(
    seconds: float = 4.0, sample_rate: int = SAMPLE_RATE, seed: int = 7
) -> dict[str, np.ndarray]:
    """Mono stems shaped like a rock beat: kick on 1 and 3, snare on 2 and 4, eighth-note hats,
    a crash on the downbeat, a clave, and a tom fill in the last bar."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    beat = round(60.0 / 120.0 * sample_rate)
    stems = {group: np.zeros(n) for group in ("kick", "snare", "hats", "cymbals", "toms", "perc")}

    def hit(group: str, start: int, sound: np.ndarray, velocity: float) -> None:
        end = min(n, start + sound.size)
        stems[group][start:end] += velocity * sound[: end - start]

    def decay(length_s: float, tau_s: float) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(round(length_s * sample_rate)) / sample_rate
        return t, np.exp(-t / tau_s)

    t, env = decay(0.5, 0.12)
    kick = np.sin(2 * np.pi * (50 * t + 1.8 * (1 - np.exp(-t / 0.03)))) * env
    kick[:96] += rng.standard_normal(96) * 0.3 * np.linspace(1, 0, 96)
    t, env = decay(0.3, 0.06)
    snare = (0.5 * np.sin(2 * np.pi * 185 * t) + 0.6 * rng.standard_normal(t.size)) * env
    t, env = decay(0.08, 0.015)
    hat = np.diff(rng.standard_normal(t.size + 1)) * env * 0.4
    t, env = decay(2.0, 0.6)
    crash = np.diff(rng.standard_normal(t.size + 1)) * env * 0.3
    t, env = decay(0.6, 0.15)
    tom = np.sin(2 * np.pi * 110 * t) * env
    t, env = decay(0.1, 0.02)
    clave = np.sin(2 * np.pi * 2500 * t) * env * 0.3

    for i, start in enumerate(range(0, n, beat)):
        hit("kick" if i % 2 == 0 else "snare", start, kick if i % 2 == 0 else snare, 0.9)
        hit("hats", start, hat, 0.8)
        hit("hats", start + beat // 2, hat, 0.5)
        if i % 4 == 3:
            hit("perc", start + beat // 4, clave, 0.7)
    hit("cymbals", 0, crash, 0.8)
    for k, level in enumerate((1.0, 0.8, 0.6)):
        hit("toms", max(0, n - 4 * beat) + k * beat // 2, tom * level, 0.8)
    return {group: stem.astype(np.float32) for group, stem in stems.items()}


@pytest.fixture(scope="session")
def beat() -> dict[str, np.ndarray]:
    return synth_beat()


@pytest.fixture(scope="session")
def long_beat() -> dict[str, np.ndarray]:
    """Long enough that block sizes (about 1.4 s) no longer dominate working memory."""
    return synth_beat(seconds=10.0)


@pytest.fixture(scope="session")
def sparse_beat() -> dict[str, np.ndarray]:
    """Kick and snare every other second over soft hats: far too peaky for -14 LUFS under
    -1 dBTP as it is (about 22 dB from peak to loudness)."""
    soft = ("hats", "cymbals", "perc", "toms")
    stems = {g: s * (0.15 if g in soft else 1.0) for g, s in synth_beat(seconds=8.0).items()}
    spread = {g: np.zeros(2 * s.size, np.float32) for g, s in stems.items()}
    for g, s in stems.items():  # the same hits, half as often
        spread[g][::2] = s
    return spread


@pytest.fixture(scope="session")
def beat_44k() -> dict[str, np.ndarray]:
    return synth_beat(seconds=3.0, sample_rate=44_100)


@pytest.fixture(scope="session")
def mixdown(beat: dict[str, np.ndarray]) -> np.ndarray:
    """The beat summed to stereo without any processing, hats a little right."""
    left = sum(beat.values()) - 0.3 * beat["hats"]
    right = sum(beat.values()) - 0.3 * beat["perc"]
    return np.stack([left, right]).astype(np.float32)


def _independent_true_peak_dbtp(audio: np.ndarray) -> float:
    """4x oversampled peak with scipy's own polyphase filter, not the project's."""
    upsampled = resample_poly(np.asarray(audio, dtype=np.float64), 4, 1, axis=-1)
    return float(20.0 * np.log10(np.max(np.abs(upsampled))))


@pytest.fixture(scope="session")
def independent_true_peak_dbtp() -> Callable[[np.ndarray], float]:
    return _independent_true_peak_dbtp


def _tone(frequency_hz: float, amplitude: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    """A sine at `SAMPLE_RATE`."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * frequency_hz * t + phase)


@pytest.fixture(scope="session")
def tone() -> Callable[..., np.ndarray]:
    """``tone(frequency_hz, amplitude, seconds, phase=0.0)``: a sine at 48 kHz."""
    return _tone
