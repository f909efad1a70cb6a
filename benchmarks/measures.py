"""Audio measures shared by the codec and renderer benchmarks: a decoded or generated stem
against its reference."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

ONSET_TOLERANCE_S = 0.05
SILENCE_DB = -60.0


def log_mel(audio: np.ndarray, sample_rate: int, n_mels: int = 80) -> np.ndarray:
    """log10 mel power, 1024-point frames every 256 samples, floored at 1e-5 (-50 dB)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio.astype(np.float32), sr=sample_rate, n_fft=1024, hop_length=256, n_mels=n_mels,
        fmin=20.0, fmax=sample_rate / 2, power=2.0,
    )  # fmt: skip
    return np.log10(np.maximum(mel, 1e-5))


def log_mel_distance(reference: np.ndarray, test: np.ndarray, sample_rate: int) -> float:
    """Mean absolute difference of log10 mel power (0 = identical; 1 = a factor 10 everywhere)."""
    n = min(len(reference), len(test))
    difference = log_mel(reference[:n], sample_rate) - log_mel(test[:n], sample_rate)
    return float(np.mean(np.abs(difference)))


def stft_distance(reference: np.ndarray, test: np.ndarray) -> float:
    """Multi-resolution STFT distance (spectral convergence + log magnitude, 3 resolutions)."""
    from scipy.signal import stft

    n = min(len(reference), len(test))
    total = 0.0
    for n_fft, hop in ((512, 128), (1024, 256), (2048, 512)):
        _, _, r = stft(reference[:n], nperseg=n_fft, noverlap=n_fft - hop)
        _, _, t = stft(test[:n], nperseg=n_fft, noverlap=n_fft - hop)
        r, t = np.abs(r), np.abs(t)
        convergence = np.linalg.norm(r - t) / max(np.linalg.norm(r), 1e-9)
        log_mag = np.mean(np.abs(np.log(np.maximum(r, 1e-7)) - np.log(np.maximum(t, 1e-7))))
        total += convergence + log_mag
    return total / 3


def si_sdr(reference: np.ndarray, test: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB."""
    n = min(len(reference), len(test))
    r = reference[:n].astype(np.float64) - reference[:n].mean()
    t = test[:n].astype(np.float64) - test[:n].mean()
    target = (t @ r) / max(r @ r, 1e-12) * r
    noise = t - target
    return float(10 * np.log10(max(target @ target, 1e-12) / max(noise @ noise, 1e-12)))


def detect_onsets(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset times (s) by spectral flux (librosa), at the flux's peak (a few ms after the sound
    begins: `attack_start` finds that); nothing is reported in a stem that stays below -60 dBFS."""
    import librosa

    if np.max(np.abs(audio), initial=0.0) < 10 ** (SILENCE_DB / 20):
        return np.zeros(0)
    return librosa.onset.onset_detect(
        y=audio.astype(np.float32), sr=sample_rate, hop_length=128, units="time", backtrack=False
    )


RISE_DB = 20.0  # an attack starts where its level was last this far under its peak
RISE_SPAN_S = (-0.03, 0.02)  # where `attack_start` looks, around a detected onset


def attack_start(audio: np.ndarray, sample_rate: int, onset_s: float) -> float:
    """Where the attack that spectral flux found at ``onset_s`` begins (s), within `RISE_SPAN_S`:
    after the last millisecond, before its loudest, that is `RISE_DB` or more under it; over
    a sound still ringing (no such millisecond), at the steepest rise to its loudest. (The flux
    peaks a few ms into an attack: hits placed exactly, by the sampler, read 5-10 ms late at
    the flux's peak and within 1 ms here.)"""
    hop = max(1, round(0.001 * sample_rate))
    lo = max(0, round((onset_s + RISE_SPAN_S[0]) * sample_rate))
    hi = min(len(audio), round((onset_s + RISE_SPAN_S[1]) * sample_rate))
    n = (hi - lo) // hop
    if n < 2:
        return onset_s
    peaks = np.abs(audio[lo : lo + n * hop]).reshape(n, hop).max(axis=1)
    level = 20 * np.log10(np.maximum(peaks, 1e-9))
    loudest = int(np.argmax(level))
    under = np.flatnonzero(level[: loudest + 1] < level[loudest] - RISE_DB)
    if len(under):
        start = under[-1] + 1
    else:
        start = int(np.argmax(np.diff(level[: loudest + 1], prepend=level[0]))) if loudest else 0
    return (lo + start * hop) / sample_rate


def match_onsets(reference: np.ndarray, test: np.ndarray,
                 tolerance_s: float = ONSET_TOLERANCE_S) -> list[tuple[float, float]]:  # fmt: skip
    """Greedy one-to-one matching of onset times, closest pairs first, within the tolerance."""
    pairs = sorted(
        (abs(r - t), i, j) for i, r in enumerate(reference) for j, t in enumerate(test)
        if abs(r - t) <= tolerance_s
    )  # fmt: skip
    used_r, used_t, matched = set(), set(), []
    for _, i, j in pairs:
        if i not in used_r and j not in used_t:
            used_r.add(i)
            used_t.add(j)
            matched.append((float(reference[i]), float(test[j])))
    return matched


def onset_f_measure(reference: np.ndarray, test: np.ndarray,
                    tolerance_s: float = ONSET_TOLERANCE_S) -> float:  # fmt: skip
    """F-measure of ``test`` onsets against ``reference`` onsets (1.0 when both are empty)."""
    if len(reference) == 0 and len(test) == 0:
        return 1.0
    matched = len(match_onsets(reference, test, tolerance_s))
    if matched == 0:
        return 0.0
    precision, recall = matched / len(test), matched / len(reference)
    return 2 * precision * recall / (precision + recall)


def spectrogram_image(columns: list[tuple[str, np.ndarray]], sample_rate: int, path) -> None:
    """Log-mel spectrograms side by side (low frequencies at the bottom), titled, as one PNG."""
    from PIL import Image, ImageDraw

    panels = []
    for title, audio in columns:
        mel = log_mel(audio, sample_rate)[::-1]
        level = np.clip((mel + 5.0) / 5.0, 0.0, 1.0)  # -50 dB .. 0 dB
        rgb = np.stack([level ** 0.5, level ** 1.5, 0.3 + 0.5 * level * (1 - level)], axis=-1)
        image = Image.fromarray((rgb * 255).astype(np.uint8)).resize((mel.shape[1] * 2, 240))
        canvas = Image.new("RGB", (image.width, image.height + 18), "white")
        canvas.paste(image, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), title, fill="black")
        panels.append(canvas)
    width = sum(p.width for p in panels) + 6 * (len(panels) - 1)
    sheet = Image.new("RGB", (width, panels[0].height), "white")
    x = 0
    for panel in panels:
        sheet.paste(panel, (x, 0))
        x += panel.width + 6
    sheet.save(path)


def waveform_image(columns: list[tuple[str, np.ndarray]], sample_rate: int, path,
                   height: int = 200) -> None:
    """Waveforms side by side (min/max per pixel column, 0 dBFS at the panel's edges, a grey
    line at -1 dBFS), titled, as one PNG; audio ``(channels, n)`` is drawn from its mid."""
    from PIL import Image, ImageDraw

    panels = []
    for title, audio in columns:
        mono = audio.mean(axis=0) if audio.ndim == 2 else audio
        width = 600
        edges = np.linspace(0, mono.size, width + 1).astype(int)
        canvas = Image.new("RGB", (width, height + 18), "white")
        draw = ImageDraw.Draw(canvas)
        draw.text((4, 3), title, fill="black")
        middle, scale = 18 + height / 2, height / 2
        for y in (middle - scale * 10 ** (-1 / 20), middle + scale * 10 ** (-1 / 20)):
            draw.line([(0, y), (width, y)], fill=(190, 190, 190))
        for x in range(width):
            part = mono[edges[x]: max(edges[x + 1], edges[x] + 1)]
            top, bottom = middle - scale * float(part.max()), middle - scale * float(part.min())
            draw.line([(x, top), (x, bottom)], fill=(30, 60, 140))
        panels.append(canvas)
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 6 * (len(panels) - 1),
                              panels[0].height), "white")  # fmt: skip
    x = 0
    for panel in panels:
        sheet.paste(panel, (x, 0))
        x += panel.width + 6
    sheet.save(path)


def best_time_s(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
