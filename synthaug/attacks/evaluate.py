"""Robust accuracy under attacks and corruptions, as a tidy table.

One row per perturbation setting: the clean images (``kind="clean"``), each attack at
each eps (``"adversarial"`` when crafted against the model itself, ``"transfer"`` when
crafted on a surrogate network and replayed on a gradient-free model), and each
corruption at each severity (``"corruption"``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.validation import check_images, check_int, check_labels
from ..exceptions import ConfigError
from ..seeding import check_random_state
from .base import Attack, _model_device
from .corruptions import _corrupt
from .registry import make_attack
from .spec import RobustnessSpec, resolve_spec

__all__ = [
    "Condition",
    "conditions_to_frame",
    "evaluate_robustness",
    "per_class_robust_accuracy",
    "predict_labels",
    "robust_accuracy",
    "run_conditions",
]

log = logging.getLogger(__name__)

COLUMNS = ["perturbation", "kind", "eps", "severity", "accuracy", "n"]


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def predict_labels(model: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted class indices: ``argmax`` of a module's logits, or ``model.predict``.

    A module is evaluated in eval mode under ``no_grad`` and its modes are restored.

    Shape
    -----
    images : ``(N, C, H, W)`` float in [0, 1]; returns ``(N,)`` int64.
    """
    if isinstance(model, nn.Module):
        device = _model_device(model)
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        out = []
        try:
            with torch.no_grad():
                for sl in _batches(len(images), batch_size):
                    x = torch.tensor(np.asarray(images[sl], dtype=np.float32), device=device)
                    out.append(model(x).argmax(dim=1).cpu().numpy())
        finally:
            for module, mode in modes:
                module.training = mode
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)
    return np.asarray(model.predict(np.asarray(images, dtype=np.float32)))


def _attack_batched(attack: Attack, model: nn.Module, images: np.ndarray, labels: np.ndarray,
                    batch_size: int, rng: np.random.Generator) -> np.ndarray:
    if float(attack.eps) == 0.0:
        return np.asarray(images, dtype=np.float32).copy()
    out = np.empty(images.shape, np.float32)
    for sl in _batches(len(images), batch_size):
        batch_attack = attack
        if hasattr(attack, "random_state"):
            # A fresh seed per batch, so batches do not share one noise pattern.
            batch_attack = replace(attack, random_state=int(rng.integers(0, 2**63 - 1)))
        out[sl] = batch_attack(model, images[sl], labels[sl])
    return out


def robust_accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, attack: Attack,
                    *, batch_size: int = 256, random_state=None) -> float:
    """Accuracy of ``model`` on ``attack``'s adversarial examples.

    Parameters
    ----------
    model : torch.nn.Module
        Maps images in [0, 1] to logits.
    images : ndarray of shape (N, C, H, W)
        Clean images in [0, 1].
    labels : ndarray of shape (N,)
        Class indices into the model's logits.
    attack : Attack
        For example ``PGD(eps=8/255)``.

    Returns
    -------
    float
        Fraction of adversarial examples still classified correctly.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from synthaug.attacks import FGSM
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x, y = np.random.default_rng(0).random((6, 1, 2, 2), dtype=np.float32), np.zeros(6, int)
    >>> 0.0 <= robust_accuracy(model, x, y, FGSM(eps=0.1)) <= 1.0
    True
    """
    images, labels = _check_inputs(images, labels)
    rng = check_random_state(random_state)
    x_adv = _attack_batched(attack, model, images, labels, batch_size, rng)
    return float(np.mean(predict_labels(model, x_adv, batch_size) == labels))


def _check_inputs(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_images(images, "images", owner="robustness evaluation", channels=None)
    return x, check_labels(labels, len(x), "labels", class_indices=True)


@dataclass(frozen=True)
class Condition:
    """One evaluated setting and the predictions it produced."""

    perturbation: str
    kind: str
    eps: float
    severity: float
    predictions: np.ndarray  # (N,) predicted labels
    images: np.ndarray | None = None  # (k, C, H, W) first k perturbed images, when requested


def run_conditions(model: Any, images: np.ndarray, labels: np.ndarray, spec: RobustnessSpec | None = None, *,
                   surrogate: nn.Module | None = None, batch_size: int = 256, random_state=None,
                   keep_index: np.ndarray | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Condition]:
    """Evaluate every setting of ``spec`` and return the predictions per setting.

    The engine behind :func:`evaluate_robustness` (see it for ``model``, ``surrogate``
    and ``random_state``), also used by reports that need the predictions.
    ``keep_index`` selects rows whose perturbed images are kept (``Condition.images``)
    for example figures; ``progress`` is called with a short text before each setting.
    """
    images, labels = _check_inputs(images, labels)
    return _run_checked(model, images, labels, resolve_spec(spec, {}, "run_conditions"),
                        surrogate=surrogate, batch_size=batch_size, random_state=random_state,
                        keep_index=keep_index, progress=progress)


def _run_checked(model: Any, images: np.ndarray, labels: np.ndarray, spec: RobustnessSpec, *,
                 surrogate: nn.Module | None, batch_size: int, random_state,
                 keep_index: np.ndarray | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Condition]:
    """:func:`run_conditions` on checked images and labels and a checked spec."""
    batch_size = check_int("batch_size", batch_size, 1)
    if surrogate is not None and not isinstance(surrogate, nn.Module):
        raise ConfigError(f"surrogate must be a torch.nn.Module, got {type(surrogate).__name__}.")
    if not isinstance(model, nn.Module) and isinstance(getattr(model, "module", None), nn.Module):
        model = model.module  # a LoadedModel with gradients: attack its network directly
    white_box = isinstance(model, nn.Module)
    if not white_box and not callable(getattr(model, "predict", None)):
        raise ConfigError(
            f"model must be a torch.nn.Module returning logits or have a predict(X) method, "
            f"got {type(model).__name__}."
        )
    crafter = model if white_box else surrogate
    kind = "adversarial" if white_box else "transfer"
    if spec.attacks and crafter is None:
        log.warning("model has no gradients and no surrogate was given: running corruptions only.")
    rng = check_random_state(random_state)
    keep = None if keep_index is None else np.asarray(keep_index, dtype=np.int64)

    def make(perturbation, kind_, eps, severity, x):
        return Condition(perturbation, kind_, eps, severity, predict_labels(model, x, batch_size),
                         None if keep is None else x[keep].copy())

    out = [make("none", "clean", 0.0, 0.0, images)]
    if crafter is not None:
        for name in spec.attacks:
            for eps in spec.grid(name):
                if progress:
                    progress(f"{name} eps={eps:.4g}")
                attack = make_attack(name, eps, pgd_steps=spec.pgd_steps, random_state=0)
                x_adv = _attack_batched(attack, crafter, images, labels, batch_size, rng)
                out.append(make(name, kind, eps, np.nan, x_adv))
    for name in spec.corruptions:
        for sev in spec.severities:
            if progress:
                progress(f"{name} severity={sev}")
            seed = int(rng.integers(0, 2**63 - 1))
            out.append(make(name, "corruption", np.nan, float(sev), _corrupt(images, name, sev, seed)))
    return out


def conditions_to_frame(conditions: Sequence[Condition], labels: np.ndarray,
                        class_names: Sequence[str] | None = None, per_class: bool = False,
                        groups: np.ndarray | None = None) -> pd.DataFrame:
    """Turn :func:`run_conditions` output into the tidy accuracy table.

    ``groups`` (default ``labels``) are the class indices used for per-class rows and
    for ``class_names``, when they differ from the indices the predictions use."""
    labels = np.asarray(labels)
    groups = labels if groups is None else np.asarray(groups)
    rows = []
    for c in conditions:
        correct = c.predictions == labels
        base = {"perturbation": c.perturbation, "kind": c.kind, "eps": c.eps, "severity": c.severity}
        if per_class:
            for k in np.unique(groups):
                mask = groups == k
                name = class_names[k] if class_names is not None else int(k)
                rows.append({**base, "class": name, "accuracy": float(correct[mask].mean()),
                             "n": int(mask.sum())})
        else:
            rows.append({**base, "accuracy": float(correct.mean()), "n": int(len(labels))})
    columns = COLUMNS[:4] + (["class"] if per_class else []) + COLUMNS[4:]
    frame = pd.DataFrame(rows, columns=columns)
    frame["eps"] = frame["eps"].astype(float)
    frame["severity"] = frame["severity"].astype(float)
    return frame


def evaluate_robustness(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    spec: RobustnessSpec | None = None,
    *,
    surrogate: nn.Module | None = None,
    batch_size: int = 256,
    random_state=None,
    per_class: bool = False,
    class_names: Sequence[str] | None = None,
    **spec_options: Any,
) -> pd.DataFrame:
    """Accuracy under adversarial attacks and common corruptions, as a tidy table.

    Parameters
    ----------
    model : torch.nn.Module or object with ``predict``
        A module mapping images in [0, 1] to logits is attacked directly (white box);
        so is an object whose ``module`` attribute is one (a ``LoadedModel``). For a
        fitted :class:`~synthaug.classifiers.CNNClassifier` pass ``clf.model_``.
        Any other object needs ``predict(X) -> labels`` taking ``(N, C, H, W)`` floats;
        attacks are then crafted on ``surrogate`` and replayed on ``model`` (transfer),
        and without a surrogate only corruptions run.
    images : ndarray of shape (N, C, H, W)
        Clean images in [0, 1].
    labels : ndarray of shape (N,)
        True class indices (indices into the logits of ``model`` and ``surrogate``).
    spec : RobustnessSpec, optional
        What to run: attacks and their radii, corruptions and severities, PGD steps.
        Default ``RobustnessSpec()``: FGSM and PGD at 0..8/255, every corruption at
        severities 1, 3 and 5.
    surrogate : torch.nn.Module, optional
        Differentiable stand-in used to craft attacks for gradient-free models.
    batch_size : int, default 256
    random_state : None, int or numpy Generator
        Seeds PGD's random starts and the noise corruption.
    per_class : bool, default False
        Add a ``class`` column with one row per class per setting.
    class_names : sequence of str, optional
        Names for the ``class`` column (default: the label indices).
    **spec_options
        Instead of ``spec``, its fields as keywords (``attacks``, ``eps_grid``,
        ``l2_eps_grid``, ``corruptions``, ``severities``, ``pgd_steps``).

    Returns
    -------
    pandas.DataFrame
        Columns ``perturbation`` ("none", "fgsm", "pgd" or a corruption), ``kind``
        ("clean", "adversarial", "transfer" or "corruption"), ``eps`` (NaN for
        corruptions), ``severity`` (NaN for attacks, 0 for clean), [``class``],
        ``accuracy`` and ``n``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x = np.random.default_rng(0).random((6, 1, 2, 2), dtype=np.float32)
    >>> df = evaluate_robustness(model, x, np.zeros(6, int), eps_grid=(0, 0.1), corruptions=())
    >>> list(df["perturbation"])
    ['none', 'fgsm', 'fgsm', 'pgd', 'pgd']
    """
    spec = resolve_spec(spec, spec_options, "evaluate_robustness")
    images, labels = _check_inputs(images, labels)
    conditions = _run_checked(model, images, labels, spec, surrogate=surrogate, batch_size=batch_size,
                              random_state=random_state)
    return conditions_to_frame(conditions, labels, class_names, per_class)


def per_class_robust_accuracy(model: Any, images: np.ndarray, labels: np.ndarray, **kwargs) -> pd.DataFrame:
    """:func:`evaluate_robustness` with one row per class (a ``class`` column)."""
    return evaluate_robustness(model, images, labels, per_class=True, **kwargs)
