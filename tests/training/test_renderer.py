"""Training the token model from precomputed shards: it runs, resumes, and writes a checkpoint
the renderer loads with the codec the tokens were made by."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiogen.planner.library import load_library

pytest.importorskip("audiocraft")

KITS = ("acoustic", "808")


def tokens_and_saved_state(codec_dir, tmp_path, config, touch=None):
    """Shards of one rock phrase, and a step-7 training state of a fresh ``config`` model (its
    conditioner first passed to ``touch``, if given) saved in ``tmp_path/state``: (shards,
    conditioner)."""
    import torch

    from audiogen.renderers.neural import build
    from audiogen.training.tokens import Plan, Shards, precompute

    phrases = [p for p in load_library() if p.genre == "rock"][:1]
    precompute(phrases, codec_dir, tmp_path / "tokens", Plan(kits=KITS, piece_bars=2))
    lm, conditioner = build(config)
    if touch is not None:
        with torch.no_grad():
            touch(conditioner)
    (tmp_path / "state").mkdir()
    torch.save({"lm": lm.state_dict(), "cond": conditioner.state_dict(), "step": 7, "runs": 1,
                "config": config.to_dict()}, tmp_path / "state" / "last.pt")  # fmt: skip
    return Shards.load(tmp_path / "tokens"), conditioner


def test_training_from_shards_resumes_and_writes_a_loadable_checkpoint(tiny_codec_dir, tmp_path):
    import dataclasses

    import torch

    from audiogen.codec.model import Codec
    from audiogen.renderers.neural import NeuralRenderer, RendererConfig
    from audiogen.training.renderer import train
    from audiogen.training.tokens import Plan, Shards, precompute

    phrases = [p for p in load_library() if p.genre == "rock"][:1]
    precompute(phrases, tiny_codec_dir, tmp_path / "tokens", Plan(kits=KITS, piece_bars=2))
    shards = Shards.load(tmp_path / "tokens")
    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                            envelope=True)  # fmt: skip
    # 400 frames: longer than the 5 s examples, so padding past their end is masked out
    run = dict(shards=shards, out_dir=tmp_path / "out", state_dir=tmp_path / "state", minutes=5,
               config=config, batch_size=2, frames=400, device="cpu", max_steps=1)  # fmt: skip
    assert train(**run)["steps"] == 1
    second = train(**run)
    assert second["steps"] == 2 and second["runs"] == 2 and np.isfinite(second["loss"])
    loaded = NeuralRenderer.load(tmp_path / "out", Codec.load(tiny_codec_dir))
    assert loaded.version == "renderer@2" and loaded.meta["codec"] == "codec@tiny"
    state = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    del state["optim"]  # as committed: the weights without Adam's moments
    torch.save(state, tmp_path / "state" / "last.pt")
    assert train(**run)["steps"] == 3
    assert train(**(run | {"group_weight": {"toms": 2.0}}))["steps"] == 4  # --group-weight
    weighted = train(**(run | {"config": dataclasses.replace(config, attack_weight=3.0)}))
    assert weighted["steps"] == 5 and np.isfinite(weighted["loss"])  # --attack-weight
    coarse = train(**(run | {"config": dataclasses.replace(config, coarse_weight=4.0)}))
    assert coarse["steps"] == 6 and np.isfinite(coarse["loss"])  # --coarse-weight
    curve = (tmp_path / "state" / "curve.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in curve] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="no stem group snares"):
        train(**(run | {"group_weight": {"snares": 2.0}}))
    with pytest.raises(ValueError, match="kits"):
        train(**(run | {"config": RendererConfig(kits=("rock",), n_q=2, card=16, envelope=True)}))
    with pytest.raises(ValueError, match="feature columns"):  # the shards hold the envelope
        train(**(run | {"config": RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS,
                                                 n_q=2, card=16)}))  # fmt: skip


def moved_by_training(shards, tmp_path, config, weight):
    """Whether two steps of training from the state in ``tmp_path/state`` (step 7) leave the
    conditioner's ``weight`` non-zero."""
    import torch

    from audiogen.training.renderer import train

    result = train(shards, tmp_path / "out", tmp_path / "state", 5, config, batch_size=2,
                   frames=300, device="cpu", max_steps=2, lr=1e-2)  # fmt: skip
    assert result["steps"] == 9
    state = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    return bool(state["cond"][weight].abs().sum() > 0)


def test_a_model_trained_without_the_envelope_resumes_reading_it_from_zero(tiny_codec_dir,
                                                                           tmp_path):  # fmt: skip
    """The envelope's weights are new to a state made before them: they start at zero, so the
    resumed model begins as the old one was, and training moves them."""
    import dataclasses

    import torch

    from audiogen.renderers.neural import RendererConfig, build

    old = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16)
    shards, conditioner = tokens_and_saved_state(tiny_codec_dir, tmp_path, old)
    new = dataclasses.replace(old, envelope=True)
    _, fresh = build(new)
    assert not fresh.envelope.weight.any() and not fresh.envelope.bias.any()
    with torch.no_grad():  # zero weights: the envelope changes nothing yet
        features = torch.rand(2, 30, new.width)
        stem, kit = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
        fresh.load_state_dict(conditioner.state_dict(), strict=False)
        assert torch.equal(fresh.eval()(features, stem, kit, 30),
                           conditioner.eval()(features[..., : new.width - 2], stem, kit, 30))
    assert moved_by_training(shards, tmp_path, new, "envelope.weight")


def test_a_model_without_hit_vectors_resumes_making_them_from_zero(tiny_codec_dir, tmp_path):
    """``--hits``: the hit vectors are new to a state made before them; the resumed model starts
    as the old one was, training moves them, and a run resumed without ``--hits`` keeps them."""
    import dataclasses

    import torch

    from audiogen.renderers.neural import RendererConfig, build
    from audiogen.training.renderer import saved_hits

    old = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                         envelope=True)  # fmt: skip
    shards, conditioner = tokens_and_saved_state(tiny_codec_dir, tmp_path, old)
    new = dataclasses.replace(old, hit_width=8, hit_table=4)
    _, fresh = build(new)
    fresh.load_state_dict(conditioner.state_dict(), strict=False)
    _, features, stem, kit, _ = shards.batch(np.random.default_rng(0), 2, 60)
    args = (torch.from_numpy(features), torch.from_numpy(stem), torch.from_numpy(kit), 60)
    assert (features[..., 0::3] > 0).any()  # hits to make vectors of
    with torch.no_grad():
        assert torch.equal(fresh.eval()(*args), conditioner.eval()(*args))
    assert saved_hits(tmp_path / "state") == (0, 0)
    assert moved_by_training(shards, tmp_path, new, "hits.conv.weight")
    assert saved_hits(tmp_path / "state") == (8, 4)


def test_an_envelope_model_trains_on_reading_the_kits_bands_from_zero(tiny_codec_dir, tmp_path):
    """``--add-bands`` then ``--bands``: the shards gain the kit's spectral envelope, made from
    the very renders their tokens were encoded from; an envelope model's state resumes with the
    bands' weights at zero, and training moves them."""
    import dataclasses

    from audiogen.renderers.features import BANDS, ENVELOPE, FEATURES
    from audiogen.renderers.neural import RendererConfig
    from audiogen.training.tokens import Plan, Shards, add_bands

    old = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                         envelope=True)  # fmt: skip
    shards, _ = tokens_and_saved_state(tiny_codec_dir, tmp_path, old)
    assert shards.bands is None
    phrases = [p for p in load_library() if p.genre == "rock"][:1]
    plan = Plan(kits=KITS, piece_bars=2)
    assert add_bands(phrases, tmp_path / "tokens", plan) >= 1
    assert add_bands(phrases, tmp_path / "tokens", plan) == 0  # done once
    shards = Shards.load(tmp_path / "tokens")
    assert shards.width == FEATURES + ENVELOPE + BANDS
    _, features, _, _ = shards.example(0)
    power = features[:, FEATURES]  # the envelope's power, then the bands'
    bands = features[:, FEATURES + ENVELOPE :]
    assert bands.shape[1] == BANDS and bands[power > 0.5].any(axis=1).all()
    quiet = (power == 0) & (np.roll(power, 1) == 0) & (np.roll(power, -1) == 0)
    assert quiet.any() and not bands[quiet].any()  # silent where the kit is (the window: 2 frames)
    new = dataclasses.replace(old, bands=True)
    assert moved_by_training(shards, tmp_path, new, "bands.weight")


def test_bands_are_refused_for_material_made_otherwise(tiny_codec_dir, tmp_path):
    """Shards whose renders cannot be made again (other material) are not given bands that
    would not match them."""
    from audiogen.errors import AudiogenError
    from audiogen.renderers.neural import RendererConfig
    from audiogen.training.tokens import Plan, add_bands

    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16)
    tokens_and_saved_state(tiny_codec_dir, tmp_path, config)
    other = [p for p in load_library() if p.genre == "rock"][1:2]
    with pytest.raises(AudiogenError, match="material"):
        add_bands(other, tmp_path / "tokens", Plan(kits=KITS, piece_bars=2))


def test_a_wider_window_resumes_with_the_older_frames_at_zero(tiny_codec_dir, tmp_path):
    """Widening the window: the state's taps stay the newest frames', the older ones start at
    zero, so the resumed model's conditions equal the old model's until training moves them."""
    import dataclasses

    import torch

    from audiogen.renderers.neural import RendererConfig, build
    from audiogen.training.renderer import saved_window, train, widen_window

    old = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                         envelope=True)  # fmt: skip
    # an envelope that reads something, as a trained one does
    shards, conditioner = tokens_and_saved_state(tiny_codec_dir, tmp_path, old,
                                                 lambda c: c.envelope.weight.normal_())  # fmt: skip
    assert saved_window(tmp_path / "state") == 9 and saved_window(tmp_path / "none") is None
    new = dataclasses.replace(old, window=17)
    _, wide = build(new)
    weights = conditioner.state_dict()
    with pytest.raises(ValueError, match="--window 9"):  # a wider state does not narrow
        widen_window(conditioner.state_dict(), 5)
    assert widen_window(weights, new.window) == 8
    wide.load_state_dict(weights)
    assert not wide.conv.weight[..., :8].any() and not wide.envelope.weight[..., :8].any()
    with torch.no_grad():
        features = torch.rand(2, 40, new.width)
        stem, kit = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
        torch.testing.assert_close(wide.eval()(features, stem, kit, 40),
                                   conditioner.eval()(features, stem, kit, 40))  # fmt: skip
    result = train(shards, tmp_path / "out", tmp_path / "state", 5, new, batch_size=2,
                   frames=300, device="cpu", max_steps=2, lr=1e-2)  # fmt: skip
    assert result["steps"] == 9
    state = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    assert state["cond"]["conv.weight"].shape[-1] == 17
    assert saved_window(tmp_path / "state") == 17  # what a run resumed without --window reads
    assert state["cond"]["conv.weight"][..., :8].abs().sum() > 0  # the older frames now read


def test_a_state_file_given_for_the_state_folder_is_refused_in_one_line(tmp_path):
    """Given the state file instead of its folder, a run would start afresh and fail to save."""
    import subprocess
    import sys
    from pathlib import Path

    state = tmp_path / "last.pt"
    state.write_bytes(b"state")
    script = Path(__file__).resolve().parents[2] / "pipelines" / "train_renderer.py"
    run = subprocess.run([sys.executable, str(script), "--state", str(state), "--max-steps", "1"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2
    assert f"{state} is a file; name the folder that holds it" in run.stderr
    assert "Traceback" not in run.stderr
    assert state.read_bytes() == b"state"
    for weights, said in (("snares=2", "no stem group snares"), ("toms", "expected group=weight"),
                          ("toms=0", "must be above 0")):  # fmt: skip
        run = subprocess.run([sys.executable, str(script), "--group-weight", weights],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert run.returncode == 2 and said in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, str(script), "--attack-weight", "0"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2 and "--attack-weight must be above 0" in run.stderr


def test_a_shipped_checkpoint_starts_a_state_that_trains_on_and_exports(tiny_codec_dir, tmp_path):
    """``--from-checkpoint``: a shipped model's weights and step count start a new state, which
    trains on from there (``--no-envelope``: on the score alone, though the tokens carry the
    kit's envelope); a state already there is never overwritten."""
    import torch
    from safetensors.torch import load_file

    from audiogen.errors import AudiogenError
    from audiogen.renderers.neural import WEIGHTS, RendererConfig
    from audiogen.training.renderer import state_from_checkpoint, train

    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16)
    shards, _ = tokens_and_saved_state(tiny_codec_dir, tmp_path, config)
    assert shards.envelope is not None
    shards.envelope = None  # what --no-envelope does
    run = dict(shards=shards, config=config, minutes=5, batch_size=2, frames=300, device="cpu")
    assert train(out_dir=tmp_path / "shipped", state_dir=tmp_path / "state", max_steps=2,
                 **run)["steps"] == 9  # fmt: skip
    assert state_from_checkpoint(tmp_path / "shipped", tmp_path / "new") == 9
    state = torch.load(tmp_path / "new" / "last.pt", weights_only=False)
    shipped = load_file(str(tmp_path / "shipped" / WEIGHTS))
    assert state["step"] == 9 and "optim" not in state
    assert torch.equal(state["cond"]["conv.weight"], shipped["cond.conv.weight"].float())
    with pytest.raises(AudiogenError, match="exists"):
        state_from_checkpoint(tmp_path / "shipped", tmp_path / "new")
    with pytest.raises(AudiogenError, match="no renderer checkpoint"):
        state_from_checkpoint(tmp_path / "nothing", tmp_path / "other")
    result = train(out_dir=tmp_path / "out", state_dir=tmp_path / "new", max_steps=1, **run)
    assert result["steps"] == 10 and np.isfinite(result["loss"])
    # --export: the state as a checkpoint the renderer loads, with a card's sampling settings
    from audiogen.codec.model import Codec
    from audiogen.instruments import GROUPS
    from audiogen.renderers.neural import NeuralRenderer
    from audiogen.training.renderer import export_state
    from audiogen.training.tokens import codec_identity

    codec = codec_identity(tiny_codec_dir)
    with pytest.raises(AudiogenError, match="not a sampling setting: dim"):
        export_state(tmp_path / "new", tmp_path / "exported", codec, {"dim": 32})
    with pytest.raises(AudiogenError, match="names no weight for snare"):
        export_state(tmp_path / "new", tmp_path / "exported", codec, {"guidance": {"kick": 2.0}})
    guidance = dict.fromkeys(GROUPS, 2.0) | {"cymbals": 4.0}
    assert export_state(tmp_path / "new", tmp_path / "exported", codec,
                        {"temperature": 0.5, "guidance": guidance}) == "renderer@10"
    exported = NeuralRenderer.load(tmp_path / "exported", Codec.load(tiny_codec_dir))
    curve = json.loads((tmp_path / "new" / "curve.jsonl").read_text().splitlines()[-1])
    assert exported.meta["train_loss"] == curve["train_loss"] and exported.meta["steps"] == 10
    assert exported.meta["held_out_loss"] == curve["held_out_loss"]  # None: too few examples
    assert exported.config.temperature == 0.5 and exported.config.guidance == guidance
    assert exported.meta["codec"] == "codec@tiny"
