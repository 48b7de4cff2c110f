"""Trial (not a feature): `synthaug augment` with affine augmentation of the diffusion model's training batches.

Benchmarks section 13 asks whether warping the training images (a random rotation of
up to ROT degrees and a shift of up to SHIFT x the image size, each image with
probability P) keeps the diffusion model on 10 digits per class from drawing near-copies
of its training digits. ``--leaking`` trains on the warped images as they are (the
samples may come out warped too); without it the warp is "non-leaking" (Karras et al.
2020/2022): the denoiser gets a learned embedding saying which images were warped and
samples are drawn with it off. This script patches synthaug's diffusion training from
outside (the loss and the UNet's time embedding) and then runs the ordinary CLI, so the
model it writes cannot be loaded again; it is here to reproduce the measurement::

    OMP_NUM_THREADS=1 python pipelines/diffusion_augment_trial.py --p 0.5 --rot 10 --shift 0.1 -- \\
        augment runs/digits100.npz --out runs/trial_s0 --seed 0 --accept-low-quality
    python pipelines/small_set.py score runs/trial_s0/augmented.npz runs/digits100.npz
"""

from __future__ import annotations

import argparse
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from synthaug.cli import main as cli_main
from synthaug.generators.diffusion import training, unet


class _Flagged(nn.Module):
    """The UNet's time MLP plus a zero-initialised embedding of "this image was warped"."""

    def __init__(self, mlp: nn.Module, dim: int):
        super().__init__()
        self.mlp = mlp
        self.aug = nn.Embedding(2, dim)
        nn.init.zeros_(self.aug.weight)
        self.flags = None  # (B,) int64 while training; None when sampling (= not warped)

    def forward(self, x):
        out = self.mlp(x)
        return out if self.flags is None else out + self.aug(self.flags)


def _warp(x0, gen, p, rot, shift):
    """Each image warped with probability ``p``; returns the batch and the (B,) flags."""
    b = x0.shape[0]
    u = torch.rand((b, 3), generator=gen, device=x0.device) * 2 - 1
    on = torch.rand(b, generator=gen, device=x0.device) < p
    ang = u[:, 0] * math.radians(rot)
    c, s = torch.cos(ang), torch.sin(ang)
    tx, ty = u[:, 1] * shift * 2, u[:, 2] * shift * 2  # affine_grid works in [-1, 1]
    theta = torch.stack([torch.stack([c, -s, tx], 1), torch.stack([s, c, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x0.shape), align_corners=False)
    warped = F.grid_sample(x0, grid, mode="bilinear", padding_mode="border", align_corners=False).clamp(0, 1)
    return torch.where(on[:, None, None, None], warped, x0), on.long()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.5, help="probability that an image is warped")
    parser.add_argument("--rot", type=float, default=10.0, help="largest rotation, degrees")
    parser.add_argument("--shift", type=float, default=0.1, help="largest shift, fraction of the size")
    parser.add_argument("--leaking", action="store_true", help="do not tell the denoiser which were warped")
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the synthaug command line")
    args = parser.parse_args()
    loss = training.diffusion_loss
    if not args.leaking:
        init = unet.DiffusionUNet.__init__

        def flagged_init(self, *a, **k):
            init(self, *a, **k)
            self.time_mlp = _Flagged(self.time_mlp, self.time_mlp[-1].out_features)

        unet.DiffusionUNet.__init__ = flagged_init

    def warped_loss(net, x0, labels, abar, gen, label_dropout, null_label):
        x, flags = _warp(x0, gen, args.p, args.rot, args.shift)
        if args.leaking:
            return loss(net, x, labels, abar, gen, label_dropout, null_label)
        net.time_mlp.flags = flags
        try:
            return loss(net, x, labels, abar, gen, label_dropout, null_label)
        finally:
            net.time_mlp.flags = None

    training.diffusion_loss = warped_loss
    sys.argv = ["synthaug", *[a for a in args.cli if a != "--"]]
    cli_main()


if __name__ == "__main__":
    main()
