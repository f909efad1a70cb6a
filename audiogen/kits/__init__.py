"""Drum kits: the ones shipped in ``samples/kits/`` (each a folder with a ``kit.toml`` manifest
that maps instrument classes to velocity layers of one-shot files, see samples/LICENSES.md), and
the user's own, given as a path: a folder of one-shots, an SFZ instrument or a SoundFont 2 file
(`audiogen.kits.user`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import MappingProxyType

from audiogen.errors import KitError
from audiogen.files import exists, expand_user
from audiogen.kits.kit import (
    FALLBACKS,
    VELOCITY_RANGE_DB,
    Kit,
    KitInstrument,
    Layer,
    check_style,
    chokes_from_toml,
    instruments_from_toml,
)
from audiogen.paths import samples_dir

__all__ = [
    "FALLBACKS", "VELOCITY_RANGE_DB", "Kit", "KitInstrument", "Layer", "blend_text",
    "check_style", "instruments_from_toml", "kit_names", "lead_kit", "list_kits", "load_kit",
    "looks_like_path", "parse_blend", "samples_dir",
]  # fmt: skip


def kit_names() -> tuple[str, ...]:
    root = samples_dir() / "kits"
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "kit.toml").is_file()))


def list_kits() -> tuple[Kit, ...]:
    return tuple(load_kit(name) for name in kit_names())


def load_kit(name: str, preset_name: str | None = None) -> Kit:
    """A shipped kit by name, or the user's own kit at a path (a folder of one-shots, an ``.sfz``
    or an ``.sf2`` file; ``preset_name`` picks a SoundFont's preset).

    Raises:
        KitError: unknown kit (the message lists the known ones), a broken manifest, or a user
            kit that cannot play a beat (one line saying why).
    """
    names = kit_names()
    text = str(name).strip()
    if text.lower() in names:
        return _load_shipped(text.lower())
    if looks_like_path(text):
        from audiogen.kits.user import load_user_kit

        return load_user_kit(expand_user(text), preset_name)
    known = ", ".join(names) or f"none found in {samples_dir() / 'kits'}"
    raise KitError(
        f"unknown kit {name!r}; available kits: {known}, or the path of a folder of one-shots, "
        "an .sfz or an .sf2 file"
    )


def looks_like_path(text: str) -> bool:
    """Whether a --kit value names a path rather than a shipped kit."""
    return (
        "/" in text or "\\" in text or text.startswith("~")
        or Path(text).suffix.lower() in (".sfz", ".sf2") or exists(expand_user(text))
    )  # fmt: skip


def _load_shipped(name: str) -> Kit:
    folder = samples_dir() / "kits" / name
    try:
        data = tomllib.loads((folder / "kit.toml").read_text(encoding="utf-8"))
        kit = Kit(
            name=name,
            title=str(data.get("title", name)),
            description=str(data.get("description", "")),
            style=str(data.get("style", "acoustic")),
            source=str(data["source"]),
            license=str(data["license"]),
            path=folder,
            instruments=MappingProxyType(instruments_from_toml(data, folder, name)),
            chokes=chokes_from_toml(data, name),
        )
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise KitError(f"kit {name}: broken manifest {folder / 'kit.toml'} ({exc})") from None
    check_style(kit)
    missing = [f for f in kit.files if not f.is_file()]
    if missing:
        raise KitError(f"kit {name}: missing sample file {missing[0]}")
    return kit


def parse_blend(text: str) -> dict[str, float] | None:
    """A kit blend, ``"acoustic:0.7,808:0.3"``, as {kit: weight} with the weights summing to 1
    (the neural renderer interpolates the kits' conditioning); None for one kit or a path.

    Raises:
        KitError: a kit that is not a shipped one, a weight that is not a number from 0 up, a kit
            named twice, or weights that sum to 0.
    """
    text = str(text).strip()
    if ":" not in text or looks_like_path(text):
        return None
    names, blend = kit_names(), {}
    for part in text.split(","):
        name, _, weight = part.partition(":")
        name = name.strip().lower()
        if name not in names:
            raise KitError(
                f"kit blend {text!r}: {name!r} is not a shipped kit ({', '.join(names)})"
            )
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not 0 <= value < float("inf"):
            raise KitError(f"kit blend {text!r}: give each kit a weight from 0 up, as in "
                           "acoustic:0.7,808:0.3")  # fmt: skip
        if name in blend:
            raise KitError(f"kit blend {text!r} names {name} twice")
        blend[name] = value
    total = sum(blend.values())
    if total <= 0:
        raise KitError(f"kit blend {text!r}: the weights sum to 0")
    return {name: value / total for name, value in blend.items()}


def lead_kit(text: str) -> str:
    """The kit a --kit value plays on the sampler: a blend's heaviest kit (the first of equals),
    otherwise the value itself."""
    blend = parse_blend(text)
    return max(blend, key=lambda name: blend[name]) if blend else text


def blend_text(blend: dict[str, float]) -> str:
    """A blend as its canonical --kit value (the weights summing to 1)."""
    return ",".join(f"{name}:{weight:.3g}" for name, weight in blend.items())
