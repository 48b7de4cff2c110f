"""Which real rows a study trains and tests on: make_splits, subsample, stratified_subset."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from synthaug.data.dataset import ImageDataset
from synthaug.exceptions import InvalidDataError
from synthaug.experiment import ExperimentConfig, make_splits
from synthaug.experiment.splits import stratified_subset, subsample


def test_stratified_split_is_fixed_and_disjoint(toy3):
    ds = toy3(12)
    cfg = ExperimentConfig(test_fraction=0.25, val_fraction=0.25, split_seed=3)
    a, b = make_splits(ds, cfg), make_splits(ds, cfg.replace(seeds=[7, 8]))
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not set(a.train) & set(a.test) and not set(a.val) & set(a.test) and not set(a.train) & set(a.val)
    assert np.bincount(ds.labels[a.test]).tolist() == [3, 3, 3]  # stratified
    assert "split_seed=3" in a.origin


def test_own_splits_are_used_and_synthetic_rows_dropped(toy3):
    base = toy3(8)
    split = np.array(["train"] * 12 + ["val"] * 4 + ["test"] * 8)
    order = np.random.default_rng(0).permutation(24)
    ds = ImageDataset(base.images[order], base.labels[order], base.class_names, split=split)
    ds = ds.with_synthetic(base.images[:3], base.labels[:3])  # synthetic rows get split "train"
    s = make_splits(ds, ExperimentConfig())
    assert s.origin == "the dataset's own splits"
    assert list(s.test) == list(range(16, 24)) and list(s.val) == list(range(12, 16))
    assert not set(s.train) & set(range(24, 27))


def test_too_few_images_per_class_is_refused(toy3):
    with pytest.raises(InvalidDataError, match="at least 3 per class"):
        make_splits(toy3(2), ExperimentConfig())


def test_subsample_takes_n_per_class_from_the_rng():
    labels = np.array([0] * 5 + [1] * 5 + [2] * 2)
    a = subsample(labels, 2, np.random.default_rng(0), 3)
    b = subsample(labels, 2, np.random.default_rng(0), 3)
    np.testing.assert_array_equal(a, b)
    assert np.bincount(labels[a]).tolist() == [2, 2, 2] and list(a) == sorted(a)
    np.testing.assert_array_equal(subsample(labels, "all", np.random.default_rng(0), 3), np.arange(12))


def test_subsample_keeps_a_small_class_whole_with_a_warning(caplog):
    labels = np.array([0] * 5 + [1])
    with caplog.at_level(logging.WARNING):
        keep = subsample(labels, 3, np.random.default_rng(0), 2)
    assert np.bincount(labels[keep]).tolist() == [3, 1] and "only 1 training images" in caplog.text


def test_stratified_subset_is_fixed_and_stratified():
    labels = np.repeat([0, 1, 2], 10)
    keep = stratified_subset(labels, 9, seed=0)
    np.testing.assert_array_equal(keep, stratified_subset(labels, 9, seed=0))
    assert np.bincount(labels[keep]).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(stratified_subset(labels, None, seed=0), np.arange(30))
    np.testing.assert_array_equal(stratified_subset(labels, 100, seed=0), np.arange(30))
    # Too few rows of a class to stratify: a plain random subset of the same size.
    assert len(stratified_subset(np.array([0] * 9 + [1]), 2, seed=0)) == 2
