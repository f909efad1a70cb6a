"""A genre classifier over drum bars: what a 1-2 bar segment plays, as features, and the models
fitted on them that name its genre. It scores the planner's genre plausibility (its benchmark)
and tells which genres a beat is nearest to."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from audiogen.instruments import GROUP_OF, GROUPS, INSTRUMENTS
from audiogen.planner.bars import Bar, Phrase, syncopation_index
from audiogen.planner.genres import FEELS, GENRES
from audiogen.score import TICKS_PER_QUARTER, Meter

_T = TypeVar("_T")
# From full feature rows ``(segments, N_FEATURES)`` to genre probabilities ``(segments, genres)``,
# genres in the order of `GENRES`.
Predictor = Callable[[np.ndarray], np.ndarray]

CELLS = 48  # per bar, whatever the meter: 16ths, 8th and 16th triplets, 32nds all land on a cell
CLASS_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
GROUP_INDEX = {g: i for i, g in enumerate(GROUPS)}
# What a drummer hears as one voice: the groups split where genres differ (a clap or a rim on
# the backbeat, open against closed hats, ride against crash); every percussion class is "perc".
ROLES = ("kick", "snare", "clap", "rim", "hat_closed", "hat_open", "ride", "crash", "toms", "perc")
ROLE_OF = {"kick": "kick", "snare": "snare", "clap": "clap", "rim": "rim",
           "hat_closed": "hat_closed", "hat_pedal": "hat_closed", "hat_open": "hat_open",
           "ride": "ride", "ride_bell": "ride", "crash": "crash", "splash": "crash",
           "china": "crash", "tom_high": "toms", "tom_mid": "toms", "tom_low": "toms"}  # fmt: skip
ROLE_INDEX = {inst: ROLES.index(ROLE_OF.get(inst, "perc")) for inst in INSTRUMENTS}
# Where in the quarter a hit sits (ticks): on the beat, the off-beat 8th, the other 16ths, the
# 8th triplets, anything finer; and how many such places a quarter has.
LEVEL_OF_TICK = {0: 0, 12: 1, 6: 2, 18: 2, 8: 3, 16: 3}
LEVEL_SLOTS = np.array([1.0, 1.0, 2.0, 2.0, 1.0])
BEATS_SEEN = 4  # onsets on the first four beats of the bar
GENRE_LOW = np.log2([g.bpm_range[0] / 120 for g in GENRES.values()])
GENRE_HIGH = np.log2([g.bpm_range[1] / 120 for g in GENRES.values()])
TEMPO_FALLOFF = 0.1  # octaves (7 %): how fast a genre's weight falls outside its tempo range
# The feature row's three blocks, in order: detail, description, requested (see `features`).
N_DETAIL = len(GROUPS) * CELLS + len(INSTRUMENTS) + 2 * len(GROUPS)
N_DESCRIPTION = 3 + len(ROLES) * (2 * len(LEVEL_SLOTS) + BEATS_SEEN + 2)
REQUESTED = len(FEELS) + 2 + 2 * len(GENRES)  # feel, swing, tempo and where it sits per genre
TEMPO_COLUMN = N_DETAIL + N_DESCRIPTION + len(FEELS) + 1
N_FEATURES = N_DETAIL + N_DESCRIPTION + REQUESTED

MLP_SEEDS = 3  # averaged: one seed's MLP can flip a held-out pattern on its own
# The classifier's matrices are small: on a shared machine a second torch thread waits more than
# it works (2 threads ran 3-5x slower than 1 at load 4 on 2 cores), and 1 thread gives the same
# sums on any machine.
CLASSIFIER_THREADS = 1


def features(bars: Sequence[Bar], meter: Meter, bpm: float, feel: str,
             swing: float) -> np.ndarray:  # fmt: skip
    """What the classifier sees of a 1-2 bar segment, in three blocks (averaged over the bars).

    Detail: onset occupancy per lane group on 48 cells a bar, hits per quarter per instrument
    class and per group, mean velocity per group. Description: overall velocity mean and
    spread, the mean `syncopation_index`; per role (`ROLES`), the share of each metric place
    played (on the beat, off-beat 8th, other 16ths, 8th triplets, finer) and its mean velocity,
    onsets on each of the first four beats, hits per quarter, mean velocity. Requested (what a
    request sets): the feel (one-hot), the swing, the tempo (log2 of bpm / 120) and, per genre,
    where it sits in the genre's range (-1 at the low end, 1 at the high end, clipped to ±3)
    and whether it is inside. No meter field: the grid shows it.

    Args:
        bars: the segment's bars, hits on the grid.
        meter: their meter.
        bpm: their tempo.
        feel: one of `FEELS`.
        swing: the swing ratio (0.5 straight).

    Returns:
        A row of `N_FEATURES` floats.
    """
    per_bar = meter.ticks_per_bar
    beat = meter.beat_ticks
    quarters = per_bar / TICKS_PER_QUARTER * len(bars)
    grid = np.zeros((len(GROUPS), CELLS))
    classes = np.zeros(len(INSTRUMENTS))
    group_hits = np.zeros(len(GROUPS))
    group_vel = np.zeros(len(GROUPS))
    levels = np.zeros((len(ROLES), len(LEVEL_SLOTS)))
    level_vel = np.zeros((len(ROLES), len(LEVEL_SLOTS)))
    level_hits = np.zeros((len(ROLES), len(LEVEL_SLOTS)))
    on_beats = np.zeros((len(ROLES), BEATS_SEEN))
    role_hits = np.zeros(len(ROLES))
    role_vel = np.zeros(len(ROLES))
    velocities: list[float] = []
    for bar in bars:
        seen = np.zeros((len(GROUPS), CELLS))
        places = set()
        for h in bar:
            g = GROUP_INDEX[GROUP_OF[h.instrument]]
            r = ROLE_INDEX[h.instrument]
            level = LEVEL_OF_TICK.get(h.position % TICKS_PER_QUARTER, 4)
            seen[g, h.position * CELLS // per_bar] = 1.0
            classes[CLASS_INDEX[h.instrument]] += 1
            group_hits[g] += 1
            group_vel[g] += h.velocity
            role_hits[r] += 1
            role_vel[r] += h.velocity
            level_hits[r, level] += 1
            level_vel[r, level] += h.velocity
            velocities.append(h.velocity)
            places.add((r, h.position))
        grid += seen
        for r, position in places:  # two instruments of one role on one place: one onset
            levels[r, LEVEL_OF_TICK.get(position % TICKS_PER_QUARTER, 4)] += 1
            if position % beat == 0 and position // beat < BEATS_SEEN:
                on_beats[r, position // beat] += 1
    grid /= len(bars)
    group_vel = np.where(group_hits > 0, group_vel / np.maximum(group_hits, 1) / 127, 0.0)
    role_vel = np.where(role_hits > 0, role_vel / np.maximum(role_hits, 1) / 127, 0.0)
    level_vel = np.where(level_hits > 0, level_vel / np.maximum(level_hits, 1) / 127, 0.0)
    v = np.array(velocities or [0.0]) / 127
    sync = float(np.mean([syncopation_index(b, meter) for b in bars]))
    tempo = math.log2(bpm / 120)
    mid, half = (GENRE_LOW + GENRE_HIGH) / 2, np.maximum((GENRE_HIGH - GENRE_LOW) / 2, 0.05)
    inside = (tempo >= GENRE_LOW - 1e-9) & (tempo <= GENRE_HIGH + 1e-9)
    return np.concatenate([
        grid.ravel(), classes / quarters, group_hits / quarters, group_vel,
        [v.mean(), v.std(), sync], (levels / (LEVEL_SLOTS * quarters)).ravel(),
        level_vel.ravel(), (on_beats / len(bars)).ravel(), role_hits / quarters, role_vel,
        [feel == f for f in FEELS], [swing, tempo], np.clip((tempo - mid) / half, -3, 3), inside,
    ])  # fmt: skip


def tempo_weight(x: np.ndarray) -> np.ndarray:
    """Per row of features and genre: 1 where the tempo lies in the genre's declared range, a
    Gaussian fall-off of `TEMPO_FALLOFF` octaves outside it. Prior knowledge from `genres.py`,
    not learned; it decides between grooves that are alike but for tempo (techno and house)."""
    tempo = x[:, TEMPO_COLUMN][:, None]
    outside = np.maximum(GENRE_LOW - tempo, 0) + np.maximum(tempo - GENRE_HIGH, 0)
    return np.exp(-0.5 * (outside / TEMPO_FALLOFF) ** 2)


def segments(bars: Sequence[_T]) -> list[list[_T]]:
    """Consecutive pairs of bars (a last odd bar alone)."""
    return [list(bars[i : i + 2]) for i in range(0, len(bars), 2)]


def phrase_rows(phrases: Sequence[Phrase]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, genre index and source of every segment of ``phrases`` (empty ones skipped)."""
    genre_index = {g: i for i, g in enumerate(GENRES)}
    xs, ys, sources = [], [], []
    for p in phrases:
        for seg in segments(p.bars):
            if not any(seg):
                continue
            if p.genre is None:
                raise ValueError(f"{p.source}: a phrase without a genre cannot label a segment")
            xs.append(features(seg, p.meter, p.bpm, p.feel, p.swing))
            ys.append(genre_index[p.genre])
            sources.append(p.source)
    return np.array(xs).reshape(-1, N_FEATURES), np.array(ys, dtype=np.int64), sources


@contextmanager
def classifier_threads() -> Iterator[None]:
    """Torch on `CLASSIFIER_THREADS` threads inside (fitting and predicting), then as it was."""
    before = torch.get_num_threads()
    torch.set_num_threads(CLASSIFIER_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_classifier(x: np.ndarray, y: np.ndarray, kind: str, requested: bool) -> Predictor:
    """The genre classifier: "ensemble" (the mean of both below), "logreg" (every feature) or
    "mlp" (the description, `MLP_SEEDS` seeds averaged); with the requested block, probabilities
    are then weighed by `tempo_weight`.

    Args:
        x: feature rows ``(segments, N_FEATURES)`` (see `features`).
        y: their genre indices (in the order of `GENRES`).
        kind: "ensemble", "logreg" or "mlp".
        requested: whether feel, swing and tempo count; ``False`` leaves them out altogether.

    Returns:
        A function from full feature rows to probabilities.
    """
    last = N_FEATURES if requested else N_FEATURES - REQUESTED
    everything = np.arange(last)
    description = np.arange(N_DETAIL, last)
    experts: list[tuple[np.ndarray, Predictor]] = []
    if kind in ("ensemble", "logreg"):
        experts.append((everything, fit_logreg(x[:, everything], y)))
    if kind in ("ensemble", "mlp"):
        mlps = [fit_mlp(x[:, description], y, seed=s) for s in range(MLP_SEEDS)]
        experts.append((description, lambda z: np.mean([m(z) for m in mlps], axis=0)))

    def predict(z: np.ndarray) -> np.ndarray:
        probs = np.mean([model(z[:, columns]) for columns, model in experts], axis=0)
        return probs / np.maximum(probs.sum(1, keepdims=True), 1e-12)

    return with_tempo_prior(predict) if requested else predict


def fit_logreg(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> LogReg:
    """Softmax regression, class-balanced, L2 on the weights, fitted to convergence by L-BFGS
    (deterministic: no sampling). Returns the fitted model, a function from features to
    probabilities."""
    mean, std = _stats(x)
    scale = _standardise(x)
    xt, yt = scale(x), torch.tensor(y)
    model = torch.nn.Linear(x.shape[1], len(GENRES))
    loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(y))
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=200, history_size=20,
                            line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt) + l2 * (model.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return LogReg(mean, std, model.weight.numpy().copy(), model.bias.numpy().copy())


@dataclass(frozen=True)
class LogReg:
    """A fitted softmax regression as arrays: features are standardised by ``mean`` and
    ``std``, then ``weight`` (genres, features) and ``bias`` give the logits. Saved and loaded
    as one .npz (`save`, `load`), so a fitted model can ship without its training data."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    def __call__(self, z: np.ndarray) -> np.ndarray:
        scaled = ((z - self.mean) / self.std).astype(np.float32)
        logits = scaled @ self.weight.T + self.bias
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        from audiogen.files import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, mean=self.mean, std=self.std, weight=self.weight, bias=self.bias)

    @classmethod
    def load(cls, path: Path) -> LogReg:
        with np.load(path) as data:
            return cls(data["mean"], data["std"], data["weight"], data["bias"])


def with_tempo_prior(predict: Predictor) -> Predictor:
    """``predict``'s probabilities weighed by `tempo_weight` and normalised again."""

    def weighed(z: np.ndarray) -> np.ndarray:
        probs = predict(z) * tempo_weight(z)
        return probs / np.maximum(probs.sum(1, keepdims=True), 1e-12)

    return weighed


def fit_mlp(x: np.ndarray, y: np.ndarray, seed: int, steps: int = 400) -> Predictor:
    """A one-hidden-layer MLP with heavy input dropout (half of what it sees is hidden at each
    step, so no single instrument's lane decides), class-balanced, seeded. Returns a function
    from features to probabilities."""
    torch.manual_seed(seed)
    scale = _standardise(x)
    xt, yt = scale(x), torch.tensor(y)
    model = torch.nn.Sequential(
        torch.nn.Dropout(0.5), torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(),
        torch.nn.Dropout(0.3), torch.nn.Linear(256, len(GENRES)),
    )  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(y))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = torch.randint(len(xt), (1024,), generator=gen)
        loss = loss_fn(model(xt[batch]), yt[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return torch.no_grad()(lambda z: torch.softmax(model(scale(z)), dim=1).numpy())


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and spread of ``x``'s columns (a constant column's spread stays above 0)."""
    return x.mean(0), x.std(0) + 1e-3


def _standardise(x: np.ndarray) -> Callable[[np.ndarray], torch.Tensor]:
    """Scales rows by the mean and spread of ``x``'s columns."""
    mean, std = _stats(x)
    return lambda z: torch.tensor((z - mean) / std, dtype=torch.float32)


def _class_weights(y: np.ndarray) -> torch.Tensor:
    """Weights that balance the genres (Groove is mostly rock and funk)."""
    counts = np.bincount(y, minlength=len(GENRES)).astype(np.float64)
    weight = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(GENRES), 0.0)
    return torch.tensor(weight, dtype=torch.float32)
