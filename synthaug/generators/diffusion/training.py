"""One denoiser as a unit of the shared :class:`~synthaug.generators.trainer.Trainer`.

The trainer (checkpoints, snapshots, time budget, rollback on NaN, bit-identical
resume) is the GAN's; this module supplies what differs: an epoch of denoising steps
(random batches of the training set, a timestep and a noise draw per image, labels
dropped to the null label with probability ``label_dropout`` for classifier-free
guidance) and an EMA copy of the network for sampling.

With ``augment_p > 0`` each batch image is, with that probability, rotated by up to
:data:`WARP_ROTATION` degrees and shifted by up to :data:`WARP_SHIFT` of its size
(:func:`warp_batch`), and the network is told which ones were ("non-leaking"
augmentation, Karras et al. 2020 and 2022): it learns from the warped images without
learning to draw warped ones, since sampling says "not warped". On tiny sets it slows
the memorisation of the training images (docs/benchmarks.md section 13).

Randomness: each epoch draws from its own ``torch.Generator`` seeded by the trainer
from ``(seed, unit, epoch, rollbacks)``, in this order per epoch: the permutation,
then per batch the warp (``augment_p > 0`` only: flags, angles, shifts), the
timesteps, the noise and the label-dropout mask. With ``dropout > 0`` (the UNet's own
dropout, which draws from torch's global generator) each batch's forward pass runs with
that generator seeded from ``(epoch seed, "dropout", batch)`` inside ``fork_rng``, so a
fit is reproducible, a resume bit-identical, and the caller's global RNG untouched.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...data.augment import affine_theta
from ...seeding import derive_seed, torch_generator
from ..trainer import _clone, update_ema
from .schedule import diffusion_loss

__all__ = ["DenoiserUnit", "DiffusionConfig", "warp_batch"]

#: The largest rotation (degrees) and shift (fraction of the size) of training-time augmentation.
WARP_ROTATION = 10.0
WARP_SHIFT = 0.1


def warp_batch(x: torch.Tensor, gen: torch.Generator, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image of ``x`` rotated and shifted at random with probability ``p``.

    Draws from ``gen``, in this order: the flags ``(B,)``, the angles ``(B,)``, the
    shifts ``(B, 2)`` (all of them, whatever the flags). Bilinear resampling, borders
    repeated, the result clipped to ``[0, 1]``.

    Shape
    -----
    x : ``(B, C, H, W)`` in ``[0, 1]``; returns the batch ``(B, C, H, W)`` and the flags
    ``(B,)`` int64 (1: warped).
    """
    b, c, h, w = x.shape
    flags = torch.rand(b, generator=gen, device=x.device) < p  # (B,)
    angle = (torch.rand(b, generator=gen, device=x.device) * 2 - 1) * math.radians(WARP_ROTATION)
    shift = (torch.rand((b, 2), generator=gen, device=x.device) * 2 - 1) * (2 * WARP_SHIFT)
    grid = F.affine_grid(affine_theta(angle, shift, h, w), [b, c, h, w], align_corners=False)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False).clamp_(0.0, 1.0)
    return torch.where(flags[:, None, None, None], warped, x), flags.long()


@dataclass(frozen=True)
class DiffusionConfig:
    """Resolved training settings of one denoiser."""

    epochs: int
    batch_size: int
    label_dropout: float
    ema_decay: float | None
    max_rollbacks: int
    null_label: int
    augment_p: float = 0.0
    dropout: float = 0.0


@contextlib.contextmanager
def _seeded_dropout(dropout: float, seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG, which the UNet's dropout draws from, for one forward pass,
    and restore the caller's state afterwards (nothing to do without dropout)."""
    if dropout <= 0:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


class DenoiserUnit:
    """A denoising network, its optional EMA copy and its Adam optimiser.

    ``abar`` ``(T,)`` is the noise schedule on the training device.
    """

    NAME = "diffusion"
    DIVERGENCE_HINT = "Try a lower lr."

    def __init__(self, net: nn.Module, ema: nn.Module | None, abar: torch.Tensor, *, lr: float):
        self.net = net
        self.ema = ema
        self.abar = abar
        if ema is not None:
            ema.load_state_dict(net.state_dict())
            ema.eval().requires_grad_(False)
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.steps = 0
        self.rollbacks = 0
        self.streak = 0

    @property
    def sampler(self) -> nn.Module:
        """The network used for sampling: the EMA copy when there is one."""
        return self.ema if self.ema is not None else self.net

    @property
    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    # -- the Trainer's interface
    def run_epoch(self, images: torch.Tensor, labels: torch.Tensor | None, cfg: DiffusionConfig,
                  seed: int, *, rank: int = 0, world_size: int = 1) -> tuple[list[float], int]:
        """One pass over ``images`` in random batches (the last incomplete one dropped).

        One process only (``world_size`` must be 1: the estimator refuses torchrun).

        Shape
        -----
        images : ``(N, C, H, W)`` in ``[0, 1]`` on the device; labels : ``(N,)`` or None.
        """
        if world_size != 1:
            raise RuntimeError("the diffusion unit trains in one process only")
        gen = torch_generator(seed, images.device)
        n = images.shape[0]
        bs = min(cfg.batch_size, n)
        n_batches = n // bs
        perm = torch.randperm(n, generator=gen, device=images.device)
        total = torch.zeros((), device=images.device)
        self.net.train()
        for i in range(n_batches):
            idx = perm[i * bs:(i + 1) * bs]
            x, warped = images[idx], None
            if cfg.augment_p > 0:
                x, warped = warp_batch(x, gen, cfg.augment_p)
            y = None if labels is None else labels[idx]
            with _seeded_dropout(cfg.dropout, derive_seed(seed, "dropout", i), images.device):
                loss = diffusion_loss(self.net, x, y, self.abar, gen, cfg.label_dropout, cfg.null_label, warped)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.steps += 1
            if self.ema is not None:
                self.update_ema(cfg.ema_decay)
            total += loss.detach()
        return [float(total / n_batches)], n_batches * bs

    def history_row(self, stats: list[float]) -> dict[str, float]:
        return {"loss": stats[0], "lr": self.lr}

    def collapsed(self, stats: list[float]) -> bool:
        """A denoiser has no adversary to lose to: only non-finite losses roll back."""
        return False

    def collapse_reason(self, stats: list[float]) -> str:  # never called: collapsed() is False
        return "collapse"

    def halve_lrs(self) -> dict[str, float]:
        lr = self.lr / 2.0
        for group in self.opt.param_groups:
            group["lr"] = lr
        return {"lr": lr}

    def update_ema(self, decay: float) -> None:
        update_ema(self.ema, self.net, decay, self.steps)  # the GAN's EMA, warm-up included (no buffers)

    def state(self) -> dict[str, Any]:
        return _clone({
            "net": self.net.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "steps": self.steps,
            "rollbacks": self.rollbacks,
            "streak": self.streak,
        })

    def load_state(self, state: dict[str, Any]) -> None:
        state = _clone(state)
        self.net.load_state_dict(state["net"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.steps = int(state["steps"])
        self.rollbacks = int(state["rollbacks"])
        self.streak = int(state["streak"])
