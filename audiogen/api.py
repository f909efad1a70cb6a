"""The Python API: `render` a drum MIDI (or a `DrumScore`) into a `Beat` you can inspect and save.

>>> beat = audiogen.render("beat.mid", kit="808", loudness="podcast")
>>> beat.save("out/my-beat")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiogen.loop import LoopLength, loop_length
from audiogen.mix import LoudnessReport
from audiogen.request import RenderRequest, check_source
from audiogen.score import DrumScore

if TYPE_CHECKING:
    from audiogen.prompt import Resolution


@dataclass(frozen=True)
class Beat:
    """A rendered beat: the score, stereo stems after the mix, the master, and what went in."""

    request: RenderRequest
    score: DrumScore
    stems: dict[str, np.ndarray]  # group -> (2, n) float32, mixed and at the master's gain
    mix: np.ndarray  # (2, n) float32
    sample_rate: int
    loudness: LoudnessReport
    kit_files: tuple[Path, ...]
    substitutions: dict[str, str]
    dropped: dict[str, int]
    loop: LoopLength | None = None  # set when the beat is a seamless loop
    seam_error: float | None = None  # see `audiogen.loop.LoopResult`
    plan: dict[str, Any] | None = None  # the planner's resolved options, for generated beats
    prompt: Resolution | None = None  # the sentence it was asked for in, if any
    parts: dict[str, DrumScore] | None = None  # a varied beat's sections, written as MIDI

    @property
    def duration_s(self) -> float:
        return self.mix.shape[1] / self.sample_rate

    def save(self, out_dir: str | Path, force: bool = False) -> Path:
        """Write mix, stems, MIDI and manifest to ``out_dir`` atomically (see `audiogen.export`)."""
        from audiogen.export import save_beat

        return save_beat(self, Path(out_dir), force=force)


def render(
    source: str | Path | DrumScore,
    request: RenderRequest | None = None,
    progress: bool | None = False,
    **options: Any,
) -> Beat:
    """Render a drum MIDI file or a `DrumScore` with a kit, mix it and normalise its loudness.

    Args:
        source: path to a drum MIDI file, or a score.
        request: a validated request; or pass its fields as keyword options
            (kit, mix, loudness, sample_rate, formats, seed, renderer, note_map).
        progress: show a progress bar on stderr (None: only on a terminal).

    Returns:
        The `Beat`; nothing is written until `Beat.save`.
    """
    from audiogen.kits import load_kit
    from audiogen.loop import mix_loop
    from audiogen.midi import read_midi
    from audiogen.mix import loudness_ceiling, mix_stems, resolve_loudness
    from audiogen.mix.loudness import warn_if_flattened
    from audiogen.progress import steps
    from audiogen.render import Sampler

    if request is None:
        request = RenderRequest.create(**options)
    elif options:
        raise TypeError("pass either a request or keyword options, not both")
    with steps(3, "reading score", enabled=progress) as bar:
        if isinstance(source, DrumScore):
            score = source
        else:
            score = read_midi(check_source(source), note_map=request.note_map)
        bar.advance("rendering stems")
        kit = load_kit(request.kit)
        if request.renderer == "neural":
            from audiogen.render.neural import render_neural

            dry = render_neural(score, kit, request.sample_rate, seed=request.seed)
        else:
            # A loop is played as one pass of itself: early hits sound at its end, and the next
            # pass's first hat stroke chokes an open hat still ringing.
            passes = loop_length(score, request.sample_rate).samples if request.loop else None
            dry = Sampler(kit, request.sample_rate).render(
                score, seed=request.seed, loop_samples=passes
            )
        bar.advance("mixing and loudness")
        name, target_lufs = resolve_loudness(request.loudness)
        ceiling = loudness_ceiling(name)
        loop = None
        if request.loop:
            loop = mix_loop(
                dry.stems, score, request.sample_rate, request.mix, target_lufs, ceiling
            )
            mixed = loop.mixed
        else:
            mixed = mix_stems(
                dry.stems, request.sample_rate, request.mix, target_lufs, ceiling,
                fade_in_s=request.fade_in_s, fade_out_s=request.fade_out_s,
            )  # fmt: skip
        warn_if_flattened(mixed.loudness)
        bar.advance("done")
    return Beat(
        request=request,
        score=score,
        stems=mixed.stems,
        mix=mixed.mix,
        sample_rate=request.sample_rate,
        loudness=mixed.loudness,
        kit_files=dry.files_used,
        substitutions=dry.substitutions,
        dropped=dry.dropped,
        loop=loop.length if loop is not None else None,
        seam_error=loop.seam_error if loop is not None else None,
    )


def generate(
    prompt: str | None = None,
    planner: Any = None,
    progress: bool | None = False,
    **options: Any,
) -> Beat:
    """Write a new beat with the planner and render it.

    >>> beat = audiogen.generate("dark, bouncy trap beat around 140 bpm", bars=4)

    Args:
        prompt: what to play, in words (see `audiogen.prompt`); options given here win over it.
        planner: a loaded `audiogen.planner.generate.Planner` to reuse across calls (default:
            the shipped checkpoint, loaded now).
        progress: show a progress bar on stderr (None: only on a terminal).
        **options: planner controls (genre, bpm, bars, energy, feel, swing, syncopation,
            polyrhythm, on, meter, temperature), the humanize amount (0 quantised to 1, the
            default) and render options (kit, mix, loudness, sample_rate, formats, seed); unset
            ones take the genre's defaults.

    Returns:
        The rendered `Beat`, its score written by the planner.
    """
    from audiogen.humanize import humanize

    plan_opts, request, resolution = resolve_generation(prompt, options)
    score = plan_score(plan_opts, request.seed, planner)
    score = humanize(score, plan_opts.humanize, seed=request.seed, loop=request.loop)
    beat = render(score, request=request, progress=progress)
    return dataclasses.replace(beat, plan=plan_opts.to_dict(), prompt=resolution)


def vary(
    source: str | Path | DrumScore,
    planner: Any = None,
    progress: bool | None = False,
    **options: Any,
) -> Beat:
    """Section variations of a drum beat and the song built from them, rendered.

    >>> beat = audiogen.vary("my-beat.mid", sections="verse,chorus,bridge", amount=0.4)
    >>> beat.parts["chorus"]  # each section's bars as a score; `save` writes them as MIDI

    Args:
        source: a drum MIDI file or a score.
        planner: a loaded planner to reuse (default: the shipped checkpoint).
        progress: show a progress bar on stderr (None: only on a terminal).
        **options: sections, form, amount (0 keeps the input, 1 keeps only its kick), genre,
            temperature, humanize (for the hits written anew), and render options (kit, mix,
            loudness, sample_rate, formats, seed, renderer, note_map).

    Returns:
        The song as a `Beat`, with `Beat.parts` holding each section's variation.
    """
    from audiogen.request import VaryOptions, vary_fields

    names = {f.name for f in vary_fields()}
    options = {k: v for k, v in options.items() if v is not None}
    opts = VaryOptions.create(**{k: v for k, v in options.items() if k in names})
    request = RenderRequest.create(**{k: v for k, v in options.items() if k not in names})
    return render_variation(source, opts, request, planner, progress)


def render_variation(
    source: str | Path | DrumScore, opts: Any, request: RenderRequest, planner: Any = None,
    progress: bool | None = False,
) -> Beat:  # fmt: skip
    """`vary` with validated options (the CLI's entry)."""
    from audiogen.midi import read_midi

    score = source if isinstance(source, DrumScore) else read_midi(
        check_source(source), note_map=request.note_map
    )  # fmt: skip
    song, parts = vary_score(score, opts, request.seed, planner, loop=request.loop)
    beat = render(song, request=request, progress=progress)
    name = score.provenance.source if isinstance(source, DrumScore) else Path(source).name
    plan = {"varied": name, **opts.to_dict()}
    return dataclasses.replace(beat, plan=plan, parts=parts)


def vary_score(
    score: DrumScore, opts: Any, seed: int, planner: Any = None, loop: bool = False
) -> tuple[DrumScore, dict[str, DrumScore]]:
    """The planning half of `vary`: the song's score (hits written anew humanized, the
    input's keeping their own timing and velocity; as a loop's, played on repeat, with
    ``loop``) and each section's bars as a score."""
    from audiogen.humanize import humanize
    from audiogen.instruments import GROUP_OF
    from audiogen.planner.generate import Planner, core_bars, vary_lanes
    from audiogen.score import Hit, Section

    if planner is None:
        planner = Planner.load()
    song = planner.vary(score, opts.form, opts.amount, seed=seed, genre=opts.genre,
                        temperature=opts.temperature)  # fmt: skip
    ticks = score.meter.ticks_per_bar
    first, core = core_bars(score)
    n = len(core)
    # The input's own hits, by their place in the core groove, keep how they were played.
    given = {(h.tick - first * ticks, h.instrument): h for h in score.hits
             if first * ticks <= h.tick < (first + n) * ticks}  # fmt: skip
    source = f"vary:{score.provenance.source}"

    def played(s: DrumScore, kept, place, loop: bool = False) -> DrumScore:
        s = humanize(s, opts.humanize, seed=seed, loop=loop) if opts.amount > 0 else s
        hits = []
        for h in s.hits:
            old = given.get(place(h)) if kept(h) else None
            hits.append(Hit(h.tick, h.instrument, old.velocity, old.offset_ms) if old else h)
        # The humanizer's credit (in the provenance it returns) stays with the new source.
        provenance = dataclasses.replace(s.provenance, source=source)
        return dataclasses.replace(s, hits=tuple(hits), provenance=provenance)

    starts = {b: s.first_bar for s in song.score.sections
              for b in range(s.first_bar, s.first_bar + s.bars)}  # fmt: skip

    def song_place(h: Hit) -> tuple[int, str]:
        bar = h.tick // ticks
        return ((bar - starts[bar]) % n) * ticks + h.tick % ticks, h.instrument

    whole = played(song.score, lambda h: (h.tick, h.instrument) in song.kept, song_place, loop)
    written = vary_lanes(opts.amount)
    parts = {}
    for name, bars in song.variations.items():
        energy = next(s.energy for s in song.score.sections if s.name == name)
        hits = tuple(Hit(j * ticks + p, i, v) for j, bar in enumerate(bars) for p, i, v in bar)
        part = DrumScore(score.bpm, score.meter, n, hits, (Section(name, 0, n, energy),),
                         song.score.provenance)  # fmt: skip
        parts[name] = played(part, lambda h: GROUP_OF[h.instrument] not in written,
                             lambda h: (h.tick, h.instrument))  # fmt: skip
    return whole, parts


def resolve_generation(
    prompt: str | None, options: dict[str, Any]
) -> tuple[Any, RenderRequest, Resolution | None]:
    """The one place a generate request is resolved, for the CLI, the API and batch recipes.

    Precedence, lowest first: the genre's defaults (kit, mix), what the sentence's moods ask for,
    the use preset (from the sentence or given), then options set explicitly (None is unset).

    Returns:
        The resolved `PlanOptions`, the `RenderRequest` and the sentence's `Resolution` (None
        without a prompt).
    """
    from audiogen.prompt import parse_prompt
    from audiogen.request import PlanOptions, plan_fields

    options = {k: v for k, v in options.items() if v is not None}
    resolution = parse_prompt(prompt) if prompt is not None else None
    plan_names = {f.name for f in plan_fields()}
    worded = dict(resolution.options) if resolution is not None else {}
    moods = {k: worded.pop(k) for k in ("kit", "mix") if k in worded}
    merged = {**worded, **options}
    plan_values = {k: v for k, v in merged.items() if k in plan_names}
    render_values = {k: v for k, v in merged.items() if k not in plan_names}
    plan_opts, genre = PlanOptions.create(**plan_values)
    fallback = {"kit": genre.kit, "mix": genre.mix, **moods}
    request = RenderRequest.create(fallback=fallback, **render_values)
    if request.loop and options.get("form") is None and plan_opts.form is not None:
        plan_opts = dataclasses.replace(plan_opts, form=None)  # a loop has no intro or outro
    return plan_opts, request, resolution


def plan_score(options: Any, seed: int, planner: Any = None) -> DrumScore:
    """The planner stage alone: resolved `PlanOptions` → quantised `DrumScore`."""
    from audiogen.planner.arrange import parse_form
    from audiogen.planner.generate import Planner, PlanRequest
    from audiogen.score import Meter

    if planner is None:
        planner = Planner.load()
    req = PlanRequest(
        genre=options.genre, bpm=options.bpm, bars=options.bars, meter=Meter.parse(options.meter),
        feel=options.feel, swing=options.swing, energy=options.energy,
        syncopation=options.syncopation, polyrhythm=options.polyrhythm, poly_lane=options.on,
        seed=seed, temperature=options.temperature,
        form=parse_form(options.form) if options.form else None,
    )  # fmt: skip
    return planner.plan(req)
