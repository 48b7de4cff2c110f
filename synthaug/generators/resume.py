"""Resuming an interrupted ``ConditionalGAN.fit`` from its checkpoint.

A checkpoint stores a *fingerprint* of the fit (the parameters that change the weights,
the resolved batch sizes, the classes and a hash of the data); a resume is refused with
a :class:`~synthaug.exceptions.ConfigError` naming what changed. ``epochs``/``steps``,
``max_minutes`` and ``n_snapshots`` may change between the two: a resumed fit runs to
the new end and keeps the stored snapshots that are still planned.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np

from ..exceptions import ConfigError
from ..persistence import to_jsonable
from ..seeding import seed_from

__all__ = ["FINGERPRINT_KEYS", "check_resumable", "fingerprint", "restore"]

logger = logging.getLogger(__name__)

#: Parameters whose change makes a checkpoint unusable.
FINGERPRINT_KEYS = ("model", "strategy", "loss", "latent_dim", "lr_g", "lr_d", "width",
                    "spectral_norm", "diff_augment", "ema_decay", "mode_seeking", "lecam",
                    "conditional_norm", "ada_target")


def fingerprint(gan, X: np.ndarray, y_idx: np.ndarray, classes: np.ndarray,
                batch_sizes: list[int]) -> dict[str, Any]:
    """What must match between an interrupted fit and its resume."""
    digest = hashlib.sha256(X.tobytes())
    digest.update(y_idx.tobytes())
    keys = getattr(type(gan), "FINGERPRINT_KEYS", FINGERPRINT_KEYS)  # the estimator's own list, if any
    extra = {"betas": [float(b) for b in gan.betas]} if hasattr(gan, "betas") else {}
    return {
        **{k: to_jsonable(getattr(gan, k)) for k in keys},
        "batch_sizes": [int(b) for b in batch_sizes],
        **extra,
        "classes": [str(c) for c in classes.tolist()],
        "image_shape": [int(s) for s in X.shape[1:]],
        "data_sha256": digest.hexdigest(),
    }


def check_resumable(gan, state: dict, expected: dict) -> None:
    """ConfigError unless the checkpoint ``state`` was made by the same fit as ``expected``."""
    # a checkpoint written before a parameter existed was made with its old behaviour
    saved = {**getattr(type(gan), "LEGACY_PARAMS", {}), **state.get("fingerprint", {})}
    changed = [k for k in expected if saved.get(k) != expected[k]]
    if changed:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {expected[k]!r}" for k in changed if k != "data_sha256")
        if "data_sha256" in changed:
            detail = (detail + "; " if detail else "") + "the training data differ"
        raise ConfigError(
            f"resume=True: the checkpoint in {gan.checkpoint_dir} was made with different settings "
            f"({detail}). Use the same data and parameters, or fit without resume."
        )
    seeded = isinstance(gan.random_state, (int, np.integer))
    if seeded and seed_from(gan.random_state) != int(state["seed"]):
        raise ConfigError(
            f"resume=True: random_state={gan.random_state!r} differs from the interrupted run's. "
            "Use the same random_state, or fit without resume."
        )


def restore(trainer, state: dict) -> None:
    """Put ``trainer`` (and its pairs and snapshot keeper) where the checkpoint left off."""
    for pair, pair_state in zip(trainer.pairs, state["pairs"]):
        pair.load_state(pair_state)
    trainer.pair_index = int(state["pair_index"])
    trainer.epoch = int(state["epoch"])
    trainer.history = list(state["history"])
    trainer.rollback_log = list(state["rollback_log"])
    trainer.images_seen = int(state["images_seen"])
    trainer.seconds = float(state["seconds"])
    trainer.stopped_early = {int(i): int(e) for i, e in state.get("stopped_early") or []}
    if trainer.snapshots is not None:
        trainer.snapshots.load(state.get("snapshots"))
    logger.info("resuming at pair %d, epoch %d", trainer.pair_index, trainer.epoch)
