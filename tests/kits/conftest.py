"""Kits the tests make: synthesised one-shots at the rates, depths and channel counts packs ship."""

from __future__ import annotations

import struct
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


def _chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, chunks: list[bytes]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _gens(zone: dict[int, int | tuple[int, int]]) -> bytes:
    # keyRange and velRange first, the terminal generator (instrument, sampleID) last
    order = sorted(zone, key=lambda op: (op not in (43, 44), op in (41, 53), op))
    out = b""
    for op in order:
        value = zone[op]
        amount = bytes(value) if isinstance(value, tuple) else struct.pack("<h", value)
        out += struct.pack("<H", op) + amount
    return out


def _bags_and_gens(groups: list[list[dict]]) -> tuple[list[int], bytes, bytes, bytes]:
    """Bag index of each group's first zone, and the bag, generator and modulator records (a
    zone's modulators under the key "mods": (source, destination, amount, amount source,
    transform) each)."""
    firsts, bags, gens, mods, count, mod_count = [], b"", b"", b"", 0, 0
    for zones in groups:
        firsts.append(len(bags) // 4)
        for zone in zones:
            zone = dict(zone)
            zone_mods = zone.pop("mods", [])
            bags += struct.pack("<HH", count, mod_count)
            gens += _gens(zone)
            mods += b"".join(struct.pack("<HHhHH", *m) for m in zone_mods)
            count += len(zone)
            mod_count += len(zone_mods)
    bags += struct.pack("<HH", count, mod_count)
    return firsts, bags, gens + b"\0" * 4, mods + b"\0" * 10


def write_sf2(path: Path, samples: list[tuple[str, np.ndarray, int, int, int]],
              instruments: list[tuple[str, list[dict]]],
              presets: list[tuple[str, int, int, list[dict]]]) -> Path:  # fmt: skip
    """A SoundFont 2 file: ``samples`` (name, float audio, rate, type, link), instruments (name,
    zones as {generator: amount}), presets (name, bank, program, zones), as section 7 of the
    2.04 specification lays them out."""
    pcm, headers = b"", b""
    for name, audio, rate, kind, link in samples:
        start = len(pcm) // 2
        pcm += (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes() + b"\0" * 92
        end = start + len(audio)
        headers += struct.pack("<20sIIIIIBbHH", name.encode(), start, end, start, end, rate,
                               60, 0, link, kind)  # fmt: skip
    headers += struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    ifirst, ibag, igen, imod = _bags_and_gens([z for _, z in instruments])
    inst = b"".join(struct.pack("<20sH", n.encode(), f) for (n, _), f in zip(instruments, ifirst))
    inst += struct.pack("<20sH", b"EOI", len(ibag) // 4 - 1)
    pfirst, pbag, pgen, pmod = _bags_and_gens([p[3] for p in presets])
    phdr = b"".join(
        struct.pack("<20sHHHIII", n.encode(), program, bank, f, 0, 0, 0)
        for (n, bank, program, _), f in zip(presets, pfirst)
    )
    phdr += struct.pack("<20sHHHIII", b"EOP", 0, 0, len(pbag) // 4 - 1, 0, 0, 0)
    info = _list(b"INFO", [_chunk(b"ifil", struct.pack("<HH", 2, 1)),
                           _chunk(b"isng", b"EMU8000\0"), _chunk(b"INAM", b"test kit\0")])
    sdta = _list(b"sdta", [_chunk(b"smpl", pcm)])
    pdta = _list(b"pdta", [
        _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", pmod),
        _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag),
        _chunk(b"imod", imod), _chunk(b"igen", igen), _chunk(b"shdr", headers),
    ])  # fmt: skip
    body = b"sfbk" + info + sdta + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
