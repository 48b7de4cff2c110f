"""``ImageDataset`` validates itself on construction through the shared checks
(``synthaug.data.validation``), naming the dataset in every message."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.data import ImageDataset
from synthaug.exceptions import InvalidDataError

IMAGES = np.zeros((4, 1, 3, 3), np.float32)
LABELS = np.array([0, 1, 0, 1])


def test_valid_dataset_is_read_only_and_typed():
    ds = ImageDataset(IMAGES.astype(np.float64), LABELS[:, None].astype(np.uint8), ["a", "b"], name="toy")
    assert ds.images.dtype == np.float32 and ds.labels.dtype == np.int64
    assert ds.labels.tolist() == [0, 1, 0, 1]
    assert not ds.images.flags.writeable and not ds.labels.flags.writeable
    assert ImageDataset(IMAGES, LABELS.astype(bool), ["a", "b"]).labels.dtype == np.int64


@pytest.mark.parametrize(
    "images, labels, names, match",
    [
        (IMAGES[:, 0], LABELS, ["a", "b"],
         r"toy: images has shape \(4, 3, 3\); ImageDataset expects images of shape \(N, C, H, W\)"),
        (np.zeros((4, 2, 3, 3), np.float32), LABELS, ["a", "b"], r"toy: images has shape .*: 2 channels"),
        (IMAGES.astype(np.uint8), LABELS, ["a", "b"], r"toy: images has dtype uint8; expected float"),
        (IMAGES[:0], LABELS[:0], ["a", "b"], r"toy: images has no images"),
        (IMAGES + 2, LABELS, ["a", "b"], r"toy: images values span \[2, 2\]; expected \[0, 1\]"),
        (IMAGES * np.nan, LABELS, ["a", "b"], r"toy: images contains NaN or inf values"),
        (IMAGES, LABELS[:3], ["a", "b"], r"toy: labels has shape \(3,\) but images has 4 images"),
        (IMAGES, LABELS.astype(str), ["a", "b"], r"toy: labels: labels have dtype <U\d+; expected integer"),
        (IMAGES, LABELS + 0.5, ["a", "b"], r"toy: labels: labels must be whole numbers"),
        (IMAGES, LABELS - 1, ["a", "b"], r"toy: labels: labels span \[-1, 0\]"),
        (IMAGES, LABELS + 1, ["a", "b"], r"toy: labels span \[1, 2\] but there are 2 classes"),
        (IMAGES, LABELS, [], r"toy: class_names is empty"),
        (IMAGES, LABELS, ["a", "a"], r"toy: class_names has duplicates"),
    ],
)
def test_invalid_dataset_message(images, labels, names, match):
    with pytest.raises(InvalidDataError, match=match):
        ImageDataset(images, labels, names, name="toy")
