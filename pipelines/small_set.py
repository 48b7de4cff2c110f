"""Benchmark: what `synthaug augment` gives a user with 10 images per class.

``make`` writes 10 images per class of ``builtin:digits`` as an .npz whose ``test_*``
arrays hold every other digit; ``score`` compares the synthetic rows of an
``augmented.npz`` with those real test digits (pixel-space k-NN precision and recall,
Kynkäänniemi et al. 2019, k = 3), checks for copying (median distance from a synthetic
image to its nearest real training image, over the same for a real test image: below
0.7 the generator copies), and trains an RBF SVC on the real rows alone and on
real + synthetic, and the default CNN likewise (three seeds; ``--equal-steps``: the mixed
CNN trains for the real-only CNN's optimizer steps, as studies do), all scored on the test digits::

    python pipelines/small_set.py make runs/digits100.npz
    synthaug augment runs/digits100.npz --out runs/d100 --seed 0
    python pipelines/small_set.py score runs/d100/augmented.npz runs/digits100.npz
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from synthaug.classifiers import CNNClassifier
from synthaug.data import images_to_uint8, load_dataset
from synthaug.experiment.jobs import equal_step_epochs
from synthaug.experiment.splits import subsample
from synthaug.metrics import prdc


class SmallSet:
    """A ``make`` file loaded for scoring synthetic rows against its test digits (flat, in [0, 1])."""

    def __init__(self, data: str):
        with np.load(data, allow_pickle=False) as t:
            self.X_train = t["train_images"].reshape(len(t["train_images"]), -1) / 255.0
            self.y_train, self.y_test = t["train_labels"], t["test_labels"]
            self.X_test = t["test_images"].reshape(len(self.y_test), -1) / 255.0
        self.side = round(self.X_train.shape[1] ** 0.5)
        self.nearest = NearestNeighbors(n_neighbors=1).fit(self.X_train)
        self.test_distance = np.median(self.nearest.kneighbors(self.X_test)[0])
        self.real_svc = SVC().fit(self.X_train, self.y_train).score(self.X_test, self.y_test)

    def images(self) -> np.ndarray:
        """The training digits as ``(N, 1, side, side)`` float32, for a generator or selection."""
        return self.X_train.reshape(-1, 1, self.side, self.side).astype(np.float32)

    def score(self, X_syn: np.ndarray, y_syn: np.ndarray, k: int = 3) -> tuple[float, float, float, float]:
        """Precision, recall (pixel k-NN), copy ratio, and the RBF SVC's gain in points."""
        S = np.asarray(X_syn).reshape(len(X_syn), -1)
        pr = prdc(self.X_test, S, k=k)
        copy = np.median(self.nearest.kneighbors(S)[0]) / self.test_distance
        mixed = SVC().fit(np.vstack([self.X_train, S]), np.r_[self.y_train, y_syn]).score(self.X_test, self.y_test)
        return pr["precision"], pr["recall"], copy, 100 * (mixed - self.real_svc)


def make(out: str, per_class: int, seed: int) -> None:
    ds = load_dataset("builtin:digits")
    train = subsample(ds.labels, per_class, np.random.default_rng(seed), ds.n_classes)
    test = np.setdiff1d(np.arange(len(ds)), train)
    images = images_to_uint8(ds.images).reshape(len(ds), *ds.image_shape[1:])  # (N, H, W) uint8
    np.savez(out, train_images=images[train], train_labels=ds.labels[train],
             test_images=images[test], test_labels=ds.labels[test])
    print(f"wrote {out}: {len(train)} training and {len(test)} test digits")


def score(augmented: str, data: str, k: int, equal_steps: bool = False) -> None:
    with np.load(augmented, allow_pickle=False) as z, np.load(data, allow_pickle=False) as t:
        X = z["images"].reshape(len(z["images"]), -1) / 255.0
        y, syn = z["labels"], z["is_synthetic"].astype(bool)
        X_test = t["test_images"].reshape(len(t["test_images"]), -1) / 255.0
        y_test = t["test_labels"]
    pr = prdc(X_test, X[syn], k=k)
    nearest = NearestNeighbors(n_neighbors=1).fit(X[~syn])
    copy_ratio = np.median(nearest.kneighbors(X[syn])[0]) / np.median(nearest.kneighbors(X_test)[0])
    real_only = SVC().fit(X[~syn], y[~syn]).score(X_test, y_test)
    mixed = SVC().fit(X, y).score(X_test, y_test)
    side = int(round(np.sqrt(X.shape[1])))
    images, test_images = X.reshape(-1, 1, side, side), X_test.reshape(-1, 1, side, side)
    default = CNNClassifier()

    def epochs(rows: np.ndarray) -> int:  # --equal-steps: the mixed CNN gets the real-only CNN's optimizer steps
        return (equal_step_epochs(default.epochs, default.batch_size, int(rows.sum()), int((~syn).sum()))
                if equal_steps else default.epochs)

    cnn = [CNNClassifier(random_state=seed, device="cpu", epochs=epochs(rows)).fit(images[rows], y[rows])
           .score(test_images, y_test) for seed in range(3) for rows in (~syn, np.ones(len(y), bool))]
    print(f"{syn.sum()} synthetic vs {len(y_test)} real test digits (k = {k}): "
          f"precision {pr['precision']:.3f}, recall {pr['recall']:.3f}")
    print(f"nearest-training-image distance, synthetic / real test (median): {copy_ratio:.2f}")
    print(f"RBF SVC on the {(~syn).sum()} real rows: {real_only:.3f}; on real + synthetic: {mixed:.3f}")
    print(f"CNN (defaults{', equal steps' if equal_steps else ''}, seeds 0-2, mean) on the real rows: {np.mean(cnn[0::2]):.3f}; on real + synthetic: "
          f"{np.mean(cnn[1::2]):.3f} (per seed: {', '.join(f'{a:.3f}->{b:.3f}' for a, b in zip(cnn[0::2], cnn[1::2]))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write the small training set")
    m.add_argument("out")
    m.add_argument("--per-class", type=int, default=10)
    m.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score", help="score an augment output against the test digits")
    s.add_argument("augmented")
    s.add_argument("data")
    s.add_argument("--k", type=int, default=3)
    s.add_argument("--equal-steps", action="store_true",
                   help="train the real + synthetic CNN for the real-only CNN's optimizer steps")
    args = parser.parse_args()
    if args.command == "make":
        make(args.out, args.per_class, args.seed)
    else:
        score(args.augmented, args.data, args.k, args.equal_steps)


if __name__ == "__main__":
    main()
