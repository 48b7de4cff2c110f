"""The arms of a study, as data: one table entry per arm.

An arm is one way of building a classifier's training set from the real training
subsample of a (seed, training size): ``real`` uses it as it is, ``classic`` adds
shifted and rotated copies, ``noise`` (a control, not run by default) adds copies with
strong Gaussian pixel noise, ``gan`` adds synthetic images at each ratio, and so on.
:data:`ARMS` holds one :class:`Arm` per arm, in report order; the config, the runner
and the report read everything they need to know about an arm from its entry:

- ``needs_generator``: the arm trains on images drawn from the fitted generator, one
  synthetic set per ratio of its grid (see :func:`draw_name`);
- ``grid``: the ratios it runs at (``None``: a single run without a ratio);
- ``reported``: the ``ratio`` written in the results table;
- ``build``: how its training set is made;
- ``adversarial``: PGD adversarial training of the CNN only (needs robustness);
- ``default``: whether it runs when a recipe does not list its arms;
- ``requires``: an optional package it cannot run without.

Adding an arm is adding one entry to :data:`ARMS`. A generator arm's ``build`` puts the
drawn rows (:meth:`ArmInputs.drawn`) last: :func:`sample_weights` gives those last rows
``config.synthetic_weight``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, NamedTuple

import numpy as np

from ..data.augment import classic_augment
from ..over_sampling import n_synthetic_per_class
from ..seeding import derive_seed

if TYPE_CHECKING:  # the config imports this table to validate arm names
    from .config import ExperimentConfig

log = logging.getLogger(__name__)

__all__ = ["ARMS", "NOISE_STD", "Arm", "ArmInputs", "Extra", "draw_name", "sample_weights", "synthetic_counts",
           "training_set"]

#: Pixel noise of the ``noise`` control arm (about 25 grey levels): strong enough to test
#: whether noisy synthetic images help robustness only as noise would.
NOISE_STD = 0.1

#: A training set: images ``(N, C, H, W)``, labels ``(N,)`` and how many rows are not real.
TrainingSet = tuple[np.ndarray, np.ndarray, int]


class Extra(NamedTuple):
    """An optional package an arm needs: import name, distribution name, synthaug extra."""

    module: str
    package: str
    extra: str


@dataclass(frozen=True)
class ArmInputs:
    """What an arm's ``build`` may use for one (seed, training size, ratio) job.

    ``X``/``y`` are the real training subsample; ``synthetic`` maps a :func:`draw_name`
    to the ``(images, labels)`` drawn from that seed and size's generator (empty when
    no generator was fitted or it diverged).
    """

    seed: int
    train_size: str
    ratio: float | None
    X: np.ndarray
    y: np.ndarray
    synthetic: Mapping[str, tuple[np.ndarray, np.ndarray]]
    config: ExperimentConfig

    def real(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X, self.y

    def classic(self) -> tuple[np.ndarray, np.ndarray]:
        """Classic augmented copies of the real images (shift, rotation, noise)."""
        cfg = self.config
        aug = classic_augment(self.X, n_copies=cfg.classic_copies, flips=cfg.flips,
                              random_state=derive_seed(self.seed, "classic", self.train_size, bits=32))
        return aug, np.tile(self.y, cfg.classic_copies)

    def noisy(self) -> tuple[np.ndarray, np.ndarray]:
        """One copy of each real image plus Gaussian pixel noise of std ``NOISE_STD``, clipped to [0, 1]."""
        aug = classic_augment(self.X, n_copies=1, max_shift=0.0, max_rotation=0.0, noise_std=NOISE_STD,
                              random_state=derive_seed(self.seed, "noise", self.train_size, bits=32))
        return aug, self.y.copy()

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """The synthetic set drawn for this job's ratio."""
        return self.synthetic[draw_name(self.ratio)]


@dataclass(frozen=True)
class Arm:
    """One arm of a study (see the module docstring for the fields)."""

    name: str
    build: Callable[[ArmInputs], TrainingSet | None]
    grid: Callable[[ExperimentConfig], tuple[float | None, ...]] = lambda cfg: (None,)
    reported: Callable[[ExperimentConfig, float | None], float] = lambda cfg, ratio: float(ratio)
    needs_generator: bool = False
    adversarial: bool = False
    default: Callable[[ExperimentConfig], bool] = lambda cfg: True
    requires: Extra | None = None


def draw_name(ratio: float | None) -> str:
    """The name of a synthetic set (and of its random stream): per ratio, or ``balance``."""
    return "balance" if ratio is None else f"ratio={ratio!r}"


def synthetic_counts(y: np.ndarray, ratio: float | None) -> dict[int, int]:
    """Images to add per class: ``round(ratio * count)``, or up to the largest class (None)."""
    if ratio is None:
        counts = n_synthetic_per_class(y, balance=True)
    else:
        counts = n_synthetic_per_class(y, ratio=ratio)
    return {int(k): int(v) for k, v in counts.items()}


def stack(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``(images, labels)`` parts, skipping empty ones."""
    xs = [p[0] for p in parts if len(p[0])]
    ys = [p[1] for p in parts if len(p[1])]
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def with_added(inp: ArmInputs, *added: tuple[np.ndarray, np.ndarray]) -> TrainingSet:
    """The real images plus ``added`` parts; the count is of the added rows."""
    return (*stack(inp.real(), *added), sum(len(a[0]) for a in added))


def smote(X: np.ndarray, y: np.ndarray, n_extra: dict, k_neighbors: int, random_state: int
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """SMOTE rows (pixel space) adding ``n_extra[c]`` images to class ``c``; None without imblearn.

    Shape
    -----
    X : ``(N, C, H, W)``; returns ``(sum(n_extra), C, H, W)`` images and their labels.
    """
    try:
        from imblearn.over_sampling import SMOTE  # deferred: imbalanced-learn is an optional extra
    except ImportError:
        return None
    counts = np.bincount(y)
    shape = X.shape[1:]
    flat = X.reshape(len(X), -1)
    strategy = {int(c): int(counts[c] + n) for c, n in n_extra.items() if n > 0 and counts[c] >= 2}
    extra_x, extra_y = [], []
    rng = np.random.default_rng(random_state)
    for c, n in n_extra.items():
        if n > 0 and counts[c] == 1:  # SMOTE needs two points to interpolate: copy the one
            log.warning("smote: class %s has a single training image; repeating it %d times.", c, n)
            extra_x.append(np.repeat(flat[y == c], n, axis=0))
            extra_y.append(np.full(n, c, np.int64))
    if strategy:
        # Lower k for tiny classes: SMOTE needs more than k samples in each class it grows.
        k = max(1, min(k_neighbors, min(int(counts[c]) for c in strategy) - 1))
        if k < k_neighbors:
            log.info("smote: k_neighbors lowered from %d to %d for small classes.", k_neighbors, k)
        sm = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=int(rng.integers(2**31 - 1)))
        xr, yr = sm.fit_resample(flat, y)
        extra_x.append(xr[len(X):])  # imblearn appends the new rows after the originals
        extra_y.append(np.asarray(yr[len(X):], np.int64))
    if not extra_x:
        return np.zeros((0, *shape), np.float32), np.zeros(0, np.int64)
    xs = np.clip(np.concatenate(extra_x), 0.0, 1.0).astype(np.float32).reshape(-1, *shape)
    return xs, np.concatenate(extra_y)


def _smote_set(inp: ArmInputs) -> TrainingSet | None:
    extra = smote(inp.X, inp.y, synthetic_counts(inp.y, inp.ratio), inp.config.smote_k_neighbors,
                  derive_seed(inp.seed, "smote", inp.train_size, bits=32))
    return None if extra is None else with_added(inp, extra)


def _tstr_set(inp: ArmInputs) -> TrainingSet:
    X, y = inp.drawn()
    return X, y, len(X)


def _mix(cfg: ExperimentConfig) -> tuple[float]:
    return (cfg.mix_ratio,)


def _adversarial_default(cfg: ExperimentConfig) -> bool:
    return cfg.robustness and cfg.robust_adversarial_training and "cnn" in cfg.classifiers


#: Every arm the runner knows, in report order.
ARMS: dict[str, Arm] = {arm.name: arm for arm in (
    Arm("real", build=lambda inp: (inp.X, inp.y, 0), reported=lambda cfg, ratio: float("nan")),
    Arm("classic", build=lambda inp: with_added(inp, inp.classic()),
        reported=lambda cfg, ratio: float(cfg.classic_copies)),
    Arm("noise", build=lambda inp: with_added(inp, inp.noisy()), reported=lambda cfg, ratio: 1.0,
        default=lambda cfg: False),
    Arm("smote", build=_smote_set, grid=_mix,
        requires=Extra("imblearn", "imbalanced-learn", "imblearn")),
    Arm("gan", build=lambda inp: with_added(inp, inp.drawn()), grid=lambda cfg: cfg.ratios,
        needs_generator=True),
    Arm("gan_balance", build=lambda inp: with_added(inp, inp.drawn()),
        reported=lambda cfg, ratio: float("nan"), needs_generator=True,
        default=lambda cfg: cfg.balance),
    Arm("gan_classic", build=lambda inp: with_added(inp, inp.classic(), inp.drawn()), grid=_mix,
        needs_generator=True),
    Arm("tstr", build=_tstr_set, grid=_mix, needs_generator=True),
    Arm("adv_real", build=lambda inp: (inp.X, inp.y, 0), reported=lambda cfg, ratio: float("nan"),
        adversarial=True, default=_adversarial_default),
    Arm("adv_gan", build=lambda inp: with_added(inp, inp.drawn()), grid=_mix, needs_generator=True,
        adversarial=True, default=_adversarial_default),
)}


def training_set(arm: str, inputs: ArmInputs) -> TrainingSet | None:
    """The arm's training images, labels and number of non-real rows (None: skip the job).

    A generator arm is skipped when its synthetic set is missing (that seed's generator
    diverged); ``smote`` is skipped without imbalanced-learn.
    """
    entry = ARMS[arm]
    if entry.needs_generator and draw_name(inputs.ratio) not in inputs.synthetic:
        return None
    return entry.build(inputs)


def sample_weights(arm: str, inputs: ArmInputs, n_rows: int) -> np.ndarray | None:
    """Per-row loss weights of the arm's training set, or None when every row weighs the same.

    The rows drawn from the generator (the last ``len(inputs.drawn())`` rows of a
    generator arm's set) weigh ``config.synthetic_weight``, every other row 1; the
    weights are scaled to mean 1 so the total weight, and with it the balance against a
    scikit-learn model's regularisation, stays that of the unweighted set. ``None`` (the
    classifier is fitted without weights) for arms without generator rows, for
    ``synthetic_weight = 1`` and where every row is drawn (``tstr``).

    Shape
    -----
    returns : ``(n_rows,)`` float64, or None.
    """
    weight = inputs.config.synthetic_weight
    if not ARMS[arm].needs_generator or weight == 1.0:
        return None
    n_drawn = len(inputs.drawn()[0])
    if n_drawn in (0, n_rows):
        return None
    w = np.ones(n_rows)
    w[n_rows - n_drawn:] = weight
    return w / w.mean()
