"""An SFZ written by the test: regions, velocity layers, round robins, levels, tuning, choke
groups, default_path, #define and #include, and what is not supported said once."""

import numpy as np
import pytest

from audiogen.errors import KitError
from audiogen.kits import load_kit
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter

from .conftest import one_shot, write

DRUMS = """// a drum kit as SFZ players read it
#define $KICK 36
<control> default_path=samples/
<global> volume=-2
<group> key=$KICK
<region> sample=kick soft.wav hivel=80
<region> sample=kick hard.wav lovel=81
/* the snare alternates two takes */
<group> key=d2 seq_length=2 tune=20
<region> sample=snare_1.wav seq_position=1
<region> sample=snare_2.wav seq_position=2 volume=-6
#include "hats.sfz"
"""
HATS = """<group>
<region> key=42 sample=ch.wav group=2
<region> key=46 sample=oh.wav group=3 off_by=2 amp_velcurve_127=1
<region> key=49 sample=crash.wav pan=30 transpose=-1 amp_velcurve_64=0.5
"""


@pytest.fixture
def sfz_kit(tmp_path):
    samples = tmp_path / "samples"
    write(samples / "kick soft.wav", one_shot(60, level=0.3))
    write(samples / "kick hard.wav", one_shot(60, level=0.9))
    write(samples / "snare_1.wav", one_shot(200, 44100, channels=2), 44100)
    write(samples / "snare_2.wav", one_shot(210))
    write(samples / "ch.wav", one_shot(6000, seconds=0.05))
    write(samples / "oh.wav", one_shot(5000, seconds=1.0, level=0.5), subtype="PCM_24")
    write(samples / "crash.wav", one_shot(4000, seconds=0.3))
    (tmp_path / "hats.sfz").write_text(HATS)
    (tmp_path / "drums.sfz").write_text(DRUMS)
    return tmp_path / "drums.sfz"


def test_regions_become_layers_round_robins_levels_and_tuning(sfz_kit):
    kit = load_kit(str(sfz_kit))
    kick = kit.instruments["kick"].layers
    assert [(layer.velocity, [f.name for f in layer.files]) for layer in kick] == [
        (80, ["kick soft.wav"]), (127, ["kick hard.wav"])
    ]  # fmt: skip
    (snare,) = kit.instruments["snare"].layers  # d2 is note 38
    assert [f.name for f in snare.files] == ["snare_1.wav", "snare_2.wav"]
    assert snare.gains_db == (-2.0, -6.0)  # a region's volume replaces the global one
    assert snare.cents == (20.0, 20.0)
    assert kit.instruments["crash"].layers[0].cents == (-100.0,)
    assert kit.chokes == {"hat_closed": ("hat_open",)}
    (unsupported,) = [n for n in kit.notes if n.startswith("opcodes not played")]
    assert unsupported == "opcodes not played: amp_velcurve_127, amp_velcurve_64"


def test_an_sfz_plays_its_own_levels_and_chokes(sfz_kit):
    kit = load_kit(str(sfz_kit))
    score = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1, hits=(
        Hit(0, "kick", 127), Hit(24, "kick", 64), Hit(0, "hat_open", 127),
        Hit(12, "hat_closed", 100),
    ))  # fmt: skip
    stems = Sampler(kit, 48000, Variation.none()).render(score).stems
    kick = stems["kick"]
    hard = np.abs(kick[:12000]).max()
    soft = np.abs(kick[24000:36000]).max()
    assert hard == pytest.approx(0.9 * 10 ** (-2 / 20), rel=0.02)  # as recorded, -2 dB global
    # velocity 64 plays the soft layer, (64/127)^2 down as an SFZ player does
    assert soft == pytest.approx(0.3 * 10 ** (-2 / 20) * (64 / 127) ** 2, rel=0.02)
    hats = stems["hats"]
    # the open hat stopped when the closed one (2400 samples long) struck
    assert np.abs(hats[12000 + 2400 : 24000]).max() < 1e-3


def test_an_sfz_naming_a_missing_sample_cannot_play(sfz_kit):
    (sfz_kit.parent / "samples" / "ch.wav").unlink()
    with pytest.raises(KitError, match="names sample 'ch.wav', which is not there"):
        load_kit(str(sfz_kit))
