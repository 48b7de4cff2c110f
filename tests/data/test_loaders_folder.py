"""The class-folder loader and image-file decoding (``synthaug.data.loaders.folder``), with
every bad-input message pinned."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthaug.data import load_dataset, load_dataset_with_report
from synthaug.exceptions import InvalidDataError


def _to_u8(images):
    return np.rint(images * 255).astype(np.uint8)


def test_grayscale_folder(make_folder):
    root, pixels = make_folder({"cat": 3, "dog": 2})
    ds = load_dataset(root)
    assert ds.class_names == ("cat", "dog")
    assert ds.images.shape == (5, 1, 8, 8)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1]
    for img, prov in zip(_to_u8(ds.images), ds.provenance):
        np.testing.assert_array_equal(img[0], pixels[prov])


def test_rgb_folder_and_mixed_formats_upper_case(make_folder, save_image):
    root, pixels = make_folder({"a": 2, "b": 2}, rgb=True)
    save_image(root / "a" / "extra.BMP", np.full((8, 8, 3), 7, np.uint8))
    save_image(root / "b" / "x.TIFF", np.full((8, 8, 3), 9, np.uint8))
    ds = load_dataset(root)
    assert ds.images.shape == (6, 3, 8, 8)
    k = list(ds.provenance).index("a/000.png")
    np.testing.assert_array_equal(_to_u8(ds.images[k]).transpose(1, 2, 0), pixels["a/000.png"])
    assert "a/extra.BMP" in ds.provenance and "b/x.TIFF" in ds.provenance


def test_gray_and_rgb_mix_becomes_rgb(make_folder, save_image):
    root, _ = make_folder({"a": 2, "b": 2})
    save_image(root / "b" / "c.png", np.full((8, 8, 3), [255, 0, 0], np.uint8))
    ds = load_dataset(root)
    assert ds.n_channels == 3
    gray = _to_u8(ds.images[list(ds.provenance).index("a/000.png")])
    np.testing.assert_array_equal(gray[0], gray[1])  # grey replicated to all channels
    red = _to_u8(ds.images[list(ds.provenance).index("b/c.png")])
    assert red[0].min() == 255 and red[1].max() == 0


def test_jpeg_rgba_palette_and_16bit_are_converted(tmp_path, save_image):
    root = tmp_path / "modes"
    save_image(root / "a" / "1.jpg", np.full((6, 6), 128, np.uint8))
    save_image(root / "a" / "2.png", np.full((6, 6), 100, np.uint8))
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = 0  # fully transparent white -> black after compositing
    save_image(root / "b" / "rgba.png", rgba)
    Image.fromarray(np.full((6, 6), 65535, np.uint16)).save(root / "b" / "deep.png")
    Image.new("P", (6, 6), 3).save(root / "b" / "pal.png")
    ds = load_dataset(root)
    assert ds.n_channels == 3 and len(ds) == 5
    by = dict(zip(ds.provenance, _to_u8(ds.images)))
    assert by["b/rgba.png"].max() == 0
    assert by["b/deep.png"].min() == 255
    assert abs(int(by["a/1.jpg"][0, 0, 0]) - 128) <= 2


def test_hidden_and_non_image_files_ignored(make_folder):
    root, _ = make_folder({"a": 2, "b": 2})
    (root / "a" / "notes.txt").write_text("hello")
    (root / "a" / ".hidden.png").write_bytes(b"garbage")
    (root / ".cache").mkdir()
    (root / "README.md").write_text("x")
    ds = load_dataset(root)
    assert len(ds) == 4 and ds.class_names == ("a", "b")


def test_integer_class_folders_sorted_numerically(make_folder):
    root, _ = make_folder({str(k): 2 for k in (10, 2, 1)})
    assert load_dataset(root).class_names == ("1", "2", "10")


def test_image_size_resizes_mixed_sizes(make_folder, save_image):
    root, _ = make_folder({"a": 2, "b": 2}, size=8)
    save_image(root / "b" / "big.png", np.zeros((12, 10), np.uint8))
    ds = load_dataset(root, image_size=5)
    assert ds.images.shape == (5, 1, 5, 5)


def test_mixed_sizes_named_with_counts_and_example(make_folder, save_image):
    root, _ = make_folder({"cat": 3, "dog": 2}, size=8)
    save_image(root / "cat" / "x.png", np.zeros((4, 6), np.uint8))
    with pytest.raises(
        InvalidDataError,
        match=r"found 8x8 \(5 files\) and 6x4 \(1 file\), e.g. cat/x.png; pass --image-size N",
    ):
        load_dataset(root)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidDataError, match=r"empty: the folder is empty. Put each class's images"):
        load_dataset(tmp_path / "empty")


def test_folder_without_class_subfolders(tmp_path, save_image):
    save_image(tmp_path / "flat" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidDataError, match=r"no class sub-folders found \(1 image file directly inside\)"):
        load_dataset(tmp_path / "flat")


@pytest.mark.parametrize("n", [0, 1])
def test_class_folder_with_too_few_images(make_folder, n):
    root, _ = make_folder({"a": 3, "b": n} if n else {"a": 3})
    if n == 0:
        (root / "b").mkdir()
    with pytest.raises(InvalidDataError, match=rf"class folder .*b has {n} image files?; each class needs at least 2 images"):
        load_dataset(root)


@pytest.mark.parametrize("content", [b"not an image at all", None])
def test_bad_image_file_error_and_skip(make_folder, content):
    root, _ = make_folder({"a": 3, "b": 3})
    bad = root / "a" / "bad.png"
    if content is None:  # a truncated real PNG
        good = (root / "a" / "000.png").read_bytes()
        content = good[: len(good) // 2]
    bad.write_bytes(content)
    with pytest.raises(InvalidDataError, match=r"a/bad.png: cannot decode image \(.*\). Remove it or pass --skip-bad-images"):
        load_dataset(root)
    ds, skipped = load_dataset_with_report(root, skip_bad_images=True)
    assert len(ds) == 6 and "a/bad.png" not in ds.provenance
    assert skipped == [str(bad)]


def test_skipping_can_leave_a_class_too_small(make_folder):
    root, _ = make_folder({"a": 3, "b": 2})
    (root / "b" / "001.png").write_bytes(b"junk")
    with pytest.raises(InvalidDataError, match=r"class folder .*b has 1 readable image; each class needs at least 2"):
        load_dataset(root, skip_bad_images=True)


def test_folder_memory_estimate(make_folder):
    root, _ = make_folder({"a": 3, "b": 3}, size=16)
    with pytest.raises(InvalidDataError, match=r"6 images of 1x16x16 need about .* GiB as float32, more than the limit"):
        load_dataset(root, max_bytes=6 * 16 * 16 * 4 - 1)
    with pytest.raises(InvalidDataError, match=r"1x32x32"):
        load_dataset(root, image_size=32, max_bytes=6 * 16 * 16 * 4)
