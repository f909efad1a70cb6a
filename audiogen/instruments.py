"""Canonical drum instrument classes, their stem groups, and the MIDI note maps that lead to them.

Every note map in the project goes through these classes: a kit, a MIDI file or a model speaks of
``"snare"`` or ``"hat_open"``, never of note 38 or 46.
"""

from __future__ import annotations

from types import MappingProxyType

# Stem groups, in the planner's lane order: backbone, backbeat, subdivision, texture.
GROUPS: tuple[str, ...] = ("kick", "snare", "hats", "cymbals", "toms", "perc")

# class -> (stem group, General MIDI note written on export)
_CLASSES: dict[str, tuple[str, int]] = {
    "kick": ("kick", 36),
    "snare": ("snare", 38),
    "rim": ("snare", 37),  # side stick / cross-stick
    "clap": ("snare", 39),
    "hat_closed": ("hats", 42),
    "hat_pedal": ("hats", 44),
    "hat_open": ("hats", 46),
    "crash": ("cymbals", 49),
    "splash": ("cymbals", 55),
    "china": ("cymbals", 52),
    "ride": ("cymbals", 51),
    "ride_bell": ("cymbals", 53),
    "tom_high": ("toms", 50),
    "tom_mid": ("toms", 47),
    "tom_low": ("toms", 43),
    "cowbell": ("perc", 56),
    "tambourine": ("perc", 54),
    "shaker": ("perc", 70),
    "clave": ("perc", 75),
    "woodblock_high": ("perc", 76),
    "woodblock_low": ("perc", 77),
    "bongo_high": ("perc", 60),
    "bongo_low": ("perc", 61),
    "conga_high": ("perc", 63),
    "conga_low": ("perc", 64),
    "timbale_high": ("perc", 65),
    "timbale_low": ("perc", 66),
    "agogo_high": ("perc", 67),
    "agogo_low": ("perc", 68),
    "guiro": ("perc", 73),
    "triangle": ("perc", 81),
}

INSTRUMENTS: tuple[str, ...] = tuple(_CLASSES)
GROUP_OF: MappingProxyType[str, str] = MappingProxyType({k: g for k, (g, _) in _CLASSES.items()})
GM_NOTE_OF: MappingProxyType[str, int] = MappingProxyType({k: n for k, (_, n) in _CLASSES.items()})

# Any hi-hat stroke stops a ringing open hat (the two cymbals are one instrument on one stand).
CHOKES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"hat_closed": ("hat_open",), "hat_pedal": ("hat_open",), "hat_open": ("hat_open",)}
)

# General MIDI percussion (channel 10), notes 35-81, plus the GM2 shaker; unlisted notes
# (whistles, vibraslap, cuica, metronome...) have no class and are skipped on import.
GM_IMPORT: MappingProxyType[int, str] = MappingProxyType(
    {
        35: "kick", 36: "kick",
        37: "rim", 38: "snare", 39: "clap", 40: "snare",
        41: "tom_low", 43: "tom_low", 45: "tom_mid", 47: "tom_mid", 48: "tom_high", 50: "tom_high",
        42: "hat_closed", 44: "hat_pedal", 46: "hat_open",
        49: "crash", 57: "crash", 55: "splash", 52: "china",
        51: "ride", 59: "ride", 53: "ride_bell",
        54: "tambourine", 56: "cowbell", 69: "shaker", 70: "shaker", 82: "shaker",
        60: "bongo_high", 61: "bongo_low", 62: "conga_high", 63: "conga_high", 64: "conga_low",
        65: "timbale_high", 66: "timbale_low", 67: "agogo_high", 68: "agogo_low",
        73: "guiro", 74: "guiro", 75: "clave", 76: "woodblock_high", 77: "woodblock_low",
        80: "triangle", 81: "triangle",
    }
)  # fmt: skip

# Roland TD-11 as recorded in the Groove MIDI Dataset: edges, rims and bows of one pad map to one
# class, and 22/26/58 mean hats and a tom rim, not what General MIDI calls them.
TD11_IMPORT: MappingProxyType[int, str] = MappingProxyType(
    {
        36: "kick",
        38: "snare", 40: "snare", 37: "rim",
        48: "tom_high", 50: "tom_high", 45: "tom_mid", 47: "tom_mid", 43: "tom_low", 58: "tom_low",
        46: "hat_open", 26: "hat_open", 42: "hat_closed", 22: "hat_closed", 44: "hat_pedal",
        49: "crash", 55: "crash", 57: "crash", 52: "crash",
        51: "ride", 59: "ride", 53: "ride_bell",
    }
)  # fmt: skip

NOTE_MAPS: MappingProxyType[str, MappingProxyType[int, str]] = MappingProxyType(
    {"gm": GM_IMPORT, "td11": TD11_IMPORT}
)

# Notes whose presence tells "auto" that a file speaks TD-11: hi-hat edges (outside the GM range)
# and the floor-tom rim, which General MIDI calls a vibraslap — rare in a drum beat.
TD11_TELLTALE_NOTES = frozenset({22, 26, 58})


def instruments_in(group: str) -> tuple[str, ...]:
    """The instrument classes that render into one stem group, in canonical order."""
    return tuple(k for k in INSTRUMENTS if GROUP_OF[k] == group)


def parse_group_weights(text: str) -> dict[str, float]:
    """'kick=3,snare=2.5': a weight per stem group (guidance, how often training draws a group).

    Raises:
        ValueError: in one line, for text of another shape or a group that does not exist.
    """
    try:
        weights = {g.strip(): float(w) for g, w in (part.split("=", 1) for part in text.split(","))}
    except ValueError:
        raise ValueError(f"{text!r}: expected group=weight,...") from None
    unknown = set(weights) - set(GROUPS)
    if unknown:
        raise ValueError(f"no stem group {', '.join(sorted(unknown))}")
    return weights
