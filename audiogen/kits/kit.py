"""The kit every renderer plays: instrument classes mapped to velocity layers of one-shot files,
with the fallback table for classes a kit lacks. Loaders (shipped, folder, SFZ, SoundFont) all
build this one type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from audiogen.errors import KitError
from audiogen.instruments import CHOKES, GROUP_OF

# Velocity 64 sounds about 11 dB below 127: close to how drum modules scale a single layer. The
# sampler's curve for levelled kits, and what a pack's unnamed layers are placed by.
VELOCITY_RANGE_DB = 36.0

USER_LICENSE = "supplied by the user"  # a user kit's licence unless its kit.toml or files say
LICENSE_FILES = ("license", "licence", "copying")  # a licence file beside the sounds
DEFAULT_STYLE = "acoustic"  # the mix a user kit that names no style is played with

# When a kit lacks a class, the nearest thing a drummer would reach for on that kit.
FALLBACKS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "rim": ("snare",),
        "clap": ("snare",),
        "hat_pedal": ("hat_closed",),
        "hat_open": ("hat_closed",),
        "splash": ("crash",),
        "china": ("crash",),
        "crash": ("ride",),
        "ride": ("ride_bell", "crash"),
        "ride_bell": ("ride", "cowbell"),
        "tom_high": ("tom_mid", "tom_low"),
        "tom_mid": ("tom_high", "tom_low"),
        "tom_low": ("tom_mid", "tom_high"),
        "bongo_high": ("conga_high", "bongo_low", "timbale_high"),
        "bongo_low": ("conga_low", "bongo_high", "timbale_low"),
        "conga_high": ("bongo_high", "conga_low", "timbale_high"),
        "conga_low": ("bongo_low", "conga_high", "timbale_low"),
        "timbale_high": ("timbale_low", "conga_high", "tom_high"),
        "timbale_low": ("timbale_high", "conga_low", "tom_mid"),
        "woodblock_high": ("woodblock_low", "clave", "rim"),
        "woodblock_low": ("woodblock_high", "clave", "rim"),
        "clave": ("woodblock_high", "rim"),
        "agogo_high": ("agogo_low", "cowbell"),
        "agogo_low": ("agogo_high", "cowbell"),
        "cowbell": ("agogo_high", "ride_bell"),
        "shaker": ("tambourine", "hat_closed"),
        "tambourine": ("shaker", "hat_open"),
        "guiro": ("shaker",),
        "triangle": ("ride_bell",),
    }
)


@dataclass(frozen=True)
class Layer:
    """One velocity layer: the velocity it was played at and its round-robin files (or, with
    ``layered``, files that sound together); an SFZ or SoundFont region may also set each
    file's level and tuning (empty: 0 dB, 0 cents)."""

    velocity: int
    files: tuple[Path, ...]
    gains_db: tuple[float, ...] = ()
    cents: tuple[float, ...] = ()
    layered: bool = False  # every file sounds at once (a SoundFont's zones), not one in turn

    def gain_db(self, index: int) -> float:
        return self.gains_db[index] if self.gains_db else 0.0

    def cents_of(self, index: int) -> float:
        return self.cents[index] if self.cents else 0.0


@dataclass(frozen=True)
class KitInstrument:
    name: str
    layers: tuple[Layer, ...]
    gain_db: float = 0.0
    velocity_range_db: float | None = None  # None: the kit's curve (a SoundFont sets its own)


@dataclass(frozen=True)
class Kit:
    """A kit as its manifest describes it; audio is loaded by the renderer."""

    name: str
    title: str
    description: str
    style: str
    source: str
    license: str
    path: Path
    instruments: MappingProxyType[str, KitInstrument]
    # Which strokes stop which ringing class (an SFZ's group/off_by, a SoundFont's exclusive
    # classes); the hi-hat's by default.
    chokes: MappingProxyType[str, tuple[str, ...]] = field(default_factory=lambda: CHOKES)
    # An instrument's own levels (SFZ, SoundFont) are played as recorded, louder with velocity by
    # its format's curve; one-shots from a pack are levelled to their hardest layer instead.
    as_recorded: bool = False
    velocity_range_db: float | None = None  # None: the sampler's own curve
    user: bool = False  # a path the user gave, not a kit that ships
    notes: tuple[str, ...] = ()  # what a user kit's loader guessed, skipped or could not use
    labels: MappingProxyType[Path, str] = field(default_factory=lambda: MappingProxyType({}))

    def resolve(self, instrument: str) -> str | None:
        """The class this kit plays for ``instrument``: itself, a fallback, or None."""
        if instrument in self.instruments:
            return instrument
        for other in FALLBACKS.get(instrument, ()):
            if other in self.instruments:
                return other
        return None

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(
            f for i in self.instruments.values() for layer in i.layers for f in layer.files
        )


def instruments_from_toml(data: dict, folder: Path, label: str) -> dict[str, KitInstrument]:
    """The ``[instruments]`` table of a kit.toml: class -> velocity layers of files in ``folder``.

    Raises:
        KitError: an unknown class or a class without files.
    """
    instruments = {}
    for cls, spec in data.get("instruments", {}).items():
        if cls not in GROUP_OF:
            raise KitError(f"kit {label}: unknown instrument class {cls!r}")
        layers = tuple(
            sorted(
                (
                    Layer(int(layer["velocity"]), tuple(folder / f for f in layer["files"]))
                    for layer in spec["layers"]
                ),
                key=lambda layer: layer.velocity,
            )
        )
        if not layers or any(not layer.files for layer in layers):
            raise KitError(f"kit {label}: {cls} has no sample files")
        instruments[cls] = KitInstrument(cls, layers, float(spec.get("gain_db", 0.0)))
    return instruments


def chokes_from_toml(data: dict, label: str) -> MappingProxyType[str, tuple[str, ...]]:
    """A kit.toml's ``[chokes]``: striking class -> the classes its stroke stops while they ring
    (``kick = ["kick"]``: one voice, a new kick cuts the last, as on a drum machine). Each
    entry replaces that class's line of the default, the hi-hat's (``hat_closed = []`` lets an
    open hat ring through); classes not named keep it.

    Raises:
        KitError: an unknown class, or a line that is not a list of classes.
    """
    spec = data.get("chokes", {})
    if not isinstance(spec, dict):
        raise KitError(f"kit {label}: [chokes] must be a table of class = [classes]")
    table = dict(CHOKES)
    for striker, victims in spec.items():
        if not isinstance(victims, list) or not all(isinstance(v, str) for v in victims):
            raise KitError(f"kit {label}: chokes.{striker} must be a list of classes")
        for cls in (striker, *victims):
            if cls not in GROUP_OF:
                raise KitError(f"kit {label}: unknown instrument class {cls!r} in [chokes]")
        table[striker] = tuple(dict.fromkeys(victims))
    return MappingProxyType({k: v for k, v in table.items() if v})


def check_style(kit: Kit) -> None:
    from audiogen.mix import MIX_PRESETS

    if kit.style not in MIX_PRESETS:
        raise KitError(
            f"kit {kit.name}: style {kit.style!r} is not one of {', '.join(MIX_PRESETS)}"
        )


def license_text(root: Path) -> str | None:
    """The first line of a licence file beside the sounds, naming the file."""
    for path in sorted(root.iterdir()):
        if path.is_file() and path.stem.lower() in LICENSE_FILES:
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            first = next((line.strip() for line in lines if line.strip()), "")
            return f"{first[:120]} (see {path.name} in the kit)" if first else None
    return None


def user_license(root: Path) -> str:
    """A user kit's licence: its licence file's first line, else "supplied by the user"."""
    return license_text(root) or USER_LICENSE
