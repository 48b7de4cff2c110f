"""Benchmark: do synthetic samples look like their class?

Trains a logistic regression on the REAL rows of an ``augmented.npz`` written by
``synthaug augment`` and reports how often it gives each synthetic sample the label the
generator was asked for (overall and per class).

    synthaug augment builtin:digits --out runs/demo --seed 0
    python pipelines/check_synthetic_labels.py runs/demo/augmented.npz
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("augmented", help="augmented.npz from synthaug augment")
    args = parser.parse_args()
    with np.load(args.augmented, allow_pickle=False) as z:
        images = z["images"].reshape(len(z["images"]), -1).astype(np.float32) / 255.0
        labels, synthetic = z["labels"], z["is_synthetic"].astype(bool)
        class_names = [str(c) for c in z["class_names"]]
    real_x, real_y = images[~synthetic], labels[~synthetic]
    syn_x, syn_y = images[synthetic], labels[synthetic]
    clf = LogisticRegression(max_iter=2000)
    cv = cross_val_score(clf, real_x, real_y, cv=5).mean()
    clf.fit(real_x, real_y)
    pred = clf.predict(syn_x)
    print(f"real images: {len(real_y)}, synthetic images: {len(syn_y)}")
    print(f"logistic regression 5-fold CV accuracy on real images: {cv:.3f}")
    print(f"synthetic samples given their own label: {np.mean(pred == syn_y):.3f}")
    for k, name in enumerate(class_names):
        rows = syn_y == k
        if rows.any():
            print(f"  class {name}: {np.mean(pred[rows] == k):.3f} ({rows.sum()} samples)")


if __name__ == "__main__":
    main()
