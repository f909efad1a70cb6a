"""The kits that ship: complete, licensed, small enough, and ready for sample-accurate rendering."""

import numpy as np
import pytest
import soundfile as sf

from audiogen.errors import KitError
from audiogen.kits import kit_names, load_kit, samples_dir

CORE = ("kick", "snare", "hat_closed", "hat_open")


def test_at_least_six_kits_cover_acoustic_electronic_and_lofi_or_world():
    names = kit_names()
    assert len(names) >= 6
    styles = {load_kit(n).style for n in names}
    assert styles == {"acoustic", "electronic", "hiphop"}
    assert {"acoustic", "room", "jazz-brush", "808", "house"} <= set(names)
    assert {"lofi", "world"} & set(names)


@pytest.mark.parametrize("name", kit_names())
def test_kit_plays_a_beat_and_every_file_is_licensed(name):
    kit = load_kit(name)
    licenses = (samples_dir() / "LICENSES.md").read_text(encoding="utf-8")
    assert all(kit.resolve(c) is not None for c in CORE)
    assert f"## Kit `{name}`" in licenses
    for path in kit.files:
        assert f"`{path.name}`" in licenses
    assert kit.license in licenses


@pytest.mark.parametrize("name", kit_names())
def test_samples_start_at_their_onset_and_end_in_silence(name):
    for path in load_kit(name).files:
        audio, rate = sf.read(path, dtype="float32")
        assert rate == 48000 and audio.ndim == 1, path
        peak = np.abs(audio).max()
        assert 0.05 < peak <= 1.0, path
        first = int(np.argmax(np.abs(audio) > peak * 10 ** (-50 / 20)))
        assert first <= 5, f"{path} starts {first} samples late"  # 0.1 ms
        assert np.abs(audio[-48:]).max() < peak * 10 ** (-40 / 20), f"{path} ends with a click"


def test_samples_folder_stays_small():
    total = sum(p.stat().st_size for p in samples_dir().rglob("*") if p.is_file())
    assert total < 40 * 1024 * 1024


def test_a_kit_blend_is_read_with_weights_summing_to_one_and_bad_ones_refused():
    from audiogen.kits import blend_text, lead_kit, parse_blend

    assert parse_blend("acoustic:0.7, 808:0.3") == pytest.approx({"acoustic": 0.7, "808": 0.3})
    assert parse_blend("Rock:1,jazz-brush:1") == {"rock": 0.5, "jazz-brush": 0.5}
    assert blend_text(parse_blend("acoustic:2,808:6")) == "acoustic:0.25,808:0.75"
    assert lead_kit("acoustic:0.4,808:0.6") == "808" and lead_kit("acoustic") == "acoustic"
    assert parse_blend("acoustic") is None and parse_blend("/tmp/my:kit") is None
    for bad, says in [("acoustic:0.5,nope:0.5", "not a shipped kit"),
                      ("acoustic:-1,808:2", "from 0 up"), ("acoustic:nan,808:1", "from 0 up"),
                      ("acoustic:inf,808:1", "from 0 up"), ("acoustic:x,808:1", "from 0 up"),
                      ("acoustic:1,acoustic:1", "twice"), ("acoustic:0,808:0", "sum to 0")]:
        with pytest.raises(KitError, match=says):
            parse_blend(bad)


@pytest.mark.parametrize("name", ["808", "house"])
def test_a_drum_machine_kick_and_toms_are_one_voice_each(name):
    # As on the machines: a new kick cuts the last one's tail instead of stacking on it.
    from audiogen.renderers import Sampler, Variation
    from audiogen.score import DrumScore, Hit, Meter

    kit = load_kit(name)
    for cls in ("kick", "tom_high", "tom_mid", "tom_low"):
        assert kit.chokes[cls] == (cls,)
    assert kit.chokes["hat_closed"] == ("hat_open",)  # the hi-hat's choke is kept

    def kick(*ticks):
        hits = tuple(Hit(t, "kick", 127) for t in ticks)
        score = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1, hits=hits)
        return Sampler(kit, 48000, Variation.none()).render(score).stems["kick"]

    both, alone = kick(0, 6), kick(6)  # a sixteenth apart, the first still ringing
    after = slice(6000 + 480, 24000)  # from 10 ms after the second
    assert np.abs(both[after] - alone[after]).max() < 1e-3 * np.abs(alone).max()
