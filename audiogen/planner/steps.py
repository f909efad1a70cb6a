"""The planner's decoding steps: one more token for each row of a batch after a cached context.

Writing a bar takes a few dozen steps of a small network, so a step's fixed costs, not its
arithmetic, set the planner's speed. `OnnxSteps` runs the step under onnxruntime from a graph
exported beside the checkpoint's weights (``planner_step.onnx``), several times faster than
torch's step at this size on a CPU; `TorchSteps` is the step in torch, for a checkpoint without
the graph (a fresh training run's) or an install without onnxruntime.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from audiogen.files import atomic_path
from audiogen.planner.model import KVCache, PlannerModel

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

log = logging.getLogger(__name__)

STEP_ONNX = "planner_step.onnx"
GROWTH = 192  # tokens added to a step cache's room at a time (a dense bar is about 70)


class TorchSteps:
    """Decoding in torch on the `KVCache` the context was written into."""

    def __init__(self, model: PlannerModel, cache: KVCache) -> None:
        self.model, self.cache = model, cache

    def step(self, ids: list[int]) -> np.ndarray:
        """Logits (rows, vocab) after one more token per row."""
        return self.model.step(torch.tensor(ids), self.cache).numpy()

    def keep(self, rows: list[int]) -> None:
        """Go on with only these rows, in this order."""
        self.cache = self.cache.rows(rows)


class OnnxSteps:
    """Decoding under onnxruntime. Keys and values live time-major, (layer, key/value, time,
    row, head, channel), so that the past of every layer is a contiguous block that the session
    reads without a copy; the graph returns only the new step's keys and values."""

    def __init__(self, session: InferenceSession, cache: KVCache) -> None:
        self.session = session
        self.max_len = cache.kv.shape[4]
        self.length = cache.length
        kv = cache.kv[:, :, :, :, : self.length].numpy()  # (layer, k/v, row, head, time, ch)
        layers, _, rows, heads, _, channels = kv.shape
        room = min(self.max_len, self.length + GROWTH)
        self.kv = np.empty((layers, 2, room, rows, heads, channels), np.float32)
        self.kv[:, :, : self.length] = kv.transpose(0, 1, 4, 2, 3, 5)
        self._names = [i.name for i in session.get_inputs()][2:]

    def step(self, ids: list[int]) -> np.ndarray:
        at = self.length
        if at >= self.max_len:
            raise ValueError(f"the planner's context holds {self.max_len} tokens")
        if at == self.kv.shape[2]:
            room = min(self.max_len, at + GROWTH)
            grown = np.empty((*self.kv.shape[:2], room, *self.kv.shape[3:]), np.float32)
            grown[:, :, :at] = self.kv
            self.kv = grown
        feeds: dict[str, np.ndarray] = {
            "ids": np.asarray(ids, np.int64),
            "at": np.array([at], np.int64),
        }
        layers = self.kv.shape[0]
        for layer in range(layers):
            feeds[self._names[2 * layer]] = self.kv[layer, 0, :at]
            feeds[self._names[2 * layer + 1]] = self.kv[layer, 1, :at]
        logits, new = self.session.run(None, feeds)
        self.kv[:, :, at] = new
        self.length = at + 1
        return logits

    def keep(self, rows: list[int]) -> None:
        self.kv = self.kv[:, :, :, rows]


class Steps:
    """What a loaded planner decodes with: onnxruntime when the checkpoint has its step graph
    and onnxruntime is installed, torch otherwise (``backend`` says which)."""

    def __init__(self, model: PlannerModel, folder: Path) -> None:
        self.model = model
        self.session = _session(folder / STEP_ONNX)
        if self.session is not None and not self._agrees():
            log.warning("%s does not match the weights beside it (re-export it with "
                        "pipelines/train_planner.py --export-only): decoding in torch",
                        folder / STEP_ONNX)  # fmt: skip
            self.session = None
        self.backend = "onnxruntime" if self.session is not None else "torch"

    def _agrees(self) -> bool:
        """A graph left from other weights would write other beats: one step of both, on a
        short context, must give the same logits."""
        ids = torch.arange(5) % self.model.cfg.vocab_size
        with torch.inference_mode():
            cache = KVCache(self.model.cfg)
            self.model(ids[None, :4], cache)
            onnx = OnnxSteps(self.session, cache).step([int(ids[4])])
            reference = self.model(ids[None], last_only=True)[0, -1].numpy()
        return bool(np.abs(onnx[0] - reference).max() < 1e-3)

    def start(self, cache: KVCache) -> TorchSteps | OnnxSteps:
        """Decoding that goes on from ``cache`` (which it leaves as it is)."""
        if self.session is None:
            return TorchSteps(self.model, cache)
        return OnnxSteps(self.session, cache)


def _session(path: Path) -> InferenceSession | None:
    if not path.is_file():
        return None
    try:
        import onnxruntime
    except ImportError:
        log.info("onnxruntime is not installed: the planner decodes in torch")
        return None
    options = onnxruntime.SessionOptions()
    # One row of tokens at a time through a small network: a single thread, like torch's step.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _StepGraph(nn.Module):
    """`PlannerModel.step` written for export: the past keys and values come in time-major,
    one input per layer, and the new step's own key and value are attended beside them."""

    def __init__(self, model: PlannerModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, ids: torch.Tensor, at: torch.Tensor, *past: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        x = m.tok(ids) + m.pos(at)
        b, d = x.shape
        h = m.cfg.n_heads
        new = []
        for layer, blk in enumerate(m.layers):
            y = F.layer_norm(x, (d,), blk.norm1.weight, blk.norm1.bias)
            q, k, v = blk.qkv(y).view(b, 3, h, d // h).unbind(1)  # (row, head, channel)
            keys = torch.cat([past[2 * layer], k[None]]).permute(1, 2, 0, 3)
            values = torch.cat([past[2 * layer + 1], v[None]]).permute(1, 2, 0, 3)
            att = F.scaled_dot_product_attention(q[:, :, None], keys, values)
            x = x + blk.proj(att.reshape(b, d))
            y = F.layer_norm(x, (d,), blk.norm2.weight, blk.norm2.bias)
            x = x + blk.mlp(y)
            new.append(torch.stack([k, v]))
        return m.head(m.norm(x)), torch.stack(new)


def export_step(model: PlannerModel, folder: Path) -> Path:
    """Write the step graph beside a checkpoint's weights (needs ``onnx`` and ``onnxscript``;
    the product only reads it). Takes about 15 s."""
    cfg = model.cfg
    graph = _StepGraph(model).eval()
    rows, past_len = 2, 3
    head = cfg.d_model // cfg.n_heads
    past = [torch.zeros(past_len, rows, cfg.n_heads, head) for _ in range(2 * cfg.n_layers)]
    names = [f"{kind}{layer}" for layer in range(cfg.n_layers) for kind in ("keys", "values")]
    batch = torch.export.Dim("rows", min=1, max=256)
    time = torch.export.Dim("time", min=1, max=cfg.max_len - 1)
    with warnings.catch_warnings(), torch.no_grad(), atomic_path(folder / STEP_ONNX) as tmp:
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph, (torch.zeros(rows, dtype=torch.long), torch.tensor([past_len]), *past),
            input_names=["ids", "at", *names], output_names=["logits", "new"],
            dynamic_shapes=({0: batch}, None, ({0: time, 1: batch},) * len(past)),
            dynamo=True, verbose=False,
        )  # fmt: skip
        assert program is not None  # the dynamo exporter always returns its program
        program.save(str(tmp))
    return folder / STEP_ONNX
