"""Accuracy family on hand-made cases with known answers, cross-checked with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

from synthaug.exceptions import InvalidDataError
from synthaug.metrics import classification_metrics, per_class_accuracy


def test_perfect_predictions_score_one():
    y = np.array([0, 1, 2, 2, 1, 0])
    m = classification_metrics(y, y, np.eye(3)[y])
    assert m == {"accuracy": 1.0, "balanced_accuracy": 1.0, "macro_f1": 1.0, "roc_auc": 1.0}


def test_all_wrong_predictions_score_zero():
    y_true = np.array([0, 0, 1, 1])
    m = classification_metrics(y_true, 1 - y_true, np.eye(2)[1 - y_true])
    assert m["accuracy"] == 0.0
    assert m["balanced_accuracy"] == 0.0
    assert m["macro_f1"] == 0.0
    assert m["roc_auc"] == 0.0


def test_two_by_two_hand_computed():
    # Confusion (rows true, cols pred): [[3, 1], [0, 2]].
    # recall: 3/4, 2/2 -> balanced 0.875; F1: 2*3/(2*3+0+1) = 6/7, 2*2/(2*2+1+0) = 4/5.
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 1]
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["balanced_accuracy"] == pytest.approx(0.875)
    assert m["macro_f1"] == pytest.approx((6 / 7 + 4 / 5) / 2)
    assert math.isnan(m["roc_auc"])  # no scores given


def test_auc_perfect_reversed_and_tied():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    perfect = np.column_stack([1 - p, p])
    assert classification_metrics(y, y, perfect)["roc_auc"] == 1.0
    assert classification_metrics(y, y, perfect[:, ::-1])["roc_auc"] == 0.0
    assert classification_metrics(y, y, np.full((5, 2), 0.5))["roc_auc"] == 0.5


def test_binary_auc_uses_column_one_only():
    # Column 0 is garbage on purpose: only the positive-class column may matter.
    y = np.array([0, 1, 0, 1])
    scores = np.array([[9.0, 0.1], [9.0, 0.9], [-9.0, 0.2], [-9.0, 0.7]])
    assert classification_metrics(y, y, scores)["roc_auc"] == 1.0


def test_multiclass_auc_is_macro_one_vs_rest():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    logits = rng.normal(size=(30, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = classification_metrics(y, proba.argmax(1), proba)
    expected = np.mean([roc_auc_score(y == c, proba[:, c]) for c in range(3)])
    assert m["roc_auc"] == pytest.approx(expected)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert 0.5 < m["roc_auc"] < 1.0


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_sklearn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=40)
    y_pred = rng.integers(0, 4, size=40)
    m = classification_metrics(y_true, y_pred, n_classes=4)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_auc_nan_without_exception_when_class_absent():
    # Class 2 never occurs in y_true: its one-vs-rest AUC is undefined.
    y = np.array([0, 1, 0, 1])
    scores = np.full((4, 3), 1 / 3)
    m = classification_metrics(y, y, scores)
    assert math.isnan(m["roc_auc"])
    assert m["accuracy"] == 1.0
    # Binary with only negatives.
    m2 = classification_metrics([0, 0, 0], [0, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    assert math.isnan(m2["roc_auc"])
    assert m2["accuracy"] == pytest.approx(2 / 3)


def test_n_classes_larger_than_seen_does_not_change_scores():
    y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 1]
    a = classification_metrics(y_true, y_pred)
    b = classification_metrics(y_true, y_pred, n_classes=5)
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert a[key] == b[key], key
    assert a["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_class_never_predicted_counts_zero_in_macro_f1():
    # Class 1 is in y_true but never predicted: F1_1 = 0; F1_0 = 2*2/(2*2+2+0) = 2/3.
    m = classification_metrics([0, 0, 1, 1], [0, 0, 0, 0])
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)
    assert m["balanced_accuracy"] == pytest.approx(0.5)


def test_per_class_accuracy_known_values_and_nan_for_absent_class():
    out = per_class_accuracy([0, 0, 0, 1, 1, 3], [0, 1, 0, 1, 1, 0], n_classes=4)
    assert out.shape == (4,)
    np.testing.assert_allclose(out[[0, 1, 3]], [2 / 3, 1.0, 0.0])
    assert np.isnan(out[2])


def test_float_integer_labels_are_accepted():
    m = classification_metrics(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert m["accuracy"] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y_true=[0, 1, 1], y_pred=[0, 1]), "y_true has 3 labels but y_pred has 2"),
        (dict(y_true=[[0, 1]], y_pred=[[0, 1]]), r"y_true has shape \(1, 2\).*argmax"),
        (dict(y_true=[], y_pred=[]), "y_true is empty"),
        (dict(y_true=[0, -1], y_pred=[0, 0]), "negative label -1"),
        (dict(y_true=[0, 0.5], y_pred=[0, 0]), "non-integer"),
        (dict(y_true=["a", "b"], y_pred=["a", "b"]), "Map class names to indices"),
        (dict(y_true=[0, 3], y_pred=[0, 0], n_classes=2), r"labels go up to 3 but n_classes=2"),
        (dict(y_true=[0, 1], y_pred=[0, 1], y_score=[0.2, 0.8]), r"column_stack\(\[1 - p, p\]\)"),
        (dict(y_true=[0, 1], y_pred=[0, 1], y_score=np.ones((3, 2))), "y_score has 3 rows"),
        (dict(y_true=[0, 1], y_pred=[0, 1], y_score=np.ones((2, 3)), n_classes=2), "y_score has 3 columns"),
        (dict(y_true=[0, 1], y_pred=[0, 1], y_score=[[np.nan, 1], [0, 1]]), "NaN or infinite"),
    ],
)
def test_invalid_inputs_raise_clear_errors(kwargs, match):
    with pytest.raises(InvalidDataError, match=match):
        classification_metrics(**kwargs)
