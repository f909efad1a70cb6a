"""Benchmarks of the planner (the "Done when" targets of its issue), printed as JSON and as Markdown
for BENCHMARKS.md, and saved as JSON in benchmarks/results/planner.json.

    python benchmarks/bench_planner.py                 # everything, ~9 min on 2 cores
    python benchmarks/bench_planner.py --only genre --seeds 5

1. genre: a genre classifier trained on real patterns only (Groove train split + the style
   library, one library beat pattern in four of every genre held out with all its variations,
   four folds) is scored on held-out real patterns (those library patterns + the Groove test
   split), then on generated beats (every genre at its defaults); ratio generated / real per genre.
2. controls: syncopation sweep (Spearman of requested vs `syncopation_index`), cross-rhythms found
   by a blind detector in the forced lane alone, energy sweep (density and velocity), exact tempo.
3. novelty: the share of generated bars (sets of (position, instrument)) equal to a training bar.
4. speed: `Planner.load()` in a fresh process, and planning 32 bars after loading.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from audiogen.instruments import GROUP_OF, GROUPS, INSTRUMENTS
from audiogen.planner.data import (
    BarHit,
    Phrase,
    density,
    load_groove,
    load_library,
    syncopation_index,
)
from audiogen.planner.generate import POLYRHYTHMS, Planner, PlanRequest
from audiogen.planner.genres import FAMILIES, FEELS, GENRES, Genre
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Meter

REPO = Path(__file__).resolve().parents[1]
GROOVE = REPO.parent / "shared" / "datasets" / "groove"
log = logging.getLogger("bench_planner")

CELLS = 48  # per bar, whatever the meter: 16ths, 8th and 16th triplets, 32nds all land on a cell
FOLDS = 4  # every genre has at least four library beat patterns
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
SWEEP_GENRES = ("hip-hop", "house", "funk", "rock", "reggaeton", "afro-cuban")
POLY_SETUPS = (("house", "4/4"), ("funk", "4/4"), ("hip-hop", "4/4"), ("afro-cuban", "6/8"),
               ("rock", "6/8"))  # fmt: skip
POLY_LANES = ("perc", "hats", "cymbals")
SPEED_GENRES = ("hip-hop", "house", "jazz", "afro-cuban", "trap")


# -- requests and scores ------------------------------------------------------------------------


def default_request(genre: Genre, seed: int, bars: int = 8, **changes) -> PlanRequest:
    """A request at the genre's defaults: tempo, first meter, first feel and its swing."""
    meter = Meter.parse(changes.pop("meter", genre.meters[0]))
    feel = genre.feels[0]
    swing = genre.default_swing if feel.startswith("swing") else 0.5
    return PlanRequest(genre=genre.name, bpm=genre.default_bpm, bars=bars, meter=meter, feel=feel,
                       swing=swing, seed=seed, **changes)  # fmt: skip


def score_bars(score: DrumScore) -> list[tuple[BarHit, ...]]:
    """The score's bars as `BarHit`s on the grid (the planner's offsets are only its swing)."""
    per_bar = score.meter.ticks_per_bar
    bars: list[list[BarHit]] = [[] for _ in range(score.bars)]
    for h in score.hits:
        bars[h.tick // per_bar].append(BarHit(h.tick % per_bar, h.instrument, h.velocity))
    return [tuple(sorted(b, key=lambda h: (h.position, h.instrument))) for b in bars]


class Generator:
    """The planner plus a record of every request it served: tempo asked and got, and the
    requests that raised (counted and reported, not fatal: one bad request must not hide the
    other numbers)."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.tempo_checks: list[tuple[float, float]] = []
        self.errors: list[dict] = []
        self.seconds = 0.0

    def plan(self, req: PlanRequest) -> DrumScore | None:
        t = time.perf_counter()
        try:
            score = self.planner.plan(req)
        except Exception as exc:  # reported with the results
            self.errors.append({"request": _describe(req), "error": f"{type(exc).__name__}: {exc}"})
            log.warning("plan failed: %s: %s", _describe(req), exc)
            return None
        finally:
            self.seconds += time.perf_counter() - t
        self.tempo_checks.append((req.bpm, score.bpm))
        return score


def _describe(req: PlanRequest) -> str:
    extra = [f"{k}={getattr(req, k)}" for k in ("energy", "syncopation", "polyrhythm")
             if getattr(req, k) not in (None, 0.5)]  # fmt: skip
    if req.polyrhythm:
        extra.append(f"poly_lane={req.poly_lane}")
    return " ".join([req.genre, f"{req.bpm:g}bpm", str(req.meter), req.feel,
                     f"seed={req.seed}", *extra])  # fmt: skip


# -- 1. genre plausibility ----------------------------------------------------------------------

CLASS_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
GROUP_INDEX = {g: i for i, g in enumerate(GROUPS)}
REQUESTED = len(FEELS) + 2  # the last columns: feel, swing, tempo (what a request sets)
N_FEATURES = len(GROUPS) * CELLS + len(INSTRUMENTS) + 2 * len(GROUPS) + 3 + REQUESTED
MIN_REAL_ACC = 0.2  # below this (4× chance) real material is not recognised: no ratio


def features(bars: list[tuple[BarHit, ...]], meter: Meter, bpm: float, feel: str,
             swing: float) -> np.ndarray:  # fmt: skip
    """What the classifier sees of a 1-2 bar segment: onset occupancy per lane group on 48 cells
    a bar (averaged over the bars), hits per quarter per instrument class and per group, mean
    velocity per group, overall velocity mean and spread, the mean `syncopation_index`, and
    last what a request sets: the feel (one-hot), the swing and the tempo (log2 of bpm / 120).
    No meter field: the grid shows it."""
    per_bar = meter.ticks_per_bar
    quarters = per_bar / TICKS_PER_QUARTER * len(bars)
    grid = np.zeros((len(GROUPS), CELLS))
    classes = np.zeros(len(INSTRUMENTS))
    group_hits = np.zeros(len(GROUPS))
    group_vel = np.zeros(len(GROUPS))
    velocities = []
    for bar in bars:
        seen = np.zeros((len(GROUPS), CELLS))
        for h in bar:
            g = GROUP_INDEX[GROUP_OF[h.instrument]]
            seen[g, h.position * CELLS // per_bar] = 1.0
            classes[CLASS_INDEX[h.instrument]] += 1
            group_hits[g] += 1
            group_vel[g] += h.velocity
            velocities.append(h.velocity)
        grid += seen
    grid /= len(bars)
    group_vel = np.where(group_hits > 0, group_vel / np.maximum(group_hits, 1) / 127, 0.0)
    v = np.array(velocities or [0.0]) / 127
    sync = float(np.mean([syncopation_index(b, meter) for b in bars]))
    return np.concatenate([grid.ravel(), classes / quarters, group_hits / quarters, group_vel,
                           [v.mean(), v.std(), sync], [feel == f for f in FEELS],
                           [swing, math.log2(bpm / 120)]])  # fmt: skip


def segments(bars) -> list[list]:
    """Consecutive pairs of bars (a last odd bar alone)."""
    return [list(bars[i : i + 2]) for i in range(0, len(bars), 2)]


def phrase_rows(phrases: list[Phrase]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, genre index and source of every segment of ``phrases``."""
    genre_index = {g: i for i, g in enumerate(GENRES)}
    xs, ys, sources = [], [], []
    for p in phrases:
        for seg in segments(p.bars):
            if not any(seg):
                continue
            xs.append(features(seg, p.meter, p.bpm, p.feel, p.swing))
            ys.append(genre_index[p.genre])
            sources.append(p.source)
    return np.array(xs), np.array(ys, dtype=np.int64), sources


def fit_classifier(x: np.ndarray, y: np.ndarray, seed: int, kind: str):
    """A seeded softmax classifier (logistic regression or a one-hidden-layer MLP) with class
    weights that balance the genres; returns a function from features to probabilities."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-3
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y)
    n_classes = len(GENRES)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weight = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
    if kind == "mlp":
        model = torch.nn.Sequential(
            torch.nn.Dropout(0.2), torch.nn.Linear(x.shape[1], 128), torch.nn.ReLU(),
            torch.nn.Dropout(0.3), torch.nn.Linear(128, n_classes),
        )  # fmt: skip
        epochs, decay = 40, 1e-3
    else:
        model = torch.nn.Linear(x.shape[1], n_classes)
        epochs, decay = 60, 1e-2
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=decay)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight, dtype=torch.float32))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(order), 256):
            batch = order[i : i + 256]
            loss = loss_fn(model(xt[batch]), yt[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    @torch.no_grad()
    def predict(z: np.ndarray) -> np.ndarray:
        zt = torch.tensor((z - mean) / std, dtype=torch.float32)
        return torch.softmax(model(zt), dim=1).numpy()

    return predict


def library_folds(library: list[Phrase]) -> dict[str, int]:
    """Library pattern (its source without "#vN") → the fold that holds it out; fills: -1."""
    beats: dict[str, list[str]] = {}
    for p in library:
        base = p.source.split("#")[0]
        if p.kind == "beat" and base not in beats.setdefault(p.genre, []):
            beats[p.genre].append(base)
    out = {p.source.split("#")[0]: -1 for p in library}
    for names in beats.values():
        for i, name in enumerate(sorted(names)):
            out[name] = i % FOLDS
    return out


def generate_defaults(gen: Generator, seeds: int) -> list[tuple[str, PlanRequest, list]]:
    """``seeds`` beats of 8 bars per genre at its defaults: (genre, request, bars)."""
    log.info("generating %d beats at the genres' defaults", len(GENRES) * seeds)
    out = []
    for name, genre in GENRES.items():
        for s in range(seeds):
            req = default_request(genre, seed=s)
            score = gen.plan(req)
            if score is not None:
                out.append((name, req, score_bars(score)))
    return out


def _folds(data: dict, classifier: str, columns: slice) -> dict:
    """Train one classifier per fold on real material and count, per genre: held-out library
    and Groove test segments right, generated segments and beats right (genre and family),
    and where generated segments went."""
    n = len(GENRES)
    family = np.array([list(FAMILIES).index(g.family) for g in GENRES.values()])
    c = {k: np.zeros(n) for k in ("lib", "lib_family", "gt", "gt_family", "gen", "gen_family",
                                  "gen_beat")}  # fmt: skip
    c["confusion"] = np.zeros((n, n))
    y_lib, y_gt, y_gen, beat_y = data["y_lib"], data["y_gt"], data["y_gen"], data["beat_y"]
    for fold in range(FOLDS):
        log.info("genre classifier, fold %d of %d", fold + 1, FOLDS)
        train = data["lib_fold"] != fold
        x = np.concatenate([data["x_groove"], data["x_lib"][train]])[:, columns]
        y = np.concatenate([data["y_groove"], y_lib[train]])
        predict = fit_classifier(x, y, seed=fold, kind=classifier)
        held = data["lib_fold"] == fold
        pred = predict(data["x_lib"][held][:, columns]).argmax(1)
        np.add.at(c["lib"], y_lib[held], pred == y_lib[held])
        np.add.at(c["lib_family"], y_lib[held], family[pred] == family[y_lib[held]])
        pred = predict(data["x_gt"][:, columns]).argmax(1)
        np.add.at(c["gt"], y_gt, (pred == y_gt) / FOLDS)
        np.add.at(c["gt_family"], y_gt, (family[pred] == family[y_gt]) / FOLDS)
        probs = predict(data["x_gen"][:, columns])
        pred = probs.argmax(1)
        np.add.at(c["gen"], y_gen, (pred == y_gen) / FOLDS)
        np.add.at(c["gen_family"], y_gen, (family[pred] == family[y_gen]) / FOLDS)
        np.add.at(c["confusion"], (y_gen, pred), 1 / FOLDS)
        # per beat: the genre with the highest summed log-probability over the beat's segments
        logp = np.zeros((len(beat_y), n))
        np.add.at(logp, data["beat_of"], np.log(probs + 1e-9))
        np.add.at(c["gen_beat"], beat_y, (logp.argmax(1) == beat_y) / FOLDS)
    return c


def _share(right: float, total: float) -> float | None:
    return float(right / total) if total else None


def _per_genre(c: dict, totals: dict) -> list[dict]:
    names = list(GENRES)
    rows = []
    for i, name in enumerate(names):
        real_n = totals["lib"][i] + totals["gt"][i]
        real = _share(c["lib"][i] + c["gt"][i], real_n)
        generated = _share(c["gen"][i], totals["gen"][i]) or 0.0  # no beat at all: 0
        top = np.argsort(-c["confusion"][i])[:3]
        row_sum = c["confusion"][i].sum()
        rows.append({
            "genre": name,
            "real_library_segments": int(totals["lib"][i]),
            "real_groove_test_segments": int(totals["gt"][i]),
            "real_library_acc": _share(c["lib"][i], totals["lib"][i]),
            "real_groove_test_acc": _share(c["gt"][i], totals["gt"][i]),
            "real_acc": real,
            "real_family_acc": _share(c["lib_family"][i] + c["gt_family"][i], real_n),
            "generated_beats": int(totals["beats"][i]),
            "generated_acc": generated,
            "generated_beat_acc": _share(c["gen_beat"][i], totals["beats"][i]),
            "generated_family_acc": _share(c["gen_family"][i], totals["gen"][i]),
            "ratio": generated / real if real is not None and real >= MIN_REAL_ACC else None,
            "generated_as": {names[j]: float(c["confusion"][i, j] / row_sum) for j in top
                             if c["confusion"][i, j] > 0},
        })  # fmt: skip
    return rows


def bench_genre(generated: list, groove: list[Phrase], library: list[Phrase],
                classifier: str) -> dict:  # fmt: skip
    names = list(GENRES)
    groove_train = [p for p in groove if p.split == "train" and p.genre]
    groove_test = [p for p in groove if p.split == "test" and p.genre and p.kind == "beat"]
    data: dict = {}
    data["x_groove"], data["y_groove"], _ = phrase_rows(groove_train)
    data["x_lib"], data["y_lib"], lib_sources = phrase_rows(library)
    data["x_gt"], data["y_gt"], _ = phrase_rows(groove_test)
    fold_of = library_folds(library)
    data["lib_fold"] = np.array([fold_of[s.split("#")[0]] for s in lib_sources])
    x_gen, y_gen, beat_of = [], [], []
    for k, (name, req, bars) in enumerate(generated):
        for seg in segments(bars):
            x_gen.append(features(seg, req.meter, req.bpm, req.feel, req.swing))
            y_gen.append(names.index(name))
            beat_of.append(k)
    data["x_gen"], data["y_gen"], data["beat_of"] = np.array(x_gen), np.array(y_gen), beat_of
    data["beat_y"] = np.array([names.index(g) for g, _, _ in generated])
    n = len(names)
    held_out = data["lib_fold"] >= 0
    totals = {
        "lib": np.bincount(data["y_lib"][held_out], minlength=n).astype(float),
        "gt": np.bincount(data["y_gt"], minlength=n).astype(float),
        "gen": np.bincount(data["y_gen"], minlength=n).astype(float),
        "beats": np.bincount(data["beat_y"], minlength=n).astype(float),
    }
    counts = _folds(data, classifier, slice(None))
    rows = _per_genre(counts, totals)
    # The same without feel, swing and tempo: they are the request, not the planner's work.
    onsets_only = _per_genre(_folds(data, classifier, slice(0, N_FEATURES - REQUESTED)), totals)
    for row, other in zip(rows, onsets_only):
        row["onsets_only"] = {k: other[k] for k in ("real_acc", "generated_acc", "ratio")}

    def overall(c: dict, key: str, total: np.ndarray) -> float:
        return float(c[key].sum() / total.sum())

    measurable = [r for r in rows if r["ratio"] is not None]
    return {
        "classifier": classifier,
        "folds": FOLDS,
        "features": N_FEATURES,
        "train_segments": {"groove_train": len(data["y_groove"]),
                           "library_per_fold": int(held_out.sum() * (FOLDS - 1) / FOLDS
                                                   + (~held_out).sum())},  # fmt: skip
        "generated": {"beats": len(generated), "bars": 8, "segments": len(y_gen)},
        "real_acc": float((counts["lib"].sum() + counts["gt"].sum())
                          / (totals["lib"].sum() + totals["gt"].sum())),  # fmt: skip
        "real_library_acc": overall(counts, "lib", totals["lib"]),
        "real_groove_test_acc": overall(counts, "gt", totals["gt"]),
        "generated_acc": overall(counts, "gen", totals["gen"]),
        "generated_beat_acc": overall(counts, "gen_beat", totals["beats"]),
        "generated_family_acc": overall(counts, "gen_family", totals["gen"]),
        "genres_with_groove_test": [names[i] for i in range(n) if totals["gt"][i]],
        "min_real_acc_for_ratio": MIN_REAL_ACC,
        "genres_unmeasurable": [r["genre"] for r in rows if r["ratio"] is None],
        "min_ratio": min((r["ratio"] for r in measurable), default=None),
        "genres_below_0_8": [r["genre"] for r in measurable if r["ratio"] < 0.8],
        "onsets_only_genres_below_0_8": [r["genre"] for r in rows if r["onsets_only"]["ratio"]
                                         is not None and r["onsets_only"]["ratio"] < 0.8],
        "rows": rows,
        "confusion_generated": {"labels": names, "segments": counts["confusion"].tolist()},
    }  # fmt: skip


# -- 2. controls --------------------------------------------------------------------------------


def beat_ticks(meter: Meter) -> int:
    """The counted beat: a dotted quarter in compound meters, else one 1/denominator note."""
    if meter.denominator == 8 and meter.numerator % 3 == 0:
        return 3 * TICKS_PER_QUARTER // 2
    return TICKS_PER_QUARTER * 4 // meter.denominator


def _ratios(most: int = 6) -> list[tuple[int, int]]:
    """Every A:B with A hits across B beats that is not tied to the beat (neither a multiple of
    the beat, A = 1, nor a plain subdivision of it, B = 1)."""
    return [(a, b) for a in range(2, most + 1) for b in range(2, most + 1) if math.gcd(a, b) == 1]


def detect_cross_rhythm(ticks: list[int], total_ticks: int, meter: Meter) -> str | None:
    """The cross-rhythm a lane plays, found from its onsets alone: the lattice of evenly spaced
    points (spacing B beats / A, any phase) that best explains the onsets, if it explains at
    least 90 % of them and 90 % of its points are played. None when no lattice does."""
    onsets = np.array(sorted(set(ticks)), dtype=np.float64)
    if len(onsets) < 4:
        return None
    beat = beat_ticks(meter)
    best, best_fit = None, 0.0
    for a, b in _ratios():
        spacing = b * beat / a
        if total_ticks / spacing < 4:
            continue
        for phase in np.unique(np.mod(onsets, spacing).round(3)):
            lattice = np.round(np.arange(phase, total_ticks, spacing))
            near = np.abs(onsets[:, None] - lattice[None, :]) <= 1.0
            fit = min(near.any(1).mean(), near.any(0).mean())
            if fit > best_fit + 1e-9:
                best, best_fit = f"{a}:{b}", fit
    return best if best_fit >= 0.9 else None


def bench_syncopation(gen: Generator, seeds: int) -> dict:
    samples = []
    for name in SWEEP_GENRES:
        for level in LEVELS:
            for s in range(seeds):
                req = default_request(GENRES[name], seed=1000 + s, syncopation=level)
                score = gen.plan(req)
                if score is None:
                    continue
                bars = score_bars(score)
                measured = float(np.mean([syncopation_index(b, req.meter) for b in bars]))
                samples.append({"genre": name, "requested": level, "measured": measured})
    req_all = [x["requested"] for x in samples]
    meas_all = [x["measured"] for x in samples]
    means = [float(np.mean([x["measured"] for x in samples if x["requested"] == lv]))
             for lv in LEVELS]  # fmt: skip
    per_genre = {}
    for name in SWEEP_GENRES:
        mine = [x for x in samples if x["genre"] == name]
        level_means = [float(np.mean([x["measured"] for x in mine if x["requested"] == lv]))
                       for lv in LEVELS]  # fmt: skip
        per_genre[name] = {
            "spearman": float(spearmanr([x["requested"] for x in mine],
                                        [x["measured"] for x in mine]).statistic),
            "level_means": level_means,
        }  # fmt: skip
    return {
        "genres": list(SWEEP_GENRES),
        "seeds": seeds,
        "samples": len(samples),
        "levels": list(LEVELS),
        "spearman_samples": float(spearmanr(req_all, meas_all).statistic),
        "spearman_level_means": float(spearmanr(LEVELS, means).statistic),
        "level_means": means,
        "per_genre": per_genre,
    }


def bench_polyrhythm(gen: Generator, seeds: int) -> dict:
    rows, controls = [], []
    for name, meter in POLY_SETUPS:
        genre = GENRES[name]
        for lane in POLY_LANES:
            for s in range(seeds):
                for spec in (None, *POLYRHYTHMS):
                    req = default_request(genre, seed=2000 + s, meter=meter, polyrhythm=spec,
                                          poly_lane=lane)  # fmt: skip
                    score = gen.plan(req)
                    found = "error"  # a request that raised is a miss
                    if score is not None:
                        ticks = [h.tick for h in score.hits_in_group(lane)]
                        found = detect_cross_rhythm(ticks, score.total_ticks, score.meter)
                    row = {"genre": name, "meter": meter, "lane": lane, "requested": spec,
                           "detected": found}  # fmt: skip
                    (rows if spec else controls).append(row)
    by: dict[str, list[bool]] = {}
    for r in rows:
        ok = r["detected"] == r["requested"]
        for key in (f"{r['requested']} in {r['meter']}", f"lane {r['lane']}"):
            by.setdefault(key, []).append(ok)
    return {
        "setups": [f"{g} {m}" for g, m in POLY_SETUPS],
        "lanes": list(POLY_LANES),
        "seeds": seeds,
        "requests": len(rows),
        "detection_rate": sum(r["detected"] == r["requested"] for r in rows) / len(rows),
        "by": {k: sum(v) / len(v) for k, v in sorted(by.items())},
        "false_positive_rate": sum(r["detected"] not in (None, "error") for r in controls)
        / len(controls),
        "false_positives": [r for r in controls if r["detected"] not in (None, "error")],
        "misses": [r for r in rows if r["detected"] != r["requested"]],
    }


def bench_energy(gen: Generator, seeds: int) -> dict:
    table: dict[str, dict[float, list[tuple[float, float]]]] = {}
    for name in SWEEP_GENRES:
        for level in LEVELS:
            for s in range(seeds):
                req = default_request(GENRES[name], seed=3000 + s, energy=level)
                score = gen.plan(req)
                if score is None:
                    continue
                bars = score_bars(score)
                dens = float(np.mean([density(b, req.meter) for b in bars]))
                vel = float(np.mean([h.velocity for h in score.hits])) if score.hits else 0.0
                table.setdefault(name, {}).setdefault(level, []).append((dens, vel))

    def summary(samples: dict[float, list[tuple[float, float]]]) -> dict:
        dens = [float(np.mean([d for d, _ in samples[lv]])) for lv in LEVELS]
        vel = [float(np.mean([v for _, v in samples[lv]])) for lv in LEVELS]
        return {
            "density": dens,
            "velocity": vel,
            "density_monotone": all(b > a for a, b in zip(dens, dens[1:])),
            "velocity_monotone": all(b > a for a, b in zip(vel, vel[1:])),
        }

    overall = {lv: [x for name in table for x in table[name][lv]] for lv in LEVELS}
    per_genre = {name: summary(samples) for name, samples in table.items()}
    return {
        "genres": list(SWEEP_GENRES),
        "seeds": seeds,
        "levels": list(LEVELS),
        "overall": summary(overall),
        "per_genre": per_genre,
        "genres_density_monotone": sum(v["density_monotone"] for v in per_genre.values()),
    }


def bench_tempo(gen: Generator) -> dict:
    """Odd tempi on top of every request the other benchmarks made."""
    for i, bpm in enumerate((61.5, 97.3, 143.0, 199.9, 233.25)):
        name = SWEEP_GENRES[i % len(SWEEP_GENRES)]
        gen.plan(dataclasses.replace(default_request(GENRES[name], seed=4000 + i), bpm=bpm))
    exact = sum(req == got for req, got in gen.tempo_checks)
    return {"requests": len(gen.tempo_checks), "exact": exact,
            "mismatches": [c for c in gen.tempo_checks if c[0] != c[1]][:10]}  # fmt: skip


# -- 3. novelty ---------------------------------------------------------------------------------


def bar_key(bar, meter: Meter) -> tuple[int, frozenset]:
    return meter.ticks_per_bar, frozenset((h.position, h.instrument) for h in bar)


def bench_novelty(generated: list, groove: list[Phrase], library: list[Phrase]) -> dict:
    """Copied bars, overall and per genre, and where the copies come from (a library pattern,
    one of its training variations, or only a Groove performance)."""
    source: dict[tuple, str] = {}
    for phrases, label in (
        ([p for p in groove if p.split == "train"], "groove"),
        ([p for p in library if "#" in p.source], "library_variation"),
        ([p for p in library if "#" not in p.source], "library_pattern"),
    ):  # later labels win: a bar that is a library pattern is counted as one
        source.update({bar_key(bar, p.meter): label for p in phrases for bar in p.bars})
    per_genre: dict[str, list[bool]] = {}
    copied_from: dict[str, int] = {"library_pattern": 0, "library_variation": 0, "groove": 0}
    copied_distinct, distinct = 0, 0
    for name, req, bars in generated:
        keys = [bar_key(b, req.meter) for b in bars]
        per_genre.setdefault(name, []).extend(k in source for k in keys)
        for k in keys:
            if k in source:
                copied_from[source[k]] += 1
        unique = set(keys)
        distinct += len(unique)
        copied_distinct += sum(k in source for k in unique)
    everything = [x for v in per_genre.values() for x in v]
    near = _near_copies(source, [bar_key(b, req.meter) for _, req, bars in generated
                                 for b in bars])  # fmt: skip
    return {
        "training_bars_distinct": len(source),
        "near_copy_rate": near,
        "generated_bars": len(everything),
        "copied_rate": sum(everything) / len(everything),
        "copied_rate_distinct_bars": copied_distinct / distinct,
        "copied_from": copied_from,
        "per_genre": {k: sum(v) / len(v) for k, v in per_genre.items()},
    }


def _near_copies(training: dict, keys: list[tuple]) -> float:
    """The share of ``keys`` (bars) that are no copy but one onset away from a training bar:
    a training bar with one onset more or one fewer."""

    def name(ticks: int, onsets) -> int:
        return hash((ticks, tuple(sorted(onsets))))

    whole = {name(t, on) for t, on in training}
    less_one = {name(t, on - {o}) for t, on in training for o in on}
    near = 0
    for ticks, onsets in keys:
        if (ticks, onsets) in training:
            continue
        near += name(ticks, onsets) in less_one or any(
            name(ticks, onsets - {o}) in whole for o in onsets
        )
    return near / len(keys)


# -- 4. speed -----------------------------------------------------------------------------------


def bench_speed(gen: Generator, repeats: int) -> dict:
    code = (
        "import time; t0 = time.perf_counter(); "
        "from audiogen.planner.generate import Planner; t1 = time.perf_counter(); "
        "Planner.load(); t2 = time.perf_counter(); print(t2 - t1, t2 - t0)"
    )
    loads, with_import = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, cwd=REPO)  # fmt: skip
        a, b = (float(x) for x in out.stdout.split())
        loads.append(a)
        with_import.append(b)
    in_process = []
    for _ in range(repeats):
        t = time.perf_counter()
        Planner.load()
        in_process.append(time.perf_counter() - t)
    plan, cpu = {}, {}
    for name in SPEED_GENRES:
        gen.plan(default_request(GENRES[name], seed=99, bars=32))  # warm-up
        times, cpu_times = [], []
        for s in range(10):
            t, c = time.perf_counter(), time.process_time()
            if gen.plan(default_request(GENRES[name], seed=5000 + s, bars=32)) is not None:
                times.append(time.perf_counter() - t)  # a plan that raised is not timed
                cpu_times.append(time.process_time() - c)
        plan[name] = statistics.median(times) if times else math.inf
        cpu[name] = statistics.median(cpu_times) if cpu_times else math.inf
    return {
        "load_s": statistics.median(loads),
        "import_and_load_s": statistics.median(with_import),
        "load_in_process_s": statistics.median(in_process),
        "plan_32_bars_s": plan,
        "plan_32_bars_max_s": max(plan.values()),
        # CPU time of the process: what the plan costs when other work shares the cores
        "plan_32_bars_cpu_s": cpu,
        "plan_32_bars_cpu_max_s": max(cpu.values()),
        "load_average_after": os.getloadavg()[0],
        "load_repeats": repeats,
        "plan_repeats": 10,
    }


# -- report -------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown(out: dict) -> str:
    ck = out["checkpoint"]
    lines = [
        "## Planner",
        "",
        f"`python benchmarks/bench_planner.py` on {out['machine']}; checkpoint {ck['version']} "
        f"(validation loss {ck['val_loss']:.3f}); {out['wall_s'] / 60:.1f} min.",
        "",
    ]
    rows = [[name, value, goal, "yes" if met else "**no**"] for name, value, goal, met in
            out["targets"]]  # fmt: skip
    lines += _table(["target", "measured", "goal", "met"], rows)
    if "genre" in out:
        g = out["genre"]
        lines += [
            "",
            f"Genre classifier ({g['classifier']}, {g['folds']} folds, {g['features']} features: "
            "onsets per lane group on a 48-cell bar grid, densities, velocities, syncopation; "
            "feel, swing, tempo): trained on the Groove train split and the library with a "
            "quarter of each genre's beat patterns (and their variations) held out per fold. "
            "Real = those held-out patterns + the Groove test split (which only has "
            f"{', '.join(g['genres_with_groove_test'])}); generated = "
            f"{g['generated']['beats']} beats of 8 bars at each genre's defaults, 2-bar "
            f"segments. Accuracy: real {_pct(g['real_acc'])} (library "
            f"{_pct(g['real_library_acc'])}, Groove test {_pct(g['real_groove_test_acc'])}), "
            f"generated {_pct(g['generated_acc'])} per segment, "
            f"{_pct(g['generated_beat_acc'])} per beat, {_pct(g['generated_family_acc'])} in "
            f"the right family. No ratio where real < {_pct(g['min_real_acc_for_ratio'])}.",
            "",
        ]
        rows = []
        for r in g["rows"]:
            conf = ", ".join(f"{k} {_pct(v)}" for k, v in r["generated_as"].items())
            rows.append([
                r["genre"],
                f"{_pct(r['real_acc'])} ({_pct(r['real_library_acc'])} / "
                f"{_pct(r['real_groove_test_acc'])})",
                f"{_pct(r['generated_acc'])} / {_pct(r['generated_beat_acc'])}",
                _ratio(r["ratio"]),
                _ratio(r["onsets_only"]["ratio"]),
                f"{_pct(r['real_family_acc'])} / {_pct(r['generated_family_acc'])}",
                conf,
            ])  # fmt: skip
        header = ["genre", "real (library / Groove test)", "generated (segment / beat)",
                  "ratio", "ratio, onsets only", "family real / gen.",
                  "generated classified as"]  # fmt: skip
        lines += _table(header, rows)
    if "controls" in out:
        c = out["controls"]
        s = c["syncopation"]
        lines += ["", "Syncopation sweep: mean `syncopation_index` per requested level.", ""]
        rows = [[name, *(f"{m:.2f}" for m in v["level_means"]), f"{v['spearman']:.2f}"]
                for name, v in s["per_genre"].items()]  # fmt: skip
        rows.append(["all", *(f"{m:.2f}" for m in s["level_means"]),
                     f"{s['spearman_samples']:.2f}"])  # fmt: skip
        lines += _table(["genre", *(f"{lv:g}" for lv in LEVELS), "Spearman"], rows)
        e = c["energy"]
        lines += ["", "Energy sweep: hits per quarter / mean velocity per requested level.", ""]
        rows = []
        for name, v in [*e["per_genre"].items(), ("all", e["overall"])]:
            cells = [f"{d:.2f} / {vel:.0f}" for d, vel in zip(v["density"], v["velocity"])]
            rows.append([name, *cells, "yes" if v["density_monotone"] else "no"])
        lines += _table(["genre", *(f"{lv:g}" for lv in LEVELS), "density monotone"], rows)
        p = c["polyrhythm"]
        found = ", ".join(f"{k} {_pct(v)}" for k, v in p["by"].items())
        lines += [
            "",
            f"Cross-rhythms: {p['requests']} requests on lanes {', '.join(p['lanes'])} in "
            f"{', '.join(p['setups'])}; found by the blind detector: {found}; found where none "
            f"was requested: {_pct(p['false_positive_rate'])}.",
        ]
    if "novelty" in out:
        n = out["novelty"]
        per = ", ".join(f"{k} {_pct(v)}" for k, v in n["per_genre"].items() if v > 0)
        lines += [
            "",
            f"Novelty: {_pct(n['copied_rate'])} of {n['generated_bars']} generated bars equal a "
            f"training bar ({_pct(n['copied_rate_distinct_bars'])} of distinct bars), "
            f"{_pct(n['near_copy_rate'])} are one onset away from one; copied "
            f"from: {', '.join(f'{k} {v}' for k, v in n['copied_from'].items())}; genres with "
            f"copies: {per or 'none'}.",
        ]
    if out["plan_errors"]:
        first = out["plan_errors"][0]
        lines += ["", f"Plans that raised: {len(out['plan_errors'])} of {out['plans']}, e.g. "
                  f"{first['request']}: {first['error']}."]  # fmt: skip
    if "speed" in out:
        sp = out["speed"]
        plans = ", ".join(f"{k} {v:.2f} s" for k, v in sp["plan_32_bars_s"].items())
        lines += [
            "",
            f"Speed: `Planner.load()` {sp['load_s']:.2f} s in a fresh process "
            f"({sp['import_and_load_s']:.2f} s with imports), 32 bars: {plans} "
            f"(median of {sp['plan_repeats']}, wall clock); CPU time of the process: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in sp["plan_32_bars_cpu_s"].items())
            + f"; load average {sp['load_average_after']:.2f} after.",
        ]
    return "\n".join(lines)


def targets(out: dict) -> list[tuple[str, str, str, bool]]:
    """(target, measured, goal, met) for every target measured."""
    n_err = len(out["plan_errors"])
    rows = [("plans that raised", f"{n_err}/{out['plans']}", "0", n_err == 0)]
    if "genre" in out:
        g = out["genre"]
        low, unmeasured = g["genres_below_0_8"], g["genres_unmeasurable"]
        value = _ratio(g["min_ratio"])
        if low:
            value += f"; below 0.8: {', '.join(low)}"
        if unmeasured:
            value += f"; no ratio (real not recognised): {', '.join(unmeasured)}"
        met = g["min_ratio"] is not None and not low
        rows.append(("genre: generated / real accuracy, worst genre", value, "≥ 0.8", met))
    if "controls" in out:
        c = out["controls"]
        s, p, e, t = c["syncopation"], c["polyrhythm"], c["energy"], c["tempo"]
        rows += [
            ("syncopation: Spearman, all samples", f"{s['spearman_samples']:.2f}", "≥ 0.9",
             s["spearman_samples"] >= 0.9),
            ("syncopation: Spearman, level means", f"{s['spearman_level_means']:.2f}", "≥ 0.9",
             s["spearman_level_means"] >= 0.9),
            ("cross-rhythm detected", _pct(p["detection_rate"]), "≥ 95 %",
             p["detection_rate"] >= 0.95),
        ]  # fmt: skip
        monotone = e["overall"]["density_monotone"]
        n_ok, n_all = e["genres_density_monotone"], len(e["genres"])
        value = f"overall {'yes' if monotone else 'no'}, {n_ok}/{n_all} genres"
        rows.append(("energy → density", value, "monotone", monotone and n_ok == n_all))
        rows.append(("tempo exact", f"{t['exact']}/{t['requests']}", "all",
                     t["exact"] == t["requests"]))  # fmt: skip
    if "novelty" in out:
        n = out["novelty"]
        worst = max(n["per_genre"], key=n["per_genre"].get)
        value = f"{_pct(n['copied_rate'])} (worst: {worst} {_pct(n['per_genre'][worst])})"
        rows.append(("generated bars copied from training", value, "< 5 %",
                     n["copied_rate"] < 0.05))  # fmt: skip
    if "speed" in out:
        sp = out["speed"]
        rows.append(("Planner.load()", f"{sp['load_s']:.2f} s", "< 1 s", sp["load_s"] < 1.0))
        rows.append(("plan 32 bars, slowest genre", f"{sp['plan_32_bars_max_s']:.2f} s wall, "
                     f"{sp['plan_32_bars_cpu_max_s']:.2f} s CPU", "< 0.5 s",
                     sp["plan_32_bars_max_s"] < 0.5))  # fmt: skip
    return rows


def machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    return (f"{cpu}, {cores} cores, torch {torch.__version__} with {threads} threads, "
            f"Python {platform.python_version()}, load average {load:.2f} at start")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="planner benchmarks")
    parser.add_argument("--only", choices=["genre", "controls", "novelty", "speed"])
    parser.add_argument("--seeds", type=int, default=20, help="beats per genre (genre, novelty)")
    parser.add_argument("--sweep-seeds", type=int, default=6, help="per level and genre")
    parser.add_argument("--poly-seeds", type=int, default=2, help="per setup, lane and ratio")
    parser.add_argument("--classifier", choices=["logreg", "mlp"], default="logreg")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--groove", type=Path, default=GROOVE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out: dict = {"machine": machine(torch.get_num_threads())}
    planner = Planner.load()
    history = planner.meta["history"]
    out["checkpoint"] = {
        "version": planner.version,
        "val_loss": min(h["val_loss"] for h in history) if history else math.nan,
    }
    gen = Generator(planner)
    if args.only in (None, "speed"):
        log.info("speed")
        out["speed"] = bench_speed(gen, repeats=5)
    if args.only in (None, "genre", "novelty"):
        log.info("loading Groove and the style library")
        groove = load_groove(args.groove, splits=("train", "test"))
        train = planner.meta["train"]
        library = load_library(seed=train["seed"], variants=train["library_variants"])
        generated = generate_defaults(gen, args.seeds)
        if args.only in (None, "genre"):
            out["genre"] = bench_genre(generated, groove, library, args.classifier)
        if args.only in (None, "novelty"):
            out["novelty"] = bench_novelty(generated, groove, library)
    if args.only in (None, "controls"):
        log.info("controls")
        out["controls"] = {
            "syncopation": bench_syncopation(gen, args.sweep_seeds),
            "polyrhythm": bench_polyrhythm(gen, args.poly_seeds),
            "energy": bench_energy(gen, args.sweep_seeds),
        }
        out["controls"]["tempo"] = bench_tempo(gen)
    out["plans"] = len(gen.tempo_checks) + len(gen.errors)
    out["plan_errors"] = gen.errors
    out["planning_s"] = gen.seconds
    out["wall_s"] = time.perf_counter() - started
    out["targets"] = targets(out)
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / f"planner{'-' + args.only if args.only else ''}.json").write_text(
        json.dumps(out, indent=1)
    )
    print(json.dumps({"targets": out["targets"], "wall_s": round(out["wall_s"], 1)}, indent=1))
    print()
    print(markdown(out))


if __name__ == "__main__":
    main()
