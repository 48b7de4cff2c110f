"""Drawing synthetic rows from a fitted generator: the one place where a resolved plan
``{class: n new rows}`` becomes labels, images and an augmented set.

:class:`~synthaug.over_sampling.GANOverSampler`, ``synthaug augment`` and the experiment
runner all draw through :func:`draw_synthetic`, so the same plan and seed give the same
rows, in the same order, everywhere.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["append_synthetic", "draw_synthetic", "synthetic_labels"]


def synthetic_labels(counts: Mapping[Any, int]) -> np.ndarray:
    """The labels to draw: each class in sorted order, repeated its count times.

    Integer classes come back ``int64``; other classes (strings) keep their dtype.

    Examples
    --------
    >>> synthetic_labels({2: 1, 0: 2, 1: 0}).tolist()
    [0, 0, 2]
    """
    keys = sorted(counts)
    reps = np.array([int(counts[k]) for k in keys], dtype=np.int64)
    classes = np.asarray(keys)
    if classes.size == 0 or np.issubdtype(classes.dtype, np.integer) or classes.dtype == bool:
        classes = classes.astype(np.int64)
    return np.repeat(classes, reps)  # (sum(counts),)


def draw_synthetic(generator, counts: Mapping[Any, int], random_state) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``counts[c]`` synthetic images of every class ``c`` from a fitted generator.

    Parameters
    ----------
    generator : ConditionalGAN
        A fitted generator (anything with ``sample(y, random_state=...)`` and
        ``image_shape_``).
    counts : dict
        ``{class: number of new rows}``, e.g. from
        :func:`~synthaug.over_sampling.resolve_counts`; zero counts are skipped.
    random_state : int, numpy Generator or None
        Seeds the one ``generator.sample`` call.

    Returns
    -------
    X_syn : ndarray of shape (n, C, H, W), float32 in [0, 1]
    y_syn : ndarray of shape (n,)
        Classes in sorted order, each repeated its count (int64 for integer classes).

    Shape
    -----
    returns : ``X_syn (sum(counts), C, H, W)``, ``y_syn (sum(counts),)``; row ``i`` is an
    image of class ``y_syn[i]``.
    """
    labels = synthetic_labels(counts)
    if len(labels) == 0:
        return np.zeros((0, *generator.image_shape_), np.float32), labels
    images = generator.sample(labels, random_state=random_state)  # (n, C, H, W)
    return np.clip(np.asarray(images, np.float32), 0.0, 1.0), labels


def append_synthetic(X: np.ndarray, y: np.ndarray, X_syn: np.ndarray,
                     y_syn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real rows first, in their order, then the synthetic rows (imbalanced-learn's layout).

    ``X_syn`` is cast to ``X``'s dtype and ``y_syn`` to ``y``'s.
    """
    X, y = np.asarray(X), np.asarray(y)
    return (np.concatenate([X, np.asarray(X_syn).astype(X.dtype, copy=False)]),
            np.concatenate([y, np.asarray(y_syn).astype(y.dtype, copy=False)]))
