"""Fidelity and diversity of synthetic samples, measured in a feature space.

The caller embeds real and synthetic images with some feature extractor (a classifier's
penultimate layer, for instance) and passes the feature arrays here. Two families:

- :func:`frechet_distance`: the Fréchet (2-Wasserstein) distance between Gaussians fitted
  to the two feature sets, the quantity behind FID (Heusel et al. 2017, "GANs Trained by a
  Two Time-Scale Update Rule Converge to a Local Nash Equilibrium").
- :func:`prdc`: precision, recall, density and coverage from k-nearest-neighbour balls
  (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models").

With the few hundred samples per class typical of small datasets both are noisy and the
Fréchet distance is biased upwards (its bias shrinks like 1/N), so compare numbers only
between runs with the same sample sizes and the same feature extractor.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import scipy.linalg

from ..exceptions import ConfigError, InvalidDataError

logger = logging.getLogger(__name__)

__all__ = ["fidelity_report", "frechet_distance", "prdc"]

# Rows of the fake set handled at once when measuring real-fake distances: bounds memory
# to a (block, n_real) matrix whatever the set sizes.
_BLOCK = 1024


def _check_features(x: object, name: str, min_rows: int = 1) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise InvalidDataError(
            f"{name} has shape {arr.shape}; expected a feature matrix (N, D). For one "
            f"feature per sample pass {name}.reshape(-1, 1); for images pass "
            f"{name}.reshape(len({name}), -1) or, better, embed them first."
        )
    if arr.shape[0] < min_rows:
        raise InvalidDataError(f"{name} has {arr.shape[0]} rows; this metric needs at least {min_rows}.")
    if arr.shape[1] == 0:
        raise InvalidDataError(f"{name} has shape {arr.shape}; expected at least one feature column.")
    if not np.all(np.isfinite(arr)):
        raise InvalidDataError(f"{name} holds NaN or infinite values; check the feature extractor.")
    return arr


def _check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise InvalidDataError(
            f"{name_a} has {a.shape[1]} features per row but {name_b} has {b.shape[1]}; "
            "embed both sets with the same feature extractor."
        )


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive int (the paper uses k=5), got {k!r}.")
    return int(k)


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, clipped at 0 against rounding. Shape (len(a), len(b))."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)  # (Na, Nb)
    return np.maximum(d, 0.0)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)  # (N,)


def _exact_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``||a_i - b_i||^2`` from the differences. Shape (N,).

    Unlike the expanded formula this is exactly symmetric and exactly 0 for equal rows,
    so two ties computed from either side compare equal.
    """
    diff = a - b  # (N, D)
    return np.einsum("ij,ij->i", diff, diff)


def _slack(a_norms: np.ndarray, b_norms: np.ndarray, dim: int) -> np.ndarray:
    """A generous bound on the rounding error of the expanded formula. Shape (Na, Nb)."""
    return 4.0 * (dim + 2) * np.finfo(np.float64).eps * (a_norms[:, None] + b_norms[None, :])


def _kth_nn_sq_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest *other* row. Shape (N,).

    Each row is at distance 0 from itself, so the k-th neighbour is the (k+1)-th
    smallest entry of its distance row (index k once sorted), as in the paper. The
    neighbour is found with the fast expanded formula and its distance then recomputed
    exactly.
    """
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], _BLOCK):
        block = x[start:start + _BLOCK]
        rows = np.arange(start, start + block.shape[0])
        d = _sq_distances(block, x)  # (B, N)
        d[np.arange(block.shape[0]), rows] = 0.0  # self first, whatever the rounding
        nbr = np.argpartition(d, k, axis=1)[:, k]  # (B,)
        out[rows] = _exact_sq(block, x[nbr])
    return out


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))``, with sample means
    and covariances (ddof=1). This is FID when the features come from Inception-v3; with
    another extractor it is the same distance in that extractor's space.

    Parameters
    ----------
    features_a, features_b : array-like of float
        Two feature sets with the same number of columns; at least two rows each.

    Returns
    -------
    float
        The distance (>= 0; rounding below 0 is clipped). Symmetric in its arguments up to
        floating-point error.

    Notes
    -----
    The matrix square root comes from ``scipy.linalg.sqrtm``. When the product of the
    covariances is singular (fewer samples than features, constant features) and the
    root is not finite (or scipy warns that it is inaccurate), ``eps * I`` (eps=1e-6)
    is added to both covariances and the distance computed from those, as in the
    reference FID code (which offsets only inside the root; offsetting throughout keeps
    identical sets at 0). A tiny imaginary part from rounding is dropped.

    Shape
    -----
    features_a : ``(N_a, D)``; features_b : ``(N_b, D)``.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> round(frechet_distance(a, a), 6)
    0.0
    >>> round(frechet_distance(a, a + [3.0, 4.0]), 6)  # same covariance: ||shift||^2
    25.0
    """
    a = _check_features(features_a, "features_a", min_rows=2)
    b = _check_features(features_b, "features_b", min_rows=2)
    _check_same_dim(a, b, "features_a", "features_b")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)  # (D,)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))  # (D, D)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    return _frechet_from_moments(mu_a, cov_a, mu_b, cov_b)


def _sqrtm(m: np.ndarray) -> tuple[np.ndarray, bool]:
    """``scipy.linalg.sqrtm`` plus whether it warned (singular input) or gave non-finite values."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(m)
    warned = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    return root, warned or not np.all(np.isfinite(root))


def _frechet_from_moments(mu_a, cov_a, mu_b, cov_b, eps: float = 1e-6) -> float:
    diff = mu_a - mu_b
    covmean, trouble = _sqrtm(cov_a @ cov_b)
    if trouble:
        logger.warning(
            "frechet_distance: the covariance product is singular or ill-conditioned; adding "
            "%g to the diagonals (usual cause: fewer samples than feature dimensions, or "
            "constant features).", eps,
        )
        # Offset the covariances everywhere, not only inside the root (as the reference
        # FID code does): then identical sets still give 0 and shifts give ||shift||^2.
        offset = np.eye(cov_a.shape[0]) * eps
        cov_a, cov_b = cov_a + offset, cov_b + offset
        covmean, _ = _sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(covmean):
        # Rounding puts small imaginary parts on an (in exact arithmetic) real root.
        imag = np.max(np.abs(covmean.imag)) if covmean.size else 0.0
        if imag > 1e-3 * max(1.0, float(np.max(np.abs(covmean.real)))):
            logger.warning("frechet_distance: sqrtm has an imaginary part of %.3g; using the real part.", imag)
        covmean = covmean.real
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def prdc(real_features, fake_features, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of a fake sample against a real one.

    From Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
    Models" (ICML). Let ``r_i`` be the distance from real sample ``X_i`` to its k-th
    nearest other real sample, ``s_j`` the same for fake sample ``Y_j`` among the fakes,
    and ``B(x, r)`` the open ball ``{y : ||y - x|| < r}``. With N real and M fake:

    - precision = (1/M) sum_j 1[Y_j in some B(X_i, r_i)]: fakes that look real;
    - recall = (1/N) sum_i 1[X_i in some B(Y_j, s_j)]: reals the fakes reach;
    - density = (1/(kM)) sum_j sum_i 1[Y_j in B(X_i, r_i)]: like precision, but counts
      how many real balls hold each fake (expected 1 when the sets share a distribution;
      can exceed 1);
    - coverage = (1/N) sum_i 1[some Y_j in B(X_i, r_i)]: real neighbourhoods holding a fake.

    Parameters
    ----------
    real_features, fake_features : array-like of float
        Feature sets with the same number of columns; each needs more than ``k`` rows.
    k : int, default 5
        Neighbourhood size (the paper recommends 5).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``density``, ``coverage`` as floats.

    Notes
    -----
    Balls are open (distance < radius), as in the authors' reference code, so a sample's
    k-th neighbour lies on its ball's boundary, outside; a set compared with itself then
    has density exactly 1. Distances within rounding error of a radius are recomputed
    exactly, so such ties are decided exactly rather than by floating-point noise. A real
    sample with k or more exact duplicates has radius 0 and its ball holds nothing.
    Memory is bounded by blocks of 1024 rows against the whole other set.

    Shape
    -----
    real_features : ``(N, D)``; fake_features : ``(M, D)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(50, 2))
    >>> prdc(real, real, k=3)
    {'precision': 1.0, 'recall': 1.0, 'density': 1.0, 'coverage': 1.0}
    >>> prdc(real, real[:25], k=3)["coverage"] < 1.0  # half the reals are left out
    True
    >>> prdc(real, real + 100.0, k=3)
    {'precision': 0.0, 'recall': 0.0, 'density': 0.0, 'coverage': 0.0}
    """
    k = _check_k(k)
    real = _check_features(real_features, "real_features", min_rows=k + 1)
    fake = _check_features(fake_features, "fake_features", min_rows=k + 1)
    _check_same_dim(real, fake, "real_features", "fake_features")

    # Centring on the real mean keeps the norms in the expanded distance formula small,
    # which keeps its rounding error small; distances are unchanged.
    centre = real.mean(axis=0)
    real, fake = real - centre, fake - centre
    real_r2 = _kth_nn_sq_radius(real, k)  # (N,)
    fake_r2 = _kth_nn_sq_radius(fake, k)  # (M,)
    real_n2, fake_n2 = _sq_norms(real), _sq_norms(fake)

    n_real, n_fake = real.shape[0], fake.shape[0]
    in_real_balls = np.zeros(n_fake, dtype=np.int64)  # per fake: how many real balls hold it
    real_covered = np.zeros(n_real, dtype=bool)  # per real: some fake in its ball
    real_reached = np.zeros(n_real, dtype=bool)  # per real: inside some fake ball
    for start in range(0, n_fake, _BLOCK):
        stop = min(start + _BLOCK, n_fake)
        d2 = _sq_distances(fake[start:stop], real)  # (B, N)
        # Pairs whose distance is within rounding of either radius are recomputed exactly,
        # so ties (a sample's k-th neighbour sits on its ball's boundary) are exact ties.
        slack = _slack(fake_n2[start:stop], real_n2, real.shape[1])  # (B, N)
        near = (np.abs(d2 - real_r2[None, :]) <= slack) | (np.abs(d2 - fake_r2[start:stop, None]) <= slack)
        jj, ii = np.nonzero(near)
        d2[jj, ii] = _exact_sq(fake[start + jj], real[ii])
        inside_real = d2 < real_r2[None, :]  # (B, N): fake j in B(X_i, r_i)
        in_real_balls[start:stop] = inside_real.sum(axis=1)
        real_covered |= inside_real.any(axis=0)
        real_reached |= (d2 < fake_r2[start:stop, None]).any(axis=0)  # X_i in B(Y_j, s_j)
    return {
        "precision": float(np.mean(in_real_balls > 0)),
        "recall": float(np.mean(real_reached)),
        "density": float(in_real_balls.sum() / (k * n_fake)),
        "coverage": float(np.mean(real_covered)),
    }


_REPORT_COLUMNS = ["class", "n_real", "n_fake", "frechet_distance", "precision", "recall",
                   "density", "coverage"]


def _check_feature_labels(y: object, n_rows: int, name: str, features_name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise InvalidDataError(
            f"{name} has shape {arr.shape} but {features_name} has {n_rows} rows; pass one "
            "label per feature row."
        )
    return arr


def _report_row(cls, real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    nan = float("nan")
    row = {"class": cls, "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0])}
    if real.shape[0] >= 2 and fake.shape[0] >= 2:
        row["frechet_distance"] = frechet_distance(real, fake)
    else:
        row["frechet_distance"] = nan
    if real.shape[0] > k and fake.shape[0] > k:
        row.update(prdc(real, fake, k=k))
    else:
        logger.info(
            "fidelity_report: class %s has %d real and %d fake rows; precision/recall/density/"
            "coverage need more than k=%d of each, reporting NaN.", cls, real.shape[0],
            fake.shape[0], k,
        )
        row.update(precision=nan, recall=nan, density=nan, coverage=nan)
    return row


def fidelity_report(real_features, real_labels, fake_features, fake_labels, k: int = 5) -> pd.DataFrame:
    """Fréchet distance and PRDC for the whole sample and for each class.

    Parameters
    ----------
    real_features, fake_features : array-like of float
        Embedded real and synthetic samples, same number of columns.
    real_labels, fake_labels : array-like
        Class of each row. Per-class rows compare real and fake samples of that class.
    k : int, default 5
        Neighbourhood size for :func:`prdc`.

    Returns
    -------
    DataFrame
        Columns ``class``, ``n_real``, ``n_fake``, ``frechet_distance``, ``precision``,
        ``recall``, ``density``, ``coverage``. First a row with ``class="all"``, then one
        row per class found in either label array (sorted). A metric is NaN, not an
        error, where its set is too small: the Fréchet distance needs 2 rows on each
        side, PRDC more than ``k``.

    Shape
    -----
    real_features : ``(N, D)``, real_labels : ``(N,)``; fake_features : ``(M, D)``,
    fake_labels : ``(M,)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> feats, labels = rng.normal(size=(40, 3)), np.repeat([0, 1], 20)
    >>> report = fidelity_report(feats, labels, feats, labels, k=3)
    >>> report["class"].tolist(), report["precision"].tolist()
    (['all', 0, 1], [1.0, 1.0, 1.0])
    """
    k = _check_k(k)
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    _check_same_dim(real, fake, "real_features", "fake_features")
    y_real = _check_feature_labels(real_labels, real.shape[0], "real_labels", "real_features")
    y_fake = _check_feature_labels(fake_labels, fake.shape[0], "fake_labels", "fake_features")

    rows = [_report_row("all", real, fake, k)]
    for cls in np.unique(np.concatenate([y_real, y_fake])):
        value = cls.item() if isinstance(cls, np.generic) else cls
        rows.append(_report_row(value, real[y_real == cls], fake[y_fake == cls], k))
    return pd.DataFrame(rows, columns=_REPORT_COLUMNS)
