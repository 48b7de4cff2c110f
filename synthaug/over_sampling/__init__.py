"""Over-sampling with generators: :class:`GANOverSampler` (imbalanced-learn's
``fit_resample`` contract), the one resolver that decides how many samples each class
gets (:func:`resolve_counts`), :func:`draw_synthetic`, which draws them, and
:func:`select_samples`, which keeps the best of an over-generated pool."""

from .._lazy import lazy_exports

# Where each public name lives. The submodules load on first use (PEP 562), so the CLI can
# check its options with resolve_counts before torch (which the samplers need) is loaded.
_SOURCES = {
    "append_synthetic": ".draw", "draw_synthetic": ".draw", "synthetic_labels": ".draw",
    "GANOverSampler": ".gan_sampler", "OverSampler": ".gan_sampler",
    "SELECTION_METHODS": ".select", "draw_selected": ".select", "pool_size": ".select", "select_samples": ".select",
    "n_synthetic_per_class": ".strategy", "resolve_counts": ".strategy", "resolve_sampling_strategy": ".strategy",
}

__all__ = sorted(_SOURCES)


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
