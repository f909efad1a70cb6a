"""Output paths of any name and length, and --force on folders audiogen did not write: a beat is
written whole where it was asked to go, or refused in one line, and nothing is left beside it;
a folder that holds anything audiogen did not write is never touched."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audiogen
from audiogen.errors import AudiogenError, OutputError
from audiogen.export import check_writable

FUZZ = settings.get_profile("fuzz")

NAME_CHARS = st.sampled_from(list("ab09 ._-~*?'\"\\:;|<>$&é\u202e\u3042\t\n/") + ["\x00", "\x7f"])
NAMES = st.one_of(
    st.text(NAME_CHARS, min_size=0, max_size=12),
    st.sampled_from(["", ".", "..", "./", "a/..", "/", "~", "-", "a" * 255, "a" * 256, "é" * 128,
                     "/".join(["d" * 200] * 25), ".hidden", "beat.wav", " "]),  # fmt: skip
    st.integers(1, 300).map(lambda n: "n" * n),
)


@pytest.fixture(scope="module")
def save():
    """`Beat.save` of one bar on the shipped acoustic kit, rendered once for every example."""
    from audiogen.score import DrumScore, Hit, Meter

    score = DrumScore(120.0, Meter(4, 4), 1, (Hit(0, "kick", 110), Hit(24, "snare", 100)))
    return audiogen.render(score, kit="acoustic", seed=1).save


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial" in p.name or ".old-" in p.name]


@settings(FUZZ, max_examples=30)
@given(name=NAMES, force=st.booleans())
def test_any_output_name_is_written_whole_or_refused(save, name, force):
    with tempfile.TemporaryDirectory() as folder:
        parent = Path(folder)
        out = parent / name
        try:
            check_writable(out, force)
            saved = save(out, force=force)
        except AudiogenError as exc:
            assert str(exc) and "\n" not in str(exc).strip("\n"), str(exc)
        else:
            assert (saved / "manifest.json").is_file() and (saved / "mix.wav").is_file()
            assert _leftovers(saved.resolve().parent) == []
        assert _leftovers(parent) == []


@settings(FUZZ, max_examples=15)
@given(files=st.lists(st.tuples(st.sampled_from(["song.flac", "notes.txt", "manifest.json",
                                                  "mix.wav", "sub/a.mid", ".DS_Store"]),
                                st.binary(max_size=20)), min_size=1, max_size=4))  # fmt: skip
def test_force_never_replaces_a_folder_audiogen_did_not_write(save, files):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "Music"
        for name, data in files:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        with pytest.raises(OutputError):
            save(out, force=True)
        after = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert after == before and _leftovers(Path(folder)) == []


def test_force_replaces_what_audiogen_wrote(save, tmp_path):
    out = tmp_path / "beat"
    save(out)
    first = (out / "mix.wav").stat().st_mtime_ns
    save(out, force=True)
    assert (out / "mix.wav").stat().st_mtime_ns >= first and _leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["beat"]


@settings(FUZZ, max_examples=30)
@given(
    command=st.sampled_from([["render", "{}.mid"], ["vary", "{}.mid"], ["explain", "{}.mid"],
                             ["batch", "{}.yaml"], ["generate", "--genre", "house", "--kit", "{}"],
                             ["kits", "--check", "{}"]]),  # fmt: skip
    name=st.one_of(st.integers(200, 300).map(lambda n: "a" * n),
                   st.integers(1, 30).map(lambda n: "/".join(["d" * 200] * n))),
)  # fmt: skip
def test_input_paths_of_any_length_are_one_line(command, name, capsys):
    from audiogen.cli import main

    capsys.readouterr()
    assert main(["-q", *(part.format(name) for part in command)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("audiogen: error:") and "\n" not in err, err


@pytest.mark.parametrize("kit", ["~nobody-audiogen/kit", "~nobody-audiogen", "~nobody-x/a.sfz"])
def test_a_kit_in_the_home_of_no_such_user_is_one_line(kit, tmp_path, capsys):
    from audiogen.batch import load_recipe
    from audiogen.cli import main

    out = str(tmp_path / "o")
    assert main(["-q", "generate", "--genre", "house", "--kit", kit, "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("audiogen: error:") and "\n" not in err, err
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"items:\n  - {{genre: house, kit: '{kit}'}}\n  - {{genre: house}}\n")
    bad, good = load_recipe(recipe).items
    assert bad.error and not bad.error.startswith("internal") and good.error == ""
