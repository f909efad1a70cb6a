"""Mapping accuracy of a sample pack's file names to instrument classes.

    python benchmarks/bench_kit_names.py

Reads benchmarks/data/kit-names.tsv (pack-style paths labelled by hand, several naming
conventions), maps each as a folder kit would (`audiogen.kits.names.guess`: the file name, then
its folders when the name says no class), and prints the share mapped to the labelled class and
every mistake. Writes benchmarks/results/kit-names.json.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from machine import describe_machine

from audiogen.kits.names import guess


def main() -> None:
    here = Path(__file__).resolve().parent
    rows = []
    for line in (here / "data" / "kit-names.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            path, label = line.split("\t")
            rows.append((path, label.strip()))
    mistakes = []
    for path, label in rows:
        parts = PurePosixPath(path)
        got = guess(parts.stem, tuple(reversed(parts.parent.parts))).cls
        if got != label:
            mistakes.append({"path": path, "label": label, "mapped": got})
    accuracy = 1 - len(mistakes) / len(rows)
    print(f"{len(rows) - len(mistakes)} of {len(rows)} names mapped to the labelled class: "
          f"{100 * accuracy:.1f} %")  # fmt: skip
    for m in mistakes:
        print(f"  {m['path']}: labelled {m['label']}, mapped {m['mapped']}")
    result = {"names": len(rows), "correct": len(rows) - len(mistakes),
              "accuracy": round(accuracy, 4), "mistakes": mistakes,
              "machine": describe_machine()}  # fmt: skip
    out = here / "results" / "kit-names.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
