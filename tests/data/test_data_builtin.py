"""The built-in digits and the real BreastMNIST file from ../shared/data."""

from __future__ import annotations

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


def test_unknown_builtin_lists_available():
    with pytest.raises(ConfigError, match=r"unknown built-in dataset 'builtin:cifar'; available: builtin:digits"):
        load_dataset("builtin:cifar")


def test_builtin_memory_limit():
    with pytest.raises(InvalidDataError, match=r"builtin:digits: 1797 images of 1x8x8"):
        load_dataset("builtin:digits", max_bytes=1000)


def test_breastmnist_real_file(shared_data):
    ds = load_dataset(shared_data / "breastmnist.npz")
    assert ds.splits == ("train", "val", "test")
    assert [len(ds.get_split(s)) for s in ds.splits] == [546, 78, 156]
    assert ds.image_shape == (1, 28, 28)
    assert ds.class_names == ("0", "1")
    assert set(np.unique(ds.labels)) == {0, 1}
    assert not ds.is_synthetic.any()
    raw = np.load(shared_data / "breastmnist.npz")
    np.testing.assert_array_equal(np.rint(ds.get_split("test").images[:, 0] * 255), raw["test_images"])
    np.testing.assert_array_equal(ds.get_split("val").labels, raw["val_labels"][:, 0])
