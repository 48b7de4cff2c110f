"""draw_synthetic: labels in sorted class order, one sample call, empty plans, clipping."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.over_sampling import append_synthetic, draw_synthetic, synthetic_labels


class RecordingGenerator:
    """A stand-in generator: records each ``sample`` call and returns out-of-range values."""

    image_shape_ = (1, 4, 4)

    def __init__(self):
        self.calls = []

    def sample(self, y, *, random_state=None):
        self.calls.append((np.asarray(y).copy(), random_state))
        rng = np.random.default_rng(random_state)
        return rng.normal(0.5, 1.0, (len(y), *self.image_shape_))  # float64, outside [0, 1]


def test_labels_sorted_by_class_and_zero_counts_skipped():
    labels = synthetic_labels({2: 1, 0: 3, 1: 0})
    assert labels.tolist() == [0, 0, 0, 2] and labels.dtype == np.int64
    assert synthetic_labels({"b": 1, "a": 2}).tolist() == ["a", "a", "b"]


def test_one_sample_call_clipped_float32():
    gen = RecordingGenerator()
    X, y = draw_synthetic(gen, {1: 2, 0: 1}, random_state=7)
    assert len(gen.calls) == 1
    np.testing.assert_array_equal(gen.calls[0][0], [0, 1, 1])
    assert gen.calls[0][1] == 7
    assert X.shape == (3, 1, 4, 4) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert y.tolist() == [0, 1, 1] and y.dtype == np.int64


@pytest.mark.parametrize("counts", [{}, {0: 0, 1: 0}])
def test_empty_plan_draws_nothing(counts):
    gen = RecordingGenerator()
    X, y = draw_synthetic(gen, counts, random_state=0)
    assert gen.calls == []
    assert X.shape == (0, 1, 4, 4) and X.dtype == np.float32
    assert y.shape == (0,) and y.dtype == np.int64


def test_matches_the_runners_former_counts_and_sampling():
    """The experiment runner's former _counts_to_labels + _sample, inlined: same rows."""
    counts = {2: 3, 0: 2, 1: 0}
    labels = np.concatenate([np.full(int(v), int(k), np.int64) for k, v in sorted(counts.items())]
                            or [np.zeros(0, np.int64)])
    expected = np.clip(np.asarray(RecordingGenerator().sample(labels, random_state=4), np.float32), 0.0, 1.0)
    X, y = draw_synthetic(RecordingGenerator(), counts, random_state=4)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X, expected)


def test_append_keeps_real_rows_first_and_dtypes():
    X = np.zeros((2, 1, 4, 4), np.float64)
    y = np.array([5, 6], np.uint8)
    X_res, y_res = append_synthetic(X, y, np.ones((1, 1, 4, 4), np.float32), np.array([6], np.int64))
    assert X_res.dtype == np.float64 and y_res.dtype == np.uint8
    assert y_res.tolist() == [5, 6, 6] and X_res[2].min() == 1.0
