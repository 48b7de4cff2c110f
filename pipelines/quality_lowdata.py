"""Benchmark: do low-data GAN samples cover the real digits, copy the training set, help a classifier?

builtin:digits, a stratified 25% test split (split_seed 0, as pipelines/digits_lowdata.toml),
``--per-class`` training images per class drawn from the rest. One ConditionalGAN with its
DEFAULT parameters (unless overridden) is fitted on them; then, for each ``--select`` method,

(a) pixel-space k-NN precision and recall (k=3; Kynkaanniemi et al. 2019, "Improved Precision
    and Recall Metric for Assessing Generative Models", computed by synthaug.metrics.prdc) of
    ``--n-synthetic`` samples per class against the real test digits, overall and per class,
    beside the same numbers for ``--n-reference`` real digits outside test and training;
(b) memorisation: median distance from a synthetic image to its nearest training image over
    the median distance from a real test image to its nearest training image (>= 0.7 wanted);
(c) accuracy on the test split of an RBF SVC (sklearn defaults) and of CNNClassifier (defaults,
    seeded) trained on the real images only, and on real + synthetic at ratio 1 (what
    ``synthaug augment`` adds by default) and ratio 4.

    OMP_NUM_THREADS=1 nice python pipelines/quality_lowdata.py --select none,coverage --out q.json
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
import pandas as pd
from sklearn.svm import SVC

from synthaug import __version__
from synthaug.classifiers import CNNClassifier
from synthaug.data import load_dataset
from synthaug.experiment.config import ExperimentConfig
from synthaug.experiment.splits import make_splits, subsample
from synthaug.generators import ConditionalGAN
from synthaug.metrics import memorisation_report, prdc
from synthaug.over_sampling import draw_synthetic
from synthaug.over_sampling.select import DEFAULT_POOL_FACTOR, SELECTION_METHODS, pool_size, select_samples
from synthaug.persistence import write_json
from synthaug.rendering import md_table
from synthaug.seeding import derive_seed


def _parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=10, help="training images per class (10)")
    p.add_argument("--n-synthetic", type=int, default=50, help="samples per class for (a) and (b) (50)")
    p.add_argument("--n-reference", type=int, default=100, help="real non-test reference digits (100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="generator epochs (default: its default)")
    p.add_argument("--steps", type=int, default=None,
                   help="generator steps, if the generator has a 'steps' parameter")
    p.add_argument("--gan-param", action="append", default=[], metavar="KEY=VALUE",
                   help="any other ConditionalGAN parameter, e.g. batch_size=16 (repeatable)")
    p.add_argument("--select", default="none",
                   help=f"comma-separated selection methods ({', '.join(SELECTION_METHODS)})")
    p.add_argument("--pool-factor", type=float, default=DEFAULT_POOL_FACTOR)
    p.add_argument("--k", type=int, default=3, help="neighbourhood size of precision/recall (3)")
    p.add_argument("--out", default="quality_lowdata.json", help="JSON results file")
    return p.parse_args()


def _gan_params(args) -> dict:
    params = {"random_state": args.seed}
    for item in args.gan_param:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.steps is not None:
        params["steps"] = args.steps
    unknown = set(params) - set(ConditionalGAN().get_params())
    if unknown:
        raise SystemExit(f"ConditionalGAN has no parameter(s) {sorted(unknown)}; "
                         f"it has {sorted(ConditionalGAN().get_params())}.")
    return params


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), -1).astype(np.float64)


def _fidelity(test_X, test_y, fake_X, fake_y, k) -> dict:
    """Precision/recall/density/coverage overall, plus per-class means of precision and recall."""
    out = prdc(_flat(test_X), _flat(fake_X), k=k)
    per = [prdc(_flat(test_X[test_y == c]), _flat(fake_X[fake_y == c]), k=k) for c in np.unique(test_y)]
    out["class_precision"] = float(np.mean([p["precision"] for p in per]))
    out["class_recall"] = float(np.mean([p["recall"] for p in per]))
    return out


def _accuracies(train_X, train_y, test_X, test_y, seed) -> dict:
    svc = SVC().fit(_flat(train_X), train_y)
    cnn = CNNClassifier(random_state=seed).fit(train_X, train_y)
    return {"svc": float(np.mean(svc.predict(_flat(test_X)) == test_y)),
            "cnn": float(np.mean(cnn.predict(test_X) == test_y))}


def _synthetic(gan, n, method, args, train_X, train_y, classes, key):
    counts = {int(c): n for c in classes}
    seed = derive_seed(args.seed, "draw", key, n)
    if method == "none":
        return draw_synthetic(gan, counts, seed)
    pool_X, pool_y = draw_synthetic(gan, pool_size(counts, args.pool_factor), seed)
    return select_samples(pool_X, pool_y, counts, method=method, real_X=train_X, real_y=train_y,
                          critic=getattr(gan, "discriminator_scores", None), random_state=seed)


def main() -> None:
    args = _parse_args()
    methods = [m.strip() for m in args.select.split(",") if m.strip()]
    t0 = time.time()
    ds = load_dataset("builtin:digits")
    X, y = np.asarray(ds.images), np.asarray(ds.labels)
    splits = make_splits(ds, ExperimentConfig(test_fraction=0.25, split_seed=0))
    rest, test = splits.train, splits.test
    train = rest[subsample(y[rest], args.per_class, np.random.default_rng(derive_seed(args.seed, "train")),
                           ds.n_classes)]
    others = np.setdiff1d(rest, train)
    ref = others[subsample(y[others], args.n_reference // ds.n_classes,
                           np.random.default_rng(derive_seed(args.seed, "reference")), ds.n_classes)]
    train_X, train_y, test_X, test_y = X[train], y[train], X[test], y[test]
    classes = np.unique(train_y)

    params = _gan_params(args)
    t_fit = time.time()
    gan = ConditionalGAN(**params).fit(train_X, train_y)
    fit_seconds = time.time() - t_fit
    gan_params = {k: v for k, v in gan.get_params().items() if k != "progress"}

    rows, details = [], {}
    ref_fid = _fidelity(test_X, test_y, X[ref], y[ref], args.k)
    ref_mem, _ = memorisation_report(X[ref], train_X, test_X)
    real_acc = _accuracies(train_X, train_y, test_X, test_y, args.seed)
    rows.append({"set": f"real reference ({len(ref)})", **{m: ref_fid[m] for m in
                 ("precision", "recall", "class_precision", "class_recall")},
                 "distance_ratio": ref_mem["distance_ratio"], "svc_r1": real_acc["svc"],
                 "cnn_r1": real_acc["cnn"], "svc_r4": real_acc["svc"], "cnn_r4": real_acc["cnn"]})
    details["real"] = {"fidelity_reference": ref_fid, "memorisation_reference": ref_mem,
                       "accuracy_real_only": real_acc}
    for method in methods:
        if method == "critic" and not hasattr(gan, "discriminator_scores"):
            print("skipping select=critic: ConditionalGAN has no discriminator_scores yet")
            continue
        t_m = time.time()
        syn_X, syn_y = _synthetic(gan, args.n_synthetic, method, args, train_X, train_y, classes, "eval")
        fid = _fidelity(test_X, test_y, syn_X, syn_y, args.k)
        # Same number of fakes as the reference (recall depends on it): the first per class.
        n_ref = args.n_reference // ds.n_classes
        small = np.concatenate([np.flatnonzero(syn_y == c)[:n_ref] for c in classes])
        fid_small = _fidelity(test_X, test_y, syn_X[small], syn_y[small], args.k)
        mem, _ = memorisation_report(syn_X, train_X, test_X)
        acc = {}
        for ratio in (1, 4):
            aug_X, aug_y = _synthetic(gan, ratio * args.per_class, method, args, train_X, train_y,
                                      classes, f"ratio{ratio}")
            acc[ratio] = _accuracies(np.concatenate([train_X, aug_X]), np.concatenate([train_y, aug_y]),
                                     test_X, test_y, args.seed)
        rows.append({"set": f"synthetic, select={method} ({len(syn_y)})",
                     **{m: fid[m] for m in ("precision", "recall", "class_precision", "class_recall")},
                     "distance_ratio": mem["distance_ratio"], "svc_r1": acc[1]["svc"],
                     "cnn_r1": acc[1]["cnn"], "svc_r4": acc[4]["svc"], "cnn_r4": acc[4]["cnn"]})
        rows.append({"set": f"synthetic, select={method} ({len(small)}, first per class)",
                     **{m: fid_small[m] for m in ("precision", "recall", "class_precision", "class_recall")}})
        details[method] = {"fidelity": fid, "fidelity_same_n_as_reference": fid_small,
                           "memorisation": mem, "accuracy_ratio_1": acc[1], "accuracy_ratio_4": acc[4],
                           "seconds": time.time() - t_m}

    table = pd.DataFrame(rows)
    print(f"builtin:digits, {args.per_class} train/class ({len(train)}), test {len(test)}, "
          f"k={args.k}, seed {args.seed}; generator fitted in {fit_seconds:.0f} s with {gan_params}")
    print("accuracy columns: real + synthetic at ratio 1 (r1) and ratio 4 (r4); the reference row "
          "holds real-only accuracy\n")
    print(md_table(table))
    write_json(args.out, {"args": vars(args), "synthaug_version": __version__, "gan_params": gan_params,
                          "fit_seconds": fit_seconds, "n_train": len(train), "n_test": len(test),
                          "n_reference": len(ref), "table": table.to_dict(orient="records"),
                          "details": details, "seconds": time.time() - t0})
    print(f"\nwrote {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
