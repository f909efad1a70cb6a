"""Benchmarks of song structure and of variations (issue "Human feel and song structure"),
printed as Markdown for BENCHMARKS.md and saved in benchmarks/results/structure.json.

    python benchmarks/bench_structure.py               # 120 songs + 30 varied beats, ~10 min
    python benchmarks/bench_structure.py --songs 20 --beats 5

1. energy: per song, onsets per bar of every section (fills and crashes included) against the
   sections' requested energies: a song passes when no section with a lower energy is denser
   than one with a higher energy. Songs use the default layouts over 16-64 bars, and explicit
   forms, some of which ask for a quiet chorus or a loud intro (the curve "asked otherwise").
2. fills: a blind detector reads the score alone: the second half of a section's last bar is a
   fill when its hits ((position, instrument) sets, Dice similarity) share less than FILL_DICE
   with the same half of the section's bar two before (for a two-bar section: its first bar).
   The same detector run on ordinary bars (second-to-last against four before) gives its false
   alarm rate.
3. similarity: Dice similarity of each section's bars (fill bar left out) with the core groove's
   bar in the same place, against the band stated in BAND; as a yardstick, the same measure
   against the core of another song of the same genre (another seed).
4. variations: beats from the Groove test split (4/4, "beat" takes) varied at each amount; Dice
   similarity of the section bars (fills left out) with the input's core groove, by amount.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from machine import describe_machine

from audiogen.analysis.rhythm import FILL_DICE, dice
from audiogen.midi import read_midi
from audiogen.planner.arrange import default_form, parse_form
from audiogen.planner.generate import Planner, PlanRequest, core_bars
from audiogen.planner.genres import GENRES
from audiogen.score import DrumScore, Meter, Section

REPO = Path(__file__).resolve().parents[1]
GROOVE = REPO.parent / "shared" / "datasets" / "groove"
RESULTS = REPO / "benchmarks" / "results" / "structure.json"
BAND = (0.4, 0.95)  # recognisably the same song, not a copy
AMOUNTS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
VARY_FORM = "verse:4,chorus:4,bridge:4"
FORMS = (  # explicit forms; energies given where the curve is asked to go otherwise
    "intro:4,verse:8,chorus:8,outro:4",
    "intro:2,verse:4,pre-chorus:2,chorus:4,breakdown:2,chorus:4",
    "intro:4:0.7,verse:8:0.4,chorus:8:0.9,outro:4:0.2",
    "verse:8:0.7,chorus:8:0.3,bridge:4:0.5,verse:4:0.7",
)


def bars_of(score: DrumScore) -> list[set[tuple[int, str]]]:
    ticks = score.meter.ticks_per_bar
    out: list[set[tuple[int, str]]] = [set() for _ in range(score.bars)]
    for h in score.hits:
        out[h.tick // ticks].add((h.tick % ticks, h.instrument))
    return out


def half(bar: set[tuple[int, str]], ticks: int) -> set[tuple[int, str]]:
    return {h for h in bar if h[0] >= ticks // 2}


def energy_ok(score: DrumScore) -> tuple[bool, dict[str, float]]:
    bars = bars_of(score)
    dens = [sum(len(bars[b]) for b in range(s.first_bar, s.first_bar + s.bars)) / s.bars
            for s in score.sections]  # fmt: skip
    ok = all(
        dens[i] <= dens[j]
        for i, a in enumerate(score.sections)
        for j, b in enumerate(score.sections)
        if a.energy < b.energy
    )
    return ok, {f"{s.name}@{s.first_bar}": round(d, 2) for s, d in zip(score.sections, dens)}


def fill_found(bars, section: Section, ticks: int, last: int | None = None) -> bool | None:
    last = section.first_bar + section.bars - 1 if last is None else last
    if section.bars >= 3:
        ref = last - 2
    elif section.bars == 2:
        ref = section.first_bar
    else:
        return None
    return dice(half(bars[last], ticks), half(bars[ref], ticks)) < FILL_DICE


def section_similarity(score: DrumScore, core: list[list], section: Section) -> float:
    bars = bars_of(score)
    n = len(core)
    keys = [{(p, i) for p, i, _ in bar} for bar in core]
    body = range(section.first_bar, section.first_bar + max(1, section.bars - 1))
    return float(np.mean([dice(bars[b], keys[(b - section.first_bar) % n]) for b in body]))


def songs(planner: Planner, count: int) -> dict:
    genres = [g for g in GENRES.values() if g.meters[0] in ("4/4", "3/4", "6/8", "12/8")]
    rng = np.random.default_rng(0)
    energy_pass, fills, false_alarms, sims, cross, rows, misses = 0, [], [], [], [], [], []
    outside: list[str] = []
    t0 = time.perf_counter()
    for k in range(count):
        genre = genres[k % len(genres)]
        energy = float(rng.choice([0.3, 0.5, 0.7]))
        if k % 4 == 3:
            form = parse_form(FORMS[(k // 4) % len(FORMS)], energy)
        else:
            form = default_form(int(rng.integers(16, 65)), energy)
        req = PlanRequest(
            genre=genre.name, bpm=genre.default_bpm, bars=sum(s.bars for s in form),
            meter=Meter.parse(genre.meters[0]), feel=genre.feels[0],
            swing=genre.default_swing if genre.feels[0].startswith("swing") else 0.5,
            energy=energy, seed=k, form=form,
        )  # fmt: skip
        song = planner.song(req)
        other = planner.song(PlanRequest(**{**req.__dict__, "seed": 10_000 + k}))
        score = song.score
        ok, dens = energy_ok(score)
        energy_pass += ok
        bars, ticks = bars_of(score), score.meter.ticks_per_bar
        for s in score.sections[:-1]:
            found = fill_found(bars, s, ticks)
            if found is not None:
                fills.append(found)
                if not found:
                    misses.append(f"{genre.name} seed {k}: {s.name} at bar {s.first_bar}")
            if s.bars >= 6:
                last = s.first_bar + s.bars - 2
                false_alarms.append(fill_found(bars, s, ticks, last=last))
        for s in score.sections:
            sims.append((s.name, section_similarity(score, song.core, s)))
            if not BAND[0] <= sims[-1][1] <= BAND[1]:
                outside.append(f"{genre.name} seed {k}: {s.name} at bar {s.first_bar} "
                               f"{sims[-1][1]:.2f}")  # fmt: skip
            cross.append(section_similarity(score, other.core, s))
        rows.append({"genre": genre.name, "form": [(s.name, s.bars, s.energy)
                     for s in score.sections], "energy_ok": ok, "density": dens})  # fmt: skip
        print(f"song {k + 1}/{count} {genre.name}: energy {'ok' if ok else 'NOT'} {dens}",
              file=sys.stderr, flush=True)  # fmt: skip
    values = [v for _, v in sims]
    by_name: dict[str, list[float]] = {}
    for name, v in sims:
        by_name.setdefault(name, []).append(v)
    return {
        "songs": count,
        "seconds_per_song": round((time.perf_counter() - t0) / count / 2, 2),
        "energy_order_pass": energy_pass / count,
        "fills_found": float(np.mean(fills)),
        "fill_sections": len(fills),
        "fill_false_alarm": float(np.mean(false_alarms)),
        "similarity_band": BAND,
        "similarity_in_band": float(np.mean([BAND[0] <= v <= BAND[1] for v in values])),
        "similarity_quartiles": [
            round(float(q), 3) for q in np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
        ],  # fmt: skip
        "similarity_by_section": {n: round(float(np.mean(v)), 3) for n, v in by_name.items()},
        "similarity_to_other_song": round(float(np.mean(cross)), 3),
        "failures": [r for r in rows if not r["energy_ok"]],
        "fill_misses": misses,
        "outside_band": outside,
    }


def groove_beats(count: int) -> list[Path]:
    with (GROOVE / "info.csv").open() as fh:
        rows = [
            r for r in csv.DictReader(fh)
            if (r["split"], r["beat_type"], r["time_signature"]) == ("test", "beat", "4-4")
            and float(r["duration"]) >= 10
        ]  # fmt: skip
    rows.sort(key=lambda r: r["midi_filename"])
    step = max(1, len(rows) // count)
    return [GROOVE / r["midi_filename"] for r in rows[::step][:count]]


def variations(planner: Planner, count: int) -> dict:
    by_amount: dict[float, list[float]] = {a: [] for a in AMOUNTS}
    monotone = 0
    files = groove_beats(count)
    for k, path in enumerate(files):
        score = read_midi(path)
        end = 16 * score.meter.ticks_per_bar  # the first 16 bars are plenty to find a core
        hits = tuple(h for h in score.hits if h.tick < end)
        score = DrumScore(score.bpm, score.meter, min(score.bars, 16), hits)
        core = core_bars(score)[1]
        keys = [{(p, i) for p, i, _ in bar} for bar in core]
        means = []
        for amount in AMOUNTS:
            song = planner.vary(score, VARY_FORM, amount, seed=k)
            bars = bars_of(song.score)
            values = [
                dice(bars[b], keys[(b - s.first_bar) % len(keys)])
                for s in song.score.sections
                for b in range(s.first_bar, s.first_bar + s.bars - 1)
            ]
            by_amount[amount].append(float(np.mean(values)))
            means.append(float(np.mean(values)))
        monotone += all(a >= b for a, b in zip(means, means[1:]))
        print(f"beat {k + 1}/{len(files)} {path.name}: {[round(m, 3) for m in means]}",
              file=sys.stderr, flush=True)  # fmt: skip
    means = [float(np.mean(by_amount[a])) for a in AMOUNTS]
    return {
        "beats": len(files),
        "form": VARY_FORM,
        "similarity_by_amount": {str(a): round(m, 3) for a, m in zip(AMOUNTS, means)},
        "means_strictly_falling": all(a > b for a, b in zip(means, means[1:])),
        "beats_monotone": monotone / len(files),
    }


def markdown(res: dict) -> str:
    s, v = res.get("songs"), res.get("variations")
    lines = []
    if s:
        lines += [
            f"Songs: {s['songs']} (default layouts over 16-64 bars and explicit forms, every "
            f"genre), {s['seconds_per_song']} s to write a song.",
            "",
            "| figure | measured | target |",
            "|---|---|---|",
            f"| density follows the energy curve | {s['energy_order_pass']:.1%} of songs | "
            "≥ 95 % |",
            f"| sections but the last end in a fill (blind detector) | {s['fills_found']:.1%} "
            f"of {s['fill_sections']} | all |",
            f"| detector's false alarms on ordinary bars | {s['fill_false_alarm']:.1%} | — |",
            f"| similarity to the core groove in {s['similarity_band']} | "
            f"{s['similarity_in_band']:.1%} of sections | stated band |",
            f"| similarity quartiles (min, 25, 50, 75, max) | {s['similarity_quartiles']} | — |",
            f"| similarity to another song's core, same genre | "
            f"{s['similarity_to_other_song']} | lower |",
        ]
    if v:
        lines += [
            "",
            f"Variations: {v['beats']} Groove test beats, form {v['form']}.",
            "",
            "| amount | " + " | ".join(v["similarity_by_amount"]) + " |",
            "|---|" + "---|" * len(v["similarity_by_amount"]),
            "| similarity to the input | "
            + " | ".join(str(x) for x in v["similarity_by_amount"].values())
            + " |",
            "",
            f"Means strictly falling: {v['means_strictly_falling']}; beats whose own curve "
            f"never rises: {v['beats_monotone']:.0%}.",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=120)
    parser.add_argument("--beats", type=int, default=30)
    parser.add_argument("--only", choices=("songs", "variations"))
    args = parser.parse_args()
    planner = Planner.load()
    res: dict = {"machine": describe_machine()}
    if args.only in (None, "songs"):
        res["songs"] = songs(planner, args.songs)
    if args.only in (None, "variations"):
        res["variations"] = variations(planner, args.beats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
