"""The Python API: `generate`, `vary` and `render`, each one call into the pipeline.

>>> beat = audiogen.generate(genre="lofi", bars=16, seed=7)
>>> beat = audiogen.render("beat.mid", kit="808", loudness="podcast")
>>> beat.save("out/my-beat")

For many requests, pass one `audiogen.Session` to each call: it keeps the models loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.beat import Beat
from audiogen.pipeline import Session, read_score
from audiogen.request import RenderRequest, resolve_generation, split_vary_options
from audiogen.score import DrumScore

if TYPE_CHECKING:
    from audiogen.planner.generate import Planner
    from audiogen.progress import ProgressCallback


def render(
    source: str | Path | DrumScore,
    request: RenderRequest | None = None,
    callback: ProgressCallback | None = None,
    session: Session | None = None,
    **options: Any,
) -> Beat:
    """Render a drum MIDI file or a `DrumScore` with a kit, mix it and normalise its loudness.

    Args:
        source: path to a drum MIDI file, or a score.
        request: a validated request; or pass its fields as keyword options
            (kit, mix, loudness, sample_rate, formats, seed, renderer, note_map, ...).
        callback: called with a `audiogen.progress.Progress` at each step.
        session: a `Session` to run in (its models and callback) instead of a new one.

    Returns:
        The `Beat`; nothing is written until `Beat.save`.
    """
    if request is None:
        request = RenderRequest.create(**options)
    elif options:
        raise TypeError("pass either a request or keyword options, not both")
    session = session or Session(callback=callback)
    return session.render(read_score(source, request.note_map), request)


def generate(
    prompt: str | None = None,
    planner: Planner | None = None,
    callback: ProgressCallback | None = None,
    session: Session | None = None,
    **options: Any,
) -> Beat:
    """Write a new beat with the planner and render it.

    >>> beat = audiogen.generate("dark, bouncy trap beat around 140 bpm", bars=4)

    Args:
        prompt: what to play, in words (see `audiogen.prompt`); options given here win over it.
        planner: a loaded planner to reuse across calls (default: the shipped checkpoint).
        callback: called with a `audiogen.progress.Progress` at each step.
        session: a `Session` to run in (its models and callback) instead of a new one.
        **options: planner controls (genre, bpm, bars, energy, feel, swing, syncopation,
            polyrhythm, on, meter, temperature), the humanize amount (0 quantised to 1, the
            default) and render options (kit, mix, loudness, sample_rate, formats, seed); unset
            ones take the genre's defaults.

    Returns:
        The rendered `Beat`, its score written by the planner.
    """
    session = session or Session(planner, callback=callback)
    return session.generate(resolve_generation(prompt, options))


def vary(
    source: str | Path | DrumScore,
    planner: Planner | None = None,
    callback: ProgressCallback | None = None,
    session: Session | None = None,
    **options: Any,
) -> Beat:
    """Section variations of a drum beat and the song built from them, rendered.

    >>> beat = audiogen.vary("my-beat.mid", sections="verse,chorus,bridge", amount=0.4)
    >>> beat.parts["chorus"]  # each section's bars as a score; `save` writes them as MIDI

    Args:
        source: a drum MIDI file or a score.
        planner: a loaded planner to reuse (default: the shipped checkpoint).
        callback: called with a `audiogen.progress.Progress` at each step.
        session: a `Session` to run in (its models and callback) instead of a new one.
        **options: sections, form, amount (0 keeps the input, 1 keeps only its kick), genre,
            temperature, humanize (for the hits written anew), and render options (kit, mix,
            loudness, sample_rate, formats, seed, renderer, note_map).

    Returns:
        The song as a `Beat`, with `Beat.parts` holding each section's variation.
    """
    opts, request = split_vary_options(options)
    name = None if isinstance(source, DrumScore) else Path(source).name
    score = read_score(source, request.note_map)
    session = session or Session(planner, callback=callback)
    return session.vary(score, opts, request, name=name)
