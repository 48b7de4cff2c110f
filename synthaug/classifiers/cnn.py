"""A small, fast convolutional classifier with the scikit-learn estimator API.

The network carries its own input normalisation (per-channel mean and standard
deviation of the training images, stored as buffers) inside ``forward``, so it takes
images in ``[0, 1]`` pixel space: attacks perturb pixels and ``eps`` keeps its meaning.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from .._utils import check_random_state, resolve_device, seed_from, torch_generator
from ..data.validation import check_unit_pixels, encode_labels
from ..exceptions import (
    ConfigError,
    InvalidDataError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)

__all__ = ["CNNClassifier", "CNNNet"]

log = logging.getLogger(__name__)

FORMAT = "synthaug.CNNClassifier"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "classifier.json"


# ============================================================================ network
class CNNNet(nn.Module):
    """Three conv blocks, global average pooling and a linear head.

    Works for any image size from 8x8 up (two 2x2 poolings, then adaptive pooling).

    Parameters
    ----------
    in_channels, n_classes, width : int
        Channels of the blocks are ``width``, ``2 * width``, ``4 * width``.

    Shape
    -----
    forward : ``(N, C, H, W)`` in [0, 1] -> logits ``(N, n_classes)``.
    features : ``(N, C, H, W)`` -> ``(N, 4 * width)`` (the penultimate layer).
    """

    def __init__(self, in_channels: int, n_classes: int, width: int = 32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))

        def block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if pool:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            return layers

        self.body = nn.Sequential(
            *block(in_channels, width, True),
            *block(width, 2 * width, True),
            *block(2 * width, 4 * width, False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, n_classes)
        self.n_features = 4 * width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)  # (N, 4 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (N, n_classes)


def _init_network(net: nn.Module, gen: torch.Generator) -> None:
    """Initialise every parameter from a private generator (He init, as PyTorch's defaults)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()


def _build_network(in_channels: int, n_classes: int, width: int, device: torch.device,
                   gen: torch.Generator | None) -> CNNNet:
    # Built on the meta device so construction never draws from the global RNG.
    with torch.device("meta"):
        net = CNNNet(in_channels, n_classes, width)
    net = net.to_empty(device=device)
    net.mean.zero_()
    net.std.fill_(1.0)
    _init_network(net, gen if gen is not None else torch_generator(0))
    return net


def _recompute_batchnorm_stats(net: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace BatchNorm's running statistics with exact averages over the training images.

    During training the running mean and variance are exponential averages (momentum
    0.1) of batches seen under *earlier* weights. With a few hundred images and a
    fast-moving network they lag far behind the final weights, and the eval-mode
    network then predicts very differently from the one that was trained: on
    BreastMNIST, test accuracy swung between 0.67 and 0.80 over three seeds at an
    almost constant ROC-AUC. Recomputing them with the final weights, over clean
    training images in the training batch size, removes that gap (0.80 to 0.87).

    Shape
    -----
    x : ``(N, C, H, W)`` in [0, 1] on the network's device.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        net.eval()
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative (equal-weight) average over the batches below
    net.train()
    try:
        with torch.no_grad():
            n = x.shape[0]
            for start in range(0, n, batch_size):
                xb = x[start:start + batch_size]
                if xb.shape[0] < 2 and n >= 2:  # a single image has no batch variance
                    xb = x[max(0, n - 2):]
                net(xb)
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        net.eval()


# ============================================================================ augmentation
def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts (up to 1/8 of the size), rotations (up to 10 degrees) and light noise.

    One affine grid per batch, so there is no per-sample Python.

    Shape
    -----
    x : ``(B, C, H, W)`` in [0, 1]; returns the same shape.
    """
    b = x.shape[0]
    rand = torch.rand(b, 3, generator=gen).to(x.device) * 2 - 1  # (B, 3) in [-1, 1)
    angle = rand[:, 0] * math.radians(10)
    shift = rand[:, 1:] * 0.25  # grid units: [-1, 1] spans the image, so 0.25 = 1/8 of it
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    noise = torch.randn(x.shape, generator=gen).to(x.device) * 0.02
    return (out + noise).clamp(0.0, 1.0)


# ============================================================================ validation
def _check_X(X: Any, name: str = "X") -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 4:
        raise InvalidDataError(
            f"{name} has shape {arr.shape}; CNNClassifier expects images of shape (N, C, H, W)."
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidDataError(f"{name} has dtype {arr.dtype}; expected float images in [0, 1].")
    if np.issubdtype(arr.dtype, np.integer) and arr.size and arr.max() > 1:
        raise InvalidDataError(
            f"{name} holds integers up to {arr.max()}; expected floats in [0, 1] "
            "(convert uint8 with synthaug.data.dataset.images_from_uint8)."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not arr.flags.writeable:  # torch.from_numpy wants a writable buffer
        arr = arr.copy()
    if arr.shape[0] == 0:
        raise InvalidDataError(f"{name} has no images.")
    if min(arr.shape[1:]) < 1:
        raise InvalidDataError(f"{name} has shape {arr.shape}; channels, height and width must be >= 1.")
    check_unit_pixels(arr, name)
    return arr


# ============================================================================ estimator
class CNNClassifier(ClassifierMixin, BaseEstimator):
    """Small convolutional image classifier with input normalisation inside the network.

    Parameters
    ----------
    epochs : int, default 30
    batch_size : int, default 64
    lr : float, default 1e-3
        Adam learning rate.
    weight_decay : float, default 1e-4
        Adam (L2) weight decay.
    lr_schedule : {"cosine", "constant"}, default "cosine"
        ``"cosine"`` decays the learning rate to zero over the epochs (per epoch), which
        makes the final weights, and so the results, far less seed-dependent.
    width : int, default 32
        Channels of the first block (then ``2x``, ``4x``); features have ``4 * width`` dims.
    dropout : float, default 0.2
        Dropout on the features before the linear head (training only).
    augment : bool, default False
        Random shifts, small rotations and light noise per batch.
    adversarial_training : Attack or None, default None
        An attack instance such as ``PGD(eps=8/255, n_steps=7)``: every batch is replaced
        by adversarial examples crafted against the current model (Madry et al., 2018).
    device : str, default "auto"
    random_state : None, int or numpy Generator
        Seeds initialisation, shuffling, dropout, augmentation and the attack's starts.
    progress : bool, default False
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : CNNNet
        Maps ``(N, C, H, W)`` images in [0, 1] to logits over ``classes_``; in eval mode.
    image_shape_ : tuple of int
        ``(C, H, W)`` seen in ``fit``.
    n_features_out_ : int
        Width of :meth:`transform`'s features.
    history_ : pandas.DataFrame
        ``epoch``, ``loss`` and ``train_accuracy`` (on the batches as trained).

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images(10, n_classes=2, random_state=0)
    >>> clf = CNNClassifier(epochs=2, width=4, random_state=0).fit(ds.images, ds.labels)
    >>> clf.predict(ds.images).shape
    (20,)
    """

    def __init__(
        self,
        *,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        lr_schedule: str = "cosine",
        width: int = 32,
        dropout: float = 0.2,
        augment: bool = False,
        adversarial_training=None,
        device: str = "auto",
        random_state=None,
        progress: bool = False,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.width = width
        self.dropout = dropout
        self.augment = augment
        self.adversarial_training = adversarial_training
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # ----------------------------------------------------------------- checks
    def _check_params(self) -> None:
        def integer(name: str, value: Any, low: int) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"CNNClassifier: {name} must be an integer >= {low}, got {value!r}.")

        integer("epochs", self.epochs, 1)
        integer("batch_size", self.batch_size, 1)
        integer("width", self.width, 1)
        for name, value, low_ok in (("lr", self.lr, False), ("weight_decay", self.weight_decay, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not math.isfinite(value) or value < 0 or (value == 0 and not low_ok):
                raise ConfigError(
                    f"CNNClassifier: {name} must be a finite number {'>= 0' if low_ok else '> 0'}, "
                    f"got {value!r}."
                )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(
                f"CNNClassifier: lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}."
            )
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"CNNClassifier: dropout must be in [0, 1), got {self.dropout!r}.")
        at = self.adversarial_training
        if at is not None and not (callable(at) and hasattr(at, "eps")):
            raise ConfigError(
                "CNNClassifier: adversarial_training must be None or an attack instance such as "
                f"PGD(eps=8/255), got {at!r}."
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "This CNNClassifier is not fitted yet; call fit(X, y) first or load a saved one."
            )

    def _check_predict_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        arr = _check_X(X)
        if arr.shape[1] != self.image_shape_[0]:
            raise InvalidDataError(
                f"X has {arr.shape[1]} channel(s) but the classifier was fitted on "
                f"{self.image_shape_[0]}; convert the images to match."
            )
        return arr

    # ----------------------------------------------------------------- fit
    def fit(self, X, y) -> "CNNClassifier":
        """Train on images ``X`` with labels ``y``.

        Shape
        -----
        X : ``(N, C, H, W)`` float in [0, 1]; y : ``(N,)`` any hashable labels.
        """
        self._check_params()
        X = _check_X(X)
        classes, y_idx = encode_labels(y, X.shape[0], "a classifier")
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        gen_init = torch_generator(seed_from(rng))
        gen = torch_generator(seed_from(rng))  # shuffling, dropout, augmentation (CPU)

        net = _build_network(X.shape[1], len(classes), int(self.width), device, gen_init)
        x_all = torch.from_numpy(X).to(device)  # (N, C, H, W)
        y_all = torch.from_numpy(y_idx.astype(np.int64)).to(device)  # (N,)
        with torch.no_grad():
            net.mean.copy_(x_all.mean(dim=(0, 2, 3)).view(1, -1, 1, 1))
            net.std.copy_(x_all.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, -1, 1, 1))

        optimizer = torch.optim.Adam(net.parameters(), lr=float(self.lr),
                                     weight_decay=float(self.weight_decay))
        scheduler = None
        if self.lr_schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(self.epochs))
        attack = self.adversarial_training
        n, bs = X.shape[0], int(self.batch_size)
        history = []
        epochs = range(1, int(self.epochs) + 1)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="classifier", unit="epoch")
        for epoch in epochs:
            net.train()
            perm = torch.randperm(n, generator=gen).to(device)
            total_loss, total_correct = 0.0, 0
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                xb, yb = x_all[idx], y_all[idx]
                if self.augment:
                    xb = _augment(xb, gen)
                if attack is not None:
                    batch_attack = attack
                    if is_dataclass(attack) and "random_state" in {f.name for f in fields(attack)}:
                        batch_attack = replace(attack, random_state=seed_from(rng))
                    xb = batch_attack(net, xb, yb)  # restores train mode itself
                feats = net.features(xb)  # (B, F)
                if self.dropout > 0:
                    # A private generator keeps dropout reproducible (nn.Dropout uses the global RNG).
                    keep = torch.rand(feats.shape, generator=gen).to(device) >= self.dropout
                    feats = feats * keep / (1 - self.dropout)
                logits = net.head(feats)  # (B, K)
                loss = F.cross_entropy(logits, yb)
                if not torch.isfinite(loss):
                    raise TrainingDivergedError(
                        f"CNNClassifier: the loss became {loss.item()} at epoch {epoch}; "
                        f"lower lr (now {self.lr}) or check the images."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * len(idx)
                total_correct += int((logits.argmax(1) == yb).sum())
            if scheduler is not None:
                scheduler.step()
            history.append({"epoch": epoch, "loss": total_loss / n, "train_accuracy": total_correct / n})
            log.debug("classifier epoch %d: loss %.4f", epoch, total_loss / n)
        _recompute_batchnorm_stats(net, x_all, bs)  # leaves net in eval mode
        for p in net.parameters():
            p.grad = None

        self.classes_ = classes
        self.model_ = net
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_features_out_ = net.n_features
        self.history_ = pd.DataFrame(history, columns=["epoch", "loss", "train_accuracy"])
        return self

    # ----------------------------------------------------------------- inference
    def _forward_batches(self, X: np.ndarray, features: bool) -> np.ndarray:
        net = self.model_
        device = net.mean.device
        was_training = net.training
        net.eval()
        out = []
        try:
            with torch.no_grad():
                for start in range(0, X.shape[0], 512):
                    xb = torch.from_numpy(X[start:start + 512]).to(device)
                    out.append((net.features(xb) if features else net(xb)).cpu().numpy())
        finally:
            net.train(was_training)
        return np.concatenate(out).astype(np.float32, copy=False)

    def _logits(self, X) -> np.ndarray:
        return self._forward_batches(self._check_predict_X(X), features=False)  # (N, K)

    def decision_function(self, X) -> np.ndarray:
        """Logits, as scikit-learn expects them.

        Shape
        -----
        returns : ``(N, n_classes)`` with columns following ``classes_``; for two classes
        ``(N,)``, the logit difference (positive means ``classes_[1]``).
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)`` (columns follow ``classes_``)."""
        return torch.softmax(torch.from_numpy(self._logits(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape ``(N,)``, drawn from ``classes_``."""
        scores = self._logits(X)  # checks fitted first
        return self.classes_[scores.argmax(axis=1)]

    def transform(self, X) -> np.ndarray:
        """Penultimate-layer features (for Frechet distance, precision/recall, ...).

        Shape
        -----
        X : ``(N, C, H, W)`` in [0, 1]; returns ``(N, 4 * width)`` float32.
        """
        return self._forward_batches(self._check_predict_X(X), features=True)

    # ----------------------------------------------------------------- persistence
    def save(self, directory) -> Path:
        """Write ``model.safetensors`` (weights and buffers) and ``classifier.json``.

        Never a pickle: :meth:`load` rebuilds the network from the JSON and reads the
        tensors with safetensors.
        """
        from safetensors.torch import save as st_save

        from ..data.io import atomic_write_bytes, atomic_write_text

        self._check_fitted()
        directory = Path(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()}
        params = self.get_params(deep=False)
        params["adversarial_training"] = _attack_to_json(params["adversarial_training"])
        params["random_state"] = params["random_state"] if isinstance(
            params["random_state"], (int, type(None))) else None
        classes = self.classes_
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "params": params,
            "classes": classes.tolist(),
            "classes_kind": classes.dtype.kind,
            "image_shape": list(self.image_shape_),
            "history": self.history_.to_dict(orient="list"),
        }
        atomic_write_bytes(directory / WEIGHTS_FILE, st_save(state))
        atomic_write_text(directory / META_FILE, json.dumps(meta, indent=2, default=_json_default) + "\n")
        return directory

    @classmethod
    def is_saved_classifier(cls, directory) -> bool:
        """Whether ``directory`` looks like the output of :meth:`save`."""
        directory = Path(directory)
        return (directory / META_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()

    @classmethod
    def load(cls, directory, *, device: str = "auto") -> "CNNClassifier":
        """Load a classifier written by :meth:`save` (weights only: no code runs)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        if not directory.is_dir():
            raise ModelFileError(f"{directory}: no such folder; expected a folder written by CNNClassifier.save.")
        meta_path, weights_path = directory / META_FILE, directory / WEIGHTS_FILE
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise ModelFileError(
                    f"{directory}: missing {path.name}; expected a folder written by CNNClassifier.save."
                )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{meta_path}: cannot read the classifier description ({exc}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{meta_path}: not a synthaug CNNClassifier description.")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(
                f"{meta_path}: written by a newer synthaug (format {meta.get('format_version')}); upgrade synthaug."
            )
        try:
            params = dict(meta["params"])
            params["adversarial_training"] = _attack_from_json(params.get("adversarial_training"))
            params["device"] = device
            valid = cls().get_params(deep=False)
            est = cls(**{k: v for k, v in params.items() if k in valid})
            kind = meta["classes_kind"]
            est.classes_ = np.array(meta["classes"], dtype=str if kind in "OUS" else None)
            est.image_shape_ = tuple(int(s) for s in meta["image_shape"])
            est.history_ = pd.DataFrame(meta.get("history", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{meta_path}: malformed classifier description ({exc!r}).") from None
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{weights_path}: cannot read the weights ({exc}).") from None
        dev = resolve_device(device)
        net = _build_network(est.image_shape_[0], len(est.classes_), int(est.width), dev, None)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(
                f"{weights_path}: the weights do not match the description in {META_FILE} ({exc})."
            ) from None
        net.eval()
        est.model_ = net
        est.n_features_out_ = net.n_features
        return est


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _attack_to_json(attack: Any) -> Any:
    if attack is None:
        return None
    if is_dataclass(attack):
        params = {f.name: getattr(attack, f.name) for f in fields(attack)}
        if not isinstance(params.get("random_state", None), (int, type(None))):
            params["random_state"] = None
        return {"class": type(attack).__name__, "params": params}
    return {"class": type(attack).__name__, "params": None}


def _attack_from_json(spec: Any) -> Any:
    if spec is None:
        return None
    from .. import attacks

    cls = getattr(attacks, str(spec.get("class")), None)
    if cls is None or spec.get("params") is None or str(spec.get("class")) not in attacks.__all__:
        log.warning("saved adversarial_training=%s cannot be rebuilt; loading with None.", spec.get("class"))
        return None
    return cls(**spec["params"])
