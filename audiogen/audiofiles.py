"""Delivered audio files: written in the format asked, then measured as delivered — a lossy
encode decoded again — and an MP3 master that overshoots its ceiling encoded again from a copy
limited under it by the overshoot (codec headroom taken off the peaks, not the loudness), turned
up again where that limiting cost loudness."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiogen.scratch import blocks, release, track

log = logging.getLogger(__name__)

# soundfile (libsndfile) format and subtype per output kind; 24-bit where the format has bits.
FORMATS = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_24"), "mp3": ("MP3", "MPEG_LAYER_III")}
LOSSLESS = frozenset({"wav", "flac"})
# An MP3 encode lands its peaks a few tenths of a dB off the input's; re-encoded at most this
# many times, each from a copy limited that much (and this margin) further under the ceiling,
# and turned up by what the limiting cost where the decoded file lands this far off the master.
_MP3_ATTEMPTS = 6
_MP3_MARGIN_DB = 0.2  # decoders differ by a few hundredths of a dB in the peaks they return
_WRITE_BLOCK = 1 << 16  # samples per channel handed to the encoder at a time
_MP3_AIM_LU = 0.3


@dataclass(frozen=True)
class Measured:
    """One delivered file's own loudness and peak, and how they were read: a master's true peak
    (what its ceiling holds), a stem's sample peak (what a 24-bit file can hold)."""

    integrated_lufs: float
    peak_db: float
    decoded: bool  # read back from the file (lossy) or from the samples written (lossless)
    headroom_db: float = 0.0  # how much lower a lossy master's copy was limited before encoding
    true_peak: bool = True  # peak_db is dBTP (4x oversampled), else the sample peak in dBFS

    def to_dict(self) -> dict[str, float | str | None]:
        return {
            "integrated_lufs": _rounded(self.integrated_lufs),
            ("true_peak_dbtp" if self.true_peak else "sample_peak_dbfs"): _rounded(self.peak_db),
            "measured_from": "the decoded file" if self.decoded else "the samples written",
            **({"codec_headroom_db": round(self.headroom_db, 2)} if self.headroom_db else {}),
        }


def write_audio(
    path: Path, audio: np.ndarray, sample_rate: int, fmt: str, wav_subtype: str | None = None
) -> Path:
    """Write (channels, n) float audio; WAV and FLAC at 24 bits, WAV as ``wav_subtype`` if set."""
    container, subtype = FORMATS[fmt]
    if fmt == "wav" and wav_subtype:
        subtype = wav_subtype
    frames = np.atleast_2d(audio)
    channels, n = frames.shape
    as_int = container == "WAV" and subtype == "PCM_24" and frames.dtype == np.float32
    # A block at a time: the file takes samples interleaved, and an interleaved copy of a
    # long track is as large as the track.
    with sf.SoundFile(path, "w", sample_rate, channels, subtype, format=container) as file:
        for start in range(0, n, _WRITE_BLOCK):
            block = frames[:, start : start + _WRITE_BLOCK]
            file.write(_as_int32(block) if as_int else np.ascontiguousarray(block.T))
            release(frames)
    if subtype == "FLOAT":
        _clear_peak_timestamp(path)
    return path


def write_measured(
    path: Path,
    audio: np.ndarray,
    sample_rate: int,
    fmt: str,
    ceiling_dbtp: float | None = None,
    wav_subtype: str | None = None,
) -> Measured:
    """Write one file and measure it as delivered.

    Lossless files hold the samples written (to 24-bit rounding, under a millionth of a dB),
    so those are measured; an MP3 is decoded and measured. A master (``ceiling_dbtp`` given)
    gets its true peak, and an MP3 master whose decoded true peak passes the ceiling is encoded
    again from a copy limited under it by the overshoot, with the loudness that limiting took
    given back (so the file lands within 0.3 LU of the master); a stem gets its sample peak.
    """
    from audiogen.mix import integrated_lufs, limit_true_peak, true_peak_dbtp

    master = ceiling_dbtp is not None
    if fmt in LOSSLESS:
        write_audio(path, audio, sample_rate, fmt, wav_subtype)
        peak = true_peak_dbtp(audio, sample_rate) if master else _sample_peak_db(audio)
        return Measured(integrated_lufs(audio, sample_rate), peak, decoded=False,
                        true_peak=master)  # fmt: skip
    headroom_db = gain_db = 0.0
    encoded, aim = audio, None
    tried: list[tuple[float, float]] = []  # (gain, loudness) of each limited copy's file
    for _ in range(_MP3_ATTEMPTS):
        write_audio(path, encoded, sample_rate, fmt)
        decoded = _read_back(path)
        loudness = integrated_lufs(decoded, sample_rate)
        if ceiling_dbtp is None:
            peak = _sample_peak_db(decoded)
            break
        peak = true_peak_dbtp(decoded, sample_rate)
        del decoded
        missed_lu = 0.0 if aim is None else aim - loudness
        if peak <= ceiling_dbtp and abs(missed_lu) <= _MP3_AIM_LU:
            break
        if aim is None:  # the master's own loudness, which the limited copies are aimed at
            aim = integrated_lufs(audio, sample_rate)
        else:
            tried.append((gain_db, loudness))
        if peak > ceiling_dbtp:
            # What the codec added over the copy's own true peak, and a margin; where that
            # is no more than the copy already had, what the file passed the ceiling by.
            needed = peak - true_peak_dbtp(encoded, sample_rate) + _MP3_MARGIN_DB
            if needed <= headroom_db:
                needed = headroom_db + peak - ceiling_dbtp + _MP3_MARGIN_DB
            headroom_db = needed
        if abs(missed_lu) > _MP3_AIM_LU:
            # Under a limiter, loudness grows slower than the gain: the secant through the
            # last two copies says how much slower.
            slope = 1.0
            if len(tried) >= 2 and tried[-1][0] != tried[-2][0]:
                (g0, l0), (g1, l1) = tried[-2:]
                slope = min(1.0, max(0.1, (l1 - l0) / (g1 - g0)))
            gain_db += missed_lu / slope
        louder, turn_up = track(np.shape(audio)), np.float32(10.0 ** (gain_db / 20.0))
        for part in blocks(louder.shape[-1]):
            np.multiply(audio[..., part], turn_up, out=louder[..., part])
            release(audio, louder)
        encoded, _ = limit_true_peak(louder, sample_rate, ceiling_dbtp - headroom_db)
        del louder
    else:
        log.warning("%s lands at %.2f LUFS and %.2f dBTP after %d encodes", path.name,
                    loudness, peak, _MP3_ATTEMPTS)  # fmt: skip
    return Measured(loudness, peak, decoded=True, headroom_db=headroom_db,
                    true_peak=master)  # fmt: skip


def _read_back(path: Path) -> np.ndarray:
    """A written file decoded again, ``(channels, n)`` float32 (a long one into a scratch
    file). In one read: libsndfile's MP3 decoder gives other samples when read in pieces."""
    with sf.SoundFile(path) as file:
        # The scratch track is only the room; the decoder fills it interleaved.
        room = track((file.channels, file.frames))
        decoded = file.read(out=room.reshape(file.frames, file.channels))
    release(room)
    return decoded.T


def _as_int32(block: np.ndarray) -> np.ndarray:
    """A float32 ``(channels, n)`` block interleaved as the int32 samples that libsndfile makes
    of it on its way to a 24-bit WAV (scaled by 2**31, rounded to even, held at full scale),
    so that it writes the same bytes from them, faster than from floats; it keeps their top
    24 bits, as it keeps the top 24 of its own."""
    scaled = np.empty(block.shape[::-1], dtype=np.float32)
    with np.errstate(over="ignore"):  # past full scale, held there below
        np.multiply(block.T, np.float32(2.0**31), out=scaled)  # exact: a power of two
    np.rint(scaled, out=scaled)
    # The largest float32 under 2**31: everything at or over full scale writes as 0x7FFFFF.
    np.clip(scaled, np.float32(-(2.0**31)), np.float32(2.0**31 - 128), out=scaled)
    return scaled.astype(np.int32)


def _sample_peak_db(audio: np.ndarray) -> float:
    from audiogen.mix.dynamics import peak_of

    peak = peak_of(audio)
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


def _clear_peak_timestamp(path: Path) -> None:
    """libsndfile stamps float WAVs' ``PEAK`` chunk with the time of writing; zero it, so the
    same beat gives the same bytes (batch resume compares files by checksum)."""
    with path.open("r+b") as fh:
        data = fh.read(1 << 16)
        at = data.find(b"PEAK", 12)
        if at >= 0 and at + 16 <= len(data):
            fh.seek(at + 12)  # id, size, version, then the timestamp
            fh.write(b"\0\0\0\0")


def _rounded(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None
