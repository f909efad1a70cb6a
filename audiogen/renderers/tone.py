"""A stem's tone brought to a key's, as a mix engineer's matching EQ would: the long-term
balance of its frequency bands made that of the same score through the kit's one-shots.

The token model gives each stem its sound, but its balance drifts from the kit's, and the
codec's own colour comes on top (BENCHMARKS.md, "A matching EQ keyed to the kit"). Each band
(`BANDS_PER_OCTAVE` to an octave) takes the difference of the two long-term spectra, within
`RANGE_DB`; a band where the key has next to nothing (`FLOOR_DB` under its loudest) is left as
it is. One minimum-phase filter applies it, so that nothing sounds before a hit (a linear-phase
one rang ahead of the attacks and cost onsets). The stem's overall level is left to the
dynamics that follow: only the bands' differences from their mean are applied.
"""

from __future__ import annotations

import numpy as np

BANDS_PER_OCTAVE = 3
LOWEST_HZ = 20.0
RANGE_DB = 12.0  # a band is raised or lowered this far at most
FLOOR_DB = -50.0  # bands of the key this far under its loudest get no gain
SEGMENT = 8192  # samples a spectrum is averaged over (Welch): 4 Hz apart at 32 kHz
TAPS = 4097  # the linear-phase design's length; the minimum-phase filter has half as many
SILENT_DB = -300.0
_BLOCK = 1 << 20  # samples filtered at a time


def band_edges(sample_rate: int) -> np.ndarray:
    """The bands' edges (Hz), `BANDS_PER_OCTAVE` to an octave from `LOWEST_HZ` to Nyquist."""
    octaves = np.log2(sample_rate / 2 / LOWEST_HZ)
    return LOWEST_HZ * 2.0 ** (np.arange(int(octaves * BANDS_PER_OCTAVE) + 1) / BANDS_PER_OCTAVE)


def band_levels(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The long-term power (dB) of ``audio`` in each band of `band_edges` (`SILENT_DB` where
    there is none)."""
    from scipy.signal import welch

    edges = band_edges(sample_rate)
    if len(audio) < 2:
        return np.full(len(edges) - 1, SILENT_DB)
    freqs, psd = welch(audio, sample_rate, nperseg=min(SEGMENT, len(audio)))
    out = np.empty(len(edges) - 1)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        inside = (freqs >= lo) & (freqs < hi)
        power = psd[inside].mean() if inside.any() else np.interp((lo + hi) / 2, freqs, psd)
        out[i] = 10 * np.log10(max(float(power), 10 ** (SILENT_DB / 10)))
    return out


def match_tone(stem: np.ndarray, key_db: np.ndarray, sample_rate: int) -> np.ndarray:
    """``stem`` (float32, changed in place and returned) with each band's balance brought to
    ``key_db``'s (the key's `band_levels`)."""
    from scipy.signal import firwin2, minimum_phase, oaconvolve

    own = band_levels(stem, sample_rate)
    heard = (key_db > key_db.max() + FLOOR_DB) & (own > SILENT_DB + 1)
    if heard.sum() < 2:
        return stem
    gain = key_db[heard] - own[heard]
    gain_db = np.zeros(len(own))
    gain_db[heard] = np.clip(gain - gain.mean(), -RANGE_DB, RANGE_DB)
    edges = band_edges(sample_rate)
    nyquist = sample_rate / 2
    freqs = np.concatenate([[0.0], np.sqrt(edges[:-1] * edges[1:]), [nyquist]]) / nyquist
    power = 10 ** (np.concatenate([gain_db[:1], gain_db, gain_db[-1:]]) / 10)
    # the homomorphic method halves the dB of the design it is given: designed in power, the
    # filter's gain is the amplitude wanted
    taps = minimum_phase(firwin2(TAPS, freqs, power), method="homomorphic").astype(np.float32)
    out = np.zeros(len(stem) + len(taps) - 1, dtype=np.float32)
    for lo in range(0, len(stem), _BLOCK):
        piece = stem[lo : lo + _BLOCK]
        out[lo : lo + len(piece) + len(taps) - 1] += oaconvolve(piece, taps).astype(np.float32)
    stem[:] = out[: len(stem)]
    return stem
