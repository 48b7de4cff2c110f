"""``load_dataset``'s dispatch and shared guards (``synthaug.data.loaders``): source kinds,
options, and the two-class minimum."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.data import load_dataset, load_dataset_with_report
from synthaug.exceptions import ConfigError, InvalidDataError


def _u8(*shape):
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def test_nonexistent_path(tmp_path):
    with pytest.raises(InvalidDataError, match=r"nope: no such file or folder. Pass a .npz file"):
        load_dataset(tmp_path / "nope")


def test_unknown_file_kind(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("x")
    with pytest.raises(InvalidDataError, match=r"data.txt: cannot tell what kind of dataset .* builtin:digits"):
        load_dataset(f)


def test_single_class_overall(make_folder):
    root, _ = make_folder({"only": 3})
    with pytest.raises(InvalidDataError, match=r"belong to one class \('only'\); synthaug needs at least 2 classes"):
        load_dataset(root)


@pytest.mark.parametrize("value", [0, -3, 2.5, "32", True])
def test_bad_image_size_is_config_error(save_npz, value):
    path = save_npz(images=_u8(2, 4, 4), labels=np.array([0, 1]))
    with pytest.raises(ConfigError, match=r"--image-size"):
        load_dataset(path, image_size=value)


def test_source_of_the_wrong_type_is_config_error():
    with pytest.raises(ConfigError, match=r"source must be a path or 'builtin:<name>', got int 3"):
        load_dataset(3)


def test_empty_path_string():
    with pytest.raises(InvalidDataError, match=r"the data path is empty; pass a .npz file"):
        load_dataset("  ")


@pytest.mark.parametrize("value", [0, -1, "big", True])
def test_bad_max_bytes_is_config_error(save_npz, value):
    path = save_npz(images=_u8(2, 4, 4), labels=np.array([0, 1]))
    with pytest.raises(ConfigError, match=r"max_bytes must be"):
        load_dataset(path, max_bytes=value)


def test_with_report_takes_the_same_options(save_npz):
    path = save_npz(images=_u8(4, 6, 6), labels=np.array([0, 1, 0, 1]))
    ds, skipped = load_dataset_with_report(path, image_size=3, max_bytes=10**6)
    assert ds.images.shape == (4, 1, 3, 3) and skipped == []
    np.testing.assert_array_equal(ds.images, load_dataset(path, image_size=3).images)
    with pytest.raises(ConfigError, match=r"--image-size must be between 1 and 4096, got 0"):
        load_dataset_with_report(path, image_size=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['imag_size'\]"):
        load_dataset_with_report(path, imag_size=3)


def test_unforeseen_reader_error_is_wrapped(monkeypatch, save_npz):
    from synthaug.data.loaders import npz

    def boom(*args, **kwargs):
        raise ZeroDivisionError("surprise")

    monkeypatch.setattr(npz, "_npz_headers", boom)
    path = save_npz(images=_u8(2, 4, 4), labels=np.array([0, 1]))
    with pytest.raises(InvalidDataError, match=r"could not read the dataset \(ZeroDivisionError: surprise\)"):
        load_dataset(path)
