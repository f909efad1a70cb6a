"""What a sample pack's file names say: the instrument class (kick, BD, "Snr", "OH", "Tom 2"...),
the velocity layer (v3, soft, ff, v127) and the round robin (rr2, _02). Pure functions on text;
`audiogen.kits.folder` turns a folder of such names into a kit."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Patterns over a normalised name (lower case, words and numbers split by single spaces: see
# `normalise`), tried in order: the most specific first, so "ride bell" is a bell before it is
# a ride, "snare rim" a rim, "808 snare" a snare and a bare "808" a kick. `(?<![a-z])` keeps
# "tom" out of "bottom" and "rim" out of "grime"; compounds ("bassdrum", "hihat") are listed.
_B = r"(?<![a-z])"
_E = r"(?![a-z])"
_HAT = rf"(hi ?hats?|{_B}hats?{_E}|{_B}hh[a-z]?{_E}|hihat|{_B}hat)"
_RULES: tuple[tuple[str, str], ...] = (
    ("cowbell", rf"cow ?bell|{_B}cow{_E}|{_B}cb{_E}"),
    ("agogo", rf"agogo|{_B}ago{_E}"),
    ("triangle", rf"triangle|{_B}tri{_E}|{_B}trngl"),
    ("guiro", r"guiro|guira"),
    ("woodblock", rf"wood ?block|{_B}wb{_E}|{_B}block{_E}|{_B}blk{_E}"),
    ("clave", rf"{_B}claves?{_E}|{_B}clv{_E}"),
    ("timbale", rf"timbal|{_B}timb{_E}|{_B}tim{_E}"),
    ("conga", rf"conga|tumba|quinto|{_B}cng{_E}"),
    ("bongo", rf"bongo|{_B}bng{_E}"),
    ("tambourine", rf"tamb|{_B}tmb{_E}|{_B}tam{_E}|{_B}tamborine"),
    ("shaker", rf"shak|{_B}shk{_E}|maraca|cabasa|{_B}egg{_E}|{_B}shkr{_E}|{_B}sh{_E}"),
    ("china", rf"china|chinese|{_B}chn{_E}"),
    ("splash", rf"splash|{_B}spl{_E}|{_B}splsh{_E}"),
    ("ride_bell", rf"ride ?bell|bell ?ride|{_B}bell{_E}|{_B}cup{_E}|{_B}rb{_E}|{_B}rdb{_E}"),
    ("ride", rf"{_B}ride|{_B}rd{_E}|{_B}rc{_E}|{_B}rde{_E}"),
    ("crash", rf"crash|cymbal|{_B}cym|{_B}cr{_E}|{_B}cy{_E}|{_B}crsh{_E}"),
    ("hat", rf"{_HAT}|{_B}(oh|ohh|hho|oph|ophh|ch|chh|hhc|ph|phh|hhp|fh){_E}"),
    ("rim", rf"{_B}rim|side ?stick|cross ?stick|{_B}xstick|{_B}rs{_E}|{_B}ss{_E}|{_B}stick{_E}"),
    ("clap", rf"clap|{_B}clp{_E}|{_B}cp{_E}|{_B}snap"),
    ("snare", rf"snare|{_B}snr|{_B}sd{_E}|{_B}sn{_E}|{_B}snar{_E}"),
    ("tom", rf"{_B}toms?{_E}|{_B}tom ?\d|(floor|rack|hi|high|lo|low|mid)tom|"
            rf"{_B}[lmhf]t{_E}|{_B}tm{_E}|{_B}floor{_E}"),
    ("kick", rf"kick|{_B}kik|{_B}kck{_E}|bass ?drum|{_B}bd{_E}|{_B}kd{_E}|{_B}bassd"),
    ("kick", rf"{_B}808{_E}|{_B}909 ?bd"),
    ("perc", rf"{_B}perc|{_B}prc{_E}"),
    # A hat's kind said without the word "hat" ("Open 01" in a pack's hats folder) counts only
    # where nothing else was named: "open snare" is a snare.
    ("hat_pedal", rf"pedal|{_B}foot|{_B}chick{_E}"),
    ("hat_open", rf"{_B}open|{_B}half{_E}"),
    ("hat_closed", rf"closed|{_B}tight{_E}"),
)  # fmt: skip
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in _RULES)
# Generic "perc" files: a short click that the fallback table routes on to clave and rim.
GENERIC_PERC = "woodblock_high"

# Words only: a tom's number is read by _TOM_NUMBER, and "01" or "16in" say no pitch.
_HIGH = re.compile(rf"{_B}(hi|high|h|hig|hgh|small|sm|quinto)({_E}|tom|conga|bongo)")
_LOW = re.compile(rf"{_B}(lo|low|l|big|lg|tumba|floor)({_E}|tom|conga|bongo)")
_MID = re.compile(rf"{_B}(mid|middle|med|m)({_E}|tom)")
_TOM_NUMBER = re.compile(rf"{_B}(?:tom|t) ?0?([1-6]){_E}")
_TOM_LETTER = re.compile(rf"{_B}([lmhf])t{_E}")

# Dynamic words a pack writes instead of a layer number, and the velocity each stands for.
DYNAMICS: dict[str, int] = {
    "ppp": 16, "pp": 32, "p": 48, "mp": 64, "mf": 80, "f": 96, "ff": 112, "fff": 127,
    "ghost": 30, "soft": 48, "softer": 40, "light": 48, "quiet": 40, "gentle": 48,
    "medium": 88, "med": 88, "normal": 96,
    "hard": 127, "harder": 127, "loud": 127, "heavy": 127, "accent": 127, "strong": 120,
}  # fmt: skip
_DYNAMIC = re.compile(rf"{_B}({'|'.join(sorted(DYNAMICS, key=len, reverse=True))}){_E}")
_LAYER = re.compile(rf"{_B}(?:v|vel|velo|velocity|vl|layer|lyr) ?(\d{{1,3}}){_E}")
_ROBIN = re.compile(rf"{_B}(?:rr|robin|round robin|alt|var|take|hit) ?(\d{{1,3}}){_E}")
# "_01", "_2" and "_003" are variants; "808" and "909" are machines.
_TRAILING_NUMBER = re.compile(r"(?:^| )(\d{1,2}|0\d\d)$")
_TRAILING_LETTER = re.compile(r" ([a-e])$")  # "Clap A", "Clap B": takes of one sound


@dataclass(frozen=True)
class NameGuess:
    """What one file name says. ``layer`` is a 1-based layer number (v1...v8) or None,
    ``velocity`` a velocity the name states outright (v127, "soft") or None, ``robin`` a round
    robin or variant number or None, ``base`` the name without those (files with one base and
    class are one sound)."""

    cls: str | None
    layer: int | None
    velocity: int | None
    robin: int | None
    base: str


def normalise(name: str) -> str:
    """``"HHOpen_V3-rr2"`` -> ``"hh open v 3 rr 2"``: lower case, split at camel case, at
    letter/digit changes (except 808 and 909, which are names) and at any separator."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text).lower()
    text = re.sub(r"([a-z])(\d)", r"\1 \2", text)
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    return " ".join(re.split(r"[^a-z0-9]+", text)).strip()


def classify(text: str) -> str | None:
    """The instrument class a normalised name speaks of, or None."""
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return _refine(name, text)
    return None


def _refine(name: str, text: str) -> str:
    if name == "perc":
        return GENERIC_PERC
    if name == "hat":
        if re.search(rf"pedal|{_B}foot|{_B}(ph|phh|hhp|fh|chick){_E}", text):
            return "hat_pedal"
        if re.search(rf"{_B}open|{_B}(oh|ohh|hho|oph|ophh|half|o){_E}", text):
            return "hat_open"
        return "hat_closed"
    if name == "tom":
        number = _TOM_NUMBER.search(text)
        letter = _TOM_LETTER.search(text)
        if letter:
            return {"h": "tom_high", "m": "tom_mid"}.get(letter.group(1), "tom_low")
        if _HIGH.search(text.replace("hi hat", "")):
            return "tom_high"
        if _LOW.search(text) or "floor" in text:
            return "tom_low"
        if _MID.search(text):
            return "tom_mid"
        if number:  # toms count from the smallest: 1 high, 2 mid, 3 and on low
            return {"1": "tom_high", "2": "tom_mid"}.get(number.group(1), "tom_low")
        return "tom_mid"
    if name in ("conga", "bongo", "timbale", "agogo", "woodblock"):
        if _LOW.search(text):
            return f"{name}_low"
        return f"{name}_high"
    return name


def guess(stem: str, folders: tuple[str, ...] = ()) -> NameGuess:
    """Read one file name (its stem) and, where the name says no class, the names of the
    folders it lies in (nearest first)."""
    text = normalise(stem)
    cls = classify(text)
    context = text
    for folder in folders:
        if cls is not None:
            break
        context = f"{normalise(folder)} {context}"
        cls = classify(context)
    layer = velocity = robin = None
    rest = text
    if m := _LAYER.search(rest):
        number = int(m.group(1))
        layer, velocity = (number, None) if number <= 16 else (None, min(number, 127))
        rest = rest[: m.start()] + rest[m.end() :]
    elif m := _DYNAMIC.search(rest):
        velocity = DYNAMICS[m.group(1)]
        rest = rest[: m.start()] + rest[m.end() :]
    rest = " ".join(rest.split())
    if m := _ROBIN.search(rest):
        robin = int(m.group(1))
        rest = rest[: m.start()] + rest[m.end() :]
    elif cls is not None and not cls.startswith("tom") and (m := _TRAILING_NUMBER.search(rest)):
        robin = int(m.group(1))
        rest = rest[: m.start()]
    elif cls is not None and (m := _TRAILING_LETTER.search(rest)):
        robin = ord(m.group(1)) - ord("a") + 1
        rest = rest[: m.start()]
    return NameGuess(cls, layer, velocity, robin, " ".join(rest.split()))
