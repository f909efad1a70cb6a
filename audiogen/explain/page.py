"""The lesson page (index.html): the text, and each example's picture and player side by side,
every file embedded so the page works alone (opened from disk, mailed, uploaded)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audiogen.explain.lesson import Lesson

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;background:#18191d;color:#e1e4eb;margin:2em auto;
max-width:1400px;padding:0 1em}
pre{white-space:pre-wrap;background:#202228;padding:1em;border-radius:6px}
.examples{display:flex;flex-wrap:wrap;gap:1.5em}
.example{flex:1 1 420px;background:#202228;padding:1em;border-radius:6px}
.example img{max-width:100%;display:block;margin:.5em 0}
audio{width:100%} .fail{color:#f08070}
"""


def _data_uri(path: Path, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def lesson_page(lesson: Lesson, text: str, folder: Path, entries: list[dict[str, Any]]) -> str:
    """The page, from the files already written into ``folder``."""
    cards = []
    for entry in entries:
        name = entry["name"]
        measured = ", ".join(f"{k} {v}" for k, v in entry["measured"].items())
        fail = "" if entry["passed"] else ' <span class="fail">(does not show it)</span>'
        cards.append(
            f'<div class="example"><h3>{html.escape(entry["label"])}</h3>'
            f'<audio controls loop src="{_data_uri(folder / f"{name}.mp3", "audio/mpeg")}">'
            f"</audio>"
            f'<img alt="{html.escape(entry["label"])}" '
            f'src="{_data_uri(folder / f"{name}.png", "image/png")}">'
            f"<p>measured: {html.escape(measured)}{fail}<br>"
            f'files: <a href="{name}.wav">{name}.wav</a>, <a href="{name}.mid">{name}.mid</a>'
            f"</p></div>"
        )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(lesson.topic.title)} · audiogen explain</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(lesson.topic.title)}</h1><pre>{html.escape(text)}</pre>"
        f'<div class="examples">{"".join(cards)}</div></body></html>\n'
    )
