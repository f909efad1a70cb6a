"""Writing a beat with the trained planner: a core phrase of a few bars, then fills that end each
block, all under constraints that keep the output a valid score (meter, grid, lane order, one hit
per class per tick), and with controls that are real: tempo, energy, feel and swing, a
syncopation target, and a cross-rhythm forced on a chosen lane for the later lanes to answer."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from audiogen.errors import RequestError
from audiogen.instruments import GROUP_OF, GROUPS, instruments_in
from audiogen.planner.data import BarHit, bar_fingerprint, syncopation_index
from audiogen.planner.model import KVCache
from audiogen.planner.tokens import (
    BAR,
    BOS,
    MAX_BAR_TICKS,
    SYNC_BINS,
    VELOCITY_OF_BIN,
    BarCondition,
    tempo_bucket,
    velocity_bin,
)
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Hit, Meter, Provenance, Section

CORE_BARS = 2  # within the 3-bar windows the model was trained on, with room for a fill
FILL_EVERY = 8
SYNC_BIAS = 3.0  # logit bias per unit of off-beatness at syncopation 1 (or -1 at 0)
POLY_VOICE = {"kick": "kick", "snare": "rim", "hats": "hat_closed", "cymbals": "ride_bell",
              "toms": "tom_high", "perc": "cowbell"}  # fmt: skip
POLYRHYTHMS = ("3:4", "2:3", "3:2", "4:3")
CANDIDATES = 4  # versions of each core bar written side by side, to choose from
TRIES = 4  # rounds of candidates before a bar that copies a training bar is let through
RETRY_HEAT = 0.15  # temperature added per retry
MAX_ROWS = 8  # fills written side by side at most


@dataclass(frozen=True)
class PlanRequest:
    """A fully resolved planning request (genre defaults already applied)."""

    genre: str
    bpm: float
    bars: int
    meter: Meter
    feel: str
    swing: float
    energy: float = 0.5
    syncopation: float | None = None
    polyrhythm: str | None = None
    poly_lane: str = "perc"
    seed: int = 0
    temperature: float = 0.9
    top_p: float = 0.95


def _beat_ticks(meter: Meter) -> int:
    """The felt beat: the denominator's note, or the dotted quarter in compound time (6/8)."""
    if meter.denominator == 8 and meter.numerator % 3 == 0:
        return 3 * TICKS_PER_QUARTER // 2
    return TICKS_PER_QUARTER * 4 // meter.denominator


def offbeatness(position: int, meter: Meter) -> float:
    """0 on a beat, 0.5 on an 8th between beats, 1 on anything finer (16ths, triplets)."""
    beat = _beat_ticks(meter)
    if position % beat == 0:
        return 0.0
    if position % (beat // 2 if beat % 2 == 0 else beat) == 0 or position % (beat // 3) == 0:
        return 0.5
    return 1.0


def cross_rhythm(spec: str, meter: Meter, bars: int) -> list[list[int]]:
    """Positions per bar of ``A:B``: A evenly spaced hits across B beats, repeated through the
    bars (crossing bar lines when the cycle does not fit a bar)."""
    try:
        a, b = (int(x) for x in spec.split(":"))
    except ValueError:
        raise RequestError(f"polyrhythm {spec!r}: write it like 3:4 or 2:3") from None
    if spec not in POLYRHYTHMS:
        raise RequestError(f"polyrhythm {spec}: use one of {', '.join(POLYRHYTHMS)}")
    beat = _beat_ticks(meter)
    spacing = Fraction(b * beat, a)
    out: list[list[int]] = [[] for _ in range(bars)]
    k, bar_ticks = 0, meter.ticks_per_bar
    while (t := spacing * k) < bars * bar_ticks:
        tick = round(t)
        out[tick // bar_ticks].append(tick % bar_ticks)
        k += 1
    return out


class Planner:
    """A loaded planner checkpoint. `plan` turns a `PlanRequest` into a quantised `DrumScore`."""

    def __init__(self, folder: Path) -> None:
        from audiogen.planner.train import bar_energy, load_bar_index, load_checkpoint

        self._bar_energy = bar_energy

        self.model, self.vocab, self.labeller, self.meta = load_checkpoint(folder)
        self.version = f"planner@{self.meta['history'][-1]['step'] if self.meta['history'] else 0}"
        self.seen = load_bar_index(folder)  # fingerprints of the training bars
        v = self.vocab
        self._pos0 = v.id("pos:0")  # positions are consecutive ids
        self._lane = {g: v.id(f"lane:{g}") for g in GROUPS}
        self._hits = {g: np.array(v.hit_ids(g)) for g in GROUPS}
        self._hit_of = {i: (w.split(":")[1], int(w.split(":")[2]))
                        for w, i in v.index.items() if w.startswith("hit:")}  # fmt: skip
        self._sync_ids = np.array([v.id(f"sync:{i}") for i in range(SYNC_BINS)])
        self._lane_size = {g: len(instruments_in(g)) for g in GROUPS}

    @classmethod
    def load(cls, folder: Path | None = None) -> Planner:
        """The shipped checkpoint (``checkpoints/planner``) or another folder."""
        from audiogen.errors import AudiogenError
        from audiogen.paths import checkpoints_dir

        folder = folder or checkpoints_dir() / "planner"
        if not (folder / "planner.safetensors").is_file():
            raise AudiogenError(
                f"no planner checkpoint in {folder}: train one with pipelines/train_planner.py"
            )
        return cls(folder)

    # -- public --------------------------------------------------------------------------------
    def plan(self, req: PlanRequest) -> DrumScore:
        """Write the score; deterministic for a given request (seed included)."""
        # One token at a time through a small network: thread hand-offs cost more than they save.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                return self._plan(req)
        finally:
            torch.set_num_threads(threads)

    def _plan(self, req: PlanRequest) -> DrumScore:
        gen = torch.Generator().manual_seed(req.seed)
        poly = cross_rhythm(req.polyrhythm, req.meter, req.bars) if req.polyrhythm else None
        shape = (lambda b: poly[b]) if poly else (lambda b: None)
        core_n = min(CORE_BARS, req.bars)
        fills = list(range(FILL_EVERY - 1, req.bars, FILL_EVERY))
        if req.bars > core_n and req.bars - 1 not in fills:
            fills.append(req.bars - 1)
        cache = KVCache(self.model.cfg)
        pending: list[int] = [self.vocab.id(BOS)]  # words not yet fed to the model
        core: list[list[tuple[int, str, int]]] = []
        for b in range(core_n - 1):
            row, _ = self._bars(req, pending, cache, gen, shape(b), [])
            core.append(row.hits)
            # The cache takes in the bar kept, all but its closing <bar>, which opens the next.
            self.model(torch.tensor([row.tokens[:-1]]), cache)
            pending = []
        # The phrase's last bar and the fills are written side by side after the same bars: a
        # fill takes the place of the phrase's last bar (bars 8, 16, ... of a two-bar phrase).
        by_bar: dict[int, list[tuple[int, str, int]]] = {}
        for i in range(0, max(len(fills), 1), MAX_ROWS):
            chunk = fills[i : i + MAX_ROWS]
            row, rows = self._bars(req, pending, cache, gen, shape(core_n - 1),
                                   [shape(b) for b in chunk], with_core=i == 0)  # fmt: skip
            if row is not None:
                core.append(row.hits)
            by_bar.update((b, r.hits) for b, r in zip(chunk, rows))
        song = [by_bar.get(b, core[b % core_n]) for b in range(req.bars)]
        if poly:  # the cross-rhythm keeps its own cycle in every bar, repeated or not
            voice = POLY_VOICE[req.poly_lane]
            for b in range(req.bars):
                others = [h for h in song[b] if GROUP_OF[h[1]] != req.poly_lane]
                song[b] = others + [(p, voice, _poly_velocity(i)) for i, p in enumerate(poly[b])]
        return self._score(req, song, fills)

    # -- internals -----------------------------------------------------------------------------
    def _condition(self, req: PlanRequest, section: str) -> BarCondition:
        sync = (
            0 if req.syncopation is None else min(SYNC_BINS - 1, int(req.syncopation * SYNC_BINS))
        )
        return BarCondition(
            genre=req.genre if req.genre in self.vocab.genres else "none",
            tempo=tempo_bucket(req.bpm),
            energy=min(4, int(req.energy * 5)),
            sync=sync,
            section=section,
            feel=req.feel,
            meter=str(req.meter),
        )

    def _bars(
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen, core_shape,
        fill_shapes: list, with_core: bool = True,
    ) -> tuple[_Row | None, list[_Row]]:  # fmt: skip
        """Write, side by side after the same context (``cache`` plus ``pending``), versions of
        the next bar of the core phrase and one fill per entry of ``fill_shapes`` (each shape a
        cross-rhythm's positions or None). A bar that copies a training bar is written again,
        up to TRIES rounds. Of the core versions that are new, the one nearest the requested
        syncopation is kept.

        Returns:
            The core bar kept (None without ``with_core``) and the fills.
        """
        chosen, versions = None, []
        fills: list = [None] * len(fill_shapes)
        todo = list(range(len(fill_shapes)))
        for attempt in range(TRIES):
            wanted = with_core and chosen is None
            n_core = CANDIDATES if wanted else 0
            if not n_core and not todo:
                break
            jobs = [("groove", core_shape)] * n_core + [("fill", fill_shapes[i]) for i in todo]
            rows = self._write(req, pending, cache, gen, jobs, attempt)
            if n_core:
                versions = rows[:n_core]
                fresh = [r for r in versions if not self._copied(r)]
                chosen = self._nearest(req, fresh) if fresh else None
            for i, row in zip(todo, rows[n_core:]):
                fills[i] = row
            todo = [i for i in todo if self._copied(fills[i])]
        if with_core and chosen is None:
            chosen = self._nearest(req, versions)  # the model knows nothing else: a copy it is
        return chosen, fills

    def _nearest(self, req: PlanRequest, rows: list[_Row]) -> _Row:
        """The version nearest the request: its energy among the training bars' (0 to 1)
        against the energy asked, plus its syncopation index against the one asked."""

        def gap(row: _Row) -> float:
            bar = row.bar()
            gap = abs(self.labeller.energy_rank(self._bar_energy(bar, req.meter)) - req.energy)
            if req.syncopation is not None:
                gap += abs(syncopation_index(bar, req.meter) - req.syncopation)
            return gap

        return min(rows, key=gap)

    def _copied(self, row: _Row) -> bool:
        return bar_fingerprint(row.bar(), row.req.meter) in self.seen

    def _sample(self, ids: np.ndarray, logits: np.ndarray, temperature: float, top_p: float,
                gen) -> int:  # fmt: skip
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

    def _write(
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen,
        jobs: list[tuple[str, list[int] | None]], attempt: int = 0,
    ) -> list[_Row]:  # fmt: skip
        """Write one bar per job (its section, and a cross-rhythm's positions or None), all
        after the same context: ``cache`` (left as it is) plus the words in ``pending``. A
        retry (``attempt`` > 0) samples a little hotter, to leave a bar the model knows by
        heart."""
        n = len(jobs)
        temperature = req.temperature + RETRY_HEAT * attempt
        words = {s: self.vocab.ids(self._condition(req, s).words()) for s, _ in jobs}
        first = words[jobs[0][0]]
        shared = pending + first[:4]  # up to "energy"; then sync, section, feel, meter
        work = cache.rows([0])
        logits = self.model(torch.tensor([shared]), work, last_only=True)[0, -1].numpy()
        if req.syncopation is None:  # the model chooses how syncopated each bar is
            syncs = [self._sample(self._sync_ids, logits[self._sync_ids], temperature,
                                  req.top_p, gen) for _ in range(n)]  # fmt: skip
        else:
            syncs = [first[4]] * n
        kick = self._lane["kick"]
        heads = [shared + [sync, *words[s][5:], kick] for sync, (s, _) in zip(syncs, jobs)]
        work = work.rows([0] * n)
        logits = self.model(torch.tensor([h[len(shared) :] for h in heads]), work, True)
        rows = [_Row(self, req, shape, head, temperature) for (_, shape), head in zip(jobs, heads)]
        active = list(range(n))  # rows still writing, in the order of the cache's rows
        while True:
            last = logits[:, -1].numpy()
            step = [rows[r].next(last[j], gen) for j, r in enumerate(active)]
            going = [j for j, r in enumerate(active) if not rows[r].done]
            if not going:
                return rows
            if len(going) < len(active):  # a finished bar leaves the batch
                work = work.rows(going)
                active, step = [active[j] for j in going], [step[j] for j in going]
            logits = self.model(torch.tensor(step)[:, None], work, last_only=True)

    def _score(self, req: PlanRequest, song, fills) -> DrumScore:
        bar_ticks = req.meter.ticks_per_bar
        ms_per_tick = 60_000.0 / (req.bpm * TICKS_PER_QUARTER)
        swing_ticks = (req.swing - 0.5) * 2
        hits: dict[tuple[int, str], Hit] = {}
        for b, bar in enumerate(song):
            for position, instrument, velocity in bar:
                offset = 0.0
                if req.feel == "swing8" and position % 12 == 0 and position % 24 == 12:
                    offset = swing_ticks * 12 * ms_per_tick
                elif req.feel == "swing16" and position % 6 == 0 and position % 12 == 6:
                    offset = swing_ticks * 6 * ms_per_tick
                tick = b * bar_ticks + position
                hits[(tick, instrument)] = Hit(tick, instrument, int(velocity), round(offset, 3))
            if b - 1 in fills and b > 0:
                hits[(b * bar_ticks, "crash")] = Hit(b * bar_ticks, "crash", 112)
        return DrumScore(
            bpm=req.bpm,
            meter=req.meter,
            bars=req.bars,
            hits=tuple(hits.values()),
            sections=(Section("groove", 0, req.bars, req.energy),),
            provenance=Provenance(
                source="planner",
                genre=req.genre,
                feel=req.feel,
                swing=req.swing,
                seed=req.seed,
                models=(("planner", self.version),),
            ),  # fmt: skip
        )


def _poly_velocity(index: int) -> int:
    return 110 if index == 0 else 88  # the cycle's first hit is accented


class _Row:
    """One bar being written: the constraints (meter, grid, lane order, one hit per class per
    tick) and the controls (syncopation push, a forced cross-rhythm lane) as a state machine.
    ``tokens`` are the bar's words as fed, from its conditioning to its closing <bar>."""

    def __init__(self, planner: Planner, req: PlanRequest, poly_positions: list[int] | None,
                 head: list[int], temperature: float):  # fmt: skip
        self.p, self.req, self.temperature = planner, req, temperature
        self.tokens = list(head)
        self.done = False
        self.hits: list[tuple[int, str, int]] = []
        self.lane = 0
        self.expect_hit = False
        self.last_pos, self.used = -1, set()
        bar_ticks = req.meter.ticks_per_bar
        self.grid = np.array([t for t in range(bar_ticks) if t % 3 == 0 or t % 4 == 0])
        push = 0.0 if req.syncopation is None else (2 * req.syncopation - 1) * SYNC_BIAS
        self.bias = push * np.array([offbeatness(t, req.meter) for t in range(MAX_BAR_TICKS)])
        self.forced: list[int] = []
        self.poly = sorted(set(poly_positions)) if poly_positions is not None else None
        self._enter_lane()

    def bar(self) -> list[BarHit]:
        return [BarHit(p, i, v) for p, i, v in self.hits]

    def _end_token(self) -> int:
        nxt = self.lane + 1
        return self.p._lane[GROUPS[nxt]] if nxt < len(GROUPS) else self.p.vocab.id(BAR)

    def _enter_lane(self) -> None:
        group = GROUPS[self.lane]
        self.last_pos, self.used = -1, set()
        if self.poly is not None and group == self.req.poly_lane:
            voice = POLY_VOICE[group]
            for i, t in enumerate(self.poly):
                velocity = _poly_velocity(i)
                self.forced += [
                    self.p._pos0 + t,
                    self.p.vocab.id(f"hit:{voice}:{velocity_bin(velocity)}"),
                ]
                self.hits.append((t, voice, velocity))
            self.forced.append(self._end_token())

    def _advance_lane(self) -> None:
        self.lane += 1
        if self.lane >= len(GROUPS):
            self.done = True
        else:
            self._enter_lane()

    def next(self, logits: np.ndarray, gen) -> int:
        token = self._next(logits, gen)
        self.tokens.append(token)
        return token

    def _next(self, logits: np.ndarray, gen) -> int:
        p, req = self.p, self.req
        if self.forced:
            token = self.forced.pop(0)
            if not self.forced:
                self._advance_lane()
            return token
        group = GROUPS[self.lane]
        if self.expect_hit:
            ids = p._hits[group]
            if self.used:
                ids = np.array([i for i in ids.tolist() if p._hit_of[i][0] not in self.used])
            token = p._sample(ids, logits[ids], self.temperature, req.top_p, gen)
            instrument, vbin = p._hit_of[token]
            self.used.add(instrument)
            self.hits.append((self.last_pos, instrument, VELOCITY_OF_BIN[vbin]))
            self.expect_hit = False
            return token
        end = self._end_token()
        positions = self.grid[int(np.searchsorted(self.grid, max(self.last_pos, 0))) :]
        if self.last_pos >= 0 and len(self.used) >= p._lane_size[group]:
            positions = positions[positions != self.last_pos]  # the whole lane plays here
        ids = np.append(p._pos0 + positions, end)
        shaped = np.append(logits[p._pos0 + positions] + self.bias[positions], logits[end])
        token = p._sample(ids, shaped, self.temperature, req.top_p, gen)
        if token == end:
            self._advance_lane()
            return token
        position = token - p._pos0
        if position != self.last_pos:
            self.used = set()
        self.last_pos = position
        self.expect_hit = True
        return token
