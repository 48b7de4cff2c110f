"""Fréchet distance and PRDC on sets with known answers, plus a brute-force PRDC reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from synthaug.exceptions import ConfigError, InvalidDataError
from synthaug.metrics import fidelity, fidelity_report, frechet_distance, prdc


def _exact_moments(rng, n, mean, cov):
    """Samples whose sample mean and (ddof=1) covariance equal ``mean`` and ``cov`` exactly."""
    d = len(mean)
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    # Whiten so that the sample covariance is exactly I, then colour with chol(cov).
    white = np.linalg.cholesky(np.cov(z, rowvar=False))
    z = np.linalg.solve(white, z.T).T
    return z @ np.linalg.cholesky(cov).T + mean


def _sym_sqrt(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_frechet_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(100, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_identity_covariances_is_squared_mean_distance():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([3.0, -1.0, 2.5])
    a = _exact_moments(rng, 60, mu1, np.eye(3))
    b = _exact_moments(rng, 80, mu2, np.eye(3))
    assert frechet_distance(a, b) == pytest.approx(np.sum((mu1 - mu2) ** 2))  # 13.25
    assert frechet_distance(a, b) == pytest.approx(13.25)


def test_frechet_matches_closed_form_for_general_gaussians():
    rng = np.random.default_rng(2)
    c1 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
    c2 = np.array([[1.0, -0.2, 0.1], [-0.2, 3.0, 0.0], [0.1, 0.0, 0.7]])
    mu1, mu2 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0])
    a = _exact_moments(rng, 200, mu1, c1)
    b = _exact_moments(rng, 150, mu2, c2)
    # Symmetric form of tr((C1 C2)^(1/2)): tr((C1^(1/2) C2 C1^(1/2))^(1/2)), a different route.
    r1 = _sym_sqrt(c1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(_sym_sqrt(r1 @ c2 @ r1))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # Diagonal case has the textbook form sum (sqrt(s1) - sqrt(s2))^2.
    d1, d2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    a2 = _exact_moments(rng, 50, np.zeros(2), d1)
    b2 = _exact_moments(rng, 50, np.zeros(2), d2)
    assert frechet_distance(a2, b2) == pytest.approx((1 - 3) ** 2 + (2 - 1) ** 2)


def test_frechet_is_symmetric_and_grows_with_shift():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(70, 4)) * 1.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-7)
    assert frechet_distance(a, a + 3.0) == pytest.approx(4 * 9.0)
    assert frechet_distance(a, a + 1.0) < frechet_distance(a, a + 2.0)


def test_frechet_singular_covariance_falls_back_and_stays_finite():
    # Fewer samples than features, and constant features: covariances are singular.
    rng = np.random.default_rng(4)
    a = rng.normal(size=(5, 20))
    assert math.isfinite(frechet_distance(a, rng.normal(size=(6, 20))))
    c = np.zeros((5, 3))
    assert frechet_distance(c, c) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(c, c + 1.0) == pytest.approx(3.0, abs=1e-9)


def test_frechet_one_feature_column():
    a = np.array([[0.0], [2.0]])  # mean 1, var 2
    b = np.array([[3.0], [5.0]])  # mean 4, var 2
    assert frechet_distance(a, b) == pytest.approx(9.0)


@pytest.mark.parametrize(
    "a, b, exc, match",
    [
        (np.zeros(5), np.zeros((5, 1)), InvalidDataError, r"reshape\(-1, 1\)"),
        (np.zeros((5, 2)), np.zeros((5, 3)), InvalidDataError, "2 features per row but features_b has 3"),
        (np.zeros((1, 2)), np.zeros((5, 2)), InvalidDataError, "features_a has 1 rows; .* at least 2"),
        (np.full((3, 2), np.nan), np.zeros((5, 2)), InvalidDataError, "NaN or infinite"),
    ],
)
def test_frechet_invalid_inputs(a, b, exc, match):
    with pytest.raises(exc, match=match):
        frechet_distance(a, b)


def _prdc_bruteforce(real, fake, k):
    """The paper's definitions written out with explicit per-pair distances (open balls)."""
    real, fake = np.asarray(real, float), np.asarray(fake, float)
    dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    drr, dff, drf = dist(real, real), dist(fake, fake), dist(real, fake)
    r = np.sort(drr, axis=1)[:, k]  # column 0 is the point itself
    s = np.sort(dff, axis=1)[:, k]
    inside = drf < r[:, None]  # (N, M): fake j in ball of real i
    return {
        "precision": inside.any(axis=0).mean(),
        "recall": (drf < s[None, :]).any(axis=1).mean(),
        "density": inside.sum() / (k * fake.shape[0]),
        "coverage": inside.any(axis=1).mean(),
    }


def test_prdc_identical_sets():
    real = np.random.default_rng(5).normal(size=(60, 4))
    out = prdc(real, real.copy(), k=5)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    # Open balls: each point is in its own ball and in k-1 neighbours' balls -> exactly 1.
    assert out["density"] == pytest.approx(1.0)


def test_prdc_far_away_fake_set():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(40, 3))
    out = prdc(real, rng.normal(size=(30, 3)) + 50.0, k=5)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_hand_built_one_dimensional_example():
    # k=1. Real points and their 1-NN radii: -10 (10), 0 (1), 1 (1), 3 (2), 6 (3).
    # Open real balls: (-20, 0), (-1, 1), (0, 2), (1, 5), (3, 9).
    # Fakes: 0.5 in 2 balls, 1.5 in 2, 4 in 2, 10 in none -> precision 3/4, density 6/4.
    # Fake 1-NN radii: 0.5 (1), 1.5 (1), 4 (2.5), 10 (6): balls (-0.5, 1.5), (0.5, 2.5),
    # (1.5, 6.5), (4, 16) hold reals 0, 1, 3, 6 but not -10 -> recall 4/5.
    # Real balls holding a fake: all but (-20, 0) -> coverage 4/5.
    real = np.array([[-10.0], [0.0], [1.0], [3.0], [6.0]])
    fake = np.array([[0.5], [1.5], [4.0], [10.0]])
    out = prdc(real, fake, k=1)
    assert out["precision"] == pytest.approx(0.75)
    assert out["density"] == pytest.approx(1.5)
    assert out["recall"] == pytest.approx(0.8)
    assert out["coverage"] == pytest.approx(0.8)


def test_prdc_mode_collapse_has_precision_but_no_coverage():
    real = np.arange(50, dtype=float)[:, None]  # 1-NN radius 1 everywhere
    fake = 10.0 + np.linspace(0.05, 0.45, 9)[:, None]  # all inside real 10's ball
    out = prdc(real, fake, k=1)
    assert out["precision"] == 1.0
    assert out["coverage"] == pytest.approx(2 / 50)  # balls of 10 and 11
    assert out["recall"] <= 2 / 50


def test_prdc_spread_out_fakes_have_recall_but_no_precision():
    # Reals in a tiny cluster; 8 fakes on a circle of radius 3 whose 3-NN radius
    # (chord over 3 steps, about 5.54) reaches the centre.
    rng = np.random.default_rng(7)
    real = rng.normal(scale=0.01, size=(30, 2))
    angles = np.arange(8) * 2 * np.pi / 8
    fake = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    out = prdc(real, fake, k=3)
    assert out == {"precision": 0.0, "recall": 1.0, "density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize("seed", range(3))
def test_prdc_matches_bruteforce_definition(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(40, 5))
    fake = rng.normal(loc=0.3, scale=1.2, size=(35, 5))
    out = prdc(real, fake, k=4)
    expected = _prdc_bruteforce(real, fake, k=4)
    for key in expected:
        assert out[key] == pytest.approx(expected[key]), key
    assert 0 < out["precision"] < 1 and 0 < out["coverage"] < 1


def test_prdc_blocking_does_not_change_result(monkeypatch):
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(23, 3)), rng.normal(size=(17, 3))
    full = prdc(real, fake, k=3)
    monkeypatch.setattr(fidelity, "_BLOCK", 4)
    assert prdc(real, fake, k=3) == full
    assert prdc(real, fake[::-1], k=3) == full  # order of fakes is irrelevant


def test_prdc_invariant_to_large_offset():
    # Centring protects the expanded distance formula from big feature norms.
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    assert prdc(real + 1e4, fake + 1e4, k=3) == prdc(real, fake, k=3)


def test_prdc_one_far_outlier_does_not_disturb_other_decisions():
    rng = np.random.default_rng(11)
    real = rng.normal(size=(30, 4))
    fake = np.concatenate([rng.normal(size=(29, 4)), np.full((1, 4), 1e6)])
    assert prdc(real, fake, k=3) == pytest.approx(_prdc_bruteforce(real, fake, k=3))


def test_prdc_exact_ties_on_a_grid_follow_open_balls():
    # Integer grids have many exact ties on ball boundaries; they must be decided exactly.
    xs, ys = np.meshgrid(np.arange(6.0), np.arange(5.0))
    real = np.column_stack([xs.ravel(), ys.ravel()])  # exact in binary floating point
    fake = np.concatenate([real[::2], real[:7] + np.array([0.5, 0.0]), real[3:9] + 1.0])
    for k in (1, 2, 4):
        assert prdc(real, fake, k=k) == pytest.approx(_prdc_bruteforce(real, fake, k=k)), k


def test_prdc_invalid_inputs():
    x = np.zeros((10, 2))
    with pytest.raises(InvalidDataError, match="fake_features has 5 rows; this metric needs at least 6"):
        prdc(x, np.zeros((5, 2)), k=5)
    with pytest.raises(ConfigError, match="k must be a positive int"):
        prdc(x, x, k=0)
    with pytest.raises(InvalidDataError, match="embed both sets with the same feature extractor"):
        prdc(x, np.zeros((10, 3)), k=2)


def test_fidelity_report_rows_and_nan_for_small_classes():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(30, 3))
    real_y = np.array([0] * 20 + [1] * 10)
    fake = np.concatenate([real[:20] + 0.01, rng.normal(size=(3, 3)), rng.normal(size=(4, 3))])
    fake_y = np.array([0] * 20 + [1] * 3 + [2] * 4)  # class 1 too small for k=5; class 2 fake-only
    report = fidelity_report(real, real_y, fake, fake_y, k=5)
    assert isinstance(report, pd.DataFrame)
    assert list(report.columns) == ["class", "n_real", "n_fake", "frechet_distance", "precision",
                                    "recall", "density", "coverage"]
    assert report["class"].tolist() == ["all", 0, 1, 2]
    assert report["n_real"].tolist() == [30, 20, 10, 0]
    assert report["n_fake"].tolist() == [27, 20, 3, 4]

    rows = report.set_index("class")
    all_prdc = prdc(real, fake, k=5)
    for key, value in all_prdc.items():
        assert rows.loc["all", key] == pytest.approx(value)
    assert rows.loc["all", "frechet_distance"] == pytest.approx(frechet_distance(real, fake))
    assert rows.loc[0, "precision"] == 1.0 and rows.loc[0, "coverage"] == 1.0
    assert rows.loc[0, "frechet_distance"] == pytest.approx(3 * 0.01**2)  # same cov, shifted
    # Class 1: Fréchet distance is defined (>= 2 rows each), PRDC is not (needs > k).
    assert math.isfinite(rows.loc[1, "frechet_distance"])
    assert rows.loc[1, ["precision", "recall", "density", "coverage"]].isna().all()
    # Class 2 has no real rows at all: everything NaN, no exception.
    assert rows.loc[2, ["frechet_distance", "precision", "recall", "density", "coverage"]].isna().all()


def test_fidelity_report_label_length_mismatch():
    x = np.zeros((6, 2))
    with pytest.raises(InvalidDataError, match=r"real_labels has shape \(5,\) but real_features has 6 rows"):
        fidelity_report(x, np.zeros(5), x, np.zeros(6))
