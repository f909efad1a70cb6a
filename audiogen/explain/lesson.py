"""A lesson: a topic's examples written by the planner (through a `Session`), measured on the
MIDI they are saved as, rendered short, and written as a folder with the lesson's text, each
example's audio, MIDI and annotated picture, and a page that plays them side by side."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.analysis.cycles import CLAVES, detect_clave
from audiogen.errors import AudiogenError
from audiogen.explain.measures import MEASURES, marks_for, passes
from audiogen.explain.topics import TOPICS, Example, Topic
from audiogen.score import DrumScore, Hit

if TYPE_CHECKING:
    from audiogen.pipeline import Session

SEEK_TRIES = 24  # seeds tried for an example its topic must find (a clave, ghost notes)
FLAT_VELOCITY = 100
WIDTH = 92  # columns of the lesson's text
# Every example at one loudness, low enough that no limiter flattens the accents it teaches.
LOUDNESS = "broadcast"


@dataclass(frozen=True)
class Played:
    """One example as written: its score, the seed that wrote it and what it measured."""

    example: Example
    score: DrumScore
    seed: int
    values: dict[str, Any]
    passed: bool


@dataclass(frozen=True)
class Lesson:
    topic: Topic
    seed: int
    examples: tuple[Played, ...]

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.examples)


def transform(score: DrumScore, name: str) -> DrumScore:
    """The same beat without one thing (its ghost notes, its dynamics, its backbeat, its kick
    on 2 and 4), or with its clave lane playing another clave
    (`audiogen.explain.topics.TRANSFORMS`)."""
    from audiogen.analysis.rhythm import BACKBEAT_VOICES, backbeat_positions, ghost_notes

    per_bar, beat = score.meter.ticks_per_bar, score.meter.beat_ticks
    if name == "without ghost notes":
        ghosts = set(ghost_notes(score))
        hits = tuple(h for h in score.hits if not (h.instrument == "snare" and h.tick in ghosts))
    elif name == "without the backbeat":  # snare, clap and rim taken off 2 and 4
        off = set(backbeat_positions(score.meter))
        hits = tuple(
            h
            for h in score.hits
            if not (h.instrument in BACKBEAT_VOICES and h.tick % per_bar in off)
        )
    elif name == "kick on 1 and 3":  # the kick's strokes on the even beats taken out
        hits = tuple(
            h
            for h in score.hits
            if not (h.instrument == "kick" and h.tick % per_bar % (2 * beat) == beat)
        )
    elif name == "without the fill and crash":
        hits = without_fills(score)
    elif name == "played flat":
        hits = tuple(dataclasses.replace(h, velocity=FLAT_VELOCITY) for h in score.hits)
    elif name.removesuffix(" clave") in CLAVES:
        hits = with_clave(score, name.removesuffix(" clave"))
    else:
        raise ValueError(f"unknown transform {name!r}")
    return score.replace(hits=hits)


def without_fills(score: DrumScore) -> tuple[Hit, ...]:
    """The beat's hits without the fills that lead into a crash (the way a drummer marks a new
    section, `rhythm.fill_into`): each such fill's half bar played as the bar before it plays
    that half, and the crash (splash, china) on the downbeat after it taken out; nothing else
    changes (a chorus that differs from the verse still differs)."""
    from audiogen.analysis.rhythm import crash_bars, fill_bars

    per_bar = score.meter.ticks_per_bar
    middle = per_bar // 2  # where a fill's half bar starts (`rhythm.second_half`)
    crashes = set(crash_bars(score))
    fills = {b for b in fill_bars(score) if b + 1 in crashes and b >= 1}
    cymbals = ("crash", "splash", "china")
    kept = [h for h in score.hits
            if not (h.tick // per_bar in fills and h.tick % per_bar >= middle)
            and not (h.tick // per_bar - 1 in fills and h.tick % per_bar == 0
                     and h.instrument in cymbals)]  # fmt: skip
    added = [dataclasses.replace(h, tick=h.tick + per_bar) for h in score.hits
             if h.tick // per_bar + 1 in fills and h.tick % per_bar >= middle]  # fmt: skip
    return tuple(sorted(kept + added, key=lambda h: (h.tick, h.instrument)))


def with_clave(score: DrumScore, clave: str) -> tuple[Hit, ...]:
    """The beat's hits with its clave lane (the instrument that plays a clave, else the rim)
    playing ``clave`` of `CLAVES` instead, in two-bar cycles of 8ths, at the lane's median
    loudness; nothing else changes."""
    found = detect_clave(score)
    lane = found[1] if found else "rim"
    old = sorted(h.velocity for h in score.hits if h.instrument == lane)
    velocity = old[len(old) // 2] if old else 100
    pulse, span = score.meter.ticks_per_bar // 8, 2 * score.meter.ticks_per_bar
    ticks = [c * span + s * pulse for c in range(-(-score.bars // 2)) for s in CLAVES[clave]]
    strokes = [Hit(t, lane, velocity) for t in ticks if t < score.total_ticks]
    return tuple(h for h in score.hits if h.instrument != lane) + tuple(strokes)


def measure(example: Example, score: DrumScore, first: dict[str, Any] | None) -> tuple[dict, bool]:
    """The example's measured values and whether every check passes."""
    values = {name: MEASURES[name](score) for name, _, _ in example.checks}
    ok = all(
        passes(values[name], op, want, (first or {}).get(name)) for name, op, want in example.checks
    )
    return values, ok


def plan_lesson(session: Session, topic: Topic, seed: int = 0) -> Lesson:
    """Write and measure a topic's examples, each from the planner with ``seed`` (for a topic
    that seeks, the first seed from ``seed`` on where every example passes its checks; all
    examples of a lesson come from one seed either way)."""
    played: tuple[Played, ...] = ()
    for s in range(seed, seed + (SEEK_TRIES if topic.seek else 1)):
        played = _plan_examples(session, topic, s)
        if all(p.passed for p in played):
            break
    return Lesson(topic, seed, played)


def _plan_examples(session: Session, topic: Topic, seed: int) -> tuple[Played, ...]:
    from audiogen.midi import round_trip
    from audiogen.request import PlanOptions

    played: list[Played] = []
    for example in topic.examples:
        first = played[0].values if played else None
        if example.transform is not None:
            score = transform(played[0].score, example.transform)
        else:
            options, _ = PlanOptions.create(**{**topic.base, **example.options})
            score = session.plan(options, seed)
            if example.humanize:
                score = session.humanize(score, example.humanize, seed)
        score = round_trip(score)
        values, ok = measure(example, score, first)
        played.append(Played(example, score, seed, values, ok))
    return tuple(played)


def lesson_text(lesson: Lesson) -> str:
    """The lesson in words, as printed and saved (lesson.txt)."""
    t = lesson.topic
    lines = [t.title, "=" * len(t.title), "", *_wrap(t.what), ""]
    lines += _wrap(f"Where you hear it: {t.heard}.") + _wrap(f"How to count it: {t.count}.")
    lines += [f"  {x}" for x in t.extra]
    if t.note:
        lines += ["", *_wrap(t.note)]
    lines += ["", *_wrap(f"The examples (planner beats; what differs: {t.varied}):")]
    for k, p in enumerate(lesson.examples, 1):
        measured = ", ".join(f"{name} {_shown(v)}" for name, v in p.values.items())
        verdict = "" if p.passed else "  [does not show it: measured otherwise]"
        lines.append(f"  {k}. {p.example.label}: {measured} (seed {p.seed}){verdict}")
    return "\n".join(lines) + "\n"


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_on_hyphens=False)


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def slug(label: str) -> str:
    keep = "".join(c if c.isalnum() else "-" for c in label.lower())
    return "-".join(p for p in keep.split("-") if p)[:40]


def write_lesson(
    session: Session, lesson: Lesson, out_dir: Path, force: bool = False, kit: str | None = None
) -> Path:
    """The lesson folder: lesson.txt, lesson.json, index.html and, per example, NN-name.wav,
    .mp3, .mid and .png (the picture annotated with the concept). Written whole or not at all.
    """
    from audiogen.explain.page import lesson_page
    from audiogen.export import staged_folder, write_audio
    from audiogen.midi import write_midi
    from audiogen.picture import save_grid
    from audiogen.planner.genres import GENRES
    from audiogen.request import RenderRequest

    text = lesson_text(lesson)
    entries = []
    with staged_folder(out_dir, force) as folder:
        for k, p in enumerate(lesson.examples, 1):
            name = f"{k}-{slug(p.example.label)}"
            genre = GENRES[str({**lesson.topic.base, **p.example.options}.get("genre", "rock"))]
            request = RenderRequest.create(
                {"kit": genre.kit, "mix": genre.mix}, kit=kit, seed=p.seed, loudness=LOUDNESS
            )
            beat = session.render(p.score, request)
            for fmt in ("wav", "mp3"):
                write_audio(folder / f"{name}.{fmt}", beat.mix, beat.sample_rate, fmt)
            write_midi(p.score, folder / f"{name}.mid")
            title = f"{k}. {p.example.label} · {p.score.bpm:g} bpm · {p.score.meter}"
            save_grid(
                p.score, folder / f"{name}.png", title, marks_for(lesson.topic.marks, p.score)
            )
            entries.append({"name": name, "label": p.example.label, "seed": p.seed,
                            "measured": p.values, "passed": p.passed})  # fmt: skip
        (folder / "lesson.txt").write_text(text, encoding="utf-8")
        manifest = {"topic": lesson.topic.name, "title": lesson.topic.title,
                    "varied": lesson.topic.varied, "examples": entries}  # fmt: skip
        (folder / "lesson.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        (folder / "index.html").write_text(lesson_page(lesson, text, folder, entries), "utf-8")
    return out_dir


def topic_list() -> str:
    """The topics, one a line with a few words a learner may type for each."""
    width = max(len(t.name) for t in TOPICS)
    return "\n".join(
        f"{t.name:<{width}}  {t.title}" + (f" (also: {', '.join(t.aliases[:3])})" if t.aliases
                                            else "")
        for t in TOPICS
    )  # fmt: skip


def check_topics() -> None:
    """Every topic's measures and transforms exist (a typo would only show when taught)."""
    from audiogen.explain.topics import OPS, TRANSFORMS

    for t in TOPICS:
        for e in t.examples:
            if e.transform is not None and e.transform not in TRANSFORMS:
                raise AudiogenError(f"{t.name}: unknown transform {e.transform!r}")
            for name, op, _ in e.checks:
                if name not in MEASURES or op not in OPS:
                    raise AudiogenError(f"{t.name}: unknown measure or check {name!r} {op!r}")
