"""The planner's network: a small decoder-only transformer over drum tokens, with a key/value
cache so that writing a bar costs one short step per token on a laptop CPU."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PlannerConfig:
    vocab_size: int
    max_len: int = 640
    d_model: int = 160
    n_layers: int = 4
    n_heads: int = 4
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, cfg: PlannerConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        up, down = nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.Linear(4 * cfg.d_model, cfg.d_model)
        self.mlp = nn.Sequential(up, nn.GELU(), down)
        self._mlp = (up, down)  # a plain tuple: no second registration
        self.dropout = cfg.dropout

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        # Functional calls on the modules' weights: decoding runs this once per token, and
        # module dispatch would cost as much as the arithmetic at this size.
        b, t, d = x.shape
        h = self.n_heads
        y = F.layer_norm(x, (d,), self.norm1.weight, self.norm1.bias)
        qkv = F.linear(y, self.qkv.weight, self.qkv.bias).view(b, t, 3, h, d // h)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (q/k/v, batch, head, time, channel)
        q = qkv[0]
        if cache is None:
            att = F.scaled_dot_product_attention(
                q, qkv[1], qkv[2], is_causal=True, dropout_p=self.dropout if self.training else 0
            )
        else:
            k, v = cache.store(layer, qkv[1:])
            mask = None
            if t > 1:  # the new queries sit at the end and may see every cached key
                mask = torch.ones(t, k.shape[2], dtype=torch.bool).tril(k.shape[2] - t)
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = F.linear(att.transpose(1, 2).reshape(b, t, d), self.proj.weight, self.proj.bias)
        x = x + (F.dropout(y, self.dropout) if self.training else y)
        up, down = self._mlp
        y = F.layer_norm(x, (d,), self.norm2.weight, self.norm2.bias)
        y = F.linear(F.gelu(F.linear(y, up.weight, up.bias)), down.weight, down.bias)
        return x + (F.dropout(y, self.dropout) if self.training else y)


class KVCache:
    """Keys and values of every layer for a batch of sequences that share a length, allocated
    once for the whole context so that a decoding step writes in place instead of growing
    tensors."""

    def __init__(self, cfg: PlannerConfig, batch: int = 1) -> None:
        head = cfg.d_model // cfg.n_heads
        # Past ``length`` the memory is unset: `store` writes a position before it is read.
        self.kv = torch.empty(cfg.n_layers, 2, batch, cfg.n_heads, cfg.max_len, head)
        self.length = 0

    @property
    def batch(self) -> int:
        return self.kv.shape[2]

    def store(self, layer: int, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write a layer's new keys and values (stacked) after the cached ones; returns all the
        keys and all the values."""
        end = self.length + kv.shape[3]
        if end > self.kv.shape[4]:
            raise ValueError(f"the planner's context holds {self.kv.shape[4]} tokens")
        self.kv[layer, :, :, :, self.length : end] = kv
        return self.kv[layer, 0, :, :, :end], self.kv[layer, 1, :, :, :end]

    def rows(self, index: list[int]) -> KVCache:
        """A new cache holding the given rows, in that order (a row may be named again)."""
        out = KVCache.__new__(KVCache)
        out.kv = self.kv.new_empty(*self.kv.shape[:2], len(index), *self.kv.shape[3:])
        out.kv[:, :, :, :, : self.length] = self.kv[:, :, index, :, : self.length]
        out.length = self.length
        return out


class PlannerModel(nn.Module):
    """Decoder-only transformer: token + learned position embeddings, pre-norm blocks."""

    def __init__(self, cfg: PlannerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied: fewer weights, better small-data training
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False
    ) -> torch.Tensor:
        """Logits for every position of ``ids`` (batch, time) — or only the last one, which is
        all that sampling needs. With a cache, ``ids`` follow the cached tokens, and the cache
        takes them in."""
        start = 0 if cache is None else cache.length
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.tok(ids) + self.pos(positions)[None]
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += ids.shape[1]
        if last_only:
            x = x[:, -1:]
        return self.head(self.norm(x))

    def step(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits (batch, vocab) after one more token per row (``ids``: (batch,)), which the
        cache takes in: `forward`'s decoding step in the same operations, without the module
        calls and the time axis, which cost more than the arithmetic at this size."""
        at = cache.length
        if at >= cache.kv.shape[4]:
            raise ValueError(f"the planner's context holds {cache.kv.shape[4]} tokens")
        x = self.tok.weight[ids] + self.pos.weight[at]
        b, d = x.shape
        h = self.cfg.n_heads
        for layer, (norm1, qkv_w, proj, norm2, up, down) in enumerate(self._step_weights()):
            y = F.layer_norm(x, (d,), *norm1)
            qkv = F.linear(y, *qkv_w).view(b, 3, 1, h, d // h).transpose(2, 3)
            keys = cache.kv[layer]  # (key/value, batch, head, time, channel)
            keys[:, :, :, at : at + 1] = qkv[:, 1:].transpose(0, 1)
            att = F.scaled_dot_product_attention(
                qkv[:, 0], keys[0, :, :, : at + 1], keys[1, :, :, : at + 1]
            )
            x = x + F.linear(att.view(b, d), *proj)
            y = F.layer_norm(x, (d,), *norm2)
            x = x + F.linear(F.gelu(F.linear(y, *up)), *down)
        cache.length += 1
        return F.linear(F.layer_norm(x, (d,), self.norm.weight, self.norm.bias), self.head.weight)

    @property
    def layers(self) -> list[_Block]:
        """The blocks, as what they are (iterating a `ModuleList` gives plain modules)."""
        return cast("list[_Block]", list(self.blocks))

    def _step_weights(self) -> list[tuple]:
        """Each block's parameters as plain tuples, gathered once (the tensors themselves, so
        training in place or loading a state dict shows through)."""
        if getattr(self, "_steps", None) is None:
            self._steps = [
                tuple((m.weight, m.bias) for m in (
                    blk.norm1, blk.qkv, blk.proj, blk.norm2, *blk._mlp))
                for blk in self.layers
            ]  # fmt: skip
        return self._steps

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self(ids)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
        )

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))
