"""Load a user's classifier for evaluation, whatever form it comes in.

Accepted specifications (see :func:`load_model`):

- a TorchScript file (``torch.jit.save``): no Python code of the user runs;
- ``module:function``: a Python function returning a ``torch.nn.Module`` (the user's own
  code, imported deliberately; the current folder is searched first);
- a folder written by :meth:`CNNClassifier.save` (safetensors + JSON);
- a joblib/pickle file of a scikit-learn model, or a ``torch.save`` of a whole module:
  refused unless ``trust_pickle=True``, because unpickling can run arbitrary code.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._utils import resolve_device
from ..exceptions import ConfigError, InvalidDataError, ModelFileError
from .cnn import CNNClassifier

__all__ = ["MODEL_KINDS", "LoadedModel", "load_model"]

log = logging.getLogger(__name__)

MODEL_KINDS = ("torchscript", "python", "cnn", "sklearn", "torch_pickle")
_FUNC_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".sav"}
_PICKLE_HINT = "unpickling runs code; pass --trust-pickle only if you trust this file"


@dataclass
class LoadedModel:
    """A classifier ready for evaluation, with or without gradients.

    Attributes
    ----------
    kind : str
        One of ``"torchscript"``, ``"python"``, ``"cnn"``, ``"sklearn"``, ``"torch_pickle"``.
    source : str
        The specification it was loaded from (for reports).
    module : torch.nn.Module or None
        Maps ``(N, C, H, W)`` images in [0, 1] to logits; ``None`` when the model has no
        gradients (scikit-learn).
    estimator : object or None
        The scikit-learn-style estimator, when there is one.
    classes : ndarray or None
        The label each logit / probability column stands for, when the model knows it
        (``None``: column ``k`` is class index ``k``).
    """

    kind: str
    source: str
    module: nn.Module | None = None
    estimator: Any = None
    classes: np.ndarray | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def has_gradients(self) -> bool:
        """Whether gradient attacks can target the model directly."""
        return self.module is not None

    @property
    def has_proba(self) -> bool:
        return self.module is not None or callable(getattr(self.estimator, "predict_proba", None))

    def _scores(self, X: np.ndarray, proba: bool, batch_size: int = 256) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        module = self.module
        was_training = module.training
        module.eval()
        out = []
        try:
            with torch.no_grad():
                for start in range(0, len(X), batch_size):
                    logits = module(torch.tensor(X[start:start + batch_size], device=self.device))
                    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
                        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits)
                        raise ConfigError(
                            f"model {self.source}: expected logits of shape (N, K), got {shape}."
                        )
                    out.append((torch.softmax(logits, 1) if proba else logits).float().cpu().numpy())
        finally:
            module.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels (``classes[argmax]``, or the argmax index when ``classes`` is None).

        Shape
        -----
        X : ``(N, C, H, W)`` float in [0, 1]; returns ``(N,)``.
        """
        if self.module is None:
            return np.asarray(self.estimator.predict(np.asarray(X, dtype=np.float32)))
        idx = self._scores(X, proba=False).argmax(axis=1)
        return idx if self.classes is None else self.classes[idx]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, K)``; columns follow ``classes``."""
        if self.module is None:
            if not self.has_proba:
                raise ConfigError(f"model {self.source} has no predict_proba.")
            return np.asarray(self.estimator.predict_proba(np.asarray(X, dtype=np.float32)))
        return self._scores(X, proba=True)


# ============================================================================ loaders
def _is_torchscript_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any("/code/" in n or n.startswith("code/") for n in names)


def _load_torchscript(path: Path, device: torch.device) -> LoadedModel:
    try:
        module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: cannot load the TorchScript model ({first}).") from None
    module.eval()
    return LoadedModel("torchscript", str(path), module=module, device=device)


def _load_function(spec: str, device: torch.device) -> LoadedModel:
    module_name, func_name = spec.split(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        # The user's own code, imported deliberately: the current folder first.
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--model {spec}: cannot import module {module_name!r} ({exc}). Run from the folder "
            f"that holds {module_name.split('.')[0]}.py, or install the package."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any error inside the user's module
        raise ConfigError(
            f"--model {spec}: importing {module_name!r} failed with {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            try:
                sys.path.remove(cwd)
            except ValueError:  # pragma: no cover - the module removed it itself
                pass
    func = getattr(mod, func_name, None)
    if func is None:
        raise ConfigError(f"--model {spec}: module {module_name!r} has no attribute {func_name!r}.")
    if not callable(func):
        raise ConfigError(f"--model {spec}: {func_name!r} is a {type(func).__name__}, not a function.")
    try:
        module = func()
    except Exception as exc:  # noqa: BLE001 - any error inside the user's function
        raise ConfigError(
            f"--model {spec}: calling {func_name}() failed with {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(module, CNNClassifier):
        return _from_cnn(module, spec, device, kind="python")
    if not isinstance(module, nn.Module):
        raise ConfigError(
            f"--model {spec}: {func_name}() returned a {type(module).__name__}; it must return a "
            "torch.nn.Module that maps (N, C, H, W) images in [0, 1] to logits."
        )
    module = module.to(device).eval()
    return LoadedModel("python", spec, module=module, device=device)


def _from_cnn(est: CNNClassifier, source: str, device: torch.device, kind: str = "cnn") -> LoadedModel:
    if not hasattr(est, "model_"):
        raise ModelFileError(f"{source}: the CNNClassifier is not fitted.")
    module = est.model_.to(device).eval()
    return LoadedModel(kind, source, module=module, estimator=est, classes=np.asarray(est.classes_),
                       device=device)


def _from_object(obj: Any, path: Path, device: torch.device) -> LoadedModel:
    if isinstance(obj, CNNClassifier):
        return _from_cnn(obj, str(path), device, kind="cnn")
    if isinstance(obj, nn.Module):
        return LoadedModel("torch_pickle", str(path), module=obj.to(device).eval(), device=device)
    if callable(getattr(obj, "predict", None)):
        classes = getattr(obj, "classes_", None)
        return LoadedModel("sklearn", str(path), estimator=obj,
                           classes=None if classes is None else np.asarray(classes), device=device)
    raise ModelFileError(
        f"{path}: holds a {type(obj).__name__}, which has no predict method; expected a fitted "
        "scikit-learn classifier."
    )


def _load_pickle(path: Path, device: torch.device, trust_pickle: bool) -> LoadedModel:
    if not trust_pickle:
        raise ModelFileError(f"{path}: is a pickle/joblib file; {_PICKLE_HINT}.")
    import joblib

    try:
        obj = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling can fail in many ways
        raise ModelFileError(
            f"{path}: cannot unpickle the model ({type(exc).__name__}: {exc}). Was it saved with "
            "joblib.dump or pickle.dump, with the same library versions installed here?"
        ) from None
    return _from_object(obj, path, device)


def _load_torch_save(path: Path, device: torch.device, trust_pickle: bool) -> LoadedModel:
    try:
        obj = torch.load(str(path), map_location=device, weights_only=True)
    except Exception:  # noqa: BLE001 - not a plain state_dict: a pickled module
        obj = None
    if obj is not None:
        raise ModelFileError(
            f"{path}: holds tensors (a state_dict) but not the network that uses them. Export the "
            "model with torch.jit.script(model).save(path), or pass a module:function that builds "
            "the network and loads these weights."
        )
    if not trust_pickle:
        raise ModelFileError(f"{path}: is a torch.save pickle of a whole model; {_PICKLE_HINT}.")
    try:
        obj = torch.load(str(path), map_location=device, weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot load ({type(exc).__name__}: {exc}).") from None
    return _from_object(obj, path, device)


def load_model(spec: str | os.PathLike, *, trust_pickle: bool = False, device: str = "auto",
               build_attack: Callable[[dict], Any] | None = None) -> LoadedModel:
    """Load a classifier to evaluate.

    Parameters
    ----------
    spec : str or path-like
        One of: a TorchScript file; ``"module:function"`` (a function called with no
        arguments that returns a ``torch.nn.Module``; the current folder is on the import
        path); a folder written by :meth:`CNNClassifier.save`; a joblib/pickle file of a
        fitted scikit-learn classifier (taking ``(N, C, H, W)`` floats, e.g. a pipeline
        built by :func:`~synthaug.classifiers.make_classifier`).
    trust_pickle : bool, default False
        Allow unpickling. Unpickling runs code from the file: only for files you trust.
    device : str, default "auto"
    build_attack : callable or None
        Passed to :meth:`CNNClassifier.load` for a saved CNNClassifier folder: rebuilds
        the adversarial-training attack from its JSON (e.g.
        :func:`synthaug.attacks.registry.attack_from_config`). Evaluation does not need
        it; without it the estimator's ``adversarial_training`` is ``None``.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelFileError
        Missing, unreadable, unsupported or (without ``trust_pickle``) pickled files.
    ConfigError
        A ``module:function`` that cannot be imported, called, or does not return a module.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.pt")
    >>> torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))).save(path)
    >>> load_model(path, device="cpu").kind
    'torchscript'
    """
    dev = resolve_device(device)
    text = os.fspath(spec)
    path = Path(text)
    if path.is_dir():
        if CNNClassifier.is_saved_classifier(path):
            return _from_cnn(CNNClassifier.load(path, device=str(dev), build_attack=build_attack), text, dev)
        raise ModelFileError(
            f"{path}: is a folder but not one written by CNNClassifier.save (no classifier.json "
            "and model.safetensors)."
        )
    if path.is_file():
        if zipfile.is_zipfile(path):
            if _is_torchscript_zip(path):
                return _load_torchscript(path, dev)
            if path.suffix.lower() in _PICKLE_SUFFIXES:
                return _load_pickle(path, dev, trust_pickle)
            return _load_torch_save(path, dev, trust_pickle)
        suffix = path.suffix.lower()
        if suffix == ".safetensors":
            raise ModelFileError(
                f"{path}: holds weights only. Pass the folder written by CNNClassifier.save, or a "
                "module:function that builds your network and loads these weights."
            )
        try:
            with open(path, "rb") as fh:
                head = fh.read(2)
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read ({exc.strerror}).") from None
        if suffix in _PICKLE_SUFFIXES or head[:1] == b"\x80":
            return _load_pickle(path, dev, trust_pickle)
        raise ModelFileError(
            f"{path}: unrecognised model file. Expected a TorchScript file, a folder saved by "
            "CNNClassifier.save, a joblib/pickle file (.joblib, .pkl) or module:function."
        )
    if _FUNC_REF.match(text):
        return _load_function(text, dev)
    raise ModelFileError(
        f"{text}: no such file or folder, and not a module:function reference. Pass a TorchScript "
        "file, a saved CNNClassifier folder, a joblib file, or e.g. mymodels:build_model."
    )


def check_input_shape(model: LoadedModel, image_shape: tuple[int, int, int]) -> None:
    """Fail early, with advice, when the model cannot take images of ``image_shape``."""
    probe = np.full((2, *image_shape), 0.5, np.float32)
    try:
        model.predict(probe)
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError) as exc:
        if type(exc).__name__ == "NotFittedError":
            raise ModelFileError(f"model {model.source} is not fitted; save the model after fit().") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidDataError(
            f"model {model.source} cannot take images of shape (C, H, W) = {tuple(image_shape)} "
            f"({type(exc).__name__}: {first}). Resize the data with --image-size or check the model."
        ) from None
