"""Choosing among versions of a bar: candidates written side by side, in rounds until one is new
to the training data; of those, the one nearest the request (its energy and syncopation), or
for a section of a song, the one that varies the core groove without copying it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiogen.planner.bars import BarHit, bar_energy, bar_fingerprint, syncopation_index
from audiogen.planner.controls import PlanRequest
from audiogen.planner.decode import Decoder, Job, Row
from audiogen.planner.figures import figure_in
from audiogen.planner.model import KVCache
from audiogen.score import Meter

if TYPE_CHECKING:
    import torch

CANDIDATES = 4  # versions of each core bar written side by side, to choose from
TRIES = 4  # rounds of candidates before a bar that copies a training bar is let through
NEAR = 0.2  # a core version this near the request (see `Search.gap`) ends the search
VARIATION_BAND = (0.5, 0.9)  # Dice similarity of a section's bar to the core's it varies


def dice(a: set, b: set) -> float:
    """How much two sets of hits share: 1 the same, 0 nothing in common."""
    return 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))


class Search:
    """The versions of a bar a `Decoder` writes, judged against the request and against the
    fingerprints of the training bars (``seen``)."""

    def __init__(self, decoder: Decoder, seen: frozenset[int]) -> None:
        self.decoder, self.seen = decoder, seen

    def bars(
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen: torch.Generator,
        core: Job | None,
        fills: list[Job], heat: int = 0,
    ) -> tuple[Row | None, list[Row]]:  # fmt: skip
        """Write, side by side after the same context (``cache`` plus ``pending``), versions of
        the next bar of the core phrase (unless ``core`` is None) and one bar per entry of
        ``fills``. A bar that copies a training bar is written again, up to TRIES rounds. Of
        the core versions that are new, the one nearest the request is kept.

        Returns:
            The core bar kept (None without ``core``) and the fills.
        """
        chosen, versions, pool = None, [], []
        written: list = [None] * len(fills)
        todo = list(range(len(fills)))
        for attempt in range(TRIES):
            core_jobs = [core] * CANDIDATES if core is not None and chosen is None else []
            n_core = len(core_jobs)
            if not n_core and not todo:
                break
            jobs = core_jobs + [fills[i] for i in todo]
            rows = self.decoder.write(req, pending, cache, gen, jobs, attempt + heat)
            if n_core:
                versions = rows[:n_core]
                pool += [r for r in versions if not self.copied(r)]
                true = [r for r in pool if self.holds(r)]
                best = self.nearest(req, true) if true else None
                # A new version far from the request (a sparse bar the model only knows by
                # heart, say) is kept only when later rounds find none nearer.
                if best is not None and (self.gap(req, best) <= NEAR or attempt == TRIES - 1):
                    chosen = best
            for i, row in zip(todo, rows[n_core:]):
                written[i] = row
            todo = [i for i in todo if self.copied(written[i])]
        if core is not None and chosen is None:
            # No version new to the training data holds the figure: each is corrected (see
            # `correct`), and the nearest of those that stay new is kept.
            rows = pool or versions
            for row in rows:
                self.correct(row)
            chosen = self.nearest(req, [r for r in rows if not self.copied(r)] or rows)
        return chosen, written

    def bar(self, req: PlanRequest, pending: list[int], cache: KVCache, gen: torch.Generator,
            job: Job) -> Row:  # fmt: skip
        """The version of one bar of the core phrase that `bars` keeps, with no fills."""
        row, _ = self.bars(req, pending, cache, gen, job, [])
        assert row is not None  # a core job always brings a bar back
        return row

    def holds(self, row: Row) -> bool:
        """Whether a groove bar plays its genre's defining figure (`figures`); a lane a
        cross-rhythm took over is not asked to."""
        req = row.req
        figure = figure_in(req.genre, req.meter)
        skip = frozenset((req.poly_lane,)) if req.polyrhythm else frozenset()
        return figure is None or figure.holds(row.hits, skip)

    def correct(self, row: Row) -> None:
        """Make a groove bar that misses its genre's figure play it, as a drummer corrects a
        take: the figure's missing strokes added, its forbidden ones taken away."""
        req = row.req
        figure = figure_in(req.genre, req.meter)
        skip = frozenset((req.poly_lane,)) if req.polyrhythm else frozenset()
        if figure is not None and not figure.holds(row.hits, skip):
            row.rewrite(figure.impose(row.hits, skip))

    def nearest(self, req: PlanRequest, rows: list[Row]) -> Row:
        """The version nearest the request (see `_gap`)."""
        return min(rows, key=lambda row: self.gap(req, row))

    def gap(self, req: PlanRequest, row: Row) -> float:
        """How far a version is from its request: its energy among the training bars' (0 to
        1) against the energy asked, plus its syncopation index against the one asked."""
        bar = row.bar()
        energy = self.energy_rank(bar, req.meter)
        gap = abs(energy - (req.energy if row.job.energy is None else row.job.energy))
        if req.syncopation is not None:
            gap += abs(syncopation_index(bar, req.meter) - req.syncopation)
        return gap

    def energy_rank(self, bar: list[BarHit], meter: Meter) -> float:
        """Where a bar's energy lies among the training bars', 0 (sparsest) to 1."""
        return self.decoder.labeller.energy_rank(bar_energy(bar, meter))

    def copied(self, row: Row) -> bool:
        return bar_fingerprint(row.bar(), row.req.meter) in self.seen

    def pick(self, req: PlanRequest, rows: list[Row], core: list, pull: float | None) -> Row:
        """Of a section's versions of a bar: new to the training data if one is; then, with
        no ``pull``, the nearest the section's energy of those that share VARIATION_BAND of
        their hits with the core bar (the same song, not a copy), if any; with a ``pull`` (-2
        to 2), the nearest less ``pull`` times its similarity to the core bar (a variation's
        amount: toward the input, or away from it)."""
        fresh = [r for r in rows if not self.copied(r)] or rows
        if pull is None:
            fresh = [r for r in fresh if self.holds(r)] or fresh
            return self.nearest(req, [r for r in fresh if self.varies(r, core)] or fresh)
        keys = {(p, i) for p, i, _ in core}
        return min(fresh, key=lambda r: self.gap(req, r)
                   - pull * dice({(p, i) for p, i, _ in r.hits}, keys))  # fmt: skip

    def varies(self, row: Row, core: list) -> bool:
        """Whether a section's bar is new to the training data and shares VARIATION_BAND of
        its hits with the core bar it varies (Dice similarity of (position, instrument))."""
        low, high = VARIATION_BAND
        share = dice({(p, i) for p, i, _ in row.hits}, {(p, i) for p, i, _ in core})
        return low <= share <= high and not self.copied(row)

    @staticmethod
    def departs(row: Row, groove: list, cut: int) -> float:
        """How much a fill's hits from ``cut`` on share with the groove bar's (Dice)."""
        return dice({(p, i) for p, i, _ in row.hits if p >= cut},
                     {(p, i) for p, i, _ in groove if p >= cut})  # fmt: skip
