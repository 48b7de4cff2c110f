"""The arms table: each arm's grid, reported ratio and training set, and SMOTE."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from synthaug.experiment import ALL_ARMS, ARMS, ExperimentConfig, run_experiment
from synthaug.experiment.arms import (
    Arm,
    ArmInputs,
    draw_name,
    sample_weights,
    smote,
    synthetic_counts,
    training_set,
    with_added,
)

CFG = ExperimentConfig(ratios=(0.5, 2.0), mix_ratio=1.0, classic_copies=2, robustness=True)


def inputs(arm_ratio=None, synthetic=None, n=(4, 2)):
    """A real subsample with ``n[k]`` images of class k, and synthetic sets by draw name."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(n)), n)
    X = rng.random((len(y), 1, 4, 4)).astype(np.float32)
    if synthetic is None:
        synthetic = {}
        for ratio in (*CFG.ratios, CFG.mix_ratio, None):
            counts = synthetic_counts(y, ratio)
            labels = np.repeat(list(counts), list(counts.values())).astype(np.int64)
            synthetic[draw_name(ratio)] = (rng.random((len(labels), 1, 4, 4)).astype(np.float32), labels)
    return ArmInputs(seed=0, train_size="4", ratio=arm_ratio, X=X, y=y, synthetic=synthetic, config=CFG)


def test_table_order_and_flags():
    assert ALL_ARMS == tuple(ARMS) == ("real", "classic", "noise", "smote", "gan", "gan_balance", "gan_classic",
                                       "tstr", "adv_real", "adv_gan")
    assert all(name == arm.name for name, arm in ARMS.items())
    assert {n for n, a in ARMS.items() if a.needs_generator} == {"gan", "gan_balance", "gan_classic",
                                                                "tstr", "adv_gan"}
    assert {n for n, a in ARMS.items() if a.adversarial} == {"adv_real", "adv_gan"}
    assert [n for n, a in ARMS.items() if a.requires] == ["smote"]


@pytest.mark.parametrize("arm, grid, reported", [
    ("real", (None,), [math.nan]),
    ("classic", (None,), [2.0]),
    ("noise", (None,), [1.0]),
    ("smote", (1.0,), [1.0]),
    ("gan", (0.5, 2.0), [0.5, 2.0]),
    ("gan_balance", (None,), [math.nan]),
    ("gan_classic", (1.0,), [1.0]),
    ("tstr", (1.0,), [1.0]),
    ("adv_real", (None,), [math.nan]),
    ("adv_gan", (1.0,), [1.0]),
])
def test_grid_and_reported_ratio(arm, grid, reported):
    assert tuple(ARMS[arm].grid(CFG)) == grid
    got = [ARMS[arm].reported(CFG, r) for r in grid]
    np.testing.assert_array_equal(got, reported)


@pytest.mark.parametrize("arm, ratio, n_rows, n_added", [
    ("real", None, 6, 0),
    ("adv_real", None, 6, 0),
    ("classic", None, 18, 12),          # two copies of each of the 6 real images
    ("noise", None, 12, 6),             # one noisy copy of each
    ("smote", 1.0, 12, 6),              # as many as the ratio-1 GAN arm
    ("gan", 0.5, 9, 3),                 # round(0.5 * 4) + round(0.5 * 2)
    ("gan", 2.0, 18, 12),
    ("gan_balance", None, 8, 2),        # class 1 topped up to 4
    ("gan_classic", 1.0, 24, 18),
    ("tstr", 1.0, 6, 6),                # synthetic only
    ("adv_gan", 1.0, 12, 6),
])
def test_training_sets(arm, ratio, n_rows, n_added):
    X, y, n_syn = training_set(arm, inputs(ratio))
    assert X.shape == (n_rows, 1, 4, 4) and X.dtype == np.float32 and y.dtype == np.int64
    assert len(y) == n_rows and n_syn == n_added
    if arm != "tstr":
        np.testing.assert_array_equal(X[:6], inputs(ratio).X)  # real rows first


@pytest.mark.parametrize("arm", [n for n, a in ARMS.items() if a.needs_generator])
def test_generator_arms_put_the_drawn_rows_last(arm):
    # sample_weights relies on it: the drawn set is the tail of every generator arm's set.
    inp = inputs(ARMS[arm].grid(CFG)[0])
    X, y, _ = training_set(arm, inp)
    drawn_X, drawn_y = inp.drawn()
    np.testing.assert_array_equal(X[len(X) - len(drawn_X):], drawn_X)
    np.testing.assert_array_equal(y[len(y) - len(drawn_y):], drawn_y)


@pytest.mark.parametrize("arm, ratio, n_real", [("gan", 2.0, 6), ("gan_balance", None, 6),
                                                ("gan_classic", 1.0, 18), ("adv_gan", 1.0, 6)])
def test_sample_weights_weigh_the_drawn_rows(arm, ratio, n_real):
    inp = dataclasses.replace(inputs(ratio), config=CFG.replace(synthetic_weight=0.25))
    n_rows = len(training_set(arm, inp)[0])
    w = sample_weights(arm, inp, n_rows)
    assert w.shape == (n_rows,) and w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w[n_real:], 0.25 * w[0])  # classic copies count as real rows
    np.testing.assert_array_equal(w[:n_real], w[0])


def test_sample_weights_are_none_when_every_row_weighs_the_same():
    weighted = CFG.replace(synthetic_weight=3.0)
    assert sample_weights("gan", inputs(2.0), 18) is None  # synthetic_weight = 1 (the default)
    for arm, ratio, n in (("real", None, 6), ("classic", None, 18), ("smote", 1.0, 12), ("tstr", 1.0, 6)):
        assert sample_weights(arm, dataclasses.replace(inputs(ratio), config=weighted), n) is None, arm
    assert sample_weights("gan", dataclasses.replace(inputs(2.0), config=weighted), 18) is not None


def test_generator_arms_are_skipped_without_their_synthetic_set():
    for arm in ("gan", "gan_balance", "gan_classic", "tstr", "adv_gan"):
        assert training_set(arm, inputs(ARMS[arm].grid(CFG)[0], synthetic={})) is None
    assert training_set("real", inputs(None, synthetic={})) is not None


def test_draw_names_name_one_set_per_ratio():
    assert draw_name(None) == "balance" and draw_name(1.0) == "ratio=1.0" and draw_name(0.5) == "ratio=0.5"
    assert synthetic_counts(np.array([0, 0, 0, 0, 1, 1]), None) == {0: 0, 1: 2}


def test_default_arms_follow_each_entry():
    assert ExperimentConfig().resolved_arms() == ("real", "classic", "smote", "gan", "gan_balance",
                                                  "gan_classic", "tstr")
    assert "gan_balance" not in ExperimentConfig(balance=False).resolved_arms()
    assert ExperimentConfig(robustness=True).resolved_arms() == tuple(a for a in ALL_ARMS if a != "noise")
    assert "noise" in ExperimentConfig(arms=("noise",)).resolved_arms()  # a control: only when listed
    assert "adv_real" not in ExperimentConfig(robustness=True, classifiers=("logreg",)).resolved_arms()
    # real is always run: it is the baseline of every paired comparison.
    assert ExperimentConfig(arms=("gan",)).resolved_arms() == ("real", "gan")
    assert not ExperimentConfig(arms=("classic",), quality=False).needs_generator()
    # The quality report alone fits no generator: it describes the samples arms use.
    assert not ExperimentConfig(arms=("real", "classic", "noise"), quality=True).needs_generator()
    assert ExperimentConfig(arms=("tstr",), quality=False).needs_generator()


def test_a_new_arm_is_one_table_entry(monkeypatch, tiny_config, toy3):
    mirrored = Arm("mirrored", build=lambda inp: with_added(inp, (inp.X[..., ::-1], inp.y)),
                   reported=lambda cfg, ratio: 1.0)
    monkeypatch.setitem(ARMS, "mirrored", mirrored)
    report = run_experiment(toy3(8), tiny_config.replace(arms=("real", "mirrored")))
    r = report.results.set_index("arm")
    assert list(r.index) == ["real", "mirrored"]
    assert r.loc["mirrored", "n_train_synthetic"] == r.loc["real", "n_train_real"]
    assert r.loc["mirrored", "ratio"] == 1.0


def test_smote_lowers_k_for_tiny_classes():
    rng = np.random.default_rng(0)
    X = rng.random((7, 1, 4, 4)).astype(np.float32)
    y = np.array([0, 0, 0, 0, 0, 1, 1])  # class 1 has 2 images: k must drop to 1
    xs, ys = smote(X, y, {0: 5, 1: 4}, k_neighbors=5, random_state=0)
    assert xs.shape == (9, 1, 4, 4) and np.bincount(ys).tolist() == [5, 4]
    assert xs.min() >= 0 and xs.max() <= 1
    # a SMOTE point lies between two class-1 images
    lo, hi = X[5:].min(axis=0), X[5:].max(axis=0)
    assert np.all((xs[ys == 1] >= lo - 1e-6) & (xs[ys == 1] <= hi + 1e-6))


def test_single_image_class_is_repeated():
    X = np.random.default_rng(1).random((4, 1, 4, 4)).astype(np.float32)
    y = np.array([0, 0, 0, 1])
    xs, ys = smote(X, y, {0: 2, 1: 3}, k_neighbors=5, random_state=0)
    np.testing.assert_array_equal(xs[ys == 1], np.repeat(X[3:], 3, axis=0))


def test_noise_arm_adds_noisy_copies_of_the_real_images():
    from synthaug.experiment.arms import NOISE_STD

    inp = inputs()
    X, y, n_added = training_set("noise", inp)
    added = X[6:]
    np.testing.assert_array_equal(y, np.tile(inp.y, 2))
    assert added.min() >= 0 and added.max() <= 1 and n_added == 6
    diff = (added - inp.X)[(inp.X > 0.2) & (inp.X < 0.8)]  # away from the clip at 0 and 1
    assert abs(diff.std() - NOISE_STD) < 0.03 and abs(diff.mean()) < 0.03
    np.testing.assert_array_equal(training_set("noise", inputs())[0], X)  # seeded: the same copies


def test_a_study_without_generator_arms_fits_no_generator(monkeypatch, tiny_config, toy3):
    # The quality report describes the samples arms use; with none, nothing is fitted for it.
    from synthaug.experiment import jobs

    def no_fit(*args, **kwargs):
        raise AssertionError("a generator was built although no arm uses one")

    monkeypatch.setattr(jobs, "make_generator", no_fit)
    report = run_experiment(toy3(8), tiny_config.replace(arms=("real", "classic"), quality=True))
    assert sorted(report.results["arm"].unique()) == ["classic", "real"]
    assert report.quality.empty
