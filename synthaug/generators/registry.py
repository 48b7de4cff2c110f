"""The valid names of the generator's choices: the one source for the estimator, the
configuration and the CLI.

``MODELS``: the GAN network families (:mod:`~synthaug.generators.networks`);
``GENERATOR_MODELS``: those plus ``ddpm``, the diffusion generator;
``STRATEGIES``: one conditional pair, or one pair per class; ``LOSSES``: the adversarial
losses (:mod:`~synthaug.generators.losses`).
"""

from __future__ import annotations

__all__ = ["DIFFUSION_MODELS", "GENERATOR_MODELS", "LOSSES", "MODELS", "STRATEGIES"]

MODELS = ("vanilla", "dcgan")
#: The diffusion generator (:class:`~synthaug.generators.ConditionalDiffusion`).
DIFFUSION_MODELS = ("ddpm",)
#: What ``--model`` and a recipe's ``gan_model`` accept: a GAN family or ``ddpm``.
GENERATOR_MODELS = MODELS + DIFFUSION_MODELS
STRATEGIES = ("conditional", "per-class")
LOSSES = ("bce", "hinge")
