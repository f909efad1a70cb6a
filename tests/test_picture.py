from audiogen.picture import BARS_PER_LINE, LABEL_PX, LANE_PX, PX_PER_TICK, draw_grid
from audiogen.score import DrumScore, Hit, Meter


def test_grid_shows_each_hit_in_its_lane_and_wraps_long_scores():
    hits = (Hit(0, "kick", 127), Hit(24, "snare", 127), Hit(30, "snare", 20))
    short = draw_grid(DrumScore(120.0, Meter(4, 4), 1, hits))
    lanes_top = 34 + 22
    kick = short.getpixel((LABEL_PX + 10, lanes_top + LANE_PX // 2))
    snare_loud = short.getpixel(
        (LABEL_PX + 24 * PX_PER_TICK + 10, lanes_top + LANE_PX + LANE_PX // 2)
    )
    snare_ghost = short.getpixel(
        (LABEL_PX + 30 * PX_PER_TICK + 10, lanes_top + LANE_PX + LANE_PX // 2)
    )
    empty = short.getpixel((LABEL_PX + 60 * PX_PER_TICK + 10, lanes_top + LANE_PX // 2))
    assert kick[0] > 200 and kick[0] > kick[2]  # the kick lane is red where the kick plays
    assert sum(snare_loud) > sum(snare_ghost) > sum(empty)  # velocity shows as brightness
    assert short.height == 34 + 22 + 2 * LANE_PX + 14  # two lanes: kick and snare only
    long = draw_grid(DrumScore(120.0, Meter(4, 4), BARS_PER_LINE * 3, hits))
    assert long.height == 34 + 3 * (22 + 2 * LANE_PX + 14)
