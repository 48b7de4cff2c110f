"""Summary statistics, the paired comparison with `real`, and the report's files."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from synthaug.experiment import ExperimentConfig, Report, summarize_results, summarize_robustness
from synthaug.experiment.report import METRICS


def fake_results() -> pd.DataFrame:
    rows = []
    real = [0.70, 0.72, 0.74]
    for seed in range(3):
        for arm, ratio, gain in (("real", 0.0, 0.0), ("gan", 1.0, 0.05), ("gan", 2.0, None),
                                 ("gan_balance", np.nan, 0.0)):
            if gain is None:  # a noisy arm whose gain is not significant
                acc = real[seed] + (0.04, -0.05, 0.02)[seed]
            else:
                acc = real[seed] + gain + (0.001 * seed if arm == "gan" else 0.0)
            rows.append({"seed": seed, "arm": arm, "ratio": ratio, "train_size": "10",
                         "classifier": "logreg", "n_train_real": 100, "n_train_synthetic": 100,
                         **{m: acc for m in METRICS}})
    return pd.DataFrame(rows)


def test_summary_means_intervals_and_paired_difference():
    s = summarize_results(fake_results())
    acc = s[s["metric"] == "accuracy"].set_index(["arm", "ratio"], drop=False)
    assert set(s.columns) >= {"mean", "std", "ci_low", "ci_high", "n", "diff_mean", "diff_ci_low",
                              "diff_ci_high", "p_value", "significant"}
    assert len(s) == 4 * len(METRICS)  # real, gan x1, gan x2, gan_balance (NaN ratio kept)
    real = acc[acc["arm"] == "real"].iloc[0]
    assert real["mean"] == pytest.approx(0.72) and real["n"] == 3
    assert real["ci_low"] < 0.72 < real["ci_high"]
    assert np.isnan(real["diff_mean"]) and not real["significant"]
    gan1 = acc[(acc["arm"] == "gan") & (acc["ratio"] == 1.0)].iloc[0]
    assert gan1["diff_mean"] == pytest.approx(0.051)
    assert gan1["significant"] and gan1["diff_ci_low"] > 0
    gan2 = acc[(acc["arm"] == "gan") & (acc["ratio"] == 2.0)].iloc[0]
    assert not gan2["significant"] and gan2["diff_ci_low"] < 0 < gan2["diff_ci_high"]
    bal = acc[acc["arm"] == "gan_balance"].iloc[0]
    assert np.isnan(bal["ratio"]) and bal["diff_mean"] == pytest.approx(0.0)


def test_pairing_is_by_seed_not_by_row_order():
    df = fake_results()
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = summarize_results(df).sort_values(["arm", "ratio", "metric"]).reset_index(drop=True)
    b = summarize_results(shuffled).sort_values(["arm", "ratio", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_robustness_summary_pairs_on_eps():
    rows = []
    for seed in range(3):
        for arm, drop in (("real", 0.0), ("adv_real", -0.2)):
            for eps, base in ((2 / 255, 0.6), (8 / 255, 0.2)):
                rows.append({"seed": seed, "arm": arm, "ratio": 0.0, "train_size": "all",
                             "classifier": "cnn", "perturbation": "pgd", "kind": "adversarial",
                             "eps": eps, "severity": np.nan,
                             "accuracy": base - drop + 0.01 * seed, "n": 50})
    s = summarize_robustness(pd.DataFrame(rows))
    adv = s[s["arm"] == "adv_real"].sort_values("eps")
    assert list(adv["diff_mean"]) == pytest.approx([0.2, 0.2])
    assert adv["significant"].all()


def make_report() -> Report:
    results = fake_results()
    rng = np.random.default_rng(0)
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss_d": [1.0, 0.9, 0.8], "loss_g": [1.0, 1.1, 1.2],
                            "seed": 0, "train_size": "10"})
    grid = (rng.random((20, 30, 1)) * 255).astype(np.uint8)
    return Report(
        config=ExperimentConfig(dataset="toy", seeds=(0, 1, 2), quality=True),
        results=results,
        summary=summarize_results(results),
        quality=pd.DataFrame({"seed": [0], "train_size": ["10"], "class": ["all"],
                              "frechet_distance": [1.5], "trts_accuracy": [0.9]}),
        memorisation=pd.DataFrame({"seed": [0], "train_size": ["10"], "n_flagged": [0],
                                   "fraction_flagged": [0.0]}),
        gan_history=history,
        sample_grids={"10": grid},
        neighbour_grids={"10": grid},
        info={"dataset": "toy", "class_names": ["a", "b"], "split_sizes": {"train": 9, "test": 3}},
    )


def test_write_produces_every_file_and_a_self_contained_html(tmp_path):
    out = make_report().write(tmp_path / "rep")
    for name in ("results.csv", "summary.csv", "report.json", "report.md", "report.html",
                 "config.json", "quality.csv", "memorisation.csv", "gan_history.csv"):
        assert (out / name).is_file(), name
    back = pd.read_csv(out / "results.csv")
    assert len(back) == 12 and {"seed", "arm", "ratio", "train_size", "classifier", "n_train_real",
                                "n_train_synthetic", "accuracy"} <= set(back.columns)
    assert json.loads((out / "config.json").read_text())["options"]["seeds"] == [0, 1, 2]
    report_json = json.loads((out / "report.json").read_text())  # strict JSON: no NaN literals
    assert report_json["summary"] and "versions" in report_json

    page = (out / "report.html").read_text()
    sources = re.findall(r'src\s*=\s*["\']([^"\']*)', page)
    assert len(sources) >= 4  # ratio plots, samples, nearest neighbours, GAN curves
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<link|<script|https?://", page)
    assert (out / "plots" / "gan_history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "not a privacy guarantee" in md and "| train_size |" in md


def test_summary_table_marks_significant_gains():
    table = make_report().summary_table("accuracy")
    gan1 = table[(table["arm"] == "gan") & (table["ratio"] == 1.0)].iloc[0]
    assert gan1["vs_real"] == "+0.051 *"
    gan2 = table[(table["arm"] == "gan") & (table["ratio"] == 2.0)].iloc[0]
    assert not gan2["vs_real"].endswith("*")
