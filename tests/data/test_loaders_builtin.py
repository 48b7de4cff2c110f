"""The built-in datasets (``synthaug.data.loaders.builtin``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synthaug.data import list_builtin_datasets, load_dataset
from synthaug.exceptions import ConfigError, InvalidDataError


def test_builtin_digits():
    ds = load_dataset("builtin:digits")
    assert ds.images.shape == (1797, 1, 8, 8)
    assert ds.class_names == tuple(str(k) for k in range(10))
    assert ds.split is None
    assert ds.images.max() == 1.0 and ds.images.min() == 0.0
    # 0..16 intensities land on round(v * 255 / 16) grey levels.
    levels = np.unique(np.rint(ds.images * 255).astype(int))
    assert set(levels) <= {round(v * 255 / 16) for v in range(17)}
    assert np.bincount(ds.labels).min() >= 170


def test_builtin_digits_resized():
    assert load_dataset("builtin:digits", image_size=16).images.shape == (1797, 1, 16, 16)


def test_list_builtin_datasets_loadable():
    names = list_builtin_datasets()
    assert "builtin:digits" in names and "1797" in names["builtin:digits"]
    for name, description in names.items():
        # Every description states what loading gives: "<N> <grayscale|RGB> <H>x<W> images, <K> classes".
        m = re.search(r"(\d+) (grayscale|RGB) (\d+)x(\d+) images, (\d+) classes", description)
        assert m, f"{name}: description {description!r} does not state the shape and classes"
        n, colour, h, w, k = m.groups()
        ds = load_dataset(name)
        assert ds.images.shape == (int(n), 1 if colour == "grayscale" else 3, int(h), int(w))
        assert ds.n_classes == int(k) and len(np.unique(ds.labels)) == int(k)
        assert ds.images.dtype == np.float32 and 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert ds.name == name.removeprefix("builtin:")
        assert ds.provenance[0] == f"{name}[0]"


def test_unknown_builtin_lists_available():
    with pytest.raises(ConfigError, match=r"unknown built-in dataset 'builtin:cifar'; available: builtin:digits"):
        load_dataset("builtin:cifar")


def test_builtin_memory_limit():
    with pytest.raises(InvalidDataError, match=r"builtin:digits: 1797 images of 1x8x8"):
        load_dataset("builtin:digits", max_bytes=1000)
