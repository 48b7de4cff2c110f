"""Memorisation check: are synthetic images near-copies of training images?

A GAN fitted on a few hundred images can learn to reproduce some of them. For every
synthetic image we find its nearest training image in pixel space and compare that
distance with how close an *unseen* real image (from the test split) typically comes to
the training set: a synthetic image much closer than unseen real images ever are looks
like a copy.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, InvalidDataError

logger = logging.getLogger(__name__)

__all__ = ["memorisation_report", "nearest_neighbour"]


def _flatten(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim < 2:
        raise InvalidDataError(
            f"{name} has shape {arr.shape}; expected one sample per row, e.g. images "
            "(N, C, H, W) or flattened rows (N, D)."
        )
    if arr.shape[0] == 0:
        raise InvalidDataError(f"{name} is empty; pass at least one sample.")
    if arr.dtype.kind not in "biuf":
        raise InvalidDataError(f"{name} has dtype {arr.dtype}; expected numeric pixels.")
    flat = arr.reshape(arr.shape[0], -1)  # (N, D)
    if flat.shape[1] == 0:
        raise InvalidDataError(f"{name} has shape {arr.shape}; samples have no pixels.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(flat)):
        raise InvalidDataError(f"{name} holds NaN or infinite values.")
    return flat


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}.")
    return int(batch_size)


def nearest_neighbour(query, reference, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean nearest neighbour of each query sample among the reference samples.

    Samples are flattened, so images ``(N, C, H, W)`` are compared pixel by pixel. Work
    is done in blocks of ``batch_size`` query rows by ``batch_size`` reference rows, so
    memory stays bounded whatever the set sizes (a full query x reference matrix is never
    built). Ties go to the lowest reference index.

    Parameters
    ----------
    query : array-like
        Samples to look up (e.g. synthetic images).
    reference : array-like
        Samples to search (e.g. training images); same per-sample shape as ``query``.
    batch_size : int, default 1024
        Block size along both sets; it changes memory use and speed, never the result.

    Returns
    -------
    distances : ndarray of float64
        Euclidean distance to the nearest reference sample; exactly 0 for an exact copy.
    indices : ndarray of int64
        Row index of that reference sample.

    Shape
    -----
    query : ``(Nq, ...)``; reference : ``(Nr, ...)`` with the same trailing shape;
    returns two ``(Nq,)`` arrays.

    Examples
    --------
    >>> ref = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    >>> d, i = nearest_neighbour(np.array([[1.0, 1.0], [4.0, 5.0]]), ref)
    >>> d.tolist(), i.tolist()
    ([0.0, 1.0], [1, 2])
    """
    batch_size = _check_batch_size(batch_size)
    q = _flatten(query, "query")
    r = _flatten(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise InvalidDataError(
            f"query samples have {q.shape[1]} values each but reference samples have "
            f"{r.shape[1]}; both sets must have the same image shape."
        )
    r_norm2 = np.einsum("ij,ij->i", r, r, dtype=np.float64)  # (Nr,)
    best_d2 = np.full(q.shape[0], np.inf)
    best_idx = np.zeros(q.shape[0], dtype=np.int64)
    for qs in range(0, q.shape[0], batch_size):
        qb = q[qs:qs + batch_size].astype(np.float64)  # (Bq, D)
        qb_norm2 = np.einsum("ij,ij->i", qb, qb)  # (Bq,)
        row_best = np.full(qb.shape[0], np.inf)
        row_idx = np.zeros(qb.shape[0], dtype=np.int64)
        for rs in range(0, r.shape[0], batch_size):
            rb = r[rs:rs + batch_size].astype(np.float64)  # (Br, D)
            # ||q - r||^2 expanded: fast, but rounding can blur near-ties; the exact
            # distance of the winner is recomputed below.
            d2 = qb_norm2[:, None] + r_norm2[None, rs:rs + rb.shape[0]] - 2.0 * (qb @ rb.T)  # (Bq, Br)
            j = np.argmin(d2, axis=1)
            cand = d2[np.arange(qb.shape[0]), j]
            better = cand < row_best  # strict: an earlier block keeps ties
            row_best[better] = cand[better]
            row_idx[better] = rs + j[better]
        best_idx[qs:qs + qb.shape[0]] = row_idx
        # Exact distance to the chosen neighbour: an exact copy gives exactly 0.
        best_d2[qs:qs + qb.shape[0]] = np.sum((qb - r[row_idx].astype(np.float64)) ** 2, axis=1)
    return np.sqrt(best_d2), best_idx


def memorisation_report(
    synthetic, train, test, *, quantile: float = 0.01, batch_size: int = 1024
) -> tuple[dict[str, float], pd.DataFrame]:
    """Flag synthetic images that sit closer to a training image than unseen images do.

    This is a sanity check, not a privacy guarantee: pixel distance misses copies that
    are shifted, flipped or recoloured, and passing it says nothing about what a
    determined attacker could recover from the generator.

    For each synthetic image: the distance to its nearest TRAIN image and that image's
    index. For each real TEST image: the same; these distances are the reference for
    "how close an unseen real image typically comes to the training set". A synthetic
    image is flagged as a near-copy when its distance is at or below the ``quantile``
    of the test distances (at or below, so that exact copies are flagged even when the
    test split itself holds a duplicate of a training image and the threshold is 0).

    Parameters
    ----------
    synthetic, train, test : array-like
        Images (or any samples) with the same per-sample shape, e.g. ``(N, C, H, W)``
        float32 in ``[0, 1]``.
    quantile : float, default 0.01
        Quantile of the test-to-train distances used as the threshold, in ``[0, 1]``.
    batch_size : int, default 1024
        Block size for :func:`nearest_neighbour`.

    Returns
    -------
    summary : dict
        ``median_synthetic_distance``, ``median_test_distance``, ``distance_ratio``
        (synthetic median / test median: well below 1 suggests memorisation; NaN when
        both are 0, inf when only the test median is 0), ``threshold``, ``n_flagged``,
        ``fraction_flagged`` (of the synthetic images), ``n_synthetic``, ``n_test``,
        ``quantile``.
    table : DataFrame
        One row per synthetic image, then one per test image: ``set`` ("synthetic" or
        "test"), ``index`` (row within its set), ``nn_distance``, ``nn_train_index``,
        ``flagged`` (always False on test rows: they are the reference, not suspects).

    Shape
    -----
    synthetic : ``(Ns, ...)``, train : ``(Nt, ...)``, test : ``(Ne, ...)``;
    table has ``Ns + Ne`` rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train, test = rng.random((20, 1, 4, 4)), rng.random((20, 1, 4, 4))
    >>> synthetic = np.concatenate([train[:2], rng.random((3, 1, 4, 4))])
    >>> summary, table = memorisation_report(synthetic, train, test, quantile=0.05)
    >>> summary["n_flagged"], table.loc[table["flagged"], "nn_train_index"].tolist()
    (2, [0, 1])
    """
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float, np.floating)) or not (
        0.0 <= float(quantile) <= 1.0
    ):
        raise ConfigError(f"quantile must be a float in [0, 1] (e.g. 0.01), got {quantile!r}.")
    syn = _flatten(synthetic, "synthetic")
    tr = _flatten(train, "train")
    te = _flatten(test, "test")
    for name, arr in (("synthetic", syn), ("test", te)):
        if arr.shape[1] != tr.shape[1]:
            raise InvalidDataError(
                f"{name} samples have {arr.shape[1]} values each but train samples have "
                f"{tr.shape[1]}; all three sets must have the same image shape."
            )
    syn_d, syn_i = nearest_neighbour(syn, tr, batch_size=batch_size)
    test_d, test_i = nearest_neighbour(te, tr, batch_size=batch_size)

    threshold = float(np.quantile(test_d, float(quantile)))
    flagged = syn_d <= threshold
    med_syn, med_test = float(np.median(syn_d)), float(np.median(test_d))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(med_syn) / np.float64(med_test))
    n_flagged = int(flagged.sum())
    if n_flagged:
        logger.info(
            "memorisation_report: %d of %d synthetic images are within %.4g of a training "
            "image (the %.3g quantile of test-to-train distances).",
            n_flagged, syn.shape[0], threshold, quantile,
        )
    summary = {
        "median_synthetic_distance": med_syn,
        "median_test_distance": med_test,
        "distance_ratio": ratio,
        "threshold": threshold,
        "n_flagged": n_flagged,
        "fraction_flagged": n_flagged / syn.shape[0],
        "n_synthetic": int(syn.shape[0]),
        "n_test": int(te.shape[0]),
        "quantile": float(quantile),
    }
    table = pd.DataFrame({
        "set": ["synthetic"] * syn.shape[0] + ["test"] * te.shape[0],
        "index": np.concatenate([np.arange(syn.shape[0]), np.arange(te.shape[0])]),
        "nn_distance": np.concatenate([syn_d, test_d]),
        "nn_train_index": np.concatenate([syn_i, test_i]),
        "flagged": np.concatenate([flagged, np.zeros(te.shape[0], dtype=bool)]),
    })
    return summary, table
