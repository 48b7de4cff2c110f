"""``synthaug train``, ``generate``, ``augment`` and ``datasets``.

The estimator, the sampler and the data writers are imported inside the commands:
importing them (scikit-learn, pandas) would add seconds to every ``synthaug --help``.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from ..exceptions import ConfigError, TrainingDivergedError
from ..generators import LOSSES, MODELS, STRATEGIES
from ..persistence import (
    MODEL_DIR_NAME,
    check_resume_stamp,
    find_model_dir,
    read_json,
    write_json,
    write_run_record,
)
from ._common import check_output_dir, data_options, load_data, positive, staged_output

DIVERGED_MODEL_NAME = "last_healthy_model"
RUN_STAMP = "run.json"

# What must match between an interrupted train/augment and its --resume.
_STAMP_KEYS = ("model", "strategy", "loss", "epochs", "batch_size", "spectral_norm", "diff_augment",
               "ema_decay", "seed", "image_size")


# ----------------------------------------------------------------------- options
_GAN_OPTIONS = [
    click.option("--model", "model", type=click.Choice(MODELS), default="dcgan",
                 show_default=True, help="Network family."),
    click.option("--strategy", type=click.Choice(STRATEGIES), default="conditional", show_default=True,
                 help="One network pair conditioned on the label, or one pair per class."),
    click.option("--loss", type=click.Choice(LOSSES), default="hinge", show_default=True),
    click.option("--epochs", type=int, default=None,
                 help="Training epochs (default: the model's small-data default)."),
    click.option("--batch-size", type=int, default=64, show_default=True),
    click.option("--spectral-norm/--no-spectral-norm", default=True, show_default=True,
                 help="Spectral normalisation in the discriminator."),
    click.option("--diff-augment", default="color,translation,cutout", show_default=True,
                 help="Differentiable augmentation policies, comma-separated; 'none' disables."),
    click.option("--ema-decay", type=float, default=0.999, show_default=True,
                 help="EMA of the generator's weights for sampling; 0 disables."),
    click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
    click.option("--checkpoint-every", type=int, default=10, show_default=True,
                 help="Save a resumable checkpoint every N epochs."),
    click.option("--resume", is_flag=True,
                 help="Continue an interrupted run from its checkpoint (same options)."),
    click.option("--progress/--no-progress", default=True, help="Show a progress bar."),
]

_COUNT_OPTIONS = [
    click.option("--ratio", type=float, default=None,
                 help="Add R times each class's real count (default 1 when no count is given)."),
    click.option("--balance", is_flag=True, help="Raise every class to the largest class's count."),
    click.option("--n-per-class", type=int, default=None, help="Add N samples to every class."),
]


def _decorate(options: list[Callable], func: Callable) -> Callable:
    for option in reversed(options):  # the first option is listed first in --help
        func = option(func)
    return func


def gan_options(func: Callable) -> Callable:
    """Options that choose and train the generator."""
    return _decorate(_GAN_OPTIONS, func)


def count_options(func: Callable) -> Callable:
    """How many synthetic samples to add."""
    return _decorate(_COUNT_OPTIONS, func)


def _gan_command(*extra: Callable) -> Callable:
    """A command that trains a GAN on DATA: DATA, --out, --overwrite, ``extra``, then the
    data and GAN options (in that order in --help)."""

    def decorate(func: Callable) -> Callable:
        return click.command()(_decorate([
            click.argument("data"),
            click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder."),
            click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder."),
            *extra, data_options, gan_options,
        ], func))

    return decorate


# ----------------------------------------------------------------------- helpers
def _checkpoint_dir(out: Path) -> Path:
    """Checkpoints live beside the output folder so that an interrupted run keeps them."""
    out = Path(out).resolve()
    return out.parent / f".{out.name}.checkpoint"


def _check_gan_options(opts: dict[str, Any]) -> None:
    """Cheap option checks, run before the data are loaded."""
    positive("--batch-size", opts["batch_size"])
    positive("--epochs", opts["epochs"])
    positive("--checkpoint-every", opts["checkpoint_every"])
    if not 0.0 <= opts["ema_decay"] < 1.0:
        raise ConfigError(f"--ema-decay must be in [0, 1), got {opts['ema_decay']}.")


def _build_gan(opts: dict[str, Any], checkpoint_dir: Path):
    from ..generators import ConditionalGAN

    _check_gan_options(opts)
    diff = opts["diff_augment"]
    params = dict(
        model=opts["model"],
        strategy=opts["strategy"],
        loss=opts["loss"],
        batch_size=opts["batch_size"],
        spectral_norm=opts["spectral_norm"],
        diff_augment=None if diff.strip().lower() in ("", "none") else diff,
        ema_decay=opts["ema_decay"] or None,
        device=opts["device"],
        random_state=opts["seed"],
        progress=opts["progress"],
        checkpoint_dir=str(checkpoint_dir),
        checkpoint_every=opts["checkpoint_every"],
    )
    if opts["epochs"] is not None:
        params["epochs"] = opts["epochs"]
    return ConditionalGAN(**params)


def _prepare_checkpoint(data: str, opts: dict[str, Any], ckpt: Path) -> None:
    """With --resume, check the run stamp; without, start a fresh checkpoint folder."""
    stamp = {"data": data, **{k: opts.get(k) for k in _STAMP_KEYS}}
    if opts["resume"]:
        saved = read_json(ckpt / RUN_STAMP, "run stamp") if (ckpt / RUN_STAMP).is_file() else None
        describe = {"data": "DATA", **{k: "--" + k.replace("_", "-") for k in _STAMP_KEYS}}
        check_resume_stamp(saved, stamp, where=ckpt, describe=describe)
        return
    if ckpt.exists():
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True)
    write_json(ckpt / RUN_STAMP, stamp)


def _fit_with_checkpoints(fit: Callable[[], Any], fitted: Callable[[], Any], class_names, ckpt: Path):
    """Run ``fit()`` with resumable checkpoints; SIGTERM is treated like Ctrl-C.

    ``fitted()`` returns the generator being trained, so that after a divergence its
    last healthy weights can be saved where the user finds them.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def _on_sigterm(signum, frame):  # pragma: no cover - exercised by a subprocess test
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return fit()
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted. A checkpoint is saved in {ckpt}; run the same command with --resume "
            "to continue.",
            err=True,
        )
        raise SystemExit(130) from None
    except TrainingDivergedError as exc:
        # The estimator holds the last healthy weights; the output folder is not written
        # (the run did not finish), so save them where the user can find them.
        kept = ckpt / DIVERGED_MODEL_NAME
        fitted().save(kept, class_names=class_names)
        raise TrainingDivergedError(
            f"{exc} Saved that model in {kept} (sample from it with 'synthaug generate {kept} "
            "--n-per-class N --out DIR'); it is removed when this command is run again. To train "
            "again, try fewer --epochs, --loss hinge, --spectral-norm or another --seed."
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_synthetic(directory: Path, dataset) -> None:
    """synthetic/<class_name>/*.png and synthetic/manifest.csv."""
    from ..data import write_png_folder

    write_png_folder(dataset, directory / "synthetic")


def _write_samples_png(directory: Path, images, labels, n_classes: int) -> None:
    from ..data.grid import grid_png_bytes
    from ..data.io import atomic_write_bytes

    atomic_write_bytes(directory / "samples.png", grid_png_bytes(images, labels, n_classes))


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


def _oversample(gan, train, counts: dict[int, int], opts: dict[str, Any], ckpt: Path):
    """Fit ``gan`` through :class:`GANOverSampler` and draw ``counts``.

    Returns ``(fitted generator, synthetic images, synthetic labels)``: exactly the rows
    ``GANOverSampler(generator=gan, random_state=seed).fit_resample`` appends.
    """
    from sklearn.base import clone

    from ..over_sampling import GANOverSampler

    real = np.bincount(train.labels, minlength=train.n_classes)
    targets = {c: int(real[c]) + n for c, n in counts.items()}  # imbalanced-learn's dict: target counts
    sampler = GANOverSampler(generator=gan, sampling_strategy=targets, random_state=opts["seed"])

    def fit():
        X_res, y_res = sampler.fit_resample(train.images, train.labels, resume=opts["resume"])
        if sampler.generator_ is None:  # nothing to add (--balance on balanced data): still train
            sampler.generator_ = clone(gan)
            sampler.generator_.fit(train.images, train.labels, resume=opts["resume"])
        return X_res[len(train):], y_res[len(train):]

    syn_images, syn_labels = _fit_with_checkpoints(fit, lambda: sampler.generator_, train.class_names, ckpt)
    return sampler.generator_, syn_images, syn_labels


# ----------------------------------------------------------------------- commands
@_gan_command()
def train(data: str, out: Path, overwrite: bool, **opts: Any) -> None:
    """Train a conditional GAN on DATA and save it in OUT.

    DATA is an .npz file, a folder with one sub-folder per class, a CSV manifest
    (path,label) or a built-in name such as builtin:digits. With MedMNIST-style splits
    only the train split is used. OUT receives model/, history.csv, samples.png and
    config.json.
    """
    check_output_dir(out, overwrite)  # fail before the (possibly long) load
    _check_gan_options(opts)
    dataset, train_set, _ = load_data(data, opts["image_size"], opts["skip_bad_images"], opts["allow_outside_root"])
    ckpt = _checkpoint_dir(out)
    with staged_output(out, overwrite) as tmp:
        _prepare_checkpoint(data, opts, ckpt)
        gan = _build_gan(opts, ckpt)
        _fit_with_checkpoints(lambda: gan.fit(train_set.images, train_set.labels, resume=opts["resume"]),
                              lambda: gan, train_set.class_names, ckpt)
        preview = np.repeat(np.arange(len(gan.classes_)), 10)
        _write_model(tmp, gan, train_set.class_names)
        _write_samples_png(tmp, gan.sample(gan.classes_[preview], random_state=opts["seed"]),
                           preview, len(gan.classes_))
        write_run_record(tmp, {"data": data, **opts, "class_names": list(train_set.class_names)}, "train")
    shutil.rmtree(ckpt, ignore_errors=True)
    click.echo(
        f"Trained {opts['model']} ({opts['strategy']}) on {len(train_set)} images in "
        f"{gan.train_seconds_:.1f} s ({gan.images_per_second_:.0f} images/s).\n"
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
    from ..generators import ConditionalGAN

    positive("--n-per-class", n_per_class)
    check_output_dir(out, overwrite)
    gan = ConditionalGAN.load(find_model_dir(model_dir), device=device)
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


@_gan_command(count_options)
def augment(data: str, out: Path, overwrite: bool, ratio, balance, n_per_class, **opts: Any) -> None:
    """Train a conditional GAN on DATA and write a mixed real + synthetic dataset to OUT.

    OUT receives augmented.npz (images, labels, class_names, is_synthetic; the input's
    val/test splits are copied unchanged as val_*/test_*), synthetic/<class>/*.png with
    synthetic/manifest.csv, samples.png, history.csv, model/ and config.json. The
    synthetic rows are those that GANOverSampler.fit_resample appends with the same
    generator options and random_state set to --seed: class by class, in class order.
    """
    from ..data import ImageDataset, write_npz

    positive("--ratio", ratio)
    positive("--n-per-class", n_per_class)
    check_output_dir(out, overwrite)  # fail before the (possibly long) load
    _check_gan_options(opts)
    _resolve_counts(np.array([0, 1]), ratio, balance, n_per_class)  # option conflicts, before loading
    dataset, train_set, skipped = load_data(
        data, opts["image_size"], opts["skip_bad_images"], opts["allow_outside_root"]
    )
    counts = _resolve_counts(train_set.labels, ratio, balance, n_per_class)
    ckpt = _checkpoint_dir(out)
    with staged_output(out, overwrite) as tmp:
        _prepare_checkpoint(data, opts, ckpt)
        gan, syn_images, syn_labels = _oversample(_build_gan(opts, ckpt), train_set, counts, opts, ckpt)
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
        _write_samples_png(tmp, syn_images, syn_labels, train_set.n_classes)
        _write_model(tmp, gan, train_set.class_names)
        write_run_record(
            tmp,
            {"data": data, "ratio": ratio, "balance": balance, "n_per_class": n_per_class,
             "synthetic_per_class": {train_set.class_names[k]: v for k, v in counts.items()},
             "skipped_files": skipped, **opts, "class_names": list(train_set.class_names)},
            "augment",
        )
    shutil.rmtree(ckpt, ignore_errors=True)
    click.echo(_counts_table(train_set.class_counts(), mixed.class_counts()))
    click.echo(
        f"\nTrained in {gan.train_seconds_:.1f} s ({gan.images_per_second_:.0f} images/s). "
        f"Wrote {len(syn_labels)} synthetic images.\n"
        f"Results in {out}: augmented.npz, synthetic/ (PNG + manifest.csv), samples.png, "
        "history.csv, model/, config.json"
    )


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
