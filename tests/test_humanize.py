"""The humanize stage as a user meets it: amount 0 changes nothing, the same seed plays the same,
hits stay near their grid, swing comes out late, accents stay louder than ghost notes, bad
amounts are refused in one line, and generated beats say which humanizer played them."""

import json
import subprocess
import sys

import pytest

from audiogen.errors import AudiogenError
from audiogen.humanize import Humanizer, humanize
from audiogen.paths import checkpoints_dir
from audiogen.score import DrumScore, Hit, Meter, Provenance

SIXTEENTH_TICKS = 6


@pytest.fixture(scope="module")
def humanizer() -> Humanizer:
    return Humanizer.load()


def groove(genre="rock", feel="straight", swing=0.5, bpm=110.0, bars=4, swing_offsets=False):
    """A quantised beat: 8th hats, kick on 1 and 3, accented backbeat, ghost snares on 16ths."""
    ms_per_tick = 60_000.0 / (bpm * 24)
    late = (swing - 0.5) * 2 * 12 * ms_per_tick if feel == "swing8" else 0.0
    hits = []
    for bar in range(bars):
        base = bar * 96
        for k in range(8):
            offset = late if swing_offsets and k % 2 else 0.0
            hits.append(Hit(base + 12 * k, "hat_closed", 80, round(offset, 3)))
        hits += [Hit(base, "kick", 96), Hit(base + 48, "kick", 96)]
        hits += [Hit(base + 24, "snare", 122), Hit(base + 72, "snare", 122)]
        hits += [Hit(base + 42, "snare", 32), Hit(base + 66, "snare", 32)]
    return DrumScore(
        bpm=bpm,
        meter=Meter(4, 4),
        bars=bars,
        hits=tuple(hits),
        provenance=Provenance(source="planner", genre=genre, feel=feel, swing=swing),
    )


def test_shipped_checkpoint_loads_and_is_small(humanizer):
    folder = checkpoints_dir() / "humanizer"
    assert humanizer.version.startswith("humanizer@")
    assert (folder / "humanizer.safetensors").stat().st_size < 2_000_000
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Groove MIDI Dataset" in card and "Hardware" in card


def test_amount_zero_leaves_the_score_unchanged():
    score = groove()
    played = humanize(score, amount=0)
    assert played.hits == score.hits
    assert dict(played.provenance.models)["humanizer"] == "off (amount 0)"


def test_same_seed_same_performance_other_seed_other(humanizer):
    score = groove()
    first = humanizer.humanize(score, seed=4)
    assert humanizer.humanize(score, seed=4).hits == first.hits
    assert humanizer.humanize(score, seed=5).hits != first.hits
    assert first.hits != score.hits


def test_hits_keep_their_ticks_and_stay_near_the_grid(humanizer):
    score = groove(bpm=90.0)
    played = humanizer.humanize(score, seed=1)
    assert [(h.tick, h.instrument) for h in played.hits] == [
        (h.tick, h.instrument) for h in score.hits
    ]
    half_sixteenth_ms = SIXTEENTH_TICKS / 2 * 1000 * score.seconds_per_tick
    assert all(abs(h.offset_ms) <= half_sixteenth_ms for h in played.hits)
    assert all(1 <= h.velocity <= 127 for h in played.hits)
    # It does move things: a drummer is not a grid.
    assert sum(abs(h.offset_ms) > 1.0 for h in played.hits) > len(played.hits) / 2


def test_amount_scales_the_change(humanizer):
    score = groove()
    full = humanizer.humanize(score, amount=1.0, seed=2)
    half = humanizer.humanize(score, amount=0.5, seed=2)
    for q, h, f in zip(score.hits, half.hits, full.hits):
        assert h.offset_ms == pytest.approx(0.5 * f.offset_ms, abs=0.01)
        assert abs(h.velocity - (q.velocity + f.velocity) / 2) <= 1


def test_swung_genre_comes_out_late_on_the_off_eighths(humanizer):
    score = groove(genre="jazz", feel="swing8", swing=0.62, bpm=120.0, bars=8)
    played = humanizer.humanize(score, seed=0)
    hats = [h for h in played.hits if h.instrument == "hat_closed"]
    on_beat = [h.offset_ms for h in hats if h.tick % 24 == 0]
    off_eighth = [h.offset_ms for h in hats if h.tick % 24 == 12]
    # 0.62 swing at 120 bpm puts the off-8th 30 ms late; a drummer wanders around that.
    assert sum(off_eighth) / len(off_eighth) - sum(on_beat) / len(on_beat) > 15.0


def test_accents_stay_louder_than_ghost_notes(humanizer):
    played = humanizer.humanize(groove(genre="funk", bars=8), seed=3)
    snares = [h for h in played.hits if h.instrument == "snare"]
    ghosts = [h.velocity for h in snares if h.tick % 24]
    backbeat = [h.velocity for h in snares if h.tick % 24 == 0]
    assert max(ghosts) < min(backbeat)


@pytest.mark.parametrize("amount", [-0.1, 1.5, "lots", None])
def test_bad_amount_is_refused_in_one_line(amount):
    with pytest.raises(AudiogenError) as err:
        humanize(groove(), amount=amount)
    assert "humanize amount" in str(err.value) and "\n" not in str(err.value)


def test_cli_refuses_a_bad_humanize_amount(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audiogen", "generate", "-o", str(out), "--humanize", "2"],
        capture_output=True,
        text=True,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "humanize" in lines[0]
    assert not out.exists()


def test_generated_beat_records_humanizer_and_amount(tiny_kit, tmp_path):
    import audiogen

    if not (checkpoints_dir() / "planner" / "planner.safetensors").is_file():
        pytest.skip("no planner checkpoint")
    beat = audiogen.generate(
        genre="funk", bars=2, kit="tiny", loudness="broadcast", seed=1, humanize=0.5
    )
    models = dict(beat.score.provenance.models)
    assert models["humanizer"].startswith("humanizer@") and models["humanizer"].endswith("0.5")
    assert any(h.offset_ms for h in beat.score.hits)
    beat.save(tmp_path / "beat")
    manifest = json.loads((tmp_path / "beat" / "manifest.json").read_text())
    assert manifest["score"]["provenance"]["models"]["humanizer"] == models["humanizer"]


@pytest.mark.parametrize("genre", ["jazz", "soul", "hip-hop"])
def test_a_beat_asked_straight_stays_straight(humanizer, genre):
    # Groove's jazz, soul and hip-hop drummers drag their ghost notes between the 8ths: drawn as
    # learned, a beat asked straight came out swung. Each hit keeps its scatter; the
    # subdivisions keep the feel asked.
    bpm, bars = 95.0, 8
    hits = []
    for bar in range(bars):
        base = bar * 96
        hits += [Hit(base + 12 * k, "hat_closed", 85) for k in range(8)]
        hits += [Hit(base + t, "kick", 105) for t in (0, 42, 60)]
        hits += [Hit(base + t, "snare", 120) for t in (24, 72)]
        hits += [Hit(base + t, "snare", 35) for t in range(0, 96, 6) if t not in (24, 72)]
    provenance = Provenance(source="planner", genre=genre, feel="straight")
    score = DrumScore(bpm=bpm, meter=Meter(4, 4), bars=bars, hits=tuple(hits),
                      provenance=provenance)  # fmt: skip
    sixteenth_ms = 60_000 / bpm / 4
    for seed in range(3):
        ghosts = [h for h in humanizer.humanize(score, seed=seed).hits if h.velocity < 90
                  and h.instrument == "snare"]  # fmt: skip
        eighths = [h.offset_ms for h in ghosts if h.tick % 12 == 0]
        between = [h.offset_ms for h in ghosts if h.tick % 12 == 6]
        late = (sum(between) / len(between) - sum(eighths) / len(eighths)) / sixteenth_ms
        assert abs(late) < 0.04  # the 16ths' swing ratio within 0.49-0.51
        assert max(between) - min(between) > 3.0  # still played by a person, not a grid


@pytest.mark.parametrize("genre", ["jazz", "soul"])
def test_an_instrument_played_between_the_8ths_keeps_them_straight(humanizer, genre):
    # Toms or ghosts that play only on the "e" and "a" have no pulse of their own to lean with:
    # measured against their own mean they kept the learned drag, and a straight beat swung.
    bpm, bars = 140.0, 8
    hits = []
    for bar in range(bars):
        base = bar * 96
        hits += [Hit(base + 12 * k, "ride", 90) for k in range(8)]
        hits += [Hit(base + t, "kick", 100) for t in (0, 48)]
        hits += [Hit(base + t, "snare", 110) for t in (24, 72)]
        hits += [Hit(base + t, "tom_low", 70) for t in (18, 42, 66, 90)]
    provenance = Provenance(source="planner", genre=genre, feel="straight")
    score = DrumScore(bpm=bpm, meter=Meter(4, 4), bars=bars, hits=tuple(hits),
                      provenance=provenance)  # fmt: skip
    sixteenth_ms = 60_000 / bpm / 4
    for seed in range(3):
        played = humanizer.humanize(score, seed=seed).hits
        pulse = [h.offset_ms for h in played if h.tick % 12 == 0]
        toms = [h.offset_ms for h in played if h.instrument == "tom_low"]
        late = (sum(toms) / len(toms) - sum(pulse) / len(pulse)) / sixteenth_ms
        assert abs(late) < 0.04  # the 16ths' swing ratio within 0.49-0.51
        assert max(toms) - min(toms) > 3.0  # still played by a person, not a grid
