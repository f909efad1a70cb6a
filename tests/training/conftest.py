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
