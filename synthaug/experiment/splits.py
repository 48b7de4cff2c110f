"""Which real rows an experiment trains and tests on.

- :func:`make_splits`: the real train/val/test rows, made once per study (the dataset's
  own splits, or a stratified split fixed by ``config.split_seed``).
- :func:`subsample`: the low-data setting, ``n`` training images per class (a fresh
  draw per seed, shared by every arm of that seed).
- :func:`stratified_subset`: the fixed subset of test rows scored for robustness.

Every function returns row positions, never images, so the caller decides which arrays
to index and no synthetic row can slip into a test split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ..data.dataset import ImageDataset
from ..exceptions import InvalidDataError
from .config import ExperimentConfig

log = logging.getLogger(__name__)

__all__ = ["Splits", "make_splits", "stratified_subset", "subsample"]


@dataclass(frozen=True)
class Splits:
    """Row indices (into the dataset) of each real split, and where they came from."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    origin: str


def make_splits(dataset: ImageDataset, config: ExperimentConfig) -> Splits:
    """The real train/val/test rows: the dataset's own splits, or a stratified split.

    Synthetic rows already in ``dataset`` are dropped (with a warning): an evaluation
    must train its baseline and test on real images only.

    Parameters
    ----------
    dataset : ImageDataset
        The data; its own splits are used when it has a ``test`` split.
    config : ExperimentConfig
        ``test_fraction``, ``val_fraction`` and ``split_seed`` of the stratified split.

    Returns
    -------
    Splits
        Sorted row indices per split, and a sentence saying where they came from.

    Raises
    ------
    InvalidDataError
        The dataset has too few images per class for a stratified split.

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> s = make_splits(make_toy_images(8, n_classes=2, random_state=0), ExperimentConfig())
    >>> len(s.train), len(s.val), len(s.test)
    (12, 0, 4)
    """
    real = ~dataset.is_synthetic
    if not real.all():
        log.warning("%s: ignoring %d synthetic rows; the experiment uses real rows only.",
                    dataset.name, int((~real).sum()))
    if dataset.split is not None and "test" in dataset.splits:
        train = np.flatnonzero(real & (dataset.split == "train"))
        val = np.flatnonzero(real & (dataset.split == "val"))
        test = np.flatnonzero(real & (dataset.split == "test"))
        if len(train) == 0:
            raise InvalidDataError(f"{dataset.name}: has a test split but no training rows.")
        return Splits(train, val, test, "the dataset's own splits")
    rows = np.flatnonzero(real)
    labels = dataset.labels[rows]
    counts = np.bincount(labels, minlength=dataset.n_classes)
    present = counts[counts > 0]
    if present.min() < 3:
        raise InvalidDataError(
            f"{dataset.name}: class {dataset.class_names[int(np.flatnonzero(counts == present.min())[0])]!r} "
            f"has {present.min()} images; a stratified train/test split needs at least 3 per class. "
            "Add images or pass a dataset with its own train/test splits."
        )
    try:
        rest, test = train_test_split(rows, test_size=config.test_fraction, stratify=labels,
                                      random_state=config.split_seed)
        val = np.zeros(0, np.int64)
        if config.val_fraction > 0:
            frac = config.val_fraction / (1.0 - config.test_fraction)
            rest, val = train_test_split(rest, test_size=frac, stratify=dataset.labels[rest],
                                         random_state=config.split_seed)
    except ValueError as exc:
        raise InvalidDataError(
            f"{dataset.name}: cannot make a stratified split with test_fraction="
            f"{config.test_fraction} and val_fraction={config.val_fraction} ({exc}). "
            "Use larger fractions or more images per class."
        ) from None
    origin = (f"stratified split, test_fraction={config.test_fraction:g}, "
              f"val_fraction={config.val_fraction:g}, split_seed={config.split_seed}")
    return Splits(np.sort(rest), np.sort(val), np.sort(test), origin)


def subsample(labels: np.ndarray, n_per_class: int | str, rng: np.random.Generator,
              n_classes: int) -> np.ndarray:
    """Positions (into ``labels``) of ``n_per_class`` rows per class, sorted.

    ``"all"`` keeps every row; a class with fewer rows keeps all of them (with a
    warning). Classes are drawn in index order from ``rng``, so the draw is fixed by
    the generator's seed.

    Examples
    --------
    >>> subsample(np.array([0, 0, 0, 1, 1]), 1, np.random.default_rng(0), 2).shape
    (2,)
    """
    if n_per_class == "all":
        return np.arange(len(labels))
    keep = []
    for k in range(n_classes):
        rows = np.flatnonzero(labels == k)
        if len(rows) == 0:
            continue
        if len(rows) < n_per_class:
            log.warning("class %d has only %d training images (< %d requested); using all of them.",
                        k, len(rows), n_per_class)
        keep.append(rng.choice(rows, size=min(n_per_class, len(rows)), replace=False))
    return np.sort(np.concatenate(keep))


def stratified_subset(labels: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """At most ``max_n`` positions, stratified when possible, fixed by ``seed``, sorted.

    Used for the test rows scored for robustness (attacks are slow).

    Examples
    --------
    >>> stratified_subset(np.array([0, 1] * 10), 4, seed=0).shape
    (4,)
    >>> stratified_subset(np.array([0, 1]), None, seed=0)
    array([0, 1])
    """
    n = len(labels)
    if max_n is None or n <= max_n:
        return np.arange(n)
    try:
        keep, _ = train_test_split(np.arange(n), train_size=max_n, stratify=labels, random_state=seed)
    except ValueError:
        keep = np.random.default_rng(seed).choice(n, size=max_n, replace=False)
    return np.sort(keep)
