"""Benchmarks of the planner (the "Done when" targets of its issue), printed as JSON and as Markdown
for BENCHMARKS.md, and saved as JSON in benchmarks/results/planner.json.

    python benchmarks/bench_planner.py                 # everything, ~9 min on 2 cores
    python benchmarks/bench_planner.py --only genre --seeds 5

1. genre: the genre classifier (`audiogen/planner/genre_classifier.py`) trained on real patterns
   only (Groove train split + the style library, one library beat pattern in four of every genre
   held out with all its variations, four folds) is scored on held-out real patterns (those
   library patterns + the Groove validation and test splits, which it never trains on), then on
   generated beats (every genre at its defaults); ratio generated / real per genre. The
   classifier averages a logistic regression over every feature (the fine onset grid serves
   Groove's performances) and an MLP over a compact description of the groove (what each
   instrument role plays on the beat, the off-beat 8th, the 16ths and triplets, on which beats
   of the bar; tempo relative to every genre's range), which carries over to library patterns
   it has not seen; then weighs each genre by whether the tempo lies in its declared range
   (`genres.py`).
2. controls: syncopation sweep (Spearman of requested vs `syncopation_index`), cross-rhythms found
   by a blind detector in the forced lane alone, energy sweep (density and velocity), exact tempo.
3. novelty: the share of generated bars (sets of (position, instrument)) equal to a training bar.
4. speed: `Planner.load()` in a fresh process, and planning 32 bars after loading, for every
   genre, under onnxruntime (the shipped decoding) and in the same run under torch (the fallback).
5. truth: every genre's defining figure held by its beats, and a two-sample test against real
   bars (`genre_truth.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from genre_truth import bench_figures, bench_two_sample
from genre_truth import markdown as truth_markdown
from machine import describe_machine
from scipy.stats import spearmanr

from audiogen.analysis.cycles import detect_cross_rhythm
from audiogen.analysis.rhythm import score_bars
from audiogen.planner.bars import Phrase, density, syncopation_index
from audiogen.planner.generate import POLYRHYTHMS, Planner, PlanRequest
from audiogen.planner.genre_classifier import (
    CLASSIFIER_THREADS,
    MLP_SEEDS,
    N_DESCRIPTION,
    N_DETAIL,
    N_FEATURES,
    REQUESTED,
    TEMPO_FALLOFF,
    classifier_threads,
    features,
    fit_classifier,
    phrase_rows,
    segments,
)
from audiogen.planner.genres import FAMILIES, GENRES, Genre
from audiogen.planner.library import load_library
from audiogen.score import DrumScore, Meter
from audiogen.training.groove import load_groove

REPO = Path(__file__).resolve().parents[1]
GROOVE = REPO.parent / "shared" / "datasets" / "groove"
log = logging.getLogger("bench_planner")

FOLDS = 4  # every genre has at least four library beat patterns
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
SWEEP_GENRES = ("hip-hop", "house", "funk", "rock", "reggaeton", "afro-cuban")
POLY_SETUPS = (("house", "4/4"), ("funk", "4/4"), ("hip-hop", "4/4"), ("afro-cuban", "6/8"),
               ("rock", "6/8"))  # fmt: skip
POLY_LANES = ("perc", "hats", "cymbals")
TORCH_REPEATS = 3  # 32-bar plans per genre timed under the torch fallback


# -- requests and scores ------------------------------------------------------------------------


def default_request(genre: Genre, seed: int, bars: int = 8, **changes) -> PlanRequest:
    """A request at the genre's defaults: tempo, first meter, first feel and its swing."""
    meter = Meter.parse(changes.pop("meter", genre.meters[0]))
    feel = genre.feels[0]
    swing = genre.default_swing if feel.startswith("swing") else 0.5
    return PlanRequest(genre=genre.name, bpm=genre.default_bpm, bars=bars, meter=meter, feel=feel,
                       swing=swing, seed=seed, **changes)  # fmt: skip


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

MIN_REAL_ACC = 0.2  # below this (4× chance) real material is not recognised: no ratio


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


def _folds(data: dict, classifier: str, requested: bool) -> dict:
    """Train one classifier per fold on real material and count, per genre: held-out library
    segments right (and per library pattern), Groove validation and test segments right,
    generated segments and beats right (genre and family), and where real and generated
    segments went."""
    n = len(GENRES)
    family = np.array([list(FAMILIES).index(g.family) for g in GENRES.values()])
    c = {k: np.zeros(n) for k in ("lib", "lib_family", "groove_test", "groove_validation",
                                  "groove_family", "gen", "gen_family", "gen_beat")}  # fmt: skip
    c["confusion"] = np.zeros((n, n))
    c["confusion_real"] = np.zeros((n, n))
    c["pattern_right"] = {}
    y_lib, y_gh, y_gen, beat_y = data["y_lib"], data["y_gh"], data["y_gen"], data["beat_y"]
    for fold in range(FOLDS):
        log.info("genre classifier, fold %d of %d", fold + 1, FOLDS)
        train = data["lib_fold"] != fold
        x = np.concatenate([data["x_groove"], data["x_lib"][train]])
        y = np.concatenate([data["y_groove"], y_lib[train]])
        predict = fit_classifier(x, y, classifier, requested)
        held = data["lib_fold"] == fold
        pred = predict(data["x_lib"][held]).argmax(1)
        right = pred == y_lib[held]
        np.add.at(c["lib"], y_lib[held], right)
        np.add.at(c["lib_family"], y_lib[held], family[pred] == family[y_lib[held]])
        np.add.at(c["confusion_real"], (y_lib[held], pred), 1)
        for base, ok in zip(data["lib_base"][held], right):
            c["pattern_right"][base] = c["pattern_right"].get(base, 0) + int(ok)
        # Groove's held-out splits are scored by every fold's classifier: averaged
        pred = predict(data["x_gh"]).argmax(1)
        for split in ("test", "validation"):
            m = data["gh_split"] == split
            np.add.at(c[f"groove_{split}"], y_gh[m], (pred[m] == y_gh[m]) / FOLDS)
        np.add.at(c["groove_family"], y_gh, (family[pred] == family[y_gh]) / FOLDS)
        np.add.at(c["confusion_real"], (y_gh, pred), 1 / FOLDS)
        probs = predict(data["x_gen"])
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


def _top(row: np.ndarray, names: list[str]) -> dict[str, float]:
    """The three genres a confusion-matrix row sends most segments to, as shares of the row."""
    total = row.sum()
    return {names[j]: float(row[j] / total) for j in np.argsort(-row)[:3] if row[j] > 0}


def _per_genre(c: dict, totals: dict) -> list[dict]:
    names = list(GENRES)
    rows = []
    for i, name in enumerate(names):
        groove_right = c["groove_test"][i] + c["groove_validation"][i]
        groove_n = totals["groove_test"][i] + totals["groove_validation"][i]
        real_n = totals["lib"][i] + groove_n
        real = _share(c["lib"][i] + groove_right, real_n)
        generated = _share(c["gen"][i], totals["gen"][i]) or 0.0  # no beat at all: 0
        patterns = totals["patterns"][name]  # held-out library beat pattern: its segment count
        recognised = sum(c["pattern_right"][b] * 2 > k for b, k in patterns.items())
        rows.append({
            "genre": name,
            "real_library_segments": int(totals["lib"][i]),
            "real_groove_test_segments": int(totals["groove_test"][i]),
            "real_groove_validation_segments": int(totals["groove_validation"][i]),
            "real_library_acc": _share(c["lib"][i], totals["lib"][i]),
            "real_library_patterns": len(patterns),
            "real_library_patterns_recognised": int(recognised),
            "real_groove_test_acc": _share(c["groove_test"][i], totals["groove_test"][i]),
            "real_groove_validation_acc": _share(c["groove_validation"][i],
                                                 totals["groove_validation"][i]),
            "real_groove_acc": _share(groove_right, groove_n),
            "real_acc": real,
            "real_family_acc": _share(c["lib_family"][i] + c["groove_family"][i], real_n),
            "generated_beats": int(totals["beats"][i]),
            "generated_acc": generated,
            "generated_beat_acc": _share(c["gen_beat"][i], totals["beats"][i]),
            "generated_family_acc": _share(c["gen_family"][i], totals["gen"][i]),
            "ratio": generated / real if real is not None and real >= MIN_REAL_ACC else None,
            "generated_as": _top(c["confusion"][i], names),
            "real_as": _top(c["confusion_real"][i], names),
        })  # fmt: skip
    return rows


def bench_genre(generated: list, groove: list[Phrase], library: list[Phrase],
                classifier: str) -> dict:  # fmt: skip
    names = list(GENRES)
    groove_train = [p for p in groove if p.split == "train" and p.genre]
    groove_held = [p for p in groove if p.split in ("validation", "test") and p.genre
                   and p.kind == "beat"]  # fmt: skip
    data: dict = {}
    data["x_groove"], data["y_groove"], _ = phrase_rows(groove_train)
    data["x_lib"], data["y_lib"], lib_sources = phrase_rows(library)
    data["x_gh"], data["y_gh"], gh_sources = phrase_rows(groove_held)
    split_of = {p.source: p.split for p in groove_held}
    data["gh_split"] = np.array([split_of[s] for s in gh_sources])
    fold_of = library_folds(library)
    data["lib_base"] = np.array([s.split("#")[0] for s in lib_sources])
    data["lib_fold"] = np.array([fold_of[b] for b in data["lib_base"]])
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
    patterns: dict[str, dict[str, int]] = {name: {} for name in names}
    for base, y in zip(data["lib_base"][held_out], data["y_lib"][held_out]):
        patterns[names[y]][base] = patterns[names[y]].get(base, 0) + 1
    totals = {
        "lib": np.bincount(data["y_lib"][held_out], minlength=n).astype(float),
        "gen": np.bincount(data["y_gen"], minlength=n).astype(float),
        "beats": np.bincount(data["beat_y"], minlength=n).astype(float),
        "patterns": patterns,
    }
    for split in ("test", "validation"):
        y = data["y_gh"][data["gh_split"] == split]
        totals[f"groove_{split}"] = np.bincount(y, minlength=n).astype(float)
    with classifier_threads():
        counts = _folds(data, classifier, requested=True)
        # The same without feel, swing and tempo: they are the request, not the planner's work.
        counts_onsets = _folds(data, classifier, requested=False)
    rows = _per_genre(counts, totals)
    onsets_only = _per_genre(counts_onsets, totals)
    for row, other in zip(rows, onsets_only):
        row["onsets_only"] = {k: other[k] for k in ("real_acc", "generated_acc", "ratio")}

    def overall(c: dict, keys: tuple[str, ...], total_keys: tuple[str, ...]) -> float:
        return float(sum(c[k].sum() for k in keys) / sum(totals[k].sum() for k in total_keys))

    groove_keys = ("groove_test", "groove_validation")
    measurable = [r for r in rows if r["ratio"] is not None]
    return {
        "classifier": classifier,
        "folds": FOLDS,
        "features": N_FEATURES,
        "feature_blocks": {"detail": N_DETAIL, "description": N_DESCRIPTION,
                           "requested": REQUESTED},  # fmt: skip
        "mlp_seeds": MLP_SEEDS if classifier != "logreg" else 0,
        "classifier_threads": CLASSIFIER_THREADS,
        "tempo_falloff_octaves": TEMPO_FALLOFF,
        "train_segments": {"groove_train": len(data["y_groove"]),
                           "library_per_fold": int(held_out.sum() * (FOLDS - 1) / FOLDS
                                                   + (~held_out).sum())},  # fmt: skip
        "real_segments": {"library": int(held_out.sum()),
                          "groove_test": int(totals["groove_test"].sum()),
                          "groove_validation": int(totals["groove_validation"].sum())},
        "generated": {"beats": len(generated), "bars": 8, "segments": len(y_gen)},
        "real_acc": overall(counts, ("lib", *groove_keys), ("lib", *groove_keys)),
        "real_library_acc": overall(counts, ("lib",), ("lib",)),
        "real_groove_test_acc": overall(counts, ("groove_test",), ("groove_test",)),
        "real_groove_validation_acc": overall(counts, ("groove_validation",),
                                              ("groove_validation",)),
        "real_groove_acc": overall(counts, groove_keys, groove_keys),
        "real_macro_acc": float(np.mean([r["real_acc"] for r in rows])),
        "generated_acc": overall(counts, ("gen",), ("gen",)),
        "generated_beat_acc": overall(counts, ("gen_beat",), ("beats",)),
        "generated_family_acc": overall(counts, ("gen_family",), ("gen",)),
        "genres_with_groove_test": [names[i] for i in range(n) if totals["groove_test"][i]],
        "genres_with_groove_heldout": [names[i] for i in range(n)
                                       if totals["groove_test"][i]
                                       + totals["groove_validation"][i]],  # fmt: skip
        "min_real_acc_for_ratio": MIN_REAL_ACC,
        "genres_unmeasurable": [r["genre"] for r in rows if r["ratio"] is None],
        "min_ratio": min((r["ratio"] for r in measurable), default=None),
        "worst_genre": min(measurable, key=lambda r: r["ratio"])["genre"] if measurable else None,
        "genres_below_0_8": [r["genre"] for r in measurable if r["ratio"] < 0.8],
        "onsets_only_genres_below_0_8": [r["genre"] for r in rows if r["onsets_only"]["ratio"]
                                         is not None and r["onsets_only"]["ratio"] < 0.8],
        "onsets_only_genres_unmeasurable": [r["genre"] for r in rows
                                            if r["onsets_only"]["ratio"] is None],
        "rows": rows,
        "confusion_generated": {"labels": names, "segments": counts["confusion"].tolist()},
        # held-out library segments once each, Groove held-out segments averaged over the folds
        "confusion_real": {"labels": names, "segments": counts["confusion_real"].tolist()},
    }  # fmt: skip


# -- 2. controls --------------------------------------------------------------------------------


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
    plan, cpu = _time_plans(gen, 10)
    steps = gen.planner.search.decoder.steps
    session, steps.session = steps.session, None  # the torch fallback, in the same run
    try:
        plan_torch, _ = _time_plans(gen, TORCH_REPEATS)
    finally:
        steps.session = session
    return {
        "plan_32_bars_torch_s": plan_torch,
        "plan_32_bars_torch_max_s": max(plan_torch.values()),
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


def _time_plans(gen: Generator, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds of a 32-bar plan at each genre's defaults."""
    plan, cpu = {}, {}
    for name in GENRES:
        gen.plan(default_request(GENRES[name], seed=99, bars=32))  # warm-up
        times, cpu_times = [], []
        for s in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            if gen.plan(default_request(GENRES[name], seed=5000 + s, bars=32)) is not None:
                times.append(time.perf_counter() - t)  # a plan that raised is not timed
                cpu_times.append(time.process_time() - c)
        plan[name] = statistics.median(times) if times else math.inf
        cpu[name] = statistics.median(cpu_times) if cpu_times else math.inf
    return plan, cpu


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


def _confusion(conf: dict) -> list[str]:
    labels, counts = conf["labels"], np.asarray(conf["segments"], dtype=float)
    short = [name.replace("drum-and-bass", "dnb").replace("bossa-nova", "bossa")
             .replace("afro-cuban", "afro-cu") for name in labels]  # fmt: skip
    rows = []
    for name, row in zip(labels, counts):
        total = row.sum()
        cells = ["" if not total or not x else f"{100 * x / total:.0f}" for x in row]
        rows.append([name, *cells])
    return _table(["", *short], rows)


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
        experts = {
            "ensemble": f"the mean of a logistic regression over all {g['features']} features and "
            f"an MLP ({g['mlp_seeds']} seeds) over the description and the request",
            "logreg": f"a logistic regression over all {g['features']} features",
            "mlp": f"an MLP ({g['mlp_seeds']} seeds) over the description and the request",
        }[g["classifier"]]
        real_n = g["real_segments"]
        lines += [
            "",
            f"Genre classifier ({g['classifier']}: {experts}; then each genre weighed by whether "
            "the tempo lies in its range in `genres.py`, a Gaussian fall-off of "
            f"{g['tempo_falloff_octaves']:g} octave outside). Features: detail (onsets per lane "
            "group on a 48-cell bar grid, hits per quarter per instrument, velocities per group), "
            "description (per role — kick, snare, clap, rim, closed and open hats, ride, crash, "
            "toms, percussion — the share of on-beat, off-beat 8th, 16th, triplet and finer "
            "places played and their velocity, onsets on each beat of the bar, density, "
            "velocity; syncopation), request (feel, swing, tempo, tempo within each genre's "
            f"range). {g['folds']} folds, each trained on the Groove train split and the "
            "library less a quarter of each genre's beat patterns (and their variations). "
            f"Real = those held-out patterns ({real_n['library']} segments) + the Groove "
            f"validation and test splits ({real_n['groove_validation']} + "
            f"{real_n['groove_test']} segments, never trained on; they only have "
            f"{', '.join(g['genres_with_groove_heldout'])}); generated = "
            f"{g['generated']['beats']} beats of 8 bars at each genre's defaults, 2-bar "
            f"segments. Accuracy: real {_pct(g['real_acc'])} (library "
            f"{_pct(g['real_library_acc'])}, Groove {_pct(g['real_groove_acc'])}; mean over "
            f"genres {_pct(g['real_macro_acc'])}), generated {_pct(g['generated_acc'])} per "
            f"segment, {_pct(g['generated_beat_acc'])} per beat, "
            f"{_pct(g['generated_family_acc'])} in the right family. No ratio where real < "
            f"{_pct(g['min_real_acc_for_ratio'])}. 'Onsets only' leaves out the request "
            "block and the tempo weighing.",
            "",
        ]
        rows = []
        for r in g["rows"]:
            rows.append([
                r["genre"],
                f"{_pct(r['real_acc'])} ({_pct(r['real_library_acc'])} / "
                f"{_pct(r['real_groove_acc'])})",
                f"{r['real_library_patterns_recognised']}/{r['real_library_patterns']}",
                f"{_pct(r['generated_acc'])} / {_pct(r['generated_beat_acc'])}",
                _ratio(r["ratio"]),
                _ratio(r["onsets_only"]["ratio"]),
                f"{_pct(r['real_family_acc'])} / {_pct(r['generated_family_acc'])}",
                ", ".join(f"{k} {_pct(v)}" for k, v in r["real_as"].items()),
                ", ".join(f"{k} {_pct(v)}" for k, v in r["generated_as"].items()),
            ])  # fmt: skip
        header = ["genre", "real (library / Groove)", "library patterns recognised",
                  "generated (segment / beat)", "ratio", "ratio, onsets only",
                  "family real / gen.", "real classified as",
                  "generated classified as"]  # fmt: skip
        lines += _table(header, rows)
        for key, what in (("confusion_generated", "generated segments"),
                          ("confusion_real", "held-out real segments")):  # fmt: skip
            lines += ["", f"Confusion matrix, {what}: % of each genre's segments (rows) "
                      "given each label (columns, same order); blank: none.", ""]  # fmt: skip
            lines += _confusion(out["genre"][key])
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
    if "truth" in out:
        lines += ["", "### Genre truth"]
        lines += truth_markdown(out["truth"]["figures"], out["truth"].get("two_sample"),
                                out["truth"].get("before"))  # fmt: skip
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
            + f"; load average {sp['load_average_after']:.2f} after. Under the torch "
            "fallback (same run, median of " + f"{TORCH_REPEATS}): "
            + ", ".join(f"{k} {v:.2f} s" for k, v in sp["plan_32_bars_torch_s"].items()) + ".",
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
        if g.get("worst_genre"):
            value += f" ({g['worst_genre']})"
        if low:
            value += f"; below 0.8: {', '.join(low)}"
        if unmeasured:
            value += f"; no ratio (real not recognised): {', '.join(unmeasured)}"
        # a genre without a ratio is not judged: the target is not met for it
        met = g["min_ratio"] is not None and not low and not unmeasured
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
        slowest = max(sp["plan_32_bars_s"], key=sp["plan_32_bars_s"].get)
        rows.append(("plan 32 bars, slowest genre", f"{sp['plan_32_bars_max_s']:.2f} s wall "
                     f"({slowest}), {sp['plan_32_bars_cpu_max_s']:.2f} s CPU; torch fallback "
                     f"{sp['plan_32_bars_torch_max_s']:.2f} s", "< 0.5 s",
                     sp["plan_32_bars_max_s"] < 0.5))  # fmt: skip
    if "truth" in out:
        f = out["truth"]["figures"]
        rows.append(("non-fill bars holding the genre's figure, worst genre",
                     f"{100 * f['min_non_fill_hold']:.1f} % ({f['worst_genre']})", "≥ 95 %",
                     f["min_non_fill_hold"] >= 0.95))
        rows.append(("beats holding it in < 6 of 8 bars", str(f["beats_below_6_of_8"]), "0",
                     f["beats_below_6_of_8"] == 0))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="planner benchmarks")
    parser.add_argument("--only", choices=["genre", "controls", "novelty", "speed", "truth"])
    parser.add_argument("--truth-seeds", type=int, default=20, help="per genre and tempo")
    parser.add_argument("--truth-before", type=Path,
                        help="JSON {genre: non-fill hold rate} of an earlier planner, shown beside")
    parser.add_argument("--seeds", type=int, default=20, help="beats per genre (genre, novelty)")
    parser.add_argument("--sweep-seeds", type=int, default=6, help="per level and genre")
    parser.add_argument("--poly-seeds", type=int, default=2, help="per setup, lane and ratio")
    parser.add_argument("--classifier", choices=["ensemble", "logreg", "mlp"], default="ensemble",
                        help="genre classifier: both experts averaged, or one alone")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--groove", type=Path, default=GROOVE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out: dict = {"machine": describe_machine(torch.get_num_threads())}
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
    groove: list[Phrase] | None = None
    if args.only in (None, "genre", "novelty", "truth"):
        log.info("loading Groove")
        groove = load_groove(args.groove, splits=("train", "validation", "test"))
    if args.only in (None, "truth"):
        assert groove is not None
        log.info("genre truth")
        figures, bars = bench_figures(gen.plan, score_bars, args.truth_seeds)
        out["truth"] = {"figures": figures, "two_sample": bench_two_sample(bars, groove)}
        if args.truth_before:
            out["truth"]["before"] = json.loads(args.truth_before.read_text())
    if args.only in (None, "genre", "novelty"):
        assert groove is not None
        log.info("loading the style library")
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
