"""Validation of :class:`~synthaug.generators.ConditionalGAN`'s parameters.

:func:`check_params` is the body of ``ConditionalGAN._check_params``: it runs at the
start of ``fit`` (and when a saved model is loaded) and returns the resolved
:class:`~synthaug.generators.training.TrainConfig`. Its ``epochs`` and ``batch_size``
are the explicit values, or 0 when they are left to the budget rule
(:mod:`~synthaug.generators.budget`), which ``fit`` applies per network pair.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.validation import check_choice, check_float, check_int
from ..exceptions import ConfigError
from .budget import check_budget_params
from .diffaugment import parse_policy
from .registry import LOSSES, MODELS, STRATEGIES
from .regularisers import check_diversity_params
from .training import TrainConfig

__all__ = ["check_params"]


def check_params(gan) -> TrainConfig:
    """ConfigError naming the first invalid parameter of ``gan``; else its TrainConfig."""
    check_choice("model", gan.model, MODELS)
    check_choice("strategy", gan.strategy, STRATEGIES)
    check_choice("loss", gan.loss, LOSSES)
    check_int("latent_dim", gan.latent_dim, 1)
    check_budget_params(gan.epochs, gan.steps, gan.batch_size, gan.max_minutes, gan.n_snapshots)
    check_int("width", gan.width, 1)
    check_int("checkpoint_every", gan.checkpoint_every, 1)
    check_int("max_rollbacks", gan.max_rollbacks, 0)
    check_float("lr_g", gan.lr_g, 0.0, math.inf, low_open=True, high_open=True)
    check_float("lr_d", gan.lr_d, 0.0, math.inf, low_open=True, high_open=True)
    betas = gan.betas
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ConfigError(f"betas must be a pair of numbers in [0, 1), got {betas!r}.")
    for b in betas:
        check_float("betas", b, 0.0, 1.0, low_open=False, high_open=True)
    if gan.ema_decay is not None:
        check_float("ema_decay", gan.ema_decay, 0.0, 1.0, low_open=False, high_open=True)
    if not isinstance(gan.spectral_norm, (bool, np.bool_)):
        raise ConfigError(f"spectral_norm must be True or False, got {gan.spectral_norm!r}.")
    if gan.diff_augment is not None and not isinstance(gan.diff_augment, str):
        raise ConfigError(
            f"diff_augment must be a comma-separated string or None, got {gan.diff_augment!r}."
        )
    try:
        policy = parse_policy(gan.diff_augment)
    except ValueError as exc:
        raise ConfigError(f"diff_augment={gan.diff_augment!r}: {exc}") from None
    return TrainConfig(
        loss=gan.loss,
        epochs=int(gan.epochs or 0),  # 0: resolved per pair in fit (budget.resolve_budget)
        batch_size=int(gan.batch_size or 0),
        latent_dim=int(gan.latent_dim),
        policy=policy,
        ema_decay=None if gan.ema_decay is None else float(gan.ema_decay),
        max_rollbacks=int(gan.max_rollbacks),
        **check_diversity_params(gan, policy),
    )
