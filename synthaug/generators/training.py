"""The adversarial training unit: one step, one epoch, and the GANPair that the Trainer drives.

Design notes
------------
* Lean: the training images live as one tensor on the device; an epoch is a random
  permutation of row indices cut into batches. No DataLoader, no per-sample Python.
* Each iteration draws one fake batch and uses it for both steps (PyTorch's DCGAN
  recipe): a discriminator step on ``[real, fake.detach()]`` (real labelled 1, fake 0),
  then a generator step through the discriminator with its parameters frozen
  (``requires_grad_(False)``; only the generator's optimiser steps).
* Randomness: every epoch gets its own ``torch.Generator`` seeded from
  ``(seed, pair, epoch, rollbacks)``, used for the permutation, the noise and
  DiffAugment. So a run resumed at an epoch boundary replays exactly the same random
  numbers as an uninterrupted run, and no RNG state has to be saved.
* Reliability: after every epoch the trainer keeps an in-memory snapshot. NaN/inf
  losses, or a discriminator that wins outright for ``COLLAPSE_PATIENCE`` epochs in a
  row, roll back to the last healthy snapshot with both learning rates halved, up to
  ``max_rollbacks`` times per network pair.

The loop over epochs (position, checkpoints, snapshots, time budget, rollback) is the
unit-agnostic :class:`~synthaug.generators.trainer.Trainer`; a :class:`GANPair` is one
of its units. ``Trainer`` is re-exported here.

* Several processes (``torchrun``; see :mod:`.distributed`): ``batch_size`` is the
  global batch. Every rank draws the epoch's permutation from the epoch's seed, takes
  its slice of each global batch (:func:`~.distributed.shard_batches`) and draws its
  noise and DiffAugment from its own stream ``derive_seed(epoch seed, "rank", rank)``.
  The networks are wrapped in DDP (gradients averaged; ``GANPair.distribute``); the
  epoch's statistics, LeCam anchors and ADA's sign counts are averaged or summed over
  the ranks, so every rank takes the same rollback and ADA decisions, and the
  generators' BatchNorm statistics are averaged at the end of each epoch: the ranks
  hold the same state after every epoch. With one process nothing of this runs and the
  random streams are unchanged. (Only GAN pairs take part; the diffusion unit refuses
  ``world_size > 1``.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..seeding import derive_seed, torch_generator
from . import distributed as dist
from . import losses
from . import regularisers as reg
from .diffaugment import diff_augment
from .trainer import COLLAPSE_PATIENCE, Trainer, _clone, update_ema

__all__ = ["HISTORY_COLUMNS", "GANPair", "TrainConfig", "Trainer", "run_epoch", "train_step"]

logger = logging.getLogger(__name__)

#: Columns of a fitted generator's ``history_`` (one row per epoch).
HISTORY_COLUMNS = ["epoch", "loss_d", "loss_g", "d_real", "d_fake", "lr_g", "lr_d"]

#: A discriminator "wins outright" when mean D(x) - mean D(G(z)) exceeds this ...
COLLAPSE_GAP = 0.99
#: ... or its loss falls below this (both losses are >= 0 and ~1.4 / ~2 at balance) ...
COLLAPSE_LOSS = 1e-3


@dataclass(frozen=True)
class TrainConfig:
    """Resolved training settings (validated by the estimator)."""

    loss: str
    epochs: int
    batch_size: int
    latent_dim: int
    policy: tuple[str, ...]
    ema_decay: float | None
    max_rollbacks: int
    #: Weight of the mode-seeking term in the generator loss (0: off).
    mode_seeking: float = 0.0
    #: Weight of LeCam regularisation in the discriminator loss (0: off).
    lecam: float = 0.0
    #: ADA's target for E[sign(D(x))]; None: DiffAugment always applied.
    ada_target: float | None = None


class GANPair:
    """A generator, its discriminator, optional EMA copy of the generator, two Adam optimisers.

    ``steps`` counts generator updates (drives the EMA warm-up), ``rollbacks`` and
    ``streak`` (consecutive collapsed epochs) drive divergence handling. The state of
    the diversity regularisers (see :mod:`.regularisers`) is None until first used:
    ``lecam_anchors`` ``(2,)`` (EMA of mean D(x), mean D(G(z))), ``ada_p`` ``()`` (the
    augmentation probability) and ``ada_signs`` ``(2,)`` (sum of sign(D(x)) and count
    since the last adjustment).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, ema: nn.Module | None,
                 *, lr_g: float, lr_d: float, betas: tuple[float, float]):
        self.generator = generator
        self.discriminator = discriminator
        self.ema = ema
        # The modules the training step calls: DDP wrappers under torchrun (distribute).
        self.g_train: nn.Module = generator
        self.d_train: nn.Module = discriminator
        if ema is not None:
            ema.load_state_dict(generator.state_dict())
            ema.eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=tuple(betas))
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=tuple(betas))
        self.steps = 0
        self.rollbacks = 0
        self.streak = 0
        self.lecam_anchors: torch.Tensor | None = None
        self.ada_p: torch.Tensor | None = None
        self.ada_signs: torch.Tensor | None = None

    #: How logs and errors name this kind of unit.
    NAME = "GAN"

    def distribute(self, device: torch.device) -> None:
        """Wrap the generator and the discriminator in DDP (separately) for multi-process training."""
        self.g_train = dist.wrap_ddp(self.generator, device)
        self.d_train = dist.wrap_ddp(self.discriminator, device)

    def sync_buffers(self) -> None:
        """Average the generators' BatchNorm statistics over the ranks (no-op for one process).

        The discriminator's buffers (spectral-norm vectors) need nothing: they follow
        the weights, which DDP keeps identical.
        """
        dist.average_buffers(self.generator, self.ema)

    @property
    def sampler(self) -> nn.Module:
        """The network used for sampling: the EMA copy when there is one."""
        return self.ema if self.ema is not None else self.generator

    # -- the Trainer's interface
    def run_epoch(self, images: torch.Tensor, labels: torch.Tensor | None, cfg: "TrainConfig",
                  seed: int, *, rank: int = 0, world_size: int = 1) -> tuple[list[float], int]:
        """One epoch (see :func:`run_epoch`): ``(loss_d, loss_g, d_real, d_fake)`` and images seen."""
        return run_epoch(self, images, labels, cfg, seed, rank=rank, world_size=world_size)

    def history_row(self, stats: list[float]) -> dict[str, float]:
        loss_d, loss_g, d_real, d_fake = stats
        lr_g, lr_d = self.lrs
        return {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake,
                "lr_g": lr_g, "lr_d": lr_d, **self.history_extras()}

    def collapsed(self, stats: list[float]) -> bool:
        """The discriminator won outright this epoch."""
        loss_d, _, d_real, d_fake = stats
        return d_real - d_fake > COLLAPSE_GAP or loss_d < COLLAPSE_LOSS

    def collapse_reason(self, stats: list[float]) -> str:
        loss_d, _, d_real, d_fake = stats
        return (f"discriminator collapse for {COLLAPSE_PATIENCE} epochs "
                f"(D(x) - D(G(z)) = {d_real - d_fake:.3f}, loss_d = {loss_d:.2g})")

    def halve_lrs(self) -> dict[str, float]:
        """Halve both learning rates; the new ones, for the rollback log."""
        lr_g, lr_d = self.lrs
        self.set_lrs(lr_g / 2.0, lr_d / 2.0)
        return {"lr_g": lr_g / 2.0, "lr_d": lr_d / 2.0}

    @property
    def lrs(self) -> tuple[float, float]:
        return float(self.opt_g.param_groups[0]["lr"]), float(self.opt_d.param_groups[0]["lr"])

    def set_lrs(self, lr_g: float, lr_d: float) -> None:
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d

    def history_extras(self) -> dict[str, float]:
        """Extra per-epoch history columns: ``ada_p`` once adaptive augmentation runs."""
        return {} if self.ada_p is None else {"ada_p": float(self.ada_p)}

    def update_ema(self, decay: float) -> None:
        update_ema(self.ema, self.generator, decay, self.steps)
        with torch.no_grad():
            for e, b in zip(self.ema.buffers(), self.generator.buffers()):
                e.copy_(b)  # BatchNorm statistics follow the live generator

    def state(self) -> dict[str, Any]:
        """A detached copy of everything needed to continue training exactly."""
        return _clone({
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "steps": self.steps,
            "rollbacks": self.rollbacks,
            "streak": self.streak,
            "lecam_anchors": self.lecam_anchors,
            "ada_p": self.ada_p,
            "ada_signs": self.ada_signs,
        })

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` (copies, so the snapshot stays usable afterwards)."""
        state = _clone(state)
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.steps = int(state["steps"])
        self.rollbacks = int(state["rollbacks"])
        self.streak = int(state["streak"])
        device = next(self.generator.parameters()).device  # checkpoints are read onto the CPU
        for key in ("lecam_anchors", "ada_p", "ada_signs"):
            value = state.get(key)  # absent in checkpoints written before these existed
            setattr(self, key, None if value is None else value.to(device))


def train_step(pair: GANPair, real: torch.Tensor, labels: torch.Tensor | None,
               gen: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """One discriminator step then one generator step on a batch.

    Shape
    -----
    real : ``(B, C, H, W)`` in ``[0, 1]``; labels : ``(B,)`` int64 or None.
    returns : ``(4,)`` detached: loss_d, loss_g, mean D(x), mean D(G(z)) (probabilities).

    The diversity switches of ``cfg`` (all off by default, and then nothing extra is
    computed or drawn from ``gen``): ``lecam`` adds LeCam regularisation to the
    discriminator loss, ``mode_seeking`` adds the mode-seeking term to the generator
    loss (a second noise batch, drawn right after the first, with the same labels),
    and ``ada_target`` applies DiffAugment with the adaptive probability ``pair.ada_p``.
    """
    G, D = pair.g_train, pair.discriminator  # G: DDP under torchrun; D's G-step pass is local
    b = real.shape[0]
    z = torch.randn(b, cfg.latent_dim, generator=gen, device=real.device)  # (B, Z)
    z2 = None
    if cfg.mode_seeking > 0:
        z2 = torch.randn(b, cfg.latent_dim, generator=gen, device=real.device)  # (B, Z)
    fake = G(z, labels)  # (B, C, H, W); the fakes reuse the real batch's labels
    ada = cfg.ada_target is not None
    if ada and pair.ada_p is None:
        pair.ada_p = torch.zeros((), device=real.device)  # ADA starts without augmentation
        pair.ada_signs = torch.zeros(2, device=real.device)
    p = pair.ada_p if ada else None

    # Discriminator step: one pass over real and fake together (no BatchNorm in D).
    both = torch.cat([real, fake.detach()])  # (2B, C, H, W)
    both_labels = None if labels is None else torch.cat([labels, labels])
    if cfg.policy:
        both = diff_augment(both, cfg.policy, gen, p)
    logits = pair.d_train(both, both_labels)  # (2B,); DDP under torchrun averages D's gradients
    real_logits, fake_logits = logits[:b], logits[b:]
    loss_d = losses.discriminator_loss(real_logits, fake_logits, cfg.loss)
    if cfg.lecam > 0:
        # Under torchrun: the anchors of the global batch, the same on every rank.
        pair.lecam_anchors = dist.all_reduce_mean(reg.update_anchors(pair.lecam_anchors, real_logits, fake_logits))
        loss_d = loss_d + cfg.lecam * reg.lecam_loss(real_logits, fake_logits, pair.lecam_anchors)
    pair.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    pair.opt_d.step()
    if ada:
        with torch.no_grad():
            signs = torch.stack([real_logits.sign().sum(), real_logits.new_tensor(b)])
            pair.ada_signs = pair.ada_signs + dist.all_reduce_sum(signs)  # global counts under torchrun

    # Generator step with D frozen: gradients flow through D into G only.
    D.requires_grad_(False)
    try:
        seen = diff_augment(fake, cfg.policy, gen, p) if cfg.policy else fake
        loss_g = losses.generator_loss(D(seen, labels), cfg.loss)
        if z2 is not None:
            loss_g = loss_g + cfg.mode_seeking * reg.mode_seeking_loss(fake, G(z2, labels), z, z2)
        pair.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        pair.opt_g.step()
    finally:
        D.requires_grad_(True)
    pair.steps += 1
    if ada and pair.steps % reg.ADA_INTERVAL == 0:
        with torch.no_grad():
            pair.ada_p = reg.ada_adjust(pair.ada_p, pair.ada_signs, cfg.ada_target)
            pair.ada_signs = torch.zeros_like(pair.ada_signs)
    if pair.ema is not None:
        pair.update_ema(cfg.ema_decay)
    with torch.no_grad():
        return torch.stack([
            loss_d.detach(), loss_g.detach(),
            torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean(),
        ])


def run_epoch(pair: GANPair, images: torch.Tensor, labels: torch.Tensor | None,
              cfg: TrainConfig, seed: int, *, rank: int = 0, world_size: int = 1) -> tuple[list[float], int]:
    """One pass over ``images`` in random batches; returns mean stats and images seen.

    The last incomplete batch is dropped (when there is more than one batch), so all
    batches have the same size. A dataset smaller than ``batch_size`` is one batch.

    With ``world_size > 1`` (inside the process group), this rank trains on its slice
    of every global batch of ``cfg.batch_size`` images, with its own noise stream; the
    returned statistics are the means over all ranks and the images seen are global.

    Shape
    -----
    images : ``(N, C, H, W)`` on the training device; labels : ``(N,)`` int64 or None.
    """
    gen = torch_generator(seed, images.device)
    n = images.shape[0]
    bs = min(cfg.batch_size, n)
    perm = torch.randperm(n, generator=gen, device=images.device)  # the same on every rank
    batches = dist.shard_batches(perm, bs, rank, world_size)  # (n_batches, bs // world_size)
    if world_size > 1:
        gen = torch_generator(derive_seed(seed, "rank", rank), images.device)  # this rank's noise
    total = torch.zeros(4, device=images.device)
    for idx in batches:
        total += train_step(pair, images[idx], None if labels is None else labels[idx], gen, cfg)
    if world_size > 1:
        total = dist.all_reduce_mean(total)
        pair.sync_buffers()
    return (total / len(batches)).tolist(), batches.numel() * world_size  # images seen by all ranks
