"""Downstream classifiers: :class:`CNNClassifier` (torch, scikit-learn API), scikit-learn
models by name, and :func:`load_model` for user-supplied models."""

from .cnn import CNNClassifier
from .loading import LoadedModel, load_model
from .registry import CLASSIFIER_NAMES, make_classifier

__all__ = ["CLASSIFIER_NAMES", "CNNClassifier", "LoadedModel", "load_model", "make_classifier"]
