"""What every generator's ``fit`` shares: the resume check or a fresh seed, the training
tensors per unit, the checkpoint writer, and the :class:`~synthaug.generators.trainer.Trainer`
with its snapshot keeper and time budget.

``ConditionalGAN.fit`` and ``ConditionalDiffusion.fit`` differ only in their units
(network pairs or denoisers), their budget rule and their per-unit configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from ..exceptions import ConfigError, OutputError
from . import checkpoint as ckpt_io
from . import resume as resume_io
from . import snapshots as snap_io
from .budget import budget_summary
from .trainer import Trainer

__all__ = ["checkpoint_writer", "make_trainer", "set_fitted", "start", "unit_data"]


def start(est, fingerprint: dict, resume: bool, new_seed: Callable[[], int]) -> tuple[dict | None, int]:
    """``(checkpoint state or None, root seed)``: the interrupted run's when ``resume``, else ``new_seed()``."""
    if not resume:
        return None, int(new_seed())
    if est.checkpoint_dir is None:
        raise ConfigError("resume=True needs checkpoint_dir: the folder of the interrupted run.")
    state = ckpt_io.load_checkpoint(est.checkpoint_dir)
    resume_io.check_resumable(est, state, fingerprint)
    return state, int(state["seed"])


def unit_data(X: np.ndarray, y_idx: np.ndarray, n_classes: int, conditional: bool,
              device) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """The training tensors of each unit: the whole set with labels, or each class's images.

    Shape
    -----
    X : ``(N, C, H, W)``; y_idx : ``(N,)``; the whole set lives on ``device``.
    """
    images = torch.tensor(X, device=device)  # (N, C, H, W)
    labels = torch.tensor(y_idx, device=device)  # (N,)
    if conditional:
        return [(images, labels)]
    return [(images[labels == k], None) for k in range(n_classes)]


def checkpoint_writer(checkpoint_dir, seed: int, fingerprint: dict,
                      write: bool = True) -> Callable[[dict], None] | None:
    """The Trainer's ``save_checkpoint`` (None without ``checkpoint_dir`` or when ``write`` is False)."""
    if checkpoint_dir is None or not write:
        return None
    directory = Path(checkpoint_dir)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"checkpoint_dir={str(directory)!r} is a file; pass a folder path.")

    def save(payload: dict) -> None:
        ckpt_io.save_checkpoint(directory, {"seed": seed, "fingerprint": fingerprint, **payload})

    return save


def make_trainer(est, units: list, data: list, cfgs: list, seed: int, classes: np.ndarray,
                 save_checkpoint, state: dict | None, **kwargs: Any) -> Trainer:
    """The Trainer for ``units`` (one config each), restored from ``state`` when resuming.

    ``kwargs`` go to the Trainer (``rank``, ``world_size`` under torchrun).
    """
    keeper = snap_io.SnapshotKeeper(est.n_snapshots, [c.epochs for c in cfgs]) if est.n_snapshots else None
    trainer = Trainer(units, data, cfgs[0], seed, save_checkpoint=save_checkpoint,
                      checkpoint_every=int(est.checkpoint_every), progress=bool(est.progress),
                      pair_names=[f"class {c!r}" for c in classes.tolist()] if len(units) > 1 else None,
                      pair_cfgs=cfgs, snapshots=keeper,
                      max_seconds=None if est.max_minutes is None else 60.0 * float(est.max_minutes), **kwargs)
    if state is not None:
        resume_io.restore(trainer, state)
    return trainer


def set_fitted(est, trainer: Trainer, classes: np.ndarray, image_shape, device, seed: int, budgets: list,
               history_columns: list[str]) -> None:
    """Set the fitted attributes every generator has, from a finished (or diverged) ``trainer``.

    ``history_`` gets ``history_columns`` (after a leading ``class`` column for
    ``per-class``); ``budget_`` records ``world_size`` only for multi-process fits.
    """
    for unit in trainer.pairs:
        unit.sampler.eval()
    per_class = est.strategy == "per-class"
    est.budget_ = budget_summary(budgets, trainer.stopped_early, per_class)
    if trainer.world_size > 1:  # recorded only for multi-process fits: one-process records are unchanged
        est.budget_["world_size"] = trainer.world_size
    est.snapshots_, est._snapshot_weights = (
        trainer.snapshots.finish(trainer.pairs, trainer.final_epochs()) if trainer.snapshots is not None
        else ([], []))
    est.snapshot_index_ = len(est.snapshots_) - 1 if est.snapshots_ else None
    est.classes_ = classes
    est.class_names_ = [str(c) for c in classes.tolist()]
    est.image_shape_ = tuple(image_shape)
    est.device_ = device
    est.seed_ = int(seed)
    est.generators_ = [unit.sampler for unit in trainer.pairs]
    frame = pd.DataFrame(trainer.history, columns=["pair", *history_columns])
    if per_class:
        frame.insert(0, "class", classes[frame["pair"].to_numpy(dtype=np.int64)] if len(frame) else [])
    est.history_ = frame.drop(columns="pair").reset_index(drop=True)
    est.rollbacks_ = [dict(r) for r in trainer.rollback_log]
    est.train_seconds_ = float(trainer.seconds)
    est.images_per_second_ = trainer.images_seen / trainer.seconds if trainer.seconds > 0 else 0.0
