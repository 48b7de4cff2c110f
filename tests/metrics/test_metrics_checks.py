"""The private checks shared by the metric modules."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.exceptions import InvalidDataError
from synthaug.metrics._checks import check_paired


def _as_array(values, name):
    return np.asarray(values, dtype=np.float64)


def test_check_paired_returns_checked_arrays():
    a, b = check_paired([1, 2], [3, 4], ("a", "b"), _as_array, "values", "fix it.")
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a, [1.0, 2.0])


def test_check_paired_names_both_lengths_and_the_fix():
    with pytest.raises(InvalidDataError, match=r"^left has 1 items but right has 2; pair them\.$"):
        check_paired([1], [1, 2], ("left", "right"), _as_array, "items", "pair them.")


def test_check_paired_checks_each_array_under_its_own_name():
    seen = []
    check_paired([1], [2], ("x", "y"), lambda v, name: seen.append(name) or np.asarray(v), "v", ".")
    assert seen == ["x", "y"]
