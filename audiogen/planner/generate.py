"""Writing a beat with the trained planner: `Planner` loads a checkpoint and writes a groove
(`plan`), a song in a form (`song`), or section variations of a given beat (`vary`). The parts
live beside it: the request and its controls (`controls`), token decoding (`decode`), choosing
among versions of a bar (`search`) and arranging bars into a beat or a song (`song`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from audiogen.errors import AudiogenError, RequestError
from audiogen.planner.arrange import parse_form
from audiogen.planner.bars import BarHit
from audiogen.planner.checkpoint import WEIGHTS, load_bar_index, load_checkpoint
from audiogen.planner.controls import POLYRHYTHMS, PlanRequest, cross_rhythm
from audiogen.planner.decode import Decoder, Job, Row, decoding
from audiogen.planner.feel import estimate_feel
from audiogen.planner.search import Search
from audiogen.planner.song import (
    CORE_BARS,
    REGENERATED,
    Song,
    core_bars,
    vary_lanes,
    write_groove,
    write_song,
)
from audiogen.planner.steps import Steps
from audiogen.planner.tokens import MAX_BAR_TICKS
from audiogen.score import FEELS, DrumScore, Meter

__all__ = ["POLYRHYTHMS", "PlanRequest", "Planner", "Song", "core_bars", "cross_rhythm",
           "vary_lanes"]  # fmt: skip
# Context kept free, beyond the two given bars' size, for the bar being written: what a vary
# of bars near the limit was measured to need (its new lanes can outgrow the input's).
WRITE_ROOM = 64


class Planner:
    """A loaded planner checkpoint. `plan` turns a `PlanRequest` into a quantised `DrumScore`."""

    def __init__(self, folder: Path) -> None:
        model, vocab, labeller, self.meta = load_checkpoint(folder)
        history = self.meta["history"]
        self.version = f"planner@{history[-1]['step'] if history else 0}"
        decoder = Decoder(model, vocab, labeller, Steps(model, folder))
        self.search = Search(decoder, load_bar_index(folder))  # the training bars' fingerprints

    @classmethod
    def load(cls, folder: Path | None = None) -> Planner:
        """The shipped checkpoint (``checkpoints/planner``) or another folder."""
        from audiogen.paths import checkpoints_dir

        folder = folder or checkpoints_dir() / "planner"
        if not (folder / WEIGHTS).is_file():
            raise AudiogenError(
                f"no planner checkpoint in {folder}: train one with pipelines/train_planner.py"
            )
        return cls(folder)

    @property
    def seen(self) -> frozenset[int]:
        """The fingerprints of the training bars, which the planner does not hand back."""
        return self.search.seen

    def plan(self, req: PlanRequest) -> DrumScore:
        """Write the score; deterministic for a given request (seed included)."""
        with decoding():
            if req.form:
                return self._song(req).score
            return write_groove(self.search, req, self.version)

    def song(self, req: PlanRequest) -> Song:
        """Write a song in ``req.form``: a core groove of CORE_BARS, then each distinct
        section as a variation of it (kick and snare kept; hats, cymbals, toms and percussion
        written again at the section's energy), fills ending every section but the last, and a
        crash on each section's downbeat."""
        with decoding():
            return self._song(req)

    def vary(self, score: DrumScore, form: str, amount: float, seed: int = 0,
             genre: str | None = None, temperature: float = 0.9) -> Song:  # fmt: skip
        """Section variations of a given beat, and the song built from them; ``form`` is a
        spec for `parse_form` (sections without an energy follow the curve around the input's
        own energy).

        The core groove is the input's most repeated pair of bars. ``amount`` 0 keeps it as it
        is; above 0 the model writes percussion and toms anew, from 0.3 cymbals too, from 0.55
        hats, from 0.85 the snare; the kick always stays. Of each bar's versions, low amounts
        keep the one nearest the input, high ones the one furthest from it; sampling runs
        hotter as the amount rises. Fills come from 0 up (half a bar below 0.5).
        """
        if score.meter.ticks_per_bar > MAX_BAR_TICKS:
            raise RequestError(f"meter {score.meter}: bars longer than 12/8 cannot be varied")
        core = core_bars(score)[1]
        feel, swing = estimate_feel(score)
        if feel not in FEELS:
            feel = "straight"
        energy = float(np.mean([self.energy_rank([BarHit(p, i, v) for p, i, v in b], score.meter)
                                for b in core]))  # fmt: skip
        sections = parse_form(form, energy)
        req = PlanRequest(
            genre=genre or "none", bpm=score.bpm, bars=sum(s.bars for s in sections),
            meter=score.meter, feel=feel, swing=swing if feel.startswith("swing") else 0.5,
            energy=energy, seed=seed, temperature=temperature * (0.8 + 0.4 * amount),
            form=sections,
        )  # fmt: skip
        with decoding():
            gen = torch.Generator().manual_seed(seed)
            words = [self.search.decoder.bar_words(req, bar) for bar in core]
            _check_room(words, core, self.search.decoder.model.cfg.max_len)
            return write_song(self.search, req, gen, core, words, vary_lanes(amount),
                              fills=amount > 0, half_fills=amount < 0.5,
                              pull=2 * (1 - 2 * amount), version=self.version)  # fmt: skip

    def energy_rank(self, bar: list[BarHit], meter: Meter) -> float:
        """Where a bar's energy lies among the training bars', 0 (sparsest) to 1."""
        return self.search.energy_rank(bar, meter)

    def _song(self, req: PlanRequest) -> Song:
        if not req.form:
            raise ValueError("a song needs a form")
        gen = torch.Generator().manual_seed(req.seed)
        context = self.search.decoder.context
        core: list[Row] = []
        for _ in range(min(CORE_BARS, req.bars)):
            cache = context([r.words() for r in core])
            core.append(self.search.bar(req, [], cache, gen, Job(energy=req.energy)))
        return write_song(self.search, req, gen, [r.hits for r in core],
                          [r.words() for r in core], frozenset(REGENERATED),
                          version=self.version)  # fmt: skip


def _check_room(words: list[list[int]], core: list[list], max_len: int) -> None:
    """Refuse, before any writing, a beat too dense to vary: the model's context holds two
    given bars and the one it writes (kept lanes and new ones, with room to spare), and a
    denser bar would run past it."""
    room = (max_len - 1 - WRITE_ROOM) // 3
    longest = max(len(w) for w in words)
    if longest > room:
        densest = max(len(bar) for bar in core)
        raise RequestError(
            f"the beat's core bars hold up to {densest} hits: the planner varies bars of about "
            f"{densest * room // longest} hits at most; thin it (fewer ghost notes or hat "
            "strokes), or render it as it is"
        )
