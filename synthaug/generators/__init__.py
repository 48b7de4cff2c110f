"""Generators: vanilla (MLP) and DCGAN networks, losses, DiffAugment, the training loop
and the :class:`ConditionalGAN` estimator."""

from .gan import MODELS, STRATEGIES, ConditionalGAN
from .losses import LOSSES
from .networks import DCGANDiscriminator, DCGANGenerator, VanillaDiscriminator, VanillaGenerator

__all__ = [
    "LOSSES",
    "MODELS",
    "STRATEGIES",
    "ConditionalGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "VanillaDiscriminator",
    "VanillaGenerator",
]
