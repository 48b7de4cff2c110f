"""Common corruptions: identity at severity 0, range kept, graded strength."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.attacks import CORRUPTIONS, corrupt
from synthaug.exceptions import ConfigError, InvalidDataError


@pytest.fixture
def images():
    return np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_severity_zero_is_identity_copy(kind, images):
    out = corrupt(images, kind, 0, random_state=0)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0, 0] = 7.0
    assert images[0, 0, 0, 0] != 7.0  # a copy, not a view


@pytest.mark.parametrize("kind", CORRUPTIONS)
@pytest.mark.parametrize("size", [8, 28])
def test_range_shape_and_dtype_preserved(kind, size):
    x = np.random.default_rng(1).random((3, 1, size, size), dtype=np.float32)
    before = x.copy()
    for severity in range(1, 6):
        out = corrupt(x, kind, severity, random_state=0)
        assert out.shape == x.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(x, before)  # input untouched


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_stronger_severity_changes_more(kind, images):
    change = [float(np.abs(corrupt(images, kind, s, random_state=0) - images).mean()) for s in range(6)]
    assert change[0] == 0.0
    assert all(b > a for a, b in zip(change, change[1:])), change


def test_noise_is_seeded():
    x = np.full((2, 1, 8, 8), 0.5, np.float32)
    a = corrupt(x, "gaussian_noise", 3, random_state=1)
    np.testing.assert_array_equal(a, corrupt(x, "gaussian_noise", 3, random_state=1))
    assert not np.array_equal(a, corrupt(x, "gaussian_noise", 3, random_state=2))


def test_blur_keeps_constant_images_and_contrast_keeps_the_mean():
    flat = np.full((1, 1, 8, 8), 0.3, np.float32)
    np.testing.assert_allclose(corrupt(flat, "blur", 5), flat, atol=1e-6)
    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(corrupt(x, "contrast", 5).mean(axis=(2, 3)), x.mean(axis=(2, 3)), atol=1e-6)


def test_bad_arguments():
    x = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ConfigError, match="unknown corruption 'fog'; choose one of gaussian_noise"):
        corrupt(x, "fog", 1)
    with pytest.raises(ConfigError, match="from 0 \\(none\\) to 5, got 6"):
        corrupt(x, "blur", 6)
    with pytest.raises(InvalidDataError, match="corrupt expects images of shape \\(N, C, H, W\\)"):
        corrupt(x[0], "blur", 1)
