"""Song forms: which sections a beat has, how long each is and how hard it drives.

A form comes from an explicit spec (``"intro:4,verse:8,chorus:8:0.9"``: name, bars, and an
optional energy 0-1), or is laid out for a bar count (``default_form``), which a duration in
seconds gives (``bars_for_duration``). Sections without an explicit energy follow an energy
curve: intro and outro sparse, verse at the requested energy, chorus hardest, bridge between;
the request's energy moves the whole curve up or down.
"""

from __future__ import annotations

from fractions import Fraction

from audiogen.errors import RequestError
from audiogen.score import TICKS_PER_QUARTER, Meter, Section

# Where each section sits on the energy curve for a request of energy 0.5.
SECTION_ENERGY = {
    "intro": 0.25, "verse": 0.5, "pre-chorus": 0.6, "chorus": 0.8, "bridge": 0.55,
    "breakdown": 0.15, "outro": 0.3,
}  # fmt: skip
ALIASES = {
    "pre": "pre-chorus", "prechorus": "pre-chorus", "pre_chorus": "pre-chorus",
    "hook": "chorus", "drop": "chorus", "break": "breakdown", "middle8": "bridge",
    "end": "outro", "ending": "outro",
}  # fmt: skip
# A section's natural length in bars, when only its name is given.
SECTION_BARS = {
    "intro": 4, "verse": 8, "pre-chorus": 4, "chorus": 8, "bridge": 4, "breakdown": 4,
    "outro": 4,
}  # fmt: skip
MAX_DURATION_S = 1800.0  # the longest length in seconds a song may be asked for
CURVE_SHIFT = 0.6  # how far the request's energy (0-1, centred on 0.5) moves the curve
MAX_SECTION_BARS = 64
MAX_SONG_BARS = 256
# Song layouts, longest first, at their natural lengths in bars (halved for shorter songs).
_LAYOUTS = (
    (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4),
     ("chorus", 8), ("outro", 4)),
    (("intro", 4), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8), ("outro", 4)),
    (("intro", 4), ("verse", 8), ("chorus", 8), ("outro", 4)),
    (("intro", 4), ("verse", 8), ("chorus", 8)),
)  # fmt: skip
_FIT = 0.85  # a layout is used down to this share of its natural length (verses give way)


def curve_energy(name: str, energy: float) -> float:
    """A section's energy on the curve, for a request of ``energy`` (0-1)."""
    value = SECTION_ENERGY[name] + CURVE_SHIFT * (energy - 0.5)
    return round(min(0.95, max(0.05, value)), 3)


def section_name(text: str) -> str:
    """A section name as typed ("Chorus", "pre", "drop") → one of SECTION_ENERGY's."""
    name = text.strip().lower().replace(" ", "-")
    name = ALIASES.get(name, name)
    if name not in SECTION_ENERGY:
        raise RequestError(f"section {text.strip()!r}: use {', '.join(SECTION_ENERGY)}")
    return name


def parse_form(spec: str, energy: float = 0.5) -> tuple[Section, ...]:
    """``"intro:4,verse:8,chorus:8:0.9"`` → sections placed bar after bar.

    Raises:
        RequestError: one line naming the part that is wrong and what is accepted.
    """
    sections: list[Section] = []
    first = 0
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        fields = [f.strip() for f in part.split(":")]
        if len(fields) not in (2, 3):
            raise RequestError(
                f"form part {part!r}: write name:bars or name:bars:energy, "
                'e.g. "intro:4,verse:8,chorus:8:0.9"'
            )
        name = section_name(fields[0])
        try:
            bars = int(fields[1])
        except ValueError:
            bars = 0
        if not 1 <= bars <= MAX_SECTION_BARS:
            raise RequestError(
                f"form part {part!r}: bars must be a whole number from 1 to {MAX_SECTION_BARS}"
            )
        level = curve_energy(name, energy)
        if len(fields) == 3:
            try:
                level = float(fields[2])
            except ValueError:
                level = -1.0
            if not 0.0 <= level <= 1.0:
                raise RequestError(f"form part {part!r}: energy must be a number from 0 to 1")
        sections.append(Section(name, first, bars, level))
        first += bars
    if not sections:
        raise RequestError('empty form: write it like "intro:4,verse:8,chorus:8,outro:4"')
    if first > MAX_SONG_BARS:
        raise RequestError(f"form of {first} bars: a song holds at most {MAX_SONG_BARS} bars")
    return tuple(sections)


def default_form(bars: int, energy: float = 0.5) -> tuple[Section, ...]:
    """Intro, verse, chorus... laid out over ``bars``: the longest layout that fits, sections
    in fours (twos for short songs), bars over its natural length going to the choruses, then
    the verses; under 9 bars, one verse."""
    chosen = None
    for scale in (2, 1):  # 4-bar sections, then 2-bar ones
        for layout in _LAYOUTS:
            lengths = [n * scale // 2 for _, n in layout]
            if _FIT * sum(lengths) <= bars:
                chosen = (layout, lengths, 2 * scale)
                break
        if chosen:
            break
    if chosen is None:
        return (Section("verse", 0, bars, curve_energy("verse", energy)),)
    layout, lengths, chunk = chosen
    names = [name for name, _ in layout]
    grow = [i for i, n in enumerate(names) if n == "chorus"] + [
        i for i, n in enumerate(names) if n == "verse"
    ]
    i = 0
    while sum(lengths) < bars:
        lengths[grow[i % len(grow)]] += min(chunk, bars - sum(lengths))
        i += 1
    shrink = [i for i, n in enumerate(names) if n == "verse"] + [
        i for i, n in enumerate(names) if n == "chorus"
    ]
    i = 0
    while sum(lengths) > bars:  # within _FIT: verses, then choruses, give up bars
        k = shrink[i % len(shrink)]
        lengths[k] -= min(2, sum(lengths) - bars, lengths[k] - 2)
        i += 1
    out, first = [], 0
    for name, n in zip(names, lengths):
        out.append(Section(name, first, n, curve_energy(name, energy)))
        first += n
    return tuple(out)


def bars_for_duration(seconds: float, bpm: float, meter: Meter) -> int:
    """Whole bars nearest ``seconds`` at ``bpm`` (at least one)."""
    bar_s = Fraction(meter.ticks_per_bar, TICKS_PER_QUARTER) * 60 / Fraction(bpm)
    return max(1, round(Fraction(seconds) / bar_s))


def describe_form(sections: tuple[Section, ...]) -> str:
    """The form as a spec that `parse_form` reads back."""
    return ",".join(f"{s.name}:{s.bars}:{s.energy:g}" for s in sections)
