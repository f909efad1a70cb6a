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
    SYNC_BINS,
    VELOCITY_OF_BIN,
    BarCondition,
    tempo_bucket,
    velocity_bin,
)
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Hit, Meter, Provenance, Section

CORE_BARS = 4
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


def offbeatness(position: int, meter: Meter) -> float:
    """0 on a beat, 0.5 on an 8th between beats, 1 on anything finer (16ths, triplets)."""
    beat = TICKS_PER_QUARTER * 4 // meter.denominator
    if meter.denominator == 8 and meter.numerator % 3 == 0:
        beat = 3 * TICKS_PER_QUARTER // 2  # compound time: the dotted quarter is the beat
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
    beat = TICKS_PER_QUARTER * 4 // meter.denominator
    if meter.denominator == 8 and meter.numerator % 3 == 0:
        beat = 3 * TICKS_PER_QUARTER // 2
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
    @torch.inference_mode()
    def plan(self, req: PlanRequest) -> DrumScore:
        gen = torch.Generator().manual_seed(req.seed)
        poly = cross_rhythm(req.polyrhythm, req.meter, req.bars) if req.polyrhythm else None
        core_n = min(CORE_BARS, req.bars)
        words: list[int] = [self.vocab.id(BOS)]
        bars: list[list[tuple[int, str, int]]] = []
        cache = None
        for b in range(core_n):
            hits, words, cache = self._bar(
                req, "groove", words, cache, gen, poly[b] if poly else None
            )
            bars.append(hits)
        song = [bars[b % core_n] for b in range(req.bars)]
        fills = [b for b in range(FILL_EVERY - 1, req.bars, FILL_EVERY)]
        if req.bars > core_n and (req.bars - 1) not in fills:
            fills.append(req.bars - 1)
        for b in fills:
            # A fill answers the core phrase: it is written after it, in the same context.
            hits, _, _ = self._bar(req, "fill", list(words), cache, gen, poly[b] if poly else None)
            song[b] = hits
        if poly:  # the cross-rhythm keeps its own cycle in every bar, repeated or not
            voice = POLY_VOICE[req.poly_lane]
            for b in range(req.bars):
                others = [h for h in song[b] if GROUP_OF[h[1]] != req.poly_lane]
                song[b] = others + [
                    (p, voice, 110 if i == 0 else 88) for i, p in enumerate(poly[b])
                ]
        return self._score(req, song, fills)

    # -- internals -----------------------------------------------------------------------------
    def _condition(self, req: PlanRequest, section: str) -> BarCondition:
        return BarCondition(
            genre=req.genre if req.genre in self.vocab.genres else "none",
            tempo=tempo_bucket(req.bpm),
            energy=min(4, int(req.energy * 5)),
            sync=0
            if req.syncopation is None
            else min(SYNC_BINS - 1, int(req.syncopation * SYNC_BINS)),
            section=section,
            feel=req.feel,
            meter=str(req.meter),
        )

    def _step(self, ids: list[int], cache):
        logits, cache = self.model(torch.tensor([ids]), cache)
        return logits[0, -1], cache

    def _sample(self, logits: torch.Tensor, allowed: torch.Tensor, req: PlanRequest, gen) -> int:
        masked = torch.full_like(logits, -math.inf)
        masked[allowed] = logits[allowed] / max(req.temperature, 1e-3)
        probs = torch.softmax(masked, dim=0)
        if req.top_p < 1.0:
            sorted_p, order = probs.sort(descending=True)
            keep = sorted_p.cumsum(0) - sorted_p < req.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))

    def _bar(self, req: PlanRequest, section: str, words: list[int], cache, gen, poly_positions):
        """Write one bar after ``words`` (already in ``cache`` except the newest tokens)."""
        cond = self._condition(req, section)
        cond_ids = self.vocab.ids(cond.words())
        if req.syncopation is None:
            # Let the model choose how syncopated this bar is: feed up to "energy", sample "sync".
            pending = words[len(words) - self._uncached(words, cache) :] + cond_ids[:4]
            logits, cache = self._step(pending, cache)
            sync = self._sample(logits, torch.tensor(self._sync_ids), req, gen)
            words = words + cond_ids[:4] + [sync]
            pending = cond_ids[5:] + [self._lane["kick"]]
        else:
            pending = (
                words[len(words) - self._uncached(words, cache) :] + cond_ids + [self._lane["kick"]]
            )
            words = list(words) + cond_ids
        words = words + [self._lane["kick"]]
        logits, cache = self._step(pending, cache)
        bar_ticks = req.meter.ticks_per_bar
        grid = torch.zeros(MAX_BAR_TICKS, dtype=torch.bool)
        grid[[p for p in range(bar_ticks) if p % 3 == 0 or p % 4 == 0]] = True
        bias = torch.tensor([offbeatness(p, req.meter) for p in range(MAX_BAR_TICKS)])
        sync_push = 0.0 if req.syncopation is None else (2 * req.syncopation - 1) * SYNC_BIAS
        hits: list[tuple[int, str, int]] = []
        for g_index, group in enumerate(GROUPS):
            nxt = (
                self._lane[GROUPS[g_index + 1]] if g_index + 1 < len(GROUPS) else self.vocab.id(BAR)
            )
            if group == req.poly_lane and poly_positions is not None:
                forced = []
                for i, p in enumerate(sorted(set(poly_positions))):
                    velocity = 110 if i == 0 else 88  # the cycle's start is accented
                    word = f"hit:{POLY_VOICE[group]}:{velocity_bin(velocity)}"
                    forced += [int(self._pos[p]), self.vocab.id(word)]
                    hits.append((p, POLY_VOICE[group], velocity))
                logits, cache = self._step(forced + [nxt], cache)
                words += forced + [nxt]
                continue
            last_pos, used = -1, set()
            for _ in range(64):  # a lane never holds more than this many events
                # next: a position at or after the last one, or the next lane
                ok = grid.clone()
                ok[: max(last_pos, 0)] = False
                if last_pos >= 0 and len(used) >= self._lane_size[group]:
                    ok[last_pos] = False  # every instrument of the lane already plays here
                allowed = torch.cat([self._pos[ok], torch.tensor([nxt])])
                shaped = logits.clone()
                shaped[self._pos] += sync_push * bias
                choice = self._sample(shaped, allowed, req, gen)
                if choice == nxt:
                    break
                position = int(choice - self._pos[0])
                if position != last_pos:
                    used = set()
                logits, cache = self._step([choice], cache)
                hit_ids = [
                    i
                    for i in self._hits[group].tolist()
                    if self._hit_word[i].split(":")[1] not in used
                ]
                hit = self._sample(logits, torch.tensor(hit_ids), req, gen)
                _, instrument, vbin = self._hit_word[hit].split(":")
                used.add(instrument)
                hits.append((position, instrument, VELOCITY_OF_BIN[int(vbin)]))
                last_pos = position
                logits, cache = self._step([hit], cache)
                words += [choice, hit]
            else:
                choice = nxt
            if choice == nxt:
                logits, cache = self._step([nxt], cache)
                words += [nxt]
        return hits, words, cache

    @staticmethod
    def _uncached(words: list[int], cache) -> int:
        cached = 0 if cache is None else cache[0][0].shape[2]
        return len(words) - cached

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
