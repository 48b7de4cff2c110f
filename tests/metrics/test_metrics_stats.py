"""Statistics over seeds against hand computations and scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthaug.exceptions import ConfigError, InvalidDataError
from synthaug.metrics import paired_difference, summarize, summarize_frame
from synthaug.metrics.stats import MIN_SEEDS, UNIT_BOUNDS, interval_note


def test_summarize_matches_hand_computed_t_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    std = math.sqrt(5 / 3)  # sum of squared deviations 5, ddof=1
    half = stats.t.ppf(0.975, df=3) * std / 2.0  # sqrt(n) = 2
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(2.5)
    assert s["std"] == pytest.approx(std)
    assert s["ci_low"] == pytest.approx(2.5 - half)
    assert s["ci_high"] == pytest.approx(2.5 + half)
    # The literal numbers, so a wrong t quantile cannot hide behind the same call.
    assert s["ci_low"] == pytest.approx(0.445739, abs=1e-5)
    assert s["ci_high"] == pytest.approx(4.554261, abs=1e-5)


def test_summarize_agrees_with_scipy_interval_at_other_confidence():
    values = np.array([0.71, 0.74, 0.69, 0.77, 0.73])
    s = summarize(values, confidence=0.9)
    lo, hi = stats.t.interval(0.9, df=4, loc=values.mean(), scale=stats.sem(values))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi))
    wide = summarize(values, confidence=0.99)
    assert wide["ci_high"] - wide["ci_low"] > s["ci_high"] - s["ci_low"]


def test_summarize_single_value_gives_nan_spread_not_error():
    s = summarize([0.8])
    assert s["mean"] == 0.8 and s["n"] == 1
    assert math.isnan(s["std"]) and math.isnan(s["ci_low"]) and math.isnan(s["ci_high"])


def test_summarize_constant_values_give_zero_width_interval():
    s = summarize([0.5, 0.5, 0.5])
    assert s["std"] == 0.0
    assert s["ci_low"] == s["ci_high"] == 0.5


def test_summarize_nan_policies():
    values = [1.0, np.nan, 3.0]
    assert math.isnan(summarize(values)["mean"])
    assert summarize(values)["n"] == 3
    omitted = summarize(values, nan_policy="omit")
    assert omitted["mean"] == 2.0 and omitted["n"] == 2
    with pytest.raises(InvalidDataError, match="1 NaN of 3.*nan_policy='omit'"):
        summarize(values, nan_policy="raise")
    all_nan = summarize([np.nan, np.nan], nan_policy="omit")
    assert all_nan["n"] == 0 and math.isnan(all_nan["mean"])


@pytest.mark.parametrize("bad", [0.0, 1.0, 95, -0.5, "0.95", True])
def test_summarize_rejects_bad_confidence(bad):
    with pytest.raises(ConfigError, match="confidence must be a float strictly between 0 and 1"):
        summarize([1.0, 2.0], confidence=bad)


def test_summarize_rejects_empty_and_2d():
    with pytest.raises(InvalidDataError, match="values is empty"):
        summarize([])
    with pytest.raises(InvalidDataError, match=r"shape \(2, 2\).*1-D"):
        summarize([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ConfigError, match="nan_policy"):
        summarize([1.0, 2.0], nan_policy="drop")


def test_paired_difference_known_diffs_against_hand_and_scipy():
    treatment = np.array([11.0, 22.0, 33.0])
    control = np.array([10.0, 20.0, 30.0])  # diffs 1, 2, 3: mean 2, sd 1
    d = paired_difference(treatment, control)
    se = 1.0 / math.sqrt(3)
    t_stat = 2.0 / se
    assert d["n"] == 3
    assert d["mean_diff"] == pytest.approx(2.0)
    assert d["p_value"] == pytest.approx(2 * stats.t.sf(t_stat, df=2))
    assert d["p_value"] == pytest.approx(stats.ttest_rel(treatment, control).pvalue)
    half = stats.t.ppf(0.975, df=2) * se
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    # 2 +/- 4.303 * 0.577 straddles 0: not significant with three seeds.
    assert d["ci_low"] < 0 < d["ci_high"]
    assert d["significant"] is False


def test_paired_difference_consistent_gain_is_significant_and_sign_matters():
    control = np.array([0.70, 0.75, 0.72, 0.68, 0.74])
    treatment = control + np.array([0.020, 0.025, 0.018, 0.022, 0.021])
    d = paired_difference(treatment, control)
    assert d["significant"] is True and d["ci_low"] > 0
    assert d["p_value"] < 0.001
    r = paired_difference(control, treatment)
    assert r["mean_diff"] == pytest.approx(-d["mean_diff"])
    assert r["significant"] is True and r["ci_high"] < 0
    assert r["p_value"] == pytest.approx(d["p_value"])


def test_paired_is_more_sensitive_than_unpaired():
    # A large shared seed effect that pairing removes.
    control = np.array([0.60, 0.90, 0.70, 0.80])
    treatment = control + np.array([0.011, 0.009, 0.010, 0.012])
    assert paired_difference(treatment, control)["significant"] is True
    unpaired_p = stats.ttest_ind(treatment, control).pvalue
    assert unpaired_p > 0.5


def test_paired_identical_differences_give_nan_p_value():
    d = paired_difference([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert math.isnan(d["p_value"])
    assert d["mean_diff"] == 1.0 and d["ci_low"] == d["ci_high"] == 1.0
    assert d["significant"] is True
    z = paired_difference([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(z["p_value"]) and z["mean_diff"] == 0.0 and z["significant"] is False


def test_paired_single_pair_gives_nan():
    d = paired_difference([0.9], [0.8])
    assert d["n"] == 1 and d["mean_diff"] == pytest.approx(0.1)
    assert math.isnan(d["p_value"]) and math.isnan(d["ci_low"]) and d["significant"] is False


def test_paired_nan_policies_and_length_mismatch():
    t, c = [1.0, np.nan, 3.0, 5.0], [0.0, 1.0, 1.0, 2.0]
    propagated = paired_difference(t, c)
    assert math.isnan(propagated["mean_diff"]) and propagated["n"] == 4
    assert propagated["significant"] is False
    all_nan = paired_difference([np.nan], [1.0], nan_policy="omit")
    assert all_nan["n"] == 0 and math.isnan(all_nan["mean_diff"]) and all_nan["significant"] is False
    omitted = paired_difference(t, c, nan_policy="omit")
    assert omitted["n"] == 3 and omitted["mean_diff"] == pytest.approx(2.0)
    with pytest.raises(InvalidDataError, match="1 of 4 pairs hold NaN"):
        paired_difference(t, c, nan_policy="raise")
    with pytest.raises(InvalidDataError, match="treatment has 2 values but control has 3"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])


def _results_frame():
    return pd.DataFrame({
        "arm": ["real"] * 3 + ["gan"] * 3,
        "ratio": [0.0] * 3 + [1.0] * 3,
        "seed": [0, 1, 2] * 2,
        "accuracy": [0.70, 0.72, 0.74, 0.80, 0.81, 0.85],
        "macro_f1": [0.60, 0.61, 0.62, 0.70, 0.70, 0.70],
    })


def test_summarize_frame_one_metric():
    out = summarize_frame(_results_frame(), ["arm", "ratio"], "accuracy")
    assert list(out.columns) == ["arm", "ratio", "mean", "std", "ci_low", "ci_high", "n"]
    assert out["arm"].tolist() == ["gan", "real"]
    real = out.set_index("arm").loc["real"]
    expected = summarize([0.70, 0.72, 0.74])
    assert real["mean"] == pytest.approx(expected["mean"])
    assert real["ci_low"] == pytest.approx(expected["ci_low"])
    assert real["n"] == 3


def test_summarize_frame_several_metrics_is_long():
    out = summarize_frame(_results_frame(), "arm", ["accuracy", "macro_f1"])
    assert list(out.columns) == ["arm", "metric", "mean", "std", "ci_low", "ci_high", "n"]
    assert len(out) == 4
    row = out[(out["arm"] == "gan") & (out["metric"] == "macro_f1")].iloc[0]
    assert row["mean"] == pytest.approx(0.70) and row["std"] == pytest.approx(0.0)


def test_summarize_frame_no_groups_and_missing_column():
    out = summarize_frame(_results_frame(), [], "accuracy")
    assert len(out) == 1 and out["n"].iloc[0] == 6
    with pytest.raises(InvalidDataError, match=r"columns \['acc'\] are not in the table; available"):
        summarize_frame(_results_frame(), "arm", "acc")


# --------------------------------------------------------------- bounded intervals
@pytest.mark.parametrize("values", [[0.98, 1.0], [0.97, 0.99, 1.0], [0.995, 1.0, 1.0]])
def test_bounded_interval_stays_in_unit_range_near_one(values):
    plain = summarize(values)
    assert plain["ci_high"] > 1.0  # the plain t-interval leaves [0, 1]: the case to fix
    s = summarize(values, bounds=UNIT_BOUNDS)
    assert 0.0 <= s["ci_low"] <= s["mean"] <= s["ci_high"] <= 1.0
    # The t-interval intersected with the bounds: same coverage, no impossible values.
    assert s["ci_low"] == pytest.approx(max(plain["ci_low"], 0.0))
    assert s["ci_high"] == 1.0
    assert s["mean"] == pytest.approx(plain["mean"]) and s["std"] == pytest.approx(plain["std"])


def test_bounded_interval_near_zero_and_wide_two_seed_spread():
    s = summarize([0.0, 0.02], bounds=UNIT_BOUNDS)
    assert s["ci_low"] == 0.0 and 0.02 < s["ci_high"] < 1.0
    wide = summarize([0.08, 0.95], bounds=UNIT_BOUNDS)  # a t quantile of 12.7: all of [0, 1]
    assert (wide["ci_low"], wide["ci_high"]) == (0.0, 1.0)
    inside = summarize([0.80, 0.82, 0.84], bounds=UNIT_BOUNDS)  # far from the bounds: unchanged
    assert (inside["ci_low"], inside["ci_high"]) == pytest.approx((0.7703172, 0.8696828))


def test_bounded_interval_checks_its_input():
    with pytest.raises(InvalidDataError, match="outside bounds"):
        summarize([0.5, 1.2], bounds=UNIT_BOUNDS)
    with pytest.raises(ConfigError, match="low < high"):
        summarize([0.5, 0.6], bounds=(1.0, 0.0))
    with pytest.raises(ConfigError, match="pair"):
        summarize([0.5, 0.6], bounds=1.0)
    out = summarize_frame(_results_frame(), "arm", "accuracy", bounds=UNIT_BOUNDS)
    assert (out["ci_high"] <= 1.0).all() and (out["ci_low"] >= 0.0).all()


def test_paired_difference_is_clipped_to_its_bounds():
    plain = paired_difference([0.95, 0.10], [0.05, 0.90])
    assert plain["ci_low"] < -1.0 and plain["ci_high"] > 1.0
    d = paired_difference([0.95, 0.10], [0.05, 0.90], bounds=(-1.0, 1.0))
    assert (d["ci_low"], d["ci_high"]) == (-1.0, 1.0)
    assert d["mean_diff"] == pytest.approx(plain["mean_diff"]) and d["p_value"] == plain["p_value"]


def test_interval_note_flags_fewer_than_three_seeds():
    assert MIN_SEEDS == 3
    assert interval_note(2) == "2 seeds: intervals not informative; add seeds (3 or more)"
    assert "1 seed:" in interval_note(1)
    assert interval_note(3) == "" and interval_note(10) == ""
