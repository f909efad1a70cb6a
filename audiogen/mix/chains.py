"""Mix presets as data, and the functions that turn their specs into fresh pedalboard chains.

A preset says, per stem group, which plugins to run, where to pan and how much to send to the
shared room; then how to colour and glue the master before loudness normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from audiogen.errors import MixError
from audiogen.instruments import GROUPS

if TYPE_CHECKING:
    import pedalboard

# Plugins a spec may name. The master EQ runs on every stem separately so that stems still sum
# to the master, which only holds for linear, time-invariant plugins.
LINEAR_KINDS = frozenset(
    {"HighpassFilter", "LowpassFilter", "PeakFilter", "LowShelfFilter", "HighShelfFilter", "Gain"}
)
STEM_KINDS = LINEAR_KINDS | {"Compressor", "Distortion", "Bitcrush"}


@dataclass(frozen=True)
class Plugin:
    """One pedalboard plugin named by class, with its parameters (units in their names)."""

    kind: str
    params: tuple[tuple[str, float], ...] = ()


def plugin(kind: str, **params: float) -> Plugin:
    """Spell a plugin spec like its pedalboard constructor: ``plugin("Gain", gain_db=2)``."""
    return Plugin(kind, tuple(params.items()))


@dataclass(frozen=True)
class StemSpec:
    """How one stem group is treated.

    Attributes:
        chain: plugins run on the mono stem, in order. The stem leaves it with the energy it
            entered with, so a chain changes tone and dynamics, not the rendered balance.
        level_db: the preset's change to the balance, after the chain.
        pan: stereo position, -1 hard left to +1 hard right (constant-power law).
        send_db: level sent to the shared room; ``-inf`` for none.
    """

    chain: tuple[Plugin, ...] = ()
    level_db: float = 0.0
    pan: float = 0.0
    send_db: float = -math.inf


@dataclass(frozen=True)
class RoomSpec:
    """The shared reverb send bus: filtered, pre-delayed, returned wet only."""

    room_size: float
    damping: float
    width: float
    predelay_ms: float
    highpass_hz: float  # keeps kick and tom lows out of the room, where they would boom
    lowpass_hz: float


@dataclass(frozen=True)
class GlueSpec:
    """Stereo-linked master bus compressor; its threshold refers to the bus at -20 LUFS."""

    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    knee_db: float = 6.0


@dataclass(frozen=True)
class DriveSpec:
    """How far the drum-bus drive (see ``mix/drive.py``) may go toward a loudness target.

    Attributes:
        parallel_db: the most parallel compression may lift what lies under the peaks (hit
            bodies, room, ghost notes) against them.
        clip_db: the deepest it may clip the loud hits of ``clip_groups`` under their peak.
        clip_groups: the stems whose transients are clipped; cymbals and hats never are
            (clipped metal turns harsh at once).
        punch_budget_db: the most crest factor (peak over RMS in its first 50 ms) any loud
            kick or snare hit may have lost, against the dry render, once the stem chains and
            the drive have had their say; the final limiter, aiming 1 dB over the ceiling,
            takes about 1 dB more off the loudest.
    """

    parallel_db: float
    clip_db: float
    clip_groups: tuple[str, ...] = ("kick", "snare", "toms")
    parallel_threshold_db: float = -10.0  # the compressed path's, under the loud hits' peak
    punch_budget_db: float = 5.0  # the most crest factor a loud hit may lose before the limiter
    # Where the loudness must be met and the stems are clipped as deep as they may be: how far
    # the sum may be clipped under its peak, on the hits that land together.
    bus_clip_db: float = 3.0


@dataclass(frozen=True)
class MixPreset:
    """A complete mix: per-stem treatment, room, master colour, glue and drive."""

    name: str
    description: str
    stems: Mapping[str, StemSpec]
    room: RoomSpec
    master_eq: tuple[Plugin, ...]
    glue: GlueSpec
    drive: DriveSpec


def _hpf(cutoff_frequency_hz: float, order: int = 1) -> tuple[Plugin, ...]:
    # Pedalboard's high-pass is first order (6 dB/octave); stacking gives a steeper slope.
    return (plugin("HighpassFilter", cutoff_frequency_hz=cutoff_frequency_hz),) * order


def _lpf(cutoff_frequency_hz: float, order: int = 1) -> tuple[Plugin, ...]:
    return (plugin("LowpassFilter", cutoff_frequency_hz=cutoff_frequency_hz),) * order


def _eq(kind: str, cutoff_frequency_hz: float, gain_db: float, q: float = 0.7071) -> Plugin:
    return plugin(kind, cutoff_frequency_hz=cutoff_frequency_hz, gain_db=gain_db, q=q)


def _comp(threshold_db: float, ratio: float, attack_ms: float, release_ms: float) -> Plugin:
    return plugin(
        "Compressor",
        threshold_db=threshold_db,
        ratio=ratio,
        attack_ms=attack_ms,
        release_ms=release_ms,
    )


def _gain(gain_db: float) -> Plugin:
    return plugin("Gain", gain_db=gain_db)


def _saturate(drive_db: float) -> tuple[Plugin, ...]:
    # tanh saturation lifts quiet parts by the drive; giving it back keeps the stem's balance.
    return (plugin("Distortion", drive_db=drive_db), _gain(-drive_db))


# Stems enter their chain with their peak at -6 dBFS (see mixer.py), so thresholds below read
# as "dB under the stem's loudest hit": the same chain acts alike on loud and soft renders.
# Compressor attacks of 5 ms and more let each hit's transient through, so drums still hit; the
# soft clip after them shaves the top of that transient, which the master limiter would
# otherwise have to pull down with the whole mix around it.
ACOUSTIC = MixPreset(
    name="acoustic",
    description="natural kit in a small room: gentle EQ, transient-friendly compression",
    stems=MappingProxyType(
        {
            "kick": StemSpec(
                chain=(
                    _eq("PeakFilter", 60.0, 2.0, q=1.0),
                    _eq("PeakFilter", 350.0, -3.0, q=1.2),
                    _eq("PeakFilter", 3500.0, 2.0, q=1.0),
                    _comp(-14.0, 3.0, 15.0, 120.0),
                    *_saturate(4.0),
                ),
            ),
            "snare": StemSpec(
                chain=(
                    *_hpf(80.0),
                    _eq("PeakFilter", 200.0, 2.0, q=1.0),
                    _eq("PeakFilter", 900.0, -2.0, q=1.2),
                    _eq("HighShelfFilter", 6000.0, 2.0),
                    _comp(-14.0, 3.0, 10.0, 150.0),
                    *_saturate(4.0),
                ),
                send_db=-16.0,
            ),
            "hats": StemSpec(
                chain=(*_hpf(300.0, 2), _eq("HighShelfFilter", 9000.0, 1.5), *_saturate(4.0)),
                pan=0.3,
                send_db=-26.0,
            ),
            "cymbals": StemSpec(
                chain=(*_hpf(250.0, 2), _eq("PeakFilter", 3000.0, -1.5, q=1.0)),
                level_db=-1.0,
                pan=-0.25,
                send_db=-22.0,
            ),
            "toms": StemSpec(
                chain=(
                    *_hpf(60.0),
                    _eq("PeakFilter", 400.0, -3.0, q=1.0),
                    _eq("PeakFilter", 5000.0, 2.0, q=1.0),
                    _comp(-14.0, 3.0, 12.0, 150.0),
                ),
                pan=0.1,
                send_db=-18.0,
            ),
            "perc": StemSpec(
                chain=(*_hpf(150.0, 2), _eq("PeakFilter", 2500.0, 1.0, q=1.0)),
                pan=-0.35,
                send_db=-20.0,
            ),
        }
    ),
    room=RoomSpec(
        room_size=0.35,
        damping=0.55,
        width=0.9,
        predelay_ms=8.0,
        highpass_hz=250.0,
        lowpass_hz=9000.0,
    ),
    master_eq=(_eq("HighShelfFilter", 10000.0, 1.0),),
    glue=GlueSpec(threshold_db=-20.0, ratio=2.0, attack_ms=10.0, release_ms=200.0),
    drive=DriveSpec(parallel_db=9.0, clip_db=10.0),
)

ELECTRONIC = MixPreset(
    name="electronic",
    description="tight and bright: scooped kick up front, crisp claps and hats, short wide room",
    stems=MappingProxyType(
        {
            "kick": StemSpec(
                chain=(
                    _eq("PeakFilter", 55.0, 3.0, q=1.2),
                    _eq("PeakFilter", 300.0, -4.0, q=1.0),
                    _eq("PeakFilter", 3500.0, 2.0, q=1.0),
                    _comp(-12.0, 4.0, 10.0, 80.0),
                    *_saturate(8.0),
                ),
                level_db=1.5,
            ),
            "snare": StemSpec(
                chain=(
                    *_hpf(120.0, 2),
                    _eq("PeakFilter", 220.0, 1.5, q=1.0),
                    _eq("HighShelfFilter", 7000.0, 3.0),
                    _comp(-14.0, 4.0, 5.0, 100.0),
                    *_saturate(6.0),
                ),
                level_db=1.0,
                send_db=-14.0,
            ),
            "hats": StemSpec(
                chain=(*_hpf(500.0, 2), _eq("HighShelfFilter", 10000.0, 2.0), *_saturate(6.0)),
                pan=0.35,
                send_db=-28.0,
            ),
            "cymbals": StemSpec(
                chain=(*_hpf(300.0, 2), _eq("HighShelfFilter", 10000.0, 1.0)),
                level_db=-1.5,
                pan=-0.3,
                send_db=-24.0,
            ),
            "toms": StemSpec(
                chain=(
                    *_hpf(50.0),
                    _eq("PeakFilter", 350.0, -3.0, q=1.0),
                    _comp(-12.0, 4.0, 8.0, 100.0),
                ),
                pan=0.15,
                send_db=-20.0,
            ),
            "perc": StemSpec(
                chain=(*_hpf(200.0, 2), _eq("HighShelfFilter", 8000.0, 1.5)),
                pan=-0.45,
                send_db=-16.0,
            ),
        }
    ),
    room=RoomSpec(
        room_size=0.2,
        damping=0.3,
        width=1.0,
        predelay_ms=15.0,
        highpass_hz=350.0,
        lowpass_hz=12000.0,
    ),
    master_eq=(_eq("LowShelfFilter", 70.0, 1.5), _eq("HighShelfFilter", 9000.0, 1.5)),
    glue=GlueSpec(threshold_db=-18.0, ratio=2.0, attack_ms=10.0, release_ms=150.0),
    drive=DriveSpec(parallel_db=6.0, clip_db=8.0, clip_groups=("kick", "snare", "toms", "perc")),
)

HIPHOP = MixPreset(
    name="hiphop",
    description="lo-fi hip-hop: saturated kick and snare, 12-bit grit, dusty top, dark narrow room",
    stems=MappingProxyType(
        {
            "kick": StemSpec(
                chain=(
                    _eq("LowShelfFilter", 80.0, 3.0),
                    _eq("PeakFilter", 400.0, -3.0, q=1.0),
                    _comp(-12.0, 4.0, 20.0, 100.0),
                    *_saturate(10.0),
                    *_lpf(9000.0),
                ),
                level_db=2.0,
            ),
            "snare": StemSpec(
                chain=(
                    *_hpf(100.0),
                    _eq("PeakFilter", 250.0, 2.0, q=1.0),
                    _comp(-14.0, 4.0, 10.0, 120.0),
                    *_saturate(10.0),
                    plugin("Bitcrush", bit_depth=12.0),
                    *_lpf(8000.0),
                ),
                level_db=1.0,
                send_db=-18.0,
            ),
            "hats": StemSpec(
                chain=(
                    *_hpf(400.0, 2),
                    *_saturate(6.0),
                    plugin("Bitcrush", bit_depth=12.0),
                    *_lpf(10000.0),
                ),
                level_db=-1.0,
                pan=0.2,
                send_db=-30.0,
            ),
            "cymbals": StemSpec(
                chain=(*_hpf(300.0, 2), *_lpf(9000.0)),
                level_db=-3.0,
                pan=-0.15,
                send_db=-24.0,
            ),
            "toms": StemSpec(
                chain=(
                    *_hpf(60.0),
                    _comp(-12.0, 3.0, 15.0, 120.0),
                    *_saturate(6.0),
                    *_lpf(7000.0),
                ),
                pan=0.05,
                send_db=-20.0,
            ),
            "perc": StemSpec(
                chain=(*_hpf(150.0, 2), *_lpf(7000.0)),
                level_db=-1.0,
                pan=-0.3,
                send_db=-18.0,
            ),
        }
    ),
    room=RoomSpec(
        room_size=0.25,
        damping=0.75,
        width=0.7,
        predelay_ms=10.0,
        highpass_hz=300.0,
        lowpass_hz=6000.0,
    ),
    master_eq=(_eq("LowShelfFilter", 90.0, 2.0), _eq("HighShelfFilter", 8000.0, -2.5)),
    glue=GlueSpec(threshold_db=-21.0, ratio=2.5, attack_ms=15.0, release_ms=180.0),
    drive=DriveSpec(parallel_db=9.0, clip_db=10.0),
)

# A bed sits under a voice: speech lives at 1-4 kHz, so the drums step out of that band and lose
# their top; transients are rounded (slower compression, softer hats and cymbals) so that no
# hit pokes through a sentence; the room is small and dark; the glue evens the level out.
BED = MixPreset(
    name="bed",
    description="under speech: soft transients, dipped 1-4 kHz presence band, dull top",
    stems=MappingProxyType(
        {
            "kick": StemSpec(
                chain=(
                    _eq("PeakFilter", 60.0, 1.5, q=1.0),
                    _eq("PeakFilter", 3000.0, -6.0, q=0.8),
                    _comp(-18.0, 3.0, 2.0, 150.0),
                    *_lpf(5000.0),
                ),
            ),
            "snare": StemSpec(
                chain=(
                    *_hpf(100.0),
                    _eq("PeakFilter", 2500.0, -5.0, q=0.7),
                    _comp(-18.0, 3.0, 2.0, 180.0),
                    *_lpf(6000.0, 2),
                ),
                level_db=-3.0,
                send_db=-20.0,
            ),
            "hats": StemSpec(
                chain=(*_hpf(400.0, 2), *_lpf(7000.0, 2)),
                level_db=-6.0,
                pan=0.25,
                send_db=-30.0,
            ),
            "cymbals": StemSpec(
                chain=(*_hpf(300.0, 2), *_lpf(6000.0, 2)),
                level_db=-8.0,
                pan=-0.2,
                send_db=-26.0,
            ),
            "toms": StemSpec(
                chain=(*_hpf(60.0), _eq("PeakFilter", 3000.0, -5.0, q=0.8), *_lpf(5000.0)),
                level_db=-3.0,
                pan=0.1,
                send_db=-22.0,
            ),
            "perc": StemSpec(
                chain=(*_hpf(150.0, 2), _eq("PeakFilter", 2500.0, -5.0, q=0.7), *_lpf(6000.0)),
                level_db=-4.0,
                pan=-0.3,
                send_db=-22.0,
            ),
        }
    ),
    room=RoomSpec(
        room_size=0.25,
        damping=0.8,
        width=0.8,
        predelay_ms=10.0,
        highpass_hz=300.0,
        lowpass_hz=4000.0,
    ),
    master_eq=(_eq("PeakFilter", 2500.0, -12.0, q=0.5), _eq("HighShelfFilter", 8000.0, -2.0)),
    glue=GlueSpec(threshold_db=-24.0, ratio=2.0, attack_ms=20.0, release_ms=300.0),
    drive=DriveSpec(parallel_db=6.0, clip_db=3.0),
)

MIX_PRESETS: MappingProxyType[str, MixPreset] = MappingProxyType(
    {preset.name: preset for preset in (ACOUSTIC, ELECTRONIC, HIPHOP, BED)}
)


def get_preset(name: str) -> MixPreset:
    """The mix preset called ``name`` (case-insensitive).

    Raises:
        MixError: for an unknown name; the message lists the presets.
    """
    preset = MIX_PRESETS.get(str(name).strip().lower())
    if preset is None:
        raise MixError(f"unknown mix preset {name!r}: choose one of {', '.join(MIX_PRESETS)}")
    return preset


def stem_spec(preset: MixPreset, group: str) -> StemSpec:
    """What ``preset`` does to ``group``; a group it leaves out stays dry, centred and unsent."""
    if group not in GROUPS:
        raise MixError(f"unknown stem group {group!r}: expected one of {', '.join(GROUPS)}")
    return preset.stems.get(group, StemSpec())


def build_chain(specs: tuple[Plugin, ...], linear_only: bool = False) -> pedalboard.Pedalboard:
    """Build fresh pedalboard plugins from specs, so no state carries over between calls.

    Args:
        specs: plugin specs in processing order.
        linear_only: refuse anything but filters and gain (the master EQ).

    Raises:
        MixError: for a plugin kind that is not allowed here, or parameters it does not take.
    """
    import pedalboard  # imported here so that `audiogen --help` stays instant

    allowed = LINEAR_KINDS if linear_only else STEM_KINDS
    plugins = []
    for spec in specs:
        if spec.kind not in allowed:
            raise MixError(
                f"plugin {spec.kind!r} is not allowed here; use one of {', '.join(sorted(allowed))}"
            )
        try:
            plugins.append(getattr(pedalboard, spec.kind)(**dict(spec.params)))
        except TypeError as error:
            raise MixError(f"plugin {spec.kind!r} rejects {dict(spec.params)}: {error}") from None
    return pedalboard.Pedalboard(plugins)


def build_room(room: RoomSpec) -> tuple[pedalboard.Pedalboard, pedalboard.Reverb]:
    """A fresh shared room: the filters of its send, then a wet-only reverb.

    The filters are linear and the send enters the room centred, so they run on the mono send
    before it is spread to the reverb's two inputs; pre-delay is done in numpy.
    """
    import pedalboard

    filters = pedalboard.Pedalboard(
        [
            *(pedalboard.HighpassFilter(cutoff_frequency_hz=room.highpass_hz) for _ in range(2)),
            pedalboard.LowpassFilter(cutoff_frequency_hz=room.lowpass_hz),
        ]
    )
    reverb = pedalboard.Reverb(
        room_size=room.room_size,
        damping=room.damping,
        wet_level=1.0,
        dry_level=0.0,
        width=room.width,
    )
    return filters, reverb
