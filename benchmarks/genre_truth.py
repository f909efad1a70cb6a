"""Genre truth (issue 18), for bench_planner.py: does every beat play its genre's defining figure
(`audiogen/planner/figures.py`), and how far are its bars from real drummers' bars that hold it?

1. Figures: every genre at the slow end, the usual tempo and the fast end of its range, 8 bars
   a beat; the share of non-fill bars (`groove_fills` names the fills) that hold the figure, and
   the beats that hold it in at least 6 of their 8 bars.
2. Two-sample test: per genre with Groove bars that hold the figure, a logistic regression
   (`fit_logreg`, over one bar's onset features: `features` less the request block) tells the
   generated bars from the real ones, in grouped folds (a beat's or a performance's bars stay on
   one side); its held-out accuracy, beside the floor of real against real (the real bars split
   in two by performance). 50 % is indistinguishable; the nearer the floor, the more real.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from audiogen.planner.bars import BarHit, Phrase
from audiogen.planner.figures import figure_in
from audiogen.planner.generate import PlanRequest
from audiogen.planner.genre_classifier import (
    N_FEATURES,
    REQUESTED,
    classifier_threads,
    features,
    fit_logreg,
)
from audiogen.planner.genres import GENRES
from audiogen.planner.song import groove_fills
from audiogen.score import DrumScore, Meter

BARS = 8
MIN_OF_BEAT = 6  # a beat holds its figure in at least this many of its BARS
FOLDS = 5
MIN_REAL = 30  # held-out real bars a two-sample test needs; fewer: the train split stands in
MIN_PERFORMANCES = 8  # a real-against-real floor needs at least this many, split in two
ONSETS = N_FEATURES - REQUESTED  # the classifier sees onsets, not the request (tempo, feel)

Bars = list[tuple[BarHit, ...]]


def tempi(name: str) -> dict[str, float]:
    low, high = GENRES[name].bpm_range
    return {"slow": low, "usual": GENRES[name].default_bpm, "fast": high}


def bench_figures(
    plan: Callable[[PlanRequest], DrumScore | None], bars_of: Callable[[DrumScore], Bars],
    seeds: int,
) -> tuple[dict, dict]:
    """Hold rates per genre and tempo; and, per genre, the distinct non-fill bars of each beat
    (for the two-sample test) as (beat index, request, bar)."""
    fills = set(groove_fills(BARS))
    rows, generated = {}, {}
    for name, genre in GENRES.items():
        meter = Meter.parse(genre.meters[0])
        figure = figure_in(name, meter)
        assert figure is not None  # every genre has a figure in its first meter
        feel = genre.feels[0]
        swing = genre.default_swing if feel.startswith("swing") else 0.5
        held: dict[str, list[bool]] = {}
        beats_ok, beats, misses = 0, 0, Counter()
        mine: list[tuple[int, PlanRequest, tuple[BarHit, ...]]] = []
        for where, bpm in tempi(name).items():
            for s in range(seeds):
                req = PlanRequest(genre=name, bpm=bpm, bars=BARS, meter=meter, feel=feel,
                                  swing=swing, seed=s)  # fmt: skip
                score = plan(req)
                if score is None:
                    continue
                bars = bars_of(score)
                ok = [figure.holds(b) for b in bars]
                held.setdefault(where, []).extend(ok[b] for b in range(BARS) if b not in fills)
                beats_ok += sum(ok) >= MIN_OF_BEAT
                beats += 1
                for b in range(BARS):
                    if b not in fills:
                        misses.update(figure.missing(bars[b]))
                distinct = {bars[b] for b in range(BARS) if b not in fills}
                mine += [(beats, req, bar) for bar in sorted(distinct)]
        everything = [x for v in held.values() for x in v]
        rows[name] = {
            "figure": figure.name,
            "non_fill_hold": float(np.mean(everything)) if everything else 0.0,
            "by_tempo": {k: float(np.mean(v)) for k, v in held.items()},
            "beats": beats,
            "beats_holding_6_of_8": beats_ok,
            "misses": dict(misses.most_common()),
        }  # fmt: skip
        generated[name] = mine
    worst = min(rows, key=lambda k: rows[k]["non_fill_hold"])
    return {
        "seeds": seeds,
        "bars": BARS,
        "tempi": {name: tempi(name) for name in GENRES},
        "per_genre": rows,
        "worst_genre": worst,
        "min_non_fill_hold": rows[worst]["non_fill_hold"],
        "beats_below_6_of_8": sum(r["beats"] - r["beats_holding_6_of_8"] for r in rows.values()),
    }, generated


def _bar_row(bar: tuple[BarHit, ...], meter: Meter) -> np.ndarray:
    # tempo, feel and swing are left out of the columns used; any values do
    return features([bar], meter, 120.0, "straight", 0.5)[:ONSETS]


def _grouped_accuracy(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                      rng: np.random.Generator) -> float:  # fmt: skip
    """Held-out accuracy of a logistic regression telling y=0 from y=1, FOLDS folds by group."""
    names = np.unique(groups)
    fold_of = dict(zip(names, rng.permutation(len(names)) % FOLDS))
    fold = np.array([fold_of[g] for g in groups])
    right = 0
    for k in range(FOLDS):
        test = fold == k
        if not test.any() or len(np.unique(y[~test])) < 2:
            continue
        with classifier_threads():  # one thread: two contend on a shared machine
            predict = fit_logreg(x[~test], y[~test])
        right += int((predict(x[test])[:, :2].argmax(1) == y[test]).sum())
    return right / len(y)


def _balanced(n: int, *sides: tuple[np.ndarray, np.ndarray], rng: np.random.Generator):
    """``n`` rows drawn from each side (rows, groups), stacked, with labels 0, 1, ..."""
    xs, ys, gs = [], [], []
    for label, (x, g) in enumerate(sides):
        pick = rng.choice(len(x), n, replace=False)
        xs.append(x[pick])
        ys.append(np.full(n, label))
        gs.append(np.array([f"{label}:{v}" for v in g[pick]]))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


def bench_two_sample(generated: dict, groove: list[Phrase], seed: int = 0) -> dict:
    """Generated against real bars holding the figure, per genre with such Groove bars."""
    rows = {}
    for name, mine in generated.items():
        if not mine:
            continue
        meter = mine[0][1].meter
        figure = figure_in(name, meter)
        assert figure is not None
        real = {split: [(p.source, bar) for p in groove
                        if p.genre == name and p.kind == "beat" and p.meter == meter
                        and (p.split == "train") == (split == "train")
                        for bar in p.bars if figure.holds(bar)]
                for split in ("held-out", "train")}  # fmt: skip
        split = "held-out" if len(real["held-out"]) >= MIN_REAL else "train"
        bars = real[split]
        if len(bars) < MIN_REAL:
            continue
        rng = np.random.default_rng(seed)
        x_real = np.array([_bar_row(b, meter) for _, b in bars])
        g_real = np.array([s for s, _ in bars])
        x_gen = np.array([_bar_row(b, meter) for _, _, b in mine])
        g_gen = np.array([str(k) for k, _, _ in mine])
        n = min(len(x_real), len(x_gen))
        x, y, g = _balanced(n, (x_gen, g_gen), (x_real, g_real), rng=rng)
        accuracy = _grouped_accuracy(x, y, g, rng)
        # the floor: real against real, the performances split in two halves
        performances = np.unique(g_real)
        half = set(rng.permutation(performances)[: len(performances) // 2])
        a = np.array([s in half for s in g_real])
        m = min(a.sum(), (~a).sum())
        floor = None  # too few performances to split in two: no floor
        if m >= MIN_REAL // 2 and len(performances) >= MIN_PERFORMANCES:
            x, y, g = _balanced(int(m), (x_real[a], g_real[a]), (x_real[~a], g_real[~a]),
                                rng=rng)  # fmt: skip
            floor = _grouped_accuracy(x, y, g, rng)
        rows[name] = {"real_split": split, "real_bars": len(bars),
                      "real_performances": len(performances), "generated_bars": len(mine),
                      "bars_per_side": n, "accuracy": accuracy, "floor": floor}  # fmt: skip
    return {"folds": FOLDS, "min_real": MIN_REAL, "per_genre": rows}


def markdown(truth: dict, two: dict | None, before: dict | None = None) -> list[str]:
    """The "Genre truth" rows for BENCHMARKS.md: one table, figures and two-sample test."""
    lines = [
        "",
        f"Genre truth: {truth['seeds']} seeds × {len(truth['per_genre'])} genres × 3 tempos "
        f"(slow end, usual, fast end), {truth['bars']} bars; worst non-fill hold "
        f"{100 * truth['min_non_fill_hold']:.1f} % ({truth['worst_genre']}); beats holding "
        f"their figure in fewer than {MIN_OF_BEAT} of {BARS} bars: "
        f"{truth['beats_below_6_of_8']}. Two-sample accuracy: generated vs real bars that hold "
        "the figure (held-out Groove splits; '(train)': only the train split has the style); "
        "floor: real vs real. 50 % = indistinguishable.",
        "",
    ]
    header = ["genre", "figure", "non-fill bars holding", "slow / usual / fast",
              "beats ≥ 6/8", "two-sample acc. (floor)", "real bars"]  # fmt: skip
    if before:
        header.insert(3, "before")
    table = []
    for name, r in truth["per_genre"].items():
        t = r["by_tempo"]
        cells = [name, r["figure"], f"{100 * r['non_fill_hold']:.1f} %",
                 " / ".join(f"{100 * t[k]:.0f}" for k in ("slow", "usual", "fast") if k in t),
                 f"{r['beats_holding_6_of_8']}/{r['beats']}"]  # fmt: skip
        if before:
            b = before.get(name)
            cells.insert(3, "—" if b is None else f"{100 * b:.1f} %")
        s = (two or {}).get("per_genre", {}).get(name)
        if s is None:
            cells += ["—", "—"]
        else:
            floor = "—" if s["floor"] is None else f"{100 * s['floor']:.0f} %"
            tag = "" if s["real_split"] == "held-out" else " (train)"
            cells += [f"{100 * s['accuracy']:.0f} % ({floor})",
                      f"{s['real_bars']}{tag}"]  # fmt: skip
        table.append(cells)
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(c) + " |" for c in table]
    return lines
