"""The planner's decoding steps: torch's and onnxruntime's give the logits of a full pass, so a
beat does not depend on which one wrote it; the shipped step graph is the shipped weights'."""

import numpy as np
import pytest
import torch

from audiogen.paths import checkpoints_dir
from audiogen.planner import steps as steps_module
from audiogen.planner.checkpoint import load_checkpoint
from audiogen.planner.model import KVCache, PlannerConfig, PlannerModel
from audiogen.planner.steps import STEP_ONNX, OnnxSteps, Steps, TorchSteps, export_step


def _decode(model: PlannerModel, steps, ids: torch.Tensor, start: int) -> list[np.ndarray]:
    """Logits of each step from ``start`` on; after four steps rows 2 and 0 go on, in that
    order (a finished bar leaving the batch)."""
    out, rows = [], list(range(ids.shape[0]))
    for i in range(start, ids.shape[1]):
        if i == start + 4:
            rows = [2, 0]
            steps.keep(rows)
        out.append(steps.step(ids[rows, i].tolist()))
    return out


def _full(model: PlannerModel, ids: torch.Tensor, start: int) -> list[np.ndarray]:
    with torch.inference_mode():
        logits = model(ids).numpy()
    return [logits[[0, 1, 2] if i < start + 4 else [2, 0], i] for i in range(start, ids.shape[1])]


def _context(model: PlannerModel, ids: torch.Tensor, start: int) -> KVCache:
    cache = KVCache(model.cfg, ids.shape[0])
    with torch.inference_mode():
        model(ids[:, :start], cache)
    return cache


def test_torch_step_is_the_forward_pass_exactly():
    torch.manual_seed(0)
    cfg = PlannerConfig(vocab_size=50, max_len=64, d_model=32, n_layers=2, n_heads=2)
    model = PlannerModel(cfg).eval()
    ids = torch.randint(0, 50, (3, 30))
    with torch.inference_mode():
        got = _decode(model, TorchSteps(model, _context(model, ids, 20)), ids, 20)
        a, b = _context(model, ids, 20), _context(model, ids, 20)
        stepped = model.step(ids[:, 20], a)
        forward = model(ids[:, 20:21], b, last_only=True)[:, -1]
    assert all(np.allclose(g, f, atol=1e-5) for g, f in zip(got, _full(model, ids, 20)))
    assert torch.equal(stepped, forward)  # to the bit
    assert a.length == b.length == 21
    assert torch.equal(a.kv[..., :21, :], b.kv[..., :21, :])
    a.length = cfg.max_len
    with pytest.raises(ValueError, match="holds 64 tokens"):
        model.step(ids[:, 0], a)


def test_the_shipped_step_graph_decodes_the_shipped_weights():
    folder = checkpoints_dir() / "planner"
    model = load_checkpoint(folder)[0]
    steps = Steps(model, folder)
    assert steps.backend == "onnxruntime"  # the speed figures in BENCHMARKS.md are this path
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.cfg.vocab_size, (3, 90), generator=gen)
    full = _full(model, ids, 60)
    with torch.inference_mode():
        got = _decode(model, steps.start(_context(model, ids, 60)), ids, 60)
    for g, f in zip(got, full):
        assert np.abs(g - f).max() < 1e-4
        assert (g.argmax(1) == f.argmax(1)).all()


def test_an_exported_step_graph_grows_its_room_and_matches_torch(tmp_path, monkeypatch):
    pytest.importorskip("onnxscript")
    torch.manual_seed(3)
    cfg = PlannerConfig(vocab_size=40, max_len=48, d_model=32, n_layers=2, n_heads=2)
    model = PlannerModel(cfg).eval()
    assert Steps(model, tmp_path).backend == "torch"  # no graph yet: torch decodes
    export_step(model, tmp_path)
    assert (tmp_path / STEP_ONNX).is_file() and not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(steps_module, "GROWTH", 5)  # room runs out every five steps
    ids = torch.randint(0, 40, (3, 47))
    steps = Steps(model, tmp_path).start(_context(model, ids, 10))
    assert isinstance(steps, OnnxSteps)
    for g, f in zip(_decode(model, steps, ids, 10), _full(model, ids, 10)):
        assert np.abs(g - f).max() < 1e-4
    steps.step([0, 0])  # the last position there is
    with pytest.raises(ValueError, match="holds 48 tokens"):
        steps.step([0, 0])


def test_a_step_graph_left_from_other_weights_is_not_used(tmp_path):
    pytest.importorskip("onnxscript")
    torch.manual_seed(4)
    cfg = PlannerConfig(vocab_size=40, max_len=48, d_model=32, n_layers=2, n_heads=2)
    model = PlannerModel(cfg).eval()
    export_step(PlannerModel(cfg).eval(), tmp_path)  # another model's weights
    assert Steps(model, tmp_path).backend == "torch"
    export_step(model, tmp_path)
    assert Steps(model, tmp_path).backend == "onnxruntime"
