"""Within-class spread: are a class's samples as different from each other as its real images?

A generator that collapses onto one prototype per class can still score well on
precision, TRTS and even k-NN recall when only a handful of real images are there to
compare with. The spread ratio needs no held-back rows: per class, the median pixel
distance between two samples over the median distance between two real images of that
class. Real data against more real data of the same source reads about 1.0; a set of
near-duplicates reads well under it (one repeated prototype with a little noise:
about 0.5 on 8 x 8 digits); noise reads above it (precision catches noise).
"""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import InvalidDataError

__all__ = ["MAX_ROWS_PER_CLASS", "spread_ratio"]

#: Rows per class and set used for the pairwise distances (an even subset beyond this):
#: bounds time and memory to a 500 x 500 matrix whatever the data size.
MAX_ROWS_PER_CLASS = 500


def _median_pairwise(rows: np.ndarray) -> float:
    if len(rows) > MAX_ROWS_PER_CLASS:  # an even, deterministic subset
        rows = rows[np.linspace(0, len(rows) - 1, MAX_ROWS_PER_CLASS).astype(int)]
    flat = rows.reshape(len(rows), -1).astype(np.float64)  # (n, D)
    sq = np.einsum("ij,ij->i", flat, flat)
    d2 = sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T  # (n, n)
    upper = np.triu_indices(len(rows), 1)
    return float(np.sqrt(np.maximum(np.median(d2[upper]), 0.0)))


def spread_ratio(synthetic, y_synthetic, real, y_real) -> tuple[float, dict]:
    """Median within-class pairwise distance of ``synthetic`` over that of ``real``.

    Parameters
    ----------
    synthetic, real : array-like
        Images ``(N, C, H, W)`` (or any rows of equal shape), e.g. float32 in [0, 1].
    y_synthetic, y_real : array-like
        One label per row.

    Returns
    -------
    overall : float
        The median of the per-class ratios (NaN when no class has two rows in both sets).
    per_class : dict
        Class -> ratio; NaN for a class with fewer than two rows in either set, or whose
        real rows are all identical.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> real = rng.random((40, 1, 4, 4)); y = np.repeat([0, 1], 20)
    >>> alike = np.repeat(real[[0, 20]], 20, axis=0) + 0.01 * rng.random((40, 1, 4, 4))
    >>> round(spread_ratio(real[::-1], y, real, y)[0], 2), spread_ratio(alike, y, real, y)[0] < 0.1
    (1.0, True)
    """
    syn, real = np.asarray(synthetic), np.asarray(real)
    y_syn, y_real = np.asarray(y_synthetic), np.asarray(y_real)
    if syn.shape[1:] != real.shape[1:]:
        raise InvalidDataError(f"spread_ratio: synthetic rows have shape {syn.shape[1:]} but real rows "
                               f"{real.shape[1:]}; compare images of the same shape.")
    if y_syn.shape != (len(syn),) or y_real.shape != (len(real),):
        raise InvalidDataError("spread_ratio: pass one label per row for both sets.")
    per_class: dict = {}
    for cls in np.unique(np.concatenate([y_syn, y_real])):
        a, b = syn[y_syn == cls], real[y_real == cls]
        key = cls.item() if isinstance(cls, np.generic) else cls
        if len(a) < 2 or len(b) < 2:
            per_class[key] = math.nan
            continue
        real_spread = _median_pairwise(b)
        per_class[key] = _median_pairwise(a) / real_spread if real_spread > 0 else math.nan
    values = [v for v in per_class.values() if not math.isnan(v)]
    return (float(np.median(values)) if values else math.nan), per_class
