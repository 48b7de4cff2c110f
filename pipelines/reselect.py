"""Benchmark: the same saved generator, each sample-selection method, scored on the test digits.

Loads the model of a `synthaug augment` run on a `small_set.py make` file and draws 10
samples per class with each `--select` method (pool factor 4), scoring each set as
`small_set.py score` does (precision/recall k = 3, copy ratio, RBF SVC)::

    python pipelines/reselect.py runs/d100_ddpm_s1 runs/digits100_s1.npz
"""
import sys, numpy as np, torch
torch.set_num_threads(1)
from synthaug.generators import load_model
from synthaug.over_sampling import draw_selected
from synthaug.metrics import prdc
from sklearn.svm import SVC
from sklearn.neighbors import NearestNeighbors
run, data = sys.argv[1], sys.argv[2]
m = load_model(f"{run}/model", device="cpu")
with np.load(data) as t:
    Xtr = t["train_images"].reshape(100, -1)/255.0; ytr = t["train_labels"]; Xte = t["test_images"].reshape(len(t["test_images"]), -1)/255.0; yte = t["test_labels"]
nn_ = NearestNeighbors(n_neighbors=1).fit(Xtr); dr = np.median(nn_.kneighbors(Xte)[0])
real = SVC().fit(Xtr, ytr).score(Xte, yte)
for sel in ["none", "coverage", "covariance", "random"]:
    Xs, ys = draw_selected(m, {c: 10 for c in range(10)}, 0, select=sel, pool_factor=4, real_X=Xtr.reshape(-1,1,8,8).astype(np.float32), real_y=ytr)
    S = Xs.reshape(len(Xs), -1)
    pr = prdc(Xte, S, k=3); ratio = np.median(nn_.kneighbors(S)[0]) / dr
    mix = SVC().fit(np.vstack([Xtr, S]), np.r_[ytr, ys]).score(Xte, yte)
    print(f"{run} {sel:<10} P {pr['precision']:.3f} R {pr['recall']:.3f} copy {ratio:.2f} svc {real:.3f}->{mix:.3f}", flush=True)
