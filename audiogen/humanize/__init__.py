"""Humanize stage: a quantised `DrumScore` in, the same hits out with a drummer's micro-timing
(``offset_ms``) and velocities, as learned from the Groove MIDI Dataset's real performances.

>>> from audiogen.humanize import humanize
>>> played = humanize(score, amount=0.8, seed=3)

Hits keep their grid ticks. ``amount`` 0 returns the score as it came; 1 plays it as learned;
in between, each hit's offset and velocity move that share of the way. The same seed gives the
same performance. A loop (``loop=True``) is played as it is heard, on repeat: its first bar
follows its last, not the silence before a take.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from audiogen.errors import AudiogenError, RequestError
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Hit

__all__ = ["Humanizer", "check_amount", "humanize"]

# A loop is humanized as the middle of this many passes of itself: every bar is played with the
# bars around it, the first after the last, as the listener hears it on repeat.
LOOP_PASSES = 3
_LEAN_MIN_HITS = 2  # a lean two hits share on one instrument and subdivision is heard as feel


def check_amount(amount: Any) -> float:
    """A humanize amount given by a user, as a float 0-1 (else a one-line `RequestError`)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise RequestError(
            f"humanize amount {amount!r}: use a number from 0 (quantised) to 1 (as learned)"
        )
    return value


class Humanizer:
    """A loaded humanizer checkpoint: `humanize` plays a quantised score like a drummer."""

    def __init__(self, folder: Path) -> None:
        from audiogen.humanize.checkpoint import load_checkpoint

        self.model, self.meta = load_checkpoint(folder)
        self.genres = tuple(self.model.cfg.genres)
        self.version = f"humanizer@{self.meta['step']}"

    @classmethod
    def load(cls, folder: Path | None = None) -> Humanizer:
        """The shipped checkpoint (``checkpoints/humanizer``) or another folder."""
        from audiogen.humanize.checkpoint import META, WEIGHTS
        from audiogen.paths import checkpoints_dir

        folder = Path(folder) if folder else checkpoints_dir() / "humanizer"
        if not (folder / WEIGHTS).is_file() or not (folder / META).is_file():
            raise AudiogenError(
                f"no humanizer checkpoint in {folder}: train one with "
                "pipelines/train_humanizer.py, or use --humanize 0"
            )
        return cls(folder)

    def humanize(
        self,
        score: DrumScore,
        amount: float = 1.0,
        seed: int = 0,
        temperature: float = 1.0,
        loop: bool = False,
    ) -> DrumScore:
        """Play ``score``: offsets and velocities drawn from the learned distributions.

        Args:
            score: a (quantised) score; its provenance's genre, feel and swing condition the
                performance, and its offsets are taken as where the feel puts each hit.
            amount: 0 (the score unchanged) to 1 (as learned).
            seed: same seed, same performance.
            temperature: spread of the draws (0: the most likely performance, a steady one).
            loop: ``score`` is one pass of a seamless loop. It is played as the middle of
                `LOOP_PASSES` passes, so that its first bar leads on from its last as every bar
                from the one before (alone, the first bar would be played as a take's opening,
                and the loop's restart would sound unlike its other bar lines).

        Returns:
            The score with new offsets and velocities and the humanizer in its provenance.
        """
        amount = check_amount(amount)
        if amount == 0.0 or not score.hits:
            return _credit(score, "off (amount 0)")
        if loop:
            return self._humanize_loop(score, amount, seed, temperature)
        import torch

        from audiogen.humanize.model import collate, half_sixteenth_ms, make_track, time_order

        per_bar = score.meter.ticks_per_bar
        hits = sorted(score.hits, key=lambda h: (h.tick, time_order(h.instrument)))
        prov = score.provenance
        track = make_track(
            [(h.tick, h.tick % per_bar, h.instrument, h.velocity, h.offset_ms) for h in hits],
            genre=prov.genre, bpm=score.bpm, feel=prov.feel, swing=prov.swing,
            meter=str(score.meter),
        )  # fmt: skip
        generator = torch.Generator().manual_seed(int(seed)) if temperature > 0 else None
        offset, velocity = self.model.decode(
            collate([track], self.genres), generator=generator, temperature=temperature
        )
        reach = half_sixteenth_ms(score.bpm)
        drag = _keep_the_feel(offset[0, : len(hits)].detach().cpu().numpy().astype(float), hits)
        played = []
        for k, h in enumerate(hits):
            # Where the feel puts the hit, plus the learned push or drag (at most half a 16th).
            swing_ms = float(track.swing_ms[k])
            target_ms = swing_ms + max(-reach, min(reach, float(drag[k])))
            target_vel = max(1.0, min(127.0, float(velocity[0, k])))
            new_offset = h.offset_ms + amount * (target_ms - h.offset_ms)
            new_velocity = h.velocity + amount * (target_vel - h.velocity)
            played.append(
                Hit(
                    h.tick, h.instrument,
                    int(max(1, min(127, round(new_velocity)))),
                    round(max(-250.0, min(250.0, new_offset)), 3),
                )
            )  # fmt: skip
        return _credit(score.replace(hits=tuple(played)), f"{self.version} amount {amount:g}")

    def _humanize_loop(
        self, score: DrumScore, amount: float, seed: int, temperature: float
    ) -> DrumScore:
        span = score.total_ticks
        middle = LOOP_PASSES // 2
        played = self.humanize(score.repeated(LOOP_PASSES), amount, seed, temperature)
        kept = tuple(
            dataclasses.replace(h, tick=h.tick - middle * span)
            for h in played.hits
            if middle * span <= h.tick < (middle + 1) * span
        )
        looped = played.replace(bars=score.bars, sections=score.sections, hits=kept)
        return _credit(looped, f"{self.version} amount {amount:g}, played on repeat")


def _keep_the_feel(drag_ms: np.ndarray, hits: list[Hit]) -> np.ndarray:
    """The learned push or drag of each hit, less what an instrument's hits on one subdivision
    share against its 8th pulse.

    A drummer's timing carries a lean per subdivision (on Groove's jazz, soul and hip-hop, the
    ghost notes between the 8ths come late), which is swing by another name: played as drawn, a
    beat asked straight came out swung, and light swing was lost. The feel is the request's, so
    on each instrument every subdivision's mean push or drag (over two hits or more) is
    brought to the instrument's own on the 8ths (the beats and "&"s), or to the whole kit's
    where the instrument plays the 8ths less than twice (toms or ghosts only on the "a"; against
    their own mean they kept the lean): the kick may still sit ahead and the snare behind, and
    each hit keeps its scatter.
    """
    out = drag_ms.copy()
    places = np.array([h.tick % TICKS_PER_QUARTER for h in hits])
    names = np.array([h.instrument for h in hits])
    eighths = places % (TICKS_PER_QUARTER // 2) == 0
    kit = float(np.mean(drag_ms[eighths])) if eighths.any() else float(np.mean(drag_ms))
    for name in np.unique(names):
        mine = names == name
        pulse = mine & eighths
        own = float(np.mean(drag_ms[pulse])) if np.count_nonzero(pulse) >= _LEAN_MIN_HITS else kit
        for place in np.unique(places[mine]):
            on = mine & (places == place)
            if np.count_nonzero(on) >= _LEAN_MIN_HITS:
                out[on] -= float(np.mean(drag_ms[on])) - own
    return out


def _credit(score: DrumScore, version: str) -> DrumScore:
    models = dict(score.provenance.models)
    models["humanizer"] = version
    provenance = dataclasses.replace(score.provenance, models=tuple(sorted(models.items())))
    return score.replace(provenance=provenance)


def humanize(
    score: DrumScore,
    amount: float = 1.0,
    seed: int = 0,
    humanizer: Humanizer | None = None,
    loop: bool = False,
) -> DrumScore:
    """The humanize stage: ``score`` played by the shipped humanizer (see `Humanizer.humanize`).

    Args:
        score: a quantised score (e.g. from the planner).
        amount: 0 (unchanged) to 1 (as learned).
        seed: same seed, same performance.
        humanizer: a loaded `Humanizer` to reuse across calls (default: load the shipped one).
        loop: ``score`` is one pass of a seamless loop, played as heard on repeat.
    """
    amount = check_amount(amount)
    if amount == 0.0:
        return _credit(score, "off (amount 0)")
    return (humanizer or Humanizer.load()).humanize(score, amount=amount, seed=seed, loop=loop)
