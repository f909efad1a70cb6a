"""What the `explain` front doors (the CLI, the server) call: a lesson written to a folder, or a
drum MIDI described and written beside its picture; each returns the text to show."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.explain.lesson import topic_list

if TYPE_CHECKING:
    from audiogen.pipeline import Session

__all__ = ["ExplainOptions", "explain_beat", "explain_topic", "lesson_answer", "topic_list"]


@dataclass(frozen=True)
class ExplainOptions:
    """What a lesson is asked for by (the API's body; the CLI's positional words and --seed)."""

    topic: str | None = field(default=None, metadata={
        "help": 'the concept, in a learner\'s words: "swing", "backbeat", "four on the floor", '
        '"3:2", "clave"... (GET /v1/explain lists them)', "metavar": "TOPIC"})  # fmt: skip
    seed: int = field(default=0, metadata={"help": "planner seed for the examples",
                                           "metavar": "N"})  # fmt: skip


def lesson_answer(session: Session, options: dict[str, Any]) -> dict[str, Any]:
    """A lesson planned and measured, as JSON for the API: its text and, per example, what it
    measured and the `POST /v1/beats` body that writes the same beat (for an example the
    planner writes as asked; a changed beat, such as one played flat, has none)."""
    from audiogen.errors import RequestError
    from audiogen.explain.lesson import lesson_text, plan_lesson
    from audiogen.explain.topics import resolve_topic
    from audiogen.request import RenderRequest, _known_values

    values = _known_values(ExplainOptions, dict(options))
    if not isinstance(values.get("topic"), str):
        raise RequestError(
            "topic: name one, such as swing or backbeat (GET /v1/explain lists them)"
        )
    topic = resolve_topic(values["topic"])
    seed = RenderRequest.create(seed=values.get("seed", 0)).seed
    lesson = plan_lesson(session, topic, seed)
    examples = []
    for p in lesson.examples:
        body = None
        if p.example.transform is None:
            body = {**topic.base, **p.example.options, "humanize": p.example.humanize,
                    "seed": p.seed}  # fmt: skip
        examples.append({"label": p.example.label, "seed": p.seed, "measured": p.values,
                         "passed": p.passed, "beat_request": body})  # fmt: skip
    return {"topic": topic.name, "title": topic.title, "text": lesson_text(lesson),
            "varied": topic.varied, "examples": examples}  # fmt: skip


def explain_topic(
    session: Session, text: str, out: Path | None, force: bool = False, seed: object = 0,
    kit: str | None = None,
) -> tuple[str, Path]:  # fmt: skip
    """Write the lesson on ``text`` (a topic or an alias) to ``out`` (default:
    out/explain-<topic>). Returns the lesson's text and the folder."""
    from audiogen.explain.lesson import lesson_text, plan_lesson, write_lesson
    from audiogen.explain.topics import resolve_topic
    from audiogen.export import check_writable
    from audiogen.request import RenderRequest

    topic = resolve_topic(text)
    checked = RenderRequest.create(seed=seed, kit=kit)  # one line on a bad seed or kit
    out = out or Path("out") / f"explain-{topic.name}"
    check_writable(out, force)
    lesson = plan_lesson(session, topic, checked.seed)
    write_lesson(session, lesson, out, force, kit=kit)
    return lesson_text(lesson), out


def explain_beat(
    session: Session, source: str | Path, out: Path | None, force: bool = False
) -> tuple[str, Path]:
    """Describe a drum MIDI file: description.txt, description.json and grid.png in ``out``
    (default: out/<name>-explained). Returns the description and the folder."""
    from audiogen.explain.describe import (
        describe,
        description_marks,
        description_text,
        on_grid,
    )
    from audiogen.export import check_writable, staged_folder
    from audiogen.midi import read_midi
    from audiogen.picture import save_grid
    from audiogen.request import check_source

    path = check_source(source)
    out = out or Path("out") / f"{path.stem}-explained"
    check_writable(out, force)
    score = read_midi(path)
    d = describe(score)
    text = description_text(d, path.name)
    with staged_folder(out, force) as folder:
        (folder / "description.txt").write_text(text, encoding="utf-8")
        (folder / "description.json").write_text(json.dumps(d.to_dict(), indent=2) + "\n",
                                                 encoding="utf-8")  # fmt: skip
        title = f"{path.name} · {score.bpm:g} bpm · {score.meter}"
        grid = on_grid(score)
        save_grid(grid, folder / "grid.png", title, description_marks(grid, d))
    return text, out
