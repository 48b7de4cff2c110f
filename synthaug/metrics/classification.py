"""The accuracy family: scores of a classifier's predictions on real held-out data.

Pure functions on arrays: the experiment layer trains the classifier, predicts, and
hands the labels (and optionally the class probabilities) to these functions.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import roc_auc_score

from ..exceptions import InvalidDataError
from ._checks import check_paired

logger = logging.getLogger(__name__)

__all__ = ["classification_metrics", "per_class_accuracy"]


def _check_labels(y: object, name: str) -> np.ndarray:
    """Return ``y`` as a 1-D int64 array, or raise a message that says how to fix it."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InvalidDataError(
            f"{name} has shape {arr.shape}; expected a 1-D array of integer class "
            f"indices (N,). If it holds one-hot rows or probabilities, pass "
            f"{name}.argmax(axis=1)."
        )
    if arr.size == 0:
        raise InvalidDataError(f"{name} is empty; pass at least one label.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise InvalidDataError(
            f"{name} has dtype {arr.dtype}; expected integer class indices 0..K-1. "
            "Map class names to indices first (e.g. with ImageDataset.class_names)."
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidDataError(
                f"{name} holds non-integer values; expected integer class indices 0..K-1."
            )
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise InvalidDataError(
            f"{name} holds the negative label {int(arr.min())}; expected class indices 0..K-1."
        )
    return arr


def _check_pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    return check_paired(y_true, y_pred, ("y_true", "y_pred"), _check_labels, "labels",
                        "pass one prediction per true label.")


def _resolve_n_classes(n_classes: int | None, *label_arrays: np.ndarray, n_score: int | None) -> int:
    seen = max(int(a.max()) for a in label_arrays) + 1
    if n_classes is None:
        return max(seen, n_score or 0)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise InvalidDataError(f"n_classes must be a positive int, got {n_classes!r}.")
    if seen > n_classes:
        raise InvalidDataError(
            f"labels go up to {seen - 1} but n_classes={n_classes}; labels must lie in "
            f"0..{n_classes - 1}. Pass the right n_classes (len(class_names))."
        )
    return int(n_classes)


def _confusion(yt: np.ndarray, yp: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion counts, rows = true class, columns = predicted class. Shape (K, K)."""
    flat = np.bincount(yt * n_classes + yp, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def per_class_accuracy(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Accuracy within each true class (the per-class recall).

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices in ``0..n_classes-1``.
    n_classes : int
        Number of classes K (``len(class_names)``).

    Returns
    -------
    ndarray of float64
        Fraction of class-k rows predicted as k; NaN for a class absent from ``y_true``.

    Shape
    -----
    y_true, y_pred : ``(N,)``; returns ``(K,)``.

    Examples
    --------
    >>> per_class_accuracy([0, 0, 1, 1], [0, 1, 1, 1], n_classes=3)
    array([0.5, 1. , nan])
    """
    yt, yp = _check_pair(y_true, y_pred)
    k = _resolve_n_classes(n_classes, yt, yp, n_score=None)
    cm = _confusion(yt, yp, k)
    support = cm.sum(axis=1)
    out = np.full(k, np.nan)
    present = support > 0
    out[present] = np.diag(cm)[present] / support[present]
    return out


def _check_scores(y_score: object, n_rows: int) -> np.ndarray:
    scores = np.asarray(y_score, dtype=np.float64)
    if scores.ndim != 2:
        raise InvalidDataError(
            f"y_score has shape {scores.shape}; expected class probabilities (N, K). "
            "For a binary model that gives one positive-class score p, pass "
            "np.column_stack([1 - p, p])."
        )
    if scores.shape[0] != n_rows:
        raise InvalidDataError(
            f"y_score has {scores.shape[0]} rows but y_true has {n_rows} labels; pass "
            "one score row per label."
        )
    if scores.shape[1] < 2:
        raise InvalidDataError(
            f"y_score has {scores.shape[1]} column; expected one column per class (K >= 2)."
        )
    if not np.all(np.isfinite(scores)):
        raise InvalidDataError(
            "y_score holds NaN or infinite values; check the classifier's outputs."
        )
    return scores


def _roc_auc(yt: np.ndarray, scores: np.ndarray) -> float:
    """Binary: AUC of column 1; multi-class: unweighted mean of one-vs-rest AUCs.

    NaN (with a log message, no exception) when any class is absent from ``yt``,
    because a one-vs-rest AUC needs both positives and negatives.
    """
    n_classes = scores.shape[1]
    counts = np.bincount(yt, minlength=n_classes)
    if np.any(counts == 0):
        logger.info(
            "roc_auc is undefined (NaN): classes %s are absent from y_true.",
            np.flatnonzero(counts == 0).tolist(),
        )
        return float("nan")
    if n_classes == 2:
        return float(roc_auc_score(yt == 1, scores[:, 1]))
    return float(np.mean([roc_auc_score(yt == c, scores[:, c]) for c in range(n_classes)]))


def classification_metrics(y_true, y_pred, y_score=None, *, n_classes: int | None = None) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1 and ROC AUC of one set of predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices in ``0..K-1``.
    y_score : array-like of float, optional
        Class probabilities (or any per-class scores where higher means "more likely
        this class"), one column per class. Needed only for ``roc_auc``.
    n_classes : int, optional
        Number of classes K. Defaults to the largest label seen (or the number of
        score columns) plus one; pass it when a class may be missing from both arrays.

    Returns
    -------
    dict of str to float
        ``accuracy``: fraction of correct predictions.
        ``balanced_accuracy``: mean of the per-class recalls over classes present in
        ``y_true`` (as in scikit-learn's ``balanced_accuracy_score``).
        ``macro_f1``: unweighted mean of per-class F1 = 2TP / (2TP + FP + FN) over the
        classes that occur in ``y_true`` or ``y_pred`` (a class that is never predicted
        scores 0; a class absent from both is undefined and left out).
        ``roc_auc``: binary: AUC of the positive-class score ``y_score[:, 1]``;
        multi-class: unweighted mean of the one-vs-rest AUCs of each column.
        NaN (no exception) when ``y_score`` is None or a class is absent from ``y_true``.

    Shape
    -----
    y_true, y_pred : ``(N,)``; y_score : ``(N, K)``.

    Examples
    --------
    >>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1],
    ...                            [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    >>> m["accuracy"], m["balanced_accuracy"], m["roc_auc"]
    (0.75, 0.75, 1.0)
    """
    yt, yp = _check_pair(y_true, y_pred)
    scores = None if y_score is None else _check_scores(y_score, yt.size)
    k = _resolve_n_classes(n_classes, yt, yp, n_score=None if scores is None else scores.shape[1])
    if scores is not None and scores.shape[1] != k:
        raise InvalidDataError(
            f"y_score has {scores.shape[1]} columns but there are {k} classes; pass one "
            "score column per class (and n_classes=len(class_names))."
        )

    cm = _confusion(yt, yp, k)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)  # true count per class
    predicted = cm.sum(axis=0)
    in_true = support > 0
    balanced = float(np.mean(tp[in_true] / support[in_true]))

    # 2TP + FP + FN = support + predicted; zero only for a class that never occurs.
    denom = support + predicted
    occurs = denom > 0
    macro_f1 = float(np.mean(2.0 * tp[occurs] / denom[occurs]))

    return {
        "accuracy": float(np.mean(yt == yp)),
        "balanced_accuracy": balanced,
        "macro_f1": macro_f1,
        "roc_auc": float("nan") if scores is None else _roc_auc(yt, scores),
    }
