"""Statistics over repeated runs (seeds): means with Student-t intervals, paired differences.

Every number synthaug reports about "did augmentation help" is a mean over a handful of
seeds, so it comes with a t-interval; a comparison between two arms is a paired t-test
over seeds that share their data split and classifier seed.

Scores bounded in ``[0, 1]`` (accuracy, balanced accuracy, ROC-AUC, F1, robust accuracy)
get an interval that respects the bounds when ``bounds`` is given: the t-interval
intersected with the bounds (see :func:`summarize`), so two seeds at 0.98 and 1.0 read
``[0.863, 1.000]``, not ``[0.863, 1.117]``. Paired differences of such scores are
clipped to ``[-1, 1]`` the same way. With fewer than :data:`MIN_SEEDS` values an
interval says little (the t quantile for two seeds is 12.7): :func:`interval_note`
words that for reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..exceptions import ConfigError, InvalidDataError
from ._checks import check_paired

__all__ = ["MIN_SEEDS", "UNIT_BOUNDS", "interval_note", "paired_difference", "summarize",
           "summarize_frame"]

#: Fewer values than this give an interval too wide (or too unstable) to inform a decision.
MIN_SEEDS = 3
#: The bounds of scores such as accuracy; pass as ``bounds`` to :func:`summarize`.
UNIT_BOUNDS = (0.0, 1.0)

_NAN_POLICIES = ("propagate", "omit", "raise")


def _check_confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) or not (
        0.0 < float(confidence) < 1.0
    ):
        raise ConfigError(
            f"confidence must be a float strictly between 0 and 1 (e.g. 0.95), got {confidence!r}."
        )
    return float(confidence)


def _check_nan_policy(nan_policy: str) -> str:
    if nan_policy not in _NAN_POLICIES:
        raise ConfigError(f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}.")
    return nan_policy


def _as_vector(values: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{name} must hold numbers (one per seed); got {values!r}.") from exc
    if arr.ndim != 1:
        raise InvalidDataError(f"{name} has shape {arr.shape}; expected a 1-D sequence, one value per seed.")
    if arr.size == 0:
        raise InvalidDataError(f"{name} is empty; pass at least one value (one per seed).")
    if np.any(np.isinf(arr)):
        raise InvalidDataError(f"{name} holds infinite values; check the metric that produced them.")
    return arr


def _drop_nan(arr: np.ndarray, nan_policy: str, describe: str) -> np.ndarray | None:
    """Apply ``nan_policy`` to ``arr``: itself without NaN, or None when NaN propagates.

    ``describe`` starts the "raise" message and may use ``{k}`` (NaN count) and ``{n}``
    (``arr.size``).
    """
    is_nan = np.isnan(arr)
    if not is_nan.any():
        return arr
    if nan_policy == "raise":
        raise InvalidDataError(
            describe.format(k=int(is_nan.sum()), n=arr.size) + "; drop them or pass nan_policy='omit'."
        )
    if nan_policy == "propagate":
        return None
    return arr[~is_nan]


def _check_bounds(bounds) -> tuple[float, float] | None:
    if bounds is None:
        return None
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ConfigError(f"bounds must be None or a pair (low, high), got {bounds!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigError(f"bounds must be finite with low < high, got {bounds!r}.")
    return lo, hi


def _t_interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided Student-t interval for a mean; NaN when n < 2."""
    if n < 2:
        return float("nan"), float("nan")
    half = _st.t.ppf(0.5 + confidence / 2.0, df=n - 1) * std / np.sqrt(n)
    return float(mean - half), float(mean + half)


def _clip_interval(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """``[low, high]`` intersected with ``bounds`` (NaN stays NaN)."""
    return (float(np.clip(low, *bounds)) if np.isfinite(low) else low,
            float(np.clip(high, *bounds)) if np.isfinite(high) else high)


def interval_note(n: int) -> str:
    """Why an interval over ``n`` seeds should not be read as evidence ("" when it may).

    Examples
    --------
    >>> interval_note(2)
    '2 seeds: intervals not informative; add seeds (3 or more)'
    >>> interval_note(5)
    ''
    """
    if n >= MIN_SEEDS:
        return ""
    return f"{n} seed{'s' if n != 1 else ''}: intervals not informative; add seeds ({MIN_SEEDS} or more)"


def summarize(values, confidence: float = 0.95, *, nan_policy: str = "propagate",
              bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """Mean, sample standard deviation and Student-t confidence interval over seeds.

    Parameters
    ----------
    values : array-like of float
        One value per seed (e.g. test accuracy of each run).
    confidence : float, default 0.95
        Coverage of the two-sided interval.
    nan_policy : {"propagate", "omit", "raise"}, default "propagate"
        What a NaN value (an undefined metric for one seed) does: make every output
        NaN, be dropped (``n`` then counts the remaining values), or raise.
    bounds : (float, float) or None, default None
        The range the metric cannot leave, e.g. :data:`UNIT_BOUNDS` for accuracy: the
        t-interval is intersected with it. The true mean lies inside the bounds, so the
        intersection covers it exactly as often as the t-interval does (same coverage,
        no impossible values). A logit-scale interval was considered and rejected: values
        at 0 or 1 need an arbitrary nudge that then dominates the interval's width.
        ``None``: the plain t-interval.

    Returns
    -------
    dict
        ``mean``; ``std`` (ddof=1); ``ci_low``, ``ci_high``: mean -/+
        t_{(1+confidence)/2, n-1} * std / sqrt(n) (or its bounded version); ``n``. With
        one value ``std`` and the interval are NaN (a single seed says nothing about
        spread), not an error. With fewer than :data:`MIN_SEEDS` values the interval is
        computed but uninformative: see :func:`interval_note`.

    Shape
    -----
    values : ``(n_seeds,)``.

    Examples
    --------
    >>> s = summarize([0.80, 0.82, 0.84])
    >>> round(s["mean"], 2), round(s["std"], 2), s["n"]
    (0.82, 0.02, 3)
    >>> round(s["ci_low"], 4), round(s["ci_high"], 4)
    (0.7703, 0.8697)
    >>> b = summarize([0.98, 1.0], bounds=UNIT_BOUNDS)  # the plain interval reaches 1.117
    >>> round(b["ci_low"], 4), b["ci_high"]
    (0.8629, 1.0)
    """
    confidence = _check_confidence(confidence)
    nan_policy = _check_nan_policy(nan_policy)
    bounds = _check_bounds(bounds)
    values = _as_vector(values, "values")
    arr = _drop_nan(values, nan_policy, "values holds {k} NaN of {n}")
    if arr is None or arr.size == 0:  # NaN propagates, or every value was NaN
        nan = float("nan")
        return {"mean": nan, "std": nan, "ci_low": nan, "ci_high": nan,
                "n": int((values if arr is None else arr).size)}
    n = int(arr.size)
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if n > 1 else float("nan")
    low, high = _t_interval(mean, std, n, confidence)
    if bounds is not None:
        if np.any((arr < bounds[0]) | (arr > bounds[1])):
            raise InvalidDataError(f"values lie outside bounds {bounds}: {arr.tolist()}.")
        low, high = _clip_interval(low, high, bounds)
    return {"mean": mean, "std": std, "ci_low": low, "ci_high": high, "n": n}


def paired_difference(
    treatment, control, confidence: float = 0.95, *, nan_policy: str = "propagate",
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Paired comparison of two arms over seeds: mean difference, t-interval, t-test.

    Pair ``treatment[i]`` with ``control[i]`` only when they share everything but the
    treatment (same data split, same classifier seed): pairing removes the seed-to-seed
    variance that both arms share, which is why it is far more sensitive than comparing
    two independent means.

    Parameters
    ----------
    treatment, control : array-like of float
        One value per seed, in the same seed order.
    confidence : float, default 0.95
        Coverage of the two-sided interval on the mean difference.
    nan_policy : {"propagate", "omit", "raise"}, default "propagate"
        What a pair holding NaN does: make every output NaN, be dropped, or raise.
    bounds : (float, float) or None, default None
        The range a difference cannot leave, e.g. ``(-1, 1)`` for two accuracies: the
        t-interval is clipped to it (which never changes ``significant`` when the
        bounds hold 0).

    Returns
    -------
    dict
        ``mean_diff``: mean of ``treatment - control``; ``ci_low``, ``ci_high``: its
        Student-t interval (NaN when n < 2; zero width when every difference is the
        same); ``p_value``: two-sided paired t-test (NaN when n < 2 or when all
        differences are identical, where the t statistic is undefined); ``n``: number of
        pairs; ``significant``: True when the interval excludes 0 (so identical non-zero
        differences count as significant, which with few seeds deserves a look).

    Shape
    -----
    treatment, control : ``(n_seeds,)``.

    Examples
    --------
    >>> d = paired_difference([0.82, 0.85, 0.81, 0.84], [0.80, 0.83, 0.80, 0.82])
    >>> round(d["mean_diff"], 4), d["n"], d["significant"], round(d["p_value"], 4)
    (0.0175, 4, True, 0.006)
    """
    confidence = _check_confidence(confidence)
    nan_policy = _check_nan_policy(nan_policy)
    bounds = _check_bounds(bounds)
    t, c = check_paired(treatment, control, ("treatment", "control"), _as_vector, "values",
                        "pass one value per seed for both arms, in the same seed order.")
    nan = float("nan")
    diff = _drop_nan(t - c, nan_policy, "{k} of {n} pairs hold NaN")
    if diff is None or diff.size == 0:  # NaN propagates, or every pair held NaN
        return {"mean_diff": nan, "ci_low": nan, "ci_high": nan, "p_value": nan,
                "n": 0 if diff is not None else t.size, "significant": False}
    n = int(diff.size)
    mean = float(diff.mean())
    if n < 2:
        return {"mean_diff": mean, "ci_low": nan, "ci_high": nan, "p_value": nan, "n": n,
                "significant": False}
    # Exact equality, not a tolerance: differences of float scores that are "equal" up to
    # rounding still have a tiny spread, and then the t-test is (legitimately) defined.
    if np.all(diff == diff[0]):
        return {"mean_diff": mean, "ci_low": mean, "ci_high": mean, "p_value": nan, "n": n,
                "significant": bool(mean != 0.0)}
    std = float(diff.std(ddof=1))
    low, high = _t_interval(mean, std, n, confidence)
    if bounds is not None:
        low, high = _clip_interval(low, high, bounds)
    t_stat = mean / (std / np.sqrt(n))
    p_value = float(2.0 * _st.t.sf(abs(t_stat), df=n - 1))
    return {"mean_diff": mean, "ci_low": low, "ci_high": high, "p_value": p_value, "n": n,
            "significant": bool(low > 0.0 or high < 0.0)}


def summarize_frame(
    df: pd.DataFrame,
    group_cols: str | Sequence[str],
    value_col: str | Sequence[str],
    confidence: float = 0.95,
    *,
    nan_policy: str = "propagate",
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """:func:`summarize` per group of a tidy results table (one row per seed).

    Parameters
    ----------
    df : DataFrame
        Tidy results, e.g. one row per seed x arm x ratio.
    group_cols : str or sequence of str
        Columns that identify a condition (everything but the seed). An empty list
        summarises the whole frame as one group.
    value_col : str or sequence of str
        The metric column(s) to summarise. With several, the result is long: one row
        per group and metric, with a ``metric`` column.
    confidence, nan_policy, bounds
        As in :func:`summarize`.

    Returns
    -------
    DataFrame
        The group columns (plus ``metric`` when several value columns are given), then
        ``mean``, ``std``, ``ci_low``, ``ci_high``, ``n``; groups in sorted order.

    Examples
    --------
    >>> df = pd.DataFrame({"arm": ["real", "real", "gan", "gan"],
    ...                    "accuracy": [0.80, 0.82, 0.85, 0.87]})
    >>> summarize_frame(df, "arm", "accuracy")[["arm", "mean", "n"]]
        arm  mean  n
    0   gan  0.86  2
    1  real  0.81  2
    """
    confidence = _check_confidence(confidence)
    nan_policy = _check_nan_policy(nan_policy)
    bounds = _check_bounds(bounds)
    if not isinstance(df, pd.DataFrame):
        raise InvalidDataError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
    groups = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    values = [value_col] if isinstance(value_col, str) else list(value_col)
    if not values:
        raise InvalidDataError("value_col is empty; name at least one metric column.")
    missing = [c for c in groups + values if c not in df.columns]
    if missing:
        raise InvalidDataError(
            f"columns {missing} are not in the table; available columns: {list(df.columns)}."
        )
    long = len(values) > 1 or not isinstance(value_col, str)
    rows = []
    grouped = df.groupby(groups, sort=True, dropna=False) if groups else [((), df)]
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        for col in values:
            row = dict(zip(groups, key))
            if long:
                row["metric"] = col
            row.update(summarize(part[col].to_numpy(dtype=np.float64), confidence,
                                 nan_policy=nan_policy, bounds=bounds))
            rows.append(row)
    columns = groups + (["metric"] if long else []) + ["mean", "std", "ci_low", "ci_high", "n"]
    return pd.DataFrame(rows, columns=columns)
