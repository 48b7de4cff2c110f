"""Over-sampling with generators: :class:`GANOverSampler` (imbalanced-learn's
``fit_resample`` contract), the one resolver that decides how many samples each class
gets (:func:`resolve_counts`), :func:`draw_synthetic`, which draws them, and
:func:`select_samples`, which keeps the best of an over-generated pool."""

from .draw import append_synthetic, draw_synthetic, synthetic_labels
from .gan_sampler import GANOverSampler, OverSampler
from .select import SELECTION_METHODS, draw_selected, pool_size, select_samples
from .strategy import n_synthetic_per_class, resolve_counts, resolve_sampling_strategy

__all__ = [
    "GANOverSampler",
    "OverSampler",
    "SELECTION_METHODS",
    "append_synthetic",
    "draw_selected",
    "draw_synthetic",
    "n_synthetic_per_class",
    "pool_size",
    "resolve_counts",
    "resolve_sampling_strategy",
    "select_samples",
    "synthetic_labels",
]
