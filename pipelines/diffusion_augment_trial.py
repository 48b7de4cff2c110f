"""Trial (not a feature): `synthaug augment` with LEAKING augmentation of the diffusion model's training batches.

Benchmarks section 13 compares the diffusion model's training-time augmentation
(``--augment-p``, non-leaking: the UNet is told which images were warped and samples
as "not warped") with the plain kind, where the warped images are simply training
data and the samples may come out warped too. This script patches synthaug's
diffusion loss from outside to warp each batch image with probability ``--p``
(:func:`synthaug.generators.diffusion.training.warp_batch`'s rotation of up to 10
degrees and shift of up to 10%, without telling the network), then runs the ordinary
CLI; it exists to reproduce that measurement::

    OMP_NUM_THREADS=1 python pipelines/diffusion_augment_trial.py --p 0.3 -- \\
        augment runs/digits100.npz --out runs/trial_s0 --seed 0 --accept-low-quality
    python pipelines/small_set.py score runs/trial_s0/augmented.npz runs/digits100.npz
"""

from __future__ import annotations

import argparse
import sys

from synthaug.cli import main as cli_main
from synthaug.generators.diffusion import training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.3, help="probability that an image is warped (0.3)")
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the synthaug command line")
    args = parser.parse_args()
    loss = training.diffusion_loss

    def leaking_loss(net, x0, labels, abar, gen, label_dropout, null_label, warped=None):
        x, _ = training.warp_batch(x0, gen, args.p)  # the flags are dropped: the network is not told
        return loss(net, x, labels, abar, gen, label_dropout, null_label)

    training.diffusion_loss = leaking_loss
    sys.argv = ["synthaug", *[a for a in args.cli if a != "--"]]
    cli_main()


if __name__ == "__main__":
    main()
