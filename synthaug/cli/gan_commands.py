"""``synthaug train``, ``generate``, ``augment`` and ``datasets``.

The estimator, the sampler and the data writers are imported inside the commands:
importing them (scikit-learn, pandas) would add seconds to every ``synthaug --help``.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from ..exceptions import ConfigError, LowQualityError, TrainingDivergedError
from ..persistence import (
    MODEL_DIR_NAME,
    check_resume_stamp,
    find_model_dir,
    read_json,
    write_json,
    write_run_record,
)
from ._common import check_output_dir, exit_interrupted, load_data, positive, staged_output
from .gan_options import (
    build_gan,
    check_gan_options,
    count_options,
    gan_command,
    quality_options,
    resolve_cli_model,
    select_options,
    stamp_keys,
)

DIVERGED_MODEL_NAME = "last_healthy_model"
RUN_STAMP = "run.json"

# ----------------------------------------------------------------------- helpers
def _joins_torchrun(command: Callable) -> Callable:
    """Run ``command`` inside torchrun's process group when torchrun started it (WORLD_SIZE > 1).

    The group is left again when the command ends, also on an error or Ctrl-C.
    """

    @functools.wraps(command)
    def run(*args: Any, **opts: Any) -> Any:
        if "WORLD_SIZE" not in os.environ:  # not under torchrun: no group to join, and no torch
            return command(*args, **opts)  # yet, so a bad option or file is reported at once
        from ..generators.distributed import init_from_env

        with init_from_env(opts["device"]):
            return command(*args, **opts)

    return run


def _process_info() -> tuple[bool, int]:
    """``(is this rank 0, number of training processes)``: ``(True, 1)`` without torchrun."""
    from ..generators.distributed import is_main_process, world_size

    return is_main_process(), world_size()


def _fit_on_worker(gan, train_set, val, fraction: float, opts: dict[str, Any], data: str, ckpt: Path) -> None:
    """torchrun ranks > 0: the same hold-back and fit as rank 0, to train the shared model.

    Rank 0 alone judges the samples, draws and writes every file (checkpoints too); a
    worker leaves when training ends.
    """
    if opts["resume"]:
        _prepare_checkpoint(data, {**opts, "validation_fraction": fraction}, ckpt)  # only checks the stamp
    sampler = _gate_sampler(gan, fraction, opts["seed"])
    validation = (val.images, val.labels) if val is not None else None
    sampler.fit_generator(train_set.images, train_set.labels, validation_data=validation, resume=opts["resume"])


def _checkpoint_dir(out: Path) -> Path:
    """Checkpoints live beside the output folder so that an interrupted run keeps them."""
    out = Path(out).resolve()
    return out.parent / f".{out.name}.checkpoint"


def _prepare_checkpoint(data: str, opts: dict[str, Any], ckpt: Path) -> None:
    """With --resume, check the run stamp; without, start a fresh checkpoint folder."""
    keys = stamp_keys(opts)
    stamp = {"data": data, **{k: opts.get(k) for k in keys}}
    if opts["resume"]:
        saved = read_json(ckpt / RUN_STAMP, "run stamp") if (ckpt / RUN_STAMP).is_file() else None
        describe = {"data": "DATA", **{k: "--" + k.replace("_", "-") for k in keys}}
        check_resume_stamp(saved, stamp, where=ckpt, describe=describe)
        return
    if ckpt.exists():
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True)
    write_json(ckpt / RUN_STAMP, stamp)


def _fit_with_checkpoints(fit: Callable[[], Any], fitted: Callable[[], Any], class_names, ckpt: Path):
    """Run ``fit()`` with resumable checkpoints.

    Ctrl-C, and SIGTERM (which :class:`~synthaug.cli._common.SynthaugGroup` turns into
    Ctrl-C for every command), keep the checkpoint and say how to resume. ``fitted()``
    returns the generator being trained, so that after a divergence its last healthy
    weights can be saved where the user finds them.
    """
    try:
        return fit()
    except KeyboardInterrupt:
        exit_interrupted(f"A checkpoint is saved in {ckpt}")
    except TrainingDivergedError as exc:
        # The estimator holds the last healthy weights; the output folder is not written
        # (the run did not finish), so save them where the user can find them.
        kept = ckpt / DIVERGED_MODEL_NAME
        fitted().save(kept, class_names=class_names)
        raise TrainingDivergedError(
            f"{exc} Saved that model in {kept} (sample from it with 'synthaug generate {kept} "
            "--n-per-class N --out DIR'); it is removed when this command is run again. To train "
            "again, try fewer --steps, --loss hinge, --spectral-norm or another --seed."
        ) from None
    except RuntimeError as exc:
        if _process_info()[1] <= 1:
            raise
        # torchrun: a peer stopped first (Ctrl-C, a crash); its failed collective surfaces here.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(
            f"\nAnother training process stopped ({first}). The checkpoint of the last completed epoch "
            f"is in {ckpt}; run the same torchrun command with --resume to continue.",
            err=True,
        )
        raise SystemExit(1) from None


def _write_synthetic(directory: Path, dataset) -> None:
    """synthetic/<class_name>/*.png and synthetic/manifest.csv."""
    from ..data import write_png_folder

    write_png_folder(dataset, directory / "synthetic")


def _write_samples_png(directory: Path, images, labels, n_classes: int, caption: str | None = None) -> None:
    from ..data.grid import grid_png_bytes
    from ..data.io import atomic_write_bytes

    png = grid_png_bytes(images, labels, n_classes)
    if caption:
        from ..quality import add_caption

        png = add_caption(png, caption)
    atomic_write_bytes(directory / "samples.png", png)


def _validation_fraction(value: str) -> float:
    """--validation-fraction: "auto" (0.2) or a number in [0, 1)."""
    from ..quality import resolve_fraction

    try:
        parsed = value if value == "auto" else float(value)
    except ValueError:
        raise ConfigError(f"--validation-fraction must be 'auto' or a number in [0, 1), got {value!r}.") from None
    return resolve_fraction(parsed, "--validation-fraction")


def _validation_split(dataset, fraction: float):
    """The input's own val split (used as the held-back set), or None."""
    if fraction == 0 or "val" not in dataset.splits:
        return None
    return dataset.get_split("val")


def _gate_sampler(gan, fraction: float, seed: int, **params):
    from ..over_sampling import GANOverSampler

    # The CLI decides itself what a failed gate means (augment refuses to write, train warns).
    return GANOverSampler(generator=gan, random_state=seed, validation_fraction=fraction,
                          on_low_quality="ignore", **params)


#: What the gate does not judge, said whenever augment writes or refuses samples.
GATE_SCOPE = ("the gate judges whether they look like your images, not whether they help a classifier: "
              "synthaug evaluate with --arms real,classic,noise,gan measures that")

#: The share of near-copies among the gate's samples above which train/augment say how to draw fewer.
NEAR_COPY_HINT = 0.25


def near_copy_hint(copied_fraction: float, generator) -> str | None:
    """What to change when many samples are near-copies of training images (None: few are)."""
    if not copied_fraction >= NEAR_COPY_HINT:
        return None
    # only the diffusion model has a dropout parameter: suggest it when it is off
    dropout = ("--dropout 0.5 (it halved the near-copies on 10 digits per class) or "
               if getattr(generator, "dropout", None) == 0 else "")
    return (f"  Hint: {copied_fraction:.0%} of the samples are near-copies. To keep them farther from the "
            f"training images, use {dropout}--copy-guard 0.7 with --select coverage, at some cost in "
            "precision (docs/guide.md, 'Sample selection').")


def _report_quality(directory: Path, sampler, val, class_names) -> dict[str, Any] | None:
    """Print the gate's summary, write quality.json; return the verdict for config.json."""
    report = sampler.quality_
    if report is None:
        click.echo("Quality gate: off (--validation-fraction 0, or no class has 3 images to hold one back).")
        return None
    held_from = "the val split of DATA" if val is not None else "held-back training images"
    click.echo("\n".join(report.summary_lines(class_names)))
    hint = near_copy_hint(report.metrics.get("copied_fraction", 0.0), sampler.generator)
    if hint:
        click.echo(hint)
    write_json(directory / "quality.json", {
        **report.to_dict(), "class_names": list(class_names), "held_back_from": held_from,
        "n_fit": len(sampler.fit_idx_), "n_held": report.metrics["n_held"],
    })
    return {"passed": report.passed, "reasons": list(report.reasons), "caption": report.caption(),
            "held_back_from": held_from}


def _write_model(directory: Path, gan, class_names) -> None:
    from ..data.io import atomic_write_text

    gan.save(directory / MODEL_DIR_NAME, class_names=class_names)
    atomic_write_text(directory / "history.csv", gan.history_.to_csv(index=False))


def _counts_table(before: dict[str, int], after: dict[str, int]) -> str:
    width = max(len(n) for n in before) + 2
    lines = [f"{'class':<{width}}{'real':>8}{'synthetic':>11}{'total':>8}"]
    for name in before:
        lines.append(f"{name:<{width}}{before[name]:>8}{after[name] - before[name]:>11}{after[name]:>8}")
    return "\n".join(lines)


def _resolve_counts(labels, ratio, balance, n_per_class) -> dict[int, int]:
    from ..over_sampling import resolve_counts

    if ratio is None and not balance and n_per_class is None:
        ratio = 1.0
    return resolve_counts(labels, ratio=ratio, balance=balance, n_per_class=n_per_class)


def _oversample(gan, train, val, counts: dict[int, int], opts: dict[str, Any], ckpt: Path, fraction: float):
    """Fit ``gan`` through :class:`GANOverSampler` (hold-back and gate included) and draw ``counts``.

    Returns ``(sampler, synthetic images, synthetic labels)``: exactly the rows
    ``GANOverSampler(generator=gan, random_state=seed, validation_fraction=fraction).fit_resample``
    appends (with ``validation_data`` = the val split when DATA has one).
    """
    real = np.bincount(train.labels, minlength=train.n_classes)
    targets = {c: int(real[c]) + n for c, n in counts.items()}  # imbalanced-learn's dict: target counts
    select = None if opts["select"] == "none" else opts["select"]
    sampler = _gate_sampler(gan, fraction, opts["seed"], sampling_strategy=targets, select=select,
                            pool_factor=opts["pool_factor"], copy_guard=opts["copy_guard"])
    validation = (val.images, val.labels) if val is not None else None

    def fit():
        X_res, y_res = sampler.fit_resample(train.images, train.labels, validation_data=validation,
                                            resume=opts["resume"])
        if sampler.generator_ is None:  # nothing to add (--balance on balanced data): still train
            sampler.fit_generator(train.images, train.labels, validation_data=validation, resume=opts["resume"])
        return X_res[len(train):], y_res[len(train):]

    syn_images, syn_labels = _fit_with_checkpoints(fit, lambda: sampler.generator_, train.class_names, ckpt)
    return sampler, syn_images, syn_labels


# ----------------------------------------------------------------------- commands
@gan_command(quality_options)
@_joins_torchrun
def train(data: str, out: Path, overwrite: bool, validation_fraction: str, **opts: Any) -> None:
    """Train a conditional GAN (or, with --model ddpm, a diffusion model) on DATA; save it in OUT.

    DATA is an .npz file, a folder with one sub-folder per class, a CSV manifest
    (path,label) or a built-in name such as builtin:digits. With MedMNIST-style splits
    only the train split is used for training (its val split, when present, to check
    the samples). Part of each class is held back from the GAN to check its samples
    (--validation-fraction); the verdict is printed and a failed check is a warning.
    OUT receives model/, history.csv, samples.png (with the verdict under the grid),
    quality.json and config.json.
    """
    fraction = _validation_fraction(validation_fraction)
    check_output_dir(out, overwrite)  # fail before the (possibly long) load
    check_gan_options(opts)
    dataset, train_set, _ = load_data(data, opts["image_size"], opts["skip_bad_images"], opts["allow_outside_root"])
    val = _validation_split(dataset, fraction)
    ckpt = _checkpoint_dir(out)
    main, n_proc = _process_info()
    opts = resolve_cli_model(opts, train_set, n_proc, main=main)
    if not main:
        _fit_on_worker(build_gan({**opts, "progress": False}, ckpt), train_set, val, fraction, opts, data, ckpt)
        return
    with staged_output(out, overwrite) as tmp:
        _prepare_checkpoint(data, {**opts, "validation_fraction": fraction}, ckpt)
        sampler = _gate_sampler(build_gan(opts, ckpt), fraction, opts["seed"])
        validation = (val.images, val.labels) if val is not None else None
        _fit_with_checkpoints(lambda: sampler.fit_generator(train_set.images, train_set.labels,
                                                            validation_data=validation, resume=opts["resume"]),
                              lambda: sampler.generator_, train_set.class_names, ckpt)
        gan = sampler.generator_
        verdict = _report_quality(tmp, sampler, val, train_set.class_names)
        preview = np.repeat(np.arange(len(gan.classes_)), 10)
        _write_model(tmp, gan, train_set.class_names)
        _write_samples_png(tmp, gan.sample(gan.classes_[preview], random_state=opts["seed"]),
                           preview, len(gan.classes_), verdict and verdict["caption"])
        write_run_record(tmp, {"data": data, **opts, "validation_fraction": fraction, "quality": verdict,
                               "class_names": list(train_set.class_names), "world_size": n_proc}, "train")
    shutil.rmtree(ckpt, ignore_errors=True)
    if verdict is not None and not verdict["passed"]:
        click.echo(f"Warning: {_gate_failure(sampler)} The model is saved anyway.", err=True)
    click.echo(
        f"Trained {opts['model']} ({opts['strategy']}) on {len(train_set)} images in "
        f"{gan.train_seconds_:.1f} s ({gan.images_per_second_:.0f} images/s"
        f"{f', {n_proc} processes' if n_proc > 1 else ''}).\n"
        f"Model: {out / MODEL_DIR_NAME}   samples: {out / 'samples.png'}"
    )


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--n-per-class", type=int, required=True, help="Samples to generate per class.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder.")
def generate(model_dir: Path, out: Path, n_per_class: int, seed: int, device: str, overwrite: bool) -> None:
    """Generate N labelled samples per class from a trained model in MODEL_DIR.

    OUT receives synthetic.npz, synthetic/<class>/*.png with synthetic/manifest.csv,
    samples.png and config.json.
    """
    from ..data import ImageDataset, write_npz

    positive("--n-per-class", n_per_class)
    check_output_dir(out, overwrite)
    model_path = find_model_dir(model_dir)  # a wrong folder is reported before torch loads
    from ..generators import load_model

    gan = load_model(model_path, device=device)  # a GAN or a diffusion model
    class_names = gan.class_names_
    labels = np.repeat(np.arange(len(gan.classes_)), n_per_class)
    with staged_output(out, overwrite) as tmp:
        images = gan.sample(gan.classes_[labels], random_state=seed)
        syn = ImageDataset(images, labels, class_names, is_synthetic=np.ones(len(labels), bool),
                           name="synthetic")
        write_npz(syn, tmp / "synthetic.npz")
        _write_synthetic(tmp, syn)
        _write_samples_png(tmp, images, labels, len(class_names))
        write_run_record(tmp, {"model_dir": model_dir, "n_per_class": n_per_class, "seed": seed,
                               "device": device}, "generate")
    click.echo(f"Generated {len(labels)} images ({n_per_class} per class) into {out}.")


def _advice(report, opts: dict) -> str:
    """What to try next, from the checks that failed."""
    failed = {r.split(" ", 1)[0] for r in report.reasons if not r.startswith("note:")}
    if "copy" in failed:
        return "Train for fewer steps (--steps)."
    if failed & {"TRTS", "precision"}:
        return "Train longer (--steps)."
    if opts.get("model", "dcgan") != "ddpm" and failed & {"spread", "recall"}:
        return ("On small sets the GAN collapses onto a few images per class: --model ddpm covers them "
                "better (docs/benchmarks.md, section 11), or try --mode-seeking 0.03 --ada-target 0.6.")
    return "Train longer (--steps)."


def _gate_failure(sampler) -> str:
    from ..over_sampling.gan_sampler import low_quality_message

    return low_quality_message(sampler.quality_)


@gan_command(count_options, quality_options, select_options)
@_joins_torchrun
def augment(data: str, out: Path, overwrite: bool, ratio, balance, n_per_class, validation_fraction: str,
            accept_low_quality: bool, **opts: Any) -> None:
    """Train a conditional GAN (--model ddpm: a diffusion model) on DATA; write real + synthetic to OUT.

    OUT receives augmented.npz (images, labels, class_names, is_synthetic; the input's
    val/test splits are copied unchanged as val_*/test_*), synthetic/<class>/*.png with
    synthetic/manifest.csv, samples.png (with the quality verdict under the grid),
    quality.json, history.csv, model/ and config.json. The synthetic rows are those that
    GANOverSampler.fit_resample appends with the same generator options, random_state
    set to --seed and validation_fraction set to --validation-fraction: class by class,
    in class order. Part of each class (or DATA's val split) is held back from the GAN to
    check its samples; when they fail, nothing is added to your data (augmented.npz and
    synthetic/ are not written, the exit status is 1) unless --accept-low-quality.
    """
    fraction = _validation_fraction(validation_fraction)
    positive("--ratio", ratio)
    positive("--n-per-class", n_per_class)
    check_output_dir(out, overwrite)  # fail before the (possibly long) load
    check_gan_options(opts)
    _resolve_counts(np.array([0, 1]), ratio, balance, n_per_class)  # option conflicts, before loading
    dataset, train_set, skipped = load_data(
        data, opts["image_size"], opts["skip_bad_images"], opts["allow_outside_root"]
    )
    counts = _resolve_counts(train_set.labels, ratio, balance, n_per_class)
    val = _validation_split(dataset, fraction)
    ckpt = _checkpoint_dir(out)
    main, n_proc = _process_info()
    opts = resolve_cli_model(opts, train_set, n_proc, main=main)
    if not main:  # the same fit as fit_resample's; drawing and writing are rank 0's
        _fit_on_worker(build_gan({**opts, "progress": False}, ckpt), train_set, val, fraction, opts, data, ckpt)
        return
    with staged_output(out, overwrite) as tmp:
        _prepare_checkpoint(data, {**opts, "validation_fraction": fraction}, ckpt)
        sampler, syn_images, syn_labels = _oversample(build_gan(opts, ckpt), train_set, val, counts, opts,
                                                      ckpt, fraction)
        gan = sampler.generator_
        verdict = _report_quality(tmp, sampler, val, train_set.class_names)
        refused = verdict is not None and not verdict["passed"] and not accept_low_quality
        record = {"data": data, "ratio": ratio, "balance": balance, "n_per_class": n_per_class,
                  "synthetic_per_class": {train_set.class_names[k]: v for k, v in counts.items()},
                  "skipped_files": skipped, **opts, "validation_fraction": fraction,
                  "accept_low_quality": accept_low_quality, "quality": verdict,
                  "dataset_written": not refused, "class_names": list(train_set.class_names),
                  "world_size": n_proc}
        _write_samples_png(tmp, syn_images, syn_labels, train_set.n_classes, verdict and verdict["caption"])
        _write_model(tmp, gan, train_set.class_names)
        write_run_record(tmp, record, "augment")
        if refused:
            mixed = None  # the gate failed: model, samples and the report only
        else:
            mixed = _write_mixed(tmp, dataset, train_set, syn_images, syn_labels)
    shutil.rmtree(ckpt, ignore_errors=True)
    if refused:
        raise LowQualityError(
            f"{_gate_failure(sampler)} Nothing was added to your data. {_advice(sampler.quality_, opts)} "
            f"Or pass --accept-low-quality to write them anyway ({GATE_SCOPE}). The model, samples.png "
            f"and quality.json are in {out}."
        )
    if verdict is not None and not verdict["passed"]:
        click.echo("Warning: the samples failed the quality gate; written anyway (--accept-low-quality).",
                   err=True)
    click.echo(_counts_table(train_set.class_counts(), mixed.class_counts()))
    click.echo(
        f"\nTrained in {gan.train_seconds_:.1f} s ({gan.images_per_second_:.0f} images/s). "
        f"Wrote {len(syn_labels)} synthetic images.\n"
        f"Results in {out}: augmented.npz, synthetic/ (PNG + manifest.csv), samples.png, "
        f"history.csv, model/, {'quality.json, ' if verdict is not None else ''}config.json"
    )
    if verdict is not None:
        click.echo(f"Before you train on them: {GATE_SCOPE} (on 10 digits per class, samples that passed "
                   "cost a CNN up to 2.6 points: docs/benchmarks.md, section 15).")


def _write_mixed(tmp: Path, dataset, train_set, syn_images, syn_labels):
    """augmented.npz (with the input's val/test splits copied) and synthetic/; returns the mixed set."""
    from ..data import ImageDataset, write_npz

    mixed = train_set.with_synthetic(syn_images, syn_labels)
    extra = {}
    for split in ("val", "test"):
        if split in dataset.splits:
            part = dataset.get_split(split)
            extra[f"{split}_images"] = part.images_uint8()
            extra[f"{split}_labels"] = part.labels
    write_npz(mixed, tmp / "augmented.npz", extra=extra)
    synthetic = ImageDataset(syn_images, syn_labels, train_set.class_names,
                             is_synthetic=np.ones(len(syn_labels), bool), name="synthetic")
    _write_synthetic(tmp, synthetic)
    return mixed


@click.command()
def datasets() -> None:
    """List the built-in datasets and the input formats DATA can be."""
    from ..data import list_builtin_datasets

    click.echo("Built-in datasets:")
    for name, description in list_builtin_datasets().items():
        click.echo(f"  {name:<18} {description}")
    click.echo(
        "\nDATA can also be:\n"
        "  FILE.npz           MedMNIST layout (train_/val_/test_images, *_labels) or images/labels\n"
        "  FOLDER/            one sub-folder per class of PNG/JPEG/BMP/TIFF images\n"
        "  FILE.csv           a manifest with path,label columns (paths relative to the CSV)"
    )


COMMANDS = [train, generate, augment, datasets]
