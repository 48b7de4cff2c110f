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


# ------------------------------------------------------- ratio, intervals, verdict, gate
def verdict_results(n_seeds: int = 5, gate: list[bool] | None = None) -> pd.DataFrame:
    """real, gan (+0.05 every seed: helps), classic (-0.04: worse), smote (noise)."""
    rows = []
    noise = (0.03, -0.02, 0.01, -0.03, 0.02)
    for seed in range(n_seeds):
        base = 0.70 + 0.02 * seed
        for arm, ratio, acc in (("real", 0.0, base), ("gan", 1.0, base + 0.05 + 0.001 * seed),
                                ("classic", 1.0, base - 0.04 - 0.001 * seed),
                                ("smote", 1.0, base + noise[seed])):
            row = {"seed": seed, "arm": arm, "ratio": ratio, "train_size": "10", "classifier": "logreg",
                   "n_train_real": 100, "n_train_synthetic": 0 if arm == "real" else 100,
                   **{m: acc for m in METRICS}}
            if gate is not None:
                row["gate_passed"] = gate[seed] if arm == "gan" else np.nan
                row["gate_reasons"] = "" if arm != "gan" or gate[seed] else \
                    "recall 0.00 < 0.24 (0.25 x real 0.96): mode collapse.; TRTS 0.10 < 0.50: poor."
            rows.append(row)
    return pd.DataFrame(rows)


def report_of(results: pd.DataFrame) -> Report:
    return Report(config=ExperimentConfig(dataset="toy", seeds=tuple(sorted(set(results["seed"])))),
                  results=results, summary=summarize_results(results),
                  info={"dataset": "toy", "class_names": ["a", "b"]})


def test_real_arm_has_no_ratio_in_summary_and_tables():
    results = verdict_results(3)
    assert (results.loc[results["arm"] == "real", "ratio"] == 0.0).all()  # as the arms table writes it
    s = summarize_results(results)
    assert s.loc[s["arm"] == "real", "ratio"].isna().all()
    assert (s.loc[s["arm"] == "gan", "ratio"] == 1.0).all()
    report = report_of(results)
    assert np.isnan(report.summary_table()["ratio"].iloc[0])
    md = report.to_markdown()
    real_row = next(line for line in md.splitlines() if line.startswith("| 10 | logreg | real |"))
    assert real_row.startswith("| 10 | logreg | real |  | 0.7")  # empty ratio cell, not 0.000
    assert "| real | 0.0 |" not in report.to_html() and "<td>real</td><td></td>" in report.to_html()


@pytest.mark.parametrize("n_seeds", [2, 3])
def test_summary_intervals_stay_in_unit_range_near_one(n_seeds):
    acc = [1.0, 0.97, 0.99][:n_seeds]
    results = pd.DataFrame([{"seed": i, "arm": "real", "ratio": 0.0, "train_size": "10",
                             "classifier": "logreg", **{m: a for m in METRICS}} for i, a in enumerate(acc)])
    s = summarize_results(results)
    assert (s["ci_low"] >= 0.0).all() and (s["ci_high"] <= 1.0).all()
    assert (s["ci_high"] == 1.0).all()  # the plain t-interval would pass 1 here
    note = "2 seeds: intervals not informative" if n_seeds == 2 else ""
    assert (s["ci_note"].str.startswith(note)).all() and (s["ci_note"] == "").all() == (n_seeds == 3)


def test_two_seeds_are_inconclusive_and_noted():
    report = report_of(verdict_results(2))
    lines = report.verdict()
    assert lines[0].startswith("Train size 10, logreg (real only: accuracy 0.710")
    assert "inconclusive with 2 seeds" in lines[0] and "helps" not in lines[0]
    assert lines[-1] == "Note: 2 seeds: intervals not informative; add seeds (3 or more)."
    assert "*" not in "".join(report.summary_table()["vs_real"])  # no significance star either
    assert "2 seeds: intervals not informative" in report.to_markdown()


def test_verdict_names_the_arm_that_helps_and_the_one_that_hurts():
    report = report_of(verdict_results(5))
    lines = report.verdict()
    assert lines[0] == (
        "Train size 10, logreg (real only: accuracy 0.740 [0.701, 0.779]): "
        "helps: gan +0.052 [+0.050, +0.054]; worse: classic -0.042 [-0.044, -0.040]; "
        "no significant difference: smote +0.002 [-0.030, +0.034]."
    )
    assert lines[1].startswith("Generator samples: no quality gate was run")
    md = report.to_markdown()
    # The verdict comes first, before the setup and the tables.
    assert md.index("## Verdict") < md.index("## Setup") < md.index("## Accuracy")
    assert md.index("helps: gan +0.052") < md.index("| train_size |")
    page = report.to_html()
    assert page.index("<h2>Verdict</h2>") < page.index("helps: gan +0.052") < page.index("<table>")


def test_arm_on_samples_that_failed_the_gate_is_marked_not_judged():
    report = report_of(verdict_results(3, gate=[True, False, False]))
    lines = report.verdict()
    assert "not judged (samples failed the quality gate for 2 of 3 seeds): gan +0.051" in lines[0]
    assert "no arm helps significantly; worse: classic" in lines[0] and "helps: gan" not in lines[0]
    assert lines[1] == ("Generator samples, train size 10: quality gate FAILED for 2 of 3 seeds "
                        "(seed 1: recall 0.00 < 0.24 (0.25 x real 0.96); TRTS 0.10 < 0.50; "
                        "see the quality table).")
    table = report.summary_table().set_index("arm")
    assert table.loc["gan", "quality_gate"] == "FAILED 2/3 seeds"
    assert table.loc["classic", "quality_gate"] == "" and table.loc["real", "quality_gate"] == ""
    passed = report_of(verdict_results(3, gate=[True, True, True]))
    assert "helps: gan +0.051" in passed.verdict()[0]
    assert passed.verdict()[1] == "Generator samples, train size 10: quality gate passed for 3 of 3 seeds."
    assert passed.summary_table().set_index("arm").loc["gan", "quality_gate"] == "passed"


def test_gate_is_read_from_the_quality_table_first():
    results = verdict_results(3)
    quality = pd.DataFrame({"seed": [0, 0, 1, 2], "train_size": ["10"] * 4, "class": ["all", "0", "all", "all"],
                            "gate_passed": [False, True, True, True], "gate_reasons": ["precision low: x", "", "", ""]})
    from synthaug.experiment.verdict import gate_by_size

    assert gate_by_size(results, quality) == {"10": {"passed": 2, "n": 3, "example": "seed 0: precision low"}}
    assert gate_by_size(results, pd.DataFrame()) == {}
    # As read back from a CSV, where booleans are strings.
    as_text = quality.assign(gate_passed=quality["gate_passed"].astype(str))
    assert gate_by_size(results, as_text)["10"]["passed"] == 2


def test_ratio_plot_keeps_bounded_metric_inside_unit_range():
    from synthaug.experiment import plots

    rows = []
    for seed, (r, g) in enumerate(((1.0, 0.99), (0.96, 1.0))):
        for arm, ratio, acc in (("real", 0.0, r), ("gan", 1.0, g), ("gan", 2.0, g - 0.01)):
            rows.append({"seed": seed, "arm": arm, "ratio": ratio, "train_size": "10", "classifier": "logreg",
                         **{m: acc for m in METRICS}})
    fig = plots.plot_metric_vs_ratio(summarize_results(pd.DataFrame(rows)), "accuracy", "10")
    low, high = fig.axes[0].get_ylim()
    assert 0.0 <= low < high <= 1.0
