"""The genres people ask for, with the defaults a request takes from them (tempo, feel, meter,
kit, mix), and how the Groove MIDI Dataset's style labels map onto them.

Tempo counts quarter notes per minute, as `DrumScore` and MIDI do. In 6/8 and 12/8 the pulse a
player taps is the dotted quarter, i.e. ``bpm / 1.5``: Afro-Cuban 6/8 at 165 bpm is a pulse of 110.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from types import MappingProxyType

from audiogen.errors import RequestError
from audiogen.score import FEELS

METERS = ("4/4", "3/4", "6/8", "12/8")
FAMILIES = ("hip-hop", "electronic", "pop", "rock", "jazz", "world")


@dataclass(frozen=True)
class Genre:
    """A genre and the defaults a request takes from it. First of `feels`/`meters` is the default.

    ``default_swing`` is the swing ratio used when the feel is swung: the share of a beat (swing8)
    or of an 8th (swing16) before the off-beat note; 0.5 is straight, 2/3 a triplet shuffle.
    """

    name: str
    title: str
    family: str
    bpm_range: tuple[float, float]
    default_bpm: float
    feels: tuple[str, ...]
    default_swing: float
    meters: tuple[str, ...]
    kit: str
    mix: str
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        low, high = self.bpm_range
        problems = [
            f"family {self.family!r}" if self.family not in FAMILIES else "",
            "bpm" if not 40 <= low <= self.default_bpm <= high <= 300 else "",
            "feels" if not self.feels or not set(self.feels) <= set(FEELS) else "",
            "meters" if not self.meters or not set(self.meters) <= set(METERS) else "",
            "swing" if not 0.5 <= self.default_swing <= 0.75 else "",
        ]
        bad = [p for p in problems if p]
        if bad:  # a programming error in the table below, not a user's
            raise ValueError(f"genre {self.name}: bad {', '.join(bad)}")


_TABLE = (
    # Hip-hop: played behind the beat, 16ths swung a little (MPC swing 54-62 %).
    Genre("hip-hop", "Hip-hop (boom-bap)", "hip-hop", (75, 100), 90, ("swing16", "straight"),
          0.56, ("4/4",), "room", "hiphop",
          ("hip hop", "hiphop", "boom bap", "boombap", "boom-bap", "rap", "golden age",
           "east coast")),
    # Trap: half-time at 130-170 (snare on 3), hat rolls in 32nds and triplets.
    Genre("trap", "Trap", "hip-hop", (120, 170), 140, ("straight", "triplet"), 0.5, ("4/4",),
          "808", "hiphop", ("drill", "trap beat", "808s", "atlanta")),
    Genre("lofi", "Lo-fi hip-hop", "hip-hop", (65, 95), 80, ("swing16", "swing8", "straight"),
          0.6, ("4/4",), "lofi", "hiphop",
          ("lo-fi", "lo fi", "lofi hip hop", "lo-fi hip-hop", "lofi hiphop", "chillhop",
           "chill hop", "study beats", "jazzhop")),
    Genre("house", "House", "electronic", (115, 130), 124, ("straight", "swing16"), 0.5,
          ("4/4",), "house", "electronic",
          ("edm", "four on the floor", "four-on-the-floor", "deep house", "disco",
           "dance", "tech house")),
    Genre("techno", "Techno", "electronic", (120, 150), 130, ("straight",), 0.5, ("4/4",),
          "house", "electronic", ("tekno", "minimal", "industrial techno", "rave")),
    Genre("drum-and-bass", "Drum & bass / jungle", "electronic", (160, 180), 174,
          ("straight",), 0.5, ("4/4",), "house", "electronic",
          ("dnb", "d&b", "d and b", "drum n bass", "drum 'n' bass", "drum and bass",
           "drumandbass", "jungle", "liquid", "neurofunk")),
    Genre("dubstep", "Dubstep", "electronic", (135, 150), 140, ("straight", "triplet"), 0.5,
          ("4/4",), "808", "electronic", ("brostep", "riddim", "dub step")),
    Genre("pop", "Pop", "pop", (80, 135), 110, ("straight", "swing16"), 0.5, ("4/4", "3/4"),
          "acoustic", "acoustic", ("pop rock", "dance pop", "top 40", "ballad")),
    Genre("soul", "Soul / R&B", "pop", (60, 130), 92, ("straight", "swing16", "swing8"), 0.56,
          ("4/4", "12/8"), "room", "acoustic",
          ("r&b", "rnb", "r and b", "r'n'b", "rhythm and blues", "neo-soul", "neo soul",
           "neosoul", "motown", "gospel", "soul music")),
    Genre("funk", "Funk", "pop", (85, 125), 100, ("straight", "swing16"), 0.54, ("4/4",),
          "acoustic", "acoustic", ("funky", "p-funk", "second line", "new orleans", "go-go")),
    Genre("rock", "Rock", "rock", (70, 170), 120, ("straight", "swing8", "triplet"), 0.62,
          ("4/4", "3/4", "6/8", "12/8"), "rock", "acoustic",
          ("rock and roll", "rock n roll", "rock'n'roll", "hard rock", "indie", "indie rock",
           "alternative", "alt rock", "metal", "grunge", "country", "folk")),
    Genre("punk", "Punk", "rock", (140, 230), 180, ("straight",), 0.5, ("4/4",), "rock",
          "acoustic", ("punk rock", "pop punk", "pop-punk", "hardcore", "skate punk", "ska punk")),
    Genre("blues", "Blues / shuffle", "rock", (60, 140), 96, ("triplet", "swing8"), 0.66,
          ("4/4", "12/8"), "room", "acoustic",
          ("shuffle", "blues shuffle", "texas shuffle", "12 bar", "twelve bar", "slow blues",
           "boogie")),
    Genre("jazz", "Jazz (swing)", "jazz", (60, 280), 140, ("swing8", "triplet", "straight"),
          0.64, ("4/4", "3/4"), "jazz-brush", "acoustic",
          ("swing", "bebop", "bop", "jazz swing", "big band", "jazz waltz", "hard bop")),
    Genre("reggae", "Reggae (one drop)", "world", (60, 100), 76, ("straight", "swing16"), 0.56,
          ("4/4",), "acoustic", "acoustic",
          ("one drop", "one-drop", "roots", "rockers", "steppers", "dub", "ska", "rocksteady")),
    Genre("reggaeton", "Reggaeton (dembow)", "world", (85, 105), 95, ("straight",), 0.5,
          ("4/4",), "808", "hiphop",
          ("dembow", "reggaetón", "regueton", "perreo", "latin trap", "moombahton")),
    Genre("afrobeat", "Afrobeat / Afrobeats", "world", (90, 130), 108, ("straight", "swing16"),
          0.55, ("4/4",), "acoustic", "acoustic",
          ("afrobeats", "afro", "afro beat", "afro-beat", "afropop", "afro pop",
           "highlife", "fela")),
    Genre("bossa-nova", "Bossa nova", "world", (100, 150), 126, ("straight",), 0.5,
          ("4/4",), "jazz-brush", "acoustic",
          ("bossa", "bossanova", "bossa nova", "brazilian jazz")),
    Genre("samba", "Samba", "world", (85, 130), 104, ("straight", "swing16"), 0.53, ("4/4",),
          "acoustic", "acoustic",
          ("batucada", "partido alto", "samba reggae", "baiao", "baião", "brazilian", "pagode")),
    Genre("afro-cuban", "Afro-Cuban 6/8", "world", (135, 195), 165, ("straight", "triplet"),
          0.5, ("6/8", "12/8"), "world", "acoustic",
          ("6/8", "12/8", "afrocuban", "afro cuban", "bembe", "bembé", "abakua", "nanigo",
           "afro-cuban 6/8", "6/8 bembe")),
)  # fmt: skip

GENRES: MappingProxyType[str, Genre] = MappingProxyType({g.name: g for g in _TABLE})


def _key(text: str) -> str:
    """What a genre name is compared by: lowercase letters and digits, '&' read as 'and'."""
    text = text.strip().lower().replace("&", " and ").replace("'n'", " and ")
    text = re.sub(r"\bn\b", "and", text)  # "drum n bass"
    text = unicodedata.normalize("NFKD", text)  # reggaetón, baião, bembé lose their accents
    return re.sub(r"[^a-z0-9/]+", "", text)


_LOOKUP: MappingProxyType[str, str] = MappingProxyType(
    {
        **{_key(alias): g.name for g in _TABLE for alias in g.aliases},
        **{_key(g.name): g.name for g in _TABLE},
        **{_key(g.title): g.name for g in _TABLE},
    }
)


def resolve_genre(text: str) -> Genre:
    """The genre a user means by ``text``: its id, title or a common alias, in any case,
    spacing or punctuation ("Hip Hop", "d&b", "Lo-Fi", "r and b").

    Raises:
        RequestError: for an unknown name; one line listing the genres, with the closest match.
    """
    key = _key(str(text))
    name = _LOOKUP.get(key)
    if name is not None:
        return GENRES[name]
    close = difflib.get_close_matches(key, list(_LOOKUP), n=1, cutoff=0.75)
    hint = f" (did you mean {_LOOKUP[close[0]]}?)" if close else ""
    raise RequestError(f"unknown genre {text!r}{hint}; use one of: {', '.join(GENRES)}")


# How the Groove MIDI Dataset's 76 style strings map to genres. None: no genre fits; such
# performances still train the planner as unconditioned ("none") material.
#
# | Groove style                         | genre          | why                                    |
# |--------------------------------------|----------------|----------------------------------------|
# | afrobeat                             | afrobeat       |                                        |
# | highlife                             | afrobeat       | West African guitar-band groove        |
# | afrocuban, /bembe, /rhumba           | afro-cuban     | 4/4 with a 12/8 (triplet) bell         |
# | afrocuban/calypso                    | None           | Trinidadian two-beat; no genre near it |
# | blues/shuffle, rock/shuffle,         | blues          | triplet shuffle                        |
# |   neworleans/shuffle                 |                |                                        |
# | country, rock and rock/* (folk,      | rock           | train beats and two-beats are rock kit |
# |   groove8, halftime, indie, prog,    |                | grooves; rockabilly is swung rock      |
# |   rockabilly)                        |                |                                        |
# | dance/breakbeat (170 bpm)            | drum-and-bass  | a break at jungle tempo                |
# | dance/disco                          | house          | four on the floor + off-beat hats: the |
# |                                      |                | pattern house took from disco          |
# | funk, funk/* (incl. purdieshuffle,   | funk           |                                        |
# |   rock, latin, fast, grooveN)        |                |                                        |
# | jazz/funk, jazz/fusion, jazz/linear  | funk           | straight 16th grooves, not swing       |
# | neworleans/funk, /secondline         | funk           | the street beat funk came from         |
# | gospel, soul, soul/* (motown, ...)   | soul           |                                        |
# | hiphop, hiphop/groove6               | hip-hop        |                                        |
# | jazz, jazz/swing, /fast, /mediumfast | jazz           |                                        |
# | jazz/march, jazz/klezmer             | None           | march / klezmer two-beat               |
# | latin/brazilian-samba, latin/samba,  | samba          | Brazilian 2/4 families: surdo on 2,    |
# |   /brazilian, -sambareggae, -baiao,  |                | 16th partido-alto and baião figures    |
# |   -frevo, -ijexa, -maracatu          |                |                                        |
# | latin/brazilian-bossa                | bossa-nova     |                                        |
# | latin/brazilian-songo, latin/bomba,  | afro-cuban     | Cuban / Afro-Caribbean clave grooves   |
# |   neworleans/chacha                  |                |                                        |
# | latin/reggaeton                      | reggaeton      |                                        |
# | latin (unlabelled), /ando, /bounce,  | None           | an umbrella label, or Andean,          |
# |   /chacarera, /merengue, /dominican- |                | Argentine, Dominican and Venezuelan    |
# |   merengue, /venezuelan-*            |                | rhythms no genre here stands for       |
# | middleeastern                        | None           |                                        |
# | pop, pop/groove7, pop/soft           | pop            |                                        |
# | punk                                 | punk           |                                        |
# | reggae, reggae/slow                  | reggae         |                                        |
_GROOVE_TABLE: dict[str | None, tuple[str, ...]] = {
    "afrobeat": ("afrobeat", "highlife"),
    "afro-cuban": (
        "afrocuban", "afrocuban/bembe", "afrocuban/rhumba", "latin/brazilian-songo",
        "latin/bomba", "neworleans/chacha",
    ),
    "blues": ("blues/shuffle", "rock/shuffle", "neworleans/shuffle"),
    "rock": (
        "country", "rock", "rock/folk", "rock/groove8", "rock/halftime", "rock/indie",
        "rock/prog", "rock/rockabilly",
    ),
    "drum-and-bass": ("dance/breakbeat",),
    "house": ("dance/disco",),
    "funk": (
        "funk", "funk/fast", "funk/groove1", "funk/groove2", "funk/groove5", "funk/latin",
        "funk/purdieshuffle", "funk/rock", "jazz/funk", "jazz/fusion", "jazz/linear",
        "neworleans/funk", "neworleans/secondline",
    ),
    "soul": (
        "gospel", "soul", "soul/groove10", "soul/groove3", "soul/groove4", "soul/groove9",
        "soul/motown",
    ),
    "hip-hop": ("hiphop", "hiphop/groove6"),
    "jazz": ("jazz", "jazz/swing", "jazz/fast", "jazz/mediumfast"),
    "samba": (
        "latin/brazilian-samba", "latin/samba", "latin/brazilian", "latin/brazilian-sambareggae",
        "latin/brazilian-baiao", "latin/brazilian-frevo", "latin/brazilian-ijexa",
        "latin/brazilian-maracatu",
    ),
    "bossa-nova": ("latin/brazilian-bossa",),
    "reggaeton": ("latin/reggaeton",),
    "pop": ("pop", "pop/groove7", "pop/soft"),
    "punk": ("punk",),
    "reggae": ("reggae", "reggae/slow"),
    None: (
        "afrocuban/calypso", "jazz/march", "jazz/klezmer", "latin", "latin/ando", "latin/bounce",
        "latin/chacarera", "latin/merengue", "latin/dominican-merengue",
        "latin/venezuelan-joropo", "latin/venezuelan-merengue", "latin/venezuelan-sangueo",
        "middleeastern",
    ),
}  # fmt: skip

GROOVE_GENRES: MappingProxyType[str, str | None] = MappingProxyType(
    {style: genre for genre, styles in _GROOVE_TABLE.items() for style in styles}
)


def groove_genre(style: str) -> str | None:
    """The genre of a Groove style string; an unlisted sub-style falls back to its primary
    style ("rock/newthing" → rock), an unknown primary style to None."""
    if style in GROOVE_GENRES:
        return GROOVE_GENRES[style]
    return GROOVE_GENRES.get(style.split("/")[0])
