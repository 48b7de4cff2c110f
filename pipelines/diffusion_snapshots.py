"""Benchmark: what a default ConditionalDiffusion learns on 10 digits per class, snapshot by snapshot.

Fits ``ConditionalDiffusion(random_state=SEED)`` with its defaults on 10 images per
class of ``builtin:digits`` (the same subsample as ``small_set.py make --seed SEED``),
then for the final model and each of its 4 snapshots draws 10 samples per class and
scores them against every other digit: k-NN precision and recall (k = 3, pixels), the
copy ratio (median nearest-training-image distance of the samples over that of the
test digits), and an RBF SVC trained on real vs real + synthetic. No quality gate, no
hold-back, no sample selection: the generator alone::

    OMP_NUM_THREADS=1 python pipelines/diffusion_snapshots.py --seed 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from synthaug import ConditionalDiffusion, load_dataset
from synthaug.experiment.splits import subsample
from synthaug.metrics import prdc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ds = load_dataset("builtin:digits")
    train = subsample(ds.labels, 10, np.random.default_rng(args.seed), ds.n_classes)
    test = np.setdiff1d(np.arange(len(ds)), train)
    X_train, y_train = ds.images[train], ds.labels[train]
    flat_train, flat_test = X_train.reshape(len(train), -1), ds.images[test].reshape(len(test), -1)
    nearest = NearestNeighbors(n_neighbors=1).fit(flat_train)
    test_distance = np.median(nearest.kneighbors(flat_test)[0])
    real = SVC().fit(flat_train, y_train).score(flat_test, ds.labels[test])
    t0 = time.perf_counter()
    model = ConditionalDiffusion(random_state=args.seed).fit(X_train, y_train)
    print(f"fit: {time.perf_counter() - t0:.0f} s, budget {model.budget_['steps']} steps of {model.budget_['batch_size']}")
    labels = np.repeat(np.arange(10), 10)
    for k, snap in enumerate(model.snapshots_):
        model.use_snapshot(k)
        samples = model.sample(labels).reshape(len(labels), -1)
        pr = prdc(flat_test, samples, k=3)
        ratio = np.median(nearest.kneighbors(samples)[0]) / test_distance
        mixed = SVC().fit(np.vstack([flat_train, samples]), np.r_[y_train, labels]).score(flat_test, ds.labels[test])
        print(f"snapshot {k} (step {snap['step']}): precision {pr['precision']:.3f}, recall {pr['recall']:.3f}, "
              f"copy ratio {ratio:.2f}, SVC {real:.3f} -> {mixed:.3f}")


if __name__ == "__main__":
    main()
