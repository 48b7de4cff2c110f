"""`synthaug evaluate` through click's CliRunner."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from synthaug.cli import cli

FAST = ["--arms", "real,classic", "--classifiers", "logreg", "--seeds", "0,1", "--train-sizes", "5",
        "--no-quality", "--no-robustness", "--no-progress", "--n-jobs", "1"]


def test_evaluate_writes_report_and_prints_summary(tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "summary.csv", "report.html", "report.md", "report.json", "config.json"):
        assert (out / name).is_file(), name
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["arm"].unique()) == ["classic", "real"]
    assert set(results["seed"]) == {0, 1}
    assert (results["n_train_real"] == 50).all()  # 5 images per class x 10 digits
    assert "classic" in result.output and "Report:" in result.output
    assert '"command": "evaluate"' in (out / "config.json").read_text()


def test_evaluate_refuses_non_empty_out_without_overwrite(tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(out), *FAST])
    assert result.exit_code == 1
    assert "not empty" in result.output and "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    assert "Traceback" not in result.output


def test_evaluate_bad_recipe_key_is_a_clean_error(tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('dataset = "builtin:digits"\nseedz = [0]\n')
    result = CliRunner().invoke(cli, ["evaluate", "--config", str(recipe), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "bad.toml" in result.output and "unknown key 'seedz'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_evaluate_recipe_supplies_data_and_flags_override_it(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('dataset = "builtin:digits"\nseeds = [0, 1, 2]\nclassifiers = ["cnn"]\n')
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["evaluate", "--config", str(recipe), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    assert set(results["seed"]) == {0, 1} and set(results["classifier"]) == {"logreg"}


def test_evaluate_without_data_or_recipe_dataset(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no dataset" in result.output


def test_evaluate_bad_flag_value(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(tmp_path / "o"),
                                      "--train-sizes", "10,lots"])
    assert result.exit_code == 1 and "--train-sizes" in result.output and "'lots'" in result.output
