"""Set two `synthaug evaluate` runs of one study side by side: a GAN and a diffusion model.

The two runs must share the dataset, split, seeds, training sizes and classifiers (the
`*_ddpm.toml` recipes copy their GAN recipe and change only the generator), so each
seed's classifiers saw the same real images in both and the arms pair up seed by seed::

    synthaug evaluate --config pipelines/digits_lowdata.toml --out runs/digits_lowdata
    synthaug evaluate --config pipelines/digits_lowdata_ddpm.toml --out runs/digits_lowdata_ddpm
    python pipelines/compare_generators.py runs/digits_lowdata runs/digits_lowdata_ddpm

Prints markdown: per training size, the generators' sample quality (quality.csv, the
"all" rows: precision, recall, coverage, TRTS against the real test split; the
memorisation check's copy ratio and flagged share; gate verdicts), their fit and
sampling time (report.json), then per classifier and generator arm the two runs'
mean accuracy (ROC-AUC too for two classes), the paired difference B - A with its 95%
interval, and the arm's difference to real-only in each run; and, when both ran
robustness, PGD robust accuracy at each radius for the same arms.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from synthaug.metrics.stats import paired_difference

GENERATOR_ARMS_PREFIX = ("gan", "tstr", "adv_gan")


def _read(run: Path, name: str) -> pd.DataFrame | None:
    path = run / name
    return pd.read_csv(path) if path.is_file() else None


def _mean(values) -> str:
    values = pd.to_numeric(pd.Series(values), errors="coerce")
    return "n/a" if values.isna().all() else f"{values.mean():.3f}"


def _diff(b: pd.Series, a: pd.Series) -> str:
    d = paired_difference(b.to_numpy(float), a.to_numpy(float), bounds=(-1.0, 1.0), nan_policy="omit")
    if d["n"] < 2:
        return f"{d['mean_diff']:+.3f} (n={d['n']})"
    mark = " *" if d["ci_low"] > 0 or d["ci_high"] < 0 else ""
    return f"{d['mean_diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]{mark}"


def quality_table(runs: dict[str, Path]) -> list[str]:
    lines = ["| run | train size | precision | recall | coverage | TRTS | copy ratio | near-copies | gate passed "
             "| fit s / generator | sample s / generator |", "|" + "---|" * 11]
    for label, run in runs.items():
        q, mem = _read(run, "quality.csv"), _read(run, "memorisation.csv")
        info = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
        timings = info.get("info", info).get("timings", {}) if isinstance(info, dict) else {}
        if q is None:
            lines.append(f"| {label} | (no quality.csv) |" + " |" * 9)
            continue
        q = q[q["class"].astype(str) == "all"]
        n_gen = max(1, len(q))
        for size, rows in q.groupby(q["train_size"].astype(str)):
            m = mem[mem["train_size"].astype(str) == size] if mem is not None else pd.DataFrame()
            lines.append(
                f"| {label} | {size} | {_mean(rows['precision'])} | {_mean(rows['recall'])} | "
                f"{_mean(rows['coverage'])} | {_mean(rows['trts_accuracy'])} | "
                f"{_mean(m.get('distance_ratio', []))} | {_mean(m.get('fraction_flagged', []))} | "
                f"{int(rows['gate_passed'].astype(bool).sum())}/{len(rows)} | "
                f"{timings.get('gan_fit', float('nan')) / n_gen:.0f} | "
                f"{timings.get('gan_sample', float('nan')) / n_gen:.1f} |")
    return lines


def downstream_table(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], metric: str) -> list[str]:
    key = ["seed", "arm", "ratio", "train_size", "classifier"]
    for frame in (a, b):
        frame["ratio"] = frame["ratio"].fillna(-1.0)
        frame["train_size"] = frame["train_size"].astype(str)
    both = a[key + [metric]].merge(b[key + [metric]], on=key, suffixes=("_a", "_b"))
    real = both[both["arm"] == "real"][["seed", "train_size", "classifier", f"{metric}_a"]].rename(
        columns={f"{metric}_a": "real"})
    both = both.merge(real, on=["seed", "train_size", "classifier"])
    gen = both[both["arm"].str.startswith(GENERATOR_ARMS_PREFIX)]
    lines = [f"| train size | classifier | arm | ratio | real only | {names[0]} | {names[1]} | "
             f"{names[1]} - {names[0]} (paired, 95%) | {names[0]} - real | {names[1]} - real |",
             "|" + "---|" * 10]
    for (size, clf, arm, ratio), rows in gen.groupby(["train_size", "classifier", "arm", "ratio"], sort=True):
        rows = rows.sort_values("seed")
        shown = "" if ratio < 0 else f"{ratio:g}"
        lines.append(
            f"| {size} | {clf} | {arm} | {shown} | {_mean(rows['real'])} | {_mean(rows[f'{metric}_a'])} | "
            f"{_mean(rows[f'{metric}_b'])} | {_diff(rows[f'{metric}_b'], rows[f'{metric}_a'])} | "
            f"{_diff(rows[f'{metric}_a'], rows['real'])} | {_diff(rows[f'{metric}_b'], rows['real'])} |")
    return lines


def robust_table(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str]) -> list[str]:
    key = ["seed", "arm", "ratio", "train_size", "classifier", "perturbation", "eps"]
    sel = [(f[(f["perturbation"] == "pgd") & (f["classifier"] == "cnn")].copy()) for f in (a, b)]
    for frame in sel:
        frame["ratio"] = frame["ratio"].fillna(-1.0)
        frame["train_size"] = frame["train_size"].astype(str)
    both = sel[0][key + ["accuracy"]].merge(sel[1][key + ["accuracy"]], on=key, suffixes=("_a", "_b"))
    both = both[both["arm"].str.startswith(GENERATOR_ARMS_PREFIX) | (both["arm"] == "real")]
    lines = [f"| train size | arm | ratio | PGD eps | {names[0]} | {names[1]} | {names[1]} - {names[0]} |",
             "|" + "---|" * 7]
    for (size, arm, ratio, eps), rows in both.groupby(["train_size", "arm", "ratio", "eps"], sort=True):
        rows = rows.sort_values("seed")
        lines.append(f"| {size} | {arm} | {'' if ratio < 0 else f'{ratio:g}'} | {eps:.4f} | "
                     f"{_mean(rows['accuracy_a'])} | {_mean(rows['accuracy_b'])} | "
                     f"{_diff(rows['accuracy_b'], rows['accuracy_a'])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path, help="output folder of the first run (e.g. the GAN study)")
    parser.add_argument("run_b", type=Path, help="output folder of the second run (e.g. the ddpm study)")
    parser.add_argument("--names", default="GAN,ddpm", help="labels of the two runs, comma-separated")
    args = parser.parse_args()
    names = tuple(args.names.split(","))
    if len(names) != 2:
        parser.error("--names takes two comma-separated labels")
    for run in (args.run_a, args.run_b):
        if not (run / "results.csv").is_file():
            parser.error(f"{run}: no results.csv; pass the --out folder of a finished `synthaug evaluate`.")
    a, b = pd.read_csv(args.run_a / "results.csv"), pd.read_csv(args.run_b / "results.csv")
    if sorted(a["seed"].unique()) != sorted(b["seed"].unique()):
        parser.error("the runs have different seeds; they must be the same study with another generator.")
    print("## Samples (against the real test split)\n")
    print("\n".join(quality_table({names[0]: args.run_a, names[1]: args.run_b})))
    metrics = ["accuracy"] + (["roc_auc"] if "roc_auc" in a and a["roc_auc"].notna().any()
                              and len(np.unique(a["classifier"])) and _binary(args.run_a) else [])
    for metric in metrics:
        print(f"\n## Downstream {metric} (mean over seeds; * = 95% interval excludes 0)\n")
        print("\n".join(downstream_table(a.copy(), b.copy(), names, metric)))
    ra, rb = _read(args.run_a, "robustness.csv"), _read(args.run_b, "robustness.csv")
    if ra is not None and rb is not None:
        print("\n## CNN accuracy under PGD (L-inf)\n")
        print("\n".join(robust_table(ra, rb, names)))


def _binary(run: Path) -> bool:
    info = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
    names = info.get("info", info).get("class_names", []) if isinstance(info, dict) else []
    return len(names) == 2


if __name__ == "__main__":
    main()
