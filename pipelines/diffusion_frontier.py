"""Benchmark: recall against copying for the diffusion model on 10 digits per class.

Two questions about the issue's targets (recall >= 0.6 at precision >= 0.85, copy ratio
>= 0.7, both measured as ``small_set.py score`` does):

``snapshots`` fits ``ConditionalDiffusion`` with its defaults on the rows ``synthaug
augment`` would fit on (the same stratified hold-back of 20%, same seed) and keeps
``--snapshots`` snapshots; each is sampled through ``coverage`` selection from a pool of 8
per kept sample, at each ``--guidance`` scale, ``--draws`` times, and scored against the
test digits. Shows how recall and copying move together as training goes on
(``--dropout``, ``--steps``, ``--augment-p``: other training settings)::

    python pipelines/diffusion_frontier.py snapshots runs/digits100.npz --seed 0
    python pipelines/diffusion_frontier.py snapshots runs/digits100.npz --seed 0 --dropout 0.5 --steps 2000

``sampler`` loads a saved model (an ``augment`` output folder) and scores sampling
settings ``eta:guidance:steps``: DDIM's ``eta`` (0 deterministic, 1 the DDPM amount of
fresh noise per step) is not a parameter of ``ConditionalDiffusion``; this script passes
it to the sampler from outside, to measure whether it should be::

    python pipelines/diffusion_frontier.py sampler runs/ap/pf8-s0 runs/digits100.npz \\
        --grid 0:1:25,0.5:1:25,0:1.5:25,0.5:1.5:25

``selection`` loads a saved model and scores what happens after training, cell by cell
``temperature:pool:guard``: the DDIM start noise scaled by ``temperature`` (not a
parameter of ``ConditionalDiffusion``; patched in from here as ``eta`` is), the
``coverage`` pool factor and its copy guard; ``--reference fit`` selects against the
rows the model was fitted on (what ``augment`` does: the gate's hold-back of 20% left
out, same seed), ``all`` against every training row. Draw ``d`` uses random_state ``d``,
so draw 0 with ``1:8:0 --reference fit`` reproduces ``augment --seed 0``'s rows::

    python pipelines/diffusion_frontier.py selection runs/dr/d0.5-s0 runs/digits100.npz \
        --grid 1:8:0,1.05:16:0.7 --reference all --draws 4

Each line prints the median over draws of precision, recall, copy ratio and the RBF SVC's
gain (real + synthetic minus real only, in points).
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
import torch
from small_set import SmallSet  # pipelines/ is on the path when this file runs as a script

from synthaug.generators import ConditionalDiffusion, load_model
from synthaug.generators.diffusion import estimator
from synthaug.generators.diffusion.schedule import ddim_sample
from synthaug.over_sampling import draw_selected
from synthaug.quality.holdout import holdout_split


def _median_score(model, data: SmallSet, draws: int, *, first_seed: int = 100, pool_factor: float = 8,
                  copy_guard: float = 0.0, rows: np.ndarray | None = None) -> np.ndarray:
    """Median over ``draws`` of ``data.score`` of 10 per class drawn through ``coverage``
    selection against the training rows ``rows`` (all by default); draw ``d`` uses seed
    ``first_seed + d``."""
    rows = np.arange(len(data.y_train)) if rows is None else rows
    counts = {int(c): 10 for c in np.unique(data.y_train)}
    scores = [data.score(*draw_selected(model, counts, first_seed + draw, select="coverage", pool_factor=pool_factor,
                                        real_X=data.images()[rows], real_y=data.y_train[rows], copy_guard=copy_guard))
              for draw in range(draws)]
    return np.median(np.array(scores), axis=0)


def _line(label: str, m: np.ndarray) -> str:
    return f"{label}: precision {m[0]:.3f}, recall {m[1]:.3f}, copy ratio {m[2]:.2f}, SVC {m[3]:+.1f} points"


def snapshots(args) -> None:
    data = SmallSet(args.data)
    fit, _ = holdout_split(data.y_train, "auto", random_state=args.seed)
    extra = {} if args.dropout is None else {"dropout": args.dropout}  # None: the estimator's default
    model = ConditionalDiffusion(random_state=args.seed, n_snapshots=args.snapshots, augment_p=args.augment_p,
                                 steps=args.steps, **extra)
    model.fit(data.images()[fit], data.y_train[fit])
    print(f"fitted on {len(fit)} rows: {model.budget_['rule']}", flush=True)
    for i, snap in enumerate(model.snapshots_):
        model.use_snapshot(i)
        for g in (float(v) for v in args.guidance.split(",")):
            model.guidance_scale = g
            print(_line(f"snapshot {i} (step {snap['step']}), guidance {g:g}", _median_score(model, data, args.draws)),
                  flush=True)


def sampler(args) -> None:
    data = SmallSet(args.data)
    model = load_model(f"{args.run}/model", device="cpu")
    for cell in args.grid.split(","):
        eta, g, steps = (float(v) for v in cell.split(":"))
        model.guidance_scale, model.sample_steps = g, int(steps)
        # the patch from outside: every DDIM call of this model gets eta and one noise stream
        estimator.ddim_sample = functools.partial(ddim_sample, eta=eta, gen=torch.Generator().manual_seed(1000))
        print(_line(f"{args.run} eta {eta:g}, guidance {g:g}, {int(steps)} steps", _median_score(model, data, args.draws)),
              flush=True)
    estimator.ddim_sample = ddim_sample


def selection(args) -> None:
    data = SmallSet(args.data)
    model = load_model(f"{args.run}/model", device="cpu")
    rows = (np.arange(len(data.y_train)) if args.reference == "all"
            else holdout_split(data.y_train, "auto", random_state=args.seed)[0])
    for cell in args.grid.split(","):
        temperature, pool, guard = (float(v) for v in cell.split(":"))
        # the patch from outside: DDIM starts from temperature x the usual noise
        estimator.ddim_sample = lambda net, noise, *a, t=temperature, **k: ddim_sample(net, noise * t, *a, **k)
        scores = _median_score(model, data, args.draws, first_seed=0, pool_factor=pool, copy_guard=guard, rows=rows)
        print(_line(f"{args.run} temperature {temperature:g}, pool {pool:g}, guard {guard:g}, "
                    f"reference {args.reference}", scores), flush=True)
    estimator.ddim_sample = ddim_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("snapshots", help="score every training snapshot of a default fit")
    s.add_argument("data", help="a small_set.py make file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--snapshots", type=int, default=8)
    s.add_argument("--guidance", default="1,1.5")
    s.add_argument("--augment-p", type=float, default=0.0)
    s.add_argument("--steps", type=int, default=None, help="training steps (default: the budget rule)")
    s.add_argument("--dropout", type=float, default=None, help="the UNet's dropout (default: the estimator's)")
    s.add_argument("--draws", type=int, default=2)
    s.set_defaults(func=snapshots)
    m = sub.add_parser("sampler", help="score sampling settings on a saved model")
    m.add_argument("run", help="an augment output folder (its model/ is loaded)")
    m.add_argument("data", help="the small_set.py make file it was trained on")
    m.add_argument("--grid", default="0:1:25,0.5:1:25,0:1.5:25,0.5:1.5:25")
    m.add_argument("--draws", type=int, default=3)
    m.set_defaults(func=sampler)
    c = sub.add_parser("selection", help="score start-noise temperature, pool, copy guard and reference rows")
    c.add_argument("run", help="an augment output folder (its model/ is loaded)")
    c.add_argument("data", help="the small_set.py make file it was trained on")
    c.add_argument("--grid", default="1:8:0,1.05:16:0.7")
    c.add_argument("--reference", choices=("fit", "all"), default="fit")
    c.add_argument("--seed", type=int, default=0, help="the augment run's --seed (its hold-back)")
    c.add_argument("--draws", type=int, default=4)
    c.set_defaults(func=selection)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
