"""The SoundFont 2 file format, read as far as a drum kit needs: the RIFF chunks' presets, their
instrument zones with generators (key and velocity ranges, tuning, attenuation...) and the sample
headers, and where the 16-bit sample data lies (SoundFont 2.04 specification, sections 5-8)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from audiogen.errors import KitError

# Generator numbers (section 8.1.2) a drum kit is played with.
START_OFFSET, END_OFFSET, START_COARSE, END_COARSE = 0, 1, 4, 12
PAN, INSTRUMENT, KEY_RANGE, VEL_RANGE = 17, 41, 43, 44
ATTENUATION, COARSE_TUNE, FINE_TUNE, SAMPLE_ID = 48, 51, 52, 53
SCALE_TUNING, EXCLUSIVE_CLASS, ROOT_KEY = 56, 57, 58
DELAY_VOL, ATTACK_VOL, HOLD_VOL, DECAY_VOL, SUSTAIN_VOL = 33, 34, 35, 36, 37
KEY_TO_HOLD, KEY_TO_DECAY = 39, 40
FILTER_Q = 9
# The default modulator velocity -> initialAttenuation (section 8.4.1): its source (velocity,
# negative, unipolar, concave), destination, amount-source and transform; and its amount.
VELOCITY_MODULATOR = (0x0502, ATTENUATION, 0, 0)
DEFAULT_VELOCITY_CB = 960
# Generators whose amounts a preset zone adds to its instrument's.
_ADDITIVE = (ATTENUATION, COARSE_TUNE, FINE_TUNE, PAN, DELAY_VOL, ATTACK_VOL, HOLD_VOL,
             DECAY_VOL, SUSTAIN_VOL, KEY_TO_HOLD, KEY_TO_DECAY, FILTER_Q)  # fmt: skip


@dataclass(frozen=True)
class SampleHeader:
    name: str
    start: int
    end: int
    rate: int
    pitch: int
    correction: int
    link: int
    kind: int


@dataclass(frozen=True)
class Zone:
    """One instrument zone as a preset zone plays it."""

    keys: tuple[int, int]
    vels: tuple[int, int]
    gens: MappingProxyType[int, int]
    sample: int
    # The default velocity-to-attenuation modulator's amount (cB over the velocity range, on its
    # concave curve), as the zone's modulators replace and its preset's add to it.
    velocity_cb: int = DEFAULT_VELOCITY_CB


@dataclass(frozen=True)
class SoundFont:
    presets: tuple[tuple[str, int, int, tuple[Zone, ...]], ...]  # name, bank, program, zones
    samples: tuple[SampleHeader, ...]
    data_offset: int  # where the 16-bit sample data starts in the file
    data_bytes: int
    generators: frozenset[int]  # every generator number its zones set


def read_soundfont(path: Path) -> SoundFont:
    """The presets, sample headers and where the sample data lies.

    Raises:
        KitError: not a SoundFont 2 file, or one whose structure is broken.
    """
    try:
        with path.open("rb") as fh:
            return _read(fh, path)
    except (OSError, struct.error, IndexError, KeyError, ValueError) as exc:
        raise KitError(f"kit {path}: not a readable SoundFont 2 file ({exc})") from None


def _chunks(fh: BinaryIO, end: int) -> Iterator[tuple[bytes, int, int]]:
    while fh.tell() + 8 <= end:
        cid, size = struct.unpack("<4sI", fh.read(8))
        start = fh.tell()
        yield cid, start, size
        fh.seek(start + size + (size & 1))


def _read(fh: BinaryIO, path: Path) -> SoundFont:
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise KitError(f"kit {path}: not a SoundFont 2 file (no RIFF sfbk header)")
    end = 8 + struct.unpack("<I", head[4:8])[0]
    pdta: dict[bytes, bytes] = {}
    smpl = (0, 0)
    for cid, start, size in _chunks(fh, end):
        if cid != b"LIST":
            continue
        kind = fh.read(4)
        for sub, sub_start, sub_size in _chunks(fh, start + size):
            if kind == b"sdta" and sub == b"smpl":
                smpl = (sub_start, sub_size)
            elif kind == b"pdta":
                fh.seek(sub_start)
                pdta[sub] = fh.read(sub_size)
    records = {name: _records(pdta[name], size) for name, size in
               ((b"phdr", 38), (b"pbag", 4), (b"pgen", 4), (b"inst", 22), (b"ibag", 4),
                (b"igen", 4), (b"shdr", 46), (b"pmod", 10), (b"imod", 10))}  # fmt: skip
    samples = tuple(
        SampleHeader(_name(r[:20]), *struct.unpack("<II", r[20:28]),
                     *struct.unpack("<IbbHH", r[36:46]))  # fmt: skip
        for r in records[b"shdr"][:-1]
    )
    unknown: set[int] = set()
    inst_zones = _zones(records[b"inst"], records[b"ibag"], records[b"igen"], records[b"imod"],
                        SAMPLE_ID, unknown)  # fmt: skip
    presets = []
    for name, bank, program, zones in _preset_zones(
        records[b"phdr"], records[b"pbag"], records[b"pgen"], records[b"pmod"], unknown
    ):
        played = []
        for pkeys, pvels, pgens, pvelocity, inst in zones:
            for ikeys, ivels, igens, ivelocity, sample in inst_zones[inst]:
                keys = (max(pkeys[0], ikeys[0]), min(pkeys[1], ikeys[1]))
                vels = (max(pvels[0], ivels[0]), min(pvels[1], ivels[1]))
                if keys[0] > keys[1] or vels[0] > vels[1]:
                    continue
                gens = dict(igens)
                for op in _ADDITIVE:
                    if op in pgens:
                        gens[op] = gens.get(op, 0) + pgens[op]
                # An instrument's modulator replaces the default; a preset's adds to it.
                own = DEFAULT_VELOCITY_CB if ivelocity is None else ivelocity
                velocity = own + (pvelocity or 0)
                played.append(Zone(keys, vels, MappingProxyType(gens), sample, velocity))
        presets.append((name, bank, program, tuple(played)))
    return SoundFont(tuple(presets), samples, smpl[0], smpl[1], frozenset(unknown))


def _records(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


# keys, velocities, generators, the velocity modulator's amount (None: not set), terminal
_Bag = tuple[tuple[int, int], tuple[int, int], dict[int, int], int | None, int]


def _bags(bags: list[bytes], gens: list[bytes], mods: list[bytes], first: int, last: int,
          terminal: int, unknown: set[int]) -> list[_Bag]:  # fmt: skip
    """Zones ``first`` to ``last`` (exclusive) with the global zone's generators and velocity
    modulator folded in."""
    out: list[_Bag] = []
    glob: dict[int, int] = {}
    glob_velocity: int | None = None
    for bag in range(first, last):
        g0, m0 = struct.unpack("<HH", bags[bag])
        g1, m1 = struct.unpack("<HH", bags[bag + 1])
        velocity = glob_velocity
        for rec in mods[m0:m1]:
            src, dest, amount, amount_src, transform = struct.unpack("<HHhHH", rec)
            if (src, dest, amount_src, transform) == VELOCITY_MODULATOR:
                velocity = amount
        own: dict[int, int] = {}
        for rec in gens[g0:g1]:
            op = struct.unpack("<H", rec[:2])[0]
            own[op] = (rec[2] | rec[3] << 8) if op in (KEY_RANGE, VEL_RANGE) else \
                struct.unpack("<h", rec[2:4])[0]  # fmt: skip
            unknown.add(op)
        if terminal not in own:
            if bag == first:  # a global zone: the defaults of the zones after it
                glob, glob_velocity = own, velocity
            continue
        merged = {**glob, **own}
        keys = merged.pop(KEY_RANGE, 127 << 8)
        vels = merged.pop(VEL_RANGE, 127 << 8)
        target = merged.pop(terminal)
        out.append(((keys & 0xFF, keys >> 8), (vels & 0xFF, vels >> 8), merged, velocity, target))
    return out


def _zones(insts: list[bytes], bags: list[bytes], gens: list[bytes], mods: list[bytes],
           terminal: int, unknown: set[int]) -> list[list[_Bag]]:  # fmt: skip
    starts = [struct.unpack("<H", r[20:22])[0] for r in insts]
    return [_bags(bags, gens, mods, starts[i], starts[i + 1], terminal, unknown)
            for i in range(len(insts) - 1)]  # fmt: skip


def _preset_zones(headers: list[bytes], bags: list[bytes], gens: list[bytes], mods: list[bytes],
                  unknown: set[int]) -> Iterator[tuple[str, int, int, list[_Bag]]]:  # fmt: skip
    for i in range(len(headers) - 1):
        program, bank, first = struct.unpack("<HHH", headers[i][20:26])
        last = struct.unpack("<H", headers[i + 1][24:26])[0]
        zones = _bags(bags, gens, mods, first, last, INSTRUMENT, unknown)
        yield _name(headers[i][:20]), bank, program, zones


