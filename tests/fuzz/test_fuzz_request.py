"""Any value of any type for any option, through the one request schema: a valid request whose
values lie in their documented ranges, or an `AudiogenError` saying what is accepted; never
another exception, and never a value quietly read as something else."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiogen.errors import AudiogenError
from audiogen.request import (
    RenderRequest,
    cli_fields,
    plan_fields,
    resolve_generation,
    split_vary_options,
    vary_fields,
)

FUZZ = settings.get_profile("fuzz")

# What a CLI, a recipe or a JSON body can carry, and the strings that trip number parsers.
TRICKY_TEXT = st.sampled_from([
    "", " ", "\t", "inf", "-inf", "nan", "NaN", "1e309", "-0", "0", "-1", "1", "0.5", "8.0",
    "0x10", "1_000", "3:4", "4/4", "4/0", "0/4", "٣", "１２０", "120bpm", "wav,", ",", "wav,,mp3",
    "true", "yes", "on", "None", "null", "[]", "{}", "\x00", "a" * 300, "../..", "verse:0",
    "verse:8:nan", "chorus:999", "intro:4,", "-5", "2**40", "streaming", "house", "acoustic",
])  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), TRICKY_TEXT,
    st.sampled_from([10**400, -(10**400)]),
)  # fmt: skip
ANY = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.tuples(SCALARS),
    st.dictionaries(st.text(max_size=4), SCALARS, max_size=2),
    st.binary(max_size=6),
)
GENERATE_NAMES = [f.name for f in plan_fields()] + [f.name for f in cli_fields()]
VARY_NAMES = [f.name for f in vary_fields()] + [f.name for f in cli_fields()]
NUMBER_RANGES = {
    "bpm": (40, 300), "energy": (0, 1), "swing": (0.5, 0.75), "syncopation": (0, 1),
    "temperature": (0.1, 2), "humanize": (0, 1), "fade_in_s": (0, 60), "fade_out_s": (0, 60),
    "bars": (1, 256),
}  # fmt: skip


def _options(names: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(names), ANY, min_size=1, max_size=3)


@FUZZ
@given(options=_options(GENERATE_NAMES))
def test_generate_options_are_a_request_or_one_audiogen_error(options):
    try:
        request = resolve_generation(None, options)
    except AudiogenError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    values = {**request.plan.to_dict(), **request.render.to_dict()}
    for name, (low, high) in NUMBER_RANGES.items():
        value = values[name]
        if value is not None:
            assert not isinstance(value, bool) and math.isfinite(value), (name, value)
            assert low <= value <= high, (name, value)
    assert isinstance(request.render.seed, int) and 0 <= request.render.seed < 2**32
    assert request.render.formats and set(request.render.formats) <= {"wav", "flac", "mp3"}


@FUZZ
@given(options=_options(VARY_NAMES))
def test_vary_options_are_a_request_or_one_audiogen_error(options):
    try:
        opts, request = split_vary_options(options)
    except AudiogenError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 0 <= opts.amount <= 1 and 0.1 <= opts.temperature <= 2 and 0 <= opts.humanize <= 1
    assert isinstance(request.seed, int)


@settings(FUZZ, max_examples=30)
@given(name=st.sampled_from(sorted(NUMBER_RANGES) + ["seed"]), value=st.booleans())
def test_a_yes_or_no_is_not_taken_for_a_number(name, value):
    # `energy: true` in a recipe or a JSON body is a mistake, not 1.0.
    with pytest.raises(AudiogenError, match=name.split("_")[0]):
        resolve_generation(None, {name: value})


@FUZZ
@given(name=st.sampled_from(sorted(NUMBER_RANGES)), value=st.floats(allow_nan=True))
def test_a_number_is_kept_exactly_or_refused(name, value):
    low, high = NUMBER_RANGES[name]
    options = {name: value}
    if name in ("fade_in_s", "fade_out_s"):
        options["loop"] = False
    try:
        request = resolve_generation(None, options)
    except AudiogenError:
        assert not low <= value <= high or (name == "bars" and value != int(value)) or (
            name == "swing"
        ), (name, value)  # a swing amount needs a swung feel
        return
    resolved = {**request.plan.to_dict(), **request.render.to_dict()}[name]
    assert resolved == value


@FUZZ
@given(options=_options([f.name for f in cli_fields()]))
def test_render_options_are_a_request_or_one_audiogen_error(options):
    try:
        RenderRequest.create(**options)
    except AudiogenError as exc:
        assert str(exc) and "\n" not in str(exc)


VALID = {"genre": "house", "kit": "acoustic", "mix": "acoustic", "meter": "4/4", "feel": "swing8",
         "loudness": "podcast", "preset": "video", "renderer": "sample", "on": "snare",
         "polyrhythm": "3:4", "bpm": 120, "seed": 3, "sample_rate": 48000}  # fmt: skip


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), shape=st.sampled_from([list, tuple, set, "dict"]))
def test_a_list_of_one_good_value_is_not_that_value(name, shape):
    # `genre: [house]` in a recipe or a JSON body would otherwise read as str(['house'])...
    value = VALID[name]
    given_value = {value: value} if shape == "dict" else shape([value])
    with pytest.raises(AudiogenError, match=name):
        resolve_generation(None, {name: given_value})


@FUZZ
@given(rate=st.sampled_from([44100, 48000]), fraction=st.floats(0.001, 0.999))
def test_a_sample_rate_with_a_fraction_is_refused(rate, fraction):
    with pytest.raises(AudiogenError, match="sample rate"):
        RenderRequest.create(sample_rate=rate + fraction)
    with pytest.raises(AudiogenError, match="sample rate"):
        RenderRequest.create(sample_rate=f"{rate + fraction}")
