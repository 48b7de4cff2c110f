"""The two jobs of a study's grid: prepare (per seed x size) and classify (per arm x ratio)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from synthaug.experiment.jobs import classify, prepare
from synthaug.seeding import derive_seed


def old_runner_seed(seed, *keys):
    """The runner's seed formula before it moved to synthaug.seeding: results must not change."""
    words = [int(seed)] + [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


@pytest.mark.parametrize("keys", [("gan", "10"), ("subsample", "all"), ("sample", "10", "ratio=0.5"),
                                  ("classifier", "all", "logreg"), ("robustness", "20")])
def test_job_streams_are_the_runners_old_ones(keys):
    for seed in (0, 1, 12345):
        assert derive_seed(seed, *keys, bits=32) == old_runner_seed(seed, *keys)
    assert derive_seed(0, *keys, bits=32) != derive_seed(1, *keys, bits=32)


def split(ds):
    return ds.images[:24], ds.labels[:24], ds.images[24:], ds.labels[24:]


def test_prepare_without_a_generator_only_subsamples(tiny_config, toy3):
    X, y, Xt, yt = split(toy3(10))
    out = prepare(0, 4, X, y, Xt, yt, 3, tiny_config.replace(arms=("real", "classic")), ("real", "classic"), True)
    assert out["train_size"] == "4" and np.bincount(y[out["subsample"]]).tolist() == [4, 4, 4]
    assert out["synthetic"] == {} and out["history"] is None and out["sample_grid"] is None


def test_prepare_draws_one_set_per_ratio_shared_by_arms(tiny_config, toy3):
    X, y, Xt, yt = split(toy3(10))
    cfg = tiny_config.replace(arms=("gan", "gan_balance", "tstr"), ratios=(0.5, 1.0), mix_ratio=1.0)
    arms = cfg.resolved_arms()
    a = prepare(0, "all", X, y, Xt, yt, 3, cfg, arms, False)
    assert list(a["synthetic"]) == ["ratio=0.5", "ratio=1.0", "balance"]  # tstr reuses ratio=1.0
    images, labels = a["synthetic"]["ratio=0.5"]
    assert images.shape[1:] == X.shape[1:] and images.dtype == np.float32
    assert np.bincount(labels).tolist() == np.round(0.5 * np.bincount(y)).astype(int).tolist()
    b = prepare(0, "all", X, y, Xt, yt, 3, cfg, arms, False)  # seeded by its coordinates
    for name in a["synthetic"]:
        np.testing.assert_array_equal(a["synthetic"][name][0], b["synthetic"][name][0])
    assert not a["history"].empty and set(a["history"]["seed"]) == {0}


def test_classify_rows_and_reported_ratio(tiny_config, toy3):
    X, y, Xt, yt = split(toy3(10))
    rows, robust = classify(0, "all", "classic", None, X, y, {}, Xt, yt, np.arange(6), 3,
                            tiny_config.replace(classic_copies=2, classifiers=("logreg", "random_forest")))
    assert [r["classifier"] for r in rows] == ["logreg", "random_forest"] and robust == []
    assert all(r["ratio"] == 2.0 and r["n_train_real"] == 24 and r["n_train_synthetic"] == 48 for r in rows)
    # a generator arm whose synthetic set is missing (diverged generator) is skipped
    assert classify(0, "all", "gan", 1.0, X, y, {}, Xt, yt, np.arange(6), 3, tiny_config) == ([], [])


def test_sklearn_models_without_a_cnn_get_corruption_scores_only(tiny_config, toy3):
    X, y, Xt, yt = split(toy3(10))
    cfg = tiny_config.replace(robustness=True, robust_corruptions=("contrast",), robust_severities=(2,))
    rows, robust = classify(0, "all", "real", None, X, y, {}, Xt, yt, np.arange(6), 3, cfg)
    (df,) = robust
    assert set(df["kind"]) == {"corruption"} and set(df["perturbation"]) == {"contrast"}
    assert (df["arm"] == "real").all() and (df["classifier"] == "logreg").all() and (df["n"] == 6).all()
