"""Matching a model's outputs to a dataset's classes, and the helpers that depend on it.

A loaded model may know its classes as indices, as names, or not at all (a bare network
whose logit ``k`` scores class ``k``); a dataset names its classes. This module decides
once where each dataset class sits in the model's outputs (:func:`label_positions`) and
builds what needs that mapping: a gradient-free model's predictions as positions
(:class:`PositionPredictor`), the surrogate network for transfer attacks
(:func:`train_surrogate`) and the generated stress set (:func:`stress_set`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from ...classifiers.cnn import CNNClassifier
from ...classifiers.loading import LoadedModel
from ...data.dataset import ImageDataset
from ...exceptions import ConfigError, InvalidDataError

__all__ = ["PositionPredictor", "ScatterLogits", "label_positions", "stress_set", "train_surrogate"]

log = logging.getLogger(__name__)


class ScatterLogits(nn.Module):
    """Place a surrogate's logits (over the classes it saw) into the model's label positions.

    Shape
    -----
    forward : ``(N, C, H, W)`` -> ``(N, n_out)``; unseen positions get a very low logit.
    """

    def __init__(self, net: nn.Module, positions: np.ndarray, n_out: int) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.int64))
        self.n_out = int(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)  # (N, K_seen)
        out = logits.new_full((logits.shape[0], self.n_out), -1e4)
        return out.index_copy(1, self.positions.to(logits.device), logits)  # (N, n_out)


class PositionPredictor:
    """A gradient-free model whose predictions are turned into label positions (-1: unknown)."""

    def __init__(self, model: LoadedModel, classes: np.ndarray | None) -> None:
        self.model = model
        self.lookup = None if classes is None else {_class_key(c): i for i, c in enumerate(classes.tolist())}

    def predict(self, X: np.ndarray) -> np.ndarray:
        pred = np.asarray(self.model.predict(X))
        if self.lookup is None:
            return pred.astype(np.int64)
        return np.array([self.lookup.get(_class_key(p), -1) for p in pred.tolist()], dtype=np.int64)


def _class_key(value: Any) -> Any:
    # 1 and 1.0 and np.int64(1) are one class; strings stay strings.
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return str(value)


def label_positions(model: LoadedModel, dataset: ImageDataset) -> tuple[np.ndarray, int, list[str]]:
    """For each dataset class, its position in the model's outputs; plus the output count
    and a display name per position."""
    names = list(dataset.class_names)
    k = len(names)
    if model.classes is None:
        n_out = k
        if model.module is not None:
            probe = np.full((1, *dataset.image_shape), 0.5, np.float32)
            with torch.no_grad():
                out = model.module(torch.tensor(probe, device=model.device))
            n_out = int(out.shape[1])
            if n_out < k:
                raise InvalidDataError(
                    f"model {model.source} returns {n_out} logits but the data has {k} classes "
                    f"({', '.join(names)}); logit k must be the score of class k."
                )
            if n_out > k:
                log.warning("model returns %d logits for %d classes; the extra outputs count as wrong.",
                            n_out, k)
        display = names + [f"output {i}" for i in range(k, n_out)]
        return np.arange(k), n_out, display
    classes = [_class_key(c) for c in model.classes.tolist()]
    index = {c: i for i, c in enumerate(classes)}
    positions = []
    for i, name in enumerate(names):
        # Models trained on label indices know class i as i; models trained on names, by name.
        pos = index.get(i) if all(isinstance(c, int) for c in classes) else index.get(_class_key(name))
        if pos is None:
            pos = index.get(_class_key(name))
        if pos is None:
            raise InvalidDataError(
                f"model {model.source} knows the classes {model.classes.tolist()} but the data has class "
                f"{name!r} (index {i}); evaluate on data with the classes the model was trained on."
            )
        positions.append(pos)
    display = [str(c) for c in model.classes.tolist()]
    for i, pos in enumerate(positions):
        display[pos] = names[i]
    return np.asarray(positions, dtype=np.int64), len(classes), display


def train_surrogate(images: np.ndarray, labels: np.ndarray, n_out: int, epochs: int, seed: int,
                     device: torch.device) -> nn.Module:
    """A :class:`CNNClassifier` fitted on ``images``, its logits scattered to ``n_out`` positions.

    ``labels`` are positions in the target model's outputs; the result is in eval mode
    on ``device``.

    Shape
    -----
    images : ``(N, C, H, W)``; labels : ``(N,)``; the network maps to ``(N, n_out)``.
    """
    if len(np.unique(labels)) < 2:
        raise InvalidDataError(
            "cannot train a surrogate network: its training rows hold a single class. Pass a model with "
            "gradients (TorchScript, module:function, a CNNClassifier folder) or use --attacks ''."
        )
    clf = CNNClassifier(epochs=epochs, random_state=seed, device=str(device)).fit(images, labels)
    return ScatterLogits(clf.model_, clf.classes_.astype(np.int64), n_out).to(device).eval()


def stress_set(generator: Any, dataset: ImageDataset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` generated images per dataset class and their dataset label indices."""
    if not callable(getattr(generator, "sample", None)):
        raise ConfigError(
            f"stress_generator must be a fitted generator with sample(y), got {type(generator).__name__}."
        )
    gen_classes = getattr(generator, "classes_", None)
    gen_labels, ds_labels = [], []
    for i, name in enumerate(dataset.class_names):
        if gen_classes is None:
            g = i
        else:
            keys = [_class_key(c) for c in np.asarray(gen_classes).tolist()]
            g = i if i in keys else (_class_key(name) if _class_key(name) in keys else None)
            if g is None:
                log.warning("the generator has no class %r; no stress samples for it.", name)
                continue
            g = np.asarray(gen_classes)[keys.index(g)]
        gen_labels.append(g)
        ds_labels.append(i)
    if not gen_labels:
        raise InvalidDataError(
            f"the generator knows the classes {list(np.asarray(gen_classes).tolist())}, none of the data's "
            f"classes {list(dataset.class_names)}."
        )
    y_gen = np.repeat(np.asarray(gen_labels), n)
    try:
        images = np.asarray(generator.sample(y_gen, random_state=seed), dtype=np.float32)
    except TypeError:
        images = np.asarray(generator.sample(y_gen), dtype=np.float32)
    if images.shape[1:] != tuple(dataset.image_shape):
        raise InvalidDataError(
            f"the generator makes images of shape {images.shape[1:]} but the data has "
            f"{tuple(dataset.image_shape)} (C, H, W); use the generator trained on this data, or "
            "--image-size to match."
        )
    return np.clip(images, 0.0, 1.0), np.repeat(np.asarray(ds_labels, np.int64), n)
