"""Genres: the names users type resolve, defaults point at kits and mixes that exist, and the
Groove styles map onto genres."""

from __future__ import annotations

import pytest

from audiogen.errors import RequestError
from audiogen.kits import kit_names
from audiogen.mix import MIX_PRESETS
from audiogen.planner.genres import (
    FAMILIES,
    GENRES,
    GROOVE_GENRES,
    _key,
    groove_genre,
    resolve_genre,
)

EXPECTED = (
    "hip-hop", "trap", "lofi", "house", "techno", "drum-and-bass", "dubstep", "pop", "rock",
    "punk", "funk", "soul", "jazz", "blues", "reggae", "reggaeton", "afrobeat", "bossa-nova",
    "samba", "afro-cuban",
)  # fmt: skip


def test_all_genres_present_and_families_covered():
    assert set(EXPECTED) <= set(GENRES)
    assert {g.family for g in GENRES.values()} == set(FAMILIES)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("dnb", "drum-and-bass"), ("d&b", "drum-and-bass"), ("Drum n Bass", "drum-and-bass"),
        ("jungle", "drum-and-bass"), ("hip hop", "hip-hop"), ("hiphop", "hip-hop"),
        ("Boom Bap", "hip-hop"), ("rap", "hip-hop"), ("r&b", "soul"), ("R and B", "soul"),
        ("rnb", "soul"), ("neo-soul", "soul"), ("Lo-Fi", "lofi"), ("lofi hip hop", "lofi"),
        ("chillhop", "lofi"), ("afrobeats", "afrobeat"), ("afro", "afrobeat"),
        ("bossa", "bossa-nova"), ("Bossanova", "bossa-nova"), ("swing", "jazz"),
        ("shuffle", "blues"), ("dembow", "reggaeton"), ("Reggaetón", "reggaeton"),
        ("6/8", "afro-cuban"), ("afrocuban", "afro-cuban"), ("bembe", "afro-cuban"),
        ("EDM", "house"), ("four on the floor", "house"), ("  TRAP ", "trap"),
        ("Soul / R&B", "soul"), ("Jazz (swing)", "jazz"),
    ],
)  # fmt: skip
def test_aliases_resolve(text, name):
    assert resolve_genre(text).name == name


def test_every_alias_means_one_genre():
    seen: dict[str, str] = {}
    for genre in GENRES.values():
        for word in (genre.name, genre.title, *genre.aliases):
            assert seen.setdefault(_key(word), genre.name) == genre.name, word


def test_unknown_genre_is_one_line_listing_the_genres():
    with pytest.raises(RequestError) as info:
        resolve_genre("polka")
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in GENRES)
    with pytest.raises(RequestError, match="did you mean hip-hop"):
        resolve_genre("hiphopp")


def test_defaults_exist_and_are_consistent():
    kits = set(kit_names())
    for g in GENRES.values():
        assert g.kit in kits, g.name
        assert g.mix in MIX_PRESETS, g.name
        low, high = g.bpm_range
        assert 40 <= low <= g.default_bpm <= high <= 300
        assert 0.5 <= g.default_swing <= 0.75
    assert GENRES["afro-cuban"].meters[:2] == ("6/8", "12/8")
    assert "3/4" in GENRES["jazz"].meters and "12/8" in GENRES["blues"].meters
    assert GENRES["trap"].bpm_range[0] >= 120 and GENRES["drum-and-bass"].default_bpm >= 165


def test_groove_styles_map_to_known_genres():
    assert len(GROOVE_GENRES) == 76
    assert set(GROOVE_GENRES.values()) - {None} <= set(GENRES)
    assert groove_genre("latin/brazilian-samba") == "samba"
    assert groove_genre("latin/brazilian-bossa") == "bossa-nova"
    assert groove_genre("jazz/swing") == "jazz"
    assert groove_genre("rock/newstyle") == "rock"  # an unlisted sub-style takes its primary's
    assert groove_genre("polka") is None
