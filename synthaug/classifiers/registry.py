"""Downstream classifiers by name: ``"cnn"``, ``"logreg"`` and ``"random_forest"``.

The one place that names classifiers: :data:`CLASSIFIER_NAMES` is what the experiment
config and the CLI accept, and :func:`make_classifier` builds each name. The
scikit-learn models are wrapped in a pipeline that flattens ``(N, C, H, W)`` images
first, so every classifier here takes the library's image layout directly.

Every classifier built here accepts ``fit(X, y, sample_weight=w)``: per-row weights in
the loss (for the scikit-learn models they go to the final model only, as the CNN's
input normalisation also ignores them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ..exceptions import ConfigError
from .cnn import CNNClassifier

__all__ = ["CLASSIFIER_NAMES", "ImagePipeline", "flatten_images", "make_classifier"]

#: scikit-learn models by name: (factory, default parameters, standardise first).
_SKLEARN_MODELS: dict[str, tuple[Any, dict[str, Any], bool]] = {
    "logreg": (LogisticRegression, {"max_iter": 2000}, True),
    "random_forest": (RandomForestClassifier, {"n_estimators": 200, "n_jobs": 1}, False),
}
#: Every classifier name :func:`make_classifier` builds (the config and CLI read it).
CLASSIFIER_NAMES: tuple[str, ...] = ("cnn", *_SKLEARN_MODELS)


def flatten_images(X: Any) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N, C*H*W)`` float32 (module-level so pipelines stay picklable)."""
    arr = np.asarray(X, dtype=np.float32)
    return arr.reshape(arr.shape[0], -1)


class ImagePipeline(Pipeline):
    """A scikit-learn :class:`~sklearn.pipeline.Pipeline` whose ``fit`` takes ``sample_weight``.

    A plain pipeline refuses ``fit(X, y, sample_weight=w)``; this one hands ``w`` to its
    last step (named ``"model"``), so callers treat every classifier of this module alike.
    """

    def fit(self, X, y=None, sample_weight=None, **params):
        """Fit every step; ``sample_weight`` (shape ``(N,)``) goes to the final model only."""
        if sample_weight is not None:
            params[f"{self.steps[-1][0]}__sample_weight"] = sample_weight
        return super().fit(X, y, **params)


def _int_seed(random_state: Any) -> Any:
    # scikit-learn takes an int or a RandomState, not a numpy Generator.
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    return random_state


def make_classifier(name: str, *, random_state=None, **params: Any):
    """A fresh, unfitted classifier that accepts ``(N, C, H, W)`` images in [0, 1].

    Parameters
    ----------
    name : {"cnn", "logreg", "random_forest"}
        ``"cnn"``: :class:`CNNClassifier`; ``"logreg"``: flatten, standardise,
        ``LogisticRegression(max_iter=2000)``; ``"random_forest"``: flatten,
        ``RandomForestClassifier(n_estimators=200)``.
    random_state : None, int or numpy Generator
    **params
        Passed to the underlying model (e.g. ``epochs=5`` for the CNN, ``C=0.1`` for
        logistic regression) and override the defaults above.

    Returns
    -------
    estimator
        With ``fit``, ``predict`` and ``predict_proba``.

    Examples
    --------
    >>> make_classifier("logreg", C=0.5).steps[-1][1].C
    0.5
    """
    if name == "cnn":
        try:
            return CNNClassifier(random_state=random_state, **params)
        except TypeError as exc:
            raise ConfigError(f"classifier 'cnn': {exc}.") from None
    if not isinstance(name, str) or name not in _SKLEARN_MODELS:
        raise ConfigError(
            f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIER_NAMES)}."
        )
    factory, defaults, scale = _SKLEARN_MODELS[name]
    steps = [("scale", StandardScaler())] if scale else []
    try:
        model = factory(random_state=_int_seed(random_state), **{**defaults, **params})
    except TypeError as exc:
        raise ConfigError(f"classifier {name!r}: {exc}.") from None
    return ImagePipeline([("flatten", FunctionTransformer(flatten_images)), *steps, ("model", model)])
