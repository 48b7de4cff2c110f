"""sampling_strategy meanings and the CLI count helper, against hand-computed counts."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.exceptions import ConfigError
from synthaug.over_sampling import (
    n_synthetic_per_class,
    resolve_counts,
    resolve_sampling_strategy,
)

# class counts: a=6 (majority), b=1 (minority), c=3
Y = np.array(["a"] * 6 + ["b"] * 1 + ["c"] * 3)


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("auto", {"a": 0, "b": 5, "c": 3}),
        ("not majority", {"a": 0, "b": 5, "c": 3}),
        ("minority", {"a": 0, "b": 5, "c": 0}),
        ("not minority", {"a": 0, "b": 0, "c": 3}),
        ("all", {"a": 0, "b": 5, "c": 3}),
        ({"b": 4, "c": 3}, {"a": 0, "b": 3, "c": 0}),
        ({"a": 10}, {"a": 4, "b": 0, "c": 0}),
        (lambda y: {"b": 2}, {"a": 0, "b": 1, "c": 0}),
    ],
)
def test_sampling_strategy_counts(strategy, expected):
    assert resolve_sampling_strategy(strategy, Y) == expected


def test_float_is_minority_over_majority_ratio():
    y = np.array([0] * 10 + [1] * 2)
    assert resolve_sampling_strategy(0.5, y) == {0: 0, 1: 3}  # 0.5 * 10 - 2
    assert resolve_sampling_strategy(1.0, y) == {0: 0, 1: 8}
    with pytest.raises(ConfigError, match="asks for fewer minority samples than exist"):
        resolve_sampling_strategy(0.1, y)
    with pytest.raises(ConfigError, match="a float is only valid for binary targets, but y has 3 classes"):
        resolve_sampling_strategy(0.5, Y)
    with pytest.raises(ConfigError, match=r"a float must be in \(0, 1\]"):
        resolve_sampling_strategy(1.5, y)


@pytest.mark.parametrize(
    "strategy, message",
    [
        ("majority", "sampling_strategy='majority' is not supported; valid names: 'auto', 'minority'"),
        ({"z": 3}, "sampling_strategy names class(es) ['z'] that are not in y"),
        ({"a": 2}, "class 'a' already has 6 samples; an over-sampler can only add samples"),
        ({"b": 2.5}, "target counts must be integers"),
        (lambda y: [1, 2], "sampling_strategy callable returned list"),
        ([1, 2], "is not supported"),
    ],
)
def test_sampling_strategy_errors(strategy, message):
    with pytest.raises(ConfigError) as info:
        resolve_sampling_strategy(strategy, Y)
    assert message in str(info.value)


@pytest.mark.parametrize("strategy", ["auto", "minority", "not minority", "all", {1: 9, 2: 7}, 0.8])
def test_matches_imbalanced_learn(strategy):
    imblearn_utils = pytest.importorskip("imblearn.utils")
    y = np.array([0] * 9 + [1] * 2 + [2] * 4) if not isinstance(strategy, float) else np.array([0] * 9 + [1] * 2)
    theirs = imblearn_utils.check_sampling_strategy(strategy, y, "over-sampling")
    ours = resolve_sampling_strategy(strategy, y)
    assert {k: v for k, v in ours.items() if v} == {k: v for k, v in theirs.items() if v}


# ----------------------------------------------------------------------- CLI counts
def test_n_synthetic_per_class():
    y = np.array([0] * 5 + [1] * 2 + [2] * 3)
    assert n_synthetic_per_class(y, ratio=0.5) == {0: 2, 1: 1, 2: 2}  # round(2.5)=2, round(1.5)=2
    assert n_synthetic_per_class(y, ratio=2) == {0: 10, 1: 4, 2: 6}
    assert n_synthetic_per_class(y, balance=True) == {0: 0, 1: 3, 2: 2}
    assert n_synthetic_per_class(y, n_per_class=7) == {0: 7, 1: 7, 2: 7}
    keys = list(n_synthetic_per_class(np.array([3, 1, 1, 2]), n_per_class=1))
    assert keys == [1, 2, 3] and all(type(k) is int for k in keys)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "choose exactly one of --ratio, --balance or --n-per-class (none was given)."),
        ({"ratio": 1.0, "balance": True}, "(got --ratio and --balance)."),
        ({"ratio": 1.0, "n_per_class": 3}, "(got --ratio and --n-per-class)."),
        ({"ratio": 0.0}, "--ratio must be a number > 0, got 0.0."),
        ({"ratio": -1.0}, "--ratio must be a number > 0, got -1.0."),
        ({"n_per_class": 0}, "--n-per-class must be an integer > 0, got 0."),
        ({"n_per_class": -2}, "--n-per-class must be an integer > 0, got -2."),
    ],
)
def test_n_synthetic_per_class_errors(kwargs, message):
    with pytest.raises(ConfigError) as info:
        n_synthetic_per_class([0, 0, 1], **kwargs)
    assert message in str(info.value)


# ----------------------------------------------------------------------- one resolver
def test_resolve_counts_speaks_both_vocabularies():
    y = np.array([0] * 5 + [1] * 2 + [2] * 3)
    assert resolve_counts(y, balance=True) == resolve_counts(y, sampling_strategy="all")
    assert resolve_counts(y, sampling_strategy="minority") == resolve_sampling_strategy("minority", y)
    assert resolve_counts(y, ratio=0.5) == n_synthetic_per_class(y, ratio=0.5)
    assert list(resolve_counts(np.array([3, 1, 2]), n_per_class=1)) == [1, 2, 3]


def test_resolve_counts_refuses_two_requests():
    with pytest.raises(ConfigError, match="sampling_strategy cannot be combined with --ratio"):
        resolve_counts([0, 0, 1], sampling_strategy="auto", ratio=1.0)
    with pytest.raises(ConfigError, match="sampling_strategy=None is not supported"):
        resolve_sampling_strategy(None, [0, 0, 1])
