"""The .npz loader (``synthaug.data.loaders.npz``): layouts, dtypes, and every malformed-array
case with its message; and the real BreastMNIST file from ../shared/data."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from synthaug.data import load_dataset
from synthaug.exceptions import InvalidDataError

RNG = np.random.default_rng(0)


def _u8(*shape):
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def test_plain_grayscale_uint8_round_values(save_npz):
    imgs = _u8(6, 5, 7)
    path = save_npz(images=imgs, labels=np.array([0, 1, 0, 1, 2, 2]))
    ds = load_dataset(path)
    assert ds.images.shape == (6, 1, 5, 7)
    assert ds.images.dtype == np.float32
    np.testing.assert_array_equal(np.rint(ds.images[:, 0] * 255).astype(np.uint8), imgs)
    assert ds.class_names == ("0", "1", "2")
    assert ds.split is None
    assert ds.provenance[0] == "d.npz:images[0]"


def test_plain_rgb_and_trailing_channel(save_npz):
    rgb = _u8(4, 6, 6, 3)
    ds = load_dataset(save_npz(images=rgb, labels=np.array([[0], [1], [0], [1]])))
    assert ds.images.shape == (4, 3, 6, 6)
    np.testing.assert_array_equal(np.rint(ds.images[1, 2] * 255), rgb[1, :, :, 2])
    one = _u8(4, 6, 6, 1)
    ds1 = load_dataset(save_npz("one.npz", images=one, labels=np.array([0, 1, 0, 1])))
    assert ds1.images.shape == (4, 1, 6, 6)


def test_float_images_in_unit_range_used_directly(save_npz):
    imgs = RNG.random((4, 5, 5)).astype(np.float64)
    ds = load_dataset(save_npz(images=imgs, labels=np.array([0, 1, 1, 0])))
    np.testing.assert_allclose(ds.images[:, 0], imgs, atol=1e-7)


def test_whole_float_labels_ok_and_class_names_honoured(save_npz):
    path = save_npz(
        images=_u8(4, 4, 4),
        labels=np.array([0.0, 1.0, 1.0, 0.0]),
        class_names=np.array(["benign", "malignant"]),
        is_synthetic=np.array([False, False, True, True]),
    )
    ds = load_dataset(path)
    assert ds.class_names == ("benign", "malignant")
    assert ds.labels.tolist() == [0, 1, 1, 0]
    assert ds.is_synthetic.tolist() == [False, False, True, True]


def test_medmnist_layout_keeps_splits(save_npz):
    path = save_npz(
        train_images=_u8(6, 5, 5), train_labels=np.array([[0], [1], [0], [1], [0], [1]]),
        test_images=_u8(2, 5, 5), test_labels=np.array([[1], [0]]),
    )
    ds = load_dataset(path)
    assert ds.splits == ("train", "test")
    assert len(ds.get_split("train")) == 6 and len(ds.get_split("test")) == 2
    assert ds.provenance[-1] == "d.npz:test[1]"


def test_image_size_resizes_npz(save_npz):
    ds = load_dataset(save_npz(images=_u8(4, 10, 12), labels=np.array([0, 1, 0, 1])), image_size=6)
    assert ds.images.shape == (4, 1, 6, 6)
    flt = RNG.random((4, 10, 10, 3)).astype(np.float32)
    ds = load_dataset(save_npz("f.npz", images=flt, labels=np.array([0, 1, 0, 1])), image_size=4)
    assert ds.images.shape == (4, 3, 4, 4)
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0


def test_resize_of_constant_image_keeps_value(save_npz):
    imgs = np.full((2, 9, 9), 200, np.uint8)
    ds = load_dataset(save_npz(images=imgs, labels=np.array([0, 1])), image_size=5)
    np.testing.assert_allclose(ds.images, 200 / 255, atol=1e-6)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"imgs": _u8(3, 4, 4), "labels": np.array([0, 1, 0])},
         r"no image/label arrays found \(keys found: 'imgs', 'labels'\); expected 'train_images'"),
        ({"train_images": _u8(3, 4, 4), "train_label": np.array([0, 1, 0])},
         r"has 'train_images' but no 'train_labels' \(keys found: 'train_images', 'train_label'\)"),
        ({"train_images": _u8(3, 4, 4), "train_labels": np.array([0, 1, 0]), "val_labels": np.array([0])},
         r"has 'val_labels' but no 'val_images'"),
        ({"images": _u8(3, 4, 4), "labels": np.array([0, 1])},
         r"'labels' has shape \(2,\) but 'images' has 3 images"),
        ({"images": _u8(3, 4, 4), "labels": np.array([[0, 1], [1, 0], [0, 1]])},
         r"'labels' has shape \(3, 2\) .*; expected one label per image: \(3,\) or \(3, 1\)"),
        ({"images": np.array([[[0.5, np.nan]]] * 2), "labels": np.array([0, 1])},
         r"'images' contains NaN or inf values"),
        ({"images": np.full((2, 3, 3), np.inf), "labels": np.array([0, 1])},
         r"NaN or inf"),
        ({"images": np.full((2, 3, 3), 2.5), "labels": np.array([0, 1])},
         r"'images' values span \[2.5, 2.5\]; expected \[0, 1\]"),
        ({"images": np.full((2, 3, 3), 300, np.int32), "labels": np.array([0, 1])},
         r"integer images must be 0..255"),
        ({"images": np.zeros((2, 3, 3), bool), "labels": np.array([0, 1])},
         r"dtype bool; expected uint8 0..255 or float in \[0, 1\]"),
        ({"images": _u8(2, 3, 3), "labels": np.array([0.5, 1.0])},
         r"labels must be whole numbers \(class indices\), found \[0.5\]"),
        ({"images": _u8(2, 3, 3), "labels": np.array([np.nan, 1.0])},
         r"labels must be whole numbers"),
        ({"images": _u8(2, 3, 3), "labels": np.array(["a", "b"])},
         r"labels have dtype <U1; expected integer class indices"),
        ({"images": _u8(2, 3, 3), "labels": np.array([-1, 0])},
         r"labels span \[-1, 0\]; expected class indices"),
        ({"images": _u8(2, 3, 3), "labels": np.array([0, 10**9])},
         r"labels span \[0, 1e\+09\]"),
        ({"images": _u8(2, 3), "labels": np.array([0, 1])},
         r"'images' has shape \(2, 3\); expected \(N, H, W\) for grayscale or \(N, H, W, 3\) for RGB"),
        ({"images": _u8(2, 3, 3, 4), "labels": np.array([0, 1])},
         r"\(2, 3, 3, 4\); expected \(N, H, W\)"),
        ({"images": _u8(0, 3, 3), "labels": np.zeros(0, int)},
         r"holds no pixels"),
        ({"images": _u8(3, 3, 3), "labels": np.array([0, 2, 1]), "class_names": np.array(["a", "b"])},
         r"labels go up to 2 but 'class_names' has only 2 names"),
        ({"images": _u8(2, 3, 3), "labels": np.array([0, 1]), "class_names": np.array(["a", "a"])},
         r"'class_names' has duplicates \['a'\]"),
        ({"images": _u8(2, 3, 3), "labels": np.array([0, 1]), "class_names": np.array([1, 2])},
         r"'class_names' has dtype int64 .* expected a non-empty 1-D array of str"),
        ({"images": _u8(2, 3, 3), "labels": np.array([0, 1]), "is_synthetic": np.array([0, 2])},
         r"'is_synthetic' .* expected \(2,\) booleans"),
        ({"images": _u8(3, 3, 3), "labels": np.array([1, 1, 1])},
         r"all 3 images belong to one class \('1'\); synthaug needs at least 2 classes"),
        ({"train_images": _u8(2, 3, 3), "train_labels": np.array([0, 1]),
          "test_images": _u8(2, 4, 4), "test_labels": np.array([0, 1])},
         r"splits have different image shapes .*; pass --image-size N"),
        ({"train_images": _u8(2, 3, 3), "train_labels": np.array([0, 1]),
          "test_images": np.zeros((2, 3, 3, 3), np.uint8), "test_labels": np.array([0, 1])},
         r"splits have different image shapes .*; their channel counts differ \(gray vs colour\)"),
    ],
)
def test_bad_npz_contents(save_npz, arrays, match):
    path = save_npz(**arrays)
    with pytest.raises(InvalidDataError, match=match) as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def test_object_array_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, images=_u8(2, 3, 3), labels=np.array([0, 1]),
             class_names=np.array(["a", {"x": 1}], dtype=object))
    with pytest.raises(InvalidDataError, match=r"'class_names' holds Python objects, which synthaug does not load"):
        load_dataset(path)


def test_not_a_zip_and_truncated_npz(tmp_path, save_npz):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(InvalidDataError, match=r"junk.npz: not a readable .npz archive"):
        load_dataset(junk)
    good = save_npz(images=_u8(20, 8, 8), labels=np.arange(20) % 2)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:-300])
    with pytest.raises(InvalidDataError, match=r"cut.npz"):
        load_dataset(cut)


def test_corrupt_member_inside_valid_zip(tmp_path):
    path = tmp_path / "bad_member.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("images.npy", b"\x93NUMPY garbage")
        zf.writestr("labels.npy", b"nope")
    with pytest.raises(InvalidDataError, match=r"bad_member.npz: not a readable .npz archive"):
        load_dataset(path)


def test_memory_limit_checked_before_loading(save_npz):
    path = save_npz(images=_u8(10, 16, 16), labels=np.arange(10) % 2)
    with pytest.raises(InvalidDataError, match=r"10 images need about 0.00 GiB as float32, more than the limit"):
        load_dataset(path, max_bytes=1000)
    assert len(load_dataset(path, max_bytes=10 * 16 * 16 * 4)) == 10


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
