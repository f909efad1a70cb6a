"""The neural renderer's machinery on tiny untrained models: features, batching, windows, seeds
and checkpoints (its training: tests/training/test_renderer.py). (How it sounds is a benchmark,
once a model is trained.)"""

from __future__ import annotations

import numpy as np
import pytest

from audiogen.codec.config import CodecConfig
from audiogen.errors import AudiogenError
from audiogen.paths import samples_dir
from audiogen.renderers.features import CLASS_INDEX, FEATURES, stem_frames
from audiogen.score import DrumScore, Hit, Meter

TINY_CODEC = CodecConfig(n_filters=4, ratios=(4, 4, 4, 10), dimension=16, n_q=2, bins=16)
KITS = ("acoustic", "808")


def test_features_place_each_hit_in_its_frame_finer_than_a_frame():
    # 120 bpm: a quarter is 0.5 s = 25 frames at 50 frames/s; the snare is played 7 ms late.
    hits = (Hit(0, "kick", 127), Hit(24, "snare", 64, offset_ms=7.0), Hit(48, "kick", 100))
    score = DrumScore(bpm=120, meter=Meter(4, 4), bars=1, hits=hits)
    kick = stem_frames(score, "kick", 50.0, 100)
    assert kick.shape == (100, FEATURES)
    c = 3 * CLASS_INDEX["kick"]
    assert np.flatnonzero(kick[:, c]).tolist() == [0, 50]
    assert kick[0, c + 1] == pytest.approx(1.0) and kick[50, c + 1] == pytest.approx(100 / 127)
    snare = stem_frames(score, "snare", 50.0, 100)
    s = 3 * CLASS_INDEX["snare"]
    assert np.flatnonzero(snare[:, s]).tolist() == [25]
    assert snare[25, s + 2] == pytest.approx(0.35, abs=1e-6)  # 7 ms into a 20 ms frame
    assert not snare[:, c].any()  # the kick is not in the snare's stem
    later = stem_frames(score, "kick", 50.0, 40, start_s=0.5)  # a window from 0.5 s
    assert np.flatnonzero(later[:, c]).tolist() == [25]


def test_the_envelope_is_each_frames_power_and_peak_from_the_floor_to_full_scale():
    from audiogen.renderers.features import envelope_frames

    hop = 640
    audio = np.zeros(20 * hop, dtype=np.float32)
    audio[5 * hop + 100] = 1.0  # a full-scale click in frame 5
    audio[8 * hop : 9 * hop] = 0.1  # a steady -20 dBFS in frame 8
    audio[12 * hop : 13 * hop] = 1e-5  # -100 dBFS: under the floor
    envelope = envelope_frames(audio, hop, 22)  # longer than the audio: silent frames after it
    assert envelope.shape == (22, 2) and envelope.dtype == np.float32
    assert envelope[5, 1] == pytest.approx(1.0)  # peak 0 dBFS
    assert envelope[5, 0] == pytest.approx(1 - 10 * np.log10(hop) / 80, abs=1e-4)  # one sample
    assert envelope[8] == pytest.approx([0.75, 0.75], abs=1e-4)  # -20 dB of 80
    loud = {5, 8}
    assert not envelope[[i for i in range(22) if i not in loud]].any()


def test_the_spectral_envelope_puts_each_tone_in_its_band_at_its_power():
    """A kick's pitch shows in which low band its power sits: a 55 Hz tone and a 90 Hz one land
    in different bands, a 3 kHz tone in the band around it, at its power (−3 dB for a
    full-scale sine); silence is 0."""
    from audiogen.renderers.features import BANDS, BANDS_HZ, band_frames

    rate, hop = 32000, 640
    t = np.arange(rate) / rate
    levels = {}
    for hz in (55, 90, 3000):
        audio = np.sin(2 * np.pi * hz * t).astype(np.float32)
        bands = band_frames(audio, hop, 60, rate)  # past the audio's end: silent frames
        assert bands.shape == (60, BANDS) and bands.dtype == np.float32
        assert not bands[-5:].any()
        levels[hz] = bands[25] * 80 - 80  # back to dB
        loudest = int(np.argmax(levels[hz]))
        assert BANDS_HZ[loudest] <= hz < BANDS_HZ[loudest + 1]
    assert levels[3000].max() == pytest.approx(-3.0, abs=0.2)
    assert levels[55][1] - levels[55][2] > 2 and levels[90][2] - levels[90][1] > 15


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    import torch

    from audiogen.codec.model import Codec, build_model
    from audiogen.codec.model import save_checkpoint as save_codec
    from audiogen.renderers.neural import NeuralRenderer, RendererConfig, build, save_checkpoint

    folder = tmp_path_factory.mktemp("neural")
    codec_model = build_model(TINY_CODEC)
    codec_model.train()
    codec_model(torch.randn(2, 1, 6400) * 0.1)
    save_codec(codec_model.eval(), TINY_CODEC, folder / "codec", {"version": "codec@tiny"})
    codec = Codec.load(folder / "codec")
    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                            max_frames=60, prompt_frames=20)  # fmt: skip
    lm, conditioner = build(config)
    save_checkpoint(lm, conditioner, config, folder / "renderer",
                    {"version": "renderer@tiny", "codec": codec.version})  # fmt: skip
    return NeuralRenderer.load(folder / "renderer", codec), folder


def two_bars() -> DrumScore:
    hits = [Hit(t, "kick", 110) for t in range(0, 192, 48)]
    hits += [Hit(t, "snare", 100) for t in range(24, 192, 48)]
    hits += [Hit(t, "hat_closed", 70) for t in range(0, 192, 12)]
    return DrumScore(bpm=140, meter=Meter(4, 4), bars=2, hits=tuple(hits))


def test_every_stem_is_rendered_in_one_batch_at_the_requested_rate(renderer):
    model, _ = renderer
    stems = model.render(two_bars(), "808", sample_rate=48000, seed=1)
    assert sorted(stems) == ["hats", "kick", "snare"]
    expected = round((two_bars().duration_s + 1.0) * 48000)
    assert all(abs(len(a) - expected) <= 2 for a in stems.values())
    assert all(a.dtype == np.float32 and np.isfinite(a).all() for a in stems.values())


def test_same_seed_same_audio_and_another_seed_differs(renderer):
    model, _ = renderer
    a = model.render(two_bars(), "808", seed=5)
    b = model.render(two_bars(), "808", seed=5)
    c = model.render(two_bars(), "808", seed=6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_stems_go_through_the_score_keyed_dynamics_unless_asked_not_to(renderer):
    model, _ = renderer
    score = two_bars()
    raw = model.render(score, "acoustic", seed=1, dynamics=False)
    keyed = model.render(score, "acoustic", seed=1)
    tail = slice(-round(0.3 * 48000), None)  # the kit's hits have rung out by then
    for group in raw:
        assert np.abs(raw[group][tail]).max() > 10 ** (-40 / 20)  # the untrained model's noise
        assert np.abs(keyed[group][tail]).max() < 10 ** (-60 / 20)


def test_an_envelope_model_reads_the_score_through_the_kits_one_shots(renderer, monkeypatch):
    """With ``envelope``, the model reads beside the score how loud the same score is through
    the kit's one-shots, frame by frame: loud where a hit starts, silent once it has rung out;
    a blend's is its kits' mixed by weight."""
    import dataclasses

    from audiogen.renderers.features import ENVELOPE
    from audiogen.renderers.neural import build

    model, _ = renderer
    config = dataclasses.replace(model.config, envelope=True)
    lm, conditioner = build(config)
    reader = dataclasses.replace(model, lm=lm.eval(), conditioner=conditioner.eval(),
                                 config=config)  # fmt: skip
    seen = []
    generate = reader.generate
    monkeypatch.setattr(reader, "generate",
                        lambda f, *a, **k: seen.append(f) or generate(f, *a, **k))  # fmt: skip
    score = two_bars()
    stems = reader.render(score, "808", seed=3)
    assert sorted(stems) == ["hats", "kick", "snare"]
    features = seen[0].numpy()
    assert features.shape[-1] == FEATURES + ENVELOPE
    for group, name in (("kick", "kick"), ("hats", "hat_closed")):
        lane = features[score.groups.index(group)]
        onsets = np.flatnonzero(lane[:, 3 * CLASS_INDEX[name]])
        peak = lane[:, FEATURES + 1]
        assert len(onsets) and np.maximum(peak[onsets], peak[onsets + 1]).min() > 0.5  # -40 dBFS
    hats = features[score.groups.index("hats"), :, FEATURES:]
    assert not hats[-10:].any()  # 0.2 s before the end of the second past the last bar
    frames = features.shape[1]
    drum_808 = reader.envelopes(score, {"808": 1.0}, frames, seed=3)
    acoustic = reader.envelopes(score, {"acoustic": 1.0}, frames, seed=3)
    assert np.array_equal(drum_808, features[..., FEATURES:])
    assert not np.allclose(drum_808, acoustic)
    blend = reader.envelopes(score, {"808": 0.25, "acoustic": 0.75}, frames, seed=3)
    np.testing.assert_allclose(blend, 0.25 * drum_808 + 0.75 * acoustic, atol=1e-6)


def test_a_bands_model_reads_the_kits_spectral_envelope_after_its_envelope(renderer):
    """With ``bands``, the model reads after the kit's envelope its spectral envelope: the 808's
    kick sits lower than the acoustic kit's, and a blend's is its kits' mixed by weight."""
    import dataclasses

    from audiogen.renderers.features import BANDS, ENVELOPE
    from audiogen.renderers.neural import build

    model, _ = renderer
    config = dataclasses.replace(model.config, envelope=True, bands=True)
    lm, conditioner = build(config)
    assert config.width == FEATURES + ENVELOPE + BANDS
    assert not conditioner.bands.weight.any()  # a model trained without them starts unchanged
    reader = dataclasses.replace(model, lm=lm.eval(), conditioner=conditioner.eval(),
                                 config=config)  # fmt: skip
    score = two_bars()
    frames = 200
    kick = score.groups.index("kick")
    low = {}
    for kit in ("808", "acoustic"):
        both = reader.envelopes(score, {kit: 1.0}, frames, seed=3)
        assert both.shape == (len(score.groups), frames, ENVELOPE + BANDS)
        bands = both[kick, :, ENVELOPE:]
        low[kit] = bands[:, :3].sum() / bands.sum()  # the share under 110 Hz
        without = dataclasses.replace(reader, config=dataclasses.replace(config, bands=False))
        assert np.array_equal(without.envelopes(score, {kit: 1.0}, frames, seed=3), both[..., :2])
    assert low["808"] > low["acoustic"]
    blend = reader.envelopes(score, {"808": 0.5, "acoustic": 0.5}, frames, seed=3)
    halves = [reader.envelopes(score, {k: 1.0}, frames, seed=3) for k in ("808", "acoustic")]
    np.testing.assert_allclose(blend, 0.5 * halves[0] + 0.5 * halves[1], atol=1e-6)
    assert len(reader.render(score, "808", seed=3)) == 3  # it renders


def test_long_beats_are_generated_in_primed_windows_covering_every_frame(renderer):
    import torch

    model, _ = renderer
    features = torch.rand(2, 150, FEATURES)  # 150 frames: windows of 60 primed by 20
    codes = model.generate(features, torch.tensor([0, 1]), torch.tensor([0, 1]), seed=0)
    assert codes.shape == (2, 2, 150)
    assert int(codes.min()) >= 0 and int(codes.max()) < 16  # no frame left unwritten


def test_unknown_kit_and_mismatched_or_broken_checkpoints_name_the_sampler(renderer):
    from audiogen.renderers.neural import NeuralRenderer

    model, folder = renderer
    with pytest.raises(AudiogenError, match="--renderer sample"):
        model.render(two_bars(), "lofi")
    other = type(model.codec)(model.codec.model, model.codec.config, {"version": "codec@9"})
    with pytest.raises(AudiogenError, match="trained for codec@tiny.*--renderer sample"):
        NeuralRenderer.load(folder / "renderer", other)
    # A codec whose decoder alone trained on writes the tokens it started from: it fits.
    tuned = {"version": "codec@9", "tokens": {"codec": "codec@tiny", "codec_sha256": "0" * 64}}
    retrained = type(model.codec)(model.codec.model, model.codec.config, tuned)
    assert NeuralRenderer.load(folder / "renderer", retrained).codec.version == "codec@9"
    with pytest.raises(AudiogenError, match="cannot be read.*--renderer sample"):
        NeuralRenderer.load(folder / "missing", model.codec)


def test_render_with_the_neural_renderer_end_to_end(renderer, tmp_path, monkeypatch):
    import json

    import audiogen
    from audiogen.renderers.neural import load_shipped

    _, folder = renderer
    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(folder))
    load_shipped.cache_clear()
    try:
        beat = audiogen.render(two_bars(), kit="808", renderer="neural", seed=2)
        assert sorted(beat.stems) == ["hats", "kick", "room", "snare"] and beat.mix.shape[0] == 2
        manifest = json.loads((beat.save(tmp_path / "beat") / "manifest.json").read_text())
        assert manifest["renderer"]["name"] == "neural"
        models = manifest["renderer"]["models"]
        assert models == {"codec": "codec@tiny", "renderer": "renderer@tiny"}
    finally:
        load_shipped.cache_clear()


def test_without_a_trained_renderer_the_sampler_renders_and_says_so(tmp_path, monkeypatch, caplog):
    import json

    from audiogen.cli import main
    from audiogen.renderers.neural import load_shipped

    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(tmp_path))
    load_shipped.cache_clear()
    try:
        midi = samples_dir() / "beats" / "rock-groove.mid"
        with caplog.at_level("WARNING", logger="audiogen"):
            code = main(["render", str(midi), "--renderer", "neural", "-o", str(tmp_path / "out")])
        assert code == 0
        err = caplog.text
        assert "no trained neural renderer" in err and "rendered with the sampler instead" in err
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        assert manifest["renderer"]["name"] == "sample" and "models" not in manifest["renderer"]
    finally:
        load_shipped.cache_clear()


def test_a_kit_the_renderer_was_not_trained_on_is_played_by_the_sampler(renderer, monkeypatch,
                                                                        caplog):  # fmt: skip
    import audiogen
    from audiogen.renderers.neural import load_shipped

    _, folder = renderer
    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(folder))
    load_shipped.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="audiogen"):
            beat = audiogen.render(two_bars(), kit="lofi", renderer="neural", seed=2)
        assert beat.request.renderer == "sample" and beat.models is None
        assert any("not trained on kit lofi" in r.getMessage() for r in caplog.records)
    finally:
        load_shipped.cache_clear()


class FullForward:
    """The reference decoder: `LMModel.forward`, the training path, over the whole sequence so
    far at every step (no cache)."""

    def __init__(self, lm, condition):
        self.lm, self.condition, self.seen = lm, condition, None

    def __call__(self, tokens, start):
        import torch

        from audiogen.renderers.neural import CONDITION

        self.seen = tokens if start == 0 else torch.cat([self.seen, tokens], dim=-1)
        condition = self.condition[:, : self.seen.shape[-1]]
        ones = torch.ones(condition.shape[:2])
        return self.lm(self.seen, [], {CONDITION: (condition, ones)})[:, :, -1]


@pytest.fixture(scope="module")
def short_memory():
    """A tiny renderer attending to the last 6 steps only, so its key/value rings wrap. Its
    weights are drawn from a fixed seed, so that they do not depend on which tests ran first."""
    import torch

    from audiogen.renderers.neural import NeuralRenderer, RendererConfig, build

    config = RendererConfig(dim=16, num_heads=2, num_layers=2, kits=KITS, n_q=2, card=16,
                            past_context=6, max_frames=40, prompt_frames=12)  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        lm, conditioner = build(config)
    return NeuralRenderer(lm.eval(), conditioner.eval(), None, config)


def test_cached_steps_give_the_training_forwards_logits(short_memory):
    import torch

    from audiogen.renderers.neural import _Decoder

    lm, conditioner = short_memory.lm, short_memory.conditioner
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 17, (3, 2, 30), generator=generator)  # 16 = the special token
    with torch.inference_mode():
        condition = conditioner(torch.rand(3, 30, FEATURES, generator=generator),
                                torch.tensor([0, 1, 2]), torch.tensor([0, 1, 0]), 30)  # fmt: skip
        fast, slow = _Decoder(lm, condition), FullForward(lm, condition)
        for start, stop in [(0, 9)] + [(t, t + 1) for t in range(9, 30)]:  # prime 9, then steps
            expected = slow(tokens[..., start:stop], start)
            assert torch.allclose(fast(tokens[..., start:stop], start), expected, atol=1e-5)


def test_generation_writes_the_reference_paths_tokens(short_memory, monkeypatch):
    import torch

    from audiogen.renderers import neural

    features = torch.rand(2, 70, FEATURES)  # windows of 40 frames primed by 12
    args = (features, torch.tensor([0, 3]), torch.tensor([1, 0]))
    fast = short_memory.generate(*args, seed=3)
    monkeypatch.setattr(neural, "_Decoder", FullForward)
    assert torch.equal(short_memory.generate(*args, seed=3), fast)


def test_training_loss_scores_every_real_frame_of_every_codebook_once(short_memory):
    """The loss computed in the model's own (delayed) order equals the cross-entropy of the
    reverted logits over the real frames: no frame scored twice, none missed, none of the padding
    past an example's end."""
    import torch

    from audiogen.renderers.neural import loss, predict

    lm, conditioner = short_memory.lm, short_memory.conditioner
    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 16, (3, 2, 20), generator=generator)
    args = (codes, torch.rand(3, 20, FEATURES, generator=generator), torch.tensor([0, 1, 2]),
            torch.tensor([0, 1, 0]))  # fmt: skip
    valid = torch.tensor([20, 7, 1])
    with torch.no_grad():
        logits, mask = predict(lm, conditioner, *args)
        mask = mask & (torch.arange(20)[None, None] < valid[:, None, None])
        expected = torch.nn.functional.cross_entropy(logits[mask], codes[mask])
        assert torch.allclose(loss(lm, conditioner, *args, valid), expected, atol=1e-5)
        padded = codes.clone()
        padded[1, :, 7:] = (padded[1, :, 7:] + 5) % 16  # what lies past the end does not count
        assert torch.allclose(loss(lm, conditioner, padded, *args[1:], valid), expected, atol=1e-5)


def token_terms(lm, conditioner, args):  # noqa: ANN001, ANN201 (test helper)
    """Each token's cross-entropy [B, K, T] from the reverted logits (0 where not scored) and
    which are scored: the pattern's written frames within each example's ``valid`` (args[4])."""
    import torch

    from audiogen.renderers.neural import predict

    codes, valid = args[0], args[4]
    logits, mask = predict(lm, conditioner, *args[:4])
    mask = mask & (torch.arange(codes.shape[-1])[None, None] < valid[:, None, None])
    terms = torch.nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), codes,
                                              reduction="none")  # fmt: skip
    return torch.where(mask, terms, 0.0), mask  # the pattern's unwritten frames are NaN


def test_attack_weight_counts_the_tokens_where_hits_start_that_many_times(short_memory):
    """The weighted loss is the cross-entropy of the reverted logits with each frame that starts
    a hit, and the one after it, counted 4 times: the model is pushed hardest where a hit is
    placed or dropped, and a weight of 1 leaves the plain loss."""
    import torch

    from audiogen.renderers.neural import loss

    lm, conditioner = short_memory.lm, short_memory.conditioner
    generator = torch.Generator().manual_seed(4)
    codes = torch.randint(0, 16, (2, 2, 20), generator=generator)
    features = torch.zeros(2, 20, FEATURES)
    features[0, [3, 11], 0] = 1.0  # hits of the first instrument in frames 3 and 11
    features[1, 19, 3] = 1.0  # the second's in the last frame
    args = (codes, features, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([20, 20]))
    weight = torch.ones(2, 20)
    weight[0, [3, 4, 11, 12]] = 4.0
    weight[1, 19] = 4.0
    with torch.no_grad():
        terms, mask = token_terms(lm, conditioner, args)
        scale = weight[:, None].expand_as(terms) * mask
        expected = (terms * scale).sum() / scale.sum()
        weighted = loss(lm, conditioner, *args, attack_weight=4.0, attack_frames=1)
        assert torch.allclose(weighted, expected, atol=1e-5)
        plain = (terms * mask).sum() / mask.sum()
        assert torch.allclose(loss(lm, conditioner, *args), plain, atol=1e-5)
        assert not torch.allclose(weighted, plain, atol=1e-3)


def test_coarse_weight_counts_the_first_codebooks_tokens_that_many_times(short_memory):
    """With ``coarse_weight`` 3 the loss is the cross-entropy with the first codebook's tokens
    counted 3 times (it decides a frame's sound, a kick's pitch); with the attack weight too,
    the weights multiply."""
    import torch

    from audiogen.renderers.neural import loss

    lm, conditioner = short_memory.lm, short_memory.conditioner
    generator = torch.Generator().manual_seed(5)
    codes = torch.randint(0, 16, (2, 2, 20), generator=generator)
    features = torch.zeros(2, 20, FEATURES)
    features[0, 6, 0] = 1.0  # a hit of the first instrument in frame 6
    args = (codes, features, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([20, 12]))
    with torch.no_grad():
        terms, mask = token_terms(lm, conditioner, args)
        for attack in (1.0, 2.0):
            scale = torch.ones(2, 2, 20)
            scale[:, 0] = 3.0
            scale[0, :, [6, 7]] *= attack
            scale = scale * mask
            expected = (terms * scale).sum() / scale.sum()
            weighted = loss(lm, conditioner, *args, attack_weight=attack, attack_frames=1,
                            coarse_weight=3.0)  # fmt: skip
            assert torch.allclose(weighted, expected, atol=1e-5)
        plain = (terms * mask).sum() / mask.sum()
        assert not torch.allclose(loss(lm, conditioner, *args, coarse_weight=3.0), plain,
                                  atol=1e-3)  # fmt: skip


def test_token_noise_changes_what_the_model_reads_back_not_what_it_is_scored_on(short_memory):
    import copy

    import torch

    from audiogen.renderers.neural import loss

    lm, conditioner = copy.deepcopy(short_memory.lm), short_memory.conditioner
    generator = torch.Generator().manual_seed(2)
    args = (torch.randint(0, 16, (3, 2, 20), generator=generator),
            torch.rand(3, 20, FEATURES, generator=generator), torch.tensor([0, 1, 2]),
            torch.tensor([0, 1, 0]), torch.tensor([20, 20, 20]))  # fmt: skip
    with torch.no_grad():
        clean = loss(lm, conditioner, *args)
        assert torch.equal(loss(lm, conditioner, *args, token_noise=0.0), clean)
        torch.manual_seed(0)
        assert not torch.allclose(loss(lm, conditioner, *args, token_noise=0.5), clean)
        for embedding in lm.emb:  # tokens read back no longer matter: only the targets do
            embedding.weight.zero_()
        clean = loss(lm, conditioner, *args)
        assert torch.allclose(loss(lm, conditioner, *args, token_noise=1.0), clean, atol=1e-6)


def test_a_kit_blend_mixes_the_kits_conditioning_and_its_ends_are_the_kits(renderer):
    model, _ = renderer
    score = two_bars()
    acoustic = model.render(score, "acoustic", seed=4)
    drum_808 = model.render(score, "808", seed=4)
    assert all(np.array_equal(model.render(score, {"acoustic": 1.0, "808": 0.0}, seed=4)[g],
                              acoustic[g]) for g in acoustic)  # fmt: skip
    assert all(np.array_equal(model.render(score, {"acoustic": 0.0, "808": 1.0}, seed=4)[g],
                              drum_808[g]) for g in acoustic)  # fmt: skip
    between = model.render(score, {"acoustic": 0.5, "808": 0.5}, seed=4)
    assert any(not np.array_equal(between[g], acoustic[g]) for g in acoustic)
    assert any(not np.array_equal(between[g], drum_808[g]) for g in acoustic)
    with pytest.raises(AudiogenError, match="not lofi"):
        model.render(score, {"acoustic": 0.5, "lofi": 0.5})


def test_a_blend_request_renders_neural_and_the_manifest_names_it(renderer, tmp_path,
                                                                  monkeypatch, caplog):  # fmt: skip
    import json

    import audiogen
    from audiogen.errors import RequestError
    from audiogen.renderers.neural import load_shipped

    with pytest.raises(RequestError, match="--renderer neural"):
        audiogen.render(two_bars(), kit="acoustic:0.7,808:0.3")
    _, folder = renderer
    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(folder))
    load_shipped.cache_clear()
    try:
        beat = audiogen.render(two_bars(), kit="acoustic:7,808:3", renderer="neural", seed=2)
        manifest = json.loads((beat.save(tmp_path / "beat") / "manifest.json").read_text())
        assert manifest["request"]["kit"] == "acoustic:0.7,808:0.3"
        assert manifest["renderer"]["name"] == "neural"
        monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(tmp_path / "none"))
        load_shipped.cache_clear()
        with caplog.at_level("WARNING", logger="audiogen"):
            beat = audiogen.render(two_bars(), kit="acoustic:0.3,808:0.7", renderer="neural")
        assert beat.request.renderer == "sample"
        assert "sampler instead (kit 808, the blend's heaviest)" in caplog.text
    finally:
        load_shipped.cache_clear()


def test_a_dropped_score_leaves_only_stem_and_kit_and_training_drops_at_the_set_rate():
    """Guidance's second half is the model with no score: the condition then cannot depend on
    the features, and training leaves the score out of about ``score_dropout`` of the examples."""
    import torch

    from audiogen.renderers.neural import RendererConfig, build

    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                            score_dropout=0.25)  # fmt: skip
    _, conditioner = build(config)
    stem, kit = torch.zeros(400, dtype=torch.long), torch.ones(400, dtype=torch.long)
    a, b = torch.rand(400, 20, FEATURES), torch.rand(400, 20, FEATURES)
    alone = torch.ones(400, dtype=torch.bool)
    conditioner.eval()
    with torch.no_grad():
        assert torch.equal(conditioner(a, stem, kit, 20, drop=alone),
                           conditioner(b, stem, kit, 20, drop=alone))  # fmt: skip
        assert not torch.equal(conditioner(a, stem, kit, 20), conditioner(b, stem, kit, 20))
        reference = conditioner(a, stem, kit, 20)
        conditioner.train()
        torch.manual_seed(0)
        trained = conditioner(a, stem, kit, 20)
    dropped = ~torch.isclose(trained, reference).all(dim=(1, 2))
    assert 0.18 < dropped.float().mean() < 0.32  # 25 % of 400, within about 3 sigma
    assert torch.allclose(trained[dropped], conditioner(a, stem, kit, 20, drop=alone)[dropped])


def test_guided_generation_uses_the_cached_path_and_moves_away_from_the_scoreless_guess(
    short_memory, monkeypatch
):
    import torch

    from audiogen.renderers import neural

    features = torch.rand(2, 70, FEATURES)
    args = (features, torch.tensor([0, 3]), torch.tensor([1, 0]))
    plain = short_memory.generate(*args, seed=3)
    guided = short_memory.generate(*args, seed=3, guidance=3.0)
    assert not torch.equal(plain, guided)
    assert torch.equal(short_memory.generate(*args, seed=3, guidance=1.0), plain)

    seen = []
    sample = neural._sample
    monkeypatch.setattr(neural, "_Decoder", FullForward)
    monkeypatch.setattr(neural, "_sample", lambda logits, *rest: seen.append(logits)
                        or sample(logits, *rest))  # fmt: skip
    assert torch.equal(short_memory.generate(*args, seed=3, guidance=3.0), guided)
    # the first step's logits: the scoreless guess pushed 3 times as far as the score takes it
    lm, conditioner = short_memory.lm, short_memory.conditioner
    with torch.inference_mode():
        # the first window is 40 frames: 42 steps of the delayed pattern of 2 codebooks
        both = [conditioner(features[:, :40], args[1], args[2], 42, drop=drop)
                for drop in (None, torch.ones(2, dtype=torch.bool))]  # fmt: skip
        start = torch.full((2, 2, 1), lm.special_token_id)
        scored, unscored = (FullForward(lm, c)(start, 0) for c in both)
    assert torch.allclose(seen[0], unscored + 3.0 * (scored - unscored), atol=1e-5)


def test_each_stem_group_can_take_its_own_guidance(renderer, tmp_path):
    """A card (or a render) may give each group its own guidance: each group's stem is then the
    one that group's weight gives alone, whatever the others take. A card that leaves a group
    without a weight is refused in one line."""
    import json
    import shutil

    import torch

    from audiogen.renderers.neural import NeuralRenderer

    model, folder = renderer
    score, blend = two_bars(), {"808": 1.0}
    assert score.groups == ("kick", "snare", "hats")
    weights = {"kick": 3.0, "snare": 1.0, "hats": 2.0, "cymbals": 5.0, "toms": 5.0, "perc": 5.0}
    mixed = model.codes(score, blend, seed=2, guidance=weights)
    alone = {w: model.codes(score, blend, seed=2, guidance=w) for w in (1.0, 2.0, 3.0)}
    assert not any(torch.equal(alone[a], alone[b]) for a, b in ((1.0, 2.0), (1.0, 3.0), (2.0, 3.0)))
    for row, group in enumerate(score.groups):
        assert torch.equal(mixed[row], alone[weights[group]][row]), group
    # asked for some groups only, the others keep the checkpoint's (1.0 here)
    some = model.codes(score, blend, seed=2, guidance={"snare": 3.0})
    assert torch.equal(some[1], alone[3.0][1]) and torch.equal(some[0], alone[1.0][0])
    with pytest.raises(AudiogenError, match="guidance for snares: the stem groups are kick"):
        model.codes(score, blend, seed=2, guidance={"snares": 3.0})

    card = json.loads((folder / "renderer" / "renderer.json").read_text())
    shutil.copytree(folder / "renderer", tmp_path / "per-group")
    card["config"]["guidance"] = weights
    (tmp_path / "per-group" / "renderer.json").write_text(json.dumps(card))
    tuned = NeuralRenderer.load(tmp_path / "per-group", model.codec)
    assert torch.equal(tuned.codes(score, blend, seed=2), mixed)
    card["config"]["guidance"] = {"kick": 3.0, "snare": 1.0}
    (tmp_path / "per-group" / "renderer.json").write_text(json.dumps(card))
    with pytest.raises(AudiogenError, match="guidance names no weight for hats, cymbals"):
        NeuralRenderer.load(tmp_path / "per-group", model.codec)


def test_a_card_routes_groups_to_another_model_which_writes_their_stems(renderer, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    """A card's ``routes`` hand some groups to another model for the same tokens (here one that
    reads the kit's envelope): each model writes its own groups' rows, as it would for a score
    of those groups alone, and the manifest names which model made which stem. Routes to an
    unknown group, or to a model of other kits, are refused in one line."""
    import dataclasses
    import json
    import shutil

    import torch

    import audiogen
    from audiogen.renderers.neural import NeuralRenderer, build, load_shipped, save_checkpoint

    model, folder = renderer
    torch.manual_seed(7)
    other = dataclasses.replace(model.config, envelope=True)
    lm, conditioner = build(other)
    shutil.copytree(folder, tmp_path / "ckpt")
    routed_dir = tmp_path / "ckpt" / "renderer"
    save_checkpoint(lm, conditioner, other, routed_dir / "snare-model",
                    {"version": "renderer@other", "codec": model.codec.version})  # fmt: skip
    card = json.loads((routed_dir / "renderer.json").read_text())

    def route(routes: dict[str, str]) -> None:
        (routed_dir / "renderer.json").write_text(json.dumps(card | {"routes": routes}))

    route({"snare": "snare-model"})
    routed = NeuralRenderer.load(routed_dir, model.codec)
    alone = NeuralRenderer.load(routed_dir / "snare-model", model.codec)

    score, blend = two_bars(), {"808": 1.0}
    snare, rest = (dataclasses.replace(score, hits=tuple(h for h in score.hits if h.group in kept))
                   for kept in (("snare",), ("kick", "hats")))  # fmt: skip
    assert snare.groups == ("snare",) and rest.groups == ("kick", "hats")
    codes = routed.codes(score, blend, seed=4)
    assert torch.equal(codes[1], alone.codes(snare, blend, seed=4)[0])
    assert torch.equal(codes[[0, 2]], model.codes(rest, blend, seed=4))
    assert not torch.equal(codes[1], model.codes(snare, blend, seed=4)[0])
    assert routed.versions() == {"renderer": "renderer@tiny", "renderer/snare": "renderer@other"}

    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(tmp_path / "ckpt"))
    load_shipped.cache_clear()
    try:
        beat = audiogen.render(score, kit="808", renderer="neural", seed=2)
        manifest = json.loads((beat.save(tmp_path / "beat") / "manifest.json").read_text())
        assert manifest["renderer"]["models"] == {
            "codec": "codec@tiny", "renderer": "renderer@tiny", "renderer/snare": "renderer@other"
        }  # fmt: skip
    finally:
        load_shipped.cache_clear()

    for routes, message in (({"snares": "snare-model"}, "routes snares: the stem groups are"),
                            ({"snare": "missing"}, "cannot be read")):  # fmt: skip
        route(routes)
        with pytest.raises(AudiogenError, match=message):
            NeuralRenderer.load(routed_dir, model.codec)
    stranger = dataclasses.replace(other, kits=tuple(reversed(KITS)))
    save_checkpoint(lm, conditioner, stranger, routed_dir / "snare-model",
                    {"version": "renderer@other", "codec": model.codec.version})  # fmt: skip
    route({"snare": "snare-model"})
    with pytest.raises(AudiogenError, match="knows other kits"):
        NeuralRenderer.load(routed_dir, model.codec)


def test_guidance_in_time_holds_one_weight_while_each_hit_sounds_and_another_between(
    short_memory, renderer, tmp_path
):
    """Guidance may be low while each hit sounds (its sound stays nearest the kit's) and high
    between hits (no strikes where nothing was played). The frames a hit sounds in are its own
    and the card's `guidance_frames` after it; the rest take `guidance_between`."""
    import json
    import shutil

    import torch

    from audiogen.renderers.neural import NeuralRenderer, guidance_in_time

    features = np.zeros((2, 30, FEATURES), dtype=np.float32)
    features[0, [2, 20], 3 * CLASS_INDEX["kick"]] = 1.0  # row 0: kicks in frames 2 and 20
    features[1, 5, 3 * CLASS_INDEX["snare"]] = 1.0  # row 1: a snare in frame 5
    weights = guidance_in_time(features, [2.0, 1.5], [5.0, 4.0], frames=3)
    assert weights.shape == (2, 30)
    assert np.flatnonzero(weights[0] == 2.0).tolist() == [2, 3, 4, 5, 20, 21, 22, 23]
    assert np.flatnonzero(weights[1] == 1.5).tolist() == [5, 6, 7, 8]
    assert set(weights[0].tolist()) == {2.0, 5.0} and set(weights[1].tolist()) == {1.5, 4.0}

    # generation takes a weight per row and frame: the frames before the first "between" one
    # are drawn as at the hits' weight throughout, the rest differ
    one_hit = torch.zeros(2, 40, FEATURES)
    one_hit[:, 0, 3 * CLASS_INDEX["kick"]] = 1.0
    args = (one_hit, torch.tensor([0, 0]), torch.tensor([1, 0]))
    in_time = torch.from_numpy(guidance_in_time(one_hit.numpy(), [2.0, 2.0], [6.0, 6.0], 9))
    steady = short_memory.generate(*args, seed=3, guidance=2.0)
    varied = short_memory.generate(*args, seed=3, guidance=in_time.float())
    assert torch.equal(varied[:, 0, :10], steady[:, 0, :10])
    assert not torch.equal(varied, steady)
    assert torch.equal(short_memory.generate(*args, seed=3, guidance=in_time.float()), varied)

    # a card's guidance_between is the default; without one, a render's weight holds throughout
    model, folder = renderer
    score, blend = two_bars(), {"808": 1.0}
    between = {"kick": 4.0, "snare": 5.0, "hats": 3.0, "cymbals": 5.0, "toms": 5.0, "perc": 5.0}
    asked = model.codes(score, blend, seed=2, guidance=2.0, guidance_between=between)
    assert not torch.equal(asked, model.codes(score, blend, seed=2, guidance=2.0))
    card = json.loads((folder / "renderer" / "renderer.json").read_text())
    shutil.copytree(folder / "renderer", tmp_path / "in-time")
    card["config"] |= {"guidance": 2.0, "guidance_between": between}
    (tmp_path / "in-time" / "renderer.json").write_text(json.dumps(card))
    tuned = NeuralRenderer.load(tmp_path / "in-time", model.codec)
    assert torch.equal(tuned.codes(score, blend, seed=2), asked)
    card["config"]["guidance_between"] = {"kick": 4.0}
    (tmp_path / "in-time" / "renderer.json").write_text(json.dumps(card))
    with pytest.raises(AudiogenError, match="guidance_between names no weight for snare"):
        NeuralRenderer.load(tmp_path / "in-time", model.codec)


def test_the_checkpoints_sampling_settings_are_the_defaults(renderer):
    import dataclasses

    from audiogen.renderers.neural import NeuralRenderer

    model, _ = renderer
    cold = dataclasses.replace(model.config, temperature=0.3, top_k=5, guidance=2.0)
    tuned = NeuralRenderer(model.lm, model.conditioner, model.codec, cold, model.meta)
    by_default = tuned.render(two_bars(), "808", seed=4)
    asked = model.render(two_bars(), "808", seed=4, temperature=0.3, top_k=5, guidance=2.0)
    plain = model.render(two_bars(), "808", seed=4)
    assert all(np.array_equal(by_default[k], asked[k]) for k in asked)
    assert any(not np.array_equal(by_default[k], plain[k]) for k in plain)


def test_pairs_for_the_decoder_hold_the_models_codes_beside_the_samplers_stems(
    renderer, tmp_path
):
    from audiogen.planner.library import load_library
    from audiogen.training.pairs import RenderedPairs, make_pairs

    model, _ = renderer
    phrases = [p for p in load_library() if p.genre in ("rock", "house")][:2]
    hop = model.codec.config.hop_length
    made = make_pairs(model, phrases, tmp_path, minutes=0.001, seed=3)  # one piece, then stop
    again = make_pairs(model, phrases, tmp_path, minutes=0.001, seed=3)  # a later run adds
    shards = sorted(p.name for p in tmp_path.glob("pairs-*.npz"))
    assert shards == ["pairs-3-0000.npz", "pairs-3-0001.npz"]
    assert made["stems"] >= 2 and again["stems"] >= 2  # a piece's kick and snare at least
    pairs = RenderedPairs.load(tmp_path, hop)
    assert len(pairs.bounds) - 1 == made["stems"] + again["stems"]
    assert pairs.codes.shape[0] == 2 and 0 <= pairs.codes.min() and pairs.codes.max() < 16
    assert len(pairs.audio) == pairs.codes.shape[-1] * hop  # every stem's audio fills its frames
    for _, audio in pairs.stems():  # each stem is the sampler's: it plays, within full scale
        assert 0.01 < np.max(np.abs(audio)) <= 1.0

    # A crop's codes and audio come from the same frames of one stem.
    frames = pairs.codes.shape[-1]
    frame_of = np.repeat(np.arange(frames) / frames, hop)  # each sample says its frame
    marked = RenderedPairs(np.tile(np.arange(frames) % 16, (2, 1)), frame_of, pairs.bounds, hop)
    codes, audio = next(marked.batches(6, 10, seed=0))
    assert codes.shape == (6, 2, 10) and audio.shape == (6, 1, 10 * hop)
    first = (audio[:, 0, 0].numpy() * frames).round().astype(int)
    assert (codes[:, 0, 0].numpy() == first % 16).all()
    stem = np.searchsorted(pairs.bounds, first, side="right") - 1
    assert (first + 10 <= pairs.bounds[stem + 1]).all()  # no crop runs into the next stem


def test_a_card_fuses_two_models_on_a_group_each_token_drawn_from_mixed_odds(renderer, tmp_path):
    """A card's ``fuse`` has a group's tokens written by the card's model and another in step,
    each token drawn from their log-probabilities mixed by share. Two models that give the same
    odds (an envelope model whose envelope weights are still zero, reading the same score) fuse
    to what either writes alone; a different partner moves the fused rows only. The manifest
    names both models and their shares; a share outside (0, 1) is refused in one line."""
    import dataclasses
    import json
    import shutil

    import torch

    from audiogen.renderers.neural import NeuralRenderer, build, save_checkpoint

    model, folder = renderer
    shutil.copytree(folder / "renderer", tmp_path / "card")
    card = json.loads((tmp_path / "card" / "renderer.json").read_text())
    meta = {"version": "renderer@twin", "codec": model.codec.version}
    twin = dataclasses.replace(model.config, envelope=True)
    lm, conditioner = build(twin)
    lm.load_state_dict(model.lm.state_dict())
    conditioner.load_state_dict(model.conditioner.state_dict(), strict=False)
    assert not conditioner.envelope.weight.any()
    save_checkpoint(lm, conditioner, twin, tmp_path / "card" / "twin", meta)
    torch.manual_seed(11)
    save_checkpoint(*build(twin), twin, tmp_path / "card" / "other",
                    meta | {"version": "renderer@other"})  # fmt: skip

    def fused(fuse: dict) -> NeuralRenderer:
        (tmp_path / "card" / "renderer.json").write_text(json.dumps(card | {"fuse": fuse}))
        return NeuralRenderer.load(tmp_path / "card", model.codec)

    score, blend = two_bars(), {"808": 1.0}
    greedy = dict(seed=3, top_k=1)  # the most likely token: equal odds give equal codes
    own = model.codes(score, blend, **greedy)
    assert torch.equal(fused({"snare": {"twin": 0.6}}).codes(score, blend, **greedy), own)
    other = fused({"snare": {"other": 0.7}})
    assert other.versions() == {"renderer": "renderer@tiny",
                                "renderer/snare": "renderer@tiny + renderer@other (0.7)"}
    mixed = other.codes(score, blend, **greedy)
    assert torch.equal(mixed[[0, 2]], own[[0, 2]])  # kick and hats: the card's model alone
    alone = NeuralRenderer.load(tmp_path / "card" / "other", model.codec)
    assert not torch.equal(mixed[1], own[1])
    assert not torch.equal(mixed[1], alone.codes(score, blend, **greedy)[1])
    # [0.7, 0]: the partner's share while each hit sounds, none between hits
    timed = fused({"snare": {"other": [0.7, 0.0]}})
    assert timed.versions()["renderer/snare"] == (
        "renderer@tiny + renderer@other (0.7 over the hits, 0 between)")
    between = timed.codes(score, blend, **greedy)
    assert not torch.equal(between[1], own[1]) and not torch.equal(between[1], mixed[1])
    for fuse in ({"snare": {"other": 1.0}}, {"snare": {"other": 0.5, "twin": 0.2}},
                 {"snare": "other"}, {"snare": {"other": [0.0, 0.0]}},
                 {"snare": {"other": [0.5, 1.5]}}):  # fmt: skip
        with pytest.raises(AudiogenError, match="name one model and its share, between 0 and 1"):
            fused(fuse)
    with pytest.raises(AudiogenError, match="the stem groups are"):
        fused({"snares": {"other": 0.5}})


def test_a_model_trained_on_the_grid_reads_and_plays_each_hit_there(renderer):
    import dataclasses

    from audiogen.renderers.features import FEATURES, on_grid
    from audiogen.renderers.neural import NeuralRenderer

    model, _ = renderer
    hits = [Hit(t, "kick", 110, offset_ms=o) for t, o in ((0, 3.37), (48, -7.91), (84, 12.6))]
    hits += [Hit(24, "snare", 90, offset_ms=-249.9), Hit(72, "tom_low", 80, offset_ms=0.49)]
    score = DrumScore(bpm=133, meter=Meter(4, 4), bars=1, hits=tuple(hits))
    rate = model.codec.config.frame_rate
    snapped = on_grid(score, rate, 20)
    for before, after in zip(score.hits, snapped.hits, strict=True):
        moved = snapped.time_s(after)
        off = 0.001 if abs(before.offset_ms) > 249 else 0.0005  # at the offset's limit: inward
        assert abs(moved - score.time_s(before)) <= off + 1e-9
        assert abs(moved * 1000 - round(moved * 1000)) < 1e-6  # on a whole millisecond
        assert abs(after.offset_ms) <= 250.0  # the score's limit holds
    gridded = NeuralRenderer(model.lm, model.conditioner, model.codec,
                             dataclasses.replace(model.config, grid=20), model.meta)  # fmt: skip
    offsets = gridded._features(score, ["kick", "snare", "toms"], {"808": 1.0}, 0)
    offsets = offsets[..., 2:FEATURES:3][offsets[..., 0:FEATURES:3] != 0]
    assert len(offsets) == 5 and np.allclose(offsets * 20, np.round(offsets * 20), atol=1e-4)
    plain = model._features(score, ["kick"], {"808": 1.0}, 0)[..., 2:FEATURES:3]
    assert not np.allclose(plain * 20, np.round(plain * 20), atol=1e-4)  # off the grid
    same = [gridded.render(s, "808", seed=3, dynamics=False) for s in (score, snapped)]
    assert all(np.array_equal(same[0][g], same[1][g]) for g in same[0])


@pytest.mark.parametrize("table", [0, 4])
def test_a_hits_vector_is_a_key_of_its_instrument_position_velocity_and_kit(table):
    """Each hit's own vector (``hit_width``) is the same for the same instrument, position on
    the grid, velocity and kit, differs when any of them does, is nothing where no hit starts,
    and reaches the condition once its convolution has weights; a one-hot blend is its kit (with
    a table of rows per kit, instrument and position too)."""
    import dataclasses

    import torch

    from audiogen.renderers.neural import RendererConfig, build

    config = RendererConfig(dim=16, num_heads=2, num_layers=1, kits=KITS, n_q=2, card=16,
                            grid=20, hit_width=8, hit_table=table)  # fmt: skip
    _, conditioner = build(config)
    score = torch.zeros(1, 7, FEATURES)
    for frame, (name, velocity, position) in enumerate(
        [("kick", 100, 3), ("kick", 100, 3), ("kick", 100, 4), ("kick", 60, 3),
         ("tom_low", 100, 3), ("kick", 100, 19)]
    ):  # fmt: skip
        c = 3 * CLASS_INDEX[name]
        score[0, frame, c : c + 3] = torch.tensor([1.0, velocity / 127, position / 20])
    with torch.no_grad():
        vectors = conditioner.hits.vectors(score, torch.tensor([0]))[0]
        assert torch.equal(vectors[0], vectors[1])
        assert all(not torch.allclose(vectors[0], vectors[f]) for f in (2, 3, 4, 5))
        assert not vectors[6].any()
        other_kit = conditioner.hits.vectors(score, torch.tensor([1]))[0]
        assert not torch.allclose(other_kit[0], vectors[0])
        blend = conditioner.hits.vectors(score, torch.tensor([[1.0, 0.0]]))[0]
        assert torch.allclose(blend, vectors)
        _, plain = build(dataclasses.replace(config, hit_width=0))
        plain.load_state_dict(conditioner.state_dict(), strict=False)
        stem, kit = torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)
        conditioner.eval()
        plain.eval()
        assert torch.equal(conditioner(score, stem, kit, 9), plain(score, stem, kit, 9))
        conditioner.hits.conv.weight.normal_()
        changed = conditioner(score, stem, kit, 9) != plain(score, stem, kit, 9)
        assert changed.shape == (1, 9, 16) and changed.any()
