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

from .._utils import check_random_state
from ..exceptions import ConfigError, InvalidDataError
from .base import Attack, _model_device
from .corruptions import CORRUPTIONS, MAX_SEVERITY, corrupt
from .fgsm import FGSM
from .pgd import PGD

__all__ = [
    "ATTACK_NAMES",
    "DEFAULT_ATTACKS",
    "DEFAULT_EPS_GRID",
    "DEFAULT_L2_EPS_GRID",
    "L2_ATTACKS",
    "eps_label",
    "evaluate_robustness",
    "make_attack",
    "per_class_robust_accuracy",
    "predict_labels",
    "robust_accuracy",
]

log = logging.getLogger(__name__)

ATTACK_NAMES = ("fgsm", "pgd", "pgd_l2")
DEFAULT_ATTACKS = ("fgsm", "pgd")
# Attacks whose eps is the L2 norm of the whole perturbation (they take ``l2_eps_grid``);
# the others are L-inf and take ``eps_grid`` in [0, 1] pixel units.
L2_ATTACKS = ("pgd_l2",)
DEFAULT_EPS_GRID = (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255)
# For scale: an L-inf perturbation of 8/255 on every pixel of a 28x28 grey image has L2 norm 0.88.
DEFAULT_L2_EPS_GRID = (0.25, 0.5, 1.0)
COLUMNS = ["perturbation", "kind", "eps", "severity", "accuracy", "n"]


def make_attack(name: str, eps: float, *, pgd_steps: int = 10, random_state=None) -> Attack:
    """Build a named attack: ``"fgsm"``, ``"pgd"`` (L-inf) or ``"pgd_l2"`` (L2), one random start."""
    if name == "fgsm":
        return FGSM(eps=eps)
    if name == "pgd":
        return PGD(eps=eps, n_steps=pgd_steps, random_state=random_state)
    if name == "pgd_l2":
        return PGD(eps=eps, n_steps=pgd_steps, norm="l2", random_state=random_state)
    raise ConfigError(f"unknown attack {name!r}; choose from {', '.join(ATTACK_NAMES)}.")


def eps_label(attack: str, eps: float) -> str:
    """How a radius reads to a person: ``"8/255"`` for L-inf attacks, ``"L2 0.5"`` for L2 ones.

    Examples
    --------
    >>> eps_label("pgd", 8 / 255), eps_label("pgd_l2", 0.5)
    ('8/255', 'L2 0.5')
    """
    if attack in L2_ATTACKS:
        return f"L2 {eps:g}"
    return f"{eps * 255:.3g}/255"


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
    x = np.asarray(images)
    if x.ndim != 4:
        raise InvalidDataError(f"images have shape {x.shape}; expected (N, C, H, W).")
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidDataError(f"images have dtype {x.dtype}; expected float in [0, 1].")
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        raise InvalidDataError("no images to evaluate.")
    y = np.asarray(labels)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise InvalidDataError(
            f"labels have shape {y.shape} and dtype {y.dtype}; expected ({len(x)},) integers."
        )
    return x, y.astype(np.int64)


def _check_eps(name: str, grid: Sequence[float], upper: float) -> list[float]:
    out = []
    for e in grid:
        try:
            value = float(e)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} values must be numbers, got {e!r}.") from None
        if not np.isfinite(value) or not 0 <= value <= upper:
            what = "[0, 1] (pixel units, e.g. 8/255)" if upper == 1 else "[0, inf) (an L2 norm, e.g. 0.5)"
            raise ConfigError(f"{name} values must lie in {what}, got {e!r}.")
        out.append(value)
    return sorted(set(out))


def _check_grid(eps_grid: Sequence[float], severities: Sequence[int],
                l2_eps_grid: Sequence[float] = ()) -> tuple[list[float], list[int], list[float]]:
    eps_list = _check_eps("eps_grid", eps_grid, 1.0)
    l2_list = _check_eps("l2_eps_grid", l2_eps_grid, float("inf"))
    sev_list = []
    for s in severities:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= MAX_SEVERITY:
            raise ConfigError(f"severities must be integers from 0 to {MAX_SEVERITY}, got {s!r}.")
        sev_list.append(int(s))
    return eps_list, sorted(set(sev_list)), l2_list


@dataclass(frozen=True)
class Condition:
    """One evaluated setting and the predictions it produced."""

    perturbation: str
    kind: str
    eps: float
    severity: float
    predictions: np.ndarray  # (N,) predicted labels
    images: np.ndarray | None = None  # (k, C, H, W) first k perturbed images, when requested


def run_conditions(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    eps_grid: Sequence[float] = DEFAULT_EPS_GRID,
    corruptions: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = (1, 3, 5),
    surrogate: nn.Module | None = None,
    pgd_steps: int = 10,
    batch_size: int = 256,
    random_state=None,
    l2_eps_grid: Sequence[float] = DEFAULT_L2_EPS_GRID,
    keep_index: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Condition]:
    """Evaluate every setting and return predictions per setting (the engine behind
    :func:`evaluate_robustness`; also used by reports that need the predictions).

    ``keep_index`` selects rows whose perturbed images are kept (``Condition.images``)
    for example figures."""
    images, labels = _check_inputs(images, labels)
    eps_list, sev_list, l2_list = _check_grid(eps_grid, severities, l2_eps_grid)
    for name in attacks:
        if name not in ATTACK_NAMES:
            raise ConfigError(f"unknown attack {name!r}; choose from {', '.join(ATTACK_NAMES)}.")
    for name in corruptions:
        if name not in CORRUPTIONS:
            raise ConfigError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
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
    if attacks and crafter is None:
        log.warning("model has no gradients and no surrogate was given: running corruptions only.")
    rng = check_random_state(random_state)
    keep = None if keep_index is None else np.asarray(keep_index, dtype=np.int64)

    def make(perturbation, kind_, eps, severity, x):
        return Condition(perturbation, kind_, eps, severity, predict_labels(model, x, batch_size),
                         None if keep is None else x[keep].copy())

    out = [make("none", "clean", 0.0, 0.0, images)]
    if crafter is not None:
        for name in attacks:
            for eps in (l2_list if name in L2_ATTACKS else eps_list):
                if progress:
                    progress(f"{name} eps={eps:.4g}")
                attack = make_attack(name, eps, pgd_steps=pgd_steps, random_state=0)
                x_adv = _attack_batched(attack, crafter, images, labels, batch_size, rng)
                out.append(make(name, kind, eps, np.nan, x_adv))
    for name in corruptions:
        for sev in sev_list:
            if progress:
                progress(f"{name} severity={sev}")
            seed = int(rng.integers(0, 2**63 - 1))
            out.append(make(name, "corruption", np.nan, float(sev), corrupt(images, name, sev, seed)))
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
    *,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    eps_grid: Sequence[float] = DEFAULT_EPS_GRID,
    corruptions: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = (1, 3, 5),
    surrogate: nn.Module | None = None,
    pgd_steps: int = 10,
    batch_size: int = 256,
    random_state=None,
    l2_eps_grid: Sequence[float] = DEFAULT_L2_EPS_GRID,
    per_class: bool = False,
    class_names: Sequence[str] | None = None,
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
    attacks : sequence of {"fgsm", "pgd", "pgd_l2"}
        ``fgsm`` and ``pgd`` are L-inf attacks run at every ``eps_grid`` radius;
        ``pgd_l2`` is PGD in the L2 ball, run at every ``l2_eps_grid`` radius. PGD uses
        ``pgd_steps`` steps and one random start.
    eps_grid : sequence of float
        L-inf radii in [0, 1] pixel units; ``0`` is the clean accuracy.
    corruptions : sequence of str
        Names from :data:`~synthaug.attacks.CORRUPTIONS`; empty to skip.
    severities : sequence of int
        Corruption severities in 0..5.
    surrogate : torch.nn.Module, optional
        Differentiable stand-in used to craft attacks for gradient-free models.
    pgd_steps, batch_size : int
    random_state : None, int or numpy Generator
        Seeds PGD's random starts and the noise corruption.
    l2_eps_grid : sequence of float, default (0.25, 0.5, 1.0)
        L2 norms of the whole perturbation for ``pgd_l2`` (pixels in [0, 1]).
    per_class : bool, default False
        Add a ``class`` column with one row per class per setting.
    class_names : sequence of str, optional
        Names for the ``class`` column (default: the label indices).

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
    images, labels = _check_inputs(images, labels)
    conditions = run_conditions(
        model, images, labels, attacks=attacks, eps_grid=eps_grid, corruptions=corruptions,
        severities=severities, surrogate=surrogate, pgd_steps=pgd_steps, batch_size=batch_size,
        random_state=random_state, l2_eps_grid=l2_eps_grid,
    )
    return conditions_to_frame(conditions, labels, class_names, per_class)


def per_class_robust_accuracy(model: Any, images: np.ndarray, labels: np.ndarray, **kwargs) -> pd.DataFrame:
    """:func:`evaluate_robustness` with one row per class (a ``class`` column)."""
    return evaluate_robustness(model, images, labels, per_class=True, **kwargs)
