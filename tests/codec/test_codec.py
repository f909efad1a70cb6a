"""The drum codec: shapes, checkpoints, training material and resumable training (tiny models)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from audiogen.codec.config import CodecConfig
from audiogen.codec.model import Codec, build_model, save_checkpoint
from audiogen.errors import AudiogenError
from audiogen.planner.library import load_library
from audiogen.training.clips import HELD_OUT_KIT, ClipMaker, parse_emphasis, training_kits
from audiogen.training.codec import CodecTrainConfig

TINY = CodecConfig(n_filters=4, ratios=(4, 4, 4, 10), dimension=16, n_q=2, bins=16)


@pytest.fixture(scope="module")
def phrases():
    return [p for p in load_library() if p.genre in ("rock", "house")][:6]


def test_config_states_its_frame_rate_and_bitrate():
    config = CodecConfig()
    assert config.frame_rate == 50.0
    assert config.bitrate() == 50 * 8 * 10  # 8 codebooks of 1024 entries: 4 kb/s
    assert config.bitrate(4) == 2000
    assert CodecConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_saved_codec_loads_and_round_trips_audio(tmp_path):
    import torch

    model = build_model(TINY)
    model.train()
    model(torch.randn(2, 1, 6400) * 0.1)  # the quantizer initialises its codebooks
    save_checkpoint(model.eval(), TINY, tmp_path, {"version": "codec@test"})
    codec = Codec.load(tmp_path)
    assert codec.version == "codec@test" and codec.config == TINY
    audio = np.sin(np.linspace(0, 400, 6400)).astype(np.float32) * 0.3
    codes = codec.encode(audio)
    frames = 6400 / TINY.hop_length
    assert codes.shape == (1, TINY.n_q, frames)
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY.bins
    decoded = codec.decode(codes, len(audio))
    assert decoded.shape == (1, 6400) and np.isfinite(decoded).all()


def test_a_damaged_checkpoint_is_one_clear_error(tmp_path):
    model = build_model(TINY)
    save_checkpoint(model, TINY, tmp_path, {"version": "codec@test"})
    weights = tmp_path / "codec.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(AudiogenError, match="codec checkpoint .* cannot be read"):
        Codec.load(tmp_path)
    with pytest.raises(AudiogenError, match="cannot be read"):
        Codec.load(tmp_path / "missing")


def test_the_neural_stack_leaves_the_heavy_parts_of_audiocraft_out():
    # A user waits for every import: T5, spaCy, xformers and HF's EnCodec are never used.
    code = (
        "import sys, torch; from audiogen.codec.model import build_model; "
        "from audiogen.codec.config import CodecConfig; build_model(CodecConfig()); "
        "from audiogen.renderers.neural import NeuralRenderer, RendererConfig, build; "
        "c = RendererConfig(dim=8, num_heads=2, num_layers=1, kits=('a',), n_q=2, card=4); "
        "lm, cond = build(c); zero = torch.zeros(1, dtype=torch.long); "
        "model = NeuralRenderer(lm.eval(), cond.eval(), None, c); "
        "model.generate(torch.rand(1, 5, 93), zero, zero); "
        "print(sorted(m for m in ('spacy', 'transformers', 'xformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_training_material_is_deterministic_and_never_uses_the_held_out_kit(phrases):
    assert HELD_OUT_KIT not in training_kits() and len(training_kits()) >= 5
    maker = ClipMaker(phrases, training_kits(), segment_s=0.25)
    first = [c for _, c in zip(range(12), maker.clips(seed=3))]
    again = [c for _, c in zip(range(12), ClipMaker(phrases, training_kits(), segment_s=0.25)
                                .clips(seed=3))]  # fmt: skip
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(c.shape == (8000,) and c.dtype == np.float32 for c in first)
    assert all(np.abs(c).max() <= 0.99 for c in first)  # augmentation never clips
    loud = [c for c in first if np.sqrt(np.mean(c**2)) > 1e-3]
    assert len(loud) >= 9  # mostly drum audio, not silence


def test_an_emphasised_group_gives_more_of_the_clips(phrases):
    # The cymbals, which the codec plays worst and few renders hold, can be heard more often.
    def share(maker):
        rng = np.random.default_rng(5)
        groups = [g for _ in range(40) for g, _ in maker.clips_of_one_render(rng)]
        return groups.count("cymbals") / len(groups)

    plain = share(ClipMaker(phrases, training_kits(), segment_s=0.25))
    emphasised = share(ClipMaker(phrases, training_kits(), segment_s=0.25,
                                 emphasis={"cymbals": 3}))  # fmt: skip
    assert plain > 0 and emphasised > 2 * plain


def test_emphasis_names_a_group_and_a_count():
    assert parse_emphasis(["cymbals=3", "toms=2"]) == {"cymbals": 3, "toms": 2}
    with pytest.raises(ValueError, match="stem groups are kick"):
        parse_emphasis(["cymbal=3"])
    with pytest.raises(ValueError, match="at least 1"):
        parse_emphasis(["cymbals=0"])


def test_training_resumes_where_it_stopped(tmp_path, phrases):
    from audiogen.training.codec import train

    run = dict(phrases=phrases, kits=training_kits(), out_dir=tmp_path / "out",
               state_dir=tmp_path / "state", minutes=5, config=TINY,
               train_config=CodecTrainConfig(segment_s=0.2, batch_size=2, adversarial_after=1),
               device="cpu", max_steps=1, evaluate=lambda model: {"log_mel": 1.0},
               eval_every=1)  # fmt: skip
    first = train(**run)
    assert first["steps"] == 1 and (tmp_path / "state" / "state.pt").exists()
    second = train(**run)  # a new process would do the same: everything is read from disk
    assert second["steps"] == 2 and second["runs"] == 2
    assert "adv" in second["losses"]  # the discriminator joined at step 1 as configured
    assert [p.name for p in (tmp_path / "state").glob("*.pt")] == ["state.pt"]  # one file
    curve = [json.loads(line) for line in (tmp_path / "state" / "curve.jsonl").open()]
    assert [row["step"] for row in curve] == [1, 2]  # the learning curve runs on across runs
    assert curve[1]["hours"] > curve[0]["hours"] and curve[1]["adversarial"]
    card = json.loads((tmp_path / "out" / "codec.json").read_text())
    assert card["version"] == "codec@2" and card["config"]["n_filters"] == 4
    assert Codec.load(tmp_path / "out").config == TINY
    # A lighter discriminator asked for mid-campaign: the generator goes on, the critic anew.
    lighter = CodecTrainConfig(segment_s=0.2, batch_size=2, adversarial_after=1, disc_scales=2,
                               disc_filters=8)  # fmt: skip
    third = train(**{**run, "train_config": lighter})
    assert third["steps"] == 3 and "adv" in third["losses"]
    # The critic every other step: the steps between train on reconstruction alone.
    sparse = CodecTrainConfig(segment_s=0.2, batch_size=2, adversarial_after=1, disc_scales=2,
                              disc_filters=8, disc_every=2)  # fmt: skip
    fourth = train(**{**run, "train_config": sparse, "max_steps": 2})
    assert fourth["steps"] == 5 and np.isfinite(fourth["losses"]["l1"])


def test_the_onnx_decoder_sounds_the_same_as_torch_at_any_length(tmp_path):
    import torch

    from audiogen.codec.model import export_decoder

    model = build_model(TINY)
    model.train()
    model(torch.randn(2, 1, 6400) * 0.1)
    save_checkpoint(model.eval(), TINY, tmp_path, {"version": "codec@test"})
    plain = Codec.load(tmp_path)
    export_decoder(plain.model, TINY, tmp_path)
    fast = Codec.load(tmp_path)
    assert fast.onnx_decoder is not None
    rng = np.random.default_rng(0)
    for samples in (640 * 3, 640 * 17 + 5):  # lengths the export never saw
        codes = plain.encode(rng.normal(0, 0.1, (2, samples)).astype(np.float32))
        expected, got = plain.decode(codes, samples), fast.decode(codes, samples)
        assert got.shape == expected.shape == (2, samples)
        assert np.abs(got - expected).max() < 1e-4


def test_training_the_decoder_alone_keeps_the_tokens_a_token_model_was_trained_on(
    tmp_path, phrases
):
    import torch
    from safetensors.torch import load_file

    from audiogen.training.codec import train
    from audiogen.training.tokens import codec_identity

    model = build_model(TINY).eval()
    model(torch.randn(2, 1, 6400) * 0.1)  # every codebook initialised, as after real training
    save_checkpoint(model, TINY, tmp_path / "base", {"version": "codec@100"})
    base = codec_identity(tmp_path / "base")
    # The token model's codes for two stems, beside the audio they stand for.
    frames, hop = 30, TINY.hop_length
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "pairs-0-0000.npz", bounds=np.array([0, 12, frames]),
             codes=rng.integers(0, TINY.bins, (TINY.n_q, frames)).astype(np.int16),
             audio=(rng.normal(0, 0.1, frames * hop)).astype(np.float16))  # fmt: skip
    decoder_only = CodecTrainConfig(segment_s=0.2, batch_size=2, adversarial_after=10**9,
                                    decoder_only=True, pair_share=0.5, flux=1.0)  # fmt: skip
    run = dict(phrases=phrases, kits=training_kits(), out_dir=tmp_path / "tuned",
               state_dir=tmp_path / "state", minutes=5, config=TINY, device="cpu", max_steps=3,
               train_config=decoder_only, tokens_from=tmp_path / "base",
               pairs=tmp_path)  # fmt: skip
    summary = train(**run)
    assert summary["steps"] == 3 and np.isfinite(summary["losses"]["msspec"])
    assert np.isfinite(summary["losses"]["flux"])  # the onset loss was asked for: it trains too
    before = load_file(str(tmp_path / "base" / "codec.safetensors"))
    after = load_file(str(tmp_path / "tuned" / "codec.safetensors"))
    front = [k for k in before if k.startswith(("encoder.", "quantizer."))]
    assert front and all(torch.equal(before[k], after[k]) for k in front)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    # Same audio → the same tokens; the card says whose tokens they are.
    audio = np.sin(np.linspace(0, 900, 6400)).astype(np.float32) * 0.3
    old, new = Codec.load(tmp_path / "base"), Codec.load(tmp_path / "tuned")
    assert torch.equal(old.encode(audio), new.encode(audio))
    assert new.version == "codec@3" and new.tokens_version == "codec@100"
    assert codec_identity(tmp_path / "tuned") == base
    with pytest.raises(ValueError, match="needs the checkpoint whose tokens it keeps"):
        train(**{**run, "tokens_from": None})
    # A codebook never used would be initialised from the next batch, and the tokens change.
    unused = build_model(TINY)
    save_checkpoint(unused, TINY, tmp_path / "unused", {"version": "codec@0"})
    with pytest.raises(ValueError, match="codebooks it never used"):
        train(**{**run, "tokens_from": tmp_path / "unused"})


def ringing_cymbal(bumps: tuple[float, ...] = (), seconds: float = 3.0) -> np.ndarray:
    """A struck noise that rings for seconds, at 32 kHz; ``bumps``: times where its level jumps
    by 12 dB for 40 ms, as a codec that plays a wash unevenly does."""
    sr = 32000
    rng = np.random.default_rng(1)
    t = np.arange(round(seconds * sr)) / sr
    audio = rng.normal(0, 0.2, len(t)) * np.exp(-t / 1.5)
    for bump in bumps:
        span = (t >= bump) & (t < bump + 0.04)
        audio[span] *= 4.0
    return audio.astype(np.float32)


def test_the_onset_loss_reads_the_flux_the_benchmarks_onset_detector_reads():
    """The codec's onset loss is the spectral flux that `detect_onsets` peaks on (librosa's
    onset strength): a wash played with jumps in its level differs from the even one there."""
    import librosa
    import torch

    from audiogen.training.codec import OnsetFlux

    flux = OnsetFlux(32000)
    even, bumpy = ringing_cymbal(), ringing_cymbal(bumps=(1.0, 2.0))
    ours = flux(torch.from_numpy(bumpy)[None, None])[0].numpy()
    theirs = librosa.onset.onset_strength(y=bumpy, sr=32000, hop_length=128)
    lead = 2048 // (2 * 128) + 1  # librosa pads its envelope by half a frame and the lag
    inner = slice(16, min(len(ours), len(theirs) - lead) - 16)  # past the ends' padding
    shifted = theirs[lead + inner.start : lead + inner.stop]
    assert np.allclose(ours[inner], shifted, rtol=1e-3, atol=1e-3)
    distance = lambda a, b: float(torch.nn.functional.l1_loss(  # noqa: E731
        flux(torch.from_numpy(a)[None, None]), flux(torch.from_numpy(b)[None, None])))
    assert distance(bumpy, even) > 3 * distance(ringing_cymbal(), even) + 0.01
