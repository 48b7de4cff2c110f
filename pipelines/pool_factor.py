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
from small_set import SmallSet  # pipelines/ is on the path when this file runs as a script

from synthaug.generators import load_model
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
    data = SmallSet(args.data)
    counts = {int(c): 10 for c in np.unique(data.y_train)}
    for factor in (float(f) for f in args.pool_factors.split(",")):
        rows = []
        for draw in range(args.draws):
            X_s, y_s = draw_selected(model, counts, 100 + draw, select=args.select, pool_factor=factor,
                                     real_X=data.images(), real_y=data.y_train)
            rows.append(data.score(X_s, y_s))
        a = np.array(rows)
        med = np.median(a, axis=0)
        print(f"{args.run} pool {factor:g}: median of {args.draws} draws: precision {med[0]:.3f}, recall {med[1]:.3f}, "
              f"copy ratio {med[2]:.2f}, SVC {med[3]:+.1f} points (precision {a[:, 0].min():.2f}-{a[:, 0].max():.2f}, "
              f"recall {a[:, 1].min():.2f}-{a[:, 1].max():.2f})", flush=True)


if __name__ == "__main__":
    main()
