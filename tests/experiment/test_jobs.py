"""The two jobs of a study's grid: prepare (per seed x size) and classify (per arm x ratio)."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from synthaug.experiment import jobs
from synthaug.experiment.jobs import classify, prepare
from synthaug.metrics import fidelity_report
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


def fit_spy(monkeypatch):
    """Record the keyword arguments of every downstream classifier's ``fit``."""
    calls = []
    real_make = jobs.make_classifier

    def make(name, config, random_state, **kw):
        clf = real_make(name, config, random_state, **kw)
        fit = clf.fit

        def spy(X, y, **fit_kw):
            calls.append((name, len(X), fit_kw, clf))
            return fit(X, y, **fit_kw)

        clf.fit = spy
        return clf

    monkeypatch.setattr(jobs, "make_classifier", make)
    return calls


def test_classify_weighs_synthetic_rows_only_when_asked(monkeypatch, tiny_config, toy3):
    X, y, Xt, yt = split(toy3(10))
    syn = {"ratio=1.0": (1 - X, y.copy())}  # stand-in synthetic rows
    calls = fit_spy(monkeypatch)
    cfg = tiny_config.replace(classifiers=("logreg", "random_forest"))
    plain, _ = classify(0, "all", "gan", 1.0, X, y, syn, Xt, yt, np.arange(6), 3, cfg)
    assert [c[2] for c in calls] == [{}, {}]  # weight 1: fitted exactly as before
    plain_coef = calls[0][3].steps[-1][1].coef_
    assert [r["synthetic_weight"] for r in plain] == [1.0, 1.0]
    calls.clear()
    weighted, _ = classify(0, "all", "gan", 1.0, X, y, syn, Xt, yt, np.arange(6), 3,
                           cfg.replace(synthetic_weight=0.25))
    (_, n, kw, logreg), _ = calls
    w = kw["sample_weight"]
    assert n == 48 and w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w[24:], 0.25 * w[:24])  # the synthetic rows come after the real ones
    assert [r["synthetic_weight"] for r in weighted] == [0.25, 0.25]
    assert not np.allclose(logreg.steps[-1][1].coef_, plain_coef)  # the weights reach the model
    calls.clear()
    (real_row,), _ = classify(0, "all", "real", None, X, y, {}, Xt, yt, np.arange(6), 3,
                              tiny_config.replace(synthetic_weight=0.25))
    assert calls[0][2] == {} and np.isnan(real_row["synthetic_weight"])


def test_gate_verdict_gets_the_samples_and_the_real_reference(monkeypatch):
    seen = {}

    def judge(metrics, reference, n_classes):
        seen.update(metrics=metrics, reference=reference, n_classes=n_classes)
        return False, ["recall too low", "note: tiny"]

    monkeypatch.setattr(jobs, "judge", judge)
    names = ("trts_accuracy", "precision", "recall", "density", "coverage", "frechet_distance")
    table = pd.DataFrame({"class": ["all", "0"], "n_real": [40, 20],
                          **{n: [i / 10, 9.0] for i, n in enumerate(names)},
                          **{f"reference_{n}": [0.5 + i / 100, 9.0] for i, n in enumerate(names)}})
    assert jobs.gate_verdict(table, 4) == {"passed": False, "reasons": ["recall too low", "note: tiny"]}
    assert seen["n_classes"] == 4
    assert seen["metrics"] == {**{n: i / 10 for i, n in enumerate(names)}, "n_real": 40}
    assert seen["reference"]["accuracy"] == seen["reference"]["trts_accuracy"] == 0.5
    assert seen["reference"]["recall"] == 0.52 and seen["reference"]["precision"] == 0.51


def test_prepare_adds_reference_numbers_and_the_verdict(monkeypatch, tiny_config, toy3):
    monkeypatch.setattr(jobs, "judge", lambda m, r, k: (m["trts_accuracy"] >= 2, ["TRTS low", "note: x"]))
    X, y, Xt, yt = split(toy3(10))
    cfg = tiny_config.replace(arms=("gan",), ratios=(1.0,), quality=True, quality_max_samples=30)
    out = prepare(0, "all", X, y, Xt, yt, 3, cfg, ("real", "gan"), False)
    q = out["quality"]
    assert out["gate"] == {"passed": False, "reasons": ["TRTS low", "note: x"]}
    assert (q["gate_passed"] == False).all() and (q["gate_reasons"] == "TRTS low; note: x").all()
    ref = q.set_index("class")
    # the reference is the real training rows against the test rows, in the same feature space
    cnn = jobs.make_classifier("cnn", cfg, derive_seed(0, "quality_cnn", "all", bits=32)).fit(X, y)
    assert ref.loc["all", "reference_trts_accuracy"] == np.mean(cnn.predict(Xt) == yt)
    assert ref.loc["all", "reference_precision"] == fidelity_report(
        cnn.transform(Xt), yt, cnn.transform(X), y, k=5).loc[0, "precision"]
    assert not prepare(0, "all", X, y, Xt, yt, 3, cfg.replace(quality=False), ("real", "gan"), False)["gate"]


def test_equal_step_epochs_matches_the_real_only_arms_steps():
    assert jobs.equal_step_epochs(20, 32, n_rows=546, n_real=546) == 20  # the real-only arm itself
    assert jobs.equal_step_epochs(20, 32, n_rows=3 * 546, n_real=546) == 7  # 18 x 20 steps ~ 52 x 7
    assert jobs.equal_step_epochs(20, 32, n_rows=273, n_real=546) == 40  # a smaller set trains longer
    assert jobs.equal_step_epochs(2, 16, n_rows=1000, n_real=10) == 1  # never below one epoch


@pytest.mark.parametrize("equal", [False, True])
def test_cnn_equal_steps_scales_each_arms_epochs(monkeypatch, tiny_config, toy3, equal):
    X, y, Xt, yt = split(toy3(10))
    built = []
    real_make = jobs.make_named_classifier

    def spy(name, **params):
        built.append((name, params.get("epochs")))
        return real_make(name, **params)

    monkeypatch.setattr(jobs, "make_named_classifier", spy)
    cfg = tiny_config.replace(classifiers=("cnn", "logreg"), cnn_epochs=6, cnn_batch_size=8, cnn_equal_steps=equal,
                              classic_copies=2, robustness=False)
    classify(0, "all", "real", None, X, y, {}, Xt, yt, np.arange(6), 3, cfg)
    classify(0, "all", "classic", None, X, y, {}, Xt, yt, np.arange(6), 3, cfg)  # 24 real + 48 classic rows
    assert built == [("cnn", 6), ("logreg", None), ("cnn", 2 if equal else 6), ("logreg", None)]


def test_cnn_equal_steps_is_read_from_a_recipe(tmp_path):
    from synthaug.exceptions import ConfigError
    from synthaug.experiment import ExperimentConfig

    assert ExperimentConfig().cnn_equal_steps is True  # the default since benchmarks section 14
    recipe = tmp_path / "r.toml"
    recipe.write_text('dataset = "builtin:digits"\n[cnn]\nequal_steps = false\n')
    assert ExperimentConfig.from_toml(recipe).cnn_equal_steps is False
    assert ExperimentConfig.from_toml(recipe, cnn_equal_steps=None).cnn_equal_steps is False  # no CLI override
    recipe.write_text('dataset = "builtin:digits"\n[cnn]\nequal_steps = true\n')
    assert ExperimentConfig.from_toml(recipe).cnn_equal_steps is True
    assert ExperimentConfig.from_toml(recipe, cnn_equal_steps=None).cnn_equal_steps is True  # no CLI override
    recipe.write_text('dataset = "builtin:digits"\n[cnn]\nequal_steps = "yes"\n')
    with pytest.raises(ConfigError, match="cnn_equal_steps"):
        ExperimentConfig.from_toml(recipe)
