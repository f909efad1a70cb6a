"""Writing a beat with the trained planner: a core phrase of a few bars, then fills that end each
block, all under constraints that keep the output a valid score (meter, grid, lane order, one hit
per class per tick), and with controls that are real: tempo, energy, feel and swing, a
syncopation target, and a cross-rhythm forced on a chosen lane for the later lanes to answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from audiogen.errors import RequestError
from audiogen.instruments import GROUP_OF, GROUPS, INSTRUMENTS, instruments_in
from audiogen.planner.data import BarHit, bar_fingerprint, syncopation_index
from audiogen.planner.model import KVCache
from audiogen.planner.steps import Steps
from audiogen.planner.tokens import (
    BAR,
    BOS,
    FEELS,
    MAX_BAR_TICKS,
    SYNC_BINS,
    VELOCITY_OF_BIN,
    BarCondition,
    encode_bar,
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
NEAR = 0.2  # a core version this near the request (see `Planner._gap`) ends the search
MAX_ROWS = 8  # fills written side by side at most
FILL_CANDIDATES = 4  # versions of a song's fill written at a time
MAX_FILL_ROWS = 32  # a song's fills (one context: the start of a phrase) side by side at most
FILL_DEPARTS = 0.5  # a fill's second half shares less than this with the groove's (Dice)
REGENERATED = ("hats", "cymbals", "toms", "perc")  # what a section changes; kick, snare stay
CRASH_VELOCITY = 112
VARIATION_BAND = (0.5, 0.9)  # Dice similarity of a section's bar to the core's it varies
GHOST_VELOCITY = 64  # a backbone hit softer than this is a ghost note, which a quiet part drops
DENSITY_SLOPE = 1.5  # a section 0.1 lower in energy plays at most 2^-0.15 = 90 % of the hits
# Variations of a given beat: the lanes written anew from each amount up (the kick stays).
VARY_LANES = ((0.0, ("perc", "toms")), (0.3, ("cymbals",)), (0.55, ("hats",)),
              (0.85, ("snare",)))  # fmt: skip


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
    form: tuple[Section, ...] | None = None  # a song's sections; None: one groove


@dataclass(frozen=True)
class Song:
    """A song as written: its quantised score; per distinct section, the bars of its
    variation of the core groove; and the (tick, instrument) of hits taken over from the core
    rather than written (a varied beat keeps their played timing and velocity)."""

    score: DrumScore
    core: list[list[tuple[int, str, int]]]
    variations: dict[str, list[list[tuple[int, str, int]]]]
    kept: frozenset[tuple[int, str]]


def vary_lanes(amount: float) -> frozenset[str]:
    """The lanes a variation of ``amount`` (0-1) writes anew; the others are the input's."""
    return frozenset(
        lane for start, lanes in VARY_LANES if amount > start or 0 < start <= amount
        for lane in lanes
    )  # fmt: skip


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
def _decoding() -> Iterator[None]:
    """Inference on one thread: one token at a time through a small network, thread
    hand-offs cost more than they save."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(threads)


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
        self.steps = Steps(self.model, folder)
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
        with _decoding():
            return self._plan(req)

    def song(self, req: PlanRequest) -> Song:
        """Write a song in ``req.form``: a core groove of CORE_BARS, then each distinct
        section as a variation of it (kick and snare kept; hats, cymbals, toms and percussion
        written again at the section's energy), fills ending every section but the last, and a
        crash on each section's downbeat."""
        if not req.form:
            raise ValueError("a song needs a form")
        with _decoding():
            gen = torch.Generator().manual_seed(req.seed)
            core: list[_Row] = []
            for _ in range(min(CORE_BARS, req.bars)):
                cache = self._context([r.words() for r in core])
                row, _ = self._bars(req, [], cache, gen, Job(energy=req.energy), [])
                core.append(row)
            return self._song(req, gen, [r.hits for r in core],
                              [r.words() for r in core], frozenset(REGENERATED))  # fmt: skip

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
        from audiogen.planner.data import estimate_feel

        if score.meter.ticks_per_bar > MAX_BAR_TICKS:
            raise RequestError(f"meter {score.meter}: bars longer than 12/8 cannot be varied")
        from audiogen.planner.arrange import parse_form

        core = core_bars(score)[1]
        feel, swing = estimate_feel(score)
        if feel not in FEELS:
            feel = "straight"
        energy = float(np.mean([self.energy_rank(_bar_hits(b), score.meter) for b in core]))
        form = parse_form(form, energy)
        req = PlanRequest(
            genre=genre or "none", bpm=score.bpm, bars=sum(s.bars for s in form),
            meter=score.meter, feel=feel, swing=swing if feel.startswith("swing") else 0.5,
            energy=energy, seed=seed, temperature=temperature * (0.8 + 0.4 * amount),
            form=form,
        )  # fmt: skip
        with _decoding():
            gen = torch.Generator().manual_seed(seed)
            words = [self._bar_words(req, bar) for bar in core]
            return self._song(req, gen, core, words, vary_lanes(amount),
                              fills=amount > 0, half_fills=amount < 0.5,
                              pull=2 * (1 - 2 * amount))  # fmt: skip

    def _plan(self, req: PlanRequest) -> DrumScore:
        if req.form:
            return self.song(req).score
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
            row, _ = self._bars(req, pending, cache, gen, Job(shape=shape(b)), [])
            core.append(row.hits)
            # The cache takes in the bar kept, all but its closing <bar>, which opens the next.
            self.model(torch.tensor([row.tokens[:-1]]), cache)
            pending = []
        # The phrase's last bar and the fills are written side by side after the same bars: a
        # fill takes the place of the phrase's last bar (bars 8, 16, ... of a two-bar phrase).
        by_bar: dict[int, list[tuple[int, str, int]]] = {}
        for i in range(0, max(len(fills), 1), MAX_ROWS):
            chunk = fills[i : i + MAX_ROWS]
            core_job = Job(shape=shape(core_n - 1)) if i == 0 else None
            fill_jobs = [Job("fill", shape=shape(b)) for b in chunk]
            row, rows = self._bars(req, pending, cache, gen, core_job, fill_jobs)
            if row is not None:
                core.append(row.hits)
            by_bar.update((b, r.hits) for b, r in zip(chunk, rows))
        song = [by_bar.get(b, core[b % core_n]) for b in range(req.bars)]
        if poly:  # the cross-rhythm keeps its own cycle in every bar, repeated or not
            voice = POLY_VOICE[req.poly_lane]
            for b in range(req.bars):
                others = [h for h in song[b] if GROUP_OF[h[1]] != req.poly_lane]
                song[b] = others + [(p, voice, _poly_velocity(i)) for i, p in enumerate(poly[b])]
        crashes = {b + 1 for b in fills if b + 1 < req.bars}
        sections = (Section("groove", 0, req.bars, req.energy),)
        return self._score(req, song, crashes, sections)

    # -- internals -----------------------------------------------------------------------------
    def _condition(
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

    def _bars(
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen, core: Job | None,
        fills: list[Job], heat: int = 0,
    ) -> tuple[_Row | None, list[_Row]]:  # fmt: skip
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
            n_core = CANDIDATES if core is not None and chosen is None else 0
            if not n_core and not todo:
                break
            jobs = [core] * n_core + [fills[i] for i in todo]
            rows = self._write(req, pending, cache, gen, jobs, attempt + heat)
            if n_core:
                versions = rows[:n_core]
                pool += [r for r in versions if not self._copied(r)]
                best = self._nearest(req, pool) if pool else None
                # A new version far from the request (a sparse bar the model only knows by
                # heart, say) is kept only when later rounds find none nearer.
                if best is not None and (self._gap(req, best) <= NEAR or attempt == TRIES - 1):
                    chosen = best
            for i, row in zip(todo, rows[n_core:]):
                written[i] = row
            todo = [i for i in todo if self._copied(written[i])]
        if core is not None and chosen is None:
            chosen = self._nearest(req, pool or versions)  # the model knows nothing else
        return chosen, written

    def _nearest(self, req: PlanRequest, rows: list[_Row]) -> _Row:
        """The version nearest the request (see `_gap`)."""
        return min(rows, key=lambda row: self._gap(req, row))

    def _gap(self, req: PlanRequest, row: _Row) -> float:
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
        return self.labeller.energy_rank(self._bar_energy(bar, meter))

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
        self, req: PlanRequest, pending: list[int], cache: KVCache, gen, jobs: list[Job],
        attempt: int = 0,
    ) -> list[_Row]:  # fmt: skip
        """Write one bar per job, all after the same context: ``cache`` (left as it is) plus
        the words in ``pending``. A retry (``attempt`` > 0) samples a little hotter, to leave a
        bar the model knows by heart."""
        n = len(jobs)
        temperature = req.temperature + RETRY_HEAT * attempt
        words = [self.vocab.ids(self._condition(req, j.section, j.energy).words()) for j in jobs]
        first = words[0]
        # Words every row shares are fed once: up to "tempo", and "energy" when all agree.
        same_energy = all(w[3] == first[3] for w in words)
        shared = pending + first[: 4 if same_energy else 3]
        work = cache.rows([0])
        logits = self.model(torch.tensor([shared]), work, last_only=True)[0, -1].numpy()
        work = work.rows([0] * n)
        if not same_energy:
            logits = self.model(torch.tensor([[w[3]] for w in words]), work, last_only=True)
            logits = logits[:, -1].numpy()
        else:
            logits = np.broadcast_to(logits, (n, len(logits)))
        if req.syncopation is None:  # the model chooses how syncopated each bar is
            syncs = [self._sample(self._sync_ids, logits[i, self._sync_ids], temperature,
                                  req.top_p, gen) for i in range(n)]  # fmt: skip
        else:
            syncs = [first[4]] * n
        kick = self._lane["kick"]
        tails = [[*w[len(shared) - len(pending) : 4], s, *w[5:], kick]
                 for w, s in zip(words, syncs)]  # fmt: skip
        heads = [shared + t for t in tails]
        fed = 0 if same_energy else 1  # the energy words already in the rows' cache
        logits = self.model(torch.tensor([t[fed:] for t in tails]), work, True)
        rows = [_Row(self, req, job, head, temperature) for job, head in zip(jobs, heads)]
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

    def _song(
        self, req: PlanRequest, gen, core: list[list[tuple[int, str, int]]],
        core_words: list[list[int]], regenerate: frozenset[str], fills: bool = True,
        half_fills: bool = False, pull: float | None = None,
    ) -> Song:  # fmt: skip
        """The song of ``req.form`` from a core groove (its bars' hits and words): variations
        writing the ``regenerate`` lanes anew per distinct section, density kept in the order
        of the sections' energies, then fills and crashes."""
        form = req.form
        n = len(core)
        level: dict[str, float] = {}
        for s in form:
            level.setdefault(s.name, s.energy)
        names = list(level)
        poly = cross_rhythm(req.polyrhythm, req.meter, req.bars) if req.polyrhythm else None
        variations: dict[str, list[list[tuple[int, str, int]]]] = {}
        words: dict[str, list[list[int]]] = {}
        if not regenerate:
            variations = {name: [list(bar) for bar in core] for name in names}
            words = {name: list(core_words) for name in names}
        else:
            # Each section's first bar, all side by side after the core phrase; then its later
            # bars, each after the section's bars before it.
            for j in range(n):
                jobs = {name: Job("groove", level[name], poly[j] if poly else None,
                                  _kept(core[j], regenerate)) for name in names}  # fmt: skip
                versions: dict[str, list[_Row]] = {name: [] for name in names}
                # The bars before this one, the same in every round: written into a cache once.
                if j == 0:
                    caches = dict.fromkeys(names, self._context(core_words))
                else:
                    caches = {name: self._context(words[name]) for name in names}
                todo = names
                for attempt in range(TRIES):  # a song's bars: rounds, hotter, until one varies
                    batches = [todo] if j == 0 else [[name] for name in todo]
                    for group in batches:
                        wanted = [jobs[name] for name in group for _ in range(CANDIDATES)]
                        rows = self._write(req, [], caches[group[0]], gen, wanted, attempt)
                        for i, name in enumerate(group):
                            versions[name] += rows[i * CANDIDATES : (i + 1) * CANDIDATES]
                    if pull is not None:
                        break
                    todo = [n for n in todo
                            if not any(self._varies(r, core[j]) for r in versions[n])]  # fmt: skip
                    if not todo:
                        break
                for name in names:
                    row = self._pick(req, versions[name], core[j], pull)
                    variations.setdefault(name, []).append(row.hits)
                    words.setdefault(name, []).append(row.words())
            if pull is None:  # what the model could not vary, a drummer's move does
                for name in names:
                    variations[name] = [_recolour(bar, core[j], level[name] >= req.energy)
                                        for j, bar in enumerate(variations[name])]  # fmt: skip
            _order_density(variations, level, regenerate, req, core)
        # The song's bars, then a fill ending each section but the last.
        bars: list[list[tuple[int, str, int]]] = []
        kept: set[tuple[int, str]] = set()
        filled: set[tuple[int, str]] = set()  # (tick, instrument) of the fills' hits
        ticks = req.meter.ticks_per_bar
        for s in form:
            for b in range(s.bars):
                j = b % n
                bars.append(list(variations[s.name][j]))
                kept.update(((s.first_bar + b) * ticks + p, i)
                            for p, i, _ in variations[s.name][j]
                            if GROUP_OF[i] not in regenerate)  # fmt: skip
        if fills:  # and a crash on each section's downbeat (the first's when it starts hard)
            self._fills(req, gen, form[:-1], bars, poly, half_fills, kept, filled)
            for s in form:
                if s.first_bar or s.energy >= 0.5:
                    crash = [h for h in bars[s.first_bar] if h[:2] != (0, "crash")]
                    bars[s.first_bar] = [*crash, (0, "crash", CRASH_VELOCITY)]
                    kept.add((s.first_bar * ticks, "crash"))
        if poly:  # the cross-rhythm keeps its own cycle in every bar
            voice = POLY_VOICE[req.poly_lane]
            for b in range(req.bars):
                others = [h for h in bars[b] if GROUP_OF[h[1]] != req.poly_lane]
                bars[b] = others + [(p, voice, _poly_velocity(i)) for i, p in enumerate(poly[b])]
                kept.update((b * ticks + p, voice) for p in poly[b])
        if regenerate:  # (amount 0 of a variation keeps the input as it is)
            groove = [{(p, i) for p, i, _ in core[(b - s.first_bar) % n]}
                      for s in form for b in range(s.first_bar, s.first_bar + s.bars)]  # fmt: skip
            _order_sections(bars, form, kept, filled, groove, ticks)
        score = self._score(req, bars, set(), form)
        return Song(score, [list(bar) for bar in core], variations, frozenset(kept))

    def _fills(self, req: PlanRequest, gen, sections, bars, poly, half: bool,
               kept: set[tuple[int, str]], filled: set[tuple[int, str]]) -> None:  # fmt: skip
        """Write the last bar of each of ``sections`` as a fill (its second half only for a
        section of 4 bars or fewer, or when ``half``). Fills are written as the drummers' fill
        takes in the data were, from the start of a phrase (after groove bars the model keeps
        the groove going), FILL_CANDIDATES at a time, in rounds (hotter each time) until each
        section has one that leaves the groove (FILL_DEPARTS) and is new to the training data;
        of those, the one nearest the section's energy is kept."""
        ticks = req.meter.ticks_per_bar
        cut = ticks // 2
        cache = self._context([])
        todo = list(sections)
        versions: dict[Section, list[_Row]] = {s: [] for s in sections}

        def good(row: _Row, s: Section) -> bool:
            groove = bars[s.first_bar + s.bars - 1]
            return self._departs(row, groove, cut) < FILL_DEPARTS and not self._copied(row)

        for attempt in range(TRIES):  # rounds until every section has a fill that departs
            jobs = [Job("fill", s.energy, poly[s.first_bar + s.bars - 1] if poly else None)
                    for s in todo for _ in range(FILL_CANDIDATES)]  # fmt: skip
            rows = [row for i in range(0, len(jobs), MAX_FILL_ROWS)
                    for row in self._write(req, [], cache, gen, jobs[i : i + MAX_FILL_ROWS],
                                           attempt)]  # fmt: skip
            for k, s in enumerate(todo):
                versions[s] += rows[k * FILL_CANDIDATES : (k + 1) * FILL_CANDIDATES]
            todo = [s for s in todo if not any(good(r, s) for r in versions[s])]
            if not todo:
                break
        for s in sections:
            last = s.first_bar + s.bars - 1
            chosen = [r for r in versions[s] if good(r, s)]
            row = self._nearest(req, chosen) if chosen else min(
                versions[s], key=lambda r: self._departs(r, bars[last], cut)
            )  # fmt: skip
            start = cut if half or s.bars <= 4 else 0
            fill = [h for h in bars[last] if h[0] < start]
            fill += [h for h in row.hits if h[0] >= start]
            kept.difference_update((last * ticks + p, i) for p, i, _ in bars[last] if p >= start)
            bars[last] = fill
            filled.update((last * ticks + p, i) for p, i, _ in fill if p >= start)

    @staticmethod
    def _departs(row: _Row, groove: list, cut: int) -> float:
        """How much a fill's hits from ``cut`` on share with the groove bar's (Dice)."""
        return _dice({(p, i) for p, i, _ in row.hits if p >= cut},
                     {(p, i) for p, i, _ in groove if p >= cut})  # fmt: skip

    def _pick(self, req: PlanRequest, rows: list[_Row], core: list, pull: float | None) -> _Row:
        """Of a section's versions of a bar: new to the training data if one is; then, with
        no ``pull``, the nearest the section's energy of those that share VARIATION_BAND of
        their hits with the core bar (the same song, not a copy), if any; with a ``pull`` (-2
        to 2), the nearest less ``pull`` times its similarity to the core bar (a variation's
        amount: toward the input, or away from it)."""
        fresh = [r for r in rows if not self._copied(r)] or rows
        if pull is None:
            return self._nearest(req, [r for r in fresh if self._varies(r, core)] or fresh)
        keys = {(p, i) for p, i, _ in core}
        return min(fresh, key=lambda r: self._gap(req, r)
                   - pull * _dice({(p, i) for p, i, _ in r.hits}, keys))  # fmt: skip

    def _varies(self, row: _Row, core: list) -> bool:
        """Whether a section's bar is new to the training data and shares VARIATION_BAND of
        its hits with the core bar it varies (Dice similarity of (position, instrument))."""
        low, high = VARIATION_BAND
        share = _dice({(p, i) for p, i, _ in row.hits}, {(p, i) for p, i, _ in core})
        return low <= share <= high and not self._copied(row)

    def _context(self, bars: list[list[int]]) -> KVCache:
        """A cache holding <bos> and the words of ``bars`` (at most the last two: the model
        learned from windows of three bars), ready for the next bar's words."""
        cache = KVCache(self.model.cfg)
        ids = [self.vocab.id(BOS)] + [w for bar in bars[-2:] for w in bar]
        self.model(torch.tensor([ids]), cache)
        return cache

    def _bar_words(self, req: PlanRequest, bar: list[tuple[int, str, int]]) -> list[int]:
        """The words of a bar the model did not write (a given beat's), as training wrote
        them: its conditioning measured from its hits, then its lanes; without the closing
        <bar>."""
        hits = _bar_hits(bar)
        condition = BarCondition(
            genre=req.genre if req.genre in self.vocab.genres else "none",
            tempo=tempo_bucket(req.bpm),
            energy=self.labeller.energy_bin(self._bar_energy(hits, req.meter)),
            sync=self.labeller.sync_bin(syncopation_index(hits, req.meter)),
            section="groove",
            feel=req.feel,
            meter=str(req.meter),
        )
        return self.vocab.ids(encode_bar(condition, bar))

    def _score(self, req: PlanRequest, song, crashes: set[int], sections) -> DrumScore:
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
            if b in crashes:
                hits[(b * bar_ticks, "crash")] = Hit(b * bar_ticks, "crash", CRASH_VELOCITY)
        return DrumScore(
            bpm=req.bpm,
            meter=req.meter,
            bars=req.bars,
            hits=tuple(hits.values()),
            sections=tuple(sections),
            provenance=Provenance(
                source="planner",
                genre=req.genre,
                feel=req.feel,
                swing=req.swing,
                seed=req.seed,
                models=(("planner", self.version),),
            ),  # fmt: skip
        )


def core_bars(score: DrumScore) -> tuple[int, list[list[tuple[int, str, int]]]]:
    """A given beat's core groove: its most repeated pair of bars (the first such pair on a
    tie; one bar for a one-bar beat). Returns the first bar's index and the bars, as
    (position, instrument, velocity) per bar."""
    ticks = score.meter.ticks_per_bar
    bars: list[list[tuple[int, str, int]]] = [[] for _ in range(score.bars)]
    for h in score.hits:
        bars[h.tick // ticks].append((h.tick % ticks, h.instrument, h.velocity))
    n = min(CORE_BARS, score.bars)
    pairs = [tuple(tuple(sorted((p, i) for p, i, _ in bars[b + k])) for k in range(n))
             for b in range(0, score.bars - n + 1, n)]  # fmt: skip
    counts: dict[tuple, int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    start = max(range(len(pairs)), key=lambda k: (bool(any(pairs[k])), counts[pairs[k]], -k))
    return start * n, [sorted(bars[start * n + k]) for k in range(n)]


def _recolour(bar: list[tuple[int, str, int]], core: list, louder: bool) -> list:
    """A section bar nearly the core's own (over VARIATION_BAND's top) changed as a drummer
    changes a part, one stroke of the time-keeping voice (closed hat or ride, whichever plays
    more) at a time until it is a variation: in a louder section the strokes move to the
    other voice (hats to the ride, the ride to the hats), in a quieter one the strokes off
    the beat's 8ths drop out."""
    keys = {(p, i) for p, i, _ in core}
    out = list(bar)
    counts = {v: sum(i == v for _, i, _ in out) for v in ("hat_closed", "ride")}
    voice = max(counts, key=counts.get)
    other = "ride" if voice == "hat_closed" else "hat_closed"
    strokes = [p for p, i, _ in out if i == voice]
    if not louder:
        strokes = [p for p in strokes if p % (TICKS_PER_QUARTER // 2)][::-1]
    for p in strokes:
        if _dice({(q, i) for q, i, _ in out}, keys) <= VARIATION_BAND[1]:
            break
        k = next(k for k, h in enumerate(out) if h[:2] == (p, voice))
        if louder and (p, other) not in {(q, i) for q, i, _ in out}:
            out[k] = (p, other, out[k][2])
        elif not louder:
            del out[k]
    return out


def _dice(a: set, b: set) -> float:
    """How much two sets of hits share: 1 the same, 0 nothing in common."""
    return 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))


def _bar_hits(bar: list[tuple[int, str, int]]) -> list[BarHit]:
    return [BarHit(p, i, v) for p, i, v in bar]


def _kept(bar: list[tuple[int, str, int]], regenerate: frozenset[str]) -> dict[str, list]:
    """The lanes of ``bar`` that a variation keeps as they are."""
    return {g: [h for h in bar if GROUP_OF[h[1]] == g] for g in GROUPS if g not in regenerate}


def _order_density(
    variations: dict[str, list[list]], level: dict[str, float], regenerate: frozenset[str],
    req: PlanRequest, core: list[list],
) -> None:  # fmt: skip
    """Thin sections so that each plays fewer hits a bar than any section of higher energy,
    by a factor that grows with the energy gap (DENSITY_SLOPE): the softest hits of the lanes
    written anew go first (those whose loss keeps the bar within VARIATION_BAND of its
    ``core`` bar before the others), as a drummer holds back in an intro or a breakdown."""
    low, high = VARIATION_BAND
    keys = [{(p, i) for p, i, _ in bar} for bar in core]

    def strays(bar: list, j: int, hit: tuple[int, str]) -> bool:
        return not low <= _dice({(p, i) for p, i, _ in bar} - {hit}, keys[j]) <= high

    density = {name: sum(map(len, bars)) / len(bars) for name, bars in variations.items()}
    poly_lane = req.poly_lane if req.polyrhythm else None
    for name in sorted(variations, key=lambda k: -level[k]):
        caps = [density[o] * 2 ** (-DENSITY_SLOPE * (level[o] - level[name]))
                for o in variations if level[o] > level[name]]  # fmt: skip
        bars = variations[name]
        while caps and sum(map(len, bars)) / len(bars) > min(caps):
            loose = [(strays(bar, b, (p, i)), v, -p, b, k) for b, bar in enumerate(bars)
                     for k, (p, i, v) in enumerate(bar)
                     if GROUP_OF[i] in regenerate and GROUP_OF[i] != poly_lane]  # fmt: skip
            if not loose:
                break
            *_, b, k = min(loose)
            del bars[b][k]
        density[name] = sum(map(len, bars)) / len(bars)


def _order_sections(
    bars: list[list], form: tuple[Section, ...], fixed: set[tuple[int, str]],
    fills: set[tuple[int, str]], groove: list[set], ticks: int,
) -> None:  # fmt: skip
    """The song-wide pass of `_order_density`, fills and crashes counted: each section thinned
    to fewer hits a bar than any section of higher energy, by the energy gap's factor. The
    softest written hits go first (those whose loss keeps the bar near VARIATION_BAND of the
    core groove's, in ``groove``, before the others), then those of the fill (in ``fills``); of
    those in ``fixed`` ((tick, instrument): the groove's backbone, crashes, a cross-rhythm)
    only ghost notes may go, and only after them."""
    low, high = VARIATION_BAND

    def strays(b: int, hit: tuple[int, str]) -> bool:
        """Whether bar b without ``hit`` leaves VARIATION_BAND of its core bar."""
        share = _dice({(p, i) for p, i, _ in bars[b]} - {hit}, groove[b])
        return not low <= share <= high

    hits = [sum(len(bars[b]) for b in range(s.first_bar, s.first_bar + s.bars)) for s in form]
    for k in sorted(range(len(form)), key=lambda k: -form[k].energy):
        s = form[k]
        caps = [hits[o] / form[o].bars * 2 ** (-DENSITY_SLOPE * (form[o].energy - s.energy))
                for o in range(len(form)) if form[o].energy > s.energy]  # fmt: skip
        while caps and hits[k] / s.bars > min(caps):
            loose = [(2 if (b * ticks + p, name) in fixed else (b * ticks + p, name) in fills,
                      strays(b, (p, name)), v, -p, b, i)
                     for b in range(s.first_bar, s.first_bar + s.bars)
                     for i, (p, name, v) in enumerate(bars[b])
                     if (b * ticks + p, name) not in fixed or v < GHOST_VELOCITY]  # fmt: skip
            if not loose:
                break
            *_, b, i = min(loose)
            del bars[b][i]
            hits[k] -= 1


def _poly_velocity(index: int) -> int:
    return 110 if index == 0 else 88  # the cycle's first hit is accented


class _Row:
    """One bar being written: the constraints (meter, grid, lane order, one hit per class per
    tick) and the controls (syncopation push, a forced cross-rhythm lane) as a state machine.
    ``tokens`` are the bar's words as fed, from its conditioning to its closing <bar>."""

    def __init__(self, planner: Planner, req: PlanRequest, job: Job, head: list[int],
                 temperature: float):  # fmt: skip
        self.p, self.req, self.job, self.temperature = planner, req, job, temperature
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
        self.poly = sorted(set(job.shape)) if job.shape is not None else None
        self.keep = job.keep or {}
        self._enter_lane()

    def bar(self) -> list[BarHit]:
        return [BarHit(p, i, v) for p, i, v in self.hits]

    def words(self) -> list[int]:
        """The bar's words from its <bar> on, without the closing <bar> (which opens the next
        bar's words)."""
        start = self.tokens.index(self.p.vocab.id(BAR))
        return self.tokens[start:-1]

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
        elif group in self.keep:  # a lane given in advance: read, not written
            order = {name: i for i, name in enumerate(INSTRUMENTS)}
            for t, instrument, velocity in sorted(self.keep[group],
                                                  key=lambda h: (h[0], order[h[1]])):  # fmt: skip
                self.forced += [
                    self.p._pos0 + t,
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
