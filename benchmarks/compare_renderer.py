"""Two runs of bench_renderer.py on the same performances, compared: which differences the
performances drawn could have made by chance.

    python benchmarks/compare_renderer.py A/renderer.json B/renderer.json [--draws 300]

The benchmark's figures are means over a few dozen excerpts, and a group such as the toms plays
in a dozen of them, a few hits each. So a checkpoint can meet one target more than another by
the draw alone. This resamples the performances with replacement (the same draw for both runs,
since they rendered the same scores), sums each draw up as the benchmark does, and reports, per
stem group, the difference B - A in log-mel ratio, onset F and onset error with its 5-95 %
interval, and the number of targets each meets. A difference whose interval holds 0 is not one
the benchmark can tell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_renderer import missed_targets, summarise  # noqa: E402

MEASURES = ("neural_log_mel_ratio", "neural_onset_f", "neural_onset_error_ms")


def by_performance(result: dict) -> dict[str, list[dict]]:
    """A bench result's per-stem rows, by the performance they came from."""
    out: dict[str, list[dict]] = {}
    for row in result["stems"]:
        out.setdefault(row["source"], []).append(row)
    return out


def compare(a: dict, b: dict, draws: int = 300, seed: int = 0) -> dict:
    """Per stem group and measure, B - A as measured and its 5 and 95 % points over ``draws``
    resamplings of the performances; and each run's targets met, as measured and resampled."""
    rows_a, rows_b = by_performance(a), by_performance(b)
    if sorted(rows_a) != sorted(rows_b):
        raise ValueError("the two runs did not render the same performances")
    sources = sorted(rows_a)
    rng = np.random.default_rng(seed)

    def summed(rows: dict[str, list[dict]], pick: np.ndarray) -> dict:
        return summarise([r for i in pick for r in rows[sources[i]]], 1, 1, 1, 1)

    def met(summary: dict) -> int:
        measured, missed = missed_targets(summary)
        return measured - len(missed)

    whole = np.arange(len(sources))
    first, second = summed(rows_a, whole), summed(rows_b, whole)
    differences: dict[tuple[str, str], list[float]] = {}
    counts: list[tuple[int, int]] = []
    for _ in range(draws):
        pick = rng.choice(len(sources), len(sources), replace=True)
        one, two = summed(rows_a, pick), summed(rows_b, pick)
        counts.append((met(one), met(two)))
        for group in set(one["groups"]) & set(two["groups"]):
            for measure in MEASURES:
                x, y = one["groups"][group][measure], two["groups"][group][measure]
                if x is not None and y is not None:
                    differences.setdefault((group, measure), []).append(y - x)
    groups: dict = {}
    for (group, measure), values in sorted(differences.items()):
        x, y = first["groups"][group][measure], second["groups"][group][measure]
        groups.setdefault(group, {})[measure] = {
            "a": x, "b": y, "b_minus_a": None if x is None or y is None else round(y - x, 4),
            "interval": [round(float(np.percentile(values, q)), 4) for q in (5, 95)],
        }  # fmt: skip
    tally = np.array(counts)
    return {
        "performances": len(sources), "draws": draws, "groups": groups,
        "targets_met": {"a": met(first), "b": met(second),
                        "b_minus_a_interval": np.percentile(tally[:, 1] - tally[:, 0],
                                                            [5, 95]).tolist()},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="renderer.json of run A")
    parser.add_argument("b", type=Path, help="renderer.json of run B")
    parser.add_argument("--draws", type=int, default=300)
    args = parser.parse_args()
    try:
        runs = [json.loads(path.read_text()) for path in (args.a, args.b)]
        result = compare(*runs, draws=args.draws)
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"error: {exc}")
    names = [run.get("checkpoint", "?") for run in runs]
    print(f"A = {names[0]}, B = {names[1]}; {result['performances']} performances, "
          f"{result['draws']} draws")  # fmt: skip
    for group, measures in result["groups"].items():
        for measure, v in measures.items():
            low, high = v["interval"]
            tell = "" if low <= 0 <= high else "  *"
            print(f"{group:8s} {measure:22s} A {v['a']}  B {v['b']}  B-A {v['b_minus_a']:+} "
                  f"[{low:+}, {high:+}]{tell}")  # fmt: skip
    t = result["targets_met"]
    print(f"targets met: A {t['a']}, B {t['b']}; B-A over the draws, 5-95 %: "
          f"{t['b_minus_a_interval']}  (*: the interval leaves 0 out)")  # fmt: skip


if __name__ == "__main__":
    main()
