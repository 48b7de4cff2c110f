"""Metrics: pure functions on arrays (predictions, per-seed scores, feature sets, images).

Nothing here trains a model or reads a file; the experiment layer computes predictions and
features and passes the arrays in.

- :mod:`~synthaug.metrics.classification`: accuracy, balanced accuracy, macro F1, ROC AUC,
  per-class accuracy.
- :mod:`~synthaug.metrics.stats`: mean and Student-t interval over seeds; paired t-test
  between two arms.
- :mod:`~synthaug.metrics.fidelity`: Fréchet distance and precision/recall/density/coverage
  in a feature space, overall and per class.
- :mod:`~synthaug.metrics.memorisation`: nearest-training-image distances of synthetic
  images against those of unseen real images (a sanity check, not a privacy guarantee).
- :mod:`~synthaug.metrics.diversity`: within-class spread of samples against real images
  (catches one prototype per class repeated).
"""

from .classification import classification_metrics, per_class_accuracy
from .diversity import spread_ratio
from .fidelity import fidelity_report, frechet_distance, prdc
from .memorisation import memorisation_report, nearest_neighbour
from .stats import paired_difference, summarize, summarize_frame

__all__ = [
    "classification_metrics",
    "fidelity_report",
    "frechet_distance",
    "memorisation_report",
    "nearest_neighbour",
    "paired_difference",
    "per_class_accuracy",
    "prdc",
    "spread_ratio",
    "summarize",
    "summarize_frame",
]
