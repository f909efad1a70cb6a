"""Loudness targets of the mix stage: presets, platforms and custom values as a user types them."""

from __future__ import annotations

import pytest

from audiogen.errors import MixError
from audiogen.mix import resolve_loudness


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("streaming", ("streaming", -14.0)),
        (" YouTube ", ("youtube", -14.0)),
        ("podcast", ("podcast", -16.0)),
        ("broadcast", ("broadcast", -23.0)),
        ("-18", ("custom", -18.0)),
        ("-18 LUFS", ("custom", -18.0)),
        ("-16.5lufs", ("custom", -16.5)),
        (-18.0, ("custom", -18.0)),
        (-9, ("custom", -9.0)),
    ],
)
def test_loudness_presets_and_custom_values_resolve(value, expected) -> None:
    assert resolve_loudness(value) == expected


@pytest.mark.parametrize("value", ["loud", "", "-18 dB", "14", "-50", "-5", float("nan"), True])
def test_garbage_loudness_is_refused_with_the_presets_listed(value) -> None:
    with pytest.raises(MixError, match="streaming.*podcast.*broadcast"):
        resolve_loudness(value)
