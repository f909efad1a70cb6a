"""A SoundFont 2 drum preset as a kit: its zones on General MIDI drum notes with their key and
velocity ranges, tuning, attenuation and exclusive classes (the hi-hat's choke). SF2 is a RIFF
file; this reads the few chunks a drum kit needs and writes each sample it plays once into the
user's cache as a WAV, so the sampler and the manifest treat them as files."""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import numpy as np
import soundfile as sf

from audiogen.errors import KitError
from audiogen.files import atomic_path, sha256
from audiogen.instruments import CHOKES, GM_IMPORT, GM_NOTE_OF, INSTRUMENTS
from audiogen.kits.kit import DEFAULT_STYLE, USER_LICENSE, Kit, KitInstrument, Layer
from audiogen.paths import cache_dir

log = logging.getLogger(__name__)

DRUM_BANK = 128
# Generator numbers (SoundFont 2.04, section 8.1.2) this reader plays.
START_OFFSET, END_OFFSET, START_COARSE, END_COARSE = 0, 1, 4, 12
PAN, INSTRUMENT, KEY_RANGE, VEL_RANGE = 17, 41, 43, 44
ATTENUATION, COARSE_TUNE, FINE_TUNE, SAMPLE_ID = 48, 51, 52, 53
SCALE_TUNING, EXCLUSIVE_CLASS, ROOT_KEY = 56, 57, 58
# Read for every zone, or of no effect on a one-shot (loops, envelopes' release, effects sends).
KNOWN = frozenset({START_OFFSET, END_OFFSET, START_COARSE, END_COARSE, PAN, INSTRUMENT, KEY_RANGE,
                   VEL_RANGE, ATTENUATION, COARSE_TUNE, FINE_TUNE, SAMPLE_ID, SCALE_TUNING,
                   EXCLUSIVE_CLASS, ROOT_KEY, 2, 3, 45, 50, 54, 15, 16, 38})  # fmt: skip
# The generators a drum SoundFont sets that this reader does not play, by their 2.04 names.
GENERATOR_NAMES = {
    5: "modLfoToPitch", 6: "vibLfoToPitch", 7: "modEnvToPitch", 8: "initialFilterFc",
    9: "initialFilterQ", 10: "modLfoToFilterFc", 11: "modEnvToFilterFc", 13: "modLfoToVolume",
    21: "delayModLFO", 22: "freqModLFO", 23: "delayVibLFO", 24: "freqVibLFO",
    25: "delayModEnv", 26: "attackModEnv", 27: "holdModEnv", 28: "decayModEnv",
    29: "sustainModEnv", 30: "releaseModEnv", 33: "delayVolEnv", 34: "attackVolEnv",
    35: "holdVolEnv", 36: "decayVolEnv", 37: "sustainVolEnv", 39: "keynumToVolEnvHold",
    40: "keynumToVolEnvDecay",
}  # fmt: skip
# Generators whose amounts a preset zone adds to its instrument's (the others it may not set).
_ADDITIVE = (ATTENUATION, COARSE_TUNE, FINE_TUNE, PAN)
# FluidSynth, the reference SF2 player on Linux, scales initialAttenuation by 0.4 (as the
# EMU chips the format was made for did); velocity follows the default modulator's curve.
ATTENUATION_SCALE = 0.4
SF2_VELOCITY_DB = 40.0
LEFT, RIGHT = 4, 2  # sample types of a stereo pair


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


@dataclass(frozen=True)
class SoundFont:
    presets: tuple[tuple[str, int, int, tuple[Zone, ...]], ...]  # name, bank, program, zones
    samples: tuple[SampleHeader, ...]
    data_offset: int  # where the 16-bit sample data starts in the file
    data_bytes: int
    unknown: frozenset[int]


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
                (b"igen", 4), (b"shdr", 46))}  # fmt: skip
    samples = tuple(
        SampleHeader(_name(r[:20]), *struct.unpack("<II", r[20:28]),
                     *struct.unpack("<IbbHH", r[36:46]))  # fmt: skip
        for r in records[b"shdr"][:-1]
    )
    unknown: set[int] = set()
    inst_zones = _zones(records[b"inst"], records[b"ibag"], records[b"igen"], SAMPLE_ID, unknown)
    presets = []
    for name, bank, program, zones in _preset_zones(
        records[b"phdr"], records[b"pbag"], records[b"pgen"], unknown
    ):
        played = []
        for pkeys, pvels, pgens, inst in zones:
            for ikeys, ivels, igens, sample in inst_zones[inst]:
                keys = (max(pkeys[0], ikeys[0]), min(pkeys[1], ikeys[1]))
                vels = (max(pvels[0], ivels[0]), min(pvels[1], ivels[1]))
                if keys[0] > keys[1] or vels[0] > vels[1]:
                    continue
                gens = dict(igens)
                for op in _ADDITIVE:
                    if op in pgens:
                        gens[op] = gens.get(op, 0) + pgens[op]
                played.append(Zone(keys, vels, MappingProxyType(gens), sample))
        presets.append((name, bank, program, tuple(played)))
    return SoundFont(tuple(presets), samples, smpl[0], smpl[1], frozenset(unknown - KNOWN))


def _records(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


_Bag = tuple[tuple[int, int], tuple[int, int], dict[int, int], int]


def _bags(bags: list[bytes], gens: list[bytes], first: int, last: int, terminal: int,
          unknown: set[int]) -> list[_Bag]:  # fmt: skip
    """Zones ``first`` to ``last`` (exclusive) with the global zone's generators folded in."""
    out: list[_Bag] = []
    glob: dict[int, int] = {}
    for bag in range(first, last):
        g0 = struct.unpack("<H", bags[bag][:2])[0]
        g1 = struct.unpack("<H", bags[bag + 1][:2])[0]
        own: dict[int, int] = {}
        for rec in gens[g0:g1]:
            op = struct.unpack("<H", rec[:2])[0]
            own[op] = (rec[2] | rec[3] << 8) if op in (KEY_RANGE, VEL_RANGE) else \
                struct.unpack("<h", rec[2:4])[0]  # fmt: skip
            unknown.add(op)
        if terminal not in own:
            if bag == first:
                glob = own  # a global zone: the defaults of the zones after it
            continue
        merged = {**glob, **own}
        keys = merged.pop(KEY_RANGE, 127 << 8)
        vels = merged.pop(VEL_RANGE, 127 << 8)
        target = merged.pop(terminal)
        out.append(((keys & 0xFF, keys >> 8), (vels & 0xFF, vels >> 8), merged, target))
    return out


def _zones(insts: list[bytes], bags: list[bytes], gens: list[bytes], terminal: int,
           unknown: set[int]) -> list[list[_Bag]]:  # fmt: skip
    starts = [struct.unpack("<H", r[20:22])[0] for r in insts]
    return [_bags(bags, gens, starts[i], starts[i + 1], terminal, unknown)
            for i in range(len(insts) - 1)]  # fmt: skip


def _preset_zones(headers: list[bytes], bags: list[bytes], gens: list[bytes],
                  unknown: set[int]) -> Iterator[tuple[str, int, int, list[_Bag]]]:  # fmt: skip
    for i in range(len(headers) - 1):
        program, bank, first = struct.unpack("<HHH", headers[i][20:26])
        last = struct.unpack("<H", headers[i + 1][24:26])[0]
        zones = _bags(bags, gens, first, last, INSTRUMENT, unknown)
        yield _name(headers[i][:20]), bank, program, zones


def load_sf2(path: Path, preset_name: str | None = None) -> Kit:
    """Read a SoundFont's drum preset (bank 128, the lowest program; or ``preset_name``) into a
    kit whose samples are WAV files in the user's cache.

    Raises:
        KitError: no drum preset (or none of that name), or a broken file.
    """
    font = read_soundfont(path)
    name, bank, program, zones = _pick_preset(font, path, preset_name)
    folder = cache_dir() / "sf2" / sha256(path)[:32]
    instruments: dict[str, KitInstrument] = {}
    labels: dict[Path, str] = {}
    exclusive: dict[str, int] = {}
    for cls in INSTRUMENTS:
        note = _note_for(cls, zones)
        if note is None:
            continue
        on_note = [z for z in zones if z.keys[0] <= note <= z.keys[1]]
        layers = []
        for top in sorted({z.vels[1] for z in on_note}):
            files, gains, cents = [], [], []
            for zone, partner in _voices([z for z in on_note if z.vels[1] == top], font):
                file = _extract(path, font, zone, partner, folder)
                sample = font.samples[zone.sample]
                both = f" + {font.samples[partner.sample].name!r}" if partner else ""
                labels[file] = f"{path.name}: sample {sample.name!r}{both}"
                files.append(file)
                # A pair plays each side at full level where a mono sample sits at -3 dB in
                # each: the same power from the mono sum of a pair takes +3 dB.
                pair_db = 10 * np.log10(2.0) if partner is not None else 0.0
                gains.append(-zone.gens.get(ATTENUATION, 0) * ATTENUATION_SCALE / 10 + pair_db)
                cents.append(_cents(zone, sample, note))
                if zone.gens.get(EXCLUSIVE_CLASS):
                    exclusive[cls] = zone.gens[EXCLUSIVE_CLASS]
            layers.append(Layer(top, tuple(files), tuple(gains), tuple(cents)))
        instruments[cls] = KitInstrument(cls, tuple(layers))
    notes = [f"preset {name!r} (bank {bank}, program {program})",
             "pan is read but not played: each stem is mono and the mix places it",
             f"a SoundFont names no style: mixed as {DEFAULT_STYLE!r}"]  # fmt: skip
    if font.unknown:
        ops = ", ".join(GENERATOR_NAMES.get(op, f"#{op}") for op in sorted(font.unknown))
        notes.append(f"generators not played: {ops}")
    return Kit(
        name=str(path),
        title=f"{path.stem}: {name}",
        description=f"the SoundFont {path}, preset {name!r}",
        style=DEFAULT_STYLE,
        source=f"the SoundFont {path}, preset {name!r} (bank {bank}, program {program})",
        license=_license(path),
        path=path,
        instruments=MappingProxyType(instruments),
        chokes=_chokes(exclusive),
        as_recorded=True,
        velocity_range_db=SF2_VELOCITY_DB,
        user=True,
        notes=tuple(notes),
        labels=MappingProxyType(labels),
    )


def _pick_preset(font: SoundFont, path: Path, preset_name: str | None
                 ) -> tuple[str, int, int, tuple[Zone, ...]]:  # fmt: skip
    if preset_name is not None:
        wanted = preset_name.strip().lower()
        for preset in font.presets:
            if preset[0].lower() == wanted:
                return preset
        names = ", ".join(sorted({p[0] for p in font.presets})[:12])
        raise KitError(f"kit {path}: no preset named {preset_name!r} (it has {names}...)")
    drums = sorted((p for p in font.presets if p[1] == DRUM_BANK), key=lambda p: p[2])
    if not drums:
        raise KitError(
            f"kit {path}: no drum preset (bank {DRUM_BANK}); name one with --preset-name"
        )
    return drums[0]


def _note_for(cls: str, zones: tuple[Zone, ...]) -> int | None:
    covered = {n for z in zones for n in range(z.keys[0], z.keys[1] + 1)}
    if GM_NOTE_OF[cls] in covered:
        return GM_NOTE_OF[cls]
    return next((n for n in sorted(covered) if GM_IMPORT.get(n) == cls), None)


def _voices(zones: list[Zone], font: SoundFont) -> list[tuple[Zone, Zone | None]]:
    """Zones as voices: a stereo pair's left and right zones (over the same keys and velocities;
    FluidR3 leaves the pair's links at 0) sound together as one take."""
    out: list[tuple[Zone, Zone | None]] = []
    used: set[int] = set()
    for i, zone in enumerate(zones):
        if i in used:
            continue
        kind = font.samples[zone.sample].kind
        partner = None
        if kind in (LEFT, RIGHT):
            other = RIGHT if kind == LEFT else LEFT
            for j in range(i + 1, len(zones)):
                candidate = zones[j]
                same_place = (candidate.keys, candidate.vels) == (zone.keys, zone.vels)
                if j not in used and same_place and font.samples[candidate.sample].kind == other:
                    partner = candidate
                    used.add(j)
                    break
        out.append((zone, partner))
    return out


def _cents(zone: Zone, sample: SampleHeader, note: int) -> float:
    root = zone.gens.get(ROOT_KEY, -1)
    root = root if 0 <= root <= 127 else (sample.pitch if sample.pitch <= 127 else 60)
    track = zone.gens.get(SCALE_TUNING, 100)
    return ((note - root) * track + zone.gens.get(COARSE_TUNE, 0) * 100
            + zone.gens.get(FINE_TUNE, 0) + sample.correction)  # fmt: skip


def _extract(path: Path, font: SoundFont, zone: Zone, partner: Zone | None, folder: Path) -> Path:
    """The zone's sample (with its stereo partner, as two channels) as a WAV in the cache."""
    sample = font.samples[zone.sample]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample.name)[:40]
    target = folder / f"{zone.sample}-{partner.sample if partner else ''}-{_span(zone)}-{safe}.wav"
    if target.is_file():
        return target
    channels = [_pcm(path, font, zone)]
    if partner is not None:
        other = _pcm(path, font, partner)
        length = min(len(channels[0]), len(other))
        channels = [channels[0][:length], other[:length]]
        if sample.kind == RIGHT:
            channels.reverse()
    audio = np.stack(channels, axis=1) if len(channels) == 2 else channels[0]
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        sf.write(str(tmp), audio, sample.rate, subtype="PCM_16", format="WAV")
    return target


def _span(zone: Zone) -> str:
    g = zone.gens
    start = g.get(START_OFFSET, 0) + 32768 * g.get(START_COARSE, 0)
    end = g.get(END_OFFSET, 0) + 32768 * g.get(END_COARSE, 0)
    return f"{start}_{end}" if start or end else "0"


def _pcm(path: Path, font: SoundFont, zone: Zone) -> np.ndarray:
    sample = font.samples[zone.sample]
    if sample.kind & 0x10:
        raise KitError(f"kit {path}: compressed (SF3) samples are not supported; use an .sf2")
    g = zone.gens
    start = sample.start + g.get(START_OFFSET, 0) + 32768 * g.get(START_COARSE, 0)
    end = sample.end + g.get(END_OFFSET, 0) + 32768 * g.get(END_COARSE, 0)
    if not 0 <= start < end <= font.data_bytes // 2:
        raise KitError(f"kit {path}: sample {sample.name!r} lies outside the sample data")
    return np.fromfile(path, dtype="<i2", count=end - start, offset=font.data_offset + 2 * start)


def _chokes(exclusive: dict[str, int]) -> MappingProxyType:
    """Classes in one exclusive class stop each other (a SoundFont's hi-hat)."""
    if not exclusive:
        return CHOKES
    table = {cls: tuple(sorted(o for o, c in exclusive.items() if c == group))
             for cls, group in exclusive.items()}  # fmt: skip
    return MappingProxyType(table)


def _license(path: Path) -> str:
    from audiogen.kits.folder import license_text

    return license_text(path.parent) or USER_LICENSE

