"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import pytest

from audiogen.files import atomic_path, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_leftover(tmp_path):
    target = tmp_path / "model.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_a_finished_write_replaces_the_file(tmp_path):
    target = tmp_path / "model.json"
    write_text_atomic(target, "old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target  # beside it: the rename is atomic
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]
