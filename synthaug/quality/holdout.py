"""Stratified hold-back of real rows, so that synthetic samples can be judged on real
images the generator never saw."""

from __future__ import annotations

import math

import numpy as np

from ..data.validation import check_float
from ..exceptions import ConfigError
from ..seeding import derive_seed, seed_from

__all__ = ["AUTO_FRACTION", "MIN_FIT_PER_CLASS", "holdout_split", "resolve_fraction", "root_seed"]

#: What ``fraction="auto"`` means.
AUTO_FRACTION = 0.2
#: Rows of every class always left for fitting (a class with fewer keeps them all).
MIN_FIT_PER_CLASS = 2


def resolve_fraction(fraction, name: str = "validation_fraction") -> float:
    """``"auto"`` -> 0.2; otherwise a float in ``[0, 1)`` (0 disables the hold-back)."""
    if isinstance(fraction, str):
        if fraction != "auto":
            raise ConfigError(f"{name}={fraction!r} is not supported; pass 'auto' or a number in [0, 1).")
        return AUTO_FRACTION
    return check_float(name, fraction, 0.0, 1.0, high_open=True)


def root_seed(random_state) -> int:
    """One integer seed for the quality streams: an int is used as it is, else one is drawn."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return seed_from(random_state)


def holdout_split(y, fraction="auto", random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into rows to fit on and rows held back, class by class.

    Per class with ``n_k`` rows, ``floor(fraction * n_k)`` rows are held back, with two
    guards: at least 2 rows of every class stay for fitting, and every class with 3 or
    more rows holds back at least 1 row (so each class can be checked). ``fraction=0``
    disables the hold-back: every row is fitted on.

    Parameters
    ----------
    y : array-like of shape (N,)
        Labels (any sortable type).
    fraction : "auto" or float in [0, 1), default "auto"
        ``"auto"`` is 0.2.
    random_state : int, numpy Generator or None
        Which rows are held back; the same int gives the same split.

    Returns
    -------
    fit_idx, held_idx : ndarray of int64
        Sorted positions into ``y``; together they are ``0..N-1``, without overlap.

    Examples
    --------
    >>> y = [0] * 10 + [1] * 3 + [2] * 2
    >>> fit, held = holdout_split(y, "auto", random_state=0)
    >>> [int((np.asarray(y)[held] == k).sum()) for k in (0, 1, 2)]
    [2, 1, 0]
    >>> len(fit) + len(held)
    15
    """
    frac = resolve_fraction(fraction)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ConfigError(f"y has shape {y.shape}; expected one label per row (N,).")
    everything = np.arange(len(y), dtype=np.int64)
    if frac == 0.0 or len(y) == 0:
        return everything, np.zeros(0, np.int64)
    rng = np.random.default_rng(derive_seed(root_seed(random_state), "holdout"))
    held = []
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        n_k = len(rows)
        n_held = min(max(math.floor(frac * n_k), 1 if n_k >= 3 else 0), n_k - MIN_FIT_PER_CLASS)
        if n_held > 0:
            held.append(rng.permutation(rows)[:n_held])
    held_idx = np.sort(np.concatenate(held)).astype(np.int64) if held else np.zeros(0, np.int64)
    fit_idx = np.setdiff1d(everything, held_idx).astype(np.int64)
    return fit_idx, held_idx
