"""Writes the example beats in samples/beats/: patterns composed by the project (not taken from any
dataset), so README's first command has something to render before `generate` exists.

    python pipelines/make_example_beats.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audiogen.midi import write_midi
from audiogen.score import DrumScore, Hit, Meter, Provenance, Section

SIXTEENTH = 6  # grid ticks at 24 per quarter


def _bar(
    pattern: dict[str, str], bar: int, accent: dict[str, int], ticks_per_bar: int
) -> list[Hit]:
    """A bar from 16-step strings: 'X' accent, 'x' normal, 'g' ghost, '.' rest."""
    level = {"X": 0, "x": -22, "g": -78}
    hits = []
    for instrument, steps in pattern.items():
        for i, ch in enumerate(steps):
            if ch in level:
                velocity = max(1, min(127, accent[instrument] + level[ch]))
                hits.append(Hit(bar * ticks_per_bar + i * SIXTEENTH, instrument, velocity))
    return hits


def rock(bars_per_section: int = 4) -> DrumScore:
    meter = Meter(4, 4)
    tpb = meter.ticks_per_bar
    accent = {"kick": 118, "snare": 120, "hat_closed": 96, "hat_open": 100, "crash": 115,
              "ride": 100, "tom_high": 112, "tom_mid": 114, "tom_low": 116}  # fmt: skip
    verse = {
        "kick": "X.....x.X.......",
        "snare": "....X.......X..g",
        "hat_closed": "XxXxXxXxXxXxXxXx",
    }
    chorus = {"kick": "X.....x.X.x.....", "snare": "....X.......X...", "ride": "XxXxXxXxXxXxXxXx"}
    fill = {"kick": "X...............", "snare": "....X...XxXx....", "tom_high": "............Xx..",
            "tom_mid": "..............X.", "tom_low": "...............X"}  # fmt: skip
    form = [("intro", 0.3), ("verse", 0.5), ("chorus", 0.8), ("outro", 0.4)]
    hits: list[Hit] = []
    sections = []
    for index, (name, energy) in enumerate(form):
        first = index * bars_per_section
        sections.append(Section(name, first, bars_per_section, energy))
        for b in range(first, first + bars_per_section):
            last = b == first + bars_per_section - 1
            pattern = fill if last and name != "outro" else chorus if name == "chorus" else verse
            if name == "intro":
                pattern = {**pattern, "snare": "....X.......X..."}
            hits += _bar(pattern, b, accent, tpb)
            if b == first and name in ("verse", "chorus", "outro"):
                hits.append(Hit(b * tpb, "crash", accent["crash"]))
    end = len(form) * bars_per_section
    return DrumScore(
        bpm=112.0,
        meter=meter,
        bars=end,
        hits=tuple(_dedupe(hits)),
        sections=tuple(sections),
        provenance=Provenance(source="audiogen:example", genre="rock", kit="acoustic"),
    )


def boom_bap(bars: int = 8) -> DrumScore:
    """A swung hip-hop groove: late, lazy snares and 16th swing on the hats."""
    meter = Meter(4, 4)
    tpb = meter.ticks_per_bar
    accent = {"kick": 120, "snare": 118, "hat_closed": 90, "hat_open": 95, "rim": 90}
    a = {"kick": "X.........X.....", "snare": "....X.......X...", "hat_closed": "x.x.x.x.x.x.x.x."}
    b = {"kick": "X......x..X..x..", "snare": "....X..g....X...", "hat_closed": "x.x.x.x.x.x.x.o."}
    hits: list[Hit] = []
    for bar in range(bars):
        pattern = dict(b if bar % 2 else a)
        if "o" in pattern["hat_closed"]:
            pattern["hat_open"] = "".join("x" if c == "o" else "." for c in pattern["hat_closed"])
            pattern["hat_closed"] = pattern["hat_closed"].replace("o", ".")
        for hit in _bar(pattern, bar, accent, tpb):
            step = (hit.tick % tpb) // SIXTEENTH
            offset = 0.0
            if step % 2:
                offset = 28.0  # 16th swing, about 58 %
            if hit.instrument == "snare" and step in (4, 12):
                offset = 9.0  # laid back
            hits.append(Hit(hit.tick, hit.instrument, hit.velocity, offset))
    return DrumScore(
        bpm=90.0,
        meter=meter,
        bars=bars,
        hits=tuple(_dedupe(hits)),
        sections=(Section("verse", 0, bars, 0.6),),
        provenance=Provenance(source="audiogen:example", genre="hip-hop", feel="swung-16ths",
                              swing=0.58, kit="lofi"),
    )  # fmt: skip


def _dedupe(hits: list[Hit]) -> list[Hit]:
    return list({(h.tick, h.instrument): h for h in hits}.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("samples/beats"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, score in (("rock-groove", rock()), ("boom-bap", boom_bap())):
        write_midi(score, args.out / f"{name}.mid")
        print(f"{args.out / name}.mid  {score.bars} bars, {len(score.hits)} hits, {score.bpm} bpm")


if __name__ == "__main__":
    main()
