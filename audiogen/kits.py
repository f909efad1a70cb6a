"""Drum kits shipped in ``samples/kits/``: each a folder with a ``kit.toml`` manifest that maps
instrument classes to velocity layers of one-shot files (see samples/LICENSES.md for sources)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from audiogen.errors import KitError
from audiogen.instruments import GROUP_OF
from audiogen.paths import samples_dir

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
    """One velocity layer: the velocity it was played at and its round-robin files."""

    velocity: int
    files: tuple[Path, ...]


@dataclass(frozen=True)
class KitInstrument:
    name: str
    layers: tuple[Layer, ...]
    gain_db: float = 0.0


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


def kit_names() -> tuple[str, ...]:
    root = samples_dir() / "kits"
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "kit.toml").is_file()))


def list_kits() -> tuple[Kit, ...]:
    return tuple(load_kit(name) for name in kit_names())


def load_kit(name: str) -> Kit:
    """Read and check one kit's manifest.

    Raises:
        KitError: unknown kit (the message lists the known ones) or a broken manifest.
    """
    names = kit_names()
    if name not in names:
        known = ", ".join(names) or f"none found in {samples_dir() / 'kits'}"
        raise KitError(f"unknown kit {name!r}; available kits: {known}")
    folder = samples_dir() / "kits" / name
    try:
        data = tomllib.loads((folder / "kit.toml").read_text(encoding="utf-8"))
        instruments = {}
        for cls, spec in data["instruments"].items():
            if cls not in GROUP_OF:
                raise KitError(f"kit {name}: unknown instrument class {cls!r}")
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
                raise KitError(f"kit {name}: {cls} has no sample files")
            instruments[cls] = KitInstrument(cls, layers, float(spec.get("gain_db", 0.0)))
        kit = Kit(
            name=name,
            title=str(data.get("title", name)),
            description=str(data.get("description", "")),
            style=str(data.get("style", "acoustic")),
            source=str(data["source"]),
            license=str(data["license"]),
            path=folder,
            instruments=MappingProxyType(instruments),
        )
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise KitError(f"kit {name}: broken manifest {folder / 'kit.toml'} ({exc})") from None
    from audiogen.mix import MIX_PRESETS

    if kit.style not in MIX_PRESETS:
        raise KitError(f"kit {name}: style {kit.style!r} is not one of {', '.join(MIX_PRESETS)}")
    missing = [f for f in kit.files if not f.is_file()]
    if missing:
        raise KitError(f"kit {name}: missing sample file {missing[0]}")
    return kit
