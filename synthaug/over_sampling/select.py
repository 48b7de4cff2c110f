"""Sample selection: over-generate a pool per class, keep the rows that best match the real class.

A small-data GAN tends to collapse each class onto a few modes: its samples look real
(precision) but reach only part of the class (recall). Drawing a larger pool and keeping
a well-chosen subset corrects part of that without retraining:

- ``"coverage"``: rows that cover the real class in feature space (greedy m-fold
  facility location, see :func:`select_indices`);
- ``"covariance"``: rows whose mean and covariance match the real class's;
- ``"critic"``: rows the discriminator scores as most real;
- ``"random"``: a uniform random subset (a baseline);
- ``"none"`` (or ``None``): the first rows of each class, i.e. no selection.

Each method is one entry of :data:`SELECTION_METHODS`. :func:`pool_size` says how many
rows to draw; :func:`select_samples` keeps ``counts[c]`` of them per class.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from sklearn.covariance import ledoit_wolf

from ..data.validation import check_choice, check_float, check_images, check_int, check_labels
from ..exceptions import ConfigError, InvalidDataError
from ..seeding import check_random_state
from .draw import draw_synthetic

__all__ = ["COPY_GUARD", "DEFAULT_POOL_FACTOR", "DEFAULT_SELECT", "SELECTION_METHODS", "draw_selected", "pool_size",
           "select_indices", "select_samples"]

logger = logging.getLogger(__name__)

#: Rows drawn per row kept when a selection method is used: 8 (was 4) since the
#: diffusion model's samples of 10 digits per class gained precision and recall from
#: the larger pool (docs/benchmarks.md, section 13); the GAN's were unchanged.
DEFAULT_POOL_FACTOR = 8

#: The default selection of GANOverSampler, `synthaug augment` and the study runner,
#: chosen by the low-data ablation in docs/benchmarks.md (section 6).
DEFAULT_SELECT = "coverage"
#: The default copy guard of ``coverage`` (off). With ``copy_guard=g > 0`` it skips pool
#: rows nearer a real row than ``g`` x the real rows' own median nearest-neighbour
#: distance (near-copies), while enough others remain. Off by default: on 10 digits per
#: class, g = 0.7 lifted the diffusion samples' copy ratio from 0.54-0.67 to 0.80-0.86
#: but cost precision (0.87-0.93 -> 0.67-0.81) and most of the SVC's gain
#: (docs/benchmarks.md, section 12).
COPY_GUARD = 0.0

#: Real rows per class used as coverage "clients" at most (a random subset beyond this):
#: each greedy step costs O(n_real x n_pool).
_MAX_REAL = 500


# ------------------------------------------------------------------ the methods
# Each method gets the number of rows to keep, the class's pool size, its pool features
# and the class's real features (None unless the method needs features), the critic
# scores of the pool rows (None unless it needs a critic) and a numpy Generator; it
# returns positions into the class's pool.

def _select_first(n, *, n_pool, pool, real, scores, rng, guard=0.0) -> np.ndarray:
    return np.arange(n)


def _select_random(n, *, n_pool, pool, real, scores, rng, guard=0.0) -> np.ndarray:
    return rng.choice(n_pool, size=n, replace=False)


def _select_critic(n, *, n_pool, pool, real, scores, rng, guard=0.0) -> np.ndarray:
    # Stable sort on the negated scores: highest first, ties to the earlier pool row.
    return np.argsort(-scores, kind="stable")[:n]


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances. Shape (len(a), len(b))."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)  # (Na, Nb)
    return np.sqrt(np.maximum(d2, 0.0))


def _select_coverage(n, *, n_pool, pool, real, scores, rng, guard=0.0) -> np.ndarray:
    # m-fold facility location: every real row wants its m nearest selected rows close,
    # m = ceil(n / n_real). Objective: minimise sum_i (sum of the m smallest distances from
    # real row i to the selected rows), a "missing" neighbour counting as row i's distance
    # to its farthest pool row. With m = 1 this is plain facility location; m > 1 keeps the
    # greedy useful once every real row has one close sample (10 real rows, 50 kept).
    # The objective is a sum of top-m similarities, which is submodular, so greedy is
    # within 1 - 1/e of the optimum.
    if len(real) > _MAX_REAL:
        real = real[np.sort(rng.choice(len(real), size=_MAX_REAL, replace=False))]
    dist = _pairwise_distances(real, pool)  # (R, P)
    m = math.ceil(n / len(real))
    held = np.repeat(dist.max(axis=1, keepdims=True), m, axis=1)  # (R, m): current m nearest
    available = _not_copies(dist, real, n, guard)
    chosen = np.empty(n, dtype=np.int64)
    for step in range(n):
        worst = held.max(axis=1)  # (R,): the distance a new close row would replace
        gain = np.maximum(worst[:, None] - dist, 0.0).sum(axis=0)  # (P,)
        gain[~available] = -1.0
        j = int(np.argmax(gain))  # ties: the earliest pool row
        chosen[step], available[j] = j, False
        improves = dist[:, j] < worst  # (R,)
        rows = np.flatnonzero(improves)
        held[rows, held[rows].argmax(axis=1)] = dist[rows, j]
    return chosen


def _not_copies(dist: np.ndarray, real: np.ndarray, n: int, guard: float) -> np.ndarray:
    """Pool rows that are no near-copy of a real row (the copy guard of ``coverage``).

    Seeking the real rows, coverage selection would otherwise favour samples that
    reproduce them (measured on diffusion samples of 10 digits per class: copy ratio
    0.54-0.67). A pool row is a near-copy when its nearest real row is closer than
    ``guard`` x the median distance from a real row to its nearest other real row
    (``guard`` 0: no guard). When fewer than ``n`` rows remain, the ``n`` farthest from
    any real row are kept.
    Shape: ``dist (R, P)``; returns a ``(P,)`` bool mask.
    """
    if len(real) < 2 or guard <= 0:
        return np.ones(dist.shape[1], dtype=bool)
    real_nn = _pairwise_distances(real, real)  # (R, R)
    np.fill_diagonal(real_nn, np.inf)
    nearest = dist.min(axis=0)  # (P,)
    ok = nearest >= guard * float(np.median(real_nn.min(axis=1)))
    if ok.sum() < n:
        ok = np.zeros_like(ok)
        ok[np.argsort(-nearest, kind="stable")[:n]] = True
    return ok


def _real_moments(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Ledoit-Wolf-shrunk covariance of the real rows. Shapes (D,), (D, D)."""
    mu = real.mean(axis=0)
    if len(real) < 2:  # one row: no spread to match, only the mean
        return mu, np.zeros((real.shape[1], real.shape[1]))
    cov, _ = ledoit_wolf(real)  # (D, D); shrunk towards a scaled identity
    return mu, cov


def _select_covariance(n, *, n_pool, pool, real, scores, rng, guard=0.0) -> np.ndarray:
    # Greedy moment matching: add the row that minimises
    #   ||mu_S - mu_R||^2 + ||Sigma_S - Sigma_R||_F^2
    # with Sigma_S the (ddof=0) covariance of the selected rows and Sigma_R the real
    # class's covariance shrunk with Ledoit-Wolf (10 rows in 64 dimensions have a rank-9
    # sample covariance; the shrunk one asks the selection for spread in every direction).
    # Every candidate is scored in O(D) from running sums (no D x D matrix per candidate):
    # with k selected rows, m = k + 1, b = s1 / m, C = s2 / m - Sigma_R - b b^T and
    # c = k / m^2, adding row u gives Sigma' - Sigma_R = C + c u u^T - (b u^T + u b^T) / m.
    mu_r, cov_r = _real_moments(real)
    U = pool  # (P, D)
    uu = np.einsum("ij,ij->i", U, U)  # (P,)
    U_cov_r = U @ cov_r  # (P, D)
    u_cov_r_u = np.einsum("ij,ij->i", U_cov_r, U)  # (P,)
    U_s2 = np.zeros_like(U)  # (P, D): U @ s2, updated by a rank-1 term per step
    s1 = np.zeros(U.shape[1])
    available = np.ones(U.shape[0], dtype=bool)
    chosen = np.empty(n, dtype=np.int64)
    for k in range(n):
        m = k + 1.0
        c = k / m**2
        b = s1 / m  # (D,)
        ub = U @ b  # (P,)
        u_s2_u = np.einsum("ij,ij->i", U_s2, U)  # (P,)
        u_C_u = u_s2_u / m - u_cov_r_u - ub**2  # (P,)
        u_C_b = (U_s2 @ b) / m - U_cov_r @ b - ub * (b @ b)  # (P,)
        # The loss of each candidate, less the terms that are the same for all of them.
        loss = (2.0 * (U @ (b - mu_r)) / m + uu / m**2  # mean term
                + c**2 * uu**2 + 2.0 * ((b @ b) * uu + ub**2) / m**2  # covariance term
                + 2.0 * c * u_C_u - 4.0 * u_C_b / m - 4.0 * c * ub * uu / m)
        loss[~available] = np.inf
        j = int(np.argmin(loss))  # ties: the earliest pool row
        chosen[k], available[j] = j, False
        s1 += U[j]
        U_s2 += np.outer(U @ U[j], U[j])  # s2 += u_j u_j^T
    return chosen


@dataclass(frozen=True)
class SelectionMethod:
    """One entry of :data:`SELECTION_METHODS`: the per-class function and what it needs."""

    select: Callable[..., np.ndarray]
    needs_real: bool = False
    needs_critic: bool = False
    needs_features: bool = False


#: Selection methods by name. Adding one is one entry here (and its function above).
SELECTION_METHODS: dict[str, SelectionMethod] = {
    "none": SelectionMethod(_select_first),
    "random": SelectionMethod(_select_random),
    "coverage": SelectionMethod(_select_coverage, needs_real=True, needs_features=True),
    "covariance": SelectionMethod(_select_covariance, needs_real=True, needs_features=True),
    "critic": SelectionMethod(_select_critic, needs_critic=True),
}


# ------------------------------------------------------------------ public API
def pool_size(counts: Mapping[Any, int], factor: float = DEFAULT_POOL_FACTOR) -> dict[Any, int]:
    """How many rows of each class to draw so that ``counts[c]`` can be selected from them.

    Parameters
    ----------
    counts : dict
        ``{class: rows to keep}``.
    factor : float, default 8
        Rows drawn per row kept, at least 1; the pool of a class is
        ``ceil(factor * counts[c])``.

    Returns
    -------
    dict
        ``{class: rows to draw}``, classes in sorted order.

    Examples
    --------
    >>> pool_size({1: 3, 0: 10})
    {0: 80, 1: 24}
    >>> pool_size({0: 3}, factor=1.5)
    {0: 5}
    """
    factor = check_float("pool factor", factor, 1.0)
    return {c: math.ceil(factor * _check_count(c, counts[c])) for c in sorted(counts)}


def _check_count(cls, n) -> int:
    return check_int(f"counts[{cls!r}]", n, 0)


def _check_features(feats: Any, n_rows: int, who: str) -> np.ndarray:
    arr = np.asarray(feats, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n_rows:
        raise InvalidDataError(
            f"features({who}) returned shape {arr.shape}; expected ({n_rows}, d): one feature "
            "row per image."
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidDataError(f"features({who}) returned NaN or infinite values; check the extractor.")
    return arr


def _flatten(images: np.ndarray) -> np.ndarray:
    return images.reshape(images.shape[0], -1)  # (N, C*H*W)


def select_indices(pool_X, pool_y, counts: Mapping[Any, int], *, method: str | None,
                   real_X=None, real_y=None, features: Callable | None = None,
                   critic: Callable | None = None, random_state=None, copy_guard: float = COPY_GUARD) -> np.ndarray:
    """Positions of the pool rows :func:`select_samples` keeps (same parameters).

    Returns
    -------
    ndarray of int64, shape (sum(counts),)
        Class by class in sorted class order; within a class, in pool order.

    Examples
    --------
    >>> select_indices(np.zeros((4, 1, 2, 2)), [1, 0, 1, 0], {0: 1, 1: 2}, method=None).tolist()
    [1, 0, 2]
    """
    return _select(pool_X, pool_y, counts, method=method, real_X=real_X, real_y=real_y,
                   features=features, critic=critic, random_state=random_state, copy_guard=copy_guard)[2]


def _select(pool_X, pool_y, counts, *, method, real_X, real_y, features, critic,
            random_state, copy_guard) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ``pool_X``, ``pool_y`` and the kept positions (the work behind both APIs)."""
    name = "none" if method is None else check_choice("method", method, SELECTION_METHODS)
    spec = SELECTION_METHODS[name]
    pool_X = check_images(pool_X, "pool_X", owner="select_samples", channels=None, min_images=0)
    pool_y = check_labels(pool_y, pool_X.shape[0], "pool_y", images_who="pool_X")
    counts = {c: _check_count(c, counts[c]) for c in sorted(counts)}
    wanted = [c for c, n in counts.items() if n > 0]
    if spec.needs_real:
        if real_X is None or real_y is None:
            raise ConfigError(f"method={name!r} needs real_X and real_y: the real training rows "
                              "(those the generator was fitted on, or all the training rows).")
        real_X = check_images(real_X, "real_X", owner="select_samples", channels=None)
        real_y = check_labels(real_y, real_X.shape[0], "real_y", images_who="real_X")
        if real_X.shape[1:] != pool_X.shape[1:]:
            raise InvalidDataError(f"real_X has images of shape {real_X.shape[1:]} but pool_X has "
                                   f"{pool_X.shape[1:]}; pass the real training rows.")
    if spec.needs_critic and not callable(critic):
        raise ConfigError(f"method={name!r} needs critic: a callable critic(X, y) -> scores "
                          "(e.g. a fitted ConditionalGAN's discriminator_scores).")
    if features is None:
        features = _flatten
    elif not callable(features):
        raise ConfigError(f"features must be a callable images -> (n, d) array or None, got {features!r}.")

    rows_of = {}
    for c in wanted:
        rows_of[c] = np.flatnonzero(pool_y == c)
        if len(rows_of[c]) < counts[c]:
            raise ConfigError(
                f"the pool holds {len(rows_of[c])} rows of class {c!r} but {counts[c]} are to be "
                "kept; the pool factor is too small: draw at least as many rows as you keep "
                "(pool_size(counts, factor) with factor >= 1)."
            )
        if spec.needs_real and not np.any(real_y == c):
            raise InvalidDataError(f"real_y has no rows of class {c!r}; method={name!r} needs the "
                                   "class's real rows.")

    all_rows = np.concatenate([rows_of[c] for c in wanted]) if wanted else np.zeros(0, np.int64)
    scores = None
    if spec.needs_critic and wanted:
        scores = np.asarray(critic(pool_X[all_rows], pool_y[all_rows]), dtype=np.float64)
        if scores.shape != (len(all_rows),) or not np.all(np.isfinite(scores)):
            raise InvalidDataError(f"critic returned shape {scores.shape} (or non-finite values); "
                                   f"expected ({len(all_rows)},) finite scores, one per row.")
        scores = dict(zip(wanted, np.split(scores, np.cumsum([len(rows_of[c]) for c in wanted])[:-1])))
    rng = check_random_state(random_state)
    keep = []
    for c in wanted:
        rows = rows_of[c]
        pool_f = real_f = None
        if spec.needs_features:
            pool_f = _check_features(features(pool_X[rows]), len(rows), "pool_X")
            real_imgs = real_X[real_y == c]
            real_f = _check_features(features(real_imgs), len(real_imgs), "real_X")
            if real_f.shape[1] != pool_f.shape[1]:
                raise InvalidDataError("features gave pool and real rows different widths "
                                       f"({pool_f.shape[1]} and {real_f.shape[1]}).")
        picked = spec.select(counts[c], n_pool=len(rows), pool=pool_f, real=real_f, guard=copy_guard,
                             scores=None if scores is None else scores[c], rng=rng)
        keep.append(np.sort(rows[picked]))
        logger.debug("select_samples: class %r, kept %d of %d pool rows (%s)", c, counts[c], len(rows), name)
    idx = np.concatenate(keep) if keep else np.zeros(0, np.int64)
    return pool_X, pool_y, idx


def select_samples(pool_X, pool_y, counts: Mapping[Any, int], *, method: str | None,
                   real_X=None, real_y=None, features: Callable | None = None,
                   critic: Callable | None = None, random_state=None,
                   copy_guard: float = COPY_GUARD) -> tuple[np.ndarray, np.ndarray]:
    """Keep ``counts[c]`` rows of each class ``c`` from an over-generated pool.

    Parameters
    ----------
    pool_X : array-like of float, shape (N, C, H, W)
        The pool, e.g. from :func:`~synthaug.over_sampling.draw_synthetic` with
        :func:`pool_size` counts; values in ``[0, 1]``.
    pool_y : array-like, shape (N,)
        The class of each pool row.
    counts : dict
        ``{class: rows to keep}``; zero counts are skipped.
    method : {"coverage", "covariance", "critic", "random", "none"} or None
        How to choose (see :data:`SELECTION_METHODS`); ``None`` is ``"none"``:

        - ``"coverage"``: greedy m-fold facility location in feature space. With
          ``m = ceil(counts[c] / n_real)``, repeatedly add the pool row that most
          reduces ``sum_i`` (sum of the distances from real row ``i`` to its ``m``
          nearest selected rows). Every real row gets ``m`` nearby samples, so the
          kept rows spread over all the real modes instead of the few the generator
          favours. Real rows beyond 500 per class are subsampled (``random_state``).
        - ``"covariance"``: greedily add the row that minimises
          ``||mu_S - mu_R||^2 + ||Sigma_S - Sigma_R||_F^2`` (selected vs real mean and
          covariance; ``Sigma_R`` shrunk with Ledoit-Wolf, because a class of 10 rows
          has a rank-9 covariance in 64 dimensions; ``Sigma_S`` with ddof=0).
        - ``"critic"``: the rows with the highest ``critic(X, y)`` scores.
        - ``"random"``: a uniform random subset (``random_state``).
        - ``"none"``: the first ``counts[c]`` rows of the class.
    real_X, real_y : array-like or None
        Real training rows to cover or match (never test rows): the rows the generator
        was fitted on, or, as :class:`GANOverSampler` does after its gate, all of them;
        needed by ``"coverage"`` and ``"covariance"``. Same image shape as ``pool_X``.
    features : callable or None
        ``features(images) -> (n, d)`` array, the space that ``"coverage"`` and
        ``"covariance"`` work in; None uses the flattened pixels.
    critic : callable or None
        ``critic(X, y) -> (n,)`` scores, higher meaning more real (e.g. a fitted
        ConditionalGAN's ``discriminator_scores``); needed by ``"critic"``.
    random_state : int, numpy Generator or None
        Seeds ``"random"`` and the subsampling of large real classes; the other methods
        are deterministic (ties go to the earlier pool row).
    copy_guard : float, default 0 (off)
        ``"coverage"`` skips pool rows nearer a real row than ``copy_guard`` x the real
        rows' median nearest-neighbour distance (near-copies; 0.7 is the copy ratio the
        docs call copying), keeping the farthest rows when too few others remain. Other
        methods ignore it. See :data:`COPY_GUARD` for what it costs.

    Returns
    -------
    X : ndarray of float32, shape (sum(counts), C, H, W)
    y : ndarray, shape (sum(counts),)
        Classes in sorted order, each repeated its count (as
        :func:`~synthaug.over_sampling.draw_synthetic` returns them), ``pool_y``'s dtype;
        within a class the kept rows stay in pool order.

    Raises
    ------
    ConfigError
        Unknown method, a missing ``real_X``/``critic``, or a class whose pool holds fewer
        rows than its count (the pool factor is too small).
    InvalidDataError
        Malformed arrays, a class without real rows, or features/critic output of the
        wrong shape.

    Notes
    -----
    Facility location as a data-subset objective: Mirzasoleiman et al. 2020, "Coresets for
    Data-efficient Training of Machine Learning Models" (ICML). Covariance shrinkage:
    Ledoit and Wolf 2004, "A well-conditioned estimator for large-dimensional covariance
    matrices". Discriminator-based rejection: Azadi et al. 2019, "Discriminator Rejection
    Sampling" (ICLR). Selection reuses the generator's own samples: it cannot add modes
    the generator never produces, only keep the ones it produces rarely.

    Shape
    -----
    pool_X : ``(N, C, H, W)``, pool_y : ``(N,)``; real_X : ``(R, C, H, W)``, real_y :
    ``(R,)``; returns ``X (sum(counts), C, H, W)``, ``y (sum(counts),)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pool_X, pool_y = rng.random((40, 1, 4, 4)), np.repeat([0, 1], 20)
    >>> real_X, real_y = rng.random((6, 1, 4, 4)), np.array([0, 0, 0, 1, 1, 1])
    >>> X, y = select_samples(pool_X, pool_y, {0: 5, 1: 3}, method="coverage",
    ...                       real_X=real_X, real_y=real_y)
    >>> X.shape, y.tolist()
    ((8, 1, 4, 4), [0, 0, 0, 0, 0, 1, 1, 1])
    """
    images, labels, idx = _select(pool_X, pool_y, counts, method=method, real_X=real_X,
                                  real_y=real_y, features=features, critic=critic,
                                  random_state=random_state, copy_guard=copy_guard)
    return images[idx], labels[idx]


def draw_selected(generator, counts: Mapping[Any, int], random_state, *, select: str | None,
                  pool_factor: float = DEFAULT_POOL_FACTOR, real_X=None, real_y=None,
                  copy_guard: float = COPY_GUARD):
    """Draw ``counts`` from a fitted generator, through ``select`` when it is a method.

    The one place where "draw, then keep the best" happens (GANOverSampler and the study
    runner both call it). ``real_X``/``real_y`` are real training rows (never test rows;
    GANOverSampler passes all of them, held-back rows included, after its gate).
    ``select`` None or ``"none"`` is a plain :func:`~synthaug.over_sampling.draw_synthetic`;
    otherwise a pool of ``pool_factor`` times ``counts`` is drawn and :func:`select_samples`
    keeps ``counts`` of it (``copy_guard``: see there).

    Shape
    -----
    returns ``X (sum(counts), C, H, W)`` float32 and ``y (sum(counts),)``.
    """
    if select is None or select == "none":
        return draw_synthetic(generator, counts, random_state)
    pool_X, pool_y = draw_synthetic(generator, pool_size(counts, pool_factor), random_state)
    return select_samples(pool_X, pool_y, counts, method=select, real_X=real_X, real_y=real_y,
                          critic=getattr(generator, "discriminator_scores", None), random_state=random_state,
                          copy_guard=copy_guard)
