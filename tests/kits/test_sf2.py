"""A SoundFont 2 file written by the test: its drum preset's zones by key and velocity, the
preset's and instrument's generators, a stereo pair, exclusive classes, and --preset-name."""

import numpy as np
import pytest
import soundfile as sf

from audiogen.errors import KitError
from audiogen.kits import load_kit
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter

from .conftest import one_shot, write_sf2

MONO, RIGHT, LEFT = 1, 2, 4
KEYS, VELS, PAN, ATTEN, SAMPLE, EXCL, ROOT, INSTRUMENT = 43, 44, 17, 48, 53, 57, 58, 41
HOLD, DECAY, SUSTAIN = 35, 36, 37
TONE = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000)  # a second at one level


@pytest.fixture
def sf2_kit(tmp_path):
    samples = [
        ("kick soft", one_shot(60, 44100, level=0.3), 44100, MONO, 0),
        ("kick hard", one_shot(60, 44100, level=0.9), 44100, MONO, 0),
        ("snare L", one_shot(200, 32000, level=0.5), 32000, LEFT, 3),
        ("snare R", one_shot(200, 32000, level=0.5), 32000, RIGHT, 2),
        ("hat closed", one_shot(6000, seconds=0.05), 48000, MONO, 0),
        ("hat open", TONE, 48000, MONO, 0),
        ("tom", one_shot(150), 48000, MONO, 0),
    ]
    drums = [
        {KEYS: (35, 36), VELS: (0, 90), SAMPLE: 0},
        {KEYS: (35, 36), VELS: (91, 127), ATTEN: 50, SAMPLE: 1},
        {KEYS: (38, 38), PAN: -500, SAMPLE: 2},
        {KEYS: (38, 38), PAN: 500, SAMPLE: 3},
        # velocity moves the closed hat 24 dB per decade of velocity instead of 40
        {KEYS: (42, 42), EXCL: 1, SAMPLE: 4, "mods": [(0x0502, ATTEN, 576, 0, 0)]},
        # held 0.1 s, then down 96 dB a second to the 1000 cB sustain (silence)
        {KEYS: (46, 46), EXCL: 1, SAMPLE: 5, HOLD: -3986, DECAY: 0, SUSTAIN: 1000, ROOT: 46},
        {KEYS: (47, 50), ROOT: 45, SAMPLE: 6},  # one tom sample pitched over two toms
        {KEYS: (47, 47), SAMPLE: 4, ATTEN: 100, ROOT: 47},  # and a click layered on it
    ]
    return write_sf2(
        tmp_path / "My Drums.sf2",
        samples,
        [("Kit", drums), ("Piano", [{KEYS: (60, 72), SAMPLE: 6}])],
        [("Piano", 0, 0, [{INSTRUMENT: 1}]), ("Studio", 128, 0, [{ATTEN: 50, INSTRUMENT: 0}])],
    )


def test_the_drum_preset_maps_keys_velocities_and_generators(sf2_kit):
    kit = load_kit(str(sf2_kit))
    assert kit.title == "My Drums: Studio"
    kick = kit.instruments["kick"].layers
    assert [layer.velocity for layer in kick] == [90, 127]
    # preset and instrument attenuation add up (100 cB), played at FluidSynth's 0.4 scale
    assert kick[1].gains_db == (pytest.approx(-4.0),) and kick[0].gains_db == (-2.0,)
    (snare,) = kit.instruments["snare"].layers
    assert len(snare.files) == 1  # the left and right zones are one stereo take
    assert sf.info(str(snare.files[0])).channels == 2
    assert kit.instruments["tom_high"].layers[0].cents == (500.0,)  # note 50 from root 45
    (mid,) = kit.instruments["tom_mid"].layers  # note 47: the tom and the click sound together
    assert mid.layered and mid.cents == (200.0, 0.0) and mid.gains_db == (-2.0, -6.0)
    assert kit.chokes == {"hat_closed": ("hat_closed", "hat_open"),
                          "hat_open": ("hat_closed", "hat_open")}  # fmt: skip
    assert kit.instruments["hat_closed"].velocity_range_db == 24.0
    assert kit.instruments["kick"].velocity_range_db == 40.0  # the default modulator
    labels = set(kit.labels.values())
    assert "My Drums.sf2: sample 'snare L' + 'snare R'" in labels


def test_a_soundfont_kit_renders_at_its_own_levels_and_pitch(sf2_kit):
    kit = load_kit(str(sf2_kit))
    score = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1,
                      hits=(Hit(0, "kick", 127), Hit(24, "kick", 64)))  # fmt: skip
    kick = Sampler(kit, 48000, Variation.none()).render(score).stems["kick"]
    hard, soft = np.abs(kick[:12000]).max(), np.abs(kick[24000:36000]).max()
    assert hard == pytest.approx(0.9 * 10 ** (-4 / 20), rel=0.05)
    assert soft == pytest.approx(0.3 * 10 ** (-2 / 20) * (64 / 127) ** 2, rel=0.05)


def test_preset_name_picks_another_preset_and_a_wrong_one_is_named(sf2_kit):
    with pytest.raises(KitError, match="no kick and no snare"):
        load_kit(str(sf2_kit), preset_name="piano")  # a piano from c4 up: bongos, no drums
    with pytest.raises(KitError, match="no preset named 'Organ'"):
        load_kit(str(sf2_kit), preset_name="Organ")


def test_a_file_that_is_not_a_soundfont_says_so(tmp_path):
    bad = tmp_path / "kit.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(KitError, match="not a SoundFont 2 file"):
        load_kit(str(bad))


def test_the_volume_envelope_is_played_as_fluidsynth_shapes_it(sf2_kit):
    kit = load_kit(str(sf2_kit))
    (path,) = kit.instruments["hat_open"].layers[0].files
    audio, rate = sf.read(str(path))

    def level_db(t):
        window = audio[round(t * rate) : round(t * rate) + 480]
        return 20 * np.log10(np.sqrt(np.mean(window**2)) / (0.5 / np.sqrt(2)))

    assert level_db(0.05) == pytest.approx(0, abs=0.1)  # held for 0.1 s
    assert level_db(0.6) == pytest.approx(-48, abs=0.5)  # half of a 1 s decay: 48 of 96 dB


def test_a_beat_played_on_a_soundfont_records_which_samples_in_its_manifest(sf2_kit, tmp_path,
                                                                           basic_score):
    import json
    import shutil
    import time

    from audiogen.cli import main
    from audiogen.files import sha256
    from audiogen.kits.sf2 import load_sf2
    from audiogen.midi import write_midi
    from audiogen.paths import cache_dir

    midi = tmp_path / "beat.mid"
    write_midi(basic_score, midi)
    out = tmp_path / "out"
    assert main(["render", str(midi), "-o", str(out), "--kit", str(sf2_kit)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    played = {s["file"]: s["sha256"] for s in manifest["sources"]["samples"]}
    assert len(played) == len(manifest["sources"]["samples"])  # no two files share a name
    assert "My Drums.sf2: sample 'kick hard'" in played
    # the closed hat's sample also clicks on a tom: each file names the key it was shaped for
    assert "My Drums.sf2: sample 'hat closed', key 42" in played
    assert manifest["sources"]["kit"]["path"] == str(sf2_kit)
    assert any("not played" in n for n in manifest["sources"]["kit"]["notes"])
    # the checksums name what was played even after the cache is made again, a while later
    shutil.rmtree(cache_dir() / "sf2")
    time.sleep(1.1)
    kit = load_sf2(sf2_kit)  # not load_kit: it keeps the kit it read for the process
    by_label = {label: path for path, label in kit.labels.items()}
    assert {f: sha256(by_label[f]) for f in played} == played
