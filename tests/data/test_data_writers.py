"""write_npz / write_png_folder round trips and class-name sanitising."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from synthaug.data import ImageDataset, load_dataset, make_toy_images, write_npz, write_png_folder
from synthaug.data.writers import safe_class_dirnames
from synthaug.exceptions import ConfigError


@pytest.fixture(params=[1, 3], ids=["gray", "rgb"])
def ds(request):
    base = make_toy_images(4, n_classes=3, image_size=8, n_channels=request.param, random_state=1)
    # Quantise to 8 bits so what goes to disk is exactly what comes back.
    return ImageDataset(
        images=np.rint(base.images * 255) / 255,
        labels=base.labels,
        class_names=base.class_names,
        is_synthetic=np.arange(len(base)) % 2 == 0,
        name="toy",
    )


def test_npz_round_trip(ds, tmp_path):
    path = write_npz(ds, tmp_path / "out" / "toy.npz")
    back = load_dataset(path)
    np.testing.assert_array_equal(back.images, ds.images)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.class_names == ds.class_names
    np.testing.assert_array_equal(back.is_synthetic, ds.is_synthetic)
    with np.load(path) as raw:
        assert raw["images"].dtype == np.uint8 and raw["labels"].dtype == np.int64
        assert raw["is_synthetic"].dtype == bool


def test_npz_keeps_splits_and_extra(toy_dataset, tmp_path):
    with_split = ImageDataset(toy_dataset.images, toy_dataset.labels, toy_dataset.class_names,
                              split=np.where(np.arange(len(toy_dataset)) < 30, "train", "test"))
    path = write_npz(with_split, tmp_path / "s.npz", extra={"test_images": np.zeros((2, 8, 8), np.uint8)})
    back = load_dataset(path)
    assert back.splits == ("train", "test") and len(back.get_split("test")) == 6
    with np.load(path) as raw:
        assert raw["test_images"].shape == (2, 8, 8)


@pytest.mark.parametrize("key, value, match", [
    ("images", np.zeros(2), r"extra array name 'images' is not allowed"),
    ("bad name", np.zeros(2), r"'bad name' is not allowed"),
    ("meta", np.array([{}], dtype=object), r"extra array 'meta' has dtype object"),
])
def test_npz_bad_extra(toy_dataset, tmp_path, key, value, match):
    with pytest.raises(ConfigError, match=match):
        write_npz(toy_dataset, tmp_path / "x.npz", extra={key: value})
    assert not (tmp_path / "x.npz").exists()


def test_png_folder_round_trip(ds, tmp_path):
    manifest = write_png_folder(ds, tmp_path / "pngs")
    assert manifest == tmp_path / "pngs" / "manifest.csv"
    assert (tmp_path / "pngs" / "class1" / "000004.png").is_file()
    rows = list(csv.DictReader(manifest.open()))
    assert rows[4] == {"path": "class1/000004.png", "label": "1", "class_name": "class1"}
    for back in (load_dataset(manifest), load_dataset(tmp_path / "pngs")):
        order = np.argsort([int(p.split("/")[-1][:6]) for p in back.provenance])
        np.testing.assert_array_equal(back.images[order], ds.images)
        np.testing.assert_array_equal(back.labels[order], ds.labels)
        assert back.class_names == ds.class_names


def test_png_folder_sanitises_class_names(tmp_path):
    names = ["a/b", "..", "", ".hidden", "A/B", "ok"]
    imgs = np.random.default_rng(0).random((12, 1, 4, 4)).astype(np.float32)
    ds = ImageDataset(imgs, np.arange(12) % 6, names)
    manifest = write_png_folder(ds, tmp_path / "p")
    folders = sorted(p.name for p in (tmp_path / "p").iterdir() if p.is_dir())
    assert folders == sorted(safe_class_dirnames(names))
    assert all(not f.startswith(".") and "/" not in f for f in folders)
    assert len(folders) == 6  # no two classes share a folder
    back = load_dataset(manifest)  # original names survive through the manifest
    assert back.class_names == tuple(names)


def test_safe_class_dirnames_rules():
    assert safe_class_dirnames(["cat", "dog"]) == ["cat", "dog"]
    assert safe_class_dirnames(["a/b", "..", "", ".x", "A/b"]) == ["a_b", "__", "class2", "_x", "A_b_4"]


def test_png_manifest_name_checked(toy_dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"manifest_name='../m.csv' must be a plain file name ending in .csv"):
        write_png_folder(toy_dataset, tmp_path, manifest_name="../m.csv")
