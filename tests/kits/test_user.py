"""A user's kit through the front doors: `audiogen kits --check`, `--kit PATH` with its manifest,
and a batch recipe naming a kit beside it."""

import json

from audiogen.cli import main
from audiogen.files import sha256
from audiogen.midi import write_midi

from .conftest import one_shot, write


def test_kits_check_prints_mapping_fallbacks_and_missing(messy_pack, capsys):
    assert main(["kits", "--check", str(messy_pack)]) == 0
    out = capsys.readouterr().out
    assert "kick            v64: 01 Kicks/BD_Punchy_v1.wav; v127: 01 Kicks/BD_Punchy_v2.wav" in out
    assert "(2 round robins)" in out
    assert "ride -> ride_bell" in out and "rim -> snare" in out
    assert "missing (silent):" in out and "conga_high" in out.split("missing (silent):")[1]
    assert "FX/Riser.wav" in out


def test_a_kit_that_cannot_play_gets_one_line_and_no_output(tmp_path, capsys, basic_score):
    write(tmp_path / "kit" / "hat.wav", one_shot(6000))
    midi = tmp_path / "beat.mid"
    write_midi(basic_score, midi)
    out = tmp_path / "out"
    assert main(["render", str(midi), "-o", str(out), "--kit", str(tmp_path / "kit")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no kick and no snare" in err
    assert not out.exists()


def test_render_with_a_folder_kit_records_its_path_checksums_and_licence(
    messy_pack, tmp_path, basic_score
):
    midi = tmp_path / "beat.mid"
    write_midi(basic_score, midi)
    out = tmp_path / "out"
    assert main(["render", str(midi), "-o", str(out), "--kit", str(messy_pack)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    sources = manifest["sources"]
    assert sources["kit"]["path"] == str(messy_pack)
    assert sources["kit"]["license"] == "supplied by the user"
    played = {s["file"]: s["sha256"] for s in sources["samples"]}
    assert "01 Kicks/BD_Punchy_v2.wav" in played
    assert all(sha256(messy_pack / f) == digest for f, digest in played.items())
    assert manifest["renderer"]["substitutions"] == {}  # basic_score's crash has a crash
    assert "user's business" in manifest["attributions"][0]


def test_a_recipe_finds_a_kit_beside_it(messy_pack, tmp_path):
    from audiogen.batch import load_recipe

    recipe = messy_pack.parent / "recipe.yaml"
    recipe.write_text(f"items:\n  - {{genre: rock, bars: 1, kit: '{messy_pack.name}'}}\n")
    (item,) = load_recipe(recipe).items
    assert item.options["kit"] == str(messy_pack) and not item.error
