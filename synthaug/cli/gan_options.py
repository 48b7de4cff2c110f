"""The options of the commands that train a generator (``train``, ``augment``).

One list per concern, each option mirroring a parameter of
:class:`~synthaug.generators.ConditionalGAN`, :class:`~synthaug.generators.ConditionalDiffusion`
or :class:`~synthaug.over_sampling.GANOverSampler`; :func:`build_gan` turns the parsed
options into the estimator (``--model ddpm``: the diffusion model). GAN-only options
(:data:`GAN_ONLY`) given with ``--model ddpm``, and diffusion-only ones
(:data:`DIFFUSION_ONLY`) given with a GAN, are refused rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from ..exceptions import ConfigError
from ..generators import AUTO, DIFFUSION_MODELS, LOSSES, MODEL_CHOICES, STRATEGIES
from ._common import data_options, positive

# What must match between an interrupted train/augment and its --resume.
STAMP_KEYS = ("model", "strategy", "loss", "epochs", "steps", "batch_size", "max_minutes", "n_snapshots",
               "spectral_norm", "diff_augment", "ema_decay", "mode_seeking", "lecam", "conditional_norm",
               "ada_target", "seed", "image_size")
# ... and, for --model ddpm only (so that older GAN checkpoints still resume).
DIFFUSION_STAMP_KEYS = ("sample_steps", "guidance_scale", "augment_p", "dropout")

#: Options that only a GAN takes, and only the diffusion model takes: (name, default).
GAN_ONLY = (("loss", "hinge"), ("spectral_norm", True), ("diff_augment", "color,translation,cutout"),
            ("ada_target", None), ("mode_seeking", 0.0), ("lecam", 0.0), ("conditional_norm", False),
            ("ema_decay", 0.999))
DIFFUSION_ONLY = (("sample_steps", 25), ("guidance_scale", 1.0), ("augment_p", 0.0), ("dropout", 0.5))

# The selection methods, spelled here (not imported) to keep `synthaug --help` fast;
# tests/test_cli.py pins them against over_sampling.SELECTION_METHODS.
SELECT_CHOICES = ("none", "random", "coverage", "covariance", "critic")


# ----------------------------------------------------------------------- options
_GAN_OPTIONS = [
    click.option("--model", "model", type=click.Choice(MODEL_CHOICES), default=AUTO, show_default=True,
                 help="Generator: a GAN (dcgan, vanilla) or a denoising diffusion model (ddpm); auto: ddpm "
                      "for images of at most 16 px whose default budget affords the steps it wants, "
                      "else dcgan. GAN-only or ddpm-only options decide auto too."),
    click.option("--strategy", type=click.Choice(STRATEGIES), default="conditional", show_default=True,
                 help="One network pair conditioned on the label, or one pair per class."),
    click.option("--loss", type=click.Choice(LOSSES), default="hinge", show_default=True),
    click.option("--steps", type=int, default=None,
                 help="Generator steps (default: chosen from the dataset and image size; see docs/guide.md)."),
    click.option("--epochs", type=int, default=None,
                 help="Training epochs instead of --steps (give at most one of them)."),
    click.option("--batch-size", type=int, default=None,
                 help="Real images per step (default: about N/8 in [8, 64] for a GAN, N/4 in [16, 64] "
                      "for ddpm)."),
    click.option("--max-minutes", type=float, default=None,
                 help="Stop after the epoch in which this many minutes of training have passed."),
    click.option("--n-snapshots", type=int, default=4, show_default=True,
                 help="Snapshots of the generator kept during training; the quality gate picks the best."),
    click.option("--spectral-norm/--no-spectral-norm", default=True, show_default=True,
                 help="Spectral normalisation in the discriminator."),
    click.option("--diff-augment", default="color,translation,cutout", show_default=True,
                 help="Differentiable augmentation policies, comma-separated; 'none' disables."),
    click.option("--ada-target", type=float, default=None,
                 help="Adaptive augmentation (ADA): tune how often --diff-augment applies toward this "
                      "discriminator-overfitting target (e.g. 0.6); default: always apply it."),
    click.option("--ema-decay", type=float, default=0.999, show_default=True,
                 help="GAN only: EMA of the generator's weights for sampling; 0 disables."),
    click.option("--mode-seeking", type=float, default=0.0, show_default=True,
                 help="Weight of the mode-seeking term (diversity of samples); 0 disables."),
    click.option("--lecam", type=float, default=0.0, show_default=True,
                 help="Weight of LeCam regularisation of the discriminator; 0 disables."),
    click.option("--conditional-norm/--no-conditional-norm", default=False, show_default=True,
                 help="Class-conditional BatchNorm in the generator (dcgan, conditional)."),
    click.option("--sample-steps", type=int, default=25, show_default=True,
                 help="ddpm only: DDIM steps per sample (more: slower, sharper)."),
    click.option("--guidance-scale", type=float, default=1.0, show_default=True,
                 help="ddpm only: classifier-free guidance; 1 is the plain conditional model, "
                      "0 unconditional, above 1 samples closer to the training images (slower)."),
    click.option("--augment-p", type=float, default=0.0, show_default=True,
                 help="ddpm only: probability that a training image is randomly rotated and shifted "
                      "(the model is told which, so samples come out unwarped); keeps samples "
                      "farther from tiny training sets. 0 disables."),
    click.option("--dropout", type=float, default=0.5, show_default=True,
                 help="ddpm only: dropout inside the denoising network while training; slows the "
                      "copying of tiny training sets. 0 disables."),
    click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
    click.option("--checkpoint-every", type=int, default=10, show_default=True,
                 help="Save a resumable checkpoint every N epochs."),
    click.option("--resume", is_flag=True,
                 help="Continue an interrupted run from its checkpoint (same options)."),
    click.option("--progress/--no-progress", default=True, help="Show a progress bar."),
]

_QUALITY_OPTIONS = [
    click.option("--validation-fraction", default="auto", show_default=True,
                 help="Share of each class's training images held back from the GAN to check its "
                      "samples (precision, recall, coverage, TRTS against them); 0 turns the quality "
                      "gate off. When DATA has its own val split, that split is used instead and no "
                      "training image is held back."),
]

_COUNT_OPTIONS = [
    click.option("--ratio", type=float, default=None,
                 help="Add R times each class's real count (default 1 when no count is given)."),
    click.option("--balance", is_flag=True, help="Raise every class to the largest class's count."),
    click.option("--n-per-class", type=int, default=None, help="Add N samples to every class."),
]

_SELECT_OPTIONS = [
    click.option("--select", type=click.Choice(SELECT_CHOICES), default="coverage", show_default=True,
                 help="Draw a pool per class and keep the samples that best cover the real class "
                      "(coverage), match its mean and covariance (covariance), or that the "
                      "discriminator scores highest (critic)."),
    click.option("--pool-factor", type=float, default=8.0, show_default=True,
                 help="Pool size per class relative to the samples kept (with --select)."),
    click.option("--copy-guard", type=float, default=0.0, show_default=True,
                 help="With --select coverage: skip samples nearer a real image than this x the real "
                      "images' median nearest-neighbour distance (near-copies), e.g. 0.7; 0: off."),
    click.option("--accept-low-quality", is_flag=True,
                 help="Write the mixed dataset even when the samples fail the quality gate."),
]


def _decorate(options: list[Callable], func: Callable) -> Callable:
    for option in reversed(options):  # the first option is listed first in --help
        func = option(func)
    return func


def count_options(func: Callable) -> Callable:
    """How many synthetic samples to add."""
    return _decorate(_COUNT_OPTIONS, func)


def quality_options(func: Callable) -> Callable:
    """How the samples are checked."""
    return _decorate(_QUALITY_OPTIONS, func)


def select_options(func: Callable) -> Callable:
    """Which samples are kept, and whether failed samples may be written."""
    return _decorate(_SELECT_OPTIONS, func)


def gan_command(*extra: Callable) -> Callable:
    """A command that trains a GAN on DATA: DATA, --out, --overwrite, ``extra``, then the
    data and GAN options (in that order in --help)."""

    def decorate(func: Callable) -> Callable:
        return click.command()(_decorate([
            click.argument("data"),
            click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder."),
            click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder."),
            *extra, data_options, lambda f: _decorate(_GAN_OPTIONS, f),
        ], func))

    return decorate


def check_gan_options(opts: dict[str, Any]) -> None:
    """Cheap option checks, run before the data are loaded."""
    for flag in ("--batch-size", "--epochs", "--steps", "--max-minutes", "--checkpoint-every"):
        positive(flag, opts[flag[2:].replace("-", "_")])
    if opts["epochs"] is not None and opts["steps"] is not None:
        raise ConfigError("--epochs and --steps both set the training length; give one of them.")
    if opts["n_snapshots"] < 0:
        raise ConfigError(f"--n-snapshots must be >= 0, got {opts['n_snapshots']}.")
    if not 0.0 <= opts["ema_decay"] < 1.0:
        raise ConfigError(f"--ema-decay must be in [0, 1), got {opts['ema_decay']}.")
    if not opts.get("copy_guard", 0.0) >= 0:
        raise ConfigError(f"--copy-guard must be >= 0 (0 turns the guard off), got {opts['copy_guard']}.")
    if opts["model"] == AUTO:
        gan, ddpm = _given(opts, GAN_ONLY), _given(opts, DIFFUSION_ONLY)
        if gan and ddpm:
            raise ConfigError(f"{gan[0]} applies to GAN models only and {ddpm[0]} to --model ddpm only; "
                              "drop one of them, or choose the generator with --model.")
        return
    diffusion = opts["model"] in DIFFUSION_MODELS
    for name, default in GAN_ONLY if diffusion else DIFFUSION_ONLY:
        if opts.get(name, default) != default:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} applies to {'GAN models (dcgan, vanilla)' if diffusion else '--model ddpm'} only; "
                f"drop it, or choose {'a GAN with --model dcgan' if diffusion else '--model ddpm'}."
            )
    if diffusion:
        if opts.get("select") == "critic":
            raise ConfigError("--select critic scores samples with a GAN's discriminator; a diffusion model "
                              "has none. Use --select coverage, covariance or none with --model ddpm.")
        positive("--sample-steps", opts["sample_steps"])
        if not opts["guidance_scale"] >= 0:
            raise ConfigError(f"--guidance-scale must be >= 0, got {opts['guidance_scale']}.")
        if not 0.0 <= opts.get("augment_p", 0.0) < 1.0:
            raise ConfigError(f"--augment-p must be in [0, 1) (at 1 the model never sees an unwarped "
                              f"image), got {opts['augment_p']}.")
        if not 0.0 <= opts.get("dropout", 0.5) < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {opts['dropout']}.")


def _given(opts: dict[str, Any], options) -> list[str]:
    """The flags among ``options`` ((name, default) pairs) set to something else than the default."""
    return ["--" + name.replace("_", "-") for name, default in options if opts.get(name, default) != default]


def resolve_cli_model(opts: dict[str, Any], train_set, n_proc: int = 1, *, main: bool = True) -> dict[str, Any]:
    """``opts`` with ``--model auto`` replaced by the generator it chooses on ``train_set``.

    GAN-only options (or ``--select critic``, or torchrun with several processes) choose
    dcgan, diffusion-only ones ddpm; otherwise :func:`~synthaug.generators.resolve_model`
    decides from the data. Prints one line saying which and why (``main``: only torchrun's
    rank 0 prints).
    """
    from ..generators import resolve_model

    if opts["model"] != AUTO:
        return opts
    if _given(opts, GAN_ONLY) or opts.get("select") == "critic" or n_proc > 1:
        flags = _given(opts, GAN_ONLY) + (["--select critic"] if opts.get("select") == "critic" else [])
        model, why = "dcgan", f"auto: {', '.join(flags) or 'torchrun'} given"
    elif _given(opts, DIFFUSION_ONLY):
        model, why = "ddpm", f"auto: {', '.join(_given(opts, DIFFUSION_ONLY))} given"
    else:
        model, why = resolve_model(AUTO, len(train_set.labels), train_set.images.shape[1:],
                                   n_classes=train_set.n_classes, strategy=opts["strategy"])
    if main:
        click.echo(f"Generator: {model} ({why}).", err=True)
    return {**opts, "model": model}


def stamp_keys(opts: dict[str, Any]) -> tuple[str, ...]:
    """The options recorded in a run's stamp (what --resume must match)."""
    return STAMP_KEYS + (DIFFUSION_STAMP_KEYS if opts.get("model") in DIFFUSION_MODELS else ())


def build_gan(opts: dict[str, Any], checkpoint_dir: Path):
    """The generator that the options describe: a ConditionalGAN, or for ``--model ddpm``
    a ConditionalDiffusion."""
    from ..generators import (  # deferred: torch costs seconds at start-up
        ConditionalDiffusion,
        ConditionalGAN,
    )

    check_gan_options(opts)
    if opts["model"] in DIFFUSION_MODELS:
        same = ("strategy", "epochs", "steps", "batch_size", "max_minutes", "n_snapshots", "sample_steps",
                "guidance_scale", "augment_p", "dropout", "device", "progress", "checkpoint_every")
        return ConditionalDiffusion(**{name: opts[name] for name in same}, random_state=opts["seed"],
                                    checkpoint_dir=str(checkpoint_dir))
    diff = opts["diff_augment"]
    # Options that map one to one onto ConditionalGAN parameters of the same name.
    same = ("model", "strategy", "loss", "epochs", "steps", "batch_size", "max_minutes", "n_snapshots",
            "spectral_norm", "mode_seeking", "lecam", "conditional_norm", "ada_target", "device",
            "progress", "checkpoint_every")
    return ConditionalGAN(
        **{name: opts[name] for name in same},
        diff_augment=None if diff.strip().lower() in ("", "none") else diff,
        ema_decay=opts["ema_decay"] or None,
        random_state=opts["seed"],
        checkpoint_dir=str(checkpoint_dir),
    )
