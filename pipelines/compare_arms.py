"""Benchmark helper: one arm against another in a finished study, paired seed by seed.

Reads ``results.csv`` of a ``synthaug evaluate`` run and prints, per train size and
classifier, the mean ``--metric`` of arm B and arm A and the paired difference B - A
with its 95% Student-t interval (``synthaug.metrics.paired_difference``, bounded to
[-1, 1]; * = the interval excludes 0). The report compares every arm with real-only;
this answers "does GAN + classic beat classic alone?"::

    python pipelines/compare_arms.py runs/digits_lowdata_ddpm --a classic --b gan_classic
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from synthaug.metrics.stats import paired_difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a synthaug evaluate output folder")
    parser.add_argument("--a", default="classic", help="the baseline arm (classic)")
    parser.add_argument("--b", default="gan_classic", help="the arm compared with it (gan_classic)")
    parser.add_argument("--metric", default="accuracy")
    args = parser.parse_args()
    df = pd.read_csv(args.run / "results.csv")
    print(f"| train size | classifier | {args.a} | {args.b} | {args.b} - {args.a} (paired, 95%) |")
    print("|---|---|---|---|---|")
    for (size, clf), part in df.groupby(["train_size", "classifier"], sort=False):
        a = part[part["arm"] == args.a].set_index("seed")[args.metric]
        b = part[part["arm"] == args.b].set_index("seed")[args.metric]
        if a.empty or b.empty or a.index.duplicated().any() or b.index.duplicated().any():
            continue  # an arm absent here, or several ratios of it: not one value per seed
        seeds = a.index.intersection(b.index)
        d = paired_difference(b[seeds].to_numpy(float), a[seeds].to_numpy(float), bounds=(-1.0, 1.0))
        star = " *" if d["significant"] else ""
        print(f"| {size} | {clf} | {a[seeds].mean():.3f} | {b[seeds].mean():.3f} | "
              f"{d['mean_diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]{star} |")


if __name__ == "__main__":
    main()
