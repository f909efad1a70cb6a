"""What the `explain` front doors (the CLI, the server) call: a lesson written to a folder, or a
drum MIDI described and written beside its picture; each returns the text to show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from audiogen.explain.lesson import topic_list

if TYPE_CHECKING:
    from audiogen.pipeline import Session

__all__ = ["explain_beat", "explain_topic", "topic_list"]


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
    from audiogen.explain.describe import describe, description_marks, description_text
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
        save_grid(score, folder / "grid.png", title, description_marks(score, d))
    return text, out
