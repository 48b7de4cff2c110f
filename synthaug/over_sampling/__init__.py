"""Over-sampling with generators: :class:`GANOverSampler` (imbalanced-learn's
``fit_resample`` contract) and the helpers that decide how many samples each class gets."""

from .gan_sampler import GANOverSampler
from .strategy import n_synthetic_per_class, resolve_sampling_strategy

__all__ = ["GANOverSampler", "n_synthetic_per_class", "resolve_sampling_strategy"]
