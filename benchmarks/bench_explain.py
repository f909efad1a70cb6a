"""Benchmarks of `audiogen explain` (issue 20), printed as Markdown for BENCHMARKS.md and saved
in benchmarks/results/explain.json.

    python benchmarks/bench_explain.py                  # all three, ~15 min on 2 busy cores
    python benchmarks/bench_explain.py --seeds 3 --groove 20 --swing-beats 20

1. lessons: every topic's lesson planned from seeds 0-9 (``--first-seed 10 --seeds 20``: 10-29);
   a seed passes when each example's MIDI (as written, read back) measures what the topic
   states (`Example.checks`); a seeking topic may take a later seed, and how often is counted.
2. groove: `describe` on every MIDI file of the Groove test split: tempo within 1 bpm of
   info.csv's; the nearest genre (top-1, top-3) against the genre of the file's style label,
   beside two chance levels (uniform over the genres; always naming the most common label).
3. swing: planner beats written with a known feel and swing ratio (0.5-0.7), humanized and read
   back from their MIDI: the measured ratio within ±0.03 of the one asked, and the feel named
   right (straight, swing8, swing16; a swing8 asked above 0.615 is a triplet feel by the feel
   fit's rule, and is counted right when named either). The same beats are also measured
   quantised (the swing as asked, in the offsets), and 150 more are drawn from other seeds
   (rng 7, plan seeds 1000 on), so that a rule fitted to the first 100 would show.
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

from audiogen.explain.describe import describe
from audiogen.explain.lesson import plan_lesson
from audiogen.explain.topics import TOPICS
from audiogen.midi import read_midi, round_trip
from audiogen.pipeline import Session
from audiogen.planner.genres import GENRES, groove_genre
from audiogen.request import PlanOptions
from audiogen.score import DrumScore, swing_offset_ms

REPO = Path(__file__).resolve().parents[1]
GROOVE = REPO.parent / "shared" / "datasets" / "groove"
RESULTS = REPO / "benchmarks" / "results" / "explain.json"
SWING_GENRES = ("hip-hop", "funk", "soul", "pop", "jazz", "lofi", "rock", "reggae")
SWING_TOLERANCE = 0.03


def lessons(session: Session, seeds: int, first: int = 0) -> dict:
    rows = {}
    for topic in TOPICS:
        passed, misses, later = 0, [], {}
        for seed in range(first, first + seeds):
            lesson = plan_lesson(session, topic, seed)
            passed += lesson.passed
            if lesson.examples[0].seed != seed:  # a seeking topic went on to a later seed
                later[seed] = lesson.examples[0].seed
            if not lesson.passed:
                misses.append({"seed": seed, "measured": [p.values for p in lesson.examples]})
        rows[topic.name] = {"passed": passed, "seeds": seeds, "first_seed": first,
                            "seeds_taken_later": later, "misses": misses}  # fmt: skip
    return rows


def groove(limit: int | None) -> dict:
    with open(GROOVE / "info.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    rows = rows[:limit] if limit else rows
    tempo_ok, top1, top3, labelled, seconds = 0, 0, 0, [], []
    for r in rows:
        start = time.perf_counter()
        score = read_midi(GROOVE / r["midi_filename"])
        d = describe(score)
        seconds.append(time.perf_counter() - start)
        tempo_ok += abs(d.bpm - float(r["bpm"])) <= 1.0
        genre = groove_genre(r["style"])
        if genre is None:
            continue
        names = [g for g, _ in d.genres]
        labelled.append(genre)
        top1 += names[:1] == [genre]
        top3 += genre in names
    n = len(labelled)
    most = max(labelled.count(g) for g in set(labelled)) / n if n else 0.0
    return {
        "files": len(rows), "tempo_within_1_bpm": tempo_ok, "labelled": n,
        "top1": top1 / n if n else None, "top3": top3 / n if n else None,
        "chance_top1_uniform": 1 / len(GENRES), "chance_top3_uniform": 3 / len(GENRES),
        "chance_top1_majority": most,
        "labels": {g: labelled.count(g) for g in sorted(set(labelled))},
        "seconds_per_file_median": float(np.median(seconds)) if seconds else None,
        "seconds_per_file_max": float(np.max(seconds)) if seconds else None,
    }  # fmt: skip


def _swung_notes(score: DrumScore, feel: str, asked: float) -> int:
    """How many hits of the planned beat the asked swing moves (0: it sounds straight)."""
    per_bar = score.meter.ticks_per_bar
    return sum(swing_offset_ms(h.tick % per_bar, feel, asked, score.bpm) != 0 for h in score.hits)


def swing(session: Session, count: int, seed: int = 20, first: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(first, first + count):
        genre = SWING_GENRES[k % len(SWING_GENRES)]
        feel = ("straight", "swing8", "swing16")[k % 3]
        asked = 0.5 if feel == "straight" else round(float(rng.uniform(0.52, 0.7)), 3)
        options, _ = PlanOptions.create(genre=genre, bars=4, feel=feel, swing=asked)
        planned = session.plan(options, k)
        named = {feel} | ({"triplet"} if feel == "swing8" and asked > 0.615 else set())
        row = {"genre": genre, "feel": feel, "asked": asked,
               "swung_notes": _swung_notes(planned, feel, asked)}  # fmt: skip
        # the beat as asked (quantised, swing in the offsets), then as the humanizer plays it
        for key, score in (
            ("quantised", planned),
            ("humanized", session.humanize(planned, 1.0, k)),
        ):
            d = describe(round_trip(score), genres=False)
            row[key] = {"measured": d.swing, "named": d.feel,
                        "ratio_ok": abs(d.swing - asked) <= SWING_TOLERANCE,
                        "feel_ok": d.feel in named}  # fmt: skip
        rows.append(row)
    out: dict = {"beats": len(rows), "seed": seed, "first_plan_seed": first}
    for key in ("humanized", "quantised"):
        mine = [{**r, **r[key]} for r in rows]
        by = {}
        for feel in ("straight", "swing8", "swing16"):
            some = [r for r in mine if r["feel"] == feel]
            by[feel] = {"beats": len(some), "ratio_ok": sum(r["ratio_ok"] for r in some),
                        "feel_ok": sum(r["feel_ok"] for r in some)}  # fmt: skip
        misses = [r for r in mine if not (r["ratio_ok"] and r["feel_ok"])]
        out[key] = {
            "ratio_ok": sum(r["ratio_ok"] for r in mine),
            "feel_ok": sum(r["feel_ok"] for r in mine),
            "mean_abs_error": float(np.mean([abs(r["measured"] - r["asked"]) for r in mine])),
            "by_feel": by,
            # why a humanized beat is misnamed: nothing swung to hear, or named right quantised
            "feel_misses_with_no_swung_note": sum(not r["feel_ok"] and r["feel"] != "straight"
                                                  and r["swung_notes"] < 3 for r in mine),
            "feel_misses_named_right_quantised": sum(not r["feel_ok"]
                                                     and r["quantised"]["feel_ok"] for r in mine),
            "misses": [{k: v for k, v in r.items() if k not in ("humanized", "quantised")}
                       for r in misses],
        }  # fmt: skip
    return out


def markdown(res: dict) -> str:
    out = []
    for part in (k for k in res if k.startswith("lessons")):
        out += ["| topic | seeds passed | of which on a later seed |", "|---|---|---|"]
        out += [f"| {name} | {r['passed']} of {r['seeds']} (from seed {r.get('first_seed', 0)}) "
                f"| {len(r.get('seeds_taken_later', {}))} |"
                for name, r in res[part].items()]  # fmt: skip
        out.append("")
    if "groove" in res:
        g = res["groove"]
        out.append(
            f"Groove test split: {g['files']} files, tempo within 1 bpm in "
            f"{g['tempo_within_1_bpm']}; genre over {g['labelled']} labelled files: top-1 "
            f"{g['top1']:.1%} (chance {g['chance_top1_uniform']:.1%} uniform, "
            f"{g['chance_top1_majority']:.1%} always the commonest label), top-3 {g['top3']:.1%} "
            f"(chance {g['chance_top3_uniform']:.1%}); {g['seconds_per_file_median']:.2f} s a "
            f"file (median), {g['seconds_per_file_max']:.1f} s at most."
        )
        out.append("")
    for part in ("swing", "swing_other_seeds"):
        if part not in res:
            continue
        s = res[part]
        for key in ("humanized", "quantised"):
            h = s[key]
            out.append(
                f"Swing ({part}, rng seed {s['seed']}, plan seeds {s['first_plan_seed']}-"
                f"{s['first_plan_seed'] + s['beats'] - 1}, {key}): {s['beats']} planner beats, "
                f"ratio within ±{SWING_TOLERANCE} in {h['ratio_ok']}, feel named right in "
                f"{h['feel_ok']} (mean error {h['mean_abs_error']:.3f}); by feel: "
                + "; ".join(
                    f"{f} {b['ratio_ok']}/{b['beats']} ratio, {b['feel_ok']}/{b['beats']} feel"
                    for f, b in h["by_feel"].items()
                )
                + f"; feel misses with no swung note {h['feel_misses_with_no_swung_note']}, "
                f"named right quantised {h['feel_misses_named_right_quantised']}"
            )  # fmt: skip
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="lessons from this seed on")
    parser.add_argument("--groove", type=int, default=0, help="test files (default: all)")
    parser.add_argument("--swing-beats", type=int, default=100)
    parser.add_argument(
        "--other-seeds",
        type=int,
        default=150,
        help="swing beats drawn from other seeds (rng 7, plan seeds 1000 on)",
    )
    parser.add_argument("--only", choices=("lessons", "groove", "swing"))
    args = parser.parse_args()
    session = Session()
    res: dict = {"machine": describe_machine()}
    if args.only and RESULTS.is_file():  # one part again: the others' numbers are kept
        res = json.loads(RESULTS.read_text())
    if args.only:
        res.setdefault("reruns", []).append({"only": args.only, "machine": describe_machine()})
    start = time.perf_counter()

    def save() -> None:  # after each part: a killed run still leaves its numbers
        seconds = round(time.perf_counter() - start, 1)
        if args.only:
            res["reruns"][-1]["seconds"] = seconds
        else:
            res["seconds"] = seconds
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(res, indent=2) + "\n")

    if args.only in (None, "lessons"):
        key = "lessons" if args.first_seed == 0 else f"lessons_from_seed_{args.first_seed}"
        res[key] = lessons(session, args.seeds, args.first_seed)
        save()
    if args.only in (None, "groove"):
        res["groove"] = groove(args.groove or None)
        save()
    if args.only in (None, "swing"):
        res["swing"] = swing(session, args.swing_beats)
        save()
        if args.other_seeds:
            res["swing_other_seeds"] = swing(session, args.other_seeds, seed=7, first=1000)
            save()
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
