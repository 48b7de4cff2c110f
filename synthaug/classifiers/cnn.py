"""A small, fast convolutional classifier with the scikit-learn estimator API.

The network (:mod:`synthaug.classifiers.cnn_net`) carries its own input normalisation
inside ``forward``, so it takes images in ``[0, 1]`` pixel space: attacks perturb pixels
and ``eps`` keeps its meaning.

Adversarial training takes its attack from the caller (any callable
``attack(model, images, labels)``); this module never imports :mod:`synthaug.attacks`.
A saved classifier stores the attack as plain JSON (the attack's ``to_config()``), and
:meth:`CNNClassifier.load` rebuilds it only through a ``build_attack`` callable that the
caller passes, such as :func:`synthaug.attacks.registry.attack_from_config`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from sklearn.base import BaseEstimator, ClassifierMixin
from tqdm.auto import tqdm

from .._utils import resolve_device
from ..data.io import atomic_write_bytes
from ..data.validation import (
    check_choice,
    check_float,
    check_images,
    check_int,
    encode_labels,
)
from ..exceptions import (
    ConfigError,
    InvalidDataError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)
from ..persistence import CLASSIFIER_META, read_json, to_jsonable, write_json
from ..seeding import check_random_state, seed_from, torch_generator
from .cnn_net import CNNNet, augment_batch, build_network, recompute_batchnorm_stats

__all__ = ["CNNClassifier", "CNNNet"]

log = logging.getLogger(__name__)

FORMAT = "synthaug.CNNClassifier"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = CLASSIFIER_META
_OWNER = "CNNClassifier"


def _check_X(X: Any) -> np.ndarray:
    # Any channel count; integer arrays of 0/1 (binary masks) are accepted as before.
    return check_images(X, owner=_OWNER, channels=None, allow_unit_integers=True)


def _attack_config(attack: Any) -> dict[str, Any] | None:
    """An attack as plain JSON: its ``to_config()`` when it has one.

    Otherwise (a duck-typed attack) ``{"name": <class name>, **dataclass fields}``, which
    records what was used but may not be rebuildable.
    """
    if attack is None:
        return None
    if callable(getattr(attack, "to_config", None)):
        return to_jsonable(attack.to_config())
    params = {f.name: getattr(attack, f.name) for f in fields(attack)} if is_dataclass(attack) else {}
    return to_jsonable({"name": type(attack).__name__, **params})


def _normalise_attack_spec(spec: Any) -> Any:
    # Folders saved before Attack.to_config wrote {"class": "PGD", "params": {...}};
    # the registry names are the lower-cased class names.
    if isinstance(spec, dict) and "name" not in spec and "class" in spec:
        return {"name": str(spec["class"]).lower(), **(spec.get("params") or {})}
    return spec


def _rebuild_attack(spec: Any, build_attack: Callable[[dict], Any] | None, where: Path) -> Any:
    if spec is None:
        return None
    if build_attack is None:
        log.info("%s: trained with adversarial_training=%s; loaded with None (pass build_attack "
                 "to rebuild it).", where, spec.get("name") if isinstance(spec, dict) else spec)
        return None
    try:
        return build_attack(spec)
    except (ConfigError, TypeError, ValueError) as exc:
        log.warning("%s: saved adversarial_training %s cannot be rebuilt (%s); loading with None.",
                    where, spec, exc)
        return None


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """``sample_weight`` as float32 ``(n,)`` scaled to mean 1; None when all are equal."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    bad = (f"shape {w.shape}" if w.shape != (n,) else f"dtype {w.dtype}" if w.dtype.kind not in "biuf"
           else "a NaN or infinite weight" if not np.isfinite(w).all()
           else f"a negative weight ({w.min():g})" if (w < 0).any() else "all 0" if not w.sum() > 0 else "")
    if bad:
        raise InvalidDataError(f"{_OWNER}: sample_weight must be {n} finite numbers >= 0, not all 0 "
                               f"(one per image); got {bad}. Pass None to weigh every image equally.")
    if (w == w[0]).all():
        return None  # equal weights are no weights: the unweighted loss, bit for bit
    return (w / w.astype(np.float64).mean()).astype(np.float32)


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
    adversarial_training : attack or None, default None
        An attack instance such as ``PGD(eps=8/255, n_steps=7)``: every batch is replaced
        by adversarial examples crafted against the current model (Madry et al., 2018).
        Any callable ``attack(model, images, labels)`` with an ``eps`` works; a dataclass
        with a ``random_state`` field gets a fresh seed per batch.
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
    adversarial_training_config_ : dict or None
        The attack the weights were trained with, as plain JSON (kept by :meth:`load`
        even when the attack itself is not rebuilt).

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
        for name in ("epochs", "batch_size", "width"):
            check_int(f"{_OWNER}: {name}", getattr(self, name), 1)
        check_float(f"{_OWNER}: lr", self.lr, 0.0, low_open=True, high_open=True)
        check_float(f"{_OWNER}: weight_decay", self.weight_decay, 0.0, high_open=True)
        check_choice(f"{_OWNER}: lr_schedule", self.lr_schedule, ("cosine", "constant"))
        check_float(f"{_OWNER}: dropout", self.dropout, 0.0, 1.0, high_open=True)
        at = self.adversarial_training
        if at is not None and not (callable(at) and hasattr(at, "eps")):
            raise ConfigError(
                f"{_OWNER}: adversarial_training must be None or an attack instance such as "
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
    def fit(self, X, y, sample_weight=None) -> CNNClassifier:
        """Train on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of float in [0, 1]
        y : array-like of hashable labels
        sample_weight : array-like of float or None, default None
            Per-row weights (finite, ``>= 0``, not all 0; only ratios matter). A batch's
            loss is ``sum(w_i * l_i) / (B * mean(w))``, ``mean(w)`` over all rows, so an
            all-zero batch adds no gradient. Only the loss is weighted (the input
            normalisation and BatchNorm statistics use every row). ``None`` or equal
            weights: unweighted, bit for bit as before.

        Shape
        -----
        X : ``(N, C, H, W)`` float in [0, 1]; y : ``(N,)`` any hashable labels;
        sample_weight : ``(N,)``.
        """
        self._check_params()
        X = _check_X(X)
        classes, y_idx = encode_labels(y, X.shape[0], "a classifier")
        weights = _check_sample_weight(sample_weight, X.shape[0])
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        gen_init = torch_generator(seed_from(rng))
        gen = torch_generator(seed_from(rng))  # shuffling, dropout, augmentation (CPU)

        net = build_network(X.shape[1], len(classes), int(self.width), device, gen_init)
        x_all = torch.from_numpy(X).to(device)  # (N, C, H, W)
        y_all = torch.from_numpy(y_idx.astype(np.int64)).to(device)  # (N,)
        w_all = None if weights is None else torch.from_numpy(weights).to(device)  # (N,), mean 1
        with torch.no_grad():
            net.mean.copy_(x_all.mean(dim=(0, 2, 3)).view(1, -1, 1, 1))
            net.std.copy_(x_all.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, -1, 1, 1))

        optimizer = torch.optim.Adam(net.parameters(), lr=float(self.lr),
                                     weight_decay=float(self.weight_decay))
        scheduler = None
        if self.lr_schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(self.epochs))
        n, bs = X.shape[0], int(self.batch_size)
        history = []
        epochs = range(1, int(self.epochs) + 1)
        if self.progress:
            epochs = tqdm(epochs, desc="classifier", unit="epoch")
        for epoch in epochs:
            net.train()
            perm = torch.randperm(n, generator=gen).to(device)
            total_loss, total_correct = 0.0, 0
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                wb = None if w_all is None else w_all[idx]
                loss, correct = self._train_step(net, optimizer, x_all[idx], y_all[idx], gen, rng, epoch, wb)
                total_loss += loss * len(idx)
                total_correct += correct
            if scheduler is not None:
                scheduler.step()
            history.append({"epoch": epoch, "loss": total_loss / n, "train_accuracy": total_correct / n})
            log.debug("classifier epoch %d: loss %.4f", epoch, total_loss / n)
        recompute_batchnorm_stats(net, x_all, bs)  # leaves net in eval mode
        for p in net.parameters():
            p.grad = None

        self.classes_ = classes
        self.model_ = net
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_features_out_ = net.n_features
        self.history_ = pd.DataFrame(history, columns=["epoch", "loss", "train_accuracy"])
        self.adversarial_training_config_ = _attack_config(self.adversarial_training)
        return self

    def _train_step(self, net: CNNNet, optimizer: torch.optim.Optimizer, xb: torch.Tensor,
                    yb: torch.Tensor, gen: torch.Generator, rng: np.random.Generator,
                    epoch: int, wb: torch.Tensor | None = None) -> tuple[float, int]:
        """One optimiser step on a batch; returns its mean loss and number correct.

        Draws, in this order: augmentation from ``gen``, the attack's seed from ``rng``,
        the dropout mask from ``gen`` (the order fixes the random streams). ``wb`` holds
        the rows' weights scaled to mean 1 over the training set (None: unweighted).

        Shape
        -----
        xb : ``(B, C, H, W)`` in [0, 1]; yb : ``(B,)`` class indices; wb : ``(B,)``.
        """
        if self.augment:
            xb = augment_batch(xb, gen)
        attack = self.adversarial_training
        if attack is not None:
            if is_dataclass(attack) and "random_state" in {f.name for f in fields(attack)}:
                attack = replace(attack, random_state=seed_from(rng))
            xb = attack(net, xb, yb)  # restores train mode itself
        feats = net.features(xb)  # (B, F)
        if self.dropout > 0:
            # A private generator keeps dropout reproducible (nn.Dropout uses the global RNG).
            keep = torch.rand(feats.shape, generator=gen).to(xb.device) >= self.dropout
            feats = feats * keep / (1 - self.dropout)
        logits = net.head(feats)  # (B, K)
        if wb is None:
            loss = F.cross_entropy(logits, yb)
        else:
            loss = (F.cross_entropy(logits, yb, reduction="none") * wb).mean()  # (B,) -> ()
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"CNNClassifier: the loss became {loss.item()} at epoch {epoch}; "
                f"lower lr (now {self.lr}) or check the images."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach()), int((logits.argmax(1) == yb).sum())

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
        tensors with safetensors. The adversarial-training attack is stored as plain JSON
        (``adversarial_training_config_``).
        """
        self._check_fitted()
        directory = Path(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()}
        params = self.get_params(deep=False)
        params["adversarial_training"] = getattr(
            self, "adversarial_training_config_", _attack_config(self.adversarial_training))
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None  # a Generator cannot be saved
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
        write_json(directory / META_FILE, meta)
        return directory

    @classmethod
    def is_saved_classifier(cls, directory) -> bool:
        """Whether ``directory`` looks like the output of :meth:`save`."""
        directory = Path(directory)
        return (directory / META_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()

    @classmethod
    def load(cls, directory, *, device: str = "auto",
             build_attack: Callable[[dict], Any] | None = None) -> CNNClassifier:
        """Load a classifier written by :meth:`save` (weights only: no code runs).

        Parameters
        ----------
        directory : path-like
            The folder written by :meth:`save`.
        device : str, default "auto"
        build_attack : callable or None
            Turns the saved attack JSON back into an attack, e.g.
            :func:`synthaug.attacks.registry.attack_from_config`. Without it (or when it
            fails) ``adversarial_training`` is ``None``; the saved attack stays in
            ``adversarial_training_config_`` either way.

        Raises
        ------
        ModelFileError
            A missing folder or file, an unreadable or foreign description, weights that
            do not match it.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise ModelFileError(f"{directory}: no such folder; expected a folder written by CNNClassifier.save.")
        meta_path, weights_path = directory / META_FILE, directory / WEIGHTS_FILE
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise ModelFileError(
                    f"{directory}: missing {path.name}; expected a folder written by CNNClassifier.save."
                )
        meta = read_json(meta_path, "classifier description")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{meta_path}: not a synthaug CNNClassifier description.")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(
                f"{meta_path}: written by a newer synthaug (format {meta.get('format_version')}); upgrade synthaug."
            )
        try:
            params = dict(meta["params"])
            spec = _normalise_attack_spec(params.get("adversarial_training"))
            params["adversarial_training"] = _rebuild_attack(spec, build_attack, directory)
            params["device"] = device
            valid = cls().get_params(deep=False)
            est = cls(**{k: v for k, v in params.items() if k in valid})
            kind = meta["classes_kind"]
            est.classes_ = np.array(meta["classes"], dtype=str if kind in "OUS" else None)
            est.image_shape_ = tuple(int(s) for s in meta["image_shape"])
            est.history_ = pd.DataFrame(meta.get("history", {}))
            est.adversarial_training_config_ = spec
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{meta_path}: malformed classifier description ({exc!r}).") from None
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{weights_path}: cannot read the weights ({exc}).") from None
        net = build_network(est.image_shape_[0], len(est.classes_), int(est.width), resolve_device(device), None)
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
