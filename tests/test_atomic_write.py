"""paths.atomic_write, the one atomic-write helper (checkpoints, run owners, classifiers and the
checkpoints a Ray worker brings back all write through it)."""

from __future__ import annotations

import pytest

from playground.paths import atomic_write


def test_bytes_replace_the_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    assert atomic_write(target, b"new") == target
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_writer_that_fails_leaves_the_old_file_and_no_leftovers(tmp_path):
    target = tmp_path / "weights.safetensors"
    target.write_bytes(b"complete")

    def crash(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, crash)
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.safetensors"]


def test_a_writer_gets_a_temporary_name_beside_the_target(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        tmp.write_text("x")

    atomic_write(tmp_path / "b.bin", write)
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".b.bin.")
    assert seen[0].name.endswith(".tmp") and not seen[0].exists()
    assert (tmp_path / "b.bin").read_text() == "x"
