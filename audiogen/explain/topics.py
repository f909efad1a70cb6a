"""The lessons `audiogen explain` knows: for each concept its words (what it is, where it is
heard, how to count it), the planner options its examples share and the one thing they vary,
and the measure that shows, on each example's MIDI, that they differ in that one thing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from audiogen.analysis.cycles import CLAVES
from audiogen.errors import RequestError

# How an example's measured value must compare: with a number or a name, or with the lesson's
# first example ("above first").
OPS = ("==", ">=", "<=", "above first")


@dataclass(frozen=True)
class Example:
    """One beat of a lesson.

    Args:
        label: what the learner hears in it ("swung 8ths").
        options: planner options (`PlanOptions` fields) over the lesson's shared ones.
        checks: (measure, op, value): what the example's MIDI must measure (see `OPS`).
        humanize: the humanizer amount (0: the quantised beat).
        transform: a change made to the planned beat, named in `TRANSFORMS`, or None.
    """

    label: str
    options: MappingProxyType[str, Any]
    checks: tuple[tuple[str, str, Any], ...]
    humanize: float = 0.0
    transform: str | None = None


@dataclass(frozen=True)
class Topic:
    """A lesson: its words, its examples and the marks its pictures carry."""

    name: str
    title: str
    what: str
    heard: str
    count: str
    varied: str  # which option the examples vary, in words
    base: MappingProxyType[str, Any]
    examples: tuple[Example, ...]
    marks: str  # what the pictures point at (see `audiogen.explain.lesson.marks_for`)
    aliases: tuple[str, ...] = ()
    seek: bool = False  # seeds are tried until every example passes its checks
    note: str = ""  # what the examples cannot show
    extra: tuple[str, ...] = field(default=())  # lines of counting for figures not played


# Transforms of a planned beat that some lessons need: the same beat without one thing, or with
# its clave lane playing a clave the planner does not write (`audiogen.explain.lesson.transform`).
TRANSFORMS = ("without ghost notes", "played flat", "without the backbeat", "kick on 1 and 3",
              "without the fill and crash",
              *(f"{name} clave" for name in CLAVES if not name.startswith("bossa")))  # fmt: skip


def _ex(label: str, checks: tuple[tuple[str, str, Any], ...], humanize: float = 0.0,
        transform: str | None = None, **options: Any) -> Example:  # fmt: skip
    return Example(label, MappingProxyType(options), checks, humanize, transform)


_THIRD_ON_4 = ("clave third stroke", "==", "4")  # the son clave's, where the rumba's is on 4&


def _topic(name: str, base: dict[str, Any], examples: tuple[Example, ...], **words: Any) -> Topic:
    return Topic(name=name, base=MappingProxyType(base), examples=examples, **words)


TOPICS: tuple[Topic, ...] = (
    _topic(
        "backbeat",
        {"genre": "pop", "bpm": 110, "bars": 4},
        (
            _ex("backbeat", (("backbeat", ">=", 0.75),)),
            _ex(
                "the same beat without it",
                (("backbeat", "<=", 0.25),),
                transform="without the backbeat",
            ),
        ),
        title="Backbeat",
        what="The snare (or a clap) on beats 2 and 4, the weak beats, answering the kick on 1 "
        "and 3. It is what makes you nod on 2 and 4.",
        heard="rock, pop, funk, soul, hip-hop, most music with a drum kit since the 1950s",
        count="1 e & a 2 e & a 3 e & a 4 e & a: the snare speaks on the 2 and the 4",
        varied="nothing in the planner: the first example is a pop beat it wrote (seeds are "
        "tried until it plays the backbeat), the second the same beat with the snare, clap and "
        "rim strokes on 2 and 4 taken out; what is left of the groove is unchanged",
        marks="backbeat",
        seek=True,
        aliases=("back beat", "2 and 4", "two and four", "snare on 2 and 4"),
    ),
    _topic(
        "four-on-the-floor",
        {"genre": "house", "bpm": 122, "bars": 4},
        (
            _ex("four on the floor", (("four on the floor", ">=", 0.75),)),
            _ex(
                "the same beat, the kick on 1 and 3",
                (("four on the floor", "<=", 0.25),),
                transform="kick on 1 and 3",
            ),
        ),
        title="Four on the floor",
        what="The bass drum on every beat of the bar, steady as a heartbeat; the snare or clap "
        "often doubles it on 2 and 4 and the open hat sits on the &s between.",
        heard="disco, house, techno, dance pop",
        count="1 e & a 2 e & a 3 e & a 4 e & a: the kick on 1, 2, 3 and 4",
        varied="nothing in the planner: the first example is a house beat it wrote (seeds are "
        "tried until its kick plays every beat), the second the same beat with the kick on 2 "
        "and 4 taken out, leaving the kick on 1 and 3 of a rock or pop beat",
        marks="kick beats",
        seek=True,
        aliases=("four on the floor", "4 on the floor", "4otf", "fotf"),
    ),
    _topic(
        "half-time",
        {"bpm": 130, "bars": 4},
        (
            _ex("backbeat on 2 and 4 (pop)", (("half-time", "<=", 0.25),), genre="pop"),
            _ex("half-time: snare on 3 (trap)", (("half-time", ">=", 0.75),), genre="trap"),
        ),
        title="Half-time",
        what="The backbeat moved to beat 3, once a bar: the tempo stays, but the groove feels "
        "half as fast, heavy and wide.",
        heard="dubstep, trap, half-time rock choruses and breakdowns",
        count="1 e & a 2 e & a 3 e & a 4 e & a: the snare only on 3",
        varied="the genre (pop against trap at 130 bpm): the planner has no half-time switch",
        marks="backbeat",
        aliases=("half time", "halftime", "half-time feel"),
    ),
    _topic(
        "swing",
        {"genre": "hip-hop", "bpm": 90, "bars": 4},
        (
            _ex("straight", (("swing", "<=", 0.53), ("feel", "==", "straight")), feel="straight"),
            _ex(
                "swung 8ths (0.62)",
                (("swing", ">=", 0.6), ("swung note", "==", "8ths")),
                feel="swing8",
                swing=0.62,
            ),
            _ex(
                "swung 16ths (0.60)",
                (("swing", ">=", 0.58), ("swung note", "==", "16ths")),
                feel="swing16",
                swing=0.6,
            ),
        ),
        title="Straight against swing (8ths and 16ths)",
        what="Swing plays the second note of each pair late: the & of each beat (swung 8ths) or "
        "the e and the a (swung 16ths). The swing ratio is how far into the pair the late note "
        "falls: 0.5 is straight, 0.67 is a triplet shuffle.",
        heard="jazz (swung 8ths); boom-bap hip-hop, lo-fi, neo-soul, new jack swing (swung 16ths)",
        count="straight: 1 & 2 &, evenly; swung: 1 (2 3) & ... the & waits, like 'dah-da dah-da'",
        varied="the feel and swing options of the planner (same genre, tempo and seed; seeds "
        "are tried until each example has notes to swing and shows its feel)",
        marks="swing",
        seek=True,
        aliases=(
            "swing 8ths",
            "swing 16ths",
            "swung",
            "straight",
            "straight vs swing",
            "swing ratio",
            "swung 8ths",
            "swung 16ths",
        ),
    ),
    _topic(
        "shuffle",
        {"genre": "blues", "bpm": 96, "bars": 4},
        (
            _ex("straight 8ths", (("feel", "==", "straight"),), feel="straight"),
            _ex("shuffle (8th-note triplets)", (("feel", "==", "triplet"),), feel="triplet"),
        ),
        title="Shuffle and triplet feel",
        what="Each beat split in three instead of two: the shuffle plays the first and third of "
        "each triplet, a long-short lilt (swing taken all the way to 2:1).",
        heard="blues, early rock'n'roll, Texas shuffle, the half-time shuffle of 70s rock",
        count="1 trip let 2 trip let 3 trip let 4 trip let: the shuffle plays 1 . let 2 . let",
        varied="the planner's feel option (straight against triplet), same genre, tempo and seed",
        marks="swing",
        aliases=(
            "triplet feel",
            "triplets",
            "triplet",
            "shuffle feel",
            "12/8 feel",
            "blues shuffle",
        ),
    ),
    _topic(
        "syncopation",
        {"genre": "funk", "bpm": 100, "bars": 4},
        (
            _ex("on the beat (syncopation 0.1)", (("syncopation", "<=", 0.3),), syncopation=0.1),
            _ex("syncopated (syncopation 0.9)", (("syncopation", ">=", 0.6),), syncopation=0.9),
        ),
        title="Syncopation",
        what="Accents where the beat does not expect them: a hit on an off-beat (an &, an e or "
        "an a) with nothing on the stronger beat that follows, so the off-beat is felt instead.",
        heard="funk, reggaeton, drum & bass, Latin music, most of hip-hop",
        count="count 1 e & a and say the syncopated hits louder: a kick on 2a with nothing on 3",
        varied="the planner's syncopation option (0.1 against 0.9), same genre, tempo and seed",
        marks="syncopation",
        aliases=("syncopated", "off-beat", "offbeat", "off beat"),
    ),
    _topic(
        "ghost-notes",
        {"genre": "funk", "bpm": 96, "bars": 4},
        (
            _ex("with ghost notes", (("ghost notes per bar", ">=", 1.0),)),
            _ex(
                "the same beat without them",
                (("ghost notes per bar", "==", 0.0),),
                transform="without ghost notes",
            ),
        ),
        title="Ghost notes",
        what="Very soft snare strokes between the main hits, felt more than heard: they fill "
        "the 16ths around the backbeat and make a groove breathe.",
        heard="funk, soul, R&B, jazz, modern gospel chops",
        count="1 e & a 2 e & a: the backbeat on 2 and 4, the ghosts whispered on e's and a's",
        varied="nothing in the planner: the first example is a funk beat it wrote (seeds are "
        "tried until one plays ghost notes), the second the same beat with its ghost notes "
        "taken out",
        marks="ghosts",
        seek=True,
        aliases=("ghost note", "ghosts", "ghosting"),
    ),
    _topic(
        "accents",
        {"genre": "funk", "bpm": 100, "bars": 4},
        (
            _ex("with accents and dynamics", (("velocity spread", ">=", 15.0),)),
            _ex(
                "the same beat played flat",
                (("velocity spread", "<=", 0.5),),
                transform="played flat",
            ),
        ),
        title="Accents and dynamics",
        what="How hard each note is played: accents stand out, ghosts sink back, and the shape "
        "of loud and soft makes a pattern sing. The same notes played at one level sound like "
        "a machine.",
        heard="everywhere; most of all in funk, jazz, marching and Latin drumming",
        count="1 e & a 2 e & a: say the accented counts louder (1, 2&, 4) and whisper the rest",
        varied="nothing in the planner: the first is a beat it wrote (seeds are tried until its "
        "velocities spread), the second the same beat with every stroke at velocity 100",
        marks="accents",
        seek=True,
        aliases=("accent", "dynamics", "velocity", "accents and dynamics"),
    ),
    _topic(
        "humanization",
        {"genre": "funk", "bpm": 96, "bars": 4},
        (
            _ex("quantised", (("timing spread ms", "<=", 0.5),)),
            _ex("played (humanized)", (("timing spread ms", ">=", 3.0),), humanize=1.0),
        ),
        title="Humanization: quantised against played",
        what="A drummer never lands exactly on the grid: some notes push, some lay back, and "
        "the loudness moves. Quantised, every note sits on the grid at its written level.",
        heard="every played record; quantised beats in much electronic music",
        count="count 1 e & a and listen for the hats leaning ahead of or behind the count",
        varied="the humanizer amount (0 against 1) on the same planned beat",
        marks="timing",
        aliases=(
            "humanize",
            "humanise",
            "humanisation",
            "quantized",
            "quantised",
            "quantization",
            "feel",
            "groove",
            "timing",
        ),
    ),
    _topic(
        "fills",
        {"genre": "rock", "bpm": 120, "form": "verse:2,chorus:2"},
        (
            _ex("verse then chorus", (("fill and crash into bar 3", "==", "yes"),)),
            _ex(
                "the same without the fill and crash",
                (("fill and crash into bar 3", "==", "no"),),
                transform="without the fill and crash",
            ),
        ),
        title="Fills and crashes",
        what="A fill breaks the groove at the end of a phrase (toms, snare runs) to announce "
        "what comes next; the crash on the next downbeat says: here it is.",
        heard="every song form: before a chorus, into a bridge, at the end of 4 or 8 bars",
        count="count the bars: 1 2 3 4 | 2 2 3 4 | ... the fill takes the last beats of bar 2, "
        "the crash lands on 1 of bar 3",
        varied="nothing in the planner: the first example is a verse and chorus it wrote "
        "(seeds are tried until a fill ends the verse and a crash opens the chorus), the second "
        "the same beat with the fill's half bar played as the bar before it played it and the "
        "crash taken out",
        marks="fills",
        seek=True,
        aliases=("fill", "drum fill", "crash", "crashes", "fills and crashes"),
    ),
    _topic(
        "sections",
        {"genre": "rock", "bpm": 120},
        (
            _ex("one groove, 6 bars", (("energy rise", "<=", 1.0),), bars=6),
            _ex(
                "intro, verse, chorus (rising energy)",
                (("energy rise", ">=", 1.5),),
                form="intro:2:0.2,verse:2:0.5,chorus:2:0.9",
            ),
        ),
        title="Song sections and building energy",
        what="A song moves through sections, and the drums shape its energy: sparse in the "
        "intro, steady in the verse, full in the chorus (more hits, open hats or ride, crashes).",
        heard="almost every song with a form: intro, verse, chorus, bridge, outro",
        count="count in bars and phrases: 4 or 8 bars to a section, a fill at the end of each",
        varied="the planner's form option (one groove against intro 0.2, verse 0.5, chorus 0.9)",
        marks="sections",
        aliases=(
            "song sections",
            "song form",
            "form",
            "energy",
            "building energy",
            "build",
            "arrangement",
            "section",
        ),
    ),
    _topic(
        "polyrhythm",
        {"genre": "rock", "bpm": 100, "bars": 4, "on": "perc"},
        (
            _ex("no cross-rhythm", (("cross-rhythm", "==", "none"),)),
            _ex("3:2 on the cowbell", (("cross-rhythm", "==", "3:2"),), polyrhythm="3:2"),
            _ex("3:4 on the cowbell", (("cross-rhythm", "==", "3:4"),), polyrhythm="3:4"),
        ),
        title="Polyrhythm: 3:2 and 3:4",
        what="Two pulses at once: three even notes across two beats (3:2, the hemiola) or "
        "across four beats (3:4), against the groove's own pulse.",
        heard="West African and Afro-Cuban drumming, jazz, progressive rock and metal, Afrobeat",
        count="count the beats in triplets, 1 trip let 2 trip let: 3:2 plays 1, 1let, 2trip "
        "(every other triplet); 3:4 plays 1, 2trip, 3let (every fourth)",
        varied="the planner's polyrhythm option (none, 3:2, 3:4) on the percussion lane",
        marks="cross",
        aliases=(
            "polyrhythms",
            "3:2",
            "3:4",
            "cross-rhythm",
            "cross rhythm",
            "hemiola",
            "3 over 2",
            "3 over 4",
            "three over two",
        ),
    ),
    _topic(
        "clave",
        {"genre": "bossa-nova", "bpm": 120, "bars": 4},
        (
            _ex("bossa nova clave 3-2 (the planner's)", (("clave", "==", "bossa 3-2"),)),
            _ex(
                "son clave 3-2",
                (("clave", "==", "son 3-2"), _THIRD_ON_4),
                transform="son 3-2 clave",
            ),
            _ex(
                "rumba clave 3-2",
                (("clave", "==", "rumba 3-2"), ("clave third stroke", "==", "4&")),
                transform="rumba 3-2 clave",
            ),
            _ex(
                "son clave 2-3",
                (("clave", "==", "son 2-3"), _THIRD_ON_4),
                transform="son 2-3 clave",
            ),
        ),
        title="Clave: son and rumba, 3-2 and 2-3",
        what="A two-bar key pattern of five strokes, three on one side and two on the other, "
        "that the whole band lines up with. 3-2 starts with the three side, 2-3 with the two. "
        "The son and the rumba clave differ in one stroke: the rumba's third comes an 8th "
        "later, on 4& instead of 4, which puts the whole three side off the beat after the 1.",
        heard="salsa, son, rumba, Afro-Cuban jazz; the bossa nova clave in Brazilian music",
        count="son 3-2: 1 2& 4 | 2 3 (in 8ths: x..x..x. ..x.x...); rumba 3-2: 1 2& 4& | 2 3 "
        "(x..x...x ..x.x...); 2-3: the same two bars, the two side first",
        varied="the clave on the cross-stick of one bossa nova beat: the planner writes the "
        "bossa nova clave (the son clave with its last stroke an 8th late) from its style "
        "library, seeds tried until it plays 3-2; the son and rumba claves are that beat with "
        "its cross-stick lane rewritten, nothing else changed",
        marks="clave",
        seek=True,
        aliases=("son clave", "rumba clave", "3-2", "2-3", "3-2 clave", "2-3 clave", "bossa clave"),
        note="The planner's library holds the bossa nova clave only: the son and rumba "
        "examples are its beat with the clave lane rewritten by the lesson.",
        extra=(
            "son 3-2:   1 . . 2& . . 4 . | . . 2 . 3 . . .",
            "son 2-3:   . . 2 . 3 . . . | 1 . . 2& . . 4 .",
            "rumba 3-2: 1 . . 2& . . . 4& | . . 2 . 3 . . .",
            "rumba 2-3: . . 2 . 3 . . . | 1 . . 2& . . . 4&",
        ),
    ),
    _topic(
        "compound-meters",
        {"genre": "rock", "bpm": 100, "bars": 2},
        (
            _ex("4/4 (simple)", (("meter", "==", "4/4"),), meter="4/4"),
            _ex("6/8 (compound)", (("meter", "==", "6/8"),), meter="6/8"),
            _ex("12/8 (compound)", (("meter", "==", "12/8"),), meter="12/8"),
        ),
        title="Compound meters: 6/8 and 12/8",
        what="Beats split in three instead of two: 6/8 has two dotted-quarter beats of three "
        "8ths, 12/8 four of them. It rolls where 4/4 marches.",
        heard="slow blues and soul ballads (12/8), Irish jigs, Afro-Cuban 6/8, doo-wop",
        count="6/8: 1 & a 2 & a; 12/8: 1 & a 2 & a 3 & a 4 & a (against 4/4's 1 e & a)",
        varied="the planner's meter option (4/4, 6/8, 12/8), same genre, tempo and seed",
        marks="beats",
        aliases=(
            "compound meter",
            "compound",
            "6/8",
            "12/8",
            "six eight",
            "twelve eight",
            "meter",
            "time signature",
            "odd meter",
        ),
    ),
)

BY_NAME = MappingProxyType({t.name: t for t in TOPICS})


def _key(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


ALIASES = MappingProxyType(
    {_key(word): t.name for t in TOPICS for word in (t.name, t.title, *t.aliases)}
)


def resolve_topic(text: str) -> Topic:
    """The topic a learner means ("swing", "four on the floor", "3:2").

    Raises:
        RequestError: unknown, with the nearest names.
    """
    name = ALIASES.get(_key(text))
    if name is None:
        near = difflib.get_close_matches(_key(text), list(ALIASES), n=3, cutoff=0.5)
        hint = ", ".join(dict.fromkeys(ALIASES[n] for n in near)) if near else None
        known = "see `audiogen explain --list`"
        raise RequestError(
            f"no lesson on {text!r}: " + (f"did you mean {hint}? ({known})" if hint else known)
        )
    return BY_NAME[name]
