"""Generators: vanilla (MLP) and DCGAN networks, losses, DiffAugment, the training loop,
the :class:`ConditionalGAN` estimator and its model folder; the denoising diffusion
model :class:`ConditionalDiffusion` (:mod:`.diffusion`), which shares the training loop,
budget rule, snapshots, checkpoints and model folder; :func:`load_model` loads either.

``MODELS``, ``STRATEGIES`` and ``LOSSES`` are the single source of the valid names of
the estimator's choices; the configuration and the CLI read them from here.
"""

from __future__ import annotations

from .._lazy import lazy_exports
from .registry import (
    AUTO,
    DIFFUSION_MODELS,
    GENERATOR_MODELS,
    LOSSES,
    MODEL_CHOICES,
    MODELS,
    STRATEGIES,
    resolve_model,
)

# The estimator and the networks are imported on first use: the CLI reads the names
# above when it starts, and importing the estimator (scikit-learn, pandas) would add
# about 2.4 s to every `synthaug --help` (measured on two CPU cores).
_LAZY = {
    "ConditionalGAN": ".gan",
    "ConditionalDiffusion": ".diffusion",
    "load_model": ".model_io",
    "DCGANDiscriminator": ".networks",
    "DCGANGenerator": ".networks",
    "VanillaDiscriminator": ".networks",
    "VanillaGenerator": ".networks",
}

__all__ = [
    "AUTO",
    "DIFFUSION_MODELS",
    "GENERATOR_MODELS",
    "LOSSES",
    "MODELS",
    "MODEL_CHOICES",
    "STRATEGIES",
    "ConditionalDiffusion",
    "ConditionalGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "VanillaDiscriminator",
    "VanillaGenerator",
    "load_model",
    "resolve_model",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
