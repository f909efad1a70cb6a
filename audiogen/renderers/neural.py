"""The neural renderer: audiocraft's `LMModel` writes a stem's codec tokens from the score.

Conditioning is frame-aligned: a `ScoreConditioner` turns the stem's score features (see
`features.py`; with ``RendererConfig.envelope``, also the kit's envelope of the score: the same
score through the kit's one-shots, frame by frame), the stem and the kit into one vector per
sequence step, which audiocraft's `ConditionFuser` adds to the token embeddings ('sum').
Codebooks follow the delayed pattern.
All stems of a beat are one batch; long beats go in windows, each primed with the end of the
last, and the codec decodes the whole token sequence at once, so windows leave no seam.
A checkpoint's card may route some stem groups to another token model for the same tokens (its
``routes``: group -> a checkpoint folder beside the card), where that model renders them nearer
the kit; each model writes its own groups' rows and the codec decodes them all together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from audiogen.codec import _audiocraft
from audiogen.codec.model import Codec
from audiogen.errors import AudiogenError
from audiogen.files import atomic_path, write_text_atomic
from audiogen.instruments import GROUPS, INSTRUMENTS
from audiogen.renderers.features import (
    BANDS,
    ENVELOPE,
    FEATURES,
    band_frames,
    envelope_frames,
    hit_frames,
    on_grid,
    stem_frames,
)
from audiogen.score import DrumScore

if TYPE_CHECKING:
    import torch
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.transformer import StreamingTransformerLayer
    from torch import nn

    from audiogen.renderers.result import RenderResult

log = logging.getLogger(__name__)

WEIGHTS = "renderer.safetensors"
CARD = "renderer.json"
CONDITION = "score"
UNKNOWN = -1


# How a message about a missing or unusable checkpoint ends (`pipeline` renders with the
# sampler instead, and says why without it).
SAMPLER_HINT = "use --renderer sample"


@dataclass(frozen=True)
class RendererConfig:
    """The token model's shape and what it was trained with."""

    # Sized for the CPU: a 30 s six-stem beat is 1,508 steps of the whole batch (see BENCHMARKS).
    # A step is then mostly multiply-adds, half of them in the 8 output heads (8 x 1024 x dim):
    # d=160 does 24 % fewer than 192 (2.5 M weights, not 3.3 M) and keeps the 4 layers.
    dim: int = 160
    num_heads: int = 4
    num_layers: int = 4
    hidden_scale: int = 4
    window: int = 9  # score frames each step sees: 7 behind (the delayed codebooks), 1 ahead
    past_context: int | None = 250  # steps each step attends to (5 s): bounds the KV cache
    max_frames: int = 1500  # frames per window (30 s at 50 frames/s)
    prompt_frames: int = 250  # frames of the last window that prime the next
    kits: tuple[str, ...] = ()
    n_q: int = 8
    card: int = 1024
    # Classifier-free guidance: in training, each example's score features are dropped with
    # this probability (its stem and kit stay), so the model also learns what a stem of that
    # kit sounds like with no score; in rendering, the logits are pushed away from that guess
    # by ``guidance`` (1: the conditional logits as they are): one weight, or one per stem group
    # (each group's stem is a row of the batch, so each may take its own; BENCHMARKS.md).
    score_dropout: float = 0.0
    guidance: float | dict[str, float] = 1.0
    # ``guidance`` holds while each hit sounds: in the frame the score plays it and the
    # ``guidance_frames`` after it. Past those, where the stem rings out, ``guidance_between``
    # (None: the same weight) keeps the model from striking where nothing was played. A low
    # weight over the hits and a higher one between them keeps the hits' sound and their count
    # (BENCHMARKS.md, "Guidance in time").
    guidance_between: float | dict[str, float] | None = None
    guidance_frames: int = 9
    # How the checkpoint samples by default (chosen on the benchmark: colder draws leave less
    # noise in the fine codebooks, where guidance keeps the hits from being dropped).
    temperature: float = 1.0
    top_k: int = 50
    # Whether the model reads the kit's envelope of the score beside the score (`ENVELOPE`
    # columns after the score's): how loud the kit's one-shots are in each frame, so how long
    # each hit rings. It is left out with the score for guidance.
    envelope: bool = False
    # Whether it also reads the kit's spectral envelope of the score (`BANDS` columns after the
    # envelope's; only with ``envelope``): each frame's power in bands, so where a kick's pitch
    # sits and how it falls.
    bands: bool = False
    # In training, this share of the tokens the model reads back (not those it predicts) is
    # replaced by random ones, so that it learns to lean on the score and the envelope as well
    # as on its own past, as it must when it renders from tokens it drew itself.
    token_noise: float = 0.0
    # In training, the tokens of the frame each hit starts in and of the ``attack_frames`` after
    # it count this many times in the loss (1: as every other frame): where a hit is placed or
    # dropped is a few frames' tokens among the many that ring or are silent.
    attack_weight: float = 1.0
    attack_frames: int = 1
    # In training, the first codebook's tokens count this many times in the loss (1: as the
    # others'). It carries most of each frame's sound: a kick's pitch as it falls is decided
    # there, and the finer codebooks follow whatever it drew (BENCHMARKS.md).
    coarse_weight: float = 1.0
    # Hits the model reads and plays at one of this many even positions in their frame (0: where
    # the score has them). Trained on such material (`Plan.grid`), a ringing tone's tokens are
    # one path per position, not a spread over a continuum of starts (`features.on_grid`).
    grid: int = 0
    # Width of each hit's own vector (0: none). The score's columns give a hit's velocity and
    # where in its frame it starts as plain numbers, which the model reads linearly; but a
    # ringing tone's first tokens are a lookup on the kit, the instrument, that position (one of
    # ``grid``'s) and the velocity, nearly one token path per key (BENCHMARKS.md, "The hit as a
    # key"). A small network of the four, one-hot, makes each hit's vector for the model.
    hit_width: int = 0
    # With hit vectors: the width of a learned row per kit, instrument and grid position that the
    # network reads beside the one-hots (0: none). Each kit's hit shifted by a millisecond is
    # another token path, a conjunction the one-hots leave the network to form.
    hit_table: int = 0

    @property
    def width(self) -> int:
        """Columns of each frame's features."""
        return FEATURES + (ENVELOPE if self.envelope else 0) + (BANDS if self.bands else 0)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kits"] = list(self.kits)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RendererConfig:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["kits"] = tuple(values.get("kits", ()))
        for name in ("guidance", "guidance_between"):
            if isinstance(values.get(name), dict):
                unnamed = [g for g in GROUPS if g not in values[name]]
                if unnamed:
                    raise ValueError(f"{name} names no weight for {', '.join(unnamed)}")
        return cls(**values)


def guidance_of(guidance: float | Mapping[str, float], groups: Sequence[str]) -> list[float]:
    """Each of ``groups``' guidance weight: ``guidance``'s one weight, or its weight for it."""
    if isinstance(guidance, Mapping):
        return [float(guidance[group]) for group in groups]
    return [float(guidance)] * len(groups)


def guidance_in_time(features: np.ndarray, over_hits: Sequence[float],
                     between: Sequence[float], frames: int) -> np.ndarray:  # fmt: skip
    """Each row's guidance in each frame [B, T], from its score ``features`` [B, T, F]:
    ``over_hits``' weight in a frame that plays a hit and the ``frames`` after it, ``between``'s
    elsewhere."""
    sounding = hit_frames(features, frames)
    return np.where(sounding, np.array(over_hits)[:, None], np.array(between)[:, None])


def _modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    import torch

    return torch, _audiocraft.load("models.lm"), _audiocraft.load("modules.conditioners")


HIT_POSITIONS = 20  # where in its frame a hit starts, in this many bins (without a grid)
HIT_VELOCITIES = 16  # velocity bins of 8 (the raw velocity goes beside them)
HIT_HIDDEN = 128


def _hit_encoder(config: RendererConfig) -> Any:  # a module with `vectors` and `conv`
    """Each hit's vector from its instrument, position in the frame, velocity and the kit (one-hot,
    a blend's weights for the kit), summed per frame; ``conv`` spreads them over the steps that
    read them, as the score's own, and starts at zero (a model trained without it is unchanged).
    """
    import torch

    kits = max(1, len(config.kits))
    positions = config.grid or HIT_POSITIONS
    inputs = len(INSTRUMENTS) + positions + HIT_VELOCITIES + 1 + kits + config.hit_table
    rounded = torch.round if config.grid else torch.floor  # on a grid: its positions exactly

    class HitEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(inputs, HIT_HIDDEN), torch.nn.GELU(),
                torch.nn.Linear(HIT_HIDDEN, config.hit_width),
            )  # fmt: skip
            self.conv = _zero_conv(config.hit_width, config)
            if config.hit_table:
                self.table = torch.nn.Parameter(
                    torch.randn(kits, len(INSTRUMENTS), positions, config.hit_table) * 0.5
                )

        def vectors(self, score: torch.Tensor, kit: torch.Tensor) -> torch.Tensor:
            """[B, T, hit_width] from the score's columns [B, T, FEATURES] and the kit (indices
            [B] or weights [B, kits])."""
            columns = score.reshape(*score.shape[:2], len(INSTRUMENTS), 3).float()
            b, t, c = torch.nonzero(columns[..., 0] > 0, as_tuple=True)
            velocity, offset = columns[b, t, c, 1], columns[b, t, c, 2]
            one_hot = torch.nn.functional.one_hot
            weights = kit.float() if kit.is_floating_point() else one_hot(kit, kits).float()
            position = rounded(offset * positions).long().clamp(0, positions - 1)
            keyed = []
            if config.hit_table:  # each kit's row, mixed by the kit's weight (a blend's too)
                keyed = [torch.einsum("nk,knh->nh", weights[b], self.table[:, c, position])]
            rows = torch.cat([
                one_hot(c, len(INSTRUMENTS)), one_hot(position, positions),
                one_hot((velocity * HIT_VELOCITIES).long().clamp(0, HIT_VELOCITIES - 1),
                        HIT_VELOCITIES),
                velocity[:, None], weights[b], *keyed,
            ], dim=1).to(self.conv.weight.dtype)  # fmt: skip
            values = self.mlp(rows)
            out = values.new_zeros((*score.shape[:2], config.hit_width))
            return out.index_put_((b, t), values, accumulate=True)

    return HitEncoder()


def _zero_conv(columns: int, config: RendererConfig) -> torch.nn.Conv1d:
    """A convolution over ``columns`` feature columns whose output starts at zero."""
    import torch

    conv = torch.nn.Conv1d(columns, config.dim, kernel_size=config.window)
    with torch.no_grad():
        conv.weight.zero_()
        cast("torch.Tensor", conv.bias).zero_()
    return conv


def build(config: RendererConfig) -> tuple[LMModel, torch.nn.Module]:
    """A fresh (LMModel, ScoreConditioner) pair of ``config``'s shape."""
    import torch

    _, lm_module, conditioners = _modules()
    patterns = _audiocraft.load("modules.codebooks_patterns")

    class ScoreConditioner(torch.nn.Module):
        """Score features, stem and kit → one vector per step, for the fuser to add."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(FEATURES, config.dim, kernel_size=config.window)
            # each zero at first: a model trained without it starts unchanged
            if config.envelope:
                self.envelope = _zero_conv(ENVELOPE, config)
            if config.bands:
                self.bands = _zero_conv(BANDS, config)
            if config.hit_width:
                self.hits = _hit_encoder(config)
            self.stem = torch.nn.Embedding(len(GROUPS), config.dim)
            self.kit = torch.nn.Embedding(max(1, len(config.kits)), config.dim)

        def forward(
            self, features: torch.Tensor, stem: torch.Tensor, kit: torch.Tensor, steps: int,
            drop: torch.Tensor | None = None,
        ) -> torch.Tensor:  # fmt: skip
            """``drop`` [B] (bool): examples whose score is left out (guidance's other half);
            in training, each is left out with probability ``score_dropout``."""
            x = features.transpose(1, 2)  # [B, F, T]
            x = torch.nn.functional.pad(x, (config.window - 2, 1 + steps - x.shape[-1]))
            out = self.conv(x[:, :FEATURES])
            if config.envelope:
                out = out + self.envelope(x[:, FEATURES : FEATURES + ENVELOPE])
            if config.bands:
                first = FEATURES + ENVELOPE
                out = out + self.bands(x[:, first : first + BANDS])
            if config.hit_width:
                hits = self.hits.vectors(features[..., :FEATURES], kit).transpose(1, 2)
                pad = (config.window - 2, 1 + steps - hits.shape[-1])
                out = out + self.hits.conv(torch.nn.functional.pad(hits, pad))
            out = out.transpose(1, 2)  # [B, steps, dim]
            if drop is None and self.training and config.score_dropout > 0:
                drop = torch.rand(out.shape[0], device=out.device) < config.score_dropout
            if drop is not None:
                out = out * (~drop).to(out.dtype)[:, None, None]
            # a kit's index, or a blend: weights over the kits [B, kits] mixing their vectors
            vector = kit @ self.kit.weight if kit.is_floating_point() else self.kit(kit)
            return out + self.stem(stem)[:, None] + vector[:, None]

    lm = lm_module.LMModel(
        pattern_provider=patterns.DelayedPatternProvider(n_q=config.n_q),
        condition_provider=conditioners.ConditioningProvider({}),
        fuser=conditioners.ConditionFuser(
            {"sum": [CONDITION], "prepend": [], "cross": [], "input_interpolate": []}
        ),
        n_q=config.n_q, card=config.card, dim=config.dim, num_heads=config.num_heads,
        num_layers=config.num_layers, hidden_scale=config.hidden_scale, norm="layer_norm",
        past_context=config.past_context,
        norm_first=True, causal=True, positional_embedding="sin", custom=True,
        memory_efficient=False,
        cfg_dropout=0.0, cfg_coef=1.0,
    )  # fmt: skip
    return lm, ScoreConditioner()


def predict(
    lm: LMModel, conditioner: torch.nn.Module, codes: torch.Tensor, features: torch.Tensor,
    stem: torch.Tensor, kit: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Teacher-forced logits [B, K, T, card] and their validity mask [B, K, T] (training)."""
    pattern, sequence, conditions = _teacher_forced(lm, conditioner, codes, features, stem, kit)
    logits = lm(sequence, [], conditions)
    logits, _, mask = pattern.revert_pattern_logits(logits.permute(0, 3, 1, 2), float("nan"), True)
    return logits.permute(0, 2, 3, 1), mask[None].expand(codes.shape[0], -1, -1)


def _teacher_forced(
    lm: LMModel, conditioner: torch.nn.Module, codes: torch.Tensor, features: torch.Tensor,
    stem: torch.Tensor, kit: torch.Tensor,
) -> tuple[Any, torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:  # fmt: skip
    """The delayed pattern of ``codes``, their sequence in it [B, K, S] and the score's
    condition per step, as `LMModel` takes them."""
    torch = _modules()[0]
    pattern = lm.pattern_provider.get_pattern(codes.shape[-1])
    sequence, _, _ = pattern.build_pattern_sequence(codes.contiguous(), lm.special_token_id, True)
    condition = conditioner(features, stem, kit, sequence.shape[-1])
    ones = torch.ones(condition.shape[:2], device=condition.device)
    return pattern, sequence, {CONDITION: (condition, ones)}


def loss(
    lm: LMModel, conditioner: torch.nn.Module, codes: torch.Tensor, features: torch.Tensor,
    stem: torch.Tensor, kit: torch.Tensor, valid: torch.Tensor, *, token_noise: float = 0.0,
    attack_weight: float = 1.0, attack_frames: int = 1, coarse_weight: float = 1.0,
) -> torch.Tensor:  # fmt: skip
    """Teacher-forced cross-entropy over the real frames (the first ``valid[b]`` of each example):
    the mean of `predict`'s masked loss, computed where the model writes it. ``token_noise``:
    the share of the tokens read back that are replaced by random ones (the targets stay).
    ``attack_weight``: the weight of each codebook's tokens in the frames that start a hit and
    the ``attack_frames`` after them (a weighted mean; 1: the plain one). ``coarse_weight``: the
    weight of the first codebook's tokens, the others' 1 (weights multiply).

    The delayed pattern puts frame t of codebook k at sequence step t + k + 1 (step 0 is the
    special token), and the model's output at step s predicts step s + 1. So each codebook's
    logits are scored against the sequence shifted by one, one codebook at a time: neither the
    [B, K, S, card] stack nor its reverted copy is made, which were most of a step's memory
    traffic on a CPU.
    """
    torch = _modules()[0]
    K, T = codes.shape[1:]
    _, sequence, conditions = _teacher_forced(lm, conditioner, codes, features, stem, kit)
    read = sequence
    if token_noise > 0:
        noisy = torch.rand(sequence.shape, device=sequence.device) < token_noise
        noisy &= sequence != lm.special_token_id  # the pattern's empty steps stay as they are
        read = torch.where(noisy, torch.randint_like(sequence, lm.card), sequence)
    hidden = sum(lm.emb[k](read[:, k]) for k in range(K))
    hidden, cross = lm.fuser(hidden, conditions)
    hidden = lm.transformer(hidden, cross_attention_src=cross)
    if lm.out_norm:
        hidden = lm.out_norm(hidden)
    hidden = hidden[:, :-1]  # step s predicts step s + 1
    steps = torch.arange(hidden.shape[1], device=codes.device)
    weight = _attack_weights(features, attack_weight, attack_frames)  # [B, T]
    total = hidden.new_zeros(())
    count = hidden.new_zeros(())
    for k in range(K):
        frame = steps - k  # the frame codebook k's target at step s + 1 belongs to
        real = (frame[None] >= 0) & (frame[None] < torch.clamp(valid, max=T)[:, None])
        target = torch.where(real, sequence[:, k, 1:], -100)
        terms = torch.nn.functional.cross_entropy(
            lm.linears[k](hidden).transpose(1, 2), target, reduction="none"
        )  # [B, S]; 0 where the target is ignored
        factor = coarse_weight if k == 0 else 1.0
        if weight is None:
            total, count = total + factor * terms.sum(), count + factor * real.sum()
        else:
            scale = factor * weight[:, frame.clamp(0, T - 1)] * real
            total, count = total + (terms * scale).sum(), count + scale.sum()
    return total / count.clamp(min=1)


def _attack_weights(features: torch.Tensor, attack_weight: float,
                    attack_frames: int) -> torch.Tensor | None:  # fmt: skip
    """Each frame's weight in the loss [B, T]: ``attack_weight`` where a hit starts and in the
    ``attack_frames`` after, 1 elsewhere (None: 1 everywhere)."""
    if attack_weight == 1.0:
        return None
    attack = hit_frames(features, attack_frames)
    return 1.0 + (attack_weight - 1.0) * attack.to(features.dtype)


@dataclass
class NeuralRenderer:
    """A trained token model with the codec it writes for.

    Args:
        lm: audiocraft `LMModel`.
        conditioner: the `ScoreConditioner` trained with it.
        codec: the codec whose tokens it writes.
        config: shape and training kits.
        meta: the checkpoint's card (version, steps, metrics).
    """

    lm: LMModel
    conditioner: torch.nn.Module
    codec: Codec
    config: RendererConfig
    meta: dict[str, Any] = field(default_factory=dict)
    # group -> the model that writes that group's tokens instead (the card's ``routes``)
    routes: dict[str, NeuralRenderer] = field(default_factory=dict)
    # group -> (another model, its share while each hit sounds, its share between hits): both
    # write that group's tokens in step, each token drawn from their log-probabilities mixed by
    # share (the card's ``fuse``)
    fused: dict[str, tuple[NeuralRenderer, float, float]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "untrained"))

    def model_of(self, group: str) -> NeuralRenderer:
        """The model that writes ``group``'s tokens."""
        return self.routes.get(group, self)

    def versions(self) -> dict[str, str]:
        """What made each stem, as a manifest names it: ``renderer`` for the card's own model,
        ``renderer/<group>`` for each group routed to another, or fused ("renderer@24134 +
        renderer@64723 (0.7)": the second model's share)."""
        out = {"renderer": self.version}
        out |= {f"renderer/{g}": model.version for g, model in sorted(self.routes.items())}
        for group, (partner, over, between) in sorted(self.fused.items()):
            own = self.model_of(group).version
            share = f"{over:g}"
            if over != between:
                share += f" over the hits, {between:g} between"
            out[f"renderer/{group}"] = f"{own} + {partner.version} ({share})"
        return out

    @classmethod
    def load(cls, folder: Path | str, codec: Codec) -> NeuralRenderer:
        """Load ``renderer.safetensors`` and ``renderer.json`` from ``folder``."""
        from safetensors import SafetensorError

        folder = Path(folder)
        hint = f"; {SAMPLER_HINT}"
        try:
            meta, config, weights = read_checkpoint(folder)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            message = f"renderer checkpoint in {folder} cannot be read ({exc}){hint}"
            raise AudiogenError(message) from None
        if meta.get("codec") != codec.tokens_version:
            raise AudiogenError(
                f"renderer checkpoint in {folder} was trained for {meta.get('codec')}'s tokens, "
                f"not {codec.tokens_version}'s{hint}"
            )
        lm, conditioner = build(config)
        try:
            lm.load_state_dict(weights["lm"])
            conditioner.load_state_dict(weights["cond"])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            message = f"renderer checkpoint in {folder} does not fit ({first}){hint}"
            raise AudiogenError(message) from None
        model = cls(lm.eval(), conditioner.eval(), codec, config, meta)
        model.routes, model.fused = cls._load_beside(folder, meta, codec, config)
        return model

    @classmethod
    def _load_beside(
        cls, folder: Path, meta: Mapping[str, Any], codec: Codec, config: RendererConfig
    ) -> tuple[dict[str, NeuralRenderer], dict[str, tuple[NeuralRenderer, float, float]]]:
        """The models the card's ``routes`` (group -> folder beside the card) and ``fuse``
        (group -> {folder: its share}) name, each folder loaded once; each must know the card's
        kits and route nothing on. A share is between 0 and 1, or [share while each hit sounds,
        share between hits] (the frames `guidance_in_time` counts), each from 0 to 1."""
        hint = f"; {SAMPLER_HINT}"
        routes: Mapping[str, str] = meta.get("routes") or {}
        fuse: Mapping[str, Any] = meta.get("fuse") or {}
        for verb, groups in (("routes", routes), ("fuses", fuse)):
            unknown = sorted(set(groups) - set(GROUPS))
            if unknown:
                raise AudiogenError(f"renderer checkpoint in {folder} {verb} "
                                    f"{', '.join(unknown)}: the stem groups are "
                                    f"{', '.join(GROUPS)}{hint}")  # fmt: skip
        shares: dict[str, tuple[str, float, float]] = {}
        for group, partner in fuse.items():
            items = list(partner.items()) if isinstance(partner, Mapping) else []
            share = items[0][1] if len(items) == 1 else None
            pair: list[Any] = share if isinstance(share, list) else [share, share]
            numbers = len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)
            if not (numbers and 0 <= min(pair) < 1 and 0 < max(pair) <= 1):
                raise AudiogenError(f"renderer checkpoint in {folder} fuses {group} with "
                                    f"{partner}: name one model and its share, between 0 and "
                                    f"1; {SAMPLER_HINT}")  # fmt: skip
            shares[group] = (str(items[0][0]), float(pair[0]), float(pair[1]))
        loaded: dict[str, NeuralRenderer] = {}
        for name in sorted({*routes.values(), *(name for name, *_ in shares.values())}):
            model = cls.load(folder / name, codec)
            if model.routes or model.config.kits != config.kits:
                raise AudiogenError(f"renderer checkpoint in {folder / name} routes groups on or "
                                    f"knows other kits than {folder}'s{hint}")  # fmt: skip
            loaded[name] = model
        return ({group: loaded[name] for group, name in routes.items()},
                {g: (loaded[name], over, between) for g, (name, over, between) in shares.items()})

    def render(
        self, score: DrumScore, kit: str | Mapping[str, float], sample_rate: int = 48000,
        seed: int = 0, temperature: float | None = None, top_k: int | None = None,
        guidance: float | Mapping[str, float] | None = None, dynamics: bool = True,
        guidance_between: float | Mapping[str, float] | None = None,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """One mono float32 stem per group the score plays, at ``sample_rate``, through ``kit``:
        a kit's name, or a blend {kit: weight} (weights summing to 1) whose kits' conditioning
        vectors are mixed by weight. ``temperature``, ``top_k``, ``guidance`` (classifier-free
        guidance's weight while the hits sound, or {group: weight} for some groups) and
        ``guidance_between`` (its weight between them): None for the checkpoint's.
        ``dynamics``: the stems go through the score-keyed dynamics
        (`audiogen.renderers.dynamics`); False gives the model's own.

        Same score, kit and seed → the same audio.
        """
        from scipy.signal import resample_poly

        blend = {kit: 1.0} if isinstance(kit, str) else dict(kit)
        self._check_kits(blend)
        groups = score.groups
        if not groups:
            return {}
        codes = self.codes(score, blend, seed, temperature, top_k, guidance, guidance_between)
        length = round((score.duration_s + TAIL_S) * self.codec.sample_rate)
        audio = self.codec.decode(codes, length)
        ratio = Fraction(sample_rate, self.codec.sample_rate)
        stems = {
            g: resample_poly(audio[i], ratio.numerator, ratio.denominator).astype(np.float32)
            for i, g in enumerate(groups)
        }
        if dynamics:
            from audiogen.renderers.dynamics import follow_kit

            follow_kit(stems, score, blend, sample_rate, seed)
        return stems

    def codes(
        self, score: DrumScore, blend: Mapping[str, float], seed: int = 0,
        temperature: float | None = None, top_k: int | None = None,
        guidance: float | Mapping[str, float] | None = None,
        guidance_between: float | Mapping[str, float] | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The codes [groups, K, frames] the model writes for each group ``score`` plays (at
        least one), in `DrumScore.groups` order, through ``blend`` ({kit: weight}, kits it
        knows); ``render`` decodes them. Sampling settings: None for the checkpoint's. Groups
        routed to another model are its rows, drawn with the same seed."""
        torch = _modules()[0]
        settings = (blend, seed, temperature, top_k, guidance, guidance_between)
        by_model: dict[tuple, list[str]] = {}  # one entry, every group, where nothing is routed
        for group in score.groups:
            partner = self.fused.get(group)
            key = (id(self.model_of(group)), partner and (id(partner[0]), *partner[1:]))
            by_model.setdefault(key, []).append(group)
        rows: dict[str, Any] = {}
        for groups in by_model.values():
            model = self.model_of(groups[0])
            codes = model._codes(score, groups, *settings, partner=self.fused.get(groups[0]))
            rows |= dict(zip(groups, codes))
        return torch.stack([rows[group] for group in score.groups])

    def _codes(
        self, score: DrumScore, groups: Sequence[str], blend: Mapping[str, float], seed: int,
        temperature: float | None, top_k: int | None,
        guidance: float | Mapping[str, float] | None,
        guidance_between: float | Mapping[str, float] | None,
        partner: tuple[NeuralRenderer, float, float] | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """`codes` for ``groups`` (some of those ``score`` plays), by this model, or by this
        model and ``partner`` in step (a model, its share while each hit sounds and between)."""
        torch = _modules()[0]
        features = self._features(score, groups, blend, seed)
        stem = torch.tensor([GROUPS.index(g) for g in groups])
        if len(blend) == 1:
            kits = torch.full((len(groups),), self.config.kits.index(next(iter(blend))))
        else:
            weights = torch.zeros(len(self.config.kits))
            for name, weight in blend.items():
                weights[self.config.kits.index(name)] = weight
            kits = weights.expand(len(groups), -1)
        config = self.config
        over_hits = self._guidance(groups, guidance, config.guidance)
        own = config.guidance if config.guidance_between is None else config.guidance_between
        if guidance_between is None and config.guidance_between is None:
            between = over_hits  # one weight throughout
        else:
            between = self._guidance(groups, guidance_between, own)
        weights = guidance_in_time(features, over_hits, between, config.guidance_frames)
        with_partner = None
        if partner is not None:
            other, over, apart = partner
            shares = guidance_in_time(features, [over] * len(groups), [apart] * len(groups),
                                      config.guidance_frames)  # fmt: skip
            with_partner = (other, torch.from_numpy(other._features(score, groups, blend, seed)),
                            torch.from_numpy(shares).float())  # fmt: skip
        return self.generate(
            torch.from_numpy(features), stem, kits, seed,
            config.temperature if temperature is None else temperature,
            config.top_k if top_k is None else top_k, torch.from_numpy(weights).float(),
            with_partner,
        )  # fmt: skip

    def _features(self, score: DrumScore, groups: Sequence[str], blend: Mapping[str, float],
                  seed: int) -> np.ndarray:  # fmt: skip
        """What this model reads of ``groups`` [groups, frames, width]: the score's features,
        and the kit's envelope if it reads one; with a ``grid``, of the score on it."""
        rate = self.codec.config.frame_rate
        if self.config.grid:
            score = on_grid(score, rate, self.config.grid)
        frames = int(np.ceil((score.duration_s + TAIL_S) * rate))
        features = np.stack([stem_frames(score, g, rate, frames) for g in groups])
        if self.config.envelope:
            envelopes = self.envelopes(score, blend, frames, seed)
            envelopes = envelopes[[score.groups.index(g) for g in groups]]
            features = np.concatenate([features, envelopes], axis=-1)
        return features

    @staticmethod
    def _guidance(groups: Sequence[str], asked: float | Mapping[str, float] | None,
                  own: float | Mapping[str, float]) -> list[float]:  # fmt: skip
        """Each group's guidance: ``asked``'s (one weight, or {group: weight} for some groups),
        else ``own`` (the checkpoint's)."""
        if not isinstance(asked, Mapping):
            return guidance_of(own if asked is None else asked, groups)
        unknown = sorted(set(asked) - set(GROUPS))
        if unknown:
            raise AudiogenError(f"guidance for {', '.join(unknown)}: the stem groups are "
                                f"{', '.join(GROUPS)}")  # fmt: skip
        own_weights = guidance_of(own, groups)
        return [float(asked.get(group, weight)) for group, weight in zip(groups, own_weights)]

    def envelopes(self, score: DrumScore, blend: Mapping[str, float], frames: int,
                  seed: int = 0) -> np.ndarray:  # fmt: skip
        """The kit's envelope of each group ``score`` plays [groups, frames, ENVELOPE], and its
        spectral envelope after it (`BANDS` more columns) if the model reads one: the score
        through ``blend``'s one-shots (the sampler, at the codec's rate), each kit's mixed by
        weight (in dB, as the dynamics mix their keys)."""
        from audiogen.renderers.dynamics import kit_renders

        hop, rate = self.codec.config.hop_length, self.codec.sample_rate
        columns = ENVELOPE + (BANDS if self.config.bands else 0)
        out = np.zeros((len(score.groups), frames, columns), dtype=np.float32)
        renders = kit_renders(score, blend, rate, seed)
        total = sum(weight for weight, _ in renders)
        for weight, played in renders:
            for i, group in enumerate(score.groups):
                stem = played.get(group, np.zeros(0, dtype=np.float32))
                out[i, :, :ENVELOPE] += weight / total * envelope_frames(stem, hop, frames)
                if self.config.bands:
                    out[i, :, ENVELOPE:] += weight / total * band_frames(stem, hop, frames, rate)
        return out

    def _check_kits(self, blend: Mapping[str, float]) -> None:
        unknown = [name for name in blend if name not in self.config.kits]
        if unknown:
            raise AudiogenError(
                f"the neural renderer knows the kits {', '.join(self.config.kits)}, not "
                f"{', '.join(unknown)}; use one of them or --renderer sample"
            )

    def generate(self, features: torch.Tensor, stem: torch.Tensor, kit: torch.Tensor,
                 seed: int = 0, temperature: float = 1.0, top_k: int = 50,
                 guidance: float | Sequence[float] | torch.Tensor = 1.0,
                 partner: tuple[NeuralRenderer, torch.Tensor, torch.Tensor] | None = None,
                 ) -> torch.Tensor:  # fmt: skip
        """Codes [B, K, T] for score features [B, T, F], in windows primed by the last one;
        ``guidance``: one weight, one per row, or one per row and frame [B, T]. ``partner``:
        another model for the same tokens, its features [B, T, F'] and its share of each
        token's log-probabilities in each row and frame [B, T]."""
        torch = _modules()[0]
        B, T, _ = features.shape
        given = guidance if isinstance(guidance, torch.Tensor) else torch.tensor(guidance)
        weight = given.float().expand(B) if given.dim() == 0 else given.float()
        weight = weight.reshape(B, -1).expand(B, T)
        codes = torch.full((B, self.config.n_q, T), UNKNOWN, dtype=torch.long)
        generator = torch.Generator().manual_seed(seed)
        done = 0
        while done < T:
            lo = max(0, done - self.config.prompt_frames)
            hi = min(T, lo + self.config.max_frames)
            with_partner = partner and (partner[0], partner[1][:, lo:hi], partner[2][:, lo:hi])
            window = self._fill(codes[:, :, lo:hi].clone(), features[:, lo:hi], stem, kit,
                                done - lo, generator, temperature, top_k, weight[:, lo:hi],
                                with_partner)  # fmt: skip
            codes[:, :, lo:hi] = window
            done = hi
        return codes

    def _fill(self, codes: torch.Tensor, features: torch.Tensor, stem: torch.Tensor,
              kit: torch.Tensor, prompt: int, generator: torch.Generator, temperature: float,
              top_k: int, guidance: torch.Tensor,
              partner: tuple[NeuralRenderer, torch.Tensor, torch.Tensor] | None = None,
              ) -> torch.Tensor:  # fmt: skip
        """Fills the UNKNOWN codes of one window; ``guidance`` [B, T]: each row's weight in each
        frame; ``partner``: as `generate`'s, for this window."""
        torch = _modules()[0]
        lm = self.lm
        B, T = guidance.shape
        models = [(self, features)] + ([] if partner is None else [(partner[0], partner[1])])
        guided = bool((guidance != 1.0).any())  # the batch twice: with the score, then without
        # At each step of the delayed pattern, codebook k writes frame step - 1 - k.
        behind = 1 + torch.arange(lm.n_q)
        pattern = lm.pattern_provider.get_pattern(codes.shape[-1])
        sequence, _, _ = pattern.build_pattern_sequence(codes, lm.special_token_id)
        # Steps the pattern leaves empty already hold the special token; UNKNOWN marks the rest.
        steps = sequence.shape[-1]
        with torch.inference_mode(), _one_thread(torch):
            decoders = []
            for model, read in models:
                condition = model.conditioner(read, stem, kit, steps)
                if guided:
                    alone = torch.ones(B, dtype=torch.bool)
                    condition = torch.cat(
                        [condition, model.conditioner(read, stem, kit, steps, drop=alone)]
                    )
                decoders.append(_Decoder(model.lm, condition))
            start = pattern.get_first_step_with_timesteps(prompt) if prompt else 1
            assert start is not None  # the primer is shorter than the window: a step follows it
            previous = 0
            for offset in range(start, steps):
                tokens = sequence[..., previous:offset]
                frame = (offset - behind).clamp(0, T - 1)  # the frame each codebook writes
                weight = guidance[:, frame].unsqueeze(-1)
                odds = []
                for decoder in decoders:
                    logits = decoder(torch.cat([tokens, tokens]) if guided else tokens, previous)
                    if guided:
                        scored, unscored = logits[:B], logits[B:]
                        pushed = unscored + weight * (scored - unscored)
                        logits = torch.where(weight == 1.0, scored, pushed)  # 1: as if unguided
                    odds.append(logits)
                if partner is not None:
                    share = partner[2][:, frame].unsqueeze(-1)
                    own, theirs = (o.float().log_softmax(-1) for o in odds)
                    odds = [(1 - share) * own + share * theirs]
                token = _sample(odds[0], temperature, top_k, generator)
                current = sequence[..., offset]
                sequence[..., offset] = torch.where(current == UNKNOWN, token, current)
                previous = offset
        out, _, _ = pattern.revert_pattern_sequence(sequence, special_token=UNKNOWN)
        return out[..., : codes.shape[-1]]


class _Decoder:
    """`LMModel.forward` in eval mode (the training path's arithmetic and weights), one step at
    a time, for generation.

    audiocraft's streaming forward spent most of a step on Python and on rebuilding each layer's
    key/value cache (a concatenation) and mask. Here the condition and the positions are summed
    once per window, each layer's keys and values go into a preallocated ring of
    ``past_context + 1`` slots (attention does not depend on the order of its keys, so the ring
    is never shifted), and the eight output heads are one matrix product.
    """

    def __init__(self, lm: LMModel, condition: torch.Tensor) -> None:
        torch = _modules()[0]
        transformer = lm.transformer
        # What `build` made them (a ModuleList hands out plain modules).
        layers = cast("list[StreamingTransformerLayer]", list(transformer.layers))
        out_norm = cast("nn.LayerNorm", lm.out_norm)  # norm="layer_norm"
        embeddings = cast("list[nn.Embedding]", list(lm.emb))
        heads = cast("list[nn.Linear]", list(lm.linears))
        attention = layers[0].self_attn
        # The shape `build` makes; anything else would need its own arithmetic here.
        assert transformer.positional_embedding == "sin" and attention.custom
        assert attention.kv_repeat == 1 and not attention.qk_layer_norm and lm.out_norm is not None
        self.torch, self.F = torch, torch.nn.functional
        B, S, dim = condition.shape
        self.heads = attention.num_heads
        self.past = S if attention.past_context is None else attention.past_context
        self.slots = min(S, self.past + 1)
        sin = _audiocraft.load("modules.transformer").create_sin_embedding
        positions = sin(torch.arange(S).view(1, -1, 1), dim, max_period=transformer.max_period)
        self.inputs = condition + transformer.positional_scale * positions  # [B, S, dim]
        self.embedding = torch.cat([e.weight for e in embeddings])  # [K * (card + 1), dim]
        self.shift = torch.arange(lm.n_q) * (lm.card + 1)  # codebook k's rows in it
        self.out_norm = (out_norm.weight, out_norm.bias, out_norm.eps)
        self.heads_weight = torch.cat([h.weight for h in heads])  # [K * card, dim]
        self.heads_bias = torch.cat([h.bias for h in heads])[:, None]
        self.layers = [
            ((layer.norm1.weight, layer.norm1.bias, layer.norm1.eps),
             (layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias),
             (layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias),
             (layer.norm2.weight, layer.norm2.bias, layer.norm2.eps),
             (layer.linear1.weight, layer.linear1.bias), layer.activation,
             (layer.linear2.weight, layer.linear2.bias))
            for layer in layers
        ]  # fmt: skip
        shape = (len(self.layers), B, self.heads, self.slots, dim // self.heads)
        self.keys, self.values = torch.zeros(shape), torch.zeros(shape)

    def __call__(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """Logits [B, K, card] for the step after ``tokens`` [B, K, T], which are the steps from
        ``start`` on: the first call primes from step 0, each later call brings one step."""
        F = self.F
        B, K, T = tokens.shape
        if start == 0:
            x = F.embedding(tokens + self.shift[:, None], self.embedding).sum(1)  # [B, T, dim]
            x = x + self.inputs[:, :T]
        else:
            assert T == 1, "one step at a time after the primer"
            x = F.embedding(tokens[..., 0] + self.shift, self.embedding).sum(1)  # [B, dim]
            x = x + self.inputs[:, start]
        dim = x.shape[-1:]
        for layer, keys, values in zip(self.layers, self.keys, self.values):
            norm1, attention_in, attention_out, norm2, linear1, activation, linear2 = layer
            qkv = F.linear(F.layer_norm(x, dim, *norm1), *attention_in)
            x = x + F.linear(self._attend(qkv, keys, values, start), *attention_out)
            x = x + F.linear(activation(F.linear(F.layer_norm(x, dim, *norm2), *linear1)), *linear2)
        x = F.layer_norm(x if start else x[:, -1], dim, *self.out_norm)
        # Weight times the [dim, B] block of columns rather than rows times the transposed
        # weight: MKL handles the 6 MB of the 8 heads faster this way round (about 1 ms less a
        # step for 6 stems on the busy 2-core CPU).
        logits = self.torch.addmm(self.heads_bias, self.heads_weight, x.t())  # [K * card, B]
        return logits.t().reshape(B, K, -1)

    def _attend(
        self, qkv: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, start: int
    ) -> torch.Tensor:
        """Causal self-attention over the last ``past_context`` steps, as in training, for this
        call's queries; their keys and values go into the layer's ring first."""
        torch, F = self.torch, self.F
        if start:  # one step: [B, 3 * dim]
            B = qkv.shape[0]
            q, k, v = qkv.view(B, 3, self.heads, 1, -1).unbind(1)  # [B, H, 1, D]
            slot, used = start % self.slots, min(start + 1, self.slots)
            keys[:, :, slot : slot + 1] = k
            values[:, :, slot : slot + 1] = v
            mixed = F.scaled_dot_product_attention(q, keys[:, :, :used], values[:, :, :used])
            return mixed.view(B, -1)
        B, T, _ = qkv.shape  # the primer: [B, T, 3 * dim]
        q, k, v = qkv.view(B, T, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # [B, H, T, D]
        kept = torch.arange(max(0, T - self.slots), T)
        keys.index_copy_(2, kept % self.slots, k[:, :, kept])
        values.index_copy_(2, kept % self.slots, v[:, :, kept])
        delta = torch.arange(T).view(-1, 1) - torch.arange(T).view(1, -1)  # query - key
        mask = torch.zeros(T, T).masked_fill((delta < 0) | (delta > self.past), float("-inf"))
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return mixed.transpose(1, 2).reshape(B, T, -1)


@contextmanager
def _one_thread(torch: ModuleType) -> Iterator[None]:
    """One step is a few small matrix products: a second thread only adds synchronisation
    (measured on the 2-core CPU with other work running: 29 ms a step on one thread, 300 on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


TAIL_S = 1.0  # rendered past the last bar, for ringing cymbals (the sampler rings up to 3 s)


def _sample(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator
) -> torch.Tensor:
    """Tokens [B, K] from logits [B, K, card] with temperature and top-k, under ``generator``."""
    torch = _modules()[0]
    B, K, card = logits.shape
    logits = logits.reshape(B * K, card).float()
    index = None
    if 0 < top_k < card:  # softmax and temperature keep the order: take the k best first
        logits, index = logits.topk(top_k, dim=-1)
    probs = torch.softmax(logits / max(temperature, 1e-3), dim=-1)
    pick = torch.multinomial(probs, 1, generator=generator)
    return (pick if index is None else index.gather(-1, pick)).view(B, K)


def save_checkpoint(lm: LMModel, conditioner: torch.nn.Module, config: RendererConfig,
                    folder: Path, meta: dict[str, Any]) -> None:  # fmt: skip
    """Write both modules as one fp16 safetensors file and the JSON card, atomically."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {f"lm.{k}": v for k, v in lm.state_dict().items()}
    state |= {f"cond.{k}": v for k, v in conditioner.state_dict().items()}
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in state.items()}  # fmt: skip
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    card = dict(meta, config=config.to_dict())
    write_text_atomic(folder / CARD, json.dumps(card, indent=1) + "\n")


def read_checkpoint(folder: Path) -> tuple[dict[str, Any], RendererConfig, dict[str, dict]]:
    """The card, its config and the float32 weights of each module ({"lm": ..., "cond": ...})
    of the checkpoint in ``folder``; raises what reading them raises (OSError, ValueError,
    KeyError, TypeError, safetensors' SafetensorError)."""
    from safetensors.torch import load_file

    meta = json.loads((folder / CARD).read_text())
    config = RendererConfig.from_dict(meta["config"])
    state = load_file(str(folder / WEIGHTS))
    weights = {part: {k[len(part) + 1 :]: v.float() for k, v in state.items()
                      if k.startswith(part + ".")} for part in ("lm", "cond")}  # fmt: skip
    return meta, config, weights


@lru_cache(maxsize=1)
def load_shipped() -> NeuralRenderer:
    """The codec and renderer in ``checkpoints/`` (loaded once per process)."""
    from audiogen.paths import checkpoints_dir

    root = checkpoints_dir()
    if not (root / "renderer" / CARD).exists() or not (root / "codec").exists():
        raise AudiogenError(
            f"no trained neural renderer in {root} (codec/ and renderer/); {SAMPLER_HINT}"
        )
    return NeuralRenderer.load(root / "renderer", Codec.load(root / "codec"))


def render_neural(score: DrumScore, kit: Mapping[str, float], sample_rate: int, seed: int = 0,
                  ) -> RenderResult:  # fmt: skip
    """The shipped neural renderer's stems through ``kit`` ({kit: weight}, one kit or a blend),
    as every renderer hands them on (`RenderResult`)."""
    from audiogen.renderers.result import RenderResult

    model = load_shipped()
    stems = model.render(score, kit, sample_rate, seed)
    versions = {"codec": model.codec.version} | model.versions()
    return RenderResult(stems=stems, sample_rate=sample_rate, substitutions={}, dropped={},
                         files_used=(), models=versions)  # fmt: skip
