"""Writing a beat with the trained planner: a core phrase of a few bars, then fills that end each
block, all under constraints that keep the output a valid score (meter, grid, lane order, one hit
per class per tick), and with controls that are real: tempo, energy, feel and swing, a
syncopation target, and a cross-rhythm forced on a chosen lane for the later lanes to answer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from audiogen.errors import RequestError
from audiogen.instruments import GROUP_OF, GROUPS, instruments_in
from audiogen.planner.tokens import (
    BAR,
    BOS,
    MAX_BAR_TICKS,
    PAD,
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
        from audiogen.planner.train import load_checkpoint

        self.model, self.vocab, self.labeller, self.meta = load_checkpoint(folder)
        self.version = f"planner@{self.meta['history'][-1]['step'] if self.meta['history'] else 0}"
        v = self.vocab
        self._pos = torch.tensor([v.id(f"pos:{p}") for p in range(MAX_BAR_TICKS)])
        self._lane = {g: v.id(f"lane:{g}") for g in GROUPS}
        self._hits = {g: torch.tensor(v.hit_ids(g)) for g in GROUPS}
        self._hit_word = {i: w for w, i in v.index.items() if w.startswith("hit:")}
        self._sync_ids = [v.id(f"sync:{i}") for i in range(SYNC_BINS)]
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
        core_n = min(CORE_BARS, req.bars)
        pending: list[int] = [self.vocab.id(BOS)]  # words not yet fed to the model
        cache = None
        core: list[list[tuple[int, str, int]]] = []
        for b in range(core_n):
            rows, cache = self._write(
                req, "groove", pending, cache, gen, [poly[b] if poly else None]
            )
            core.append(rows[0])
            # The cache now holds the whole bar but its closing <bar>, which opens the next one.
            pending = []
        song = [core[b % core_n] for b in range(req.bars)]
        fills = list(range(FILL_EVERY - 1, req.bars, FILL_EVERY))
        if req.bars > core_n and req.bars - 1 not in fills:
            fills.append(req.bars - 1)
        if fills:
            # Fills answer the core phrase: written after it, in its context, all in one batch.
            shapes = [poly[b] if poly else None for b in fills]
            rows, _ = self._write(req, "fill", pending, cache, gen, shapes)
            for b, hits in zip(fills, rows):
                song[b] = hits
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

    def _sample(self, logits: torch.Tensor, allowed: torch.Tensor, req: PlanRequest, gen) -> int:
        masked = torch.full_like(logits, -math.inf)
        masked[allowed] = logits[allowed] / max(req.temperature, 1e-3)
        probs = torch.softmax(masked, dim=0)
        if req.top_p < 1.0:
            sorted_p, order = probs.sort(descending=True)
            keep = sorted_p.cumsum(0) - sorted_p < req.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))

    def _write(self, req: PlanRequest, section: str, pending: list[int], cache, gen, shapes):
        """Write one bar per entry of ``shapes`` (each a cross-rhythm's positions or None),
        all after the same context: ``cache`` plus the words in ``pending``.

        Returns:
            Per bar, its hits; and the cache after the conditioning and the bar (meaningful
            for a single bar), holding everything but the bar's closing word.
        """
        n = len(shapes)
        cond_ids = self.vocab.ids(self._condition(req, section).words())
        kick = self._lane["kick"]
        if req.syncopation is None:
            # The model chooses how syncopated each bar is: feed up to "energy", sample "sync".
            logits, cache = self.model(
                torch.tensor([pending + cond_ids[:4]]), cache, last_only=True
            )
            syncs = [self._sample(logits[0, -1], self._sync_ids, req, gen) for _ in range(n)]
            heads = [[s, *cond_ids[5:], kick] for s in syncs]
            logits, cache = self.model(torch.tensor(heads), _expand(cache, n), last_only=True)
        else:
            logits, cache = self.model(
                torch.tensor([pending + cond_ids + [kick]]), cache, last_only=True
            )
            logits, cache = logits.expand(n, -1, -1), _expand(cache, n)
        rows = [_Row(self, req, shape) for shape in shapes]
        pad = self.vocab.id(PAD)
        last = logits[:, -1]
        while True:
            # A row whose bar just ended feeds padding: its closing word opens the next bar.
            step = [pad if row.done else row.next(last[r], gen) for r, row in enumerate(rows)]
            step = [pad if row.done else t for row, t in zip(rows, step)]
            if all(row.done for row in rows):
                break
            logits, cache = self.model(torch.tensor(step)[:, None], cache, last_only=True)
            last = logits[:, -1]
        return [row.hits for row in rows], cache

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


def _expand(cache, n: int):
    return [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache]


class _Row:
    """One bar being written: the constraints (meter, grid, lane order, one hit per class per
    tick) and the controls (syncopation push, a forced cross-rhythm lane) as a state machine."""

    def __init__(self, planner: Planner, req: PlanRequest, poly_positions: list[int] | None):
        self.p, self.req = planner, req
        self.done = False
        self.hits: list[tuple[int, str, int]] = []
        self.lane = 0
        self.expect_hit = False
        self.last_pos, self.used = -1, set()
        bar_ticks = req.meter.ticks_per_bar
        grid = torch.zeros(MAX_BAR_TICKS, dtype=torch.bool)
        grid[[t for t in range(bar_ticks) if t % 3 == 0 or t % 4 == 0]] = True
        self.grid = grid
        push = 0.0 if req.syncopation is None else (2 * req.syncopation - 1) * SYNC_BIAS
        self.bias = push * torch.tensor([offbeatness(t, req.meter) for t in range(MAX_BAR_TICKS)])
        self.forced: list[int] = []
        self.poly = sorted(set(poly_positions)) if poly_positions is not None else None
        self._enter_lane()

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
                    int(self.p._pos[t]),
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

    def next(self, logits: torch.Tensor, gen) -> int:
        p, req = self.p, self.req
        if self.forced:
            token = self.forced.pop(0)
            if not self.forced:
                self._advance_lane()
            return token
        group = GROUPS[self.lane]
        end = self._end_token()
        if self.expect_hit:
            ids = [
                i for i in p._hits[group].tolist() if p._hit_word[i].split(":")[1] not in self.used
            ]
            token = p._sample(logits, torch.tensor(ids), req, gen)
            _, instrument, vbin = p._hit_word[token].split(":")
            self.used.add(instrument)
            self.hits.append((self.last_pos, instrument, VELOCITY_OF_BIN[int(vbin)]))
            self.expect_hit = False
            return token
        ok = self.grid.clone()
        ok[: max(self.last_pos, 0)] = False
        if self.last_pos >= 0 and len(self.used) >= p._lane_size[group]:
            ok[self.last_pos] = False  # every instrument of the lane already plays here
        allowed = torch.cat([p._pos[ok], torch.tensor([end])])
        shaped = logits.clone()
        shaped[p._pos] += self.bias
        token = p._sample(shaped, allowed, req, gen)
        if token == end:
            self._advance_lane()
            return token
        position = token - int(p._pos[0])
        if position != self.last_pos:
            self.used = set()
        self.last_pos = position
        self.expect_hit = True
        return token
