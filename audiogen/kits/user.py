"""The user's own kit, given as a path: a folder of one-shots, an SFZ instrument or a SoundFont 2
file, read into the same `Kit` the shipped kits are, and refused in one line when it cannot play
a beat (no kick and no snare, a missing or unreadable file, a file over 50 MB)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from types import MappingProxyType

import soundfile as sf

from audiogen.errors import KitError
from audiogen.files import exists
from audiogen.instruments import INSTRUMENTS
from audiogen.kits.kit import (
    DEFAULT_STYLE,
    USER_LICENSE,
    Kit,
    KitInstrument,
    check_style,
    chokes_from_toml,
)

log = logging.getLogger(__name__)

MAX_FILE_MB = 50


def load_user_kit(path: Path, preset_name: str | None = None) -> Kit:
    """Read the kit at ``path`` (a folder, ``.sfz`` or ``.sf2``); ``preset_name`` picks a
    SoundFont preset other than its drum kit. Read once per process while the files stay as
    they are, so the request, the render and the manifest see one kit and notes print once.

    Raises:
        KitError: one line saying why the kit cannot play.
    """
    path = path.resolve()
    if not exists(path):
        raise KitError(f"kit {path}: no such folder or file")
    if path.is_file() and path.suffix.lower() not in (".sfz", ".sf2"):
        raise KitError(
            f"kit {path}: use a folder of one-shots, an .sfz or an .sf2 file, not a "
            f"{path.suffix or 'suffix-less'} file"
        )
    stamp = path.stat()
    return _load(path, preset_name, (stamp.st_mtime_ns, stamp.st_size))


@functools.lru_cache(maxsize=16)
def _load(path: Path, preset_name: str | None, _stamp: tuple[int, int]) -> Kit:
    if path.is_dir():
        kit = _folder_kit(path)
    elif path.suffix.lower() == ".sfz":
        from audiogen.kits.sfz import load_sfz

        kit = load_sfz(path)
    else:
        from audiogen.kits.sf2 import load_sf2

        kit = load_sf2(path, preset_name)
    check_playable(kit)
    for note in kit.notes:  # once per process and kit: the guesses and what is not played
        log.warning("kit %s: %s", kit.title, note)
    return kit


def _folder_kit(root: Path) -> Kit:
    from audiogen.kits.folder import map_folder

    mapping = map_folder(root)
    data = mapping.manifest
    notes = list(mapping.notes)
    style = str(data.get("style") or DEFAULT_STYLE)
    if "style" not in data:
        notes.append(f"no style given: mixed as {style!r} (set style in a kit.toml to change)")
    return Kit(
        name=str(root),
        title=str(data.get("title") or root.name),
        description=str(data.get("description") or f"the sounds in {root}"),
        style=style,
        source=str(data.get("source") or f"the folder {root}"),
        license=str(data.get("license") or mapping.license_text or USER_LICENSE),
        path=root,
        instruments=MappingProxyType(mapping.instruments),
        chokes=chokes_from_toml(data, str(root)),
        user=True,
        notes=tuple(notes),
    )


def check_playable(kit: Kit) -> None:
    """Refuse a kit that cannot play a beat: a bad style, no kick and no snare, or a sample
    that is missing, too large or unreadable.

    Raises:
        KitError: one line naming the kit and the reason.
    """
    check_style(kit)
    if kit.resolve("kick") is None and kit.resolve("snare") is None:
        found = ", ".join(sorted(kit.instruments)) or "nothing"
        raise KitError(
            f"kit {kit.path}: no kick and no snare found (found {found}); name the files like "
            "kick/BD and snare/SD, or map them in a kit.toml"
        )
    for path in dict.fromkeys(kit.files):
        label = kit.labels.get(path, path.name)
        if not path.is_file():
            raise KitError(f"kit {kit.path}: sample {label} is missing ({path})")
        size_mb = path.stat().st_size / 2**20
        if size_mb > MAX_FILE_MB:
            raise KitError(
                f"kit {kit.path}: {label} is {size_mb:.0f} MB, over the {MAX_FILE_MB} MB a "
                "one-shot may be"
            )
        try:
            info = sf.info(str(path))
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise KitError(f"kit {kit.path}: cannot read {label} ({exc})") from None
        if info.frames == 0:
            raise KitError(f"kit {kit.path}: {label} holds no audio")


def describe(kit: Kit) -> list[str]:
    """What `audiogen kits --check` prints: each class the kit plays with its files, layers and
    round robins, what falls back to what, which strokes stop which, what is missing, and the
    loader's notes."""
    lines = [
        f"kit {kit.title} ({kit.path})",
        f"  style {kit.style}, licence: {kit.license}",
        "  plays:",
    ]
    for cls in INSTRUMENTS:
        spec = kit.instruments.get(cls)
        if spec is not None:
            lines.append(f"    {cls:<15} {_layers_text(kit, spec)}")
    fallbacks = [
        f"{cls} -> {kit.resolve(cls)}"
        for cls in INSTRUMENTS
        if cls not in kit.instruments and kit.resolve(cls) is not None
    ]
    missing = [cls for cls in INSTRUMENTS if kit.resolve(cls) is None]
    lines.append(f"  falls back: {', '.join(fallbacks) or 'nothing'}")
    chokes = [f"{cls} stops {', '.join(victims)}" for cls, victims in kit.chokes.items()]
    lines.append(f"  chokes: {'; '.join(chokes) or 'nothing'}")
    lines.append(f"  missing (silent): {', '.join(missing) or 'nothing'}")
    lines += [f"  note: {note}" for note in kit.notes]
    return lines


def _layers_text(kit: Kit, spec: KitInstrument) -> str:
    parts = []
    for layer in spec.layers:
        names = [kit.labels.get(f) or _relative(kit.path, f) for f in layer.files]
        robins = f" ({len(names)} round robins)" if len(names) > 1 else ""
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        parts.append(f"v{layer.velocity}: {shown}{robins}")
    return "; ".join(parts)


def _relative(root: Path, path: Path) -> str:
    base = root if root.is_dir() else root.parent
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
