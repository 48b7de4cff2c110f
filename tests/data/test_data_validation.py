"""The shared image and label checks (synthaug.data.validation)."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.data.validation import check_unit_pixels, encode_labels
from synthaug.exceptions import InvalidDataError


def test_check_unit_pixels_accepts_the_closed_interval():
    check_unit_pixels(np.array([0.0, 0.5, 1.0], np.float32))
    check_unit_pixels(np.zeros((0, 1, 4, 4), np.float32))


@pytest.mark.parametrize(
    "values, match",
    [
        ([0.0, np.nan], r"imgs contains NaN or inf values; remove or repair"),
        ([0.0, np.inf], r"imgs contains NaN or inf values"),
        ([0.0, 255.0], r"imgs values span \[0, 255\]; expected \[0, 1\]\. Rescale"),
        ([-0.5, 0.5], r"imgs values span \[-0.5, 0.5\]"),
    ],
)
def test_check_unit_pixels_names_the_array(values, match):
    with pytest.raises(InvalidDataError, match=match):
        check_unit_pixels(np.array(values), "imgs")


def test_encode_labels_maps_sorted_classes_and_accepts_a_column():
    classes, idx = encode_labels(np.array([["b"], ["a"], ["b"]]), 3, "x")
    assert classes.tolist() == ["a", "b"] and idx.tolist() == [1, 0, 1] and idx.dtype == np.int64


def test_encode_labels_errors():
    with pytest.raises(InvalidDataError, match=r"y has shape \(2,\) but X has 3 images; expected one label"):
        encode_labels([0, 1], 3, "a classifier")
    with pytest.raises(InvalidDataError, match=r"y has 1 class \(\[7\]\); a GAN needs at least 2 classes"):
        encode_labels([7, 7], 2, "a GAN")
