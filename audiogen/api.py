"""The Python API: `render` a drum MIDI (or a `DrumScore`) into a `Beat` you can inspect and save.

>>> beat = audiogen.render("beat.mid", kit="808", loudness="podcast")
>>> beat.save("out/my-beat")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiogen.mix import LoudnessReport
from audiogen.request import RenderRequest, check_source
from audiogen.score import DrumScore


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
            (kit, mix, loudness, sample_rate, formats, seed, note_map).
        progress: show a progress bar on stderr (None: only on a terminal).

    Returns:
        The `Beat`; nothing is written until `Beat.save`.
    """
    from audiogen.kits import load_kit
    from audiogen.midi import read_midi
    from audiogen.mix import mix_stems, resolve_loudness
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
        dry = Sampler(kit, request.sample_rate).render(score, seed=request.seed)
        bar.advance("mixing and loudness")
        _, target_lufs = resolve_loudness(request.loudness)
        mixed = mix_stems(
            dry.stems, request.sample_rate, preset=request.mix, target_lufs=target_lufs
        )
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
    )


def generate(
    planner: Any = None,
    progress: bool | None = False,
    **options: Any,
) -> Beat:
    """Write a new beat with the planner and render it.

    Args:
        planner: a loaded `audiogen.planner.generate.Planner` to reuse across calls (default:
            the shipped checkpoint, loaded now).
        progress: show a progress bar on stderr (None: only on a terminal).
        **options: planner controls (genre, bpm, bars, energy, feel, swing, syncopation,
            polyrhythm, on, meter, temperature) and render options (kit, mix, loudness,
            sample_rate, formats, seed); unset ones take the genre's defaults.

    Returns:
        The rendered `Beat`, its score written by the planner.
    """
    from audiogen.request import PlanOptions, plan_fields

    plan_names = {f.name for f in plan_fields()}
    plan_values = {k: v for k, v in options.items() if k in plan_names}
    render_values = {k: v for k, v in options.items() if k not in plan_names}
    plan_opts, genre = PlanOptions.create(**plan_values)
    render_values.setdefault("kit", genre.kit)
    render_values.setdefault("mix", genre.mix)
    request = RenderRequest.create(**render_values)
    score = plan_score(plan_opts, request.seed, planner)
    return render(score, request=request, progress=progress)


def plan_score(options: Any, seed: int, planner: Any = None) -> DrumScore:
    """The planner stage alone: resolved `PlanOptions` → quantised `DrumScore`."""
    from audiogen.planner.generate import Planner, PlanRequest
    from audiogen.score import Meter

    if planner is None:
        planner = Planner.load()
    req = PlanRequest(
        genre=options.genre, bpm=options.bpm, bars=options.bars, meter=Meter.parse(options.meter),
        feel=options.feel, swing=options.swing, energy=options.energy,
        syncopation=options.syncopation, polyrhythm=options.polyrhythm, poly_lane=options.on,
        seed=seed, temperature=options.temperature,
    )  # fmt: skip
    return planner.plan(req)
