"""Generator snapshots for checkpoint selection, and the discriminator as a critic.

A GAN's last epoch is not always its best: quality and coverage wander. During
``fit`` a :class:`SnapshotKeeper` keeps CPU copies of the sampling networks (the EMA
copies when enabled) at ``n_snapshots`` evenly spaced epochs of each network pair's
run, the last one being the final model. A quality gate can score each snapshot and
pick one with :func:`use_snapshot`. :func:`discriminator_scores` exposes the final
discriminators' raw logits for filtering samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..data.validation import check_images
from ..exceptions import ConfigError, NotFittedError

__all__ = ["SnapshotKeeper", "discriminator_scores", "planned_epochs", "run_by_class", "use_snapshot"]


def _cpu_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


def planned_epochs(n_snapshots: int, pair_epochs: list[int]) -> list[list[int]]:
    """The epochs at which each pair is snapshotted: ``ceil(E * (k + 1) / K)``, k < K.

    ``K = min(n_snapshots, min(pair_epochs))`` so every pair gets the same number of
    distinct epochs; the last is the pair's final epoch ``E``.
    """
    if n_snapshots <= 0 or not pair_epochs:
        return [[] for _ in pair_epochs]
    k = max(1, min(int(n_snapshots), *(int(e) for e in pair_epochs)))
    return [[math.ceil(int(e) * (j + 1) / k) for j in range(k)] for e in pair_epochs]


class SnapshotKeeper:
    """Collects snapshots of each pair's sampling network at planned epochs.

    The :class:`~synthaug.generators.trainer.Trainer` calls :meth:`after_epoch` after
    every healthy epoch and :meth:`state` for checkpoints; the estimator calls
    :meth:`finish`. A rollback revisits epochs: a snapshot at or after a revisited
    epoch is replaced when it is taken again, and dropped by :meth:`finish` when the
    pair never got back there.
    """

    def __init__(self, n_snapshots: int, pair_epochs: list[int]):
        self.plan = [set(p) for p in planned_epochs(n_snapshots, pair_epochs)]
        self.taken: list[list[dict[str, Any]]] = [[] for _ in pair_epochs]

    def after_epoch(self, i: int, epoch: int, pair) -> None:
        """Snapshot pair ``i`` (a GANPair) if ``epoch`` is one of its planned epochs."""
        if epoch in self.plan[i]:
            self._take(i, epoch, pair)

    def _take(self, i: int, epoch: int, pair) -> None:
        self.taken[i] = [s for s in self.taken[i] if s["epoch"] < epoch]
        self.taken[i].append({"epoch": int(epoch), "step": int(pair.steps), "state": _cpu_state(pair.sampler)})

    def state(self, pair_index: int | None = None, max_epoch: int | None = None) -> list[list[dict[str, Any]]]:
        """Snapshots for a checkpoint; those of ``pair_index`` after ``max_epoch`` are left out."""
        return [[s for s in snaps if i != pair_index or max_epoch is None or s["epoch"] <= max_epoch]
                for i, snaps in enumerate(self.taken)]

    def load(self, state: list[list[dict[str, Any]]] | None) -> None:
        """Restore :meth:`state` from a checkpoint, keeping only snapshots still planned."""
        for i, snaps in enumerate(state or []):
            if i < len(self.taken):
                self.taken[i] = [s for s in snaps if int(s["epoch"]) in self.plan[i]]

    def finish(self, pairs, final_epochs: list[int]) -> tuple[list[dict[str, Any]], list[list[dict]]]:
        """Close the run: the fitted ``snapshots_`` and the weights of each snapshot.

        Each pair's last snapshot becomes its final model (added if the run stopped
        early or diverged). With several pairs, snapshot ``k`` holds each pair's k-th
        snapshot, aligned so the last one holds every final model; ``epoch`` and
        ``step`` then add up the pairs' (as ``history_`` counts epochs).
        """
        for i, (pair, final) in enumerate(zip(pairs, final_epochs)):
            self.taken[i] = [s for s in self.taken[i] if s["epoch"] <= final]
            if not self.taken[i] or self.taken[i][-1]["epoch"] != final:
                self._take(i, final, pair)
        n = min(len(s) for s in self.taken)
        chosen = [[snaps[len(snaps) - n + k] for snaps in self.taken] for k in range(n)]
        info = [{"epoch": sum(s["epoch"] for s in row), "step": sum(s["step"] for s in row),
                 "pairs": [{"epoch": s["epoch"], "step": s["step"]} for s in row]} for row in chosen]
        weights = [[s["state"] for s in row] for row in chosen]
        self.taken = [[] for _ in self.taken]
        return info, weights


def use_snapshot(gan, index: int) -> None:
    """Load snapshot ``index`` of a fitted ``gan`` into its sampling networks."""
    gan._check_fitted()
    weights = getattr(gan, "_snapshot_weights", None) or []
    if not weights:
        raise ConfigError(
            "this ConditionalGAN has no snapshots: they are kept by fit when n_snapshots > 0 "
            "and are not saved with the model."
        )
    n = len(weights)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
        raise ConfigError(f"snapshot index must be an int in [{-n}, {n - 1}], got {index!r}.")
    index = int(index) % n
    for net, state in zip(gan.generators_, weights[index]):
        net.load_state_dict(state)
    gan.snapshot_index_ = index


def discriminator_scores(gan, X, y) -> np.ndarray:
    """Raw logits of the final discriminators for images ``X`` with labels ``y``; shape (N,)."""
    gan._check_fitted()
    discs = getattr(gan, "discriminators_", None)
    if not discs:
        raise NotFittedError(
            "discriminator_scores needs the discriminators of a fit in this session; they are "
            "not saved with the model (ConditionalGAN.load restores the generators only)."
        )
    X = check_images(X, "X", owner="ConditionalGAN.discriminator_scores", min_images=0)
    idx = gan._class_indices(y)
    if len(idx) != len(X):
        raise ConfigError(f"X has {len(X)} image(s) but y has {len(idx)} label(s); pass one label per image.")
    if tuple(X.shape[1:]) != tuple(gan.image_shape_):
        raise ConfigError(f"X has images of shape {tuple(X.shape[1:])}; this model makes {tuple(gan.image_shape_)}.")
    out = np.empty(len(idx), np.float32)
    return run_by_class(discs, idx, torch.from_numpy(X), out, gan.device_)  # (N,)


def run_by_class(nets: list[torch.nn.Module], idx: np.ndarray, inputs: torch.Tensor, out: np.ndarray,
                 device, chunk: int = 1024) -> np.ndarray:
    """Fill ``out[r] = net(inputs[r], labels)`` in eval mode, without gradients, in chunks.

    One network: conditional, called with the class indices ``idx`` of its rows. Several
    (``per-class``): network ``k`` gets the rows of class ``k`` and no labels. Each
    network's training mode is restored afterwards.

    Shape
    -----
    idx : ``(n,)`` class indices; inputs : ``(n, ...)`` on the CPU; out : ``(n, ...)``.
    """
    conditional = len(nets) == 1
    groups = [(nets[0], np.arange(len(idx)))] if conditional else [
        (nets[k], np.flatnonzero(idx == k)) for k in np.unique(idx)]
    with torch.no_grad():
        for net, rows in groups:
            was_training = net.training
            net.eval()
            try:
                for start in range(0, len(rows), chunk):
                    r = rows[start:start + chunk]
                    labels = torch.from_numpy(idx[r]).to(device) if conditional else None
                    out[r] = net(inputs[r].to(device), labels).float().cpu().numpy()
            finally:
                net.train(was_training)
    return out
