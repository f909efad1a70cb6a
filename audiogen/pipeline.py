"""The one flow from a request to a `Beat`: plan → humanize → render → mix (export is `Beat.save`).

Every front door — the Python API, the CLI, batch recipes, the server — calls a `Session`. It
holds the loaded models, so a batch worker or a server loads each model once (as demucs'
``Separator`` holds its model), and reports progress through a callback instead of drawing it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from audiogen.beat import Beat
from audiogen.errors import AudiogenError
from audiogen.progress import ProgressCallback, report
from audiogen.request import GenerateRequest, PlanOptions, RenderRequest, VaryOptions, check_source
from audiogen.score import DrumScore, Hit

if TYPE_CHECKING:
    from audiogen.humanize import Humanizer
    from audiogen.kits import Kit
    from audiogen.planner.generate import Planner
    from audiogen.renderers.result import RenderResult

log = logging.getLogger(__name__)

GENERATE_STEPS = ("planning", "humanizing", "rendering stems", "mixing and loudness")
RENDER_STEPS = ("rendering stems", "mixing and loudness")


def read_score(source: str | Path | DrumScore, note_map: str = "auto") -> DrumScore:
    """A score given as a drum MIDI file (read once, here) or as a `DrumScore`."""
    if isinstance(source, DrumScore):
        return source
    from audiogen.midi import read_midi

    return read_midi(check_source(source), note_map=note_map)


class Session:
    """Loaded models and the pipeline that uses them, reusable across requests.

    Args:
        planner: a loaded planner (default: the shipped checkpoint, loaded when first needed).
        humanizer: a loaded humanizer (likewise).
        callback: called with a `Progress` event at every step of a request.
    """

    def __init__(
        self,
        planner: Planner | None = None,
        humanizer: Humanizer | None = None,
        callback: ProgressCallback | None = None,
    ) -> None:
        self._planner = planner
        self._humanizer = humanizer
        self.callback = callback

    @property
    def planner(self) -> Planner:
        if self._planner is None:
            from audiogen.planner.generate import Planner

            self._planner = Planner.load()
        return self._planner

    @property
    def humanizer(self) -> Humanizer:
        if self._humanizer is None:
            from audiogen.humanize import Humanizer

            self._humanizer = Humanizer.load()
        return self._humanizer

    # -- the flows ---------------------------------------------------------------------------

    def generate(self, request: GenerateRequest) -> Beat:
        """A new beat: planned, humanized, rendered and mixed as ``request`` says."""
        steps = self._steps(GENERATE_STEPS)
        seed, loop = request.render.seed, request.render.loop
        steps("planning")
        score = self.plan(request.plan, seed)
        steps("humanizing")
        score = self.humanize(score, request.plan.humanize, seed, loop=loop)
        beat = self._render(score, request.render, steps)
        return dataclasses.replace(beat, plan=request.plan.to_dict(), prompt=request.prompt)

    def vary(
        self,
        score: DrumScore,
        options: VaryOptions,
        request: RenderRequest,
        name: str | None = None,
    ) -> Beat:
        """Section variations of ``score`` and the song built from them, rendered.

        Args:
            score: the beat to vary.
            options: validated variation options (sections or form, amount, genre...).
            request: how to render the song.
            name: what the manifest calls the input (default: the score's source).

        Returns:
            The song as a `Beat`, with `Beat.parts` holding each section's variation.
        """
        steps = self._steps(("planning", *RENDER_STEPS))
        steps("planning")
        song, parts = self.vary_score(score, options, request.seed, loop=request.loop)
        beat = self._render(song, request, steps)
        plan = {"varied": name or score.provenance.source, **options.to_dict()}
        return dataclasses.replace(beat, plan=plan, parts=parts)

    def render(self, score: DrumScore, request: RenderRequest) -> Beat:
        """``score`` rendered with ``request``'s kit, mixed and brought to its loudness."""
        return self._render(score, request, self._steps(RENDER_STEPS))

    # -- the stages --------------------------------------------------------------------------

    def plan(self, options: PlanOptions, seed: int) -> DrumScore:
        """The planner stage alone: resolved `PlanOptions` → quantised `DrumScore`."""
        from audiogen.planner.arrange import parse_form
        from audiogen.planner.generate import PlanRequest
        from audiogen.score import Meter

        # `PlanOptions.create` fills each of these from the genre when it is not given.
        assert options.bpm is not None and options.bars is not None and options.meter is not None
        assert options.feel is not None and options.swing is not None
        req = PlanRequest(
            genre=options.genre, bpm=options.bpm, bars=options.bars,
            meter=Meter.parse(options.meter), feel=options.feel, swing=options.swing,
            energy=options.energy, syncopation=options.syncopation,
            polyrhythm=options.polyrhythm, poly_lane=options.on, seed=seed,
            temperature=options.temperature,
            form=parse_form(options.form) if options.form else None,
        )  # fmt: skip
        return self.planner.plan(req)

    def humanize(self, score: DrumScore, amount: float, seed: int, loop: bool = False) -> DrumScore:
        """The humanize stage: ``score`` played ``amount`` (0-1) of the way to how it was
        learned; the humanizer is loaded only when there is something to play."""
        from audiogen.humanize import check_amount, humanize

        amount = check_amount(amount)
        humanizer = self.humanizer if amount > 0 else None
        return humanize(score, amount, seed=seed, humanizer=humanizer, loop=loop)

    def vary_score(
        self, score: DrumScore, options: VaryOptions, seed: int, loop: bool = False
    ) -> tuple[DrumScore, dict[str, DrumScore]]:
        """The planning half of `vary`: the song's score (hits written anew humanized, the
        input's keeping their own timing and velocity; as a loop's, played on repeat, with
        ``loop``) and each section's bars as a score."""
        from audiogen.instruments import GROUP_OF
        from audiogen.planner.generate import core_bars, vary_lanes
        from audiogen.score import Section

        assert options.form is not None  # `VaryOptions.create` spells out the form
        song = self.planner.vary(score, options.form, options.amount, seed=seed,
                                 genre=options.genre, temperature=options.temperature)  # fmt: skip
        ticks = score.meter.ticks_per_bar
        first, core = core_bars(score)
        n = len(core)
        # The input's own hits, by their place in the core groove, keep how they were played.
        given = {(h.tick - first * ticks, h.instrument): h for h in score.hits
                 if first * ticks <= h.tick < (first + n) * ticks}  # fmt: skip
        source = f"vary:{score.provenance.source}"

        def played(
            s: DrumScore, kept: Callable[[Hit], bool], place: Callable[[Hit], tuple[int, str]],
            loop: bool = False,
        ) -> DrumScore:  # fmt: skip
            s = self.humanize(s, options.humanize, seed, loop=loop) if options.amount > 0 else s
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
        written = vary_lanes(options.amount)
        parts = {}
        for name, bars in song.variations.items():
            energy = next(s.energy for s in song.score.sections if s.name == name)
            hits = tuple(Hit(j * ticks + p, i, v) for j, bar in enumerate(bars) for p, i, v in bar)
            part = DrumScore(score.bpm, score.meter, n, hits, (Section(name, 0, n, energy),),
                             song.score.provenance)  # fmt: skip
            parts[name] = played(part, lambda h: GROUP_OF[h.instrument] not in written,
                                 lambda h: (h.tick, h.instrument))  # fmt: skip
        return whole, parts

    # -- render and mix ----------------------------------------------------------------------

    def _render(
        self, score: DrumScore, request: RenderRequest, steps: Callable[[str], None]
    ) -> Beat:
        from audiogen.kits import lead_kit, load_kit
        from audiogen.loop import loop_length, mix_loop
        from audiogen.mix import (
            loudness_ceiling,
            loudness_shortfall,
            mix_stems,
            resolve_loudness,
            warn_about_loudness,
        )  # fmt: skip
        from audiogen.renderers.sampler import Sampler

        steps("rendering stems")
        kit = load_kit(lead_kit(request.kit), request.preset_name)  # a blend's heaviest kit
        dry = _render_neural(score, kit, request) if request.renderer == "neural" else None
        if dry is None:
            request = dataclasses.replace(request, renderer="sample")
            # A loop is played as one pass of itself: early hits sound at its end, and the next
            # pass's first hat stroke chokes an open hat still ringing.
            passes = loop_length(score, request.sample_rate).samples if request.loop else None
            dry = Sampler(kit, request.sample_rate).render(
                score, seed=request.seed, loop_samples=passes
            )
        steps("mixing and loudness")
        assert request.mix is not None  # `RenderRequest.create` takes the kit's mix by default
        name, target_lufs = resolve_loudness(request.loudness)
        ceiling, shortfall = loudness_ceiling(name), loudness_shortfall(name)
        loop = None
        if request.loop:
            loop = mix_loop(
                dry.stems, score, request.sample_rate, request.mix, target_lufs, ceiling, shortfall
            )
            mixed = loop.mixed
        else:
            # The render's stems are handed over: the mix lets each go once it is processed.
            mixed = mix_stems(
                dry.stems, request.sample_rate, request.mix, target_lufs, ceiling,
                fade_in_s=request.fade_in_s, fade_out_s=request.fade_out_s,
                max_shortfall_lu=shortfall, release_stems=True, score=score,
            )  # fmt: skip
        warn_about_loudness(mixed.loudness)
        steps("done")
        return Beat(
            request=request,
            score=score,
            stems=dict(mixed.stems),
            mix=mixed.mix,
            sample_rate=request.sample_rate,
            loudness=mixed.loudness,
            kit_files=dry.files_used,
            substitutions=dry.substitutions,
            dropped=dry.dropped,
            loop=loop.length if loop is not None else None,
            seam_error=loop.seam_error if loop is not None else None,
            models=dry.models or None,
        )

    def _steps(self, names: tuple[str, ...]) -> Callable[[str], None]:
        """A reporter for one request's named steps: each call says which one starts now."""
        done = [0]

        def step(name: str) -> None:
            report(self.callback, name, done[0], len(names))
            done[0] = min(done[0] + 1, len(names))

        return step


def _render_neural(score: DrumScore, kit: Kit, request: RenderRequest) -> RenderResult | None:
    """The neural renderer's stems, or None where it cannot play this kit (no trained
    checkpoint ships, or the kit is not one it was trained on): the sampler renders instead,
    and one line says so. Until its benchmark figures hold it is experimental, and says that."""
    from audiogen.kits import parse_blend
    from audiogen.renderers.neural import SAMPLER_HINT, load_shipped, render_neural

    blend = parse_blend(request.kit) or {kit.name: 1.0}
    instead = "the sampler instead"
    if len(blend) > 1:
        instead += f" (kit {kit.name}, the blend's heaviest)"
    try:
        model = load_shipped()
    except AudiogenError as exc:
        reason = str(exc).removesuffix(SAMPLER_HINT).rstrip("; ")
        log.warning("%s: rendered with %s", reason, instead)
        return None
    unknown = [name for name in blend if name not in model.config.kits]
    if unknown:
        log.warning(
            "the neural renderer was not trained on kit %s (it knows %s): rendered with %s",
            ", ".join(unknown), ", ".join(model.config.kits), instead,
        )  # fmt: skip
        return None
    log.warning(
        "the neural renderer is experimental: it plays the score's hits and dynamics, but sounds "
        "further from the kit than its target (BENCHMARKS.md, 'Neural renderer')"
    )
    return render_neural(score, blend, request.sample_rate, seed=request.seed)
