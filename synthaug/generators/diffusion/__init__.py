"""The diffusion generator: :class:`ConditionalDiffusion`, its UNet, schedule and training unit."""

from .estimator import ConditionalDiffusion

__all__ = ["ConditionalDiffusion"]
