"""Benchmark: the pool factor of sample selection, on a saved generator of 10 digits per class.

Loads the model of a ``synthaug augment`` run on a ``small_set.py make`` file and, for
each ``--pool-factors`` value, draws 10 samples per class through ``coverage`` selection
from a pool of that many times as many, ``--draws`` times with different seeds; each set
is scored as ``small_set.py score`` does (pixel k-NN precision and recall against the
test digits, k = 3; copy ratio; RBF SVC real + synthetic minus real only, in points).
Prints the median over draws and the range of precision and recall::

    python pipelines/pool_factor.py runs/x/def-s0 runs/digits100.npz
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from synthaug.generators import load_model
from synthaug.metrics import prdc
from synthaug.over_sampling import draw_selected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an augment output folder (its model/ is loaded)")
    parser.add_argument("data", help="the small_set.py make file it was trained on")
    parser.add_argument("--pool-factors", default="4,8")
    parser.add_argument("--select", default="coverage")
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    model = load_model(f"{args.run}/model", device="cpu")
    with np.load(args.data) as t:
        X_tr = t["train_images"].reshape(len(t["train_images"]), -1) / 255.0
        y_tr, y_te = t["train_labels"], t["test_labels"]
        X_te = t["test_images"].reshape(len(y_te), -1) / 255.0
    side = round(X_tr.shape[1] ** 0.5)
    nearest = NearestNeighbors(n_neighbors=1).fit(X_tr)
    test_distance = np.median(nearest.kneighbors(X_te)[0])
    real = SVC().fit(X_tr, y_tr).score(X_te, y_te)
    counts = {int(c): 10 for c in np.unique(y_tr)}
    for factor in (float(f) for f in args.pool_factors.split(",")):
        rows = []
        for draw in range(args.draws):
            X_s, y_s = draw_selected(model, counts, 100 + draw, select=args.select, pool_factor=factor,
                                     real_X=X_tr.reshape(-1, 1, side, side).astype(np.float32), real_y=y_tr)
            S = X_s.reshape(len(X_s), -1)
            pr = prdc(X_te, S, k=3)
            copy = np.median(nearest.kneighbors(S)[0]) / test_distance
            mixed = SVC().fit(np.vstack([X_tr, S]), np.r_[y_tr, y_s]).score(X_te, y_te)
            rows.append((pr["precision"], pr["recall"], copy, 100 * (mixed - real)))
        a = np.array(rows)
        med = np.median(a, axis=0)
        print(f"{args.run} pool {factor:g}: median of {args.draws} draws: precision {med[0]:.3f}, recall {med[1]:.3f}, "
              f"copy ratio {med[2]:.2f}, SVC {med[3]:+.1f} points (precision {a[:, 0].min():.2f}-{a[:, 0].max():.2f}, "
              f"recall {a[:, 1].min():.2f}-{a[:, 1].max():.2f})", flush=True)


if __name__ == "__main__":
    main()
