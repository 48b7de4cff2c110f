"""classic_augment: shapes, range, order, determinism, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.data import classic_augment
from synthaug.exceptions import ConfigError, InvalidDataError


@pytest.fixture
def images():
    return np.random.default_rng(0).random((5, 3, 8, 10), dtype=np.float32)


def test_shape_dtype_range(images):
    out = classic_augment(images, n_copies=3, random_state=0)
    assert out.shape == (15, 3, 8, 10) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_deterministic_under_random_state(images):
    a = classic_augment(images, n_copies=2, flips=True, random_state=7)
    b = classic_augment(images, n_copies=2, flips=True, random_state=7)
    c = classic_augment(images, n_copies=2, flips=True, random_state=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_identity_when_all_off(images):
    out = classic_augment(images, n_copies=2, max_shift=0.0, max_rotation=0.0, noise_std=0.0, random_state=0)
    np.testing.assert_allclose(out[:5], images, atol=1e-5)
    np.testing.assert_allclose(out[5:], images, atol=1e-5)


def test_copy_major_order():
    # Image i is a constant i/10: any warp keeps the constant, so rows reveal the order.
    imgs = (np.arange(4, dtype=np.float32) / 10)[:, None, None, None] * np.ones((4, 1, 6, 6), np.float32)
    out = classic_augment(imgs, n_copies=3, noise_std=0.0, random_state=0)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), np.tile(np.arange(4) / 10, 3), atol=1e-5)


def test_flips_mirror_when_nothing_else():
    img = np.zeros((1, 1, 4, 4), np.float32)
    img[..., 0] = 1.0  # left column lit
    out = classic_augment(img, n_copies=40, max_shift=0, max_rotation=0, flips=True, noise_std=0, random_state=0)
    left = np.isclose(out[:, 0, :, 0], 1).all(axis=1)
    right = np.isclose(out[:, 0, :, 3], 1).all(axis=1)
    assert (left ^ right).all() and 5 < right.sum() < 35


def test_rotation_changes_images_but_keeps_mass():
    img = np.zeros((1, 1, 16, 16), np.float32)
    img[0, 0, 6:10, 2:14] = 1.0
    out = classic_augment(img, n_copies=8, max_shift=0, max_rotation=45, noise_std=0, random_state=0)
    assert not np.allclose(out, img)
    np.testing.assert_allclose(out.sum(axis=(1, 2, 3)), img.sum(), rtol=0.1)


def test_readonly_input_accepted(images):
    images.flags.writeable = False
    assert classic_augment(images, random_state=0).shape == images.shape


@pytest.mark.parametrize("kwargs, match", [
    ({"n_copies": 0}, r"n_copies must be a whole number >= 1, got 0"),
    ({"n_copies": 1.5}, r"n_copies"),
    ({"max_shift": 1.0}, r"max_shift must be in \[0, 1\), got 1"),
    ({"max_rotation": -1}, r"max_rotation must be >= 0"),
    ({"max_rotation": 270}, r"max_rotation must be in \[0, 180\]"),
    ({"noise_std": float("nan")}, r"noise_std must be >= 0, got nan"),
    ({"random_state": "x"}, r"random_state must be None, an int or a numpy Generator"),
])
def test_bad_parameters(images, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        classic_augment(images, **kwargs)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 8, 8), np.float32), r"shape \(2, 8, 8\); expected \(N, C, H, W\)"),
    (np.zeros((2, 1, 8, 8), np.uint8), r"dtype uint8; expected float"),
    (np.full((2, 1, 8, 8), 2.0, np.float32), r"finite and lie in \[0, 1\]"),
])
def test_bad_images(bad, match):
    with pytest.raises(InvalidDataError, match=match):
        classic_augment(bad)
