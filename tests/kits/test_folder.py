"""A folder of one-shots as a kit: names to classes, layers and round robins, kit.toml, licence."""

import numpy as np
import pytest

from audiogen.errors import KitError
from audiogen.kits import load_kit
from audiogen.kits.user import describe
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter

from .conftest import one_shot, write


def _files(kit, cls):
    return [[f.name for f in layer.files] for layer in kit.instruments[cls].layers]


def test_a_messy_pack_maps_to_classes_layers_and_round_robins(messy_pack):
    kit = load_kit(str(messy_pack))
    assert kit.user and kit.path == messy_pack
    assert set(kit.instruments) == {
        "kick", "snare", "hat_closed", "hat_open", "hat_pedal", "crash", "ride_bell",
        "tom_high", "tom_low", "shaker",
    }  # fmt: skip
    kick = kit.instruments["kick"].layers
    assert [layer.velocity for layer in kick] == [64, 127]  # v1 of 2, v2 of 2
    assert _files(kit, "kick") == [["BD_Punchy_v1.wav"], ["BD_Punchy_v2.wav"]]
    assert _files(kit, "snare") == [["SNR Tight rr1.flac", "SNR Tight rr2.flac"]]
    assert [layer.velocity for layer in kit.instruments["shaker"].layers] == [48, 127]
    assert kit.resolve("ride") == "ride_bell" and kit.resolve("tom_mid") == "tom_high"
    assert kit.license == "supplied by the user"
    assert kit.style == "acoustic"
    assert any("Riser.wav" in note for note in kit.notes)  # said, not silently dropped
    assert any("no style" in note for note in kit.notes)


def test_unnamed_layers_come_from_measured_loudness(tmp_path):
    for name, level in (("Clap A", 0.8), ("Clap B", 0.75), ("Clap C", 0.2)):
        write(tmp_path / f"{name}.wav", one_shot(1000, level=level))
    write(tmp_path / "kick.wav", one_shot(60))
    layers = load_kit(str(tmp_path)).instruments["clap"].layers
    assert [sorted(f.name for f in layer.files) for layer in layers] == [
        ["Clap C.wav"], ["Clap A.wav", "Clap B.wav"]
    ]
    # 12 dB softer is the velocity the sampler's curve plays 12 dB softer
    assert layers[0].velocity == pytest.approx(127 * 10 ** (-12 / 36), abs=3)


def test_kit_toml_overrides_the_guesses_and_names_the_licence(messy_pack):
    write(messy_pack / "weird name.wav", one_shot(70))
    (messy_pack / "kit.toml").write_text(
        'title = "Mine"\nstyle = "electronic"\nlicense = "CC-BY-4.0"\n'
        '[instruments.kick]\nlayers = [{ velocity = 127, files = ["weird name.wav"] }]\n'
    )
    kit = load_kit(str(messy_pack))
    assert _files(kit, "kick") == [["weird name.wav"]]
    assert "snare" in kit.instruments  # what the toml leaves out is still guessed
    assert (kit.title, kit.style, kit.license) == ("Mine", "electronic", "CC-BY-4.0")


def test_a_licence_file_beside_the_sounds_is_the_licence(messy_pack):
    (messy_pack / "LICENSE.txt").write_text("\nRoyalty-free for music production.\n")
    assert load_kit(str(messy_pack)).license.startswith("Royalty-free for music production.")


def test_any_rate_depth_and_channels_play_on_the_exact_sample_and_resample_once(
    messy_pack, monkeypatch
):
    kit = load_kit(str(messy_pack))
    score = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1,
                      hits=(Hit(0, "kick", 127), Hit(24, "snare", 127)))  # fmt: skip
    first = Sampler(kit, 48000, Variation.none()).render(score).stems
    for stem, at in (("kick", 0), ("snare", 24000)):  # 44.1 kHz mono, 96 kHz stereo
        onset = int(np.argmax(np.abs(first[stem]) > 1e-3))
        assert onset == at
        assert np.abs(first[stem]).max() > 0.5

    import scipy.signal

    def no_resampling(*args, **kwargs):
        raise AssertionError("resampled again instead of reading the cache")

    monkeypatch.setattr(scipy.signal, "resample_poly", no_resampling)
    again = Sampler(kit, 48000, Variation.none()).render(score).stems
    assert np.array_equal(again["kick"], first["kick"])


def test_a_kit_with_no_kick_and_no_snare_cannot_play(tmp_path):
    write(tmp_path / "Hats" / "CH.wav", one_shot(6000))
    with pytest.raises(KitError, match="no kick and no snare"):
        load_kit(str(tmp_path))


def test_an_unreadable_or_oversized_file_is_named(tmp_path, monkeypatch):
    write(tmp_path / "Snare.wav", one_shot(200))
    (tmp_path / "Kick.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(KitError, match="cannot read Kick.wav"):
        load_kit(str(tmp_path))
    (tmp_path / "Kick.wav").unlink()
    import audiogen.kits.user

    monkeypatch.setattr(audiogen.kits.user, "MAX_FILE_MB", 0.001)
    with pytest.raises(KitError, match="Snare.wav is .* over the 0.001 MB"):
        load_kit(str(tmp_path / "."))  # a new path: not the kit read above


def test_a_path_that_is_not_there_says_so(tmp_path):
    with pytest.raises(KitError, match="no such folder or file"):
        load_kit(str(tmp_path / "nope"))


def _ringing(freq_hz: float) -> np.ndarray:
    """A tone that rings a full second at a slow decay (an 808's boom, an open hat)."""
    t = np.arange(48000) / 48000
    return 0.5 * np.exp(-t * 2) * np.sin(2 * np.pi * freq_hz * t)


def test_kit_toml_chokes_make_a_kick_one_voice_and_can_let_a_hat_ring(tmp_path):
    write(tmp_path / "kick.wav", _ringing(50))
    write(tmp_path / "OH.wav", _ringing(5000))
    write(tmp_path / "CH.wav", one_shot(6000, seconds=0.05))
    score = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1, hits=(
        Hit(0, "kick", 127), Hit(12, "kick", 127), Hit(0, "hat_open", 127),
        Hit(24, "hat_closed", 127),
    ))  # fmt: skip

    def stems(path, score=score):
        return Sampler(load_kit(path), 48000, Variation.none()).render(score).stems

    # By default kicks overlap (the first still rings under the second) and a closed hat stops
    # the open one.
    overlapping = stems(str(tmp_path))
    (tmp_path / "kit.toml").write_text('[chokes]\nkick = ["kick"]\nhat_closed = []\n')
    choked = stems(str(tmp_path / "."))  # a new path: not the kit read above
    (said,) = [line for line in describe(load_kit(str(tmp_path / "."))) if "chokes:" in line]
    assert "kick stops kick" in said and "hat_pedal stops hat_open" in said
    assert "hat_closed" not in said
    second = DrumScore(bpm=120.0, meter=Meter(4, 4), bars=1, hits=(Hit(12, "kick", 127),))
    alone = stems(str(tmp_path / "."), second)["kick"]
    after = slice(12000 + 480, 24000)  # from 10 ms after the second kick
    # one voice: past its fade the first kick is gone and the second sounds as it does alone
    assert np.abs(choked["kick"][after] - alone[after]).max() < 1e-3
    assert np.abs(overlapping["kick"][after] - alone[after]).max() > 0.1
    # hat_closed = [] : the open hat rings on through the closed one
    late = slice(24000 + 4800, 36000)
    assert np.abs(overlapping["hats"][late]).max() < 1e-3
    assert np.abs(choked["hats"][late]).max() > 0.05


def test_a_broken_chokes_table_is_named_in_one_line(tmp_path):
    write(tmp_path / "kick.wav", one_shot(60))
    (tmp_path / "kit.toml").write_text('[chokes]\nkick = ["kik"]\n')
    with pytest.raises(KitError, match="unknown instrument class 'kik' in \\[chokes\\]"):
        load_kit(str(tmp_path))
    (tmp_path / "kit.toml").write_text('[chokes]\nkick = "kick"\n')
    with pytest.raises(KitError, match="chokes.kick must be a list of classes"):
        load_kit(str(tmp_path / "."))
