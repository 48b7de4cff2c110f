"""Benchmark: within-class spread of a run's samples, as written and as freshly drawn.

For each `synthaug augment` run folder: `synthaug.metrics.spread_ratio` of the synthetic
rows in `augmented.npz` (after selection) against the real rows, and of a fresh draw
from `model/` (before selection: as many samples per class as real rows, 20 to 40), the
median over classes and the lowest class::

    python pipelines/spread_check.py runs/d100_gan runs/demo runs/breast
"""
import sys

import numpy as np

from synthaug.generators import load_model
from synthaug.metrics import spread_ratio


def main(runs: list[str]) -> None:
    for run in runs:
        with np.load(f"{run}/augmented.npz") as z:
            X = z["images"].astype(np.float32)
            X = X / 255.0 if X.max() > 1.5 else X
            y, syn = z["labels"], z["is_synthetic"].astype(bool)
        X = X.reshape(len(X), -1, *X.shape[-2:])  # (N, C, H, W)
        real, y_real = X[~syn], y[~syn]
        kept, per_kept = spread_ratio(X[syn], y[syn], real, y_real)
        model = load_model(f"{run}/model", device="cpu")
        labels = np.concatenate([np.full(int(np.clip((y_real == c).sum(), 20, 40)), c) for c in np.unique(y_real)])
        fresh = np.asarray(model.sample(labels, random_state=1)).reshape(len(labels), *real.shape[1:])
        drawn, per_drawn = spread_ratio(fresh, labels, real, y_real)
        print(f"{run}: written {kept:.2f} (lowest class {min(per_kept.values()):.2f}); "
              f"fresh draw {drawn:.2f} (lowest class {min(per_drawn.values()):.2f})")


if __name__ == "__main__":
    main(sys.argv[1:])
