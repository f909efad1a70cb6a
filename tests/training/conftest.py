"""Training tests run torch on one thread: two threads that must meet at every operation crawl
when another process holds the second core (minutes instead of seconds on a busy machine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_codec_dir(tmp_path_factory):
    """A codec checkpoint of a tiny untrained codec (50 frames/s, 2 codebooks of 16)."""
    pytest.importorskip("audiocraft")
    import torch

    from audiogen.codec.config import CodecConfig
    from audiogen.codec.model import build_model, save_checkpoint

    config = CodecConfig(n_filters=4, ratios=(4, 4, 4, 10), dimension=16, n_q=2, bins=16)
    folder = tmp_path_factory.mktemp("codec")
    torch.manual_seed(0)
    model = build_model(config)
    model.train()
    model(torch.randn(2, 1, 6400) * 0.1)  # initialise the codebooks
    save_checkpoint(model.eval(), config, folder, {"version": "codec@tiny"})
    return folder
