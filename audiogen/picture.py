"""A drum-grid picture of a `DrumScore` (grid.png beside the audio): one lane per instrument, a
block per hit, its shade the velocity, sections and bar numbers above — what a step sequencer
shows, so a score can be read at a glance. `Marks` annotate it for a lesson: hits outlined
(the backbeat, the syncopations), lanes banded (a cross-rhythm), the straight grid drawn where
swing moves the hits, and the count under the bars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.score import TICKS_PER_QUARTER, DrumScore

BARS_PER_LINE = 4
PX_PER_TICK = 4  # a 16th = 24 px
# A long score is drawn smaller, 2 or 4 times as many bars to a line, so that its picture stays
# about this many lines (a 25-minute song is 16 lines of 16 bars, not 64 of 4: a picture one can
# scroll, and a canvas that does not grow with the song).
MAX_LINES = 16
_ZOOMS = (1, 2, 4)
LANE_PX = 18
LABEL_PX = 96
_GROUP_RGB = {
    "kick": (224, 82, 67),
    "snare": (240, 160, 48),
    "hats": (80, 170, 230),
    "cymbals": (120, 200, 160),
    "toms": (170, 120, 220),
    "perc": (230, 120, 180),
}
_BG, _INK, _FAINT, _BAR = (24, 26, 31), (225, 228, 235), (44, 47, 55), (110, 115, 128)
_MARK, _BAND, _GRID = (255, 255, 255), (60, 52, 30), (200, 200, 90)
COUNT_PX = 14  # the counting row under each line of a marked picture


@dataclass(frozen=True)
class Marks:
    """What a lesson points at in a picture.

    Args:
        hits: (tick, instrument) of the hits to outline.
        lanes: instruments whose lane is banded, each with its label ("3:2").
        legend: lines printed under the title, saying what the outlines and bands are.
        straight_grid: draw the straight 8ths and 16ths as ticks, so swung hits show their lag.
        counts: the count of each place worth a name ("1 e & a"), drawn under each line.
    """

    hits: frozenset[tuple[int, str]] = frozenset()
    lanes: tuple[tuple[str, str], ...] = ()
    legend: tuple[str, ...] = ()
    straight_grid: bool = False
    counts: tuple[tuple[int, str], ...] = ()


def draw_grid(score: DrumScore, title: str = "", marks: Marks | None = None) -> Image.Image:
    """Render the score as a picture; long scores wrap every few bars like a page of music."""
    lanes = [i for i in INSTRUMENTS if any(h.instrument == i for h in score.hits)] or ["kick"]
    zoom = next((z for z in _ZOOMS if -(-score.bars // (BARS_PER_LINE * z)) <= MAX_LINES), 4)
    px, per_line = PX_PER_TICK // zoom, BARS_PER_LINE * zoom
    bar_px = score.meter.ticks_per_bar * px
    lines = -(-score.bars // per_line)
    extra = COUNT_PX if marks is not None and marks.counts else 0
    head = 34 + (14 * len(marks.legend) if marks is not None else 0)
    line_px = 22 + LANE_PX * len(lanes) + 14 + extra
    width = LABEL_PX + min(score.bars, per_line) * bar_px + 12
    height = head + lines * line_px
    image = Image.new("RGB", (width, height), _BG)
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    heading = title or f"{score.bpm:g} bpm · {score.meter} · {score.bars} bars"
    pen.text((10, 9), heading, fill=_INK, font=font)
    for k, text in enumerate(marks.legend if marks is not None else ()):
        pen.text((10, 25 + 14 * k), text, fill=_MARK, font=font)
    banded = dict(marks.lanes) if marks is not None else {}
    ms_per_tick = score.seconds_per_tick * 1000
    starts = {s.first_bar: s for s in score.sections}

    for line in range(lines):
        top = head + line * line_px
        grid_top = top + 22
        first_bar = line * per_line
        bars_here = min(per_line, score.bars - first_bar)
        right = LABEL_PX + bars_here * bar_px
        for row, lane in enumerate(lanes):
            y = grid_top + row * LANE_PX
            if lane in banded:
                pen.rectangle((LABEL_PX, y, right, y + LANE_PX - 1), fill=_BAND)
            elif row % 2:
                pen.rectangle((LABEL_PX, y, right, y + LANE_PX - 1), fill=(30, 32, 38))
            name = lane.replace("_", " ") + (f" {banded[lane]}" if lane in banded else "")
            pen.text((10, y + 2), name, fill=_GROUP_RGB[GROUP_OF[lane]], font=font)
        beat_ticks = TICKS_PER_QUARTER * 4 // score.meter.denominator
        for tick in range(0, bars_here * score.meter.ticks_per_bar + 1, beat_ticks):
            x = LABEL_PX + tick * px
            colour = _BAR if tick % score.meter.ticks_per_bar == 0 else _FAINT
            pen.line((x, grid_top, x, grid_top + LANE_PX * len(lanes)), fill=colour)
        for b in range(bars_here):
            bar = first_bar + b
            x = LABEL_PX + b * bar_px
            label = str(bar + 1)
            if bar in starts:
                label += f"  {starts[bar].name}"
            pen.text((x + 3, top + 4), label, fill=_INK if bar in starts else _BAR, font=font)

        lo, hi = (
            first_bar * score.meter.ticks_per_bar,
            (first_bar + bars_here) * score.meter.ticks_per_bar,
        )
        for hit in score.hits:
            if not lo <= hit.tick < hi:
                continue
            row = lanes.index(hit.instrument)
            left = LABEL_PX + (hit.tick - lo + hit.offset_ms / ms_per_tick) * px
            y = grid_top + row * LANE_PX
            shade = 0.25 + 0.75 * hit.velocity / 127
            rgb = tuple(
                round(_BG[i] + (c - _BG[i]) * shade)
                for i, c in enumerate(_GROUP_RGB[GROUP_OF[hit.instrument]])
            )
            box = (left + 1, y + 2, max(left + 2, left + 6 * px - 3), y + LANE_PX - 3)
            pen.rectangle(box, fill=rgb)
            if marks is not None and (hit.tick, hit.instrument) in marks.hits:
                pen.rectangle((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), outline=_MARK)
        if marks is not None:
            _annotate(pen, font, marks, score, grid_top, len(lanes), bars_here, px)
    return image


def _annotate(
    pen: ImageDraw.ImageDraw, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, marks: Marks,
    score: DrumScore, grid_top: int, n_lanes: int, bars_here: int, px: int,
) -> None:  # fmt: skip
    """A line's straight-grid ticks and its counting row."""
    bottom = grid_top + LANE_PX * n_lanes
    per_bar = score.meter.ticks_per_bar
    if marks.straight_grid:  # where the 8ths and 16ths would be, straight
        for tick in range(0, bars_here * per_bar, 6):
            x = LABEL_PX + tick * px
            size = 5 if tick % 12 == 0 else 3
            pen.line((x, bottom, x, bottom + size), fill=_GRID)
    for b in range(bars_here):
        for position, text in marks.counts:
            x = LABEL_PX + (b * per_bar + position) * px
            pen.text((x + 2, bottom + 4), text, fill=_BAR, font=font)


def save_grid(score: DrumScore, path: Path, title: str = "", marks: Marks | None = None) -> Path:
    draw_grid(score, title, marks).save(path, format="PNG", optimize=True)
    return path
