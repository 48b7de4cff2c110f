"""run_experiment: grid shape, the no-leakage invariant, determinism across n_jobs, resume.

Splits, arms, jobs and the cache have their own files (test_splits, test_arms,
test_jobs, test_cache); these tests run whole (tiny) studies.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pytest

from synthaug.data.toy import make_toy_images
from synthaug.experiment import ExperimentConfig, make_splits, run_experiment
from synthaug.experiment import jobs as jobs_mod
from synthaug.seeding import derive_seed

# Tiny models: the GAN and CNN only need to run, not to be good.
TINY = dict(gan_model="vanilla", gan_epochs=1, gan_batch_size=16, cnn_epochs=1, cnn_batch_size=16,
            quality_max_samples=30, device="cpu", robust_max_test=12,
            classifier_params={"logreg": {"max_iter": 100},
                               "random_forest": {"n_estimators": 5}})


def toy(n=10, seed=0):
    return make_toy_images(n, n_classes=3, image_size=8, random_state=seed)


def row_keys(images: np.ndarray) -> set[bytes]:
    return {np.ascontiguousarray(x, np.float32).tobytes() for x in images}


# ------------------------------------------------------------------ grid shape
def test_results_have_one_row_per_seed_arm_ratio_size_classifier():
    cfg = ExperimentConfig(seeds=(0, 1), train_sizes=(4, "all"), arms=("real", "classic", "smote", "gan"),
                           ratios=(0.5, 2.0), classifiers=("logreg", "random_forest"), quality=False,
                           **TINY)
    report = run_experiment(toy(10), cfg)
    r = report.results
    # per (seed, size): real, classic, smote, gan x 2 ratios = 5 conditions; x 2 classifiers
    assert len(r) == 2 * 2 * 5 * 2
    assert not r.duplicated(["seed", "arm", "ratio", "train_size", "classifier"]).any()
    assert set(r["train_size"]) == {"4", "all"}
    small = r[r["train_size"] == "4"]
    assert (small["n_train_real"] == 12).all()  # 4 per class x 3 classes
    gan = r[(r["arm"] == "gan") & (r["train_size"] == "4")]
    assert set(gan["ratio"]) == {0.5, 2.0}
    assert (gan.loc[gan["ratio"] == 2.0, "n_train_synthetic"] == 24).all()
    smote = r[(r["arm"] == "smote") & (r["train_size"] == "4")]
    assert (smote["n_train_synthetic"] == 12).all()  # as many as the ratio-1 GAN arm
    assert r[r["arm"] == "real"]["ratio"].isna().all()  # the real-only arm has no ratio
    assert r["accuracy"].between(0, 1).all() and r["roc_auc"].notna().all()
    # summary: one row per condition and metric, paired with real
    s = report.summary
    assert len(s) == (len(r) // 2) * 4
    assert s.loc[s["arm"] != "real", "diff_mean"].notna().all()


def test_no_leakage_generator_and_classifiers_never_see_test_rows(monkeypatch):
    from synthaug.generators import ConditionalGAN

    seen_by_gan: list[np.ndarray] = []
    original_fit = ConditionalGAN.fit

    def recording_fit(self, X, y, *args, **kwargs):
        seen_by_gan.append(np.array(X, copy=True))
        return original_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(ConditionalGAN, "fit", recording_fit)
    scored: list[np.ndarray] = []
    original_scores = jobs_mod._scores

    def recording_scores(clf, X, n_classes):
        scored.append(np.array(X, copy=True))
        return original_scores(clf, X, n_classes)

    monkeypatch.setattr(jobs_mod, "_scores", recording_scores)

    ds = toy(10)
    cfg = ExperimentConfig(seeds=(0, 1), train_sizes=("all",), test_fraction=0.3, val_fraction=0.2,
                           arms=("real", "gan", "tstr", "gan_classic"), ratios=(1.0,),
                           classifiers=("logreg",), quality=True, **TINY)
    report = run_experiment(ds, cfg)
    splits = make_splits(ds, cfg)
    test_keys = row_keys(ds.images[splits.test])
    held_out = test_keys | row_keys(ds.images[splits.val])
    train_keys = row_keys(ds.images[splits.train])
    assert len(seen_by_gan) == 2  # once per (seed, size), shared by every arm
    for X in seen_by_gan:
        keys = row_keys(X)
        assert keys <= train_keys and not keys & held_out
    # every scored image is a real test image: synthetic rows never reach the test split
    assert len(scored) == len(report.results)
    for X in scored:
        assert row_keys(X) == test_keys


def test_generator_fitted_once_per_seed_and_size(monkeypatch):
    from synthaug.generators import ConditionalGAN

    calls = []
    original_fit = ConditionalGAN.fit
    monkeypatch.setattr(ConditionalGAN, "fit",
                        lambda self, X, y, *a, **k: (calls.append(len(X)), original_fit(self, X, y, *a, **k))[1])
    cfg = ExperimentConfig(seeds=(0, 1), train_sizes=(3, 5), arms=("gan", "gan_balance", "tstr"),
                           ratios=(1.0, 2.0), classifiers=("logreg",), quality=False, **TINY)
    run_experiment(toy(10), cfg)
    assert sorted(calls) == [9, 9, 15, 15]


@pytest.mark.parametrize("arms", [("real", "classic", "smote", "gan", "tstr")])
def test_n_jobs_1_and_2_give_identical_results(arms):
    cfg = ExperimentConfig(seeds=(0, 1), arms=arms, ratios=(1.0,), classifiers=("logreg", "cnn"),
                           quality=False, **TINY)
    ds = toy(8)
    a = run_experiment(ds, cfg.replace(n_jobs=1)).results
    b = run_experiment(ds, cfg.replace(n_jobs=2)).results
    pd.testing.assert_frame_equal(a, b)


def test_robustness_tidy_table_and_adversarial_arms():
    cfg = ExperimentConfig(seeds=(0,), arms=("real", "adv_real"), classifiers=("cnn", "logreg"),
                           quality=False, robustness=True, robust_eps_grid=("4/255",),
                           robust_pgd_steps=2, robust_corruptions=("contrast",), robust_severities=(2,),
                           **TINY)
    report = run_experiment(toy(20), cfg)  # 15 test images, 12 scored for robustness
    r = report.results
    assert set(r.loc[r["arm"] == "adv_real", "classifier"]) == {"cnn"}  # CNN only
    rb = report.robustness
    assert {"seed", "arm", "ratio", "train_size", "classifier", "perturbation", "kind", "eps",
            "severity", "accuracy", "n"} <= set(rb.columns)
    cnn = rb[rb["classifier"] == "cnn"]
    assert set(cnn["kind"]) == {"adversarial", "corruption"}
    assert set(cnn.loc[cnn["kind"] == "adversarial", "perturbation"]) == {"fgsm", "pgd"}
    lr = rb[rb["classifier"] == "logreg"]
    assert set(lr["kind"]) == {"transfer", "corruption"}  # crafted on the same arm's CNN
    assert (rb["n"] == 12).all()  # robust_max_test
    assert not report.robustness_summary.empty


def test_l2_pgd_scores_every_cnn_arm_over_the_l2_grid():
    cfg = ExperimentConfig(seeds=(0,), arms=("real",), classifiers=("cnn",), quality=False, robustness=True,
                           robust_attacks=("pgd_l2",), robust_l2_eps_grid=(0.5, 1.0), robust_pgd_steps=2,
                           robust_corruptions=(), robust_adversarial_training=False, **TINY)
    report = run_experiment(toy(20), cfg)
    rb = report.robustness
    assert set(rb["perturbation"]) == {"pgd_l2"} and sorted(rb["eps"]) == [0.5, 1.0]
    assert rb["accuracy"].between(0, 1).all()


def test_quality_and_memorisation_tables():
    # the tables describe the samples a generator arm uses (a real-only study fits no generator)
    cfg = ExperimentConfig(seeds=(0,), arms=("real", "gan"), ratios=(1.0,), classifiers=("logreg",), quality=True,
                           **TINY)
    report = run_experiment(toy(10), cfg)
    q = report.quality
    assert list(q["class"]) == ["all", "0", "1", "2"]
    assert {"frechet_distance", "precision", "recall", "density", "coverage", "trts_accuracy"} <= set(q.columns)
    assert q["trts_accuracy"].between(0, 1).all()
    m = report.memorisation
    assert len(m) == 1 and {"fraction_flagged", "distance_ratio", "n_flagged"} <= set(m.columns)
    assert report.sample_grids["all"].dtype == np.uint8
    assert report.neighbour_grids["all"].ndim == 3
    assert not report.gan_history.empty and {"seed", "train_size", "epoch"} <= set(report.gan_history.columns)
    # the real gate judged the generator against the real reference; real rows carry no verdict
    assert {f"reference_{n}" for n in ("precision", "recall", "trts_accuracy")} <= set(q.columns)
    assert q["gate_passed"].map(type).eq(bool).all() and q["gate_passed"].nunique() == 1
    real = report.results[report.results["arm"] == "real"]
    assert real["gate_passed"].isna().all() and real["synthetic_weight"].isna().all()
    gan = report.results[report.results["arm"] == "gan"]
    assert gan["gate_passed"].map(type).eq(bool).all() and (gan["synthetic_weight"] == 1.0).all()


def test_results_carry_the_gate_verdict_of_their_generator(monkeypatch):
    verdicts = iter([(True, []), (False, ["recall 0.01 < 0.2", "note: noisy"])])  # seed 0, then seed 1
    monkeypatch.setattr(jobs_mod, "judge", lambda metrics, reference, n_classes: next(verdicts))
    cfg = ExperimentConfig(seeds=(0, 1), arms=("real", "gan", "tstr"), ratios=(1.0,), classifiers=("logreg",),
                           quality=True, synthetic_weight=0.5, **TINY)
    report = run_experiment(toy(10), cfg)
    r = report.results.set_index(["seed", "arm"])
    assert r.columns[-3:].tolist() == ["synthetic_weight", "gate_passed", "gate_reasons"]
    for arm in ("gan", "tstr"):
        assert r.loc[(0, arm), "gate_passed"] is True and r.loc[(0, arm), "gate_reasons"] == ""
        assert r.loc[(1, arm), "gate_passed"] is False
        assert r.loc[(1, arm), "gate_reasons"] == "recall 0.01 < 0.2; note: noisy"
        assert r.loc[(0, arm), "synthetic_weight"] == 0.5
    assert r.loc[(0, "real"), ["synthetic_weight", "gate_passed", "gate_reasons"]].isna().all()
    q = report.quality.groupby("seed")[["gate_passed", "gate_reasons"]].first()
    assert q.loc[0].tolist() == [True, ""] and q.loc[1].tolist() == [False, "recall 0.01 < 0.2; note: noisy"]


def test_without_the_quality_check_the_gate_is_not_checked(monkeypatch):
    monkeypatch.setattr(jobs_mod, "judge", lambda *a: pytest.fail("judge called with quality off"))
    cfg = ExperimentConfig(seeds=(0,), arms=("real", "gan"), ratios=(1.0,), classifiers=("logreg",),
                           quality=False, **TINY)
    r = run_experiment(toy(10), cfg).results
    assert r["gate_passed"].isna().all() and r["gate_reasons"].isna().all()
    assert r.loc[r["arm"] == "gan", "synthetic_weight"].eq(1.0).all()


def test_smote_is_skipped_with_a_warning_without_imblearn(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "imblearn", None)  # import imblearn -> ImportError
    cfg = ExperimentConfig(seeds=(0,), arms=("real", "smote"), classifiers=("logreg",), quality=False, **TINY)
    with caplog.at_level(logging.WARNING):
        report = run_experiment(toy(6), cfg)
    assert set(report.results["arm"]) == {"real"}
    assert "imbalanced-learn" in caplog.text
    assert any("smote" in n for n in report.info["notes"])


def test_rejects_bad_inputs():
    from synthaug.exceptions import ConfigError, InvalidDataError

    with pytest.raises(ConfigError, match="ExperimentConfig"):
        run_experiment(toy(4), {"seeds": [0]})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no dataset"):
        run_experiment(None, ExperimentConfig())
    tiny = toy(2)
    with pytest.raises(InvalidDataError, match="at least 3 per class"):
        run_experiment(tiny, ExperimentConfig(arms=("real",), classifiers=("logreg",), quality=False))


def test_diverged_generator_skips_its_gan_arms_only(monkeypatch):
    from synthaug.exceptions import TrainingDivergedError
    from synthaug.generators import ConditionalGAN

    original_fit = ConditionalGAN.fit
    first = derive_seed(0, "gan", "all", bits=32)

    def flaky_fit(self, X, y, *args, **kwargs):
        if self.random_state == first:  # seed 0 diverges, seed 1 trains
            raise TrainingDivergedError("loss became NaN")
        return original_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(ConditionalGAN, "fit", flaky_fit)
    cfg = ExperimentConfig(seeds=(0, 1), arms=("real", "gan", "tstr"), ratios=(1.0,),
                           classifiers=("logreg",), quality=False, **TINY)
    report = run_experiment(toy(8), cfg)
    r = report.results
    assert set(r.loc[r["seed"] == 0, "arm"]) == {"real"}
    assert set(r.loc[r["seed"] == 1, "arm"]) == {"real", "gan", "tstr"}
    assert any("diverged" in n for n in report.info["notes"])


def test_a_job_cache_is_filled_then_reused_with_identical_results(tmp_path):
    from synthaug.experiment.cache import JobCache

    ds = make_toy_images(12, n_classes=2, random_state=0)
    cfg = ExperimentConfig(seeds=(0, 1), classifiers=("logreg",), arms=("real", "classic", "gan"),
                           ratios=(1.0,), gan_epochs=2, gan_batch_size=8, quality=False)
    cache = JobCache(tmp_path / "cache")
    first = run_experiment(ds, cfg, cache=cache)
    n_jobs = 2 * 3 + 2  # (real, classic, gan x1) per seed, plus one generator per seed
    assert len(cache) == n_jobs and first.info["n_jobs_reused"] == 0
    second = run_experiment(ds, cfg, cache=cache)
    assert second.info["n_jobs_reused"] == n_jobs
    pd.testing.assert_frame_equal(first.results, second.results)
    plain = run_experiment(ds, cfg)
    pd.testing.assert_frame_equal(first.results, plain.results)
