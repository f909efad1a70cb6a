"""Song structure as a user meets it: forms read as typed, songs that build, fills that end
sections, crashes that open them, and variations of a user's own beat."""

import json
import subprocess
import sys

import pytest

from audiogen.errors import RequestError
from audiogen.midi import read_midi, write_midi
from audiogen.paths import checkpoints_dir
from audiogen.planner.arrange import bars_for_duration, default_form, parse_form
from audiogen.planner.generate import Planner, PlanRequest, core_bars
from audiogen.request import PlanOptions
from audiogen.score import DrumScore, Hit, Meter

needs_planner = pytest.mark.skipif(
    not (checkpoints_dir() / "planner" / "planner.safetensors").is_file(),
    reason="no planner checkpoint",
)


@pytest.fixture(scope="module")
def planner():
    return Planner.load()


def _bars(score):
    ticks = score.meter.ticks_per_bar
    out = [set() for _ in range(score.bars)]
    for h in score.hits:
        out[h.tick // ticks].add((h.tick % ticks, h.instrument))
    return out


def _dice(a, b):
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0


def test_a_form_reads_as_typed():
    form = parse_form("Intro:4, verse:8, Chorus:8:0.9, pre:2, outro:4")
    assert [(s.name, s.first_bar, s.bars) for s in form] == [
        ("intro", 0, 4), ("verse", 4, 8), ("chorus", 12, 8), ("pre-chorus", 20, 2),
        ("outro", 22, 4),
    ]  # fmt: skip
    assert form[2].energy == 0.9  # given
    assert form[0].energy < form[1].energy < form[3].energy  # the curve: intro < verse < pre
    louder = parse_form("intro:4,verse:8", energy=0.9)
    assert louder[1].energy > form[1].energy  # the request's energy moves the curve


@pytest.mark.parametrize(
    "spec, message",
    [("solo:4", "section 'solo'"), ("verse", "name:bars"), ("verse:0", "bars"),
     ("verse:8:2", "energy"), ("verse:64,chorus:64,verse:64,chorus:64,outro:4", "256")],
)  # fmt: skip
def test_a_bad_form_gets_one_line(spec, message):
    with pytest.raises(RequestError, match=message):
        parse_form(spec)


def test_default_forms_fill_the_length_with_a_song_shape():
    for bars in range(1, 257):
        form = default_form(bars)
        assert sum(s.bars for s in form) == bars
        assert [s.first_bar for s in form] == [
            sum(x.bars for x in form[:i]) for i in range(len(form))
        ]
    names = [s.name for s in default_form(48)]
    assert names[0] == "intro" and names[-1] == "outro" and "bridge" in names
    assert names.count("chorus") == 3


def test_a_duration_becomes_whole_bars_and_a_song():
    assert bars_for_duration(60, 120, Meter(4, 4)) == 30
    assert bars_for_duration(61, 120, Meter(4, 4)) == 30  # the nearest whole bar
    opts, _ = PlanOptions.create(genre="house", duration=90)
    assert opts.bars == 46 and opts.form.startswith("intro:")  # 124 bpm: 46 bars = 89 s
    with pytest.raises(RequestError, match="not both"):
        PlanOptions.create(genre="house", duration=90, bars=8)
    with pytest.raises(RequestError, match="--form sets the length"):
        PlanOptions.create(genre="house", form="verse:8", bars=4)
    assert PlanOptions.create(genre="house", bars=8)[0].form is None  # a loop stays a loop


@needs_planner
@pytest.mark.parametrize("genre, meter", [("rock", "4/4"), ("afro-cuban", "6/8")])
def test_a_song_builds_and_each_section_varies_one_groove(planner, genre, meter):
    form = parse_form("intro:4,verse:8,chorus:8,bridge:4,outro:4")
    req = PlanRequest(genre=genre, bpm=110, bars=28, meter=Meter.parse(meter), feel="straight",
                      swing=0.5, seed=2, form=form)  # fmt: skip
    song = planner.song(req)
    score = song.score
    assert [(s.name, s.first_bar, s.bars) for s in score.sections] == [
        (s.name, s.first_bar, s.bars) for s in form
    ]
    bars = _bars(score)
    ticks = score.meter.ticks_per_bar
    # Kick and snare are the core's in every section (bars before each fill).
    core = [{(p, i) for p, i, _ in bar if i in ("kick", "snare")} for bar in song.core]
    for s in form:
        for b in range(s.first_bar, s.first_bar + s.bars - 1):
            backbone = {h for h in bars[b] if h[1] in ("kick", "snare")}
            assert backbone == core[(b - s.first_bar) % len(core)], (s.name, b)
    # Denser as the song builds: intro and outro under the verse, the verse under the chorus.
    dens = {s.name: sum(len(bars[b]) for b in range(s.first_bar, s.first_bar + s.bars)) / s.bars
            for s in form}  # fmt: skip
    assert dens["intro"] <= dens["verse"] <= dens["chorus"] and dens["outro"] <= dens["bridge"]
    # A fill ends every section but the last: its last half-bar leaves the groove.
    for s in form[:-1]:
        last = s.first_bar + s.bars - 1
        half = [{h for h in bars[b] if h[0] >= ticks // 2} for b in (last, last - 2)]
        assert _dice(*half) < 0.6, s.name
    # A crash opens every section after the first; the MIDI carries a marker per section.
    for s in form[1:]:
        assert (0, "crash") in bars[s.first_bar]


@needs_planner
def test_song_sections_survive_the_midi_round_trip(planner, tmp_path):
    form = parse_form("intro:2,verse:4,chorus:4")
    req = PlanRequest(genre="house", bpm=124, bars=10, meter=Meter(4, 4), feel="straight",
                      swing=0.5, seed=1, form=form)  # fmt: skip
    score = planner.plan(req)
    write_midi(score, tmp_path / "song.mid")
    assert [(s.name, s.first_bar, s.bars) for s in read_midi(tmp_path / "song.mid").sections] == [
        ("intro", 0, 2), ("verse", 2, 4), ("chorus", 6, 4),
    ]  # fmt: skip


def _input_beat() -> DrumScore:
    """Four bars of a funk beat with played timing: ghost notes, an open hat, a ride bell."""
    hits = []
    for bar in range(4):
        t = bar * 96
        hits += [Hit(t, "kick", 118, -3.0), Hit(t + 30, "kick", 96, 2.5), Hit(t + 60, "kick", 100)]
        hits += [Hit(t + 24, "snare", 120, 4.0), Hit(t + 72, "snare", 116, 1.5)]
        hits += [Hit(t + 42, "snare", 34), Hit(t + 90, "snare", 30)]
        hits += [Hit(t + k * 12, "hat_closed", 70 + (k % 2) * 20, -1.0) for k in range(7)]
        hits += [Hit(t + 84, "hat_open", 90), Hit(t + 48, "ride_bell", 80)]
    return DrumScore(100.0, Meter(4, 4), 4, tuple(hits))


@needs_planner
def test_variations_keep_the_kick_and_move_away_as_the_amount_rises(planner):
    beat = _input_beat()
    _, core = core_bars(beat)
    core_sets = [{(p, i) for p, i, _ in bar} for bar in core]
    similarity = []
    for amount in (0.0, 0.5, 1.0):
        song = planner.vary(beat, "verse:4,chorus:4,bridge:4", amount, seed=3)
        bars = _bars(song.score)
        kicks = [{h for h in bar if h[1] == "kick"} for bar in core_sets]
        for s in song.score.sections:
            for b in range(s.first_bar, s.first_bar + s.bars - 1):
                assert {h for h in bars[b] if h[1] == "kick"} == kicks[(b - s.first_bar) % 2]
        similarity.append(
            sum(_dice(bars[b], core_sets[b % 2]) for b in range(12) if b % 4 != 3) / 9
        )
    assert similarity[0] == 1.0  # amount 0: the input as it is
    assert similarity[0] > similarity[1] > similarity[2]


@needs_planner
def test_vary_writes_sections_and_a_song_keeping_the_played_feel(tiny_kit, tmp_path):
    from audiogen.cli import main

    write_midi(_input_beat(), tmp_path / "funk.mid")
    out = tmp_path / "v"
    args = ["vary", str(tmp_path / "funk.mid"), "--sections", "verse,chorus", "--amount", "0.4",
            "--kit", "tiny", "-o", str(out), "--seed", "2"]  # fmt: skip
    assert main(args) == 0
    song = read_midi(out / "beat.mid")
    assert [(s.name, s.bars) for s in song.sections] == [("verse", 8), ("chorus", 8)]
    for name in ("verse", "chorus"):
        part = read_midi(out / "sections" / f"{name}.mid")
        assert part.bars == 2 and part.sections[0].name == name
    # The input's snare backbeat keeps its played velocity and timing in the song.
    played = {(h.tick, h.instrument): h for h in song.hits}
    assert played[(24, "snare")].velocity == 120 and abs(played[(24, "snare")].offset_ms - 4) < 0.5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"]["amount"] == 0.4 and "sections/chorus.mid" in manifest["files"]
    # What it says went in: the varied file, and the humanizer that played the new hits.
    provenance = manifest["score"]["provenance"]
    assert provenance["source"].startswith("vary:")
    assert provenance["models"]["humanizer"].startswith("humanizer@")


@pytest.mark.parametrize(
    "extra, message",
    [(["--amount", "3"], "amount"), (["--sections", "verse,solo"], "section 'solo'"),
     (["--form", "verse:x"], "bars")],
)  # fmt: skip
def test_vary_refuses_bad_values_in_one_line(tmp_path, extra, message):
    write_midi(_input_beat(), tmp_path / "funk.mid")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audiogen", "vary", str(tmp_path / "funk.mid"), "-o", str(out),
         *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("audiogen: error:")
    assert message in lines[0].lower()
    assert not out.exists()
