"""The token model's precomputed material: shards of sampler stems encoded by the frozen codec,
read back exactly, tied to the codec that made them, and made once (a second run resumes)."""

from __future__ import annotations

import numpy as np
import pytest

from audiogen.errors import AudiogenError
from audiogen.planner.library import load_library
from audiogen.renderers.features import CLASS_INDEX, ENVELOPE, FEATURES

pytest.importorskip("audiocraft")

KITS = ("acoustic", "808")


@pytest.fixture(scope="module")
def phrases():
    return [p for p in load_library() if p.genre == "rock"][:2]


@pytest.fixture(scope="module")
def made(tiny_codec_dir, phrases, tmp_path_factory):
    from audiogen.training.tokens import Plan, precompute

    folder = tmp_path_factory.mktemp("tokens")
    plan = Plan(kits=KITS, piece_bars=2, shard_pieces=2, passes=2)
    first = precompute(phrases, tiny_codec_dir, folder, plan, max_shards=1)
    return folder, plan, first


def test_shards_are_written_tagged_with_the_codec_and_resume_skips_the_done_ones(
    made, phrases, tiny_codec_dir
):
    from audiogen.files import sha256
    from audiogen.training.tokens import Shards, precompute, shard_path

    folder, plan, first = made
    assert first["made"] == 1 and first["done"] == 1 and first["shards"] >= 2
    assert first["material_s"] > 0 and first["s_per_minute"] > 0
    done = shard_path(folder, 0).stat().st_mtime_ns
    rest = precompute(phrases, tiny_codec_dir, folder, plan)
    assert rest["made"] == first["shards"] - 1 and rest["done"] == first["shards"]
    assert shard_path(folder, 0).stat().st_mtime_ns == done  # not made again
    assert precompute(phrases, tiny_codec_dir, folder, plan)["made"] == 0
    shards = Shards.load(folder, sha256(tiny_codec_dir / "codec.safetensors"))
    assert set(shards.kit.tolist()) == {0, 1}  # two passes: every piece through both kits
    assert shards.tokens.dtype == np.int16 and 0 <= shards.tokens.min() <= shards.tokens.max() < 16
    assert shards.width == FEATURES + ENVELOPE
    for i in range(shards.examples):  # every stem holds hits, on a kick/snare/hat lane of its own
        tokens, features, stem, _ = shards.example(i)
        assert tokens.shape == (2, len(features)) and len(features) >= 250  # 5 s at least
        assert features[:, 0:FEATURES:3].any()
        # the envelope is the stem's: loud where the score plays (the hit's frame or the next,
        # whose start it may fall just before), silent at the end of the padding
        onsets = np.flatnonzero(features[:, 0:FEATURES:3].any(axis=1))
        peak = features[:, FEATURES + 1]
        assert np.maximum(peak[onsets], peak[np.minimum(onsets + 1, len(peak) - 1)]).min() > 0.5
        assert peak[-1] < peak[onsets].max() - 0.3


def test_a_shard_reads_back_exactly_what_was_written(tmp_path):
    from audiogen.training.tokens import MANIFEST, Shards, _write_shard

    rng = np.random.default_rng(1)
    examples = []
    for length, stem in ((300, 0), (260, 2)):
        features = np.zeros((length, FEATURES + ENVELOPE), dtype=np.float32)
        onsets = rng.choice(length, 12, replace=False)
        c = 3 * CLASS_INDEX["kick"]
        features[onsets, c], features[onsets, c + 1] = 1.0, rng.uniform(0, 1, 12)
        features[onsets, c + 2] = rng.uniform(0, 1, 12)
        envelope = rng.uniform(0, 1, (length, ENVELOPE)).astype(np.float16)  # stored as float16
        features[:, FEATURES:] = envelope
        examples.append((rng.integers(0, 1024, (8, length)), features, stem, 1))
    (tmp_path / MANIFEST).write_text('{"codec": "codec@x", "codec_sha256": "abc"}')
    _write_shard(tmp_path / "shard-00000.npz", examples[:1], "abc")
    _write_shard(tmp_path / "shard-00001.npz", examples[1:], "abc")
    shards = Shards.load(tmp_path, "abc")
    assert shards.examples == 2
    for i, (tokens, features, stem, kit) in enumerate(examples):
        back = shards.example(i)
        assert np.array_equal(back[0], tokens) and np.array_equal(back[1], features)
        assert back[2:] == (stem, kit)
    start = int(shards.starts[1]) + 40  # a window of the second example, past its end
    tokens, features, valid = shards.window(start, 250, int(shards.starts[2]))
    assert valid == 220 and np.array_equal(features[:valid], examples[1][1][40:])
    assert not features[valid:].any() and np.array_equal(tokens[:, :valid], examples[1][0][:, 40:])
    codes, feats, stems, kits, real = shards.batch(rng, 4, 200)
    assert codes.shape == (4, 8, 200) and feats.shape == (4, 200, FEATURES + ENVELOPE)
    assert real.max() <= 200 and set(stems.tolist()) <= {0, 2} and set(kits.tolist()) == {1}
    # --group-weight: the stem group weighted up is drawn that many times as often
    hats_four_times = np.array([1.0, 1.0, 4.0, 1.0, 1.0, 1.0])
    drawn = [shards.batch(rng, 400, 200)[2], shards.batch(rng, 400, 200, None, hats_four_times)[2]]
    share = [float((stems == 2).mean()) for stems in drawn]  # 260 of 560 frames, then 4 × 260
    assert abs(share[0] - 260 / 560) < 0.07 and abs(share[1] - 1040 / 1340) < 0.07


def test_tokens_of_another_codec_are_refused_in_one_line(made, phrases, tiny_codec_dir, tmp_path):
    import shutil

    from audiogen.training.tokens import Shards, precompute

    folder, plan, _ = made
    with pytest.raises(AudiogenError, match="made by codec@tiny") as caught:
        Shards.load(folder, "0" * 64)
    assert "\n" not in str(caught.value) and "precompute" in str(caught.value)
    other = tmp_path / "codec"
    shutil.copytree(tiny_codec_dir, other)
    weights = other / "codec.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-2] + bytes(255 - b for b in data[-2:]))  # same version, retrained
    with pytest.raises(AudiogenError, match="another codec") as caught:
        precompute(phrases, other, folder, plan)
    assert "\n" not in str(caught.value)
    with pytest.raises(AudiogenError, match="no precomputed tokens in"):
        Shards.load(tmp_path / "nothing")


def test_a_codec_whose_tokens_the_shipped_token_models_do_not_read_is_named_before_it_ships(
    tiny_codec_dir, tmp_path
):
    import json
    import shutil

    from audiogen.paths import checkpoints_dir
    from audiogen.training.tokens import codec_identity, token_models_left_behind

    shipped = checkpoints_dir()
    # What ships fits together: every token model reads the shipped codec's tokens.
    assert token_models_left_behind(shipped / "codec", shipped / "renderer") == []
    # Another codec (the tiny one) would leave every one of them behind, routed ones too.
    cards = [shipped / "renderer" / "renderer.json",
             *sorted(shipped.glob("renderer/*/renderer.json"))]  # fmt: skip
    left = token_models_left_behind(tiny_codec_dir, shipped / "renderer")
    assert len(left) == len(cards) >= 2
    assert all("codec@" in name for name in left)
    # A token model made on the tiny codec's tokens fits it; one on another codec's does not.
    ours = tmp_path / "renderer"
    (ours / "partner").mkdir(parents=True)
    (ours / "renderer.json").write_text(json.dumps({"version": "renderer@5",
                                                    **codec_identity(tiny_codec_dir)}))  # fmt: skip
    assert token_models_left_behind(tiny_codec_dir, ours) == []
    shutil.copy(cards[0], ours / "partner" / "renderer.json")
    card = json.loads(cards[0].read_text())
    assert token_models_left_behind(tiny_codec_dir, ours) == [
        f"{card['version']} ({card['codec']}'s tokens)"]
    # No renderer beside the codec: nothing to leave behind.
    assert token_models_left_behind(tiny_codec_dir, tmp_path / "none") == []


def test_steady_material_is_the_kit_as_the_renderers_key_plays_it_and_keeps_its_own_folder(
    made, phrases, tiny_codec_dir, tmp_path
):
    import dataclasses

    from audiogen.renderers.dynamics import kit_renders
    from audiogen.training.tokens import _jobs, _shard_renders, add_bands, precompute

    folder, plan, _ = made
    steady = dataclasses.replace(plan, steady=True)
    sr, hop = 32000, 640
    _, job = _jobs(phrases, steady, tiny_codec_dir, tmp_path, "0" * 64)
    _, varied_job = _jobs(phrases, plan, tiny_codec_dir, tmp_path, "0" * 64)
    renders = list(_shard_renders(job(0), sr, hop))
    varied = list(_shard_renders(varied_job(0), sr, hop))
    assert renders and len(renders) == len(varied)
    differ = 0
    for (score, seed, groups, audio), (_, _, _, other) in zip(renders, varied, strict=True):
        key = kit_renders(score, {KITS[job(0).kit]: 1.0}, sr, seed)[0][1]
        for i, group in enumerate(groups):  # exactly what the key of this score plays
            assert np.array_equal(audio[i, : len(key[group])], key[group])
        differ += not np.array_equal(audio, other)
    assert differ >= len(renders) // 2  # the varied material's hits are detuned
    # Steady and varied tokens never share a folder, either way round.
    with pytest.raises(AudiogenError, match=r"other settings \(steady\)") as caught:
        precompute(phrases, tiny_codec_dir, folder, steady)
    assert "\n" not in str(caught.value)
    with pytest.raises(AudiogenError, match=r"other settings \(steady\)"):
        add_bands(phrases, folder, steady)
    mine = tmp_path / "steady"
    assert precompute(phrases, tiny_codec_dir, mine, steady, max_shards=1)["made"] == 1
    with pytest.raises(AudiogenError, match=r"other settings \(steady\)"):
        precompute(phrases, tiny_codec_dir, mine, plan)


def test_grid_material_puts_every_hit_on_the_grid_and_only_a_grid_model_trains_on_it(
    made, phrases, tiny_codec_dir, tmp_path
):
    import dataclasses

    from audiogen.renderers.features import FEATURES
    from audiogen.renderers.neural import RendererConfig
    from audiogen.training.renderer import train
    from audiogen.training.tokens import Shards, _jobs, _shard_renders, precompute

    folder, plan, _ = made
    grid = dataclasses.replace(plan, grid=20)
    _, job = _jobs(phrases, grid, tiny_codec_dir, tmp_path, "0" * 64)
    _, as_played = _jobs(phrases, plan, tiny_codec_dir, tmp_path, "0" * 64)
    renders = list(_shard_renders(job(0), 32000, 640))
    times = [s.time_s(h) * 1000 for s, _, _, _ in renders for h in s.hits]
    assert times and np.allclose(times, np.round(times), atol=1e-6)  # whole milliseconds
    played = [s.time_s(h) * 1000 for s, _, _, _ in _shard_renders(as_played(0), 32000, 640)
              for h in s.hits]  # fmt: skip
    assert len(played) == len(times) and np.abs(np.array(played) - times).max() <= 1.0
    assert not np.allclose(played, np.round(played), atol=1e-6)
    with pytest.raises(AudiogenError, match=r"other settings \(grid\)"):
        precompute(phrases, tiny_codec_dir, folder, grid)
    mine = tmp_path / "grid"
    precompute(phrases, tiny_codec_dir, mine, grid, max_shards=1)
    shards = Shards.load(mine)
    offsets = shards.batch(np.random.default_rng(0), 4, 50)[1][..., 2:FEATURES:3]
    assert np.allclose(offsets * 20, np.round(offsets * 20), atol=1e-3)
    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=plan.kits, n_q=2, card=16,
                            envelope=True)  # fmt: skip
    with pytest.raises(ValueError, match="positions a frame"):
        train(shards, tmp_path / "out", tmp_path / "state", 1.0, config, max_steps=1)
