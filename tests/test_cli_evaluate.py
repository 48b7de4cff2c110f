"""`synthaug evaluate` through click's CliRunner."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
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


def test_evaluate_recipe_generator_typo_fails_before_any_work(tmp_path):
    recipe = tmp_path / "typo.toml"
    recipe.write_text('dataset = "builtin:digits"\n[gan]\nmodel = "dcgann"\n')
    result = CliRunner().invoke(cli, ["evaluate", "--config", str(recipe), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "typo.toml: gan_model: unknown value 'dcgann'" in result.output and "dcgan" in result.output
    assert "Evaluating" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.evaluate-cache").exists()


def test_evaluate_recipe_supplies_data_and_flags_override_it(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('dataset = "builtin:digits"\nseeds = [0, 1, 2]\nclassifiers = ["cnn"]\n[gan]\nmodel = "dcgan"\n')
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["evaluate", "--config", str(recipe), "--out", str(out), *FAST,
                                      "--gan-model", "ddpm"])
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    assert set(results["seed"]) == {0, 1} and set(results["classifier"]) == {"logreg"}
    assert '"gan_model": "ddpm"' in (out / "config.json").read_text()


def test_evaluate_cnn_equal_steps_flag_reaches_the_config_and_the_report(tmp_path):
    out = tmp_path / "o"
    args = ["evaluate", "builtin:digits", "--out", str(out), *FAST, "--classifiers", "cnn", "--cnn-epochs", "2",
            "--seeds", "0", "--cnn-equal-steps"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["options"]["cnn_equal_steps"] is True
    assert "cnn_equal_steps: every arm's CNN trains for about the optimizer steps" in (out / "report.md").read_text()


def test_evaluate_without_data_or_recipe_dataset(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no dataset" in result.output


def test_evaluate_bad_flag_value(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(tmp_path / "o"),
                                      "--train-sizes", "10,lots"])
    assert result.exit_code == 1 and "--train-sizes" in result.output and "'lots'" in result.output


def _image_folder_with_a_broken_file(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, level in (("a", 40), ("b", 200)):
        (root / cls).mkdir(parents=True)
        for i in range(8):
            img = np.clip(level + rng.normal(0, 20, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_evaluate_names_a_bad_image_and_can_skip_it(tmp_path):
    data = _image_folder_with_a_broken_file(tmp_path / "imgs")
    args = ["evaluate", str(data), "--arms", "real", "--classifiers", "logreg", "--seeds", "0",
            "--no-quality", "--no-robustness", "--no-progress", "--n-jobs", "1"]
    failed = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    # The hint names a flag that this command really has.
    assert failed.exit_code == 1 and "broken.png" in failed.output and "--skip-bad-images" in failed.output
    assert not (tmp_path / "o").exists()
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o"), "--skip-bad-images"])
    assert result.exit_code == 0, result.output
    assert "Skipped 1 unreadable file(s)" in result.output and "broken.png" in result.output
    config = json.loads((tmp_path / "o" / "config.json").read_text())
    assert config["options"]["skip_bad_images"] is True


def test_sigterm_stops_evaluate_cleanly(tmp_path, cli_process):
    """A real process sent SIGTERM (e.g. by a job scheduler) exits 130 and leaves no output."""
    out = tmp_path / "eval"
    run = cli_process(["evaluate", "builtin:digits", "--out", out, "--seeds", "0,1,2", "--no-progress",
                       "--n-jobs", "1"])
    run.wait_for(tmp_path / ".eval.evaluate-cache")  # the study runs: past imports and loading
    time.sleep(0.5)
    code, _, err = run.send(signal.SIGTERM).finish(timeout=60)
    assert code == 130, err
    assert "Interrupted." in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".eval.tmp-*"))


RESUME_ARGS = ["evaluate", "builtin:digits", "--arms", "real,classic", "--classifiers", "cnn",
               "--cnn-epochs", "4", "--seeds", "0,1,2,3", "--train-sizes", "10", "--no-quality",
               "--no-robustness", "--no-progress", "--n-jobs", "1"]


def test_interrupted_evaluate_resumes_to_the_same_results(tmp_path, cli_process):
    """A real process stopped by SIGINT after some jobs finished resumes to identical numbers."""
    code, _, err = cli_process([*RESUME_ARGS, "--out", tmp_path / "ref"]).finish()
    assert code == 0, err
    assert not (tmp_path / ".ref.evaluate-cache").exists(), "the job cache outlived a finished run"

    out, cache = tmp_path / "run", tmp_path / ".run.evaluate-cache"
    run = cli_process([*RESUME_ARGS, "--out", out])
    run.wait_for(lambda: cache.is_dir() and bool(list(cache.glob("job_*.npz"))), timeout=120)
    code, _, err = run.send(signal.SIGINT).finish(timeout=60)
    assert code == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not out.exists()
    n_kept = len(list(cache.glob("*.npz")))
    assert n_kept >= 2  # the generator-phase entry and at least one classifier job

    code, _, err = cli_process([*RESUME_ARGS, "--out", out, "--resume"]).finish()
    assert code == 0, err
    reused = int(err.split("Resumed: ")[1].split()[0])
    assert reused >= n_kept - 1  # an entry written while the signal arrived may be the extra one
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ref" / "results.csv"),
                                  pd.read_csv(out / "results.csv"))
    assert not cache.exists()


def test_evaluate_resume_without_an_interrupted_run_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(tmp_path / "e"),
                                      "--resume", *FAST])
    assert result.exit_code == 1
    assert "--resume: no interrupted run found" in result.output and "without --resume" in result.output


def test_evaluate_resume_with_other_options_is_refused(tmp_path):
    from synthaug.cli.evaluate import _open_cache, _run_stamp
    from synthaug.data import load_dataset
    from synthaug.experiment import ExperimentConfig

    out = tmp_path / "e"
    # What an interrupted run with other arms leaves beside --out: the stamp of its settings.
    _open_cache(out, False, _run_stamp(ExperimentConfig(seeds=(0, 1), arms=("real",)),
                                       load_dataset("builtin:digits")))
    result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(out), "--resume", *FAST])
    assert result.exit_code == 1
    assert "--resume: the interrupted run used other settings" in result.output
    assert "arms" in result.output and "drop --resume" in result.output
    assert "config." not in result.output  # options are named as the user writes them


def test_each_warning_once_lets_a_repeated_warning_through_once(caplog):
    import logging

    from synthaug.cli.evaluate import each_warning_once

    log = logging.getLogger("synthaug.metrics.fidelity")
    logging.getLogger().addHandler(second := logging.NullHandler())  # a second handler, as in a CLI run
    with caplog.at_level(logging.INFO):
        with each_warning_once() as once:
            for _ in range(4):
                log.warning("frechet_distance: the covariance product is singular; adding %g", 1e-6)
            log.warning("another warning")
            log.info("infos are never held back")
            log.info("infos are never held back")
        log.warning("another warning")  # after the block: the filter is gone
    logging.getLogger().removeHandler(second)
    assert not second.filters
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("frechet_distance: the covariance product is singular; adding 1e-06") == 1
    assert messages.count("another warning") == 2
    assert messages.count("infos are never held back") == 2
    assert once.n_repeats == 3


def test_evaluate_prints_the_verdict_first_a_blank_real_ratio_and_each_warning_once(
        tmp_path, monkeypatch, caplog):
    import logging

    from synthaug import experiment

    real_run = experiment.run_experiment

    def noisy_run(*args, **kwargs):  # a library warning emitted once per job, as fidelity does
        for _ in range(4):
            logging.getLogger("synthaug.metrics.fidelity").warning("frechet_distance: singular")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(experiment, "run_experiment", noisy_run)
    out = tmp_path / "eval"
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(cli, ["evaluate", "builtin:digits", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert [r.getMessage() for r in caplog.records].count("frechet_distance: singular") == 1
    assert "3 repeated warning(s) were shown once" in result.output
    lines = result.output.splitlines()
    verdict = lines.index("Verdict (accuracy; paired 95% interval of the difference with real only):")
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["train_size", "classifier", "arm"])
    assert verdict < header
    assert "inconclusive with 2 seeds" in lines[verdict + 1]
    real = next(line for line in lines[header:] if " real " in line).split()
    assert real[2:4] == ["real", "-"]  # no ratio, not 0.000
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[summary["arm"] == "real", "ratio"].isna().all()
    assert (summary["ci_high"] <= 1.0).all() and (summary["ci_low"] >= 0.0).all()
    assert summary["ci_note"].str.startswith("2 seeds").all()
    md = (out / "report.md").read_text()
    assert md.index("## Verdict") < md.index("## Accuracy")
