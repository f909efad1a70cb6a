"""A SoundFont 2 drum preset as a kit: its zones on General MIDI drum notes with their key and
velocity ranges, tuning, attenuation, volume envelope and exclusive classes (the hi-hat's choke),
played as FluidSynth plays them. Each sample is written once into the user's cache as a WAV with
its zone's envelope, so the sampler and the manifest treat them as files."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path
from types import MappingProxyType

import numpy as np
import soundfile as sf

from audiogen.errors import KitError
from audiogen.files import atomic_path
from audiogen.instruments import CHOKES, GM_IMPORT, GM_NOTE_OF, INSTRUMENTS
from audiogen.kits.kit import DEFAULT_STYLE, Kit, KitInstrument, Layer, user_license
from audiogen.kits.sf2file import (
    ATTACK_VOL,
    ATTENUATION,
    COARSE_TUNE,
    DECAY_VOL,
    DELAY_VOL,
    END_COARSE,
    END_OFFSET,
    EXCLUSIVE_CLASS,
    FILTER_Q,
    FINE_TUNE,
    HOLD_VOL,
    KEY_TO_DECAY,
    KEY_TO_HOLD,
    ROOT_KEY,
    SCALE_TUNING,
    START_COARSE,
    START_OFFSET,
    SUSTAIN_VOL,
    SampleHeader,
    SoundFont,
    Zone,
    read_soundfont,
)  # fmt: skip
from audiogen.paths import cache_dir

DRUM_BANK = 128
# Generators played (sf2file names them), or of no effect on a one-shot: loops, sample modes,
# the release of a note a drum never holds, the reverb and chorus sends.
PLAYED = frozenset({0, 1, 4, 12, 17, 41, 43, 44, 48, 51, 52, 53, 56, 57, 58, 33, 34, 35, 36, 37,
                    39, 40, 2, 3, 45, 50, 54, 15, 16, 38})  # fmt: skip
# initialFilterQ (9) is counted in a zone's level but its filter is not played: it stays listed.
# The generators a drum SoundFont sets that this reader does not play, by their 2.04 names.
GENERATOR_NAMES = {
    5: "modLfoToPitch", 6: "vibLfoToPitch", 7: "modEnvToPitch", 8: "initialFilterFc",
    9: "initialFilterQ", 10: "modLfoToFilterFc", 11: "modEnvToFilterFc", 13: "modLfoToVolume",
    21: "delayModLFO", 22: "freqModLFO", 23: "delayVibLFO", 24: "freqVibLFO",
    25: "delayModEnv", 26: "attackModEnv", 27: "holdModEnv", 28: "decayModEnv",
    29: "sustainModEnv", 30: "releaseModEnv",
}  # fmt: skip
# FluidSynth, the reference SF2 player on Linux, scales initialAttenuation by 0.4 (as the
# EMU chips the format was made for did); velocity follows the default modulator's curve.
ATTENUATION_SCALE = 0.4
SF2_VELOCITY_DB = 40.0  # the default velocity modulator's curve
LEFT, RIGHT = 4, 2  # sample types of a stereo pair


def load_sf2(path: Path, preset_name: str | None = None) -> Kit:
    """Read a SoundFont's drum preset (bank 128, the lowest program; or ``preset_name``) into a
    kit whose samples are WAV files in the user's cache.

    Raises:
        KitError: no drum preset (or none of that name), or a broken file.
    """
    font = read_soundfont(path)
    name, bank, program, zones = _pick_preset(font, path, preset_name)
    # Keyed by where the file is and when it last changed: hashing a 500 MB SoundFont on every
    # read would cost more than reading it.
    stamp = path.stat()
    key = f"{path.resolve()}|{stamp.st_size}|{stamp.st_mtime_ns}"
    folder = cache_dir() / "sf2" / hashlib.sha256(key.encode()).hexdigest()[:32]
    instruments: dict[str, KitInstrument] = {}
    named: dict[Path, tuple[str, str, str]] = {}  # each file: its sample, key, velocities
    exclusive: dict[str, int] = {}
    for cls in INSTRUMENTS:
        note = _note_for(cls, zones)
        if note is None:
            continue
        on_note = [z for z in zones if z.keys[0] <= note <= z.keys[1]]
        layers = []
        bottom = 0
        for top in sorted({z.vels[1] for z in on_note}):
            # Every zone over this stretch of velocities sounds: a SoundFont layers, it has no
            # round robins.
            sounding = [z for z in on_note if z.vels[0] <= bottom and z.vels[1] >= top]
            bottom = top + 1
            if not sounding:
                continue
            files, gains, cents = [], [], []
            for zone, partner in _voices(sounding, font):
                sample = font.samples[zone.sample]
                pitch = _cents(zone, sample, note)
                file = _extract(path, font, (zone, partner), note, pitch, folder)
                both = f" + {font.samples[partner.sample].name!r}" if partner else ""
                named[file] = (f"{path.name}: sample {sample.name!r}{both}", f"key {note}",
                               f"velocities {zone.vels[0]}-{zone.vels[1]}")  # fmt: skip
                files.append(file)
                # A pair plays each side at full level where a mono sample sits at -3 dB in
                # each: the same power from the mono sum of a pair takes +3 dB.
                pair_db = 10 * np.log10(2.0) if partner is not None else 0.0
                gains.append(-zone.gens.get(ATTENUATION, 0) * ATTENUATION_SCALE / 10 + pair_db
                             + _resonance_db(zone))  # fmt: skip
                cents.append(pitch)
                if zone.gens.get(EXCLUSIVE_CLASS):
                    exclusive[cls] = zone.gens[EXCLUSIVE_CLASS]
            layers.append(Layer(top, tuple(files), tuple(gains), tuple(cents), layered=True))
        # dB per decade of velocity on the modulator's concave curve: 960 cB gives 40 dB
        curve_db = on_note[-1].velocity_cb / 24.0
        instruments[cls] = KitInstrument(cls, tuple(layers), velocity_range_db=curve_db)
    notes = [f"preset {name!r} (bank {bank}, program {program})",
             "pan is read but not played: each stem is mono and the mix places it",
             f"a SoundFont names no style: mixed as {DEFAULT_STYLE!r}"]  # fmt: skip
    unplayed = sorted(font.generators - PLAYED)
    if unplayed:
        ops = ", ".join(GENERATOR_NAMES.get(op, f"#{op}") for op in unplayed)
        notes.append(f"generators not played: {ops}")
    return Kit(
        name=str(path),
        title=f"{path.stem}: {name}",
        description=f"the SoundFont {path}, preset {name!r}",
        style=DEFAULT_STYLE,
        source=f"the SoundFont {path}, preset {name!r} (bank {bank}, program {program})",
        license=user_license(path.parent),
        path=path,
        instruments=MappingProxyType(instruments),
        chokes=_chokes(exclusive),
        as_recorded=True,
        velocity_range_db=SF2_VELOCITY_DB,
        user=True,
        notes=tuple(notes),
        labels=MappingProxyType(_unique_labels(named)),
    )


def _unique_labels(named: dict[Path, tuple[str, str, str]]) -> dict[Path, str]:
    """Each file's label in the manifest: its sample's name, with the key (then the velocities)
    it was shaped for where one sample sounds in several files, so no two files share one."""
    labels = {file: parts[0] for file, parts in named.items()}
    for detail in (1, 2):
        counts = Counter(labels.values())
        for file, label in labels.items():
            if counts[label] > 1:
                labels[file] = ", ".join(named[file][: detail + 1])
    counts = Counter(labels.values())
    return {file: label if counts[label] == 1 else f"{label} ({file.name})"
            for file, label in labels.items()}  # fmt: skip


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


def _extract(path: Path, font: SoundFont, voice: tuple[Zone, Zone | None], note: int,
             cents: float, folder: Path) -> Path:  # fmt: skip
    """A voice's sample (with its stereo partner as a second channel) as the zone shapes it
    with its volume envelope, written once as a WAV into the cache."""
    zone, partner = voice
    sample = font.samples[zone.sample]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample.name)[:40]
    key = repr((sorted(zone.gens.items()), partner and partner.sample, note, cents))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    target = folder / f"{zone.sample}-{safe}-{digest}.wav"
    if target.is_file():
        return target
    channels = [_pcm(path, font, zone)]
    if partner is not None:
        other = _pcm(path, font, partner)
        length = min(len(channels[0]), len(other))
        channels = [channels[0][:length], other[:length]]
        if sample.kind == RIGHT:
            channels.reverse()
    audio = (np.stack(channels, axis=1) if len(channels) == 2 else channels[0]) / 32768.0
    ratio = 2.0 ** (cents / 1200.0)  # the envelope runs in played time, the sample repitched
    envelope = volume_envelope(zone.gens, note, len(audio), sample.rate * ratio)
    audio = (audio.T * envelope).T.astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        # 32-bit integers, not floats: libsndfile stamps a float WAV with the time it was written,
        # and the manifest's checksum of a sample must not change when the cache is made again.
        sf.write(str(tmp), audio, sample.rate, subtype="PCM_32", format="WAV")
    return target


def volume_envelope(gens: MappingProxyType[int, int], note: int, length: int,
                    rate: float) -> np.ndarray:  # fmt: skip
    """A zone's volume envelope (delay, linear attack, hold, decay to the sustain level) over
    ``length`` samples at ``rate``, as FluidSynth shapes it: the decay falls 96 dB per decay
    time, and a sustain of 1000 cB or more is that floor."""

    def seconds(op: int, per_key: int | None = None) -> float:
        timecents = gens.get(op, -12000)
        if per_key is not None:
            timecents += (60 - note) * gens.get(per_key, 0)
        return 0.0 if timecents <= -12000 else 2.0 ** (timecents / 1200.0)

    delay, attack = seconds(DELAY_VOL), seconds(ATTACK_VOL)
    hold, decay = seconds(HOLD_VOL, KEY_TO_HOLD), seconds(DECAY_VOL, KEY_TO_DECAY)
    floor_db = -96.0 * min(max(gens.get(SUSTAIN_VOL, 0), 0), 1000) / 1000.0
    t = np.arange(length) / rate
    decaying = np.maximum(-96.0 * (t - delay - attack - hold) / max(decay, 1e-9), floor_db)
    envelope = np.where(t < delay + attack + hold, 1.0, 10.0 ** (np.minimum(decaying, 0) / 20))
    if attack > 0:
        rising = (t >= delay) & (t < delay + attack)
        envelope[rising] = (t[rising] - delay) / attack
    envelope[t < delay] = 0.0
    return envelope


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


def _resonance_db(zone: Zone) -> float:
    """The level a resonant filter costs: the format asks for half the resonance's height off,
    which FluidSynth takes after 3.01 dB (the filter itself is not played)."""
    q_db = zone.gens.get(FILTER_Q, 0) / 10.0
    return -max(q_db - 3.01, 0.0) / 2.0


def _chokes(exclusive: dict[str, int]) -> MappingProxyType:
    """Classes in one exclusive class stop each other (a SoundFont's hi-hat)."""
    if not exclusive:
        return CHOKES
    table = {cls: tuple(sorted(o for o, c in exclusive.items() if c == group))
             for cls, group in exclusive.items()}  # fmt: skip
    return MappingProxyType(table)
