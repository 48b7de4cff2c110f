"""Atomic writes: the old content survives every failure, temporaries are cleaned up."""

from __future__ import annotations

import os

import numpy as np
import pytest

from synthaug.data import atomic_path, atomic_write_bytes, atomic_write_text, make_toy_images, write_npz
from synthaug.exceptions import OutputError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_writes_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "f.txt"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _leftovers(target.parent) == []


def test_failed_rename_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match=r"f.txt: cannot write the file \(No space left on device\)"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_failed_write_inside_block_keeps_old_content(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"f.bin: cannot write the file"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise PermissionError(13, "Permission denied")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_other_exception_propagates_unchanged(tmp_path):
    target = tmp_path / "f.bin"
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"x")
            raise KeyError("boom")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_unwritable_folder_and_directory_target(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"cannot create a file in its folder"):
        atomic_write_text(tmp_path / "file" / "child.txt", "y")  # parent is a file
    (tmp_path / "dir").mkdir()
    with pytest.raises(OutputError, match=r"dir: is a folder, cannot write a file there"):
        atomic_write_text(tmp_path / "dir", "y")


def test_write_npz_failure_keeps_old_file(tmp_path, monkeypatch):
    ds = make_toy_images(3, random_state=0)
    path = write_npz(ds, tmp_path / "d.npz")
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez_compressed", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(OutputError, match=r"d.npz: cannot write the file \(disk full\)"):
        write_npz(make_toy_images(5, random_state=1), path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
