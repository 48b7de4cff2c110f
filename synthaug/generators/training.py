"""The adversarial training loop: one step, one epoch, and a trainer with rollback.

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

The :class:`Trainer` knows nothing about GANs: it drives *units* (a :class:`GANPair`
here, a denoiser in :mod:`synthaug.generators.diffusion.training`) through their
``run_epoch``, asks them whether an epoch's statistics look collapsed, and keeps the
position, history, checkpoints, snapshots, time budget and rollbacks for any of them.
A unit provides: ``NAME``, ``run_epoch(images, labels, cfg, seed, *, rank, world_size)
-> (stats, n)``,
``history_row(stats)``, ``collapsed(stats)``, ``collapse_reason(stats)``,
``halve_lrs() -> dict``, ``state()``/``load_state()``, ``sampler``, ``steps``,
``rollbacks`` and ``streak``.

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
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..exceptions import TrainingDivergedError
from ..seeding import derive_seed, torch_generator
from . import distributed as dist
from . import losses
from . import regularisers as reg
from .diffaugment import diff_augment

__all__ = ["HISTORY_COLUMNS", "GANPair", "TrainConfig", "Trainer", "run_epoch", "train_step"]

logger = logging.getLogger(__name__)

#: Columns of a fitted generator's ``history_`` (one row per epoch).
HISTORY_COLUMNS = ["epoch", "loss_d", "loss_g", "d_real", "d_fake", "lr_g", "lr_d"]

#: A discriminator "wins outright" when mean D(x) - mean D(G(z)) exceeds this ...
COLLAPSE_GAP = 0.99
#: ... or its loss falls below this (both losses are >= 0 and ~1.4 / ~2 at balance) ...
COLLAPSE_LOSS = 1e-3
#: ... for this many consecutive epochs.
COLLAPSE_PATIENCE = 3


def _clone(obj: Any) -> Any:
    """Deep copy of nested dicts/lists/tuples of tensors (tensors detached and cloned)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


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
        # Warm-up (as in many EMA implementations) so short runs are not stuck near init.
        d = min(decay, (1.0 + self.steps) / (10.0 + self.steps))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.generator.parameters()):
                e.lerp_(p, 1.0 - d)
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


class Trainer:
    """Trains a list of units one after the other (one pair, or one per class).

    Parameters
    ----------
    pairs : list of GANPair (or another unit, see the module docstring)
    data : list of (images, labels or None)
        The training tensors of each pair, on the training device.
    cfg : TrainConfig
    seed : int
        Root of every per-epoch random stream.
    save_checkpoint : callable(dict) or None
        Called with a checkpoint payload (see :meth:`payload`) every
        ``checkpoint_every`` epochs, at the end of each pair, on KeyboardInterrupt and
        when divergence cannot be recovered.
    checkpoint_every : int
    progress : bool
        Show a tqdm bar on stderr.
    pair_cfgs : list of TrainConfig or None
        One configuration per pair (its own ``epochs`` and ``batch_size``: the budget of
        ``per-class`` pairs follows each class's size); None uses ``cfg`` for every pair.
    max_seconds : float or None
        Time budget of the whole run (training seconds, including before a resume),
        shared evenly among the pairs: pair ``i`` stops after the epoch in which
        ``seconds`` reached ``max_seconds * (i + 1) / len(pairs)``; recorded in
        ``stopped_early`` (pair -> epoch).
    snapshots : SnapshotKeeper or None
        Told about every healthy epoch (``after_epoch(pair_index, epoch, pair)``); its
        ``state()`` travels in checkpoints.
    rank, world_size : int
        This process's place in the process group (0 and 1 without one). With
        ``world_size > 1`` the pairs must be :meth:`GANPair.distribute`-d, every rank
        runs the same epochs, and only the caller's rank 0 should pass
        ``save_checkpoint``.

    The position (``pair_index``, ``epoch``), ``history``, ``rollback_log`` and
    ``stopped_early`` may be set before :meth:`run` to resume.
    """

    #: The clock of ``seconds`` (a class attribute so tests can replace it).
    clock = staticmethod(time.perf_counter)

    def __init__(self, pairs: list[GANPair], data: list[tuple[torch.Tensor, torch.Tensor | None]],
                 cfg: TrainConfig, seed: int, *, save_checkpoint: Callable[[dict], None] | None = None,
                 checkpoint_every: int = 10, progress: bool = False, pair_names: list[str] | None = None,
                 pair_cfgs: list[TrainConfig] | None = None, max_seconds: float | None = None,
                 snapshots: Any = None, rank: int = 0, world_size: int = 1):
        self.pairs = pairs
        self.data = data
        self.cfg = cfg
        self.pair_cfgs = list(pair_cfgs) if pair_cfgs is not None else [cfg] * len(pairs)
        self.max_seconds = max_seconds
        self.snapshots = snapshots
        self.stopped_early: dict[int, int] = {}
        self.seed = int(seed)
        self.save_checkpoint = save_checkpoint
        self.checkpoint_every = checkpoint_every
        self.progress = progress
        self.pair_names = pair_names
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.pair_index = 0
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.rollback_log: list[dict[str, Any]] = []
        self.images_seen = 0
        self.seconds = 0.0
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ snapshots
    def _snapshot(self) -> dict[str, Any]:
        return {
            "pair": self.pairs[self.pair_index].state(),
            "epoch": self.epoch,
            "hist_len": len(self.history),
            "images_seen": self.images_seen,
            "seconds": self.seconds,
        }

    def payload(self, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything needed to resume: the current pair taken from ``snapshot`` when given."""
        states = []
        for i, pair in enumerate(self.pairs):
            if snapshot is not None and i == self.pair_index:
                states.append(snapshot["pair"])
            else:
                states.append(pair.state())
        snap = snapshot or self._snapshot_position()
        return {
            "pair_index": self.pair_index,
            "epoch": snap["epoch"],
            "pairs": states,
            "history": [dict(r) for r in self.history[: snap["hist_len"]]],
            "rollback_log": [dict(r) for r in self.rollback_log],
            "images_seen": snap["images_seen"],
            "seconds": snap["seconds"],
            "stopped_early": [[i, e] for i, e in sorted(self.stopped_early.items())],
            "snapshots": None if self.snapshots is None else self.snapshots.state(self.pair_index, snap["epoch"]),
        }

    def _snapshot_position(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "hist_len": len(self.history),
                "images_seen": self.images_seen, "seconds": self.seconds}

    def _checkpoint(self, snapshot: dict[str, Any] | None = None) -> None:
        if self.save_checkpoint is not None:
            self.save_checkpoint(self.payload(snapshot))

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        """Train every pair to its ``epochs`` (or the time budget) from the current position."""
        total = sum(c.epochs for c in self.pair_cfgs)
        bar = tqdm(total=total, initial=self._epochs_before(self.pair_index) + self.epoch,
                   disable=not self.progress, file=sys.stderr, desc=self.pairs[0].NAME, unit="epoch",
                   leave=False)
        try:
            while self.pair_index < len(self.pairs):
                self._run_pair(bar)
                if self.pair_index + 1 < len(self.pairs):
                    self.pair_index += 1
                    self.epoch = 0
                    self._last = None
                else:
                    break
            self._checkpoint()
        except KeyboardInterrupt:
            if self._last is not None and (self.save_checkpoint is not None or self.world_size == 1):
                logger.warning("interrupted: saving the checkpoint of epoch %d", self._last["epoch"])
                self._checkpoint(self._last)
            raise
        except TrainingDivergedError:
            raise  # its checkpoint is already written
        except RuntimeError:
            # Under torchrun, a rank whose peer stopped (Ctrl-C reached the peer first, or it
            # crashed) sees a failed collective: keep the last completed epoch resumable.
            if self.world_size > 1 and self._last is not None and self.save_checkpoint is not None:
                logger.warning("another training process stopped: saving the checkpoint of epoch %d",
                               self._last["epoch"])
                self._checkpoint(self._last)
            raise
        finally:
            bar.close()

    def _epochs_before(self, i: int) -> int:
        return sum(c.epochs for c in self.pair_cfgs[:i])

    def _out_of_time(self, i: int) -> bool:
        return self.max_seconds is not None and self.seconds >= self.max_seconds * (i + 1) / len(self.pairs)

    def final_epochs(self) -> list[int]:
        """The epoch each pair ended at (0 for pairs never trained), from ``history``."""
        last = [0] * len(self.pairs)
        for row in self.history:
            last[int(row["pair"])] = int(row["epoch"])
        return last

    def _run_pair(self, bar) -> None:
        i = self.pair_index
        pair = self.pairs[i]
        cfg = self.pair_cfgs[i]
        images, labels = self.data[i]
        self.stopped_early.pop(i, None)  # a resumed pair trains on
        self._last = good = self._snapshot()
        while self.epoch < cfg.epochs:
            t0 = self.clock()
            stats, n_images = pair.run_epoch(images, labels, cfg,
                                             derive_seed(self.seed, i, self.epoch, pair.rollbacks),
                                             rank=self.rank, world_size=self.world_size)
            # Under torchrun the slowest rank's time, so that max_seconds stops every rank alike.
            self.seconds += dist.all_reduce_max(self.clock() - t0)
            self.images_seen += n_images
            self.epoch += 1
            finite = all(math.isfinite(v) for v in stats)
            collapsed = finite and pair.collapsed(stats)
            pair.streak = pair.streak + 1 if collapsed else 0
            if not finite or pair.streak >= COLLAPSE_PATIENCE:
                reason = "non-finite loss (NaN or inf)" if not finite else pair.collapse_reason(stats)
                good = self._last = self._rollback(pair, good, reason)
                bar.n = self._epochs_before(i) + self.epoch
                bar.refresh()
                continue
            row = pair.history_row(stats)
            self.history.append({"pair": i, "epoch": self.epoch, **row})
            self._last = self._snapshot()
            if pair.streak == 0:
                good = self._last
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k.startswith("loss")}, refresh=False)
            bar.update(1)
            if self.snapshots is not None:
                self.snapshots.after_epoch(i, self.epoch, pair)
            if self.epoch % self.checkpoint_every == 0 and self.epoch < cfg.epochs:
                self._checkpoint(self._last)
            if self.epoch < cfg.epochs and self._out_of_time(i):
                self.stopped_early[i] = self.epoch
                logger.info("%s training%s: max_minutes reached; stopping after epoch %d of %d", pair.NAME,
                            "" if self.pair_names is None else f" ({self.pair_names[i]})", self.epoch, cfg.epochs)
                break
        if self.pair_index + 1 < len(self.pairs):  # per-class: a checkpoint after each class
            self._checkpoint(self._last)

    def _rollback(self, pair: GANPair, good: dict[str, Any], reason: str) -> dict[str, Any]:
        failed_epoch = self.epoch
        name = "" if self.pair_names is None else f" ({self.pair_names[self.pair_index]})"
        n_done = pair.rollbacks
        pair.load_state(good["pair"])
        self.epoch = good["epoch"]
        del self.history[good["hist_len"]:]
        self._last = good
        if n_done >= self.cfg.max_rollbacks:
            pair.rollbacks = n_done
            self._checkpoint(good)
            hint = getattr(pair, "DIVERGENCE_HINT", "Try lower lr_g/lr_d, loss='hinge', "
                           "spectral_norm=True or DiffAugment.")
            raise TrainingDivergedError(
                f"{pair.NAME} training diverged at epoch {failed_epoch}{name}: {reason}, and "
                f"{n_done} rollback(s) with halved learning rates did not help "
                f"(max_rollbacks={self.cfg.max_rollbacks}). The model of epoch {good['epoch']} "
                f"(the last healthy one) is kept. {hint}"
            )
        pair.rollbacks = n_done + 1
        pair.streak = 0
        new_lrs = pair.halve_lrs()
        entry = {"pair": self.pair_index, "epoch": failed_epoch, "restored_epoch": good["epoch"],
                 "reason": reason, **new_lrs}
        self.rollback_log.append(entry)
        logger.warning("%s training%s: %s at epoch %d; rolled back to epoch %d with %s", pair.NAME,
                       name, reason, failed_epoch, good["epoch"],
                       ", ".join(f"{k}={v:g}" for k, v in new_lrs.items()))
        # The restored snapshot now carries the new lr and rollback count.
        return {**good, "pair": pair.state()}
