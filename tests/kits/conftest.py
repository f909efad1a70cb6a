"""Kits the tests make: synthesised one-shots at the rates, depths and channel counts packs ship."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def one_shot(freq_hz: float, rate: int = 48000, seconds: float = 0.1, level: float = 0.8,
             channels: int = 1) -> np.ndarray:
    """A decaying tone that starts at full level on its first sample."""
    t = np.arange(round(seconds * rate)) / rate
    mono = level * np.exp(-t * 40) * np.cos(2 * np.pi * freq_hz * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def write(path: Path, audio: np.ndarray, rate: int = 48000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype=subtype)
    return path


@pytest.fixture
def messy_pack(tmp_path) -> Path:
    """A pack laid out the way sold packs are: sub-folders, mixed case, abbreviations, velocity
    and round-robin suffixes, 44.1/48/96 kHz, 16/24-bit, mono and stereo, WAV, AIFF and FLAC,
    and a file whose name says nothing."""
    root = tmp_path / "My Pack (Drums)"
    files = {
        "01 Kicks/BD_Punchy_v1.wav": (one_shot(60, 44100, level=0.3), 44100, "PCM_16"),
        "01 Kicks/BD_Punchy_v2.wav": (one_shot(60, 44100, level=0.9), 44100, "PCM_16"),
        "02 Snares/SNR Tight rr1.flac": (one_shot(200, 96000, channels=2), 96000, "PCM_24"),
        "02 Snares/SNR Tight rr2.flac": (one_shot(210, 96000, channels=2), 96000, "PCM_24"),
        "03 Hats/CH_01.wav": (one_shot(6000, seconds=0.05), 48000, "PCM_24"),
        "03 Hats/OH-long.aiff": (one_shot(5000, seconds=0.5), 48000, "PCM_16"),
        "03 Hats/PedalHat.wav": (one_shot(5500, seconds=0.05), 48000, "PCM_16"),
        "Cymbals/Crash18.wav": (one_shot(4000, seconds=0.4), 48000, "PCM_16"),
        "Cymbals/Ride Bell.wav": (one_shot(3000, seconds=0.3), 48000, "PCM_16"),
        "Toms/Tom1.wav": (one_shot(180), 48000, "PCM_16"),
        "Toms/Tom 3 (floor).wav": (one_shot(90), 48000, "PCM_16"),
        "Perc/Shaker_soft.wav": (one_shot(8000, level=0.2), 48000, "PCM_16"),
        "Perc/Shaker_hard.wav": (one_shot(8000, level=0.8), 48000, "PCM_16"),
        "FX/Riser.wav": (one_shot(500), 48000, "PCM_16"),
    }
    for name, (audio, rate, subtype) in files.items():
        write(root / name, audio, rate, subtype)
    (root / "readme.txt").write_text("thanks for buying\n")
    return root
