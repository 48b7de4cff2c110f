"""``Report``: the tables, arrays and figures of one experiment, and how they are written.

The runner builds a :class:`Report` in memory; only :meth:`Report.write` (called by the
CLI or by a script) touches the file system. The summary helpers here are pure
functions on the tidy results table, so they can be re-run on a ``results.csv``.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data.io import atomic_write_bytes, atomic_write_text
from ..exceptions import InvalidDataError
from ..metrics.stats import MIN_SEEDS, UNIT_BOUNDS, interval_note
from ..persistence import package_versions, to_jsonable, write_json, write_run_record
from ..rendering import html_page, html_table, img_tag, md_table, png_bytes
from .arms import ARMS
from .config import ExperimentConfig
from .verdict import gate_by_size, verdict_lines

log = logging.getLogger(__name__)

__all__ = ["Report", "METRICS", "summarize_results", "summarize_robustness"]

#: Clean-accuracy metrics, all measured on the real test split.
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")
#: What identifies one condition in the results table (everything but the seed).
CONDITION = ("arm", "ratio", "train_size", "classifier")
ROBUST_CONDITION = CONDITION + ("perturbation", "kind", "eps", "severity")

# Compact tables, and figures side by side: a study has many of both.
_HTML_CSS = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
             "padding:2px 6px}img{max-width:100%}figure{display:inline-block;margin:0.5em}"
             ".verdict li{margin:0.3em 0;font-size:15px}")

_SUMMARY_COLUMNS = [
    "arm", "ratio", "train_size", "classifier", "metric", "mean", "std", "ci_low", "ci_high", "n",
    "ci_note", "diff_mean", "diff_ci_low", "diff_ci_high", "p_value", "significant",
]
#: A condition column the runner may add (the weight of synthetic rows in the loss).
_OPTIONAL_CONDITION = ("synthetic_weight",)
_GENERATOR_ARMS = frozenset(name for name, arm in ARMS.items() if arm.needs_generator)


def _blank_ratio(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ratio 0 (an arm that adds nothing: real, adv_real) shown as NaN, not 0.

    Recipes refuse a ratio of 0, so a 0 only ever means "no ratio".
    """
    if df is None or "ratio" not in df or not (df["ratio"] == 0).any():
        return df
    df = df.copy()
    df["ratio"] = df["ratio"].astype(float).mask(df["ratio"] == 0)
    return df


def _gate_cell(arm: str, g: dict | None) -> str:
    """The summary table's mark: "FAILED k/n seeds" on a generator arm built on failed samples."""
    if arm not in _GENERATOR_ARMS or not g:
        return ""
    return "passed" if g["passed"] == g["n"] else f"FAILED {g['n'] - g['passed']}/{g['n']} seeds"


def _verdict_item(line: str) -> str:
    """A verdict line as ``<li>``, its subject ("Train size 10, cnn (...)") in bold."""
    head, sep, rest = line.partition("): ") if "): " in line else line.partition(": ")
    head += ")" if sep.startswith(")") else ""
    return f"<li><b>{html.escape(head)}</b>: {html.escape(rest)}</li>" if sep else f"<li>{html.escape(line)}</li>"


def _condition(df: pd.DataFrame, base: Sequence[str]) -> tuple[str, ...]:
    return tuple(base) + tuple(c for c in _OPTIONAL_CONDITION if c in df.columns)


def _paired_summary(
    df: pd.DataFrame,
    condition: Sequence[str],
    pair_on: Sequence[str],
    metrics: Sequence[str],
    baseline: str,
) -> list[dict]:
    """Mean/CI per condition plus the per-seed paired difference with the baseline arm."""
    from ..metrics import paired_difference, summarize

    rows = []
    base = df[df["arm"] == baseline]
    for key, part in df.groupby(list(condition), sort=False, dropna=False):
        cond = dict(zip(condition, key))
        # The baseline rows that share everything but arm and ratio, matched seed by seed.
        match = base
        for col in pair_on:
            val = cond[col]
            match = match[match[col].isna()] if _isnan(val) else match[match[col] == val]
        for metric in metrics:
            row = dict(cond)
            row["metric"] = metric
            row.update(summarize(part[metric].to_numpy(float), nan_policy="omit", bounds=UNIT_BOUNDS))
            row["ci_note"] = interval_note(row["n"])
            if cond["arm"] == baseline or match.empty:
                row.update(diff_mean=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan,
                           p_value=np.nan, significant=False)
            else:
                joined = part[["seed", metric]].merge(
                    match[["seed", metric]], on="seed", suffixes=("", "_base")
                )
                d = paired_difference(joined[metric].to_numpy(float), joined[f"{metric}_base"].to_numpy(float),
                                      nan_policy="omit", bounds=(-1.0, 1.0)) \
                    if len(joined) else {"mean_diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                                         "p_value": np.nan, "significant": False}
                row.update(diff_mean=d["mean_diff"], diff_ci_low=d["ci_low"],
                           diff_ci_high=d["ci_high"], p_value=d["p_value"],
                           significant=bool(d["significant"]))
            rows.append(row)
    return rows


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def summarize_results(
    results: pd.DataFrame, metrics: Sequence[str] = METRICS, *, baseline: str = "real"
) -> pd.DataFrame:
    """Mean, std and 95% interval over seeds per condition, and the paired gain over ``real``.

    Parameters
    ----------
    results : DataFrame
        The tidy results (one row per seed x arm x ratio x train_size x classifier).
    metrics : sequence of str
        Metric columns to summarise.
    baseline : str
        The arm every other arm is compared with, seed by seed, at the same train size
        and classifier.

    Returns
    -------
    DataFrame
        Long format, one row per condition and metric: ``arm, ratio, train_size,
        classifier, metric, mean, std, ci_low, ci_high, n, ci_note`` and the paired
        comparison ``diff_mean, diff_ci_low, diff_ci_high, p_value, significant``
        (NaN/False for the baseline itself). ``synthetic_weight`` follows
        ``classifier`` when the results have it. Intervals of the metrics (all in
        ``[0, 1]``) are t-intervals intersected with ``[0, 1]``; those of differences are
        clipped to ``[-1, 1]``. ``ci_note`` says when there are too few seeds for an
        interval to inform (see :func:`synthaug.metrics.stats.interval_note`).
        ``significant`` means the 95% interval of the per-seed difference excludes zero.
        ``ratio`` is NaN for arms without one (``real``, ``adv_real``, ``gan_balance``).
    """
    missing = [c for c in (*CONDITION, "seed", *metrics) if c not in results.columns]
    if missing:
        raise InvalidDataError(f"results table lacks columns {missing}; got {list(results.columns)}.")
    if results.empty:
        return pd.DataFrame(columns=_SUMMARY_COLUMNS)
    results = _blank_ratio(results)
    condition = _condition(results, CONDITION)
    rows = _paired_summary(results, condition, ("train_size", "classifier"), metrics, baseline)
    return pd.DataFrame(rows, columns=list(condition) + _SUMMARY_COLUMNS[len(CONDITION):])


def summarize_robustness(robustness: pd.DataFrame, *, baseline: str = "real") -> pd.DataFrame:
    """:func:`summarize_results` for the tidy robustness table (metric ``accuracy``).

    The baseline is matched on train size, classifier, perturbation, eps and severity.
    """
    if robustness is None or robustness.empty:
        return pd.DataFrame(columns=list(ROBUST_CONDITION) + _SUMMARY_COLUMNS[len(CONDITION):])
    robustness = _blank_ratio(robustness)
    condition = _condition(robustness, ROBUST_CONDITION)
    cols = list(condition) + _SUMMARY_COLUMNS[len(CONDITION):]
    pair_on = ("train_size", "classifier", "perturbation", "kind", "eps", "severity")
    rows = _paired_summary(robustness, condition, pair_on, ("accuracy",), baseline)
    return pd.DataFrame(rows, columns=cols).drop(columns=["metric"])


def _records(df: pd.DataFrame | None) -> list[dict]:
    if df is None or df.empty:
        return []
    return to_jsonable(df.to_dict(orient="records"))


@dataclass
class Report:
    """Everything one experiment produced, in memory.

    Attributes
    ----------
    config : ExperimentConfig
        The resolved configuration.
    results : DataFrame
        Tidy: one row per seed x arm x ratio x train_size x classifier with columns
        ``seed, arm, ratio, train_size, classifier, n_train_real, n_train_synthetic``
        and the metrics of :data:`METRICS` (on the real test split). ``ratio`` is 0 for
        ``real`` and ``adv_real`` (written by the arms table; summaries and pages show
        it blank, NaN, as these arms have no ratio), the synthetic-per-real ratio for the GAN and SMOTE
        arms, the number of augmented copies for ``classic``, and NaN for
        ``gan_balance`` (its ratio differs per class). ``train_size`` is a string
        (``"10"`` images per class, or ``"all"``).
    summary : DataFrame
        :func:`summarize_results` of ``results``.
    robustness : DataFrame
        Tidy robust scores: the condition columns plus ``perturbation, kind, eps,
        severity, accuracy, n`` (empty without robustness).
    robustness_summary : DataFrame
        :func:`summarize_robustness` of ``robustness``.
    quality : DataFrame
        Fidelity per (seed, train size) and class (``class="all"`` first): Fréchet
        distance, precision, recall, density and coverage of the synthetic images against
        the real test images, in the feature space of a CNN trained on the real training
        subsample (never on test rows), plus ``trts_accuracy``: that CNN's accuracy on
        the synthetic images (train on real, test on synthetic).
    memorisation : DataFrame
        One row per (seed, train size): nearest-training-image distances of synthetic
        images against those of real test images, and the near-copies flagged. A sanity
        check, not a privacy guarantee.
    gan_history : DataFrame
        The generators' training curves with ``seed`` and ``train_size`` columns.
    sample_grids : dict of str to ndarray
        Per train size (first seed), a uint8 grid of synthetic samples, one row per class.
    neighbour_grids : dict of str to ndarray
        Per train size (first seed), a uint8 grid of the closest synthetic/training
        pairs: each row shows a synthetic image and its nearest training image.
    info : dict
        Dataset facts (name, classes, split sizes), timings and notes.
    """

    config: ExperimentConfig
    results: pd.DataFrame
    summary: pd.DataFrame
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)
    robustness_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    memorisation: pd.DataFrame = field(default_factory=pd.DataFrame)
    gan_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    sample_grids: dict[str, np.ndarray] = field(default_factory=dict)
    neighbour_grids: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    def gate(self) -> dict[str, dict]:
        """The quality gate's verdict per train size (:func:`~.verdict.gate_by_size`)."""
        return gate_by_size(self.results, self.quality)

    def verdict(self, metric: str = "accuracy") -> list[str]:
        """The answer, one plain-text line per (train size, classifier) and gate (see
        :func:`~.verdict.verdict_lines`), plus a line when the intervals are too few."""
        lines = verdict_lines(self.summary, self.gate(), metric=metric)
        n_min = int(self.summary["n"].min()) if not self.summary.empty else 0
        if 0 < n_min < MIN_SEEDS:
            lines.append(f"Note: {interval_note(n_min)}.")
        return lines

    def summary_table(self, metric: str = "accuracy") -> pd.DataFrame:
        """A compact view of one metric: mean [95% CI] and the paired gain over ``real``.

        ``*`` marks a gain whose paired 95% interval excludes 0, only with at least
        :data:`~synthaug.metrics.stats.MIN_SEEDS` seeds. A ``quality_gate`` column marks
        generator arms whose samples failed the gate (when a gate was run).
        """
        s = self.summary[self.summary["metric"] == metric].copy()
        if s.empty:
            return s
        informative = s["n"] >= MIN_SEEDS
        out = pd.DataFrame({
            "train_size": s["train_size"],
            "classifier": s["classifier"],
            "arm": s["arm"],
            "ratio": s["ratio"],
            **({"synthetic_weight": s["synthetic_weight"]} if "synthetic_weight" in s else {}),
            metric: s["mean"],
            "ci": [f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else "" for lo, hi in zip(s["ci_low"], s["ci_high"])],
            "vs_real": [
                "" if not np.isfinite(d) else f"{d:+.3f}{' *' if sig and ok else ''}"
                for d, sig, ok in zip(s["diff_mean"], s["significant"], informative)
            ],
        })
        gate = self.gate()
        if gate:
            out["quality_gate"] = [_gate_cell(a, gate.get(str(size))) for a, size in zip(s["arm"], s["train_size"])]
        return out.reset_index(drop=True)

    def figures(self) -> dict[str, bytes]:
        """All report figures as PNG bytes, by file stem (built on demand)."""
        from . import plots

        out: dict[str, bytes] = {}
        sizes = list(dict.fromkeys(self.results["train_size"])) if not self.results.empty else []
        for size in sizes:
            for metric in METRICS:
                if self.results[metric].notna().any():
                    fig = plots.plot_metric_vs_ratio(self.summary, metric, size)
                    if fig is not None:
                        out[f"ratio_{metric}_n{size}"] = png_bytes(fig)
            fig = plots.plot_robustness(self.robustness_summary, size, self.summary)
            if fig is not None:
                out[f"robustness_n{size}"] = png_bytes(fig)
        if not self.results.empty:
            for metric in ("accuracy", "balanced_accuracy"):
                fig = plots.plot_learning_curves(self.results, metric, ratio=self.config.mix_ratio)
                if fig is not None:
                    out[f"learning_curve_{metric}"] = png_bytes(fig)
        fig = plots.plot_gan_history(self.gan_history)
        if fig is not None:
            out["gan_history"] = png_bytes(fig)
        for size, grid in self.sample_grids.items():
            out[f"samples_n{size}"] = plots.image_to_png(grid)
        for size, grid in self.neighbour_grids.items():
            out[f"nearest_neighbours_n{size}"] = plots.image_to_png(grid)
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (no figures)."""
        mem_cols = [c for c in self.memorisation.columns] if not self.memorisation.empty else []
        return to_jsonable({
            "config": self.config.to_dict(),
            "info": self.info,
            "summary": _records(self.summary),
            "robustness_summary": _records(self.robustness_summary),
            "quality": _records(self.quality),
            "memorisation": _records(self.memorisation[mem_cols]) if mem_cols else [],
            "versions": package_versions(),
        })

    def to_markdown(self, figures: dict[str, bytes] | None = None) -> str:
        """A readable summary; figure files (if given) are linked from ``plots/``."""
        cfg = self.config
        info = self.info
        lines = [
            f"# synthaug evaluation: {info.get('dataset', cfg.dataset or 'dataset')}",
            "",
            ("## Verdict (accuracy on the real test split; paired 95% interval of the difference "
             "with `real`)"),
            "",
            *[f"- {line}" for line in self.verdict()],
            "",
            "## Setup",
            "",
            f"- classes: {', '.join(map(str, info.get('class_names', [])))}",
            f"- real splits used: {info.get('split_sizes', {})} ({info.get('split_origin', '')})",
            f"- seeds: {list(cfg.seeds)}; train sizes (images per class): {list(cfg.train_sizes)}; "
            f"arms: {list(info.get('arms', cfg.resolved_arms()))}; classifiers: {list(cfg.classifiers)}",
            "- every metric is measured on the REAL test split; synthetic images never reach it.",
            f"- wall time: {info.get('seconds', float('nan')):.1f} s",
            "",
            (f"## Accuracy (mean over seeds, 95% CI, paired difference with `real`; * = interval "
             f"excludes 0, with {MIN_SEEDS}+ seeds)"),
            "",
            md_table(self.summary_table("accuracy")),
        ]
        at = lines.index("## Setup") + 2
        for note in info.get("notes", []):
            lines.insert(at, f"- note: {note}")
        if not self.robustness_summary.empty:
            rs = self.robustness_summary
            view = rs[["train_size", "classifier", "arm", "ratio", "perturbation", "eps", "severity", "mean",
                       "diff_mean", "significant"]]
            lines += ["## Robust accuracy (real test split)", "", md_table(view)]
        if not self.quality.empty:
            q = self.quality[self.quality["class"].astype(str) == "all"]
            lines += ["## Sample quality (CNN feature space; lower Fréchet distance is better)", "",
                      md_table(q)]
        if not self.memorisation.empty:
            lines += [
                "## Memorisation sanity check",
                "",
                "Distances from each synthetic image to its nearest training image, compared with "
                "those of real test images. Flagged images are closer to a training image than "
                "almost every unseen real image is. This is a sanity check, not a privacy guarantee: "
                "pixel distance misses shifted or recoloured copies and says nothing about what an "
                "attacker could extract from the generator. `spread`: the median distance between two "
                "samples of a class over that between two real training images of it (about 1 for "
                "real data; the gate fails samples under 0.6: a few images repeated).",
                "",
                md_table(self.memorisation),
            ]
        if figures:
            lines += ["## Figures", ""]
            lines += [f"![{name}](plots/{name}.png)" for name in figures]
        return "\n".join(lines) + "\n"

    def to_html(self, figures: dict[str, bytes] | None = None) -> str:
        """A self-contained HTML page: every figure is embedded as a base64 data URI."""
        figures = self.figures() if figures is None else figures
        info = self.info
        esc = html.escape

        def table(df: pd.DataFrame) -> str:
            return html_table(df, floatfmt=".4f")

        def img(name: str) -> str:
            return img_tag(figures[name], name, caption=name)

        title = f"synthaug evaluation: {info.get('dataset', '')}"
        parts = [
            f"<h1>{esc(title)}</h1>",
            "<h2>Verdict</h2>",
            "<p>Accuracy on the real test split; paired 95% interval of the difference with real.</p>",
            '<ul class="verdict">', *[_verdict_item(line) for line in self.verdict()], "</ul>",
            "<h2>Setup</h2>",
            "<ul>",
            f"<li>classes: {esc(', '.join(map(str, info.get('class_names', []))))}</li>",
            f"<li>real splits: {esc(str(info.get('split_sizes', {})))} ({esc(str(info.get('split_origin', '')))})</li>",
            f"<li>seeds: {esc(str(list(self.config.seeds)))}; train sizes: {esc(str(list(self.config.train_sizes)))}</li>",
            "<li>every metric is measured on the real test split; synthetic images never reach it</li>",
            *[f"<li>note: {esc(n)}</li>" for n in info.get("notes", [])],
            "</ul>",
            f"<h2>Accuracy (paired difference with real; * = 95% interval excludes 0, with {MIN_SEEDS}+ seeds)</h2>",
            table(self.summary_table("accuracy")),
        ]
        ratio_figs = [n for n in figures if n.startswith("ratio_") or n.startswith("learning_curve")]
        if ratio_figs:
            parts.append("<h2>Metrics against the synthetic ratio and the training size</h2>")
            parts += [img(n) for n in ratio_figs]
        if not self.robustness_summary.empty:
            parts.append("<h2>Robustness</h2>")
            parts += [img(n) for n in figures if n.startswith("robustness_")]
            parts.append(table(self.robustness_summary))
        grids = [n for n in figures if n.startswith("samples_")]
        if grids:
            parts.append("<h2>Synthetic samples (one row per class)</h2>")
            parts += [img(n) for n in grids]
        if not self.quality.empty:
            parts.append("<h2>Sample quality and TRTS</h2>")
            parts.append(table(self.quality))
        if not self.memorisation.empty:
            parts.append("<h2>Memorisation sanity check</h2>")
            parts.append(
                "<p>Each row of the grid below is a synthetic image beside its nearest training "
                "image (closest pairs first). This is a sanity check, not a privacy guarantee. "
                "<code>spread</code>: the median distance between two samples of a class over that "
                "between two real training images of it (about 1 for real data; under 0.6 fails "
                "the gate: a few images repeated).</p>"
            )
            parts += [img(n) for n in figures if n.startswith("nearest_neighbours")]
            parts.append(table(self.memorisation))
        if "gan_history" in figures:
            parts.append("<h2>GAN training curves</h2>")
            parts.append(img("gan_history"))
        parts.append("<h2>All results (per seed)</h2>")
        parts.append(table(_blank_ratio(self.results)))
        return html_page(title, "\n".join(parts), css=_HTML_CSS)

    # ------------------------------------------------------------------ files
    def write(self, directory: str | Path) -> Path:
        """Write every table, figure and page into ``directory`` (created if missing).

        Files: ``results.csv``, ``summary.csv``, ``robustness.csv`` and
        ``robustness_summary.csv`` (with robustness), ``quality.csv``,
        ``memorisation.csv``, ``gan_history.csv``, ``report.json``, ``report.md``,
        ``report.html`` (self-contained), ``plots/*.png`` and ``config.json``. Each file
        is written atomically.

        Returns
        -------
        Path
            ``directory``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)

        def csv(name: str, df: pd.DataFrame | None) -> None:
            if df is not None and not df.empty:
                atomic_write_text(out / name, df.to_csv(index=False), fsync=False)

        atomic_write_text(out / "results.csv", self.results.to_csv(index=False), fsync=False)
        atomic_write_text(out / "summary.csv", self.summary.to_csv(index=False), fsync=False)
        csv("robustness.csv", self.robustness)
        csv("robustness_summary.csv", self.robustness_summary)
        csv("quality.csv", self.quality)
        csv("memorisation.csv", self.memorisation)
        csv("gan_history.csv", self.gan_history)
        figures = self.figures()
        for name, png in figures.items():
            atomic_write_bytes(out / "plots" / f"{name}.png", png, fsync=False)
        write_json(out / "report.json", self.to_json())
        atomic_write_text(out / "report.md", self.to_markdown(figures), fsync=False)
        atomic_write_text(out / "report.html", self.to_html(figures), fsync=False)
        write_run_record(out, self.config.to_dict(), "run_experiment")
        return out
