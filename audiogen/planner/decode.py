"""Decoding bars with the planner's network: conditioning words, then lanes written token by
token under constraints that keep the bar a valid score (meter, grid, lane order, one hit per
class per tick) and with the controls applied (syncopation push, a cross-rhythm forced on a
lane, lanes given in advance)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from audiogen.instruments import GROUPS, INSTRUMENTS, instruments_in
from audiogen.planner.bars import BarHit, bar_energy, syncopation_index
from audiogen.planner.checkpoint import Labeller
from audiogen.planner.controls import POLY_VOICE, PlanRequest, offbeatness, poly_velocity
from audiogen.planner.model import KVCache, PlannerModel
from audiogen.planner.steps import Steps
from audiogen.planner.tokens import (
    BAR,
    BOS,
    MAX_BAR_TICKS,
    SLOT,
    SYNC_BINS,
    VELOCITY_OF_BIN,
    BarCondition,
    Vocabulary,
    encode_bar,
    encode_lanes,
    tempo_bucket,
    velocity_bin,
)

SYNC_BIAS = 3.0  # logit bias per unit of off-beatness at syncopation 1 (or -1 at 0)
RETRY_HEAT = 0.15  # temperature added per retry


@dataclass(frozen=True)
class Job:
    """One bar to write: its section word ("groove" or "fill"), its energy (None: the
    request's), a cross-rhythm's positions or None, and lanes given in advance (group → hits
    as (position, instrument, velocity)) that the model reads instead of writing."""

    section: str = "groove"
    energy: float | None = None
    shape: list[int] | None = None
    keep: dict[str, list[tuple[int, str, int]]] | None = None


@contextmanager
def decoding() -> Iterator[None]:
    """Inference on one thread: one token at a time through a small network, thread
    hand-offs cost more than they save."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(threads)


class Decoder:
    """A loaded planner network and what decoding needs of its vocabulary: writes bars, a batch
    of rows at a time, under the constraints and controls of `Row`."""

    def __init__(self, model: PlannerModel, vocab: Vocabulary, labeller: Labeller,
                 steps: Steps) -> None:  # fmt: skip
        self.model, self.vocab, self.labeller, self.steps = model, vocab, labeller, steps
        v = vocab
        self.pos0 = v.id("pos:0")  # positions are consecutive ids
        self.lane_ids = {g: v.id(f"lane:{g}") for g in GROUPS}
        self.hit_ids = {g: np.array(v.hit_ids(g)) for g in GROUPS}
        self.hit_of = {i: (w.split(":")[1], int(w.split(":")[2]))
                       for w, i in v.index.items() if w.startswith("hit:")}  # fmt: skip
        self.sync_ids = np.array([v.id(f"sync:{i}") for i in range(SYNC_BINS)])
        self.lane_size = {g: len(instruments_in(g)) for g in GROUPS}

    def condition(
        self, req: PlanRequest, section: str, energy: float | None = None
    ) -> BarCondition:
        sync = (
            0 if req.syncopation is None else min(SYNC_BINS - 1, int(req.syncopation * SYNC_BINS))
        )
        return BarCondition(
            genre=req.genre if req.genre in self.vocab.genres else "none",
            tempo=tempo_bucket(req.bpm),
            energy=min(4, int((req.energy if energy is None else energy) * 5)),
            sync=sync,
            section=section,
            feel=req.feel,
            meter=str(req.meter),
        )

    def sample(self, ids: np.ndarray, logits: np.ndarray, temperature: float, top_p: float,
                gen: torch.Generator) -> int:  # fmt: skip
        """One of ``ids`` drawn from their ``logits`` (temperature, then nucleus of top_p)."""
        z = logits / max(temperature, 1e-3)
        p = np.exp(z - z.max())
        order = np.argsort(-p, kind="stable")
        p = p[order] / p.sum()
        if top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(p), top_p)) + 1
            order, p = order[:keep], p[:keep]
        u = float(torch.rand((), generator=gen)) * float(p.sum())
        i = min(int(np.searchsorted(np.cumsum(p), u, side="right")), len(p) - 1)
        return int(ids[order[i]])

    def write(
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen: torch.Generator,
        jobs: list[Job], attempt: int = 0,
    ) -> list[Row]:  # fmt: skip
        """Write one bar per job, all after the same context: ``cache`` (left as it is) plus
        the words in ``pending``. A retry (``attempt`` > 0) samples a little hotter, to leave a
        bar the model knows by heart."""
        n = len(jobs)
        temperature = req.temperature + RETRY_HEAT * attempt
        words = [self.vocab.ids(self.condition(req, j.section, j.energy).words()) for j in jobs]
        first = words[0]
        energy, sync = SLOT["energy"], SLOT["sync"]
        # Words every row shares are fed once: those before the energy, and the energy when all
        # rows agree on it.
        same_energy = all(w[energy] == first[energy] for w in words)
        shared = pending + first[: energy + 1 if same_energy else energy]
        work = cache.rows([0])
        logits = self.model(torch.tensor([shared]), work, last_only=True)[0, -1].numpy()
        work = work.rows([0] * n)
        if not same_energy:
            logits = self.model(torch.tensor([[w[energy]] for w in words]), work, last_only=True)
            logits = logits[:, -1].numpy()
        else:
            logits = np.broadcast_to(logits, (n, len(logits)))
        if req.syncopation is None:  # the model chooses how syncopated each bar is
            syncs = [self.sample(self.sync_ids, logits[i, self.sync_ids], temperature,
                                 req.top_p, gen) for i in range(n)]  # fmt: skip
        else:
            syncs = [first[sync]] * n
        kick = self.lane_ids["kick"]
        # Each row's own words: the energy (unless shared), its sync, the rest, the first lane.
        tails = [[*w[len(shared) - len(pending) : sync], s, *w[sync + 1 :], kick]
                 for w, s in zip(words, syncs)]  # fmt: skip
        heads = [shared + t for t in tails]
        fed = 0 if same_energy else 1  # the energy words already in the rows' cache
        logits = self.model(torch.tensor([t[fed:] for t in tails]), work, True)
        rows = [Row(self, req, job, head, temperature) for job, head in zip(jobs, heads)]
        active = list(range(n))  # rows still writing, in the order of the cache's rows
        last, steps = logits[:, -1].numpy(), self.steps.start(work)
        while True:
            step = [rows[r].next(last[j], gen) for j, r in enumerate(active)]
            going = [j for j, r in enumerate(active) if not rows[r].done]
            if not going:
                return rows
            if len(going) < len(active):  # a finished bar leaves the batch
                steps.keep(going)
                active, step = [active[j] for j in going], [step[j] for j in going]
            last = steps.step(step)

    def context(self, bars: list[list[int]]) -> KVCache:
        """A cache holding <bos> and the words of ``bars`` (at most the last two: the model
        learned from windows of three bars), ready for the next bar's words."""
        cache = KVCache(self.model.cfg)
        ids = [self.vocab.id(BOS)] + [w for bar in bars[-2:] for w in bar]
        self.model(torch.tensor([ids]), cache)
        return cache

    def bar_words(self, req: PlanRequest, bar: list[tuple[int, str, int]]) -> list[int]:
        """The words of a bar the model did not write (a given beat's), as training wrote
        them: its conditioning measured from its hits, then its lanes; without the closing
        <bar>."""
        hits = [BarHit(p, i, v) for p, i, v in bar]
        condition = BarCondition(
            genre=req.genre if req.genre in self.vocab.genres else "none",
            tempo=tempo_bucket(req.bpm),
            energy=self.labeller.energy_bin(bar_energy(hits, req.meter)),
            sync=self.labeller.sync_bin(syncopation_index(hits, req.meter)),
            section="groove",
            feel=req.feel,
            meter=str(req.meter),
        )
        return self.vocab.ids(encode_bar(condition, bar))


class Row:
    """One bar being written: the constraints (meter, grid, lane order, one hit per class per
    tick) and the controls (syncopation push, a forced cross-rhythm lane) as a state machine.
    ``tokens`` are the bar's words as fed, from its conditioning to its closing <bar>."""

    def __init__(self, decoder: Decoder, req: PlanRequest, job: Job, head: list[int],
                 temperature: float):  # fmt: skip
        self.p, self.req, self.job, self.temperature = decoder, req, job, temperature
        self.tokens = list(head)
        self.lanes_at = len(head) - 1  # where the bar's lanes begin (its kick's lane word)
        self.done = False
        self.hits: list[tuple[int, str, int]] = []
        self.lane = 0
        self.expect_hit = False
        self.last_pos = -1
        self.used: set[str] = set()
        bar_ticks = req.meter.ticks_per_bar
        self.grid = np.array([t for t in range(bar_ticks) if t % 3 == 0 or t % 4 == 0])
        push = 0.0 if req.syncopation is None else (2 * req.syncopation - 1) * SYNC_BIAS
        self.bias = push * np.array([offbeatness(t, req.meter) for t in range(MAX_BAR_TICKS)])
        self.forced: list[int] = []
        self.poly = sorted(set(job.shape)) if job.shape is not None else None
        self.keep = job.keep or {}
        self._enter_lane()

    def bar(self) -> list[BarHit]:
        return [BarHit(p, i, v) for p, i, v in self.hits]

    def rewrite(self, hits: list[tuple[int, str, int]]) -> None:
        """Replace the written bar by ``hits`` (a drummer's correction of it), its words
        re-encoded after the same conditioning, as if the model had written them."""
        assert self.done, "only a finished bar is rewritten"
        lanes = self.p.vocab.ids(encode_lanes(hits))
        self.tokens = [*self.tokens[: self.lanes_at], *lanes, self.p.vocab.id(BAR)]
        self.hits = list(hits)

    def words(self) -> list[int]:
        """The bar's words from its <bar> on, without the closing <bar> (which opens the next
        bar's words)."""
        start = self.tokens.index(self.p.vocab.id(BAR))
        return self.tokens[start:-1]

    def _end_token(self) -> int:
        nxt = self.lane + 1
        return self.p.lane_ids[GROUPS[nxt]] if nxt < len(GROUPS) else self.p.vocab.id(BAR)

    def _enter_lane(self) -> None:
        group = GROUPS[self.lane]
        self.last_pos, self.used = -1, set()
        if self.poly is not None and group == self.req.poly_lane:
            voice = POLY_VOICE[group]
            for i, t in enumerate(self.poly):
                velocity = poly_velocity(i)
                self.forced += [
                    self.p.pos0 + t,
                    self.p.vocab.id(f"hit:{voice}:{velocity_bin(velocity)}"),
                ]
                self.hits.append((t, voice, velocity))
            self.forced.append(self._end_token())
        elif group in self.keep:  # a lane given in advance: read, not written
            order = {name: i for i, name in enumerate(INSTRUMENTS)}
            for t, instrument, velocity in sorted(self.keep[group],
                                                  key=lambda h: (h[0], order[h[1]])):  # fmt: skip
                self.forced += [
                    self.p.pos0 + t,
                    self.p.vocab.id(f"hit:{instrument}:{velocity_bin(velocity)}"),
                ]
                self.hits.append((t, instrument, velocity))
            self.forced.append(self._end_token())

    def _advance_lane(self) -> None:
        self.lane += 1
        if self.lane >= len(GROUPS):
            self.done = True
        else:
            self._enter_lane()

    def next(self, logits: np.ndarray, gen: torch.Generator) -> int:
        token = self._next(logits, gen)
        self.tokens.append(token)
        return token

    def _next(self, logits: np.ndarray, gen: torch.Generator) -> int:
        p, req = self.p, self.req
        if self.forced:
            token = self.forced.pop(0)
            if not self.forced:
                self._advance_lane()
            return token
        group = GROUPS[self.lane]
        if self.expect_hit:
            ids = p.hit_ids[group]
            if self.used:
                ids = np.array([i for i in ids.tolist() if p.hit_of[i][0] not in self.used])
            token = p.sample(ids, logits[ids], self.temperature, req.top_p, gen)
            instrument, vbin = p.hit_of[token]
            self.used.add(instrument)
            self.hits.append((self.last_pos, instrument, VELOCITY_OF_BIN[vbin]))
            self.expect_hit = False
            return token
        end = self._end_token()
        positions = self.grid[int(np.searchsorted(self.grid, max(self.last_pos, 0))) :]
        if self.last_pos >= 0 and len(self.used) >= p.lane_size[group]:
            positions = positions[positions != self.last_pos]  # the whole lane plays here
        ids = np.append(p.pos0 + positions, end)
        shaped = np.append(logits[p.pos0 + positions] + self.bias[positions], logits[end])
        token = p.sample(ids, shaped, self.temperature, req.top_p, gen)
        if token == end:
            self._advance_lane()
            return token
        position = token - p.pos0
        if position != self.last_pos:
            self.used = set()
        self.last_pos = position
        self.expect_hit = True
        return token
