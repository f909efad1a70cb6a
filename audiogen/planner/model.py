"""The planner's network: a small decoder-only transformer over drum tokens, with a key/value
cache so that writing a bar costs one short step per token on a laptop CPU."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

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
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.dropout = cfg.dropout

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        # With a cache, the new queries sit at the end and may see every cached key.
        causal = cache is None or t > 1
        if cache is not None and t > 1:
            past = k.shape[2] - t
            mask = torch.ones(t, k.shape[2], dtype=torch.bool).tril(diagonal=past)
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            att = F.scaled_dot_product_attention(
                q, k, v, is_causal=causal and cache is None,
                dropout_p=self.dropout if self.training else 0.0,
            )  # fmt: skip
        x = x + F.dropout(
            self.proj(att.transpose(1, 2).reshape(b, t, d)), self.dropout, self.training
        )
        x = x + F.dropout(self.mlp(self.norm2(x)), self.dropout, self.training)
        return x, (k, v)


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
        self,
        ids: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Logits for every position of ``ids`` (batch, time) — or only the last one, which is
        all that sampling needs — and the updated cache."""
        start = 0 if cache is None else cache[0][0].shape[2]
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.tok(ids) + self.pos(positions)[None]
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if cache is None else cache[i])
            new_cache.append(kv)
        if last_only:
            x = x[:, -1:]
        return self.head(self.norm(x)), new_cache

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, _ = self(ids)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
        )

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))
