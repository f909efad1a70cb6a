"""An SFZ instrument as a kit: the regions and opcodes a drum SFZ uses (sample, key ranges in
General MIDI drum notes, velocity ranges, round robins, volume, tuning, choke groups, default_path,
#define and #include). Opcodes it does not play are listed once in the kit's notes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from audiogen.errors import KitError
from audiogen.instruments import CHOKES, GM_IMPORT, GM_NOTE_OF, INSTRUMENTS
from audiogen.kits.kit import DEFAULT_STYLE, Kit, KitInstrument, Layer, user_license

HEADERS = ("control", "global", "master", "group", "region")
# Read and played. `pan` is read but a stem is mono: the mix places each stem group.
SUPPORTED = frozenset({
    "sample", "key", "lokey", "hikey", "pitch_keycenter", "pitch_keytrack", "lovel", "hivel",
    "seq_length", "seq_position", "lorand", "hirand", "volume", "tune", "transpose", "pan",
    "group", "off_by", "default_path", "trigger",
})  # fmt: skip
# Opcodes that change nothing a one-shot kit plays (loops, release envelopes, UI), not worth a note.
QUIET = frozenset({"loop_mode", "ampeg_release", "note_offset", "octave_offset", "off_mode"})
SFZ_VELOCITY_DB = 40.0  # amp_veltrack 100: level follows velocity squared
MAX_INCLUDE_DEPTH = 8
_NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_TOKEN = re.compile(r"<(\w+)>|([A-Za-z0-9_]+)=")


@dataclass(frozen=True)
class Region:
    """One region with its headers' opcodes folded in."""

    opcodes: MappingProxyType[str, str]

    def number(self, name: str, default: float) -> float:
        value = self.opcodes.get(name)
        if value is None:
            return default
        note = note_number(value) if name in ("key", "lokey", "hikey", "pitch_keycenter") else None
        return float(note) if note is not None else float(value)

    @property
    def keys(self) -> tuple[int, int]:
        if "key" in self.opcodes:
            key = int(self.number("key", 60))
            return int(self.number("lokey", key)), int(self.number("hikey", key))
        return int(self.number("lokey", 0)), int(self.number("hikey", 127))


def note_number(text: str) -> int | None:
    """A MIDI note from "36", "c1", "f#2" or "db3" (SFZ's middle C, c4, is note 60)."""
    text = text.strip().lower()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    m = re.fullmatch(r"([a-g])([#b]?)(-?\d+)", text)
    if not m:
        return None
    shift = {"#": 1, "b": -1}.get(m.group(2), 0)
    return (int(m.group(3)) + 1) * 12 + _NOTE_NAMES[m.group(1)] + shift


def read_sfz_text(path: Path, defines: dict[str, str] | None = None, depth: int = 0) -> str:
    """The file's text with comments gone, #include-d files read in and $defines replaced.

    Raises:
        KitError: a file that cannot be read, or includes nested past `MAX_INCLUDE_DEPTH`.
    """
    if depth > MAX_INCLUDE_DEPTH:
        raise KitError(f"kit {path}: #include nested more than {MAX_INCLUDE_DEPTH} deep")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise KitError(f"kit {path}: cannot read it ({exc.strerror or exc})") from None
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    defines = {} if defines is None else defines
    out = []
    for line in text.splitlines():
        line = line.split("//", 1)[0]
        if m := re.match(r"\s*#define\s+(\$\w+)\s+(.*\S)", line):
            defines[m.group(1)] = m.group(2)
            continue
        if m := re.match(r'\s*#include\s+"([^"]+)"', line):
            out.append(read_sfz_text(path.parent / m.group(1), defines, depth + 1))
            continue
        for name in sorted(defines, key=len, reverse=True):  # $KICK2 before $KICK
            line = line.replace(name, defines[name])
        out.append(line)
    return "\n".join(out)


def parse_regions(text: str) -> tuple[list[Region], dict[str, str], set[str]]:
    """Regions (each with its <global>, <master> and <group> opcodes), the <control> opcodes,
    and every opcode name met."""
    scopes: dict[str, dict[str, str]] = {h: {} for h in HEADERS}
    regions: list[Region] = []
    seen: set[str] = set()
    current: str | None = None
    matches = list(_TOKEN.finditer(text))
    for index, m in enumerate(matches):
        if m.group(1):
            current = _open(m.group(1).lower(), scopes, regions, current)
            continue
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = m.group(2).lower()
        raw = text[m.end() : end].strip()
        # A sample's path may hold spaces; any other value is one word.
        if not raw:
            value = ""
        else:
            value = raw.splitlines()[0].strip() if name == "sample" else raw.split()[0]
        seen.add(name)
        if current is not None:
            scopes[current][name] = value
    _open("region", scopes, regions, current)  # close the last region
    return [r for r in regions if "sample" in r.opcodes], scopes["control"], seen


def _open(header: str, scopes: dict[str, dict[str, str]], regions: list[Region],
          current: str | None) -> str | None:  # fmt: skip
    if current == "region" and scopes["region"]:
        merged = {**scopes["global"], **scopes["master"], **scopes["group"], **scopes["region"]}
        regions.append(Region(MappingProxyType(merged)))
    if header not in HEADERS:
        return None  # <curve>, <effect>, <midi>...: their opcodes are not a region's
    # A header starts afresh its own scope and those below it.
    for lower in HEADERS[HEADERS.index(header) :]:
        if lower != "control":
            scopes[lower] = {}
    return header


def load_sfz(path: Path) -> Kit:
    """Read an SFZ drum instrument into a kit.

    Raises:
        KitError: no regions, or a region naming a sample that is not there.
    """
    regions, control, seen = parse_regions(read_sfz_text(path))
    regions = [r for r in regions if r.opcodes.get("trigger", "attack") == "attack"]
    if not regions:
        raise KitError(f"kit {path}: no <region> with a sample= in it")
    base = path.parent / control.get("default_path", "").replace("\\", "/")
    files: dict[int, Path] = {}
    for index, region in enumerate(regions):
        sample = base / region.opcodes["sample"].replace("\\", "/")
        if not sample.is_file():
            raise KitError(
                f"kit {path}: a region names sample {region.opcodes['sample']!r}, which is not "
                f"there ({sample})"
            )
        files[index] = sample
    instruments: dict[str, KitInstrument] = {}
    chosen: dict[str, list[int]] = {}
    for cls in INSTRUMENTS:
        note = _note_for(cls, regions)
        if note is None:
            continue
        on_note = [i for i, r in enumerate(regions) if r.keys[0] <= note <= r.keys[1]]
        instruments[cls] = KitInstrument(cls, _layers(regions, files, on_note, note))
        chosen[cls] = on_note
    notes = []
    ignored = sorted(seen - SUPPORTED - QUIET)
    if ignored:
        notes.append(f"opcodes not played: {', '.join(ignored)}")
    notes.append("pan is read but not played: each stem is mono and the mix places it")
    notes.append(f"an SFZ names no style: mixed as {DEFAULT_STYLE!r}")
    return Kit(
        name=str(path),
        title=path.stem,
        description=f"the SFZ instrument {path}",
        style=DEFAULT_STYLE,
        source=f"the SFZ instrument {path}",
        license=user_license(path.parent),
        path=path,
        instruments=MappingProxyType(instruments),
        chokes=_chokes(regions, chosen),
        as_recorded=True,
        velocity_range_db=SFZ_VELOCITY_DB,
        user=True,
        notes=tuple(notes),
    )


def _note_for(cls: str, regions: list[Region]) -> int | None:
    """The note a class is played from: its General MIDI note, else another that GM files
    under the class (35 for a kick when 36 has no region)."""
    covered = {n for r in regions for n in range(r.keys[0], r.keys[1] + 1)}
    if GM_NOTE_OF[cls] in covered:
        return GM_NOTE_OF[cls]
    return next((n for n in sorted(covered) if GM_IMPORT.get(n) == cls), None)


def _layers(regions: list[Region], files: dict[int, Path], on_note: list[int],
            note: int) -> tuple[Layer, ...]:  # fmt: skip
    by_top: dict[int, list[int]] = {}
    for i in on_note:
        by_top.setdefault(int(regions[i].number("hivel", 127)), []).append(i)
    layers = []
    for top in sorted(by_top):
        takes = sorted(by_top[top], key=lambda i: (regions[i].number("seq_position", 1),
                                                   regions[i].number("lorand", 0)))  # fmt: skip
        layers.append(
            Layer(
                velocity=top,
                files=tuple(files[i] for i in takes),
                gains_db=tuple(regions[i].number("volume", 0.0) for i in takes),
                cents=tuple(_cents(regions[i], note) for i in takes),
            )
        )
    return tuple(layers)


def _cents(region: Region, note: int) -> float:
    # `key=` sets the key range and the key centre at once; SFZ's own default centre is 60.
    center = region.number("pitch_keycenter", region.number("key", 60))
    track = region.number("pitch_keytrack", 100)
    transpose = region.number("transpose", 0)
    return region.number("tune", 0.0) + 100 * transpose + (note - center) * track


def _chokes(regions: list[Region], chosen: dict[str, list[int]]) -> MappingProxyType:
    """Which class's strokes stop which: a region in group g stops those with off_by=g."""
    if not any("off_by" in r.opcodes for r in regions):
        return CHOKES
    groups: dict[str, set[str]] = {}
    for cls, indices in chosen.items():
        for i in indices:
            if "group" in regions[i].opcodes:
                groups.setdefault(regions[i].opcodes["group"], set()).add(cls)
    table: dict[str, set[str]] = {}
    for victim, indices in chosen.items():
        for i in indices:
            for striker in groups.get(regions[i].opcodes.get("off_by", ""), ()):
                table.setdefault(striker, set()).add(victim)
    return MappingProxyType({k: tuple(sorted(v)) for k, v in table.items()})
