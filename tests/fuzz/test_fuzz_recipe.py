"""Recipes as a hostile user might write them: YAML 1.1 spellings, aliases, tags, odd types and
bad values. A recipe is refused whole only when its shape is wrong (one line); a bad value
fails its own item, with a message, and the items beside it stay good."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from audiogen.batch import load_recipe
from audiogen.errors import RequestError
from audiogen.request import cli_fields, plan_fields

FUZZ = settings.get_profile("fuzz")

OPTIONS = sorted({f.name for f in plan_fields()} | {f.name for f in cli_fields()} | {"prompt"})
YAML_SCALARS = st.sampled_from([
    "yes", "no", "on", "off", "y", "n", "~", "null", "true", "False", "3:4", "1:30:00", "0o17",
    "0x7F", "1_000", "2024-01-01", ".inf", "-.inf", ".nan", "1e400", "-0", "''", '""', "[]",
    "{}", "[1, 2]", "{a: 1}", "!!binary aGVsbG8=", "!!python/none ''", "!!str 5", "!!float 1",
    "&a 5", "*a", "'{genre.nope}'", "\"\\0\"", "10000000000000000000000000000000000000000",
])  # fmt: skip
ANY_SCALAR = YAML_SCALARS | st.text(max_size=10).map(json.dumps) | st.integers().map(str) | (
    st.floats(allow_nan=False, allow_infinity=False).map(repr)
)
GOOD = "{genre: house, bars: 1, seed: 1}"


def _load(text: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipe.yaml"
        path.write_text(text, encoding="utf-8")
        return load_recipe(path, out=Path(folder) / "out")


@FUZZ
@given(key=st.sampled_from(OPTIONS), value=ANY_SCALAR)
def test_a_bad_value_fails_only_its_item(key, value):
    text = f"items:\n  - {GOOD}\n  - {{{key}: {value}, seed: 2}}\n"
    try:
        recipe = _load(text)
    except RequestError as exc:  # the YAML itself is broken or uses what recipes refuse
        assert "\n" not in str(exc) and "recipe" in str(exc), (text, str(exc))
        return
    good, other = recipe.items
    assert good.error == "", text
    assert not other.error.startswith("internal"), (text, other.error)


@FUZZ
@given(key=st.sampled_from(OPTIONS), value=ANY_SCALAR)
def test_a_bad_default_or_name_format_is_one_line_or_fails_items(key, value):
    text = f"defaults: {{{key}: {value}}}\nname_format: {value}\nmatrix: {{seed: [1, 2]}}\n"
    try:
        recipe = _load(text)
    except RequestError as exc:
        assert "\n" not in str(exc), (text, str(exc))
        return
    for item in recipe.items:
        assert not item.error.startswith("internal"), (text, item.error)
        assert item.name and "/" not in item.name and not item.name.startswith(".")


@FUZZ
@given(word=st.sampled_from(["on", "yes", "no", "off", "y", "n"]), poly=st.sampled_from(
    ["3:4", "2:3", "3:2", "4:3"]))  # fmt: skip
def test_yaml_1_1_spellings_stay_what_they_say(word, poly):
    recipe = _load(f"items:\n  - {{genre: rock, polyrhythm: {poly}, {word}: 1}}\n"
                   f"  - {{genre: rock, polyrhythm: {poly}, on: snare, seed: 3}}\n")  # fmt: skip
    first, second = recipe.items
    assert first.options["polyrhythm"] == poly and second.error == ""
    assert word in first.options  # a key named "on" is the option on, not True
    assert second.options["on"] == "snare"


@FUZZ
@given(depth=st.integers(1, 9), width=st.integers(2, 9))
def test_aliases_are_refused_before_they_expand(depth, width):
    lines = ["a0: &a0 [1, 2]"]
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    text = "\n".join(lines) + "\nitems: [{genre: house}]\n"
    try:
        _load(text)
    except RequestError as exc:
        assert "alias" in str(exc)
    else:
        raise AssertionError("an alias was expanded")


@FUZZ
@given(recipe=st.dictionaries(
    st.sampled_from(["name", "out", "defaults", "items", "matrix", "name_format", "colour"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.sampled_from(OPTIONS), inner, max_size=3), max_leaves=8),
    max_size=4,
))  # fmt: skip
def test_any_recipe_shape_is_loaded_or_refused_in_one_line(recipe):
    try:
        loaded = _load(yaml.safe_dump(recipe))
    except RequestError as exc:
        assert "\n" not in str(exc)
        return
    for item in loaded.items:
        assert not item.error.startswith("internal"), (recipe, item.error)


@settings(FUZZ, max_examples=20)
@given(key=st.sampled_from(["kit", "midi"]), length=st.integers(200, 5000))
def test_a_path_too_long_to_look_up_fails_only_its_item(key, length):
    name = "/".join(["p" * 200] * (length // 200)) or "p"
    recipe = _load(f"items:\n  - {GOOD}\n  - {{{key}: '{name}', seed: 2}}\n")
    good, other = recipe.items
    assert good.error == "" and other.error and not other.error.startswith("internal")
