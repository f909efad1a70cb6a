"""The planner's vocabulary and network: what the generator relies on."""

import torch

from audiogen.planner.model import KVCache, PlannerConfig, PlannerModel
from audiogen.planner.tokens import (
    BAR,
    VELOCITY_OF_BIN,
    BarCondition,
    Vocabulary,
    decode_bars,
    encode_bar,
    tempo_bucket,
    velocity_bin,
)

COND = BarCondition("funk", tempo_bucket(100), 2, 3, "groove", "straight", "4/4")


def test_a_bar_is_conditioning_then_lanes_kick_first():
    words = encode_bar(
        COND, [(24, "snare", 110), (0, "kick", 120), (12, "hat_closed", 60), (0, "hat_closed", 90)]
    )
    lanes = [w for w in words if w.startswith("lane:")]
    assert lanes == [
        "lane:kick",
        "lane:snare",
        "lane:hats",
        "lane:cymbals",
        "lane:toms",
        "lane:perc",
    ]
    assert words[:2] == [BAR, "genre:funk"]
    hats = words[words.index("lane:hats") + 1 : words.index("lane:cymbals")]
    assert hats == [
        "pos:0",
        f"hit:hat_closed:{velocity_bin(90)}",
        "pos:12",
        f"hit:hat_closed:{velocity_bin(60)}",
    ]


def test_round_trip_keeps_positions_and_velocity_bins():
    hits = [(0, "kick", 120), (24, "snare", 110), (30, "snare", 35), (70, "cowbell", 80)]
    bars = decode_bars(encode_bar(COND, hits) + encode_bar(COND, hits[:1]))
    assert len(bars) == 2
    assert sorted((p, i) for p, i, _ in bars[0]) == sorted((p, i) for p, i, _ in hits)
    for (_, _, v), (_, _, original) in zip(sorted(bars[0]), sorted(hits)):
        assert v == VELOCITY_OF_BIN[velocity_bin(original)]
    vocab = Vocabulary(("funk",))
    assert vocab.words[vocab.id("hit:kick:7")] == "hit:kick:7"


def test_cached_decoding_matches_a_full_pass():
    torch.manual_seed(0)
    cfg = PlannerConfig(vocab_size=50, max_len=64, d_model=32, n_layers=2, n_heads=2)
    model = PlannerModel(cfg).eval()
    ids = torch.randint(0, 50, (1, 40))
    with torch.no_grad():
        full = model(ids)
        cache = KVCache(cfg)
        steps = [model(ids[:, :25], cache)]
        for i in range(25, 40):
            steps.append(model(ids[:, i : i + 1], cache))
        cache = KVCache(cfg)
        model(ids[:, :30], cache)
        twins = cache.rows([0, 0])  # two copies go on independently
        chunked = model(ids[:, 30:40].repeat(2, 1), twins)
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)
    assert torch.allclose(full[:, 30:].expand(2, -1, -1), chunked, atol=1e-5)
    assert cache.length == 30 and twins.length == 40
