"""The verdict of a study, first: which arms help, which hurt, and whether the samples passed.

Pure functions on the summary table (:func:`synthaug.experiment.summarize_results`) and
on the quality gate's columns (``gate_passed``, ``gate_reasons``, one verdict per seed
and train size, in the quality or results table). :class:`~synthaug.experiment.Report`
puts their lines at the top of ``report.md``, ``report.html`` and the console summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics.stats import MIN_SEEDS
from .arms import ARMS

__all__ = ["gate_by_size", "gate_failure", "verdict_lines"]


def _as_bool(v: Any) -> bool:
    return v if isinstance(v, (bool, np.bool_)) else str(v).strip().lower() in ("true", "1", "yes")


def _short_reasons(text: Any) -> str:
    """``"recall 0.00 < 0.24 (...): why.; TRTS ...: why."`` -> ``"recall 0.00 < 0.24 (...); TRTS ..."``."""
    if not isinstance(text, str) or not text.strip():
        return ""
    return "; ".join(r.split(":")[0].strip() for r in text.split("; ") if r.strip())


def gate_by_size(results: pd.DataFrame, quality: pd.DataFrame | None = None) -> dict[str, dict]:
    """The quality gate's verdict on the generator's samples, per training size.

    Read from the ``gate_passed`` / ``gate_reasons`` columns of ``quality`` (its
    ``class == "all"`` rows) or, failing that, of ``results``: one verdict per (seed,
    train size); rows without a verdict (arms without a generator) are ignored.

    Returns
    -------
    dict
        ``{train_size: {"passed": k, "n": n, "example": "seed 0: recall 0.00 < 0.24"}}``
        (``example``: the first failing seed's reasons, shortened; "" when all passed).
        Empty when neither table has the columns (no gate was run).
    """
    source = None
    for df in (quality, results):
        if df is not None and not df.empty and "gate_passed" in df and {"seed", "train_size"} <= set(df):
            source = df[df["class"].astype(str) == "all"] if "class" in df else df
            break
    if source is None:
        return {}
    source = source.dropna(subset=["gate_passed"]).drop_duplicates(["train_size", "seed"])
    out: dict[str, dict] = {}
    for size, part in source.groupby(source["train_size"].astype(str), sort=False):
        passed = [_as_bool(v) for v in part["gate_passed"]]
        reasons = part["gate_reasons"] if "gate_reasons" in part else pd.Series([""] * len(part))
        example = next((f"seed {seed}: {_short_reasons(r)}" for seed, r, ok
                        in zip(part["seed"], reasons, passed) if not ok and _short_reasons(r)), "")
        out[str(size)] = {"passed": sum(passed), "n": len(passed), "example": example}
    return out


def gate_failure(arm: str, size: Any, gate: dict[str, dict]) -> str:
    """"samples failed the quality gate for k of n seeds" for a generator arm, else ""."""
    g = gate.get(str(size))
    if arm not in ARMS or not ARMS[arm].needs_generator or not g or g["passed"] == g["n"]:
        return ""
    return f"samples failed the quality gate for {g['n'] - g['passed']} of {g['n']} seeds"


def _arm_labels(part: pd.DataFrame) -> list[str]:
    """``gan x2`` when an arm runs at several ratios (or weights) here, else ``gan``."""
    labels = []
    for _, r in part.iterrows():
        same = part[part["arm"] == r["arm"]]
        label = r["arm"]
        if same["ratio"].nunique() > 1 and np.isfinite(r["ratio"]):
            label += f" x{r['ratio']:g}"
        if "synthetic_weight" in part and same["synthetic_weight"].nunique() > 1:
            label += f" (weight {r['synthetic_weight']:g})"
        labels.append(label)
    return labels


def _difference(r: pd.Series) -> str:
    sign = "{:+.3f}".format
    if not np.isfinite(r["diff_ci_low"]):
        return sign(r["diff_mean"])
    return f"{sign(r['diff_mean'])} [{sign(r['diff_ci_low'])}, {sign(r['diff_ci_high'])}]"


def _condition_line(size: Any, clf: str, part: pd.DataFrame, gate: dict[str, dict], metric: str,
                    baseline: str) -> str:
    head = f"Train size {size}, {clf}"
    base = part[part["arm"] == baseline]
    if not base.empty:
        b = base.iloc[0]
        ci = f" [{b['ci_low']:.3f}, {b['ci_high']:.3f}]" if np.isfinite(b["ci_low"]) else ""
        head += f" ({baseline} only: {metric} {b['mean']:.3f}{ci})"
    n_min = int(part["n"].min())
    informative = n_min >= MIN_SEEDS
    groups: dict[str, list[str]] = {}
    for label, (_, r) in zip(_arm_labels(part), part.iterrows()):
        if r["arm"] == baseline or not np.isfinite(r["diff_mean"]):
            continue
        failure = gate_failure(r["arm"], size, gate)
        if failure:
            key = f"not judged ({failure})"
        elif not informative:
            key = "observed"
        elif r["significant"] and r["diff_ci_low"] > 0:
            key = "helps"
        elif r["significant"] and r["diff_ci_high"] < 0:
            key = "worse"
        else:
            key = "no significant difference"
        groups.setdefault(key, []).append(f"{label} {_difference(r)}")
    if not groups:
        return f"{head}: no arm to compare with."
    order = ["helps", "worse", "no significant difference", "observed"]
    keys = sorted(groups, key=lambda k: order.index(k) if k in order else len(order))
    body = "; ".join(f"{k}: {', '.join(groups[k])}" for k in keys)
    if not informative:
        lead = f"inconclusive with {n_min} seed{'s' if n_min != 1 else ''}"
    elif "helps" not in groups:
        lead = "no arm helps significantly"
    else:
        lead = ""
    return f"{head}: {lead + '; ' if lead else ''}{body}."


def verdict_lines(summary: pd.DataFrame, gate: dict[str, dict] | None = None, *,
                  metric: str = "accuracy", baseline: str = "real") -> list[str]:
    """The answer first, one plain-text line per (train size, classifier), then the gate.

    An arm *helps* when the paired 95% interval of its difference with ``baseline``
    lies above 0, is *worse* when it lies below, and shows *no significant difference*
    otherwise. With fewer than :data:`~synthaug.metrics.stats.MIN_SEEDS` seeds nothing
    is called significant: the line reads "inconclusive" and lists what was observed.
    A generator arm built on samples that failed the quality gate (``gate``, from
    :func:`gate_by_size`) for any seed is listed apart, "not judged". One more line per
    train size says how the samples fared at the gate.

    Examples
    --------
    >>> s = pd.DataFrame({"arm": ["real", "gan"], "ratio": [np.nan, 1.0], "train_size": "10",
    ...     "classifier": "logreg", "metric": "accuracy", "mean": [0.80, 0.85],
    ...     "ci_low": [0.78, 0.83], "ci_high": [0.82, 0.87], "n": 3, "diff_mean": [np.nan, 0.05],
    ...     "diff_ci_low": [np.nan, 0.03], "diff_ci_high": [np.nan, 0.07],
    ...     "significant": [False, True]})
    >>> verdict_lines(s, {"10": {"passed": 3, "n": 3, "example": ""}})  # doctest: +NORMALIZE_WHITESPACE
    ['Train size 10, logreg (real only: accuracy 0.800 [0.780, 0.820]): helps: gan +0.050 [+0.030, +0.070].',
     'Generator samples, train size 10: quality gate passed for 3 of 3 seeds.']
    """
    gate = gate or {}
    s = summary[summary["metric"] == metric]
    lines = [_condition_line(size, clf, part, gate, metric, baseline)
             for (size, clf), part in s.groupby(["train_size", "classifier"], sort=False)]
    for size, g in gate.items():
        if g["passed"] == g["n"]:
            lines.append(f"Generator samples, train size {size}: quality gate passed for "
                         f"{g['n']} of {g['n']} seeds.")
        else:
            why = f" ({g['example']}; see the quality table)" if g["example"] else ""
            lines.append(f"Generator samples, train size {size}: quality gate FAILED for "
                         f"{g['n'] - g['passed']} of {g['n']} seeds{why}.")
    if not gate and any(a in ARMS and ARMS[a].needs_generator for a in s["arm"]):
        lines.append("Generator samples: no quality gate was run (fidelity and recall unchecked).")
    return lines
