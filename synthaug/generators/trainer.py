"""The training loop shared by every generator: a :class:`Trainer` over *units*.

The Trainer knows nothing about GANs or diffusion: it drives units (a
:class:`~synthaug.generators.training.GANPair`, a
:class:`~synthaug.generators.diffusion.training.DenoiserUnit`) through their
``run_epoch``, asks them whether an epoch's statistics look collapsed, and keeps the
position, history, checkpoints, snapshots, time budget and rollbacks for any of them.
A unit provides: ``NAME``, ``run_epoch(images, labels, cfg, seed, *, rank, world_size)
-> (stats, n)``, ``history_row(stats)``, ``collapsed(stats)``, ``collapse_reason(stats)``,
``halve_lrs() -> dict``, ``state()``/``load_state()``, ``sampler``, ``steps``,
``rollbacks`` and ``streak``; its config has ``epochs`` and ``max_rollbacks``.

Randomness: every epoch of unit ``i`` gets the seed ``derive_seed(seed, i, epoch,
rollbacks)``, so a run resumed at an epoch boundary replays exactly the same random
numbers as an uninterrupted one. Reliability: NaN/inf statistics, or a unit that says
"collapsed" for ``COLLAPSE_PATIENCE`` epochs in a row, roll back to the last healthy
epoch with the learning rates halved, up to ``max_rollbacks`` times per unit.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from ..exceptions import TrainingDivergedError
from ..seeding import derive_seed
from . import distributed as dist

__all__ = ["COLLAPSE_PATIENCE", "Trainer", "update_ema"]

logger = logging.getLogger(__name__)

#: Consecutive collapsed epochs before a rollback.
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



def update_ema(ema: torch.nn.Module, net: torch.nn.Module, decay: float, steps: int) -> None:
    """Move ``ema``'s parameters towards ``net``'s, with a warm-up for short runs.

    The decay in effect after ``steps`` updates is ``min(decay, (1 + steps) / (10 + steps))``
    (as in many EMA implementations), so short runs are not stuck near the initial weights.
    Buffers are left to the caller.
    """
    d = min(decay, (1.0 + steps) / (10.0 + steps))
    with torch.no_grad():
        for e, p in zip(ema.parameters(), net.parameters()):
            e.lerp_(p, 1.0 - d)


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

    def __init__(self, pairs: list, data: list[tuple[torch.Tensor, torch.Tensor | None]],
                 cfg, seed: int, *, save_checkpoint: Callable[[dict], None] | None = None,
                 checkpoint_every: int = 10, progress: bool = False, pair_names: list[str] | None = None,
                 pair_cfgs: list | None = None, max_seconds: float | None = None,
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

    def _rollback(self, pair, good: dict[str, Any], reason: str) -> dict[str, Any]:
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
