"""Nearest-neighbour search and the memorisation report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthaug.exceptions import ConfigError, InvalidDataError
from synthaug.metrics import memorisation_report, nearest_neighbour


def _bruteforce(query, reference):
    q = query.reshape(len(query), -1).astype(float)
    r = reference.reshape(len(reference), -1).astype(float)
    d = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1))
    return d.min(axis=1), d.argmin(axis=1)


@pytest.mark.parametrize("batch_size", [1, 4, 7, 1024])
def test_nearest_neighbour_batching_equals_bruteforce(batch_size):
    rng = np.random.default_rng(0)
    query = rng.random((37, 1, 4, 4)).astype(np.float32)
    reference = rng.random((23, 1, 4, 4)).astype(np.float32)
    d, i = nearest_neighbour(query, reference, batch_size=batch_size)
    bd, bi = _bruteforce(query, reference)
    assert d.shape == (37,) and i.shape == (37,)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i, bi)
    np.testing.assert_allclose(d, bd, rtol=1e-12, atol=1e-12)


def test_exact_copies_have_distance_exactly_zero():
    rng = np.random.default_rng(1)
    reference = rng.random((10, 3, 5, 5)).astype(np.float32)
    d, i = nearest_neighbour(reference[[7, 2]], reference, batch_size=3)
    assert d.tolist() == [0.0, 0.0]
    assert i.tolist() == [7, 2]


def test_ties_go_to_lowest_index_across_blocks():
    reference = np.array([[5.0, 5.0], [0.0, 0.0], [9.0, 9.0], [0.0, 0.0]])
    for batch_size in (1, 2, 10):
        d, i = nearest_neighbour(np.array([[0.0, 0.0]]), reference, batch_size=batch_size)
        assert i.tolist() == [1] and d.tolist() == [0.0]


def test_uint8_images_work():
    ref = np.array([[[0, 0]], [[3, 4]]], dtype=np.uint8)
    d, i = nearest_neighbour(np.array([[[0, 0]], [[6, 8]]], dtype=np.uint8), ref)
    assert d.tolist() == [0.0, 5.0] and i.tolist() == [0, 1]  # no uint8 wrap-around


def test_nearest_neighbour_invalid_inputs():
    with pytest.raises(InvalidDataError, match="16 values each but reference samples have 9"):
        nearest_neighbour(np.zeros((2, 1, 4, 4)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(InvalidDataError, match="reference is empty"):
        nearest_neighbour(np.zeros((2, 4)), np.zeros((0, 4)))
    with pytest.raises(InvalidDataError, match=r"query has shape \(4,\)"):
        nearest_neighbour(np.zeros(4), np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="batch_size must be a positive int"):
        nearest_neighbour(np.zeros((2, 4)), np.zeros((2, 4)), batch_size=0)


def _split(seed=2):
    rng = np.random.default_rng(seed)
    images = rng.random((60, 1, 6, 6)).astype(np.float32)
    return images[:40], images[40:]


def test_memorisation_flags_copies_not_far_samples():
    train, test = _split()
    rng = np.random.default_rng(3)
    copies = train[[5, 17, 33]]
    fresh = rng.random((6, 1, 6, 6)).astype(np.float32)  # same distribution, unseen
    far = np.full((4, 1, 6, 6), 5.0, dtype=np.float32)  # way outside the data
    synthetic = np.concatenate([copies, fresh, far])
    summary, table = memorisation_report(synthetic, train, test, quantile=0.01, batch_size=8)

    syn = table[table["set"] == "synthetic"].reset_index(drop=True)
    assert syn["index"].tolist() == list(range(13))
    assert syn.loc[:2, "nn_distance"].tolist() == [0.0, 0.0, 0.0]
    assert syn.loc[:2, "nn_train_index"].tolist() == [5, 17, 33]
    assert syn["flagged"].tolist() == [True] * 3 + [False] * 10
    assert summary["n_flagged"] == 3
    assert summary["fraction_flagged"] == pytest.approx(3 / 13)

    test_rows = table[table["set"] == "test"]
    assert len(test_rows) == 20 and not test_rows["flagged"].any()
    assert summary["threshold"] == pytest.approx(np.quantile(test_rows["nn_distance"], 0.01))
    assert summary["threshold"] > 0
    assert summary["median_test_distance"] == pytest.approx(np.median(test_rows["nn_distance"]))
    assert summary["median_synthetic_distance"] == pytest.approx(np.median(syn["nn_distance"]))
    assert summary["distance_ratio"] == pytest.approx(
        summary["median_synthetic_distance"] / summary["median_test_distance"])
    assert summary["n_synthetic"] == 13 and summary["n_test"] == 20


def test_memorisation_fresh_samples_look_like_test_samples():
    train, test = _split()
    fresh = np.random.default_rng(4).random((20, 1, 6, 6)).astype(np.float32)
    summary, _ = memorisation_report(fresh, train, test)
    assert summary["n_flagged"] <= 1
    assert 0.8 < summary["distance_ratio"] < 1.25


def test_memorisation_exact_copy_flagged_even_when_threshold_is_zero():
    # The test split holds a duplicate of a training image, so the 0-quantile is 0.
    train, test = _split()
    test = np.concatenate([test, train[:1]])
    summary, table = memorisation_report(train[[3]], train, test, quantile=0.0)
    assert summary["threshold"] == 0.0
    assert summary["n_flagged"] == 1


def test_memorisation_ratio_nan_when_everything_is_copied():
    train, _ = _split()
    summary, _ = memorisation_report(train[:3], train, train[3:6])
    assert math.isnan(summary["distance_ratio"])


def test_memorisation_invalid_inputs():
    train, test = _split()
    with pytest.raises(ConfigError, match=r"quantile must be a float in \[0, 1\]"):
        memorisation_report(train, train, test, quantile=5)
    with pytest.raises(InvalidDataError, match="test samples have 16 values each but train samples have 36"):
        memorisation_report(train, train, np.zeros((3, 1, 4, 4)))


# ----------------------------------------------------------------------------- spread_ratio
def test_spread_ratio_real_repeated_and_edge_cases():
    from synthaug.data.toy import make_toy_images
    from synthaug.metrics import spread_ratio

    real = make_toy_images(40, n_classes=2, image_size=8, random_state=0)
    other = make_toy_images(40, n_classes=2, image_size=8, random_state=1)
    overall, per_class = spread_ratio(other.images, other.labels, real.images, real.labels)
    assert 0.8 < overall < 1.25 and set(per_class) == {0, 1}
    repeated = np.repeat(other.images[[0]], 10, axis=0)
    overall, per_class = spread_ratio(repeated, np.zeros(10, int), real.images, real.labels)
    assert overall == 0.0 and per_class[0] == 0.0 and np.isnan(per_class[1])  # class 1: no samples
    with pytest.raises(InvalidDataError, match="same shape"):
        spread_ratio(other.images[:, :, :4], other.labels, real.images, real.labels)
