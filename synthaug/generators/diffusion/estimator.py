"""The :class:`ConditionalDiffusion` estimator: a class-conditional denoising diffusion model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..._utils import resolve_device
from ...data.validation import (
    check_choice,
    check_float,
    check_images,
    check_int,
    class_indices,
    encode_labels,
)
from ...exceptions import (
    ConfigError,
    NotFittedError,
    TrainingDivergedError,
)
from ...seeding import derive_seed, seed_from, torch_generator
from .. import fitting
from .. import distributed as dist
from .. import model_io
from .. import resume as resume_io
from .. import snapshots as snap_io
from ..budget import DIFFUSION_RULE, check_budget_params, resolve_budget
from ..registry import STRATEGIES
from ..trainer import Trainer
from .schedule import alpha_bars, ddim_sample
from .training import DenoiserUnit, DiffusionConfig
from .unet import DiffusionUNet

__all__ = ["ConditionalDiffusion"]

logger = logging.getLogger(__name__)

_INIT_STREAM = 1
_SAMPLE_STREAM = 2
_SAMPLE_CHUNK = 512
MIN_SIZE = 4


class ConditionalDiffusion(BaseEstimator):
    """Class-conditional denoising diffusion model for small labelled image datasets.

    The same contract as :class:`~synthaug.generators.ConditionalGAN`: ``fit(X, y)``,
    ``sample(y, random_state=...)``, ``classes_``, ``history_``, ``save``/``load``
    (safetensors + JSON), checkpoints with a bit-identical ``resume``, snapshots and
    ``use_snapshot``, a progress bar, rollback on a non-finite loss, ``device`` and
    determinism from ``random_state``.

    The model: a compact UNet with a class embedding
    (:class:`~synthaug.generators.diffusion.unet.DiffusionUNet`), trained to predict the
    noise of the DDPM forward process (cosine schedule, ``timesteps`` steps); samples come
    from DDIM with ``sample_steps`` steps; classifier-free guidance (labels dropped with
    probability ``label_dropout`` in training, ``guidance_scale`` at sampling); an EMA of
    the weights samples.

    Parameters
    ----------
    strategy : {"conditional", "per-class"}, default "conditional"
        One network conditioned on the label, or one unconditional network per class.
    epochs, steps, batch_size, max_minutes, n_snapshots
        As for ``ConditionalGAN``; the default budget follows
        :data:`~synthaug.generators.budget.DIFFUSION_RULE`: batch ``N // 4`` in [16, 64],
        ``max(1000 steps, 300 epochs)`` but at most 2000 steps, capped at about eight
        minutes of one CPU core, at least 500 steps (100 digits: 1200 steps; longer
        training on so few images starts to copy them).
    lr : float, default 1e-3
        Adam learning rate.
    width : int or None, default None
        Channels of the UNet's first level (deeper levels have twice as many). None: 32
        for images up to 16 px, 16 above (a forward pass at 28 x 28 with 32 channels costs
        about 210 MFLOP per image, so 25 DDIM steps for 1000 images would be about 5
        TFLOP: minutes on two CPU cores; 16 channels cost a quarter).
    timesteps : int, default 1000
        Steps of the training noise schedule.
    sample_steps : int, default 25
        DDIM steps per sample: more is slower and sharper.
    guidance_scale : float, default 1.0
        Classifier-free guidance: 1 is the conditional model (one network pass per step),
        0 the unconditional one, above 1 samples closer to the training images (two passes;
        docs/benchmarks.md section 14).
        Ignored by ``per-class``.
    label_dropout : float in [0, 1), default 0.1
        Probability of training on the null label (needed for guidance scales != 1).
    ema_decay : float or None, default 0.995
        Decay of the EMA of the weights used for sampling (with the GAN's warm-up); None
        samples from the raw weights.
    augment_p : float in [0, 1), default 0.0
        Training-time augmentation: the probability that a batch image is rotated (up to
        10 degrees) and shifted (up to 10% of its size). The network is told which images
        were warped and samples as "not warped", so the samples are not warped themselves
        (non-leaking augmentation; below 1, or it never sees an unwarped image). Measured on 10 digits per class (docs/benchmarks.md
        section 13): 0.5 keeps the samples farther from the training digits (copy ratio
        0.69-0.71 instead of 0.52-0.65) at lower recall (0.46-0.49 instead of 0.53-0.63);
        0 (off) by default.
    dropout : float in [0, 1), default 0.5
        Dropout inside the UNet's residual blocks while training (Ho et al. 2020 used 0.1
        on CIFAR-10); seeded per batch from the fit's seed. It slows the memorisation of
        tiny training sets (docs/benchmarks.md section 14): in the digits study at 10 and
        20 per class the share of near-copies fell from 32% / 13% to 2% / 1% with no
        significant change downstream; on three 10-per-class sets the pixel copy ratio
        rose from 0.52-0.65 to 0.69-0.73 at recall 0.51-0.52 (0 gave 0.53-0.63). 0 turns
        it off (the default before 2026-12-02).
    device, random_state, progress, checkpoint_dir, checkpoint_every, max_rollbacks
        As for ``ConditionalGAN``.

    Attributes
    ----------
    classes_, class_names_, image_shape_, history_ (``epoch, loss, lr``; ``class``
    first for ``per-class``), generators_ (the sampling UNets), rollbacks_, device_,
    seed_, train_seconds_, images_per_second_, budget_, snapshots_, snapshot_index_
        As for ``ConditionalGAN``.

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images(16, n_classes=2, random_state=0)
    >>> model = ConditionalDiffusion(epochs=2, width=8, random_state=0).fit(ds.images, ds.labels)
    >>> model.sample([0, 1, 1], random_state=0).shape
    (3, 1, 8, 8)
    """

    #: The ``format`` of this estimator's model folders and its history columns.
    MODEL_FORMAT = "synthaug.ConditionalDiffusion"
    HISTORY_COLUMNS = ["epoch", "loss", "lr"]
    #: Parameters whose change makes a checkpoint unusable.
    FINGERPRINT_KEYS = ("strategy", "lr", "width", "timesteps", "label_dropout", "ema_decay", "augment_p", "dropout")
    #: Parameters added with a default other than the old behaviour, and that old
    #: behaviour: what a model folder or checkpoint written before them was trained with.
    LEGACY_PARAMS = {"dropout": 0.0}

    def __init__(
        self,
        *,
        strategy: str = "conditional",
        epochs: int | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        max_minutes: float | None = None,
        n_snapshots: int = 4,
        lr: float = 1e-3,
        width: int | None = None,
        timesteps: int = 1000,
        sample_steps: int = 25,
        guidance_scale: float = 1.0,
        label_dropout: float = 0.1,
        ema_decay: float | None = 0.995,
        augment_p: float = 0.0,
        dropout: float = 0.5,
        device: str = "auto",
        random_state=None,
        progress: bool = False,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int = 10,
        max_rollbacks: int = 3,
    ):
        params = dict(locals())
        del params["self"]
        vars(self).update(params)

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        check_choice("strategy", self.strategy, STRATEGIES)
        check_budget_params(self.epochs, self.steps, self.batch_size, self.max_minutes, self.n_snapshots)
        check_float("lr", self.lr, 0.0, np.inf, low_open=True, high_open=True)
        if self.width is not None:
            check_int("width", self.width, 2)
        check_int("timesteps", self.timesteps, 2)
        check_int("sample_steps", self.sample_steps, 1)
        check_float("guidance_scale", self.guidance_scale, 0.0, np.inf, low_open=False, high_open=True)
        check_float("label_dropout", self.label_dropout, 0.0, 1.0, low_open=False, high_open=True)
        if self.ema_decay is not None:
            check_float("ema_decay", self.ema_decay, 0.0, 1.0, low_open=False, high_open=True)
        check_float("augment_p", self.augment_p, 0.0, 1.0, low_open=False, high_open=True)
        check_float("dropout", self.dropout, 0.0, 1.0, low_open=False, high_open=True)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_int("max_rollbacks", self.max_rollbacks, 0)

    @staticmethod
    def _check_data(X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = check_images(X, "X", owner="ConditionalDiffusion", min_size=MIN_SIZE, min_images=2)
        classes, y_idx = encode_labels(y, X.shape[0], "a conditional diffusion model")
        return X, y_idx, classes

    # ------------------------------------------------------------------ building
    def _make_generator(self, n_classes: int, image_shape, device, gen) -> torch.nn.Module:
        """A UNet initialised from ``gen`` (torch's global RNG is never touched)."""
        with torch.device("meta"):
            net = DiffusionUNet(image_shape, n_classes, self._width(image_shape), warp_flag=self.augment_p > 0,
                                dropout=float(self.dropout))
        net = net.to_empty(device="cpu")
        for name, p in net.named_parameters():  # torch's default initialisation, drawn from gen
            with torch.no_grad():
                if name.endswith("bias") or name.startswith(("out.", "warp_emb.")):
                    p.zero_()  # the last convolution starts at zero (predicts no noise)
                elif name == "class_emb.weight":
                    p.normal_(generator=gen)
                elif p.ndim == 1:  # GroupNorm weights
                    p.fill_(1.0)
                else:
                    bound = 1.0 / p[0].numel() ** 0.5
                    p.uniform_(-bound, bound, generator=gen)
        return net.to(device)

    def _width(self, image_shape) -> int:
        """``width``, or the size rule when it is None (see the class docstring)."""
        if self.width is not None:
            return int(self.width)
        return 32 if max(int(s) for s in image_shape[1:]) <= 16 else 16

    def _cfg(self, epochs: int, batch_size: int, n_classes: int) -> DiffusionConfig:
        return DiffusionConfig(epochs=epochs, batch_size=batch_size, label_dropout=float(self.label_dropout),
                               ema_decay=None if self.ema_decay is None else float(self.ema_decay),
                               max_rollbacks=int(self.max_rollbacks), null_label=n_classes,
                               augment_p=float(self.augment_p), dropout=float(self.dropout))

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, *, resume: bool = False) -> "ConditionalDiffusion":
        """Train on images ``X`` (N, C, H, W) in [0, 1] with labels ``y``; see ``ConditionalGAN.fit``."""
        self._check_params()
        if dist.world_size() > 1:
            raise ConfigError(
                "ConditionalDiffusion does not train under torchrun (several processes) yet; run it in "
                "one process (multi-process training is the GAN's: --model dcgan or vanilla)."
            )
        X, y_idx, classes = self._check_data(X, y)
        device = resolve_device(self.device)
        conditional = self.strategy == "conditional"
        sizes = [len(X)] if conditional else np.bincount(y_idx, minlength=len(classes)).tolist()
        budgets = [resolve_budget(n, X.shape[1:], epochs=self.epochs, steps=self.steps, batch_size=self.batch_size,
                                  n_pairs=len(sizes), rule=DIFFUSION_RULE) for n in sizes]
        fingerprint = resume_io.fingerprint(self, X, y_idx, classes, [b.batch_size for b in budgets])
        state, seed = fitting.start(self, fingerprint, resume, lambda: seed_from(self.random_state))
        image_shape = tuple(int(s) for s in X.shape[1:])
        n_cond = len(classes) if conditional else 0
        abar = alpha_bars(int(self.timesteps)).float().to(device)
        units = []
        for i in range(len(sizes)):
            gen = torch_generator(derive_seed(seed, _INIT_STREAM, i))
            net = self._make_generator(n_cond, image_shape, device, gen)
            ema = self._make_generator(n_cond, image_shape, device, gen) if self.ema_decay is not None else None
            units.append(DenoiserUnit(net, ema, abar, lr=float(self.lr)))
        data = fitting.unit_data(X, y_idx, len(classes), conditional, device)
        save_fn = fitting.checkpoint_writer(self.checkpoint_dir, seed, fingerprint)
        cfgs = [self._cfg(b.epochs, b.batch_size, len(classes)) for b in budgets]
        trainer = fitting.make_trainer(self, units, data, cfgs, seed, classes, save_fn, state)
        try:
            trainer.run()
        except TrainingDivergedError:
            # The units hold the last healthy state: keep it usable on the estimator.
            self._set_fitted(trainer, classes, image_shape, device, seed, budgets)
            raise
        self._set_fitted(trainer, classes, image_shape, device, seed, budgets)
        return self

    def _set_fitted(self, trainer: Trainer, classes, image_shape, device, seed, budgets) -> None:
        fitting.set_fitted(self, trainer, classes, image_shape, device, seed, budgets, self.HISTORY_COLUMNS)
        self._abar = trainer.pairs[0].abar

    # ------------------------------------------------------------------ sample
    def _check_fitted(self) -> None:
        if not hasattr(self, "generators_"):
            raise NotFittedError(
                "This ConditionalDiffusion is not fitted yet; call fit(X, y) or "
                "ConditionalDiffusion.load(folder) first."
            )

    def _class_indices(self, y) -> np.ndarray:
        return class_indices(self.classes_, y)

    def sample(self, y, *, random_state=None) -> np.ndarray:
        """Generate one image per requested label: ndarray (n, C, H, W), float32 in [0, 1].

        ``random_state`` seeds the initial noise (drawn on the CPU, so every device gets
        the same numbers); None uses a seed derived from the fit's, so repeated calls give
        the same images. DDIM with ``sample_steps`` steps is deterministic given the noise.
        """
        self._check_fitted()
        idx = self._class_indices(y)
        c, h, w = self.image_shape_
        out = np.empty((len(idx), c, h, w), np.float32)
        if len(idx) == 0:
            return out
        seed = seed_from(random_state) if random_state is not None else derive_seed(self.seed_, _SAMPLE_STREAM)
        noise = torch.randn(len(idx), c, h, w, generator=torch_generator(seed))  # (n, C, H, W) on CPU
        abar = getattr(self, "_abar", None)
        if abar is None or abar.shape[0] != int(self.timesteps):
            abar = self._abar = alpha_bars(int(self.timesteps)).float().to(self.device_)
        conditional = len(self.generators_) == 1
        groups = [(self.generators_[0], np.arange(len(idx)))] if conditional else [
            (self.generators_[k], np.flatnonzero(idx == k)) for k in np.unique(idx)]
        n_classes = len(self.classes_)
        for net, rows in groups:
            net.eval()
            for start in range(0, len(rows), _SAMPLE_CHUNK):
                r = rows[start:start + _SAMPLE_CHUNK]
                labels = torch.from_numpy(idx[r]).to(self.device_) if conditional else None
                x = ddim_sample(net, noise[r].to(self.device_), labels, abar, int(self.sample_steps),
                                float(self.guidance_scale), n_classes)
                out[r] = x.float().cpu().numpy()
        return np.clip(out, 0.0, 1.0, out=out)

    # ------------------------------------------------------------------ snapshots and critic
    def use_snapshot(self, index: int) -> "ConditionalDiffusion":
        """Load snapshot ``index`` of ``snapshots_`` into the sampling networks (see ConditionalGAN)."""
        snap_io.use_snapshot(self, index)
        return self

    def discriminator_scores(self, X, y) -> np.ndarray:
        """Not available: a diffusion model has no discriminator (ConfigError)."""
        raise ConfigError(
            "a diffusion model has no discriminator to score samples with; use sample selection "
            "'coverage', 'covariance' or 'none' instead of 'critic'."
        )

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, *, class_names: Sequence[str] | None = None) -> Path:
        """Write ``model.safetensors``, ``generator.json`` and ``history.csv`` (no pickle)."""
        self._check_fitted()
        names = class_names if class_names is not None else getattr(self, "class_names_", None)
        return model_io.save_generator(self, directory, names)

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> "ConditionalDiffusion":
        """Restore a model written by :meth:`save` (ModelFileError when it can't)."""
        return model_io.load_generator(cls, directory, device)
