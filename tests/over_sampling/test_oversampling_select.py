"""Sample selection from an over-generated pool: counts, provenance, each method's objective."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from synthaug.exceptions import ConfigError, InvalidDataError
from synthaug.metrics import prdc
from synthaug.over_sampling import select as select_module
from synthaug.over_sampling.select import (
    SELECTION_METHODS,
    _real_moments,
    pool_size,
    select_indices,
    select_samples,
)

METHODS = sorted(SELECTION_METHODS)


def _pool(n_per_class=30, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n_per_class * n_classes, 1, 4, 4)).astype(np.float32)
    y = np.tile(np.arange(n_classes), n_per_class)  # classes interleaved, not grouped
    return X, y


def _real(n_per_class=5, n_classes=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n_per_class * n_classes, 1, 4, 4)), np.repeat(np.arange(n_classes), n_per_class)


def _critic(X, y):
    return X.reshape(len(X), -1).mean(axis=1)  # brighter is "more real"


def _run(method, pool_X, pool_y, counts, **kw):
    real_X, real_y = _real()
    return select_samples(pool_X, pool_y, counts, method=method, real_X=real_X, real_y=real_y,
                          critic=_critic, **kw)


@pytest.mark.parametrize("method", METHODS + [None])
def test_exact_counts_and_rows_come_from_the_pool_class(method):
    pool_X, pool_y = _pool()
    counts = {2: 4, 0: 7, 1: 0}
    X, y = _run(method, pool_X, pool_y, counts, random_state=0)
    assert y.tolist() == [0] * 7 + [2] * 4  # sorted classes, zero counts skipped
    assert X.shape == (11, 1, 4, 4) and X.dtype == np.float32
    flat_pool = pool_X.reshape(len(pool_X), -1)
    for img, label in zip(X.reshape(len(X), -1), y):
        match = np.flatnonzero((flat_pool == img).all(axis=1))
        assert len(match) == 1 and pool_y[match[0]] == label
    assert len({img.tobytes() for img in X}) == len(X)  # no row kept twice


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_under_random_state(method):
    pool_X, pool_y = _pool()
    a = _run(method, pool_X, pool_y, {0: 6, 1: 6, 2: 6}, random_state=3)
    b = _run(method, pool_X, pool_y, {0: 6, 1: 6, 2: 6}, random_state=3)
    np.testing.assert_array_equal(a[0], b[0])


def test_none_keeps_the_first_rows_of_each_class():
    pool_X, pool_y = _pool()
    idx = select_indices(pool_X, pool_y, {0: 2, 1: 3}, method="none")
    assert idx.tolist() == [0, 3, 1, 4, 7]


def test_random_depends_on_the_seed():
    pool_X, pool_y = _pool()
    draws = {tuple(select_indices(pool_X, pool_y, {0: 5}, method="random", random_state=s))
             for s in range(5)}
    assert len(draws) > 1


def test_critic_keeps_the_highest_scores():
    pool_X, pool_y = _pool()
    idx = select_indices(pool_X, pool_y, {0: 5, 1: 2}, method="critic", critic=_critic)
    scores = _critic(pool_X, pool_y)
    for c, n in ((0, 5), (1, 2)):
        rows = np.flatnonzero(pool_y == c)
        best = rows[np.argsort(-scores[rows])[:n]]
        assert sorted(idx[pool_y[idx] == c]) == sorted(best)


def test_critic_is_called_with_pool_rows_and_labels():
    pool_X, pool_y = _pool()
    seen = {}

    def critic(X, y):
        seen["y"] = np.asarray(y)
        return np.zeros(len(X))

    select_indices(pool_X, pool_y, {1: 2}, method="critic", critic=critic)
    assert set(seen["y"].tolist()) == {1} and len(seen["y"]) == 30


def _clusters(n_points, centres, rng, spread=0.02):
    pts = np.concatenate([c + spread * rng.standard_normal((n_points, 2)) for c in centres])
    return np.clip(pts, 0, 1)


def test_coverage_reaches_clusters_a_random_subset_misses():
    # Five real clusters; the "generator" collapsed: 90% of its pool sits in cluster 0.
    rng = np.random.default_rng(0)
    centres = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.5, 0.5]])
    real = _clusters(8, centres, rng)  # (40, 2)
    pool = np.concatenate([_clusters(180, centres[:1], rng), _clusters(5, centres[1:], rng)])
    as_images = lambda a: a.reshape(len(a), 1, 1, 2)  # noqa: E731
    pool_y, real_y = np.zeros(len(pool), int), np.zeros(len(real), int)

    def select(method, seed=0):
        X, _ = select_samples(as_images(pool), pool_y, {0: 10}, method=method,
                              real_X=as_images(real), real_y=real_y, random_state=seed)
        return X.reshape(len(X), 2)

    def clusters_hit(S):
        return len(set(np.argmin(np.linalg.norm(S[:, None] - centres[None], axis=2), axis=1)))

    chosen = select("coverage")
    randoms = [select("random", s) for s in range(10)]
    assert clusters_hit(chosen) == 5
    assert np.mean([clusters_hit(S) for S in randoms]) < 3
    random_cov = np.mean([prdc(real, S, k=3)["coverage"] for S in randoms])
    assert prdc(real, chosen, k=3)["coverage"] > random_cov + 0.3


def test_coverage_spreads_samples_when_keeping_more_than_the_real_rows():
    # 2 real rows, 6 kept: m = 3, so each real row gets 3 nearby samples (not 5 + 1).
    # Every pool row here sits near a real row: the copy guard (tested below) is off.
    rng = np.random.default_rng(0)
    real = np.array([[0.2, 0.2], [0.8, 0.8]])
    pool = np.concatenate([_clusters(30, real[:1], rng), _clusters(3, real[1:], rng)])
    X, _ = select_samples(pool.reshape(-1, 1, 1, 2), np.zeros(len(pool), int), {0: 6},
                          method="coverage", real_X=real.reshape(-1, 1, 1, 2), real_y=[0, 0], copy_guard=0)
    near_second = np.linalg.norm(X.reshape(6, 2) - real[1], axis=1) < 0.2
    assert near_second.sum() == 3


def _moment_mismatch(S, real):
    mu_r, cov_r = _real_moments(real)
    cov = np.cov(S, rowvar=False, ddof=0)
    return float(((S.mean(0) - mu_r) ** 2).sum() + ((cov - cov_r) ** 2).sum())


def test_covariance_reduces_the_moment_mismatch():
    rng = np.random.default_rng(0)
    real = rng.normal(0.5, 0.15, (10, 6)).clip(0, 1)
    # A biased pool: shifted and too narrow, with a few good rows mixed in.
    pool = np.concatenate([rng.normal(0.6, 0.03, (150, 6)), rng.normal(0.5, 0.15, (50, 6))]).clip(0, 1)
    pool = pool[rng.permutation(len(pool))]
    X, _ = select_samples(pool.reshape(-1, 1, 1, 6), np.zeros(len(pool), int), {0: 30},
                          method="covariance", real_X=real.reshape(-1, 1, 1, 6), real_y=np.zeros(10, int))
    selected = _moment_mismatch(X.reshape(30, 6).astype(np.float64), real)
    first = _moment_mismatch(pool[:30], real)
    assert selected < 0.5 * first


def test_covariance_greedy_matches_brute_force():
    from synthaug.over_sampling.select import _select_covariance

    rng = np.random.default_rng(1)
    pool, real = rng.random((25, 3)), rng.random((6, 3))
    chosen = []
    for _ in range(6):
        rest = [j for j in range(25) if j not in chosen]
        chosen.append(min(rest, key=lambda j: _moment_mismatch(pool[chosen + [j]], real)))
    fast = _select_covariance(6, n_pool=25, pool=pool, real=real, scores=None, rng=None)
    assert fast.tolist() == chosen


def test_features_callable_defines_the_space():
    # Features that see only the first pixel: coverage then ignores the other pixels.
    rng = np.random.default_rng(0)
    pool_X, real_X = rng.random((40, 1, 1, 2)), rng.random((5, 1, 1, 2))
    first_pixel = lambda X: X.reshape(len(X), -1)[:, :1]  # noqa: E731
    kw = dict(method="coverage", real_X=real_X, real_y=np.zeros(5, int))
    a = select_indices(pool_X, np.zeros(40, int), {0: 5}, features=first_pixel, **kw)
    b = select_indices(pool_X, np.zeros(40, int), {0: 5}, **kw)
    assert a.tolist() != b.tolist()
    with pytest.raises(InvalidDataError, match=r"features\(pool_X\) returned shape"):
        select_indices(pool_X, np.zeros(40, int), {0: 5}, features=lambda X: X[:, 0, 0, 0], **kw)


def test_pool_too_small_raises_config_error():
    pool_X, pool_y = _pool(n_per_class=3)
    with pytest.raises(ConfigError, match="pool holds 3 rows of class 1 but 4 are to be kept; the pool factor is too small"):
        _run("coverage", pool_X, pool_y, {0: 2, 1: 4})


@pytest.mark.parametrize("method, kwargs, match", [
    ("coverage", {}, "needs real_X and real_y"),
    ("critic", {}, "needs critic"),
    ("best", {}, "method='best' is not supported"),
])
def test_missing_inputs_and_bad_method_are_config_errors(method, kwargs, match):
    pool_X, pool_y = _pool()
    with pytest.raises(ConfigError, match=match):
        select_samples(pool_X, pool_y, {0: 2}, method=method, **kwargs)


def test_class_without_real_rows_is_refused():
    pool_X, pool_y = _pool()
    real_X, real_y = _real(n_classes=2)
    with pytest.raises(InvalidDataError, match="real_y has no rows of class 2"):
        select_samples(pool_X, pool_y, {2: 2}, method="covariance", real_X=real_X, real_y=real_y)


def test_pool_size():
    assert pool_size({1: 5, 0: 2}) == {0: 16, 1: 40}  # the default factor, 8
    assert pool_size({1: 5, 0: 2}, factor=4) == {0: 8, 1: 20}
    assert pool_size({0: 3}, factor=1.5) == {0: 5}
    with pytest.raises(ConfigError, match="pool factor"):
        pool_size({0: 3}, factor=0.5)
    with pytest.raises(ConfigError, match=r"counts\[0\]"):
        pool_size({0: -1})


def test_docstring_examples():
    result = doctest.testmod(select_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_coverage_skips_near_copies_of_the_real_rows():
    # Real rows 0.5 apart (their median nearest-neighbour distance): near-copies lie within 0.35 of one.
    real = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [0.5, 0.5]])
    copies = real + 0.01
    fresh = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.5]])  # >= 0.5 from every real row
    pool = np.concatenate([copies, fresh])
    kw = dict(method="coverage", real_X=real.reshape(-1, 1, 1, 2), real_y=np.zeros(4, int))
    guard = dict(copy_guard=0.7)
    X, _ = select_samples(pool.reshape(-1, 1, 1, 2), np.zeros(8, int), {0: 4}, **kw, **guard)
    np.testing.assert_allclose(np.sort(X.reshape(4, 2), axis=0), np.sort(fresh, axis=0), atol=1e-6)
    # Fewer non-copies than wanted: the farthest rows are kept rather than failing.
    X, _ = select_samples(pool.reshape(-1, 1, 1, 2), np.zeros(8, int), {0: 6}, **kw, **guard)
    assert len(X) == 6 and sum(np.allclose(x, f) for x in X.reshape(6, 2) for f in fresh) == 4
    # The default (0) is off: the copies cover the real rows best.
    X, _ = select_samples(pool.reshape(-1, 1, 1, 2), np.zeros(8, int), {0: 4}, **kw)
    np.testing.assert_allclose(np.sort(X.reshape(4, 2), axis=0), np.sort(copies, axis=0), atol=1e-6)
