"""Benchmark: the GAN's regularisers, checkpoint selection and sample selection on BreastMNIST.

The reduced BreastMNIST ablation the quality issue asks for (the full recipe takes about
2 hours per setting). Official splits: the generator is fitted on the 546 training
images with its defaults plus ``--gan-param`` settings (what ``synthaug augment`` trains
at 28 x 28), the quality gate scores its snapshots against the 78 validation images and
picks one (:func:`synthaug.quality.assess_generator`), then for each ``--select`` method
one synthetic image per real training image (ratio 1, augment's default) is drawn and
the default CNN (20 epochs of batch 32, as ``pipelines/breastmnist.toml``) is trained on
the real images alone and on real + synthetic, for ``--cnn-seeds`` seeds, and scored on
the 156 test images (accuracy, balanced accuracy, ROC-AUC). Nothing from the test split
reaches the generator, the gate or the selection. ``--last-snapshot`` repeats the
first selection method with the generator's last snapshot instead of the gate's pick
(the checkpoint-selection ablation)::

    OMP_NUM_THREADS=1 python pipelines/breast_ablation.py --select none,coverage,covariance,critic \\
        --last-snapshot --out runs/babl/default_s0.json
    OMP_NUM_THREADS=1 python pipelines/breast_ablation.py --gan-param ada_target=0.6 --out runs/babl/ada_s0.json
    python pipelines/breast_ablation.py --table runs/babl
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import time
from pathlib import Path

import numpy as np

from synthaug import __version__
from synthaug.classifiers import CNNClassifier
from synthaug.data import load_dataset
from synthaug.experiment.arms import synthetic_counts
from synthaug.generators import ConditionalGAN
from synthaug.metrics import classification_metrics, memorisation_report
from synthaug.over_sampling.select import draw_selected
from synthaug.persistence import write_json
from synthaug.quality import assess_generator
from synthaug.seeding import derive_seed

_SCORES = ("accuracy", "balanced_accuracy", "roc_auc")


def _parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/breastmnist.npz")
    p.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    p.add_argument("--cnn-seeds", default="0,1,2", help="CNN seeds, comma-separated (0,1,2)")
    p.add_argument("--gan-param", action="append", default=[], metavar="KEY=VALUE",
                   help="a ConditionalGAN parameter, e.g. lecam=0.1 (repeatable)")
    p.add_argument("--select", default="coverage", help="comma-separated selection methods (coverage)")
    p.add_argument("--last-snapshot", action="store_true",
                   help="also score the first --select method on the last snapshot")
    p.add_argument("--out", help="JSON results file")
    p.add_argument("--table", type=Path, help="print the table of a folder of results and exit")
    return p.parse_args()


def _gan_params(items: list[str], seed: int) -> dict:
    params = {"random_state": seed, "device": "cpu"}
    for item in items:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    unknown = set(params) - set(ConditionalGAN().get_params())
    if unknown:
        raise SystemExit(f"ConditionalGAN has no parameter(s) {sorted(unknown)}.")
    return params


def _cnn_scores(X, y, X_test, y_test, seeds) -> list[dict]:
    out = []
    for s in seeds:
        cnn = CNNClassifier(epochs=20, batch_size=32, random_state=s, device="cpu").fit(X, y)
        out.append(classification_metrics(y_test, cnn.predict(X_test), cnn.predict_proba(X_test)))
    return [{k: float(m[k]) for k in _SCORES} for m in out]


def run(args) -> None:
    t0 = time.time()
    ds = load_dataset(args.data)
    X, y = np.asarray(ds.images), np.asarray(ds.labels)
    tr, va, te = (ds.split == s for s in ("train", "val", "test"))
    X_tr, y_tr, X_te, y_te = X[tr], y[tr], X[te], y[te]
    seeds = [int(s) for s in args.cnn_seeds.split(",")]
    params = _gan_params(args.gan_param, args.seed)
    t_fit = time.time()
    gan = ConditionalGAN(**params).fit(X_tr, y_tr)  # training rows only
    fit_seconds = time.time() - t_fit
    report = assess_generator(gan, X_tr, y_tr, X[va], y[va], random_state=args.seed)
    chosen = gan.snapshot_index_
    results = {"real": _cnn_scores(X_tr, y_tr, X_te, y_te, seeds)}
    methods = [m.strip() for m in args.select.split(",") if m.strip()]
    runs = [(m, chosen) for m in methods]
    if args.last_snapshot:
        runs.append((methods[0], len(gan.snapshots_) - 1))
    synthetic = {}
    counts = synthetic_counts(y_tr, 1.0)
    for method, snap in runs:
        gan.use_snapshot(snap)
        name = method if snap == chosen else f"{method}@last"
        X_syn, y_syn = draw_selected(gan, counts, derive_seed(args.seed, "ablation", method), select=method,
                                     real_X=X_tr, real_y=y_tr)
        mem, _ = memorisation_report(X_syn, X_tr, X_te)
        results[name] = _cnn_scores(np.concatenate([X_tr, X_syn]), np.concatenate([y_tr, y_syn]),
                                    X_te, y_te, seeds)
        synthetic[name] = {"snapshot": int(snap), "copy_ratio": float(mem["distance_ratio"])}
    gate = {k: float(report.metrics[k]) for k in ("precision", "recall", "coverage", "trts")}
    write_json(args.out, {"args": vars(args) | {"table": None}, "synthaug_version": __version__,
                          "gan_params": params, "fit_seconds": fit_seconds,
                          "gate": gate, "gate_passed": bool(report.passed), "gate_reference": report.reference,
                          "snapshots": report.snapshots, "selected_snapshot": chosen,
                          "synthetic": synthetic, "cnn": results, "seconds": time.time() - t0})
    print(f"wrote {args.out} ({time.time() - t0:.0f} s; generator {fit_seconds:.0f} s)")


def table(folder: Path) -> None:
    """One row per setting and selection: the gate's numbers (val split) and the test-split
    CNN differences real + synthetic minus real only, median [min, max] over CNN seeds."""
    print("| setting | selection | gate P / R / C / TRTS (snapshot) | passed | copy ratio | "
          "accuracy | balanced accuracy | ROC-AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(folder.glob("*.json")):
        r = json.loads(path.read_text())
        real = r["cnn"]["real"]
        for name, rows in r["cnn"].items():
            if name == "real":
                continue
            cells = []
            for k in _SCORES:
                d = [a[k] - b[k] for a, b in zip(rows, real)]
                cells.append(f"{statistics.median(d):+.3f} [{min(d):+.3f}, {max(d):+.3f}]")
            syn = r["synthetic"][name]
            g = r["snapshots"][syn["snapshot"]] if r["snapshots"] else r["gate"]
            gate = f"{g['precision']:.2f} / {g['recall']:.2f} / {g['coverage']:.2f} / {g['trts']:.2f}"
            snap = f"{gate} ({syn['snapshot'] + 1} of {len(r['snapshots'])})"
            print(f"| {path.stem} | {name} | {snap} | {'yes' if r['gate_passed'] else 'no'} | "
                  f"{syn['copy_ratio']:.2f} | " + " | ".join(cells) + " |")
    base = {k: statistics.median(a[k] for a in real) for k in _SCORES}  # the same real-only CNNs in every file
    print("| real only (medians) | - | - | - | - | " + " | ".join(f"{base[k]:.3f}" for k in _SCORES) + " |")


def main() -> None:
    args = _parse_args()
    if args.table:
        table(args.table)
    elif not args.out:
        raise SystemExit("--out is required (or --table FOLDER)")
    else:
        run(args)


if __name__ == "__main__":
    main()
