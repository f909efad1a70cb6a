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


def test_a_long_song_is_drawn_smaller_so_its_picture_stays_a_page_or_two():
    # 256 bars (25 minutes at 40 bpm): 16 bars to a line, 16 lines, the same width as a short
    # beat's picture; every bar's first hit still shows in its lane.
    from audiogen.picture import MAX_LINES

    hits = tuple(Hit(bar * 96, "kick", 127) for bar in range(256))
    four = draw_grid(DrumScore(40.0, Meter(4, 4), BARS_PER_LINE, hits[:4]))
    song = draw_grid(DrumScore(40.0, Meter(4, 4), 256, hits))
    line_px = 22 + LANE_PX + 14
    assert song.height == 34 + MAX_LINES * line_px and song.width == four.width
    bar_px = 96 * PX_PER_TICK // 4
    for line in range(MAX_LINES):
        y = 34 + line * line_px + 22 + LANE_PX // 2
        for bar in range(16):
            red = song.getpixel((LABEL_PX + bar * bar_px + 1, y))
            assert red[0] > 200 and red[0] > red[2], (line, bar)
