"""Fixtures for the data-layer tests: small image folders and npz files made on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def save_image(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Write a uint8 array (H, W) or (H, W, 3|4) as an image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


@pytest.fixture
def make_folder(tmp_path):
    """Factory: a class folder tree ``root/<class>/<i>.png`` with random pixels.

    ``make_folder(counts={"cat": 3, "dog": 2}, size=8, rgb=False, ext=".png")`` returns
    ``(root, {relative path: uint8 array})``.
    """

    def make(counts=None, size=8, rgb=False, ext=".png", name="imgs", seed=0):
        counts = counts or {"cat": 3, "dog": 2}
        rng = np.random.default_rng(seed)
        root = tmp_path / name
        root.mkdir()
        pixels = {}
        for cname, n in counts.items():
            for i in range(n):
                shape = (size, size, 3) if rgb else (size, size)
                arr = rng.integers(0, 256, shape, dtype=np.uint8)
                rel = f"{cname}/{i:03d}{ext}"
                save_image(root / rel, arr)
                pixels[rel] = arr
        return root, pixels

    return make


@pytest.fixture
def save_npz(tmp_path):
    """Factory: ``save_npz(name, **arrays)`` writes ``tmp_path/name`` with numpy.savez."""

    def save(name="d.npz", **arrays):
        path = tmp_path / name
        np.savez(path, **arrays)
        return path

    return save


@pytest.fixture(name="save_image")
def save_image_fixture():
    """The :func:`save_image` helper as a fixture (test modules cannot import conftest)."""
    return save_image
