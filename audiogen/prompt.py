"""Request stage, in words: a sentence such as "dark, bouncy trap beat around 140 bpm, sparse
intro" becomes the options of a request (genre, tempo, bars, energy, feel, syncopation, kit, mix,
use), with a record of which words meant what and which were not understood.

Rule-based and small on purpose: genre names and aliases come from the planner's genre table,
moods from the lexicon below, numbers from a few patterns. Options set explicitly (flags, keyword
arguments) always win over the sentence; the caller merges them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from audiogen.errors import RequestError
from audiogen.planner.arrange import MAX_DURATION_S

EXAMPLES = (
    '"dark trap beat at 140 bpm"',
    '"chill lofi, 16 bars"',
    '"fast aggressive punk"',
    '"uplifting house for a video loop"',
)


@dataclass(frozen=True)
class Mood:
    """What a mood word asks of the beat; None leaves that option to the genre."""

    energy: float | None = None
    syncopation: float | None = None
    feel: str | None = None
    kit: str | None = None
    mix: str | None = None
    genre: str | None = None  # the genre the word suggests when the sentence names none


def _moods(words: str, **meaning: Any) -> dict[str, Mood]:
    return {word: Mood(**meaning) for word in words.split()}


# Mood words → what they change. Energy is the planner's 0-1 density/force control; kits and
# mixes are the shipped ones; `genre` only applies when the sentence names no genre.
MOODS: dict[str, Mood] = {
    **_moods("dark moody sinister ominous menacing gloomy brooding gritty", energy=0.45,
             mix="hiphop", genre="trap"),
    **_moods("chill chilled relaxed relaxing mellow calm laid-back laidback easy smooth lazy "
             "peaceful", energy=0.3, genre="lofi"),
    **_moods("uplifting happy joyful bright upbeat euphoric cheerful positive sunny feel-good",
             energy=0.7, mix="electronic", genre="house"),
    **_moods("aggressive angry hard heavy intense brutal furious fierce driving pounding",
             energy=0.9, genre="rock"),
    **_moods("dreamy ethereal floaty hazy atmospheric ambient spacey wistful nostalgic",
             energy=0.3, mix="hiphop", genre="lofi"),
    **_moods("bouncy groovy funky swaggering playful catchy", syncopation=0.7, genre="funk"),
    **_moods("energetic powerful punchy big epic massive explosive", energy=0.8),
    **_moods("sparse minimal stripped-back stripped simple soft gentle quiet light",
             energy=0.25),
    **_moods("busy dense complex intricate", energy=0.8, syncopation=0.6),
    **_moods("steady straight", syncopation=0.2),
    **_moods("syncopated offbeat off-beat broken", syncopation=0.8),
    **_moods("dusty vintage old-school oldschool crunchy lo-fi-ish tape", kit="lofi",
             mix="hiphop"),
    **_moods("live organic acoustic natural real", kit="acoustic", mix="acoustic"),
    **_moods("warm roomy", kit="room", mix="acoustic"),
    **_moods("electronic synthetic digital robotic 808", kit="808", mix="electronic"),
    **_moods("brushes brushed jazzy", kit="jazz-brush", mix="acoustic"),
    **_moods("tribal percussive hand-drums", kit="world", genre="afrobeat"),
    **_moods("swung swingy swinging", feel="swing16"),
    **_moods("shuffled shuffling", feel="swing8"),
    **_moods("triplet triplets", feel="triplet"),
}  # fmt: skip

# Tempo words: a point in the genre's tempo range (0 = its slowest, 1 = its fastest).
TEMPO_WORDS = {
    "slow": 0.1, "slower": 0.1, "downtempo": 0.1, "half-time": 0.1, "halftime": 0.1,
    "mid-tempo": 0.5, "midtempo": 0.5, "medium": 0.5, "moderate": 0.5,
    "fast": 0.9, "faster": 0.9, "uptempo": 0.9, "up-tempo": 0.9, "quick": 0.9, "rapid": 0.9,
}  # fmt: skip
# What the beat is for → a use preset (see `audiogen.request.USE_PRESETS`).
USE_WORDS = {
    "video": "video", "youtube": "video", "vlog": "video", "reel": "video", "reels": "video",
    "tiktok": "video", "loop": "video", "looping": "video", "seamless": "video",
    "podcast": "podcast", "podcasts": "podcast",
    "bed": "bed", "background": "bed", "underscore": "bed", "voiceover": "bed",
    "voice-over": "bed", "narration": "bed", "speech": "bed",
    "broadcast": "broadcast", "radio": "broadcast", "tv": "broadcast",
}  # fmt: skip
SONG_BARS = 24  # a song asked for in words without a length: intro, verse, chorus, outro
FORM_WORDS = frozenset(
    "intro outro verse chorus bridge breakdown drop build buildup fill fills ending".split()
)
# Words that carry no request: glue, and the names of what is asked for.
FILLER = frozenset(
    """a an the and or but with without for of in on at to by from into under over around about
    roughly approximately approx some something like me my i we our you your make making give
    please need want wanted kind sort style styled type vibe vibes vibey track tune song music
    beat beats drum drums drumbeat drumbeats groove grooves rhythm rhythms pattern patterns loop
    loops feel feeling tempo bpm bars bar measures measure very really quite super kinda pretty
    little bit ish that this is it its it's which one more less lot lots not too also just plus
    version take sound sounding sounds vibe-y mood tone maybe &""".split()
)
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twelve": 12, "sixteen": 16, "twenty-four": 24, "thirty-two": 32,
    "sixty-four": 64,
}  # fmt: skip
# Genre aliases that are also ordinary words: they name the genre only when no other does.
WEAK_GENRE_WORDS = frozenset(
    "swing shuffle dance minimal afro roots dub rave liquid indie country folk funky disco "
    "ballad boogie alternative".split()
)

# Numbers with a unit are read at any size, so one out of range is refused, not misread.
_BPM = re.compile(
    r"(?:(?:at|around|about|near|roughly|~)\s*)?\b(\d+(?:\.\d+)?)\s*(?:-?\s*(?:bpm|beats per "
    r"minute|b\.p\.m\.?))"
)
_BPM_LEAD = re.compile(r"\b(?:tempo|bpm)\s*(?:of|at|=|:)?\s*(\d+(?:\.\d+)?)\b")
_BPM_BARE = re.compile(
    r"\b(?:at|around|about|~)\s*(\d{2,3})\b(?!\s*(?:bars?|measures?|s\b|sec|second|min))"
)
_DURATION = re.compile(
    r"\b(\d+(?:\.\d+)?)[\s-]*(s|secs?|seconds?|mins?|minutes?|hours?|hrs?)\b"
    r"|\b(\d+):(\d\d)\b"
)
_BARS = re.compile(r"\b(\d+|[a-z]+(?:-[a-z]+)?)[\s-]*(?:bars?|measures?)\b")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_METER = re.compile(r"\b(4/4|3/4|6/8|12/8)\b")


@dataclass(frozen=True)
class Resolution:
    """What a sentence asked for.

    Attributes:
        text: the sentence.
        options: request options it sets (plan and render options by name; ``preset`` for a use).
        meanings: each understood word or phrase → what it set, in reading order.
        unknown: words not understood (reported, not dropped silently).
        form: section words (intro, outro, ...): a sentence that names sections asks for a
            song (``options["form"] = "auto"``, 24 bars unless it gives a length).
    """

    text: str
    options: dict[str, Any]
    meanings: tuple[tuple[str, str], ...] = ()
    unknown: tuple[str, ...] = ()
    form: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "options": dict(self.options),
            "meanings": [list(m) for m in self.meanings],
            "unknown": list(self.unknown),
            "form": list(self.form),
        }


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def _key(text: str) -> str:
    """Genre-alias key: letters, digits and '/', '&' read as 'and', "n" as in "drum n bass"."""
    text = _norm(text).replace("&", " and ").replace("'n'", " and ")
    text = re.sub(r"\bn\b", "and", text)
    return re.sub(r"[^a-z0-9/]+", "", text)


def _genre_index() -> dict[str, str]:
    from audiogen.planner.genres import GENRES

    index: dict[str, str] = {}
    for genre in GENRES.values():
        for name in (genre.name, genre.title, *genre.aliases):
            index.setdefault(_key(name), genre.name)
    return index


def parse_prompt(text: str) -> Resolution:
    """Read a sentence into request options.

    Raises:
        RequestError: when nothing in it says what to play (with examples of what works).
    """
    from audiogen.planner.genres import GENRES

    raw = _norm(str(text)).strip()
    options: dict[str, Any] = {}
    meanings: list[tuple[str, str]] = []
    used: list[tuple[int, int]] = []  # character spans already understood

    def take(match: re.Match, group: int = 0) -> None:
        used.append(match.span(group))

    # Numbers first: tempo, bars, duration, meter.
    for pattern in (_BPM, _BPM_LEAD, _BPM_BARE):
        match = pattern.search(raw)
        if match and "bpm" not in options:
            bpm = float(match.group(1))
            if pattern is not _BPM_BARE:
                _check_range(raw, match, bpm, 40, 300, "a tempo goes from 40 to 300 bpm")
            if 40 <= bpm <= 300:
                options["bpm"] = int(bpm) if bpm == int(bpm) else bpm
                meanings.append((match.group(0).strip(), f"bpm {options['bpm']}"))
                take(match)
    for match in _BARS.finditer(raw):
        count = match.group(1)
        bars = int(count) if count.isdigit() else NUMBER_WORDS.get(count)
        if bars is not None and "bars" not in options:
            _check_range(raw, match, bars, 1, 256, "a beat has 1 to 256 bars")
            options["bars"] = bars
            meanings.append((match.group(0).strip(), f"bars {bars}"))
            take(match)
    match = _DURATION.search(raw)
    if match and "bars" not in options:
        seconds: float
        if match.group(3):  # m:ss
            if int(match.group(4)) >= 60:  # not a length: "0:60" is not bpm 60 either
                raise RequestError(
                    f'"{match.group(0)}" in the sentence: write a length as minutes:seconds, '
                    "the seconds under 60"
                )
            seconds = int(match.group(3)) * 60 + int(match.group(4))
        else:
            seconds = float(match.group(1)) * _UNIT_SECONDS.get(match.group(2)[0], 1)
        longest = f"{MAX_DURATION_S / 60:g} minutes"
        _check_range(raw, match, seconds, 1, MAX_DURATION_S, f"a beat lasts 1 s to {longest}")
        if 1 <= seconds <= MAX_DURATION_S:
            options["duration"] = int(seconds) if seconds == int(seconds) else seconds
            meanings.append((match.group(0).strip(), f"duration {options['duration']} s"))
            take(match)
    match = _METER.search(raw)
    if match:
        options["meter"] = match.group(1)
        meanings.append((match.group(1), f"meter {match.group(1)}"))
        take(match)
    # Words, with their character spans, outside what the numbers took.
    tokens = [
        (m.group(0), m.start(), m.end())
        for m in re.finditer(r"[a-z0-9][a-z0-9&'/.+-]*[a-z0-9&]|[a-z0-9&]", raw)
        if not any(a <= m.start() < b for a, b in used)
    ]
    index = _genre_index()
    understood = [False] * len(tokens)
    genres: list[tuple[str, str, bool]] = []  # (phrase, genre, weak)
    i = 0
    while i < len(tokens):  # longest alias first: "lofi hip hop" before "hip hop"
        step = 1
        for size in range(min(4, len(tokens) - i), 0, -1):
            gaps = (raw[tokens[j][2] : tokens[j + 1][1]] for j in range(i, i + size - 1))
            if any(gap.strip(" -") for gap in gaps):  # no phrase across a comma
                continue
            phrase = " ".join(t[0] for t in tokens[i : i + size])
            key = _key(phrase)
            name = index.get(key) if key else None
            if name is None:
                continue
            weak = size == 1 and phrase in WEAK_GENRE_WORDS
            genres.append((phrase, name, weak))
            if not weak:
                # "slow blues", "dark techno"...: tempo and mood words in a genre's name count too
                understood[i : i + size] = [
                    tokens[j][0] not in MOODS and tokens[j][0] not in TEMPO_WORDS
                    for j in range(i, i + size)
                ]
                step = size
            break
        i += step

    if "bpm" not in options:  # a lone number in tempo range: "tech house 126", not "top 40"
        for k, (word, _, _) in enumerate(tokens):
            if word.isdigit() and not understood[k] and 40 <= int(word) <= 300:
                options["bpm"] = int(word)
                meanings.append((word, f"bpm {options['bpm']}"))
                understood[k] = True
                break

    strong = [(p, g) for p, g, weak in genres if not weak]
    chosen = strong[0] if strong else None

    moods: list[tuple[str, Mood]] = []
    tempo_points: list[tuple[str, float]] = []
    unknown: list[str] = []
    form: list[str] = []
    for k, (word, _, _) in enumerate(tokens):
        if understood[k]:
            continue
        bare = word.strip(".'")
        if bare in MOODS:
            moods.append((bare, MOODS[bare]))
        elif bare in TEMPO_WORDS:
            tempo_points.append((bare, TEMPO_WORDS[bare]))
        elif bare in USE_WORDS:
            if "preset" not in options:
                options["preset"] = USE_WORDS[bare]
            meanings.append((bare, f"preset {USE_WORDS[bare]}"))
        elif bare in FORM_WORDS:
            form.append(bare)
            meanings.append((bare, "a song form"))
        elif bare in ("swing", "shuffle") and chosen is not None:
            feel = "swing8"
            options.setdefault("feel", feel)
            meanings.append((bare, f"feel {feel}"))
        elif any(p == bare and weak for p, _, weak in genres):
            if chosen is None:
                chosen = (bare, next(g for p, g, _ in genres if p == bare))
            else:
                unknown.append(bare)
        elif bare in FILLER or bare in NUMBER_WORDS:
            continue
        else:
            unknown.append(bare)
        understood[k] = True

    if chosen is None:
        suggested = [m.genre for _, m in moods if m.genre]
        if suggested:
            options["genre"] = suggested[0]
            meanings.append((next(w for w, m in moods if m.genre), f"genre {suggested[0]}"))
    else:
        options["genre"] = chosen[1]
        meanings.insert(0, (chosen[0], f"genre {chosen[1]}"))
    for phrase, name in strong[1:]:
        if name != options.get("genre"):
            unknown.append(f"{phrase} (a second genre; {options['genre']} was taken)")

    for word, mood in moods:
        parts = []
        for name in ("energy", "syncopation", "feel", "kit", "mix"):
            value = getattr(mood, name)
            if value is not None:
                parts.append(f"{name} {value}")
        meanings.append((word, ", ".join(parts) or "mood"))
    energies = [m.energy for _, m in moods if m.energy is not None]
    if energies:
        options["energy"] = round(fmean(energies), 3)
    syncopations = [m.syncopation for _, m in moods if m.syncopation is not None]
    if syncopations:
        options["syncopation"] = round(fmean(syncopations), 3)
    for name in ("feel", "kit", "mix"):
        values = [getattr(m, name) for _, m in moods if getattr(m, name) is not None]
        if values and name not in options:
            options[name] = values[0]

    if tempo_points and "bpm" not in options:
        genre = GENRES[options.get("genre", "hip-hop")]
        low, high = genre.bpm_range
        point = fmean(p for _, p in tempo_points)
        options["bpm"] = round(low + point * (high - low))
        for word, _ in tempo_points:
            meanings.append((word, f"bpm {options['bpm']} ({genre.name}: {low:g}-{high:g})"))

    if not any(k in options for k in ("genre", "bpm", "energy", "syncopation", "kit", "feel")):
        heard = f" (not understood: {', '.join(unknown)})" if unknown else ""
        raise RequestError(
            f"nothing in {text!r} says what to play{heard}; try a genre, a mood or a tempo, "
            f"e.g. {', '.join(EXAMPLES)}"
        )
    if form and "form" not in options:
        options["form"] = "auto"
        if "bars" not in options and "duration" not in options:
            options["bars"] = SONG_BARS
    return Resolution(
        text=str(text),
        options=options,
        meanings=tuple(meanings),
        unknown=tuple(unknown),
        form=tuple(form),
    )


def _check_range(
    raw: str, match: re.Match, value: float, low: float, high: float, allowed: str
) -> None:
    """Refuse a number the sentence gives with its unit ("999 bpm", "-5 minutes") outside
    ``low``-``high``: reading it as something else, or dropping it, would not be what was
    asked."""
    start = match.start(1) if match.group(1) is not None else match.start()
    negative = raw[start - 1 : start] == "-" and not raw[start - 2 : start - 1].isalnum()
    if negative or not low <= value <= high:
        phrase = ("-" if negative else "") + match.group(0).strip()
        raise RequestError(f'"{phrase}" in the sentence: {allowed}')


def describe(resolution: Resolution, resolved: dict[str, Any]) -> str:
    """One or two lines for the user: the request as it will run, and words not understood."""
    parts = [f"{k} {v}" for k, v in resolved.items() if v is not None]
    line = "request: " + ", ".join(parts)
    if resolution.unknown:
        line += f"\nnot understood: {', '.join(resolution.unknown)}"
    return line
