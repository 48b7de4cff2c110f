"""The :class:`ConditionalGAN` estimator."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._utils import resolve_device
from ..data.validation import check_images, class_indices, encode_labels
from ..exceptions import ConfigError, NotFittedError, TrainingDivergedError
from ..seeding import derive_seed, seed_from, torch_generator
from . import distributed as dist
from . import fitting
from . import model_io
from . import resume as resume_io
from . import snapshots as snap_io
from .budget import resolve_budget
from .diffaugment import parse_policy
from .networks import MIN_SIZE, build_discriminator, build_generator
from .params import check_params
from .trainer import Trainer
from .training import HISTORY_COLUMNS, GANPair, TrainConfig

__all__ = ["ConditionalGAN"]

logger = logging.getLogger(__name__)

# Independent random streams derived from the fit seed (see seeding.derive_seed).
_INIT_STREAM = 1
_SAMPLE_STREAM = 2
_SAMPLE_CHUNK = 1024


class ConditionalGAN(BaseEstimator):
    """Class-conditional GAN for small labelled image datasets.

    ``fit(X, y)`` trains a generator; ``sample(y)`` returns one new image per requested
    label. The default recipe is tuned for small data: a DCGAN-style pair with a
    projection discriminator (Miyato & Koyama, 2018), hinge loss, spectral normalisation
    in the discriminator (Miyato et al., 2018), differentiable augmentation (Zhao et al.,
    2020), an exponential moving average of the generator's weights for sampling, and
    separate learning rates for the two networks (TTUR; Heusel et al., 2017). Each
    stabiliser can be switched off for ablations.

    Parameters
    ----------
    model : {"dcgan", "vanilla"}, default "dcgan"
        ``dcgan``: transposed-convolution generator and strided-convolution
        discriminator (Radford et al., 2016); any size >= 4 x 4 (sizes that are not
        ``s * 2**k`` with ``4 <= s <= 7`` are generated slightly larger and
        centre-cropped). ``vanilla``: MLP generator and discriminator (Goodfellow et al.,
        2014; Mirza & Osindero, 2014), the label concatenated to the input.
    strategy : {"conditional", "per-class"}, default "conditional"
        ``conditional``: one pair conditioned on the label. ``per-class``: one
        unconditional pair per class, trained on that class only (its own budget).
    loss : {"hinge", "bce"}, default "hinge"
        ``bce`` uses the non-saturating generator loss.
    latent_dim : int, default 64
        Size of the noise vector z.
    epochs : int or None, default None
        Passes over the training set (per class for ``per-class``). None: chosen with
        ``steps`` by the rule of :mod:`synthaug.generators.budget`: 2000 generator steps
        or 40 epochs, whichever is more (250 epochs for 100 images), capped at about
        five minutes of one CPU core but never below 500 steps. Give at most one of
        ``epochs`` and ``steps``.
    batch_size : int or None, default None
        Real images per step (the last incomplete batch of an epoch is dropped). None:
        ``N // 8`` clipped to [8, 64] (N: the pair's training images).
    steps : int or None, default None
        Generator steps per pair instead of ``epochs`` (rounded up to whole epochs).
    max_minutes : float or None, default None
        Stop after the epoch in which training time reached this many minutes (shared
        evenly by ``per-class`` pairs; logged, and ``budget_["stopped_early"]``). This
        makes the result depend on the machine's speed; None: no time limit.
    n_snapshots : int, default 4
        Copies of the sampling networks kept at evenly spaced epochs, the last being the
        final model (see :meth:`use_snapshot`); 0 keeps none.
    lr_g, lr_d : float, default 5e-4 and 1e-3
        Adam learning rates of the generator and the discriminator (TTUR: the
        discriminator learns faster).
    betas : (float, float), default (0.5, 0.999)
        Adam betas for both networks.
    width : int, default 32
        Network size: channels of the outermost convolutions (``dcgan``; deeper layers
        double it, up to 8x), or hidden layers of ``8 * width`` and ``16 * width``
        units (``vanilla``).
    spectral_norm : bool, default True
        Spectral normalisation of every discriminator layer.
    diff_augment : str or None, default "color,translation,cutout"
        DiffAugment policies, comma-separated; ``None`` or ``""`` disables.
    ema_decay : float or None, default 0.999
        Decay of the EMA of the generator's weights used for sampling; None disables.
        The decay in effect at step t is ``min(ema_decay, (1 + t) / (10 + t))``, so
        short runs are not dominated by the initial weights.
    device : str, default "auto"
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    random_state : int, numpy Generator or None
        Seeds network initialisation, batches, noise and augmentation. Two fits with
        the same int on CPU give identical weights and samples.
    progress : bool, default False
        Show a tqdm progress bar on stderr.
    checkpoint_dir : str or path or None
        When set, a resumable checkpoint is written there every ``checkpoint_every``
        epochs, at the end, on KeyboardInterrupt and on unrecoverable divergence.
    checkpoint_every : int, default 10
    max_rollbacks : int, default 3
        How often a diverged pair is rolled back to its last healthy epoch (with both
        learning rates halved) before :class:`~synthaug.exceptions.TrainingDivergedError`.
    mode_seeking : float, default 0.0
        Weight of the mode-seeking term (Mao et al., 2019) in the generator loss; 0 is off.
        With ``ada_target=0.6`` and 0.03 it raised recall and downstream accuracy on
        10 digits per class, but made BreastMNIST's samples fail the quality gate
        (docs/benchmarks.md, section 6): opt-in.
    lecam : float, default 0.0
        Weight of LeCam regularisation (Tseng et al., 2021) of the discriminator; 0 is off.
    conditional_norm : bool, default False
        Class-conditional BatchNorm in the generator (BigGAN-style); ``dcgan`` + ``conditional`` only.
    ada_target : float in [0, 1] or None, default None
        Adaptive augmentation (Karras et al., 2020): apply DiffAugment with a probability
        that steers E[sign D(x)] to this (0.6 in the paper; history gets ``ada_p``). None:
        always apply it. Ignored when ``diff_augment`` is off.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted unique labels seen in ``fit``.
    class_names_ : list of str
        A name per class: ``str`` of each class after ``fit``; after :meth:`load`, the
        names given to :meth:`save`.
    image_shape_ : tuple (C, H, W)
    history_ : pandas.DataFrame
        One row per epoch: ``epoch, loss_d, loss_g, d_real, d_fake, lr_g, lr_d``
        (``d_real``/``d_fake``: mean discriminator probability on real / fake images),
        with a leading ``class`` column for ``per-class``.
    generators_ : list of torch.nn.Module
        The sampling networks (EMA copies when enabled): one, or one per class.
    rollbacks_ : list of dict
        One entry per divergence rollback (epoch, restored_epoch, reason, new lrs).
    device_ : torch.device
    seed_ : int
        The root seed actually used (drawn when ``random_state`` is None).
    train_seconds_ : float
        Seconds spent in training epochs (including before a resume).
    images_per_second_ : float
        Real training images processed per second of training.
    budget_ : dict
        ``steps``, ``epochs``, ``batch_size`` (lists, one per pair, for ``per-class``),
        ``rule`` (how they were chosen) and ``stopped_early`` (by ``max_minutes``).
    snapshots_ : list of dict
        One per snapshot (``epoch``, ``step``: totals over pairs; ``pairs``: each
        pair's). Kept in memory only: not saved, empty after :meth:`load`. A resumed
        fit keeps the snapshots stored in its checkpoint.
    snapshot_index_ : int or None
        The snapshot the sampling networks hold (the last one after ``fit``).
    discriminators_ : list of torch.nn.Module
        The final discriminators (after ``fit`` only; not saved).

    Notes
    -----
    Divergence: an epoch with a NaN/inf loss, or ``COLLAPSE_PATIENCE`` (3) epochs in a
    row in which the discriminator wins outright (mean D(x) - mean D(G(z)) > 0.99 or
    its loss < 1e-3), rolls the pair back to its last healthy epoch with both
    learning rates halved (recorded in ``rollbacks_`` and in the ``lr_*`` columns of
    ``history_``). Rollbacks are counted per network pair. With ``per-class``, an
    unrecoverable divergence stops training: the classes after the failing one keep
    their untrained generators.

    Multi-process training: inside an initialised ``torch.distributed`` process group of
    more than one process (``torchrun``; the CLI joins it with
    :func:`~synthaug.generators.distributed.init_from_env`), ``fit`` trains one model
    with DistributedDataParallel. Every rank must call ``fit`` with the same data and
    parameters. ``batch_size`` (and so the budget) is the global batch: each rank takes
    ``batch_size // world_size`` images of every global batch. Only rank 0 writes
    checkpoints; every rank ends with the same weights; ``budget_["world_size"]``
    records the number of processes. See ``docs/scaling-ddp.md``.

    Resume: every epoch draws its random numbers from a generator seeded by
    ``(seed, pair, epoch, rollbacks)``, so a run interrupted and resumed from its
    checkpoint ends with exactly the weights of an uninterrupted run. (One corner is
    not covered: a rollback after a resume that would have gone back to an epoch before
    the interruption goes back to the resumed epoch instead.)

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images(16, n_classes=2, random_state=0)
    >>> gan = ConditionalGAN(epochs=2, width=8, random_state=0).fit(ds.images, ds.labels)
    >>> gan.sample([0, 1, 1], random_state=0).shape
    (3, 1, 8, 8)
    """

    def __init__(
        self,
        *,
        model: str = "dcgan",
        strategy: str = "conditional",
        loss: str = "hinge",
        latent_dim: int = 64,
        epochs: int | None = None,
        batch_size: int | None = None,
        steps: int | None = None,
        max_minutes: float | None = None,
        n_snapshots: int = 4,
        lr_g: float = 5e-4,
        lr_d: float = 1e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        width: int = 32,
        spectral_norm: bool = True,
        diff_augment: str | None = "color,translation,cutout",
        ema_decay: float | None = 0.999,
        device: str = "auto",
        random_state=None,
        progress: bool = False,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int = 10,
        max_rollbacks: int = 3,
        mode_seeking: float = 0.0,
        lecam: float = 0.0,
        conditional_norm: bool = False,
        ada_target: float | None = None,
    ):
        # sklearn's contract: store every keyword argument unchanged, and nothing else.
        params = dict(locals())
        del params["self"]
        vars(self).update(params)

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> TrainConfig:
        """Validate the parameters (see :func:`.params.check_params`); the TrainConfig."""
        return check_params(self)

    @staticmethod
    def _check_data(X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(X float32 (N, C, H, W), y as class indices, classes)``."""
        X = check_images(X, "X", owner="ConditionalGAN", min_size=MIN_SIZE, min_images=2)
        classes, y_idx = encode_labels(y, X.shape[0], "a conditional GAN")
        return X, y_idx, classes

    # ------------------------------------------------------------------ building
    def _make_generator(self, n_classes: int, image_shape, device, gen) -> torch.nn.Module:
        width = 2 * self.width if self.model == "vanilla" else self.width
        return build_generator(self.model, latent_dim=self.latent_dim, n_classes=n_classes,
                               image_shape=image_shape, width=width, generator=gen, device=device,
                               conditional_norm=bool(self.conditional_norm))

    def _build_pairs(self, seed: int, n_classes: int, image_shape, device) -> list[GANPair]:
        conditional = self.strategy == "conditional"
        n_pairs = 1 if conditional else n_classes
        cond_classes = n_classes if conditional else 0
        width = 2 * self.width if self.model == "vanilla" else self.width
        pairs = []
        for i in range(n_pairs):
            gen = torch_generator(derive_seed(seed, _INIT_STREAM, i))
            g = self._make_generator(cond_classes, image_shape, device, gen)
            d = build_discriminator(self.model, n_classes=cond_classes, image_shape=image_shape,
                                    width=width, spectral_norm=bool(self.spectral_norm),
                                    generator=gen, device=device)
            ema = self._make_generator(cond_classes, image_shape, device, gen) if self.ema_decay is not None else None
            pairs.append(GANPair(g, d, ema, lr_g=float(self.lr_g), lr_d=float(self.lr_d),
                                 betas=tuple(float(b) for b in self.betas)))
        return pairs

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, *, resume: bool = False) -> "ConditionalGAN":
        """Train on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : ndarray of shape (N, C, H, W)
            Float images in ``[0, 1]``, C = 1 or 3.
        y : array-like of shape (N,)
            Labels of any sortable type; at least two classes.
        resume : bool, default False
            Continue from the checkpoint in ``checkpoint_dir`` (same data and parameters;
            ``epochs``, ``steps`` and ``max_minutes`` may change). The result equals an
            uninterrupted fit; the snapshots stored in the checkpoint are kept.

        Returns
        -------
        self

        Raises
        ------
        ConfigError, InvalidDataError
            Invalid parameters or data (checked before any training).
        TrainingDivergedError
            Training diverged more than ``max_rollbacks`` times; the estimator keeps the
            last healthy model (and it is checkpointed when ``checkpoint_dir`` is set).
        KeyboardInterrupt
            Re-raised after saving a checkpoint of the last completed epoch.
        """
        cfg = self._check_params()
        X, y_idx, classes = self._check_data(X, y)
        device = dist.process_device(resolve_device(self.device))
        sizes = [len(X)] if self.strategy == "conditional" else np.bincount(y_idx, minlength=len(classes)).tolist()
        budgets = [resolve_budget(n, X.shape[1:], epochs=self.epochs, steps=self.steps,
                                  batch_size=self.batch_size, n_pairs=len(sizes)) for n in sizes]
        rank, n_proc = dist.rank(), dist.world_size()
        if n_proc > 1:
            self._check_distributed(budgets, sizes, n_proc)
        fingerprint = resume_io.fingerprint(self, X, y_idx, classes, [b.batch_size for b in budgets])
        # One seed for every rank under torchrun.
        state, seed = fitting.start(self, fingerprint, resume, lambda: dist.broadcast_int(seed_from(self.random_state)))
        image_shape = tuple(int(s) for s in X.shape[1:])
        pairs = self._build_pairs(seed, len(classes), image_shape, device)  # identical on every rank
        if n_proc > 1:
            for pair in pairs:
                pair.distribute(device)
        data = fitting.unit_data(X, y_idx, len(classes), self.strategy == "conditional", device)
        save_fn = fitting.checkpoint_writer(self.checkpoint_dir, seed, fingerprint,
                                            write=rank == 0)  # under torchrun rank 0 alone writes
        pair_cfgs = [replace(cfg, epochs=b.epochs, batch_size=b.batch_size) for b in budgets]
        trainer = fitting.make_trainer(self, pairs, data, pair_cfgs, seed, classes, save_fn, state,
                                       rank=rank, world_size=n_proc)
        try:
            trainer.run()
            dist.barrier()  # under torchrun every rank leaves fit after rank 0's last checkpoint is written
        except TrainingDivergedError:
            # The pairs hold the last healthy state: keep it usable on the estimator.
            self._set_fitted(trainer, classes, image_shape, device, seed, budgets)
            raise
        self._set_fitted(trainer, classes, image_shape, device, seed, budgets)
        return self

    @staticmethod
    def _check_distributed(budgets, sizes: list[int], n_proc: int) -> None:
        """Under torchrun: every rank needs a slice of every global batch (ConfigError otherwise)."""
        for budget, n in zip(budgets, sizes):
            bs = min(budget.batch_size, n)
            if n < n_proc:
                raise ConfigError(
                    f"a network pair has {n} training image(s) for {n_proc} training processes; every process "
                    "needs at least one image per step. Start fewer processes, or use --strategy conditional "
                    "(one pair for all classes)."
                )
            dist.local_batch_size(bs, n_proc)
            if bs % n_proc:
                logger.warning("batch size %d is not a multiple of the %d processes: each takes %d images "
                               "per step and %d image(s) of every batch are left out", bs, n_proc,
                               bs // n_proc, bs % n_proc)

    def _set_fitted(self, trainer: Trainer, classes, image_shape, device, seed, budgets) -> None:
        ada_on = self.ada_target is not None and parse_policy(self.diff_augment)
        extra = ["ada_p"] if ada_on else []  # ADA's strength per epoch
        fitting.set_fitted(self, trainer, classes, image_shape, device, seed, budgets, [*HISTORY_COLUMNS, *extra])
        self.discriminators_ = [pair.discriminator for pair in trainer.pairs]

    # ------------------------------------------------------------------ sample
    def _check_fitted(self) -> None:
        if not hasattr(self, "generators_"):
            raise NotFittedError(
                "This ConditionalGAN is not fitted yet; call fit(X, y) or ConditionalGAN.load(folder) first."
            )

    def _class_indices(self, y) -> np.ndarray:
        return class_indices(self.classes_, y)

    def sample(self, y, *, random_state=None) -> np.ndarray:
        """Generate one image per requested label.

        Parameters
        ----------
        y : array-like of shape (n,)
            Labels from ``classes_``.
        random_state : int, numpy Generator or None
            Seeds the noise. None uses a seed derived from the fit's seed, so repeated
            calls give the same images. The noise is drawn on the CPU, so a model gives
            the same noise on every device.

        Returns
        -------
        ndarray of shape (n, C, H, W), float32 in [0, 1]

        Shape
        -----
        returns : ``(len(y), C, H, W)``; row ``i`` is an image of class ``y[i]``.
        """
        self._check_fitted()
        idx = self._class_indices(y)
        c, h, w = self.image_shape_
        out = np.empty((len(idx), c, h, w), np.float32)
        if len(idx) == 0:
            return out
        seed = seed_from(random_state) if random_state is not None else derive_seed(self.seed_, _SAMPLE_STREAM)
        z = torch.randn(len(idx), self.latent_dim, generator=torch_generator(seed))  # (n, Z), on CPU
        snap_io.run_by_class(self.generators_, idx, z, out, self.device_, _SAMPLE_CHUNK)  # (n, C, H, W)
        return np.clip(out, 0.0, 1.0, out=out)

    # ------------------------------------------------------------------ snapshots and critic
    def use_snapshot(self, index: int) -> ConditionalGAN:
        """Load snapshot ``index`` of ``snapshots_`` into the sampling networks.

        ``-1`` (the last snapshot) is the final model. :meth:`sample` and :meth:`save`
        then use these weights; ``snapshot_index_`` records the choice. Snapshots exist
        only after ``fit`` in this session (ConfigError otherwise).
        """
        snap_io.use_snapshot(self, index)
        return self

    def discriminator_scores(self, X, y) -> np.ndarray:
        """Raw logits of the final discriminators for images ``X`` labelled ``y``.

        Higher means "more real" to the critic; ``per-class`` uses each class's
        discriminator. Available after ``fit`` only (discriminators are not saved).

        Shape
        -----
        X : ``(N, C, H, W)`` in [0, 1]; y : ``(N,)`` labels from ``classes_``; returns ``(N,)``.
        """
        return snap_io.discriminator_scores(self, X, y)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, class_names: Sequence[str] | None = None) -> Path:
        """Write ``model.safetensors``, ``generator.json`` and ``history.csv`` into ``directory``.

        The folder is created if needed; existing files of the same names are replaced
        atomically. Only the sampling networks are saved (EMA weights when enabled).

        Parameters
        ----------
        directory : str or path
        class_names : sequence of str, optional
            One name per class of ``classes_``, stored in ``generator.json`` and restored
            as ``class_names_`` by :meth:`load`. Default: ``class_names_``.

        Returns
        -------
        Path
            ``directory``.
        """
        self._check_fitted()
        names = class_names if class_names is not None else getattr(self, "class_names_", None)
        return model_io.save_generator(self, directory, names)

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> "ConditionalGAN":
        """Restore a model written by :meth:`save` (no pickle is ever read).

        Folders written before the metadata was named ``generator.json`` (it was
        ``config.json``) load too.

        Raises
        ------
        ModelFileError
            A file is missing, corrupt, a pickle, or does not match the configuration.
        """
        return model_io.load_generator(cls, directory, device)
