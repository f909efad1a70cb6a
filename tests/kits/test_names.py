"""What pack file names say: class, layer, velocity, round robin."""

import pytest

from audiogen.kits.names import guess, normalise


@pytest.mark.parametrize(("name", "folders", "cls"), [
    ("BD_Punchy_v2", (), "kick"), ("808", (), "kick"), ("808 Snare", (), "snare"),
    ("Snare Rim", (), "rim"), ("Open Snare", (), "snare"), ("OH_02", (), "hat_open"),
    ("PedalHat", (), "hat_pedal"), ("Ride Bell", (), "ride_bell"), ("Kick Bottom", (), "kick"),
    ("MidTom_01", (), "tom_mid"), ("Floor Tom 16 v3", (), "tom_low"), ("Tom 1", (), "tom_high"),
    ("03", ("Open", "Hats"), "hat_open"), ("Dusty", ("Snares",), "snare"),
    ("Conga Lo", (), "conga_low"), ("Perc 03", (), "woodblock_high"), ("Riser", ("FX",), None),
])  # fmt: skip
def test_names_map_to_classes(name, folders, cls):
    assert guess(name, folders).cls == cls


def test_layers_velocities_and_round_robins_come_off_the_name():
    assert normalise("HHOpen_V3-rr2") == "hh open v 3 rr 2"
    g = guess("HHOpen_V3-rr2")
    assert (g.layer, g.velocity, g.robin, g.base) == (3, None, 2, "hh open")
    assert guess("kick_v127").velocity == 127  # a stated velocity, not a layer number
    assert guess("SD_ff").velocity == 112 and guess("Shaker_soft").velocity == 48
    assert guess("Kick_07").robin == 7 and guess("Tom 3").robin is None  # a tom's number
    assert guess("Clap B").robin == 2 and guess("Clap B").base == "clap"
