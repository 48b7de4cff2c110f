"""``synthaug evaluate``: run an augmentation study and write its report.

The experiment package is imported inside the functions that use it: its stack
(scikit-learn, joblib, matplotlib) would add seconds to every ``synthaug --help``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..exceptions import ConfigError, JobError
from ..generators.registry import MODEL_CHOICES
from ..log_once import each_warning_once
from ..persistence import check_resume_stamp, package_versions, stamp_changes, to_jsonable, write_run_record
from ._common import check_output_dir, data_options, exit_interrupted, load_data, positive, staged_output


def _int_list(flag: str, text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated integers such as 0,1,2, got {text!r}.") from None


def _float_list(flag: str, text: str | None) -> list[float] | None:
    if text is None:
        return None
    from fractions import Fraction

    try:
        return [float(Fraction(v.strip())) for v in text.split(",") if v.strip()]
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"{flag}: expected comma-separated numbers such as 0.5,1,2, got {text!r}.") from None


def _sizes(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    out: list[int | str] = []
    for v in (v.strip() for v in text.split(",")):
        if not v:
            continue
        if v.lower() == "all":
            out.append("all")
        elif v.isdigit():
            out.append(int(v))
        else:
            raise ConfigError(f"--train-sizes: expected images per class or 'all' (e.g. 10,20,all), got {v!r}.")
    return out


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [v.strip() for v in text.split(",") if v.strip()]


def _run_stamp(config, dataset) -> dict:
    """What a study's results depend on: the configuration, the data and the versions."""
    digest = hashlib.sha256()
    for array in (dataset.images, dataset.labels, dataset.is_synthetic):
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    if dataset.split is not None:
        digest.update("\n".join(map(str, dataset.split)).encode("utf-8"))
    config_dict = to_jsonable(config.to_dict())
    # Results do not depend on where the jobs run: a resume may use other n_jobs or a backend.
    for key in ("n_jobs", "backend", "address"):
        config_dict.pop(key, None)
    return {"config": config_dict, "data_sha256": digest.hexdigest(), "versions": package_versions()}


def _open_cache(out: Path, resume: bool, stamp: dict):
    """The hidden job cache beside --out: checked against ``stamp`` with --resume, else new."""
    from ..experiment.cache import JobCache

    cache = JobCache(out.parent / f".{out.name}.evaluate-cache")
    if resume:
        saved = cache.read_stamp()
        # Name a changed option by its key (cnn_params, not config.cnn_params.epochs),
        # and the data and versions in words.
        describe = {"data_sha256": "the data", "versions": "package versions"}
        for change in stamp_changes(saved, stamp) if saved is not None else ():
            top, _, rest = change.partition(".")
            if top == "config" and rest:
                describe[change] = rest.split(".")[0]
            elif top == "versions":
                describe[change] = "package versions"
        check_resume_stamp(saved, stamp, where=cache.directory, describe=describe)
        return cache
    cache.clear()  # a previous interrupted run of this --out is superseded
    cache.write_stamp(stamp)
    return cache


@click.command("evaluate")
@click.argument("data", required=False)
@click.option("--config", "recipe", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="TOML recipe (see pipelines/). Without one, small and fast defaults are used.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder for the report.")
@click.option("--seeds", default=None, help="Comma-separated seeds, e.g. 0,1,2.")
@click.option("--ratios", default=None, help="Synthetic-per-real ratios for the gan arm, e.g. 0.5,1,2.")
@click.option("--train-sizes", default=None, help="Training images per class, e.g. 10,20,all.")
@click.option("--arms", default=None, help="Arms to run, e.g. real,classic,gan (real is always run).")
@click.option("--classifiers", default=None, help="Downstream classifiers, e.g. cnn,logreg.")
@click.option("--gan-model", type=click.Choice(MODEL_CHOICES), default=None,
              help="Generator of the gan* arms (the recipe's gan_model; default auto: chosen per training size).")
@click.option("--gan-epochs", type=int, default=None, help="Generator training epochs.")
@click.option("--cnn-epochs", type=int, default=None, help="Downstream CNN training epochs.")
@click.option("--cnn-equal-steps/--no-cnn-equal-steps", default=None,
              help="Train every arm's CNN for the optimizer steps of the real-only arm, so that more rows "
                   "do not mean more training (default; the recipe's [cnn] equal_steps).")
@click.option("--synthetic-weight", type=float, default=None,
              help="Weight of a synthetic row in the downstream loss, relative to a real row (default 1).")
@data_options
@click.option("--robustness/--no-robustness", default=None,
              help="Score robust accuracy (FGSM, PGD, corruptions) and add adversarial-training arms.")
@click.option("--quality/--no-quality", default=None,
              help="Sample fidelity, TRTS and the memorisation check.")
@click.option("--n-jobs", type=int, default=None,
              help="Parallel jobs (-1: all cores); with --backend dask/ray and no --address, the local cluster's workers.")
@click.option("--backend", type=click.Choice(["local", "dask", "ray"]), default=None,
              help="Where the jobs run: local processes (default), a Dask cluster or a Ray cluster.")
@click.option("--address", default=None,
              help="Dask scheduler (tcp://host:8786) or Ray head (host:6379) for --backend dask/ray; "
                   "without it a local cluster is started.")
@click.option("--device", default=None, help="auto, cpu or cuda.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out folder.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run: reuse the jobs it finished (same data and options).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def evaluate(data: str | None, recipe: Path | None, out: Path, overwrite: bool, resume: bool,
             progress: bool, skip_bad_images: bool, allow_outside_root: bool, **opts: Any) -> None:
    """Measure whether GAN augmentation helps: every arm over several seeds, scored on the
    real test split, with a report (tables, plots, HTML) in --out.

    DATA (builtin:digits, an .npz, a folder or a CSV manifest) overrides the recipe's
    dataset and may be left out when the recipe names one.

    \b
    Examples:
      synthaug evaluate builtin:digits --out runs/eval
      synthaug evaluate --config pipelines/digits_lowdata.toml --out runs/digits --seeds 0,1
      synthaug evaluate --config pipelines/digits_lowdata.toml --out runs/digits \\
          --backend dask --address tcp://scheduler:8786
    """
    from ..experiment import ExperimentConfig, run_experiment
    from ..experiment.backends import use_backend
    from ..experiment.config import FAST_DEFAULTS

    for flag in ("gan_epochs", "cnn_epochs", "image_size"):
        positive(f"--{flag.replace('_', '-')}", opts[flag])
    overrides = {
        "dataset": data,
        "seeds": _int_list("--seeds", opts["seeds"]),
        "ratios": _float_list("--ratios", opts["ratios"]),
        "train_sizes": _sizes(opts["train_sizes"]),
        "arms": _names(opts["arms"]),
        "classifiers": _names(opts["classifiers"]),
        "gan_model": opts["gan_model"],
        "gan_epochs": opts["gan_epochs"],
        "cnn_epochs": opts["cnn_epochs"],
        "cnn_equal_steps": opts["cnn_equal_steps"],
        "synthetic_weight": opts["synthetic_weight"],
        "image_size": opts["image_size"],
        "robustness": opts["robustness"],
        "quality": opts["quality"],
        "n_jobs": opts["n_jobs"],
        "backend": opts["backend"],
        "address": opts["address"],
        "device": opts["device"],
    }
    if recipe is not None:
        config = ExperimentConfig.from_toml(recipe, **overrides)
    else:
        config = ExperimentConfig(**FAST_DEFAULTS).replace(**overrides)
    if config.dataset is None:
        raise ConfigError(
            "no dataset: pass DATA (e.g. builtin:digits) or use a --config recipe that sets `dataset`."
        )
    # Check the output folder before hours of work, not after.
    check_output_dir(out, overwrite)
    dataset, _, _ = load_data(config.dataset, config.image_size, skip_bad_images, allow_outside_root)
    click.echo(
        f"Evaluating {config.dataset}: {len(dataset)} images, {dataset.n_classes} classes; "
        f"arms {', '.join(config.resolved_arms())}; seeds {list(config.seeds)}; "
        f"train sizes {list(config.train_sizes)}"
        + ("" if config.backend == "local" else
           f"; jobs on {config.backend} at {config.address or 'a local cluster'}") + ".",
        err=True,
    )
    # Connect before anything is written: an unreachable --address fails here, fast.
    with use_backend(config.backend, config.address, n_jobs=config.n_jobs):
        cache = _open_cache(out, resume, _run_stamp(config, dataset))
        try:
            with each_warning_once() as once:
                report = run_experiment(dataset, config, progress=progress, cache=cache)
        except KeyboardInterrupt:
            exit_interrupted(f"{len(cache)} finished job(s) are kept in {cache.directory}")
        except JobError as exc:
            # .message: Ray re-raises a job's error in a class whose str() adds a traceback.
            message, details = getattr(exc, "message", str(exc)), getattr(exc, "details", "")
            logging.getLogger("synthaug").debug("the job's traceback:\n%s", details)
            raise JobError(f"{message} {len(cache)} finished job(s) are kept in {cache.directory}; fix the "
                           "cause and run the same command with --resume to continue.", details) from None
    if report.info.get("n_jobs_reused"):
        click.echo(f"Resumed: {report.info['n_jobs_reused']} finished job(s) reused from "
                   f"{cache.directory}.", err=True)
    with staged_output(out, overwrite) as tmp:
        report.write(tmp)
        write_run_record(tmp, {**config.to_dict(), "out": out, "overwrite": overwrite,
                                "resume": resume, "skip_bad_images": skip_bad_images,
                                "allow_outside_root": allow_outside_root}, "evaluate")
    cache.clear()  # the report is in place; the finished jobs are no longer needed

    import pandas as pd

    # Accuracy with its interval, then the other headline metrics as "mean (gain vs real)":
    # accuracy alone hides a classifier that predicts the majority class.
    table = report.summary_table("accuracy")
    keys = [k for k in ("train_size", "classifier", "arm", "ratio", "synthetic_weight") if k in table]
    for metric, label in (("balanced_accuracy", "balanced_acc"), ("roc_auc", "roc_auc")):
        other = report.summary_table(metric)
        if other.empty or other[metric].isna().all():
            continue
        other[label] = [f"{v:.3f}" + (f" ({d})" if d else "") for v, d in zip(other[metric], other["vs_real"])]
        table = table.merge(other[keys + [label]], on=keys, how="left")
    click.echo("Verdict (accuracy; paired 95% interval of the difference with real only):")
    for line in report.verdict():
        click.echo(f"  {line}")
    click.echo("")
    with pd.option_context("display.width", 120, "display.max_rows", 200, "display.max_columns", 20):
        # "-": an arm without a ratio (real), not a ratio of 0.
        click.echo(table.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.3f}"))
    for note in report.info.get("notes", []):
        click.echo(f"Note: {note}", err=True)
    if once.n_repeats:
        click.echo(f"Note: {once.n_repeats} repeated warning(s) were shown once.", err=True)
    click.echo(f"Report: {out / 'report.html'} (also report.md, results.csv, summary.csv).")
