"""Over-sampling with generators: :class:`GANOverSampler` (imbalanced-learn's
``fit_resample`` contract), the one resolver that decides how many samples each class
gets (:func:`resolve_counts`), and :func:`draw_synthetic`, which draws them."""

from .draw import append_synthetic, draw_synthetic, synthetic_labels
from .gan_sampler import GANOverSampler
from .strategy import n_synthetic_per_class, resolve_counts, resolve_sampling_strategy

__all__ = [
    "GANOverSampler",
    "append_synthetic",
    "draw_synthetic",
    "n_synthetic_per_class",
    "resolve_counts",
    "resolve_sampling_strategy",
    "synthetic_labels",
]
