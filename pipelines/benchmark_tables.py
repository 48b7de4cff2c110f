"""Print the Markdown tables of docs/benchmarks.md from an `synthaug evaluate` output folder.

    python pipelines/benchmark_tables.py runs/breastmnist

Reads summary.csv (and robustness_summary.csv when present) and prints:
1. one table per metric (accuracy, balanced accuracy, ROC-AUC): rows are
   (train size, classifier), columns are arms, cells are "mean (paired diff vs real)"
   with `*` when the 95% interval of the paired difference excludes 0;
2. the CNN's robust accuracy against eps per attack, one row per (train size, arm),
   with `*` where the paired difference with real-only is significant;
3. the CNN's accuracy under each corruption at the highest severity;
4. sample quality (Frechet distance, precision, recall, density, coverage, TRTS) and the
   memorisation check, per training size.

Only reads what the report wrote; it computes nothing new.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pandas as pd

from synthaug.experiment import ALL_ARMS
from synthaug.rendering import md_table


def _arm_label(arm: str, ratio) -> str:
    if pd.isna(ratio) or arm in ("real", "adv_real", "gan_balance"):
        return arm
    return f"{arm} x{float(ratio):g}"


def _eps_label(eps: float) -> str:
    frac = Fraction(eps).limit_denominator(255)
    return f"{frac.numerator}/{frac.denominator}" if frac.denominator == 255 else f"{eps:g}"


def _order(labels: list[str]) -> list[str]:
    def key(label: str):
        arm, _, ratio = label.partition(" x")
        return (ALL_ARMS.index(arm) if arm in ALL_ARMS else len(ALL_ARMS), float(ratio or 0), label)

    return sorted(set(labels), key=key)


def _marked(x: pd.DataFrame) -> str:
    """The first row's mean, with `*` when its paired difference is significant."""
    return "" if x.empty else f"{x['mean'].iloc[0]:.3f}{' *' if x['significant'].iloc[0] else ''}"


def _block(title: str, columns: list[str], rows: list[list]) -> str:
    """A bold title line, a blank line and the markdown table (rendered by synthaug.rendering)."""
    table = md_table(pd.DataFrame([[str(v) for v in row] for row in rows], columns=columns))
    return f"{title}\n\n{table}".rstrip("\n")


def metric_table(summary: pd.DataFrame, metric: str) -> str:
    s = summary[summary["metric"] == metric].copy()
    if s.empty or s["mean"].isna().all():
        return ""
    s["col"] = [_arm_label(a, r) for a, r in zip(s["arm"], s["ratio"])]
    cols = _order(list(dict.fromkeys(s["col"])))
    title = (f"**{metric}** (mean over seeds; in brackets the paired difference with `real`, "
             "`*` = its 95% interval excludes 0)")
    rows = []
    for (size, clf), g in s.groupby(["train_size", "classifier"], sort=False):
        cells = []
        for c in cols:
            row = g[g["col"] == c]
            if row.empty:
                cells.append("")
                continue
            r = row.iloc[0]
            cell = f"{r['mean']:.3f}"
            if c != "real" and pd.notna(r["diff_mean"]):
                cell += f" ({r['diff_mean']:+.3f}{' *' if r['significant'] else ''})"
            cells.append(cell)
        rows.append([size, clf, *cells])
    return _block(title, ["train/class", "classifier", *cols], rows)


def robust_table(rs: pd.DataFrame, summary: pd.DataFrame, classifier: str = "cnn") -> str:
    r = rs[(rs["classifier"] == classifier) & rs["kind"].isin(["adversarial"])].copy()
    if r.empty:
        return ""
    r["col"] = [f"{p} {_eps_label(e)}" for p, e in zip(r["perturbation"], r["eps"])]
    r["row"] = [_arm_label(a, q) for a, q in zip(r["arm"], r["ratio"])]
    cols = list(dict.fromkeys(r.sort_values(["perturbation", "eps"])["col"]))
    title = (f"**robust accuracy, {classifier}** (mean over seeds; `*` = paired difference with "
             "`real` significant)")
    rows = []
    # Clean accuracy from summary.csv: the same real test split (robustness scores at most
    # robust_max_test of its images, 500 by default; both test splits here are smaller).
    clean = summary[(summary["classifier"] == classifier) & (summary["metric"] == "accuracy")].copy()
    clean["row"] = [_arm_label(a, q) for a, q in zip(clean["arm"], clean["ratio"])]
    for size, g in r.groupby("train_size", sort=False):
        for row in _order(list(dict.fromkeys(g["row"]))):
            gr = g[g["row"] == row]
            cl = clean[(clean["train_size"].astype(str) == str(size)) & (clean["row"] == row)]
            cells = [f"{cl['mean'].iloc[0]:.3f}" if not cl.empty else ""]
            for c in cols:
                x = gr[gr["col"] == c]
                cells.append(_marked(x))
            rows.append([size, row, *cells])
    return _block(title, ["train/class", "arm", "clean", *cols], rows)


def corruption_table(rs: pd.DataFrame, classifier: str = "cnn") -> str:
    r = rs[(rs["classifier"] == classifier) & (rs["kind"] == "corruption")].copy()
    if r.empty:
        return ""
    top = r["severity"].max()
    r = r[r["severity"] == top]
    r["row"] = [_arm_label(a, q) for a, q in zip(r["arm"], r["ratio"])]
    cols = list(dict.fromkeys(r["perturbation"]))
    title = f"**accuracy under corruptions at severity {top:g}, {classifier}**"
    rows = []
    for size, g in r.groupby("train_size", sort=False):
        for row in _order(list(dict.fromkeys(g["row"]))):
            gr = g[g["row"] == row]
            rows.append([size, row, *(_marked(gr[gr["perturbation"] == c]) for c in cols)])
    return _block(title, ["train/class", "arm", *cols], rows)


def quality_table(quality: pd.DataFrame, memorisation: pd.DataFrame) -> str:
    """Sample quality (class "all") and the memorisation check, mean over seeds per train size."""
    if quality.empty:
        return ""
    q = quality[quality["class"].astype(str) == "all"]
    cols = ["frechet_distance", "precision", "recall", "density", "coverage", "trts_accuracy"]
    q = q.groupby("train_size", sort=False)[cols].mean()
    if not memorisation.empty:
        m = memorisation.groupby("train_size", sort=False)[["distance_ratio", "fraction_flagged"]].mean()
        q = q.join(m)
    title = ("**sample quality** (CNN feature space of each seed's real training rows, against the "
             "real test images; mean over seeds; `distance_ratio` = median pixel distance of synthetic "
             "images to their nearest training image over that of real test images)")
    return f"{title}\n\n{md_table(q.rename_axis('train/class').reset_index())}".rstrip("\n")


def main(folder: str) -> int:
    out = Path(folder)
    if not (out / "summary.csv").is_file():
        print(f"error: {out}/summary.csv not found; pass the --out folder of 'synthaug evaluate'.",
              file=sys.stderr)
        return 1
    summary = pd.read_csv(out / "summary.csv")
    blocks = [metric_table(summary, m) for m in ("accuracy", "balanced_accuracy", "roc_auc")]
    if (out / "robustness_summary.csv").is_file():
        rs = pd.read_csv(out / "robustness_summary.csv")
        blocks += [robust_table(rs, summary), corruption_table(rs)]
    if (out / "quality.csv").is_file():
        mem = out / "memorisation.csv"
        blocks.append(quality_table(pd.read_csv(out / "quality.csv"),
                                    pd.read_csv(mem) if mem.is_file() else pd.DataFrame()))
    print("\n\n".join(b for b in blocks if b))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
