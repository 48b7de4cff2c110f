"""Benchmark: does a model trained by two processes (torchrun, DDP) make recognisable digits?

Trains ``builtin:digits`` with ``synthaug train`` under the same total budget (the same
seed, default steps and global batch) as

* ``single``: one process with torch's default threads (two on a two-core machine),
* ``single-1t``: one process with one thread (``OMP_NUM_THREADS=1``),
* ``ddp2``: ``torchrun --standalone --nproc_per_node 2`` (one thread per process,
  torchrun's default),

samples ``--n-per-class`` images per class from each with ``synthaug generate``, and
scores them with an RBF SVC trained on a stratified 75% of the real digits: the
fraction of samples it gives the class they were generated for (done means >= 0.90).
Wall time of the whole ``train`` command and the training seconds the model records
are reported per arm, plus the SVC's accuracy on the other 25% of the real digits.

    python pipelines/ddp_check.py --out runs/ddp_check
    python pipelines/ddp_check.py --out runs/ddp_check --arms ddp2 --steps 200   # a quick look

The numbers go into docs/benchmarks.md (section "Multi-process training").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from synthaug.data import load_dataset

ARMS = {
    "single": ([sys.executable, "-m", "synthaug"], {}),
    "single-1t": ([sys.executable, "-m", "synthaug"], {"OMP_NUM_THREADS": "1"}),
    "ddp2": ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "synthaug"], {}),
}


def real_classifier(seed: int) -> tuple[SVC, float]:
    """An SVC fitted on 75% of the real digits and its accuracy on the other 25%."""
    ds = load_dataset("builtin:digits")
    X = ds.images.reshape(len(ds.images), -1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, ds.labels, test_size=0.25, stratify=ds.labels, random_state=seed)
    clf = SVC(gamma="scale").fit(X_tr, y_tr)
    return clf, float(np.mean(clf.predict(X_te) == y_te))


def run_arm(name: str, out: Path, args: argparse.Namespace, clf: SVC) -> dict:
    prefix, extra_env = ARMS[name]
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS")}
    env.update(extra_env)
    model = out / name
    budget = ["--steps", str(args.steps)] if args.steps else []
    cmd = [*prefix, "train", "builtin:digits", "--out", str(model), "--seed", str(args.seed), "--no-progress",
           "--overwrite", *budget]
    print(f"[{name}] {' '.join(cmd[1:] if cmd[0] == sys.executable else cmd)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    meta = json.loads((model / "model" / "generator.json").read_text())
    config = json.loads((model / "config.json").read_text())
    gen_dir = out / f"{name}-samples"
    subprocess.run([sys.executable, "-m", "synthaug", "generate", str(model), "--n-per-class", str(args.n_per_class),
                    "--out", str(gen_dir), "--seed", str(args.seed + 1), "--overwrite"], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    with np.load(gen_dir / "synthetic.npz", allow_pickle=False) as z:
        X = z["images"].reshape(len(z["images"]), -1).astype(np.float32) / 255.0
        y = z["labels"]
    pred = clf.predict(X)
    per_class = [float(np.mean(pred[y == k] == k)) for k in np.unique(y)]
    quality = config["options"].get("quality") or {}
    return {
        "arm": name, "world_size": config["options"].get("world_size", 1), "wall_seconds": round(wall, 1),
        "train_seconds": round(float(meta["train_seconds"]), 1), "steps": meta["budget"]["steps"],
        "batch_size": meta["budget"]["batch_size"], "epochs": meta["budget"]["epochs"],
        "recognised": round(float(np.mean(pred == y)), 3), "worst_class": round(min(per_class), 3),
        "gate_passed": quality.get("passed"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ddp_check"))
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--steps", type=int, default=None, help="generator steps (default: the budget rule)")
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clf, real_acc = real_classifier(args.seed)
    print(f"SVC on real digits: {real_acc:.3f} on the held-out 25%", flush=True)
    rows = []
    for name in args.arms:
        rows.append(run_arm(name, args.out, args, clf))
        print(json.dumps(rows[-1]), flush=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(),
               "nproc": os.cpu_count(), "load_average_after": load, "svc_real_accuracy": round(real_acc, 3),
               "arms": rows}
    (args.out / "ddp_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("| arm | processes | steps (batch) | train s | wall s | recognised | worst class | gate |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['arm']} | {r['world_size']} | {r['steps']} ({r['batch_size']}) | {r['train_seconds']} | "
              f"{r['wall_seconds']} | {r['recognised']:.3f} | {r['worst_class']:.3f} | "
              f"{'passed' if r['gate_passed'] else 'failed'} |")
    for name in args.arms:
        shutil.rmtree(args.out / f"{name}-samples", ignore_errors=True)


if __name__ == "__main__":
    main()
