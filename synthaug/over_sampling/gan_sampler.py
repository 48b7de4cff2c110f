"""The :class:`GANOverSampler`: imbalanced-learn's ``fit_resample`` with a conditional GAN."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..data.validation import check_choice, check_float, check_labels
from ..exceptions import ConfigError, InvalidDataError, LowQualityError
from ..generators import ConditionalDiffusion, ConditionalGAN
from ..generators.distributed import is_main_process
from ..generators.registry import AUTO, generator_class, resolve_model
from ..quality import assess_generator, holdout_split, resolve_fraction
from .draw import append_synthetic
from .select import COPY_GUARD, DEFAULT_POOL_FACTOR, DEFAULT_SELECT, SELECTION_METHODS, draw_selected
from .strategy import resolve_sampling_strategy

__all__ = ["GANOverSampler", "OverSampler", "low_quality_message"]

logger = logging.getLogger(__name__)


class GANOverSampler(BaseEstimator):
    """Over-sample classes with images drawn from a conditional GAN (or diffusion model).

    Follows imbalanced-learn's sampler contract, so it drops into
    ``imblearn.pipeline.Pipeline`` by duck typing (imbalanced-learn itself is not
    needed): ``fit_resample(X, y)`` returns the real rows first, in their original
    order, followed by the synthetic rows grouped by class.

    Parameters
    ----------
    generator : ConditionalGAN, ConditionalDiffusion or None
        The generator to train (cloned with :func:`sklearn.base.clone`; the object
        passed in is never modified). None chooses from the rows it is fitted on, as
        ``synthaug augment --model auto`` does (:func:`~synthaug.generators.resolve_model`):
        ``ConditionalDiffusion(random_state=random_state)`` when the diffusion model's
        default budget affords the steps it wants on images of at most 16 px, else
        ``ConditionalGAN(random_state=random_state)`` (always with ``select="critic"``).
        ``GANOverSampler(generator=ConditionalDiffusion())`` over-samples with the
        diffusion model (``select="critic"`` needs a GAN's discriminator). ``OverSampler``
        is the same class under a generator-neutral name.
    sampling_strategy : str, float, dict or callable, default "auto"
        imbalanced-learn's meanings; see
        :func:`~synthaug.over_sampling.resolve_sampling_strategy`.
    image_shape : (C, H, W) or None
        How to read a 2-D ``X`` of flattened images. None infers a square grayscale
        image when the number of features is a perfect square.
    random_state : int, numpy Generator or None
        Seeds the generator's training (when ``generator`` is None), the hold-back, the
        quality gate and the sampling.
    validation_fraction : "auto" or float in [0, 1), default "auto"
        Share of each class's real rows held back from the generator to judge its
        samples (:func:`~synthaug.quality.holdout_split`; "auto" is 0.2, with at least 2
        rows per class kept for fitting). 0 disables the hold-back and the gate: the
        generator is fitted on every row, as before the gate existed.
    on_low_quality : {"raise", "warn", "ignore"}, default "raise"
        What happens when the samples fail the gate (:func:`~synthaug.quality.judge`):
        raise :class:`~synthaug.exceptions.LowQualityError`, log a warning, or nothing.
    select : str or None, default "coverage"
        Sample selection (:func:`~synthaug.over_sampling.select.select_samples`): draw a
        pool of ``pool_factor`` times the requested count per class and keep the rows
        that best cover the class's real rows (``"coverage"``; all of them, held-back
        rows included: selection comes after the gate), match their mean and covariance
        (``"covariance"``), or score highest with the discriminator (``"critic"``); pixel
        space. None or ``"none"`` keeps the first draws (no pool).
        The default was chosen by the low-data ablation in docs/benchmarks.md.
    pool_factor : float, default 8
        Pool size per class relative to the requested count (with ``select``).
    copy_guard : float, default 0 (off)
        ``"coverage"`` skips pool samples nearer a fitted real row than ``copy_guard`` x
        the real rows' median nearest-neighbour distance (near-copies). Measured on
        diffusion samples of 10 digits per class, 0.7 lifts the copy ratio from
        0.54-0.67 to 0.80-0.86 but costs precision and most of the downstream gain
        (docs/benchmarks.md, section 12): use it when samples must not resemble any one
        training image (for example before sharing them).

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: number of samples added}``.
    generator_ : ConditionalGAN or None
        The fitted clone (None when no class needed new samples).
    quality_ : QualityReport or None
        The gate's numbers and verdict (None when the gate did not run: disabled, no
        class needed samples, or no class had 3 rows to hold one back; or, under
        torchrun, on every rank but 0: they only help train the shared generator).
    fit_idx_, held_idx_ : ndarray of int
        Positions into ``X`` of the rows the generator was fitted on and of the rows
        held back (empty when the gate is disabled). All rows, held ones too, are in
        the output.

    Notes
    -----
    ``X`` may be ``(N, C, H, W)``, ``(N, H, W)`` or ``(N, D)``, float in ``[0, 1]`` or
    uint8 in ``0..255``; the output has ``X``'s layout and dtype (uint8 output is
    rounded). ``y`` keeps its dtype.

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images([12, 4], n_classes=2, random_state=0)
    >>> X = ds.images.reshape(len(ds), -1)  # flattened 8 x 8 images
    >>> gan = ConditionalGAN(epochs=1, width=8, random_state=0)
    >>> sampler = GANOverSampler(generator=gan, random_state=0, on_low_quality="ignore")
    >>> X_res, y_res = sampler.fit_resample(X, ds.labels)  # one epoch: the gate fails, ignored
    >>> X_res.shape, int((y_res == 1).sum())
    ((24, 64), 12)
    >>> sampler.quality_.passed
    False
    """

    def __init__(self, *, generator: ConditionalGAN | None = None, sampling_strategy="auto",
                 image_shape: tuple[int, int, int] | None = None, random_state=None,
                 validation_fraction="auto", on_low_quality: str = "raise", select: str | None = DEFAULT_SELECT,
                 pool_factor: float = DEFAULT_POOL_FACTOR, copy_guard: float = COPY_GUARD):
        self.generator = generator
        self.sampling_strategy = sampling_strategy
        self.image_shape = image_shape
        self.random_state = random_state
        self.validation_fraction = validation_fraction
        self.on_low_quality = on_low_quality
        self.select = select
        self.pool_factor = pool_factor
        self.copy_guard = copy_guard

    # ------------------------------------------------------------------ layout helpers
    def _to_images(self, X) -> tuple[np.ndarray, dict[str, Any]]:
        """``X`` -> float32 ``(N, C, H, W)`` in [0, 1], plus what is needed to convert back."""
        X = np.asarray(X)
        if X.dtype == np.uint8:
            images = X.astype(np.float32) / np.float32(255.0)
        elif np.issubdtype(X.dtype, np.floating):
            images = X.astype(np.float32, copy=False)
        else:
            raise InvalidDataError(
                f"X has dtype {X.dtype}; expected float values in [0, 1] or uint8 in 0..255."
            )
        if X.ndim == 4:
            out = images
        elif X.ndim == 3:
            out = images[:, None]  # (N, 1, H, W)
        elif X.ndim == 2:
            out = images.reshape(X.shape[0], *self._flat_shape(X.shape[1]))  # (N, C, H, W)
        else:
            raise InvalidDataError(
                f"X has shape {X.shape}; expected (N, C, H, W), (N, H, W) or (N, D) flattened images."
            )
        return np.ascontiguousarray(out), {"shape": X.shape[1:], "dtype": X.dtype}

    def _flat_shape(self, n_features: int) -> tuple[int, int, int]:
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if len(shape) != 3 or math.prod(shape) != n_features:
                raise ConfigError(
                    f"image_shape={self.image_shape!r} does not fit X's {n_features} features; pass "
                    "(C, H, W) with C * H * W equal to the number of columns."
                )
            return shape  # type: ignore[return-value]
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ConfigError(
                f"X is 2-D with {n_features} features, which is not a square grayscale image; "
                "pass image_shape=(C, H, W) to say how to unflatten it."
            )
        return (1, side, side)

    @staticmethod
    def _from_images(images: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
        """Float ``(N, C, H, W)`` in [0, 1] -> the caller's layout and dtype."""
        out = images.reshape(images.shape[0], *layout["shape"])
        if layout["dtype"] == np.uint8:
            return np.rint(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)
        return out.astype(layout["dtype"], copy=False)

    # ------------------------------------------------------------------ API
    def _check(self, X, y) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
        images, layout = self._to_images(X)
        y = check_labels(y, images.shape[0], "y")
        if self.generator is not None and not isinstance(self.generator, (ConditionalGAN, ConditionalDiffusion)):
            raise ConfigError(
                "generator must be a ConditionalGAN, a ConditionalDiffusion or None, got "
                f"{type(self.generator).__name__}."
            )
        resolve_fraction(self.validation_fraction)
        check_choice("on_low_quality", self.on_low_quality, ("raise", "warn", "ignore"))
        if self.select is not None:
            check_choice("select", self.select, SELECTION_METHODS)
            check_float("pool_factor", self.pool_factor, 1.0)
            check_float("copy_guard", self.copy_guard, 0.0)
            if self.select == "critic" and isinstance(self.generator, ConditionalDiffusion):
                raise ConfigError("select='critic' needs a GAN's discriminator; a ConditionalDiffusion has "
                                  "none. Use select='coverage', 'covariance' or 'none'.")
        return images, layout, y

    def fit(self, X, y) -> "GANOverSampler":
        """Check the inputs and resolve ``sampling_strategy_`` (no training; see fit_resample)."""
        _, _, y = self._check(X, y)
        self.sampling_strategy_ = resolve_sampling_strategy(self.sampling_strategy, y)
        return self

    def fit_resample(self, X, y, *, validation_data=None, **fit_params) -> tuple[np.ndarray, np.ndarray]:
        """Fit the generator on ``(X, y)`` (less the held-back rows), gate it, append synthetic rows.

        Parameters
        ----------
        X : array-like of shape (N, C, H, W), (N, H, W) or (N, D)
        y : array-like of shape (N,)
        validation_data : (X_val, y_val) or None
            Real rows to judge the samples against instead of holding back rows of
            ``X`` (the generator then fits on all of ``X``); same layout as ``X``.
            Ignored when ``validation_fraction=0``.
        **fit_params
            Passed to the generator's ``fit`` (e.g. ``resume=True`` to continue from the
            generator's ``checkpoint_dir``).

        Returns
        -------
        X_resampled : ndarray of shape (N + n_new, ...)
            ``X``'s layout and dtype; the first N rows are ``X`` unchanged (held-back
            rows included), then the synthetic rows, class by class in sorted class order.
        y_resampled : ndarray of shape (N + n_new,)

        Raises
        ------
        LowQualityError
            With ``on_low_quality="raise"``, when the samples fail the gate.
        """
        images, layout, y = self._check(X, y)
        self.sampling_strategy_ = resolve_sampling_strategy(self.sampling_strategy, y)
        if not any(self.sampling_strategy_.values()):
            logger.info("GANOverSampler: every class already meets its target; nothing generated")
            self.generator_, self.quality_ = None, None
            self.fit_idx_, self.held_idx_ = np.arange(len(y)), np.zeros(0, np.int64)
            return np.array(X, copy=True), y.copy()
        X_syn, y_syn = self._fit_resample(images, y, validation=self._check_validation(validation_data, y),
                                          **fit_params)
        return append_synthetic(X, y, self._from_images(X_syn, layout), y_syn)

    def fit_generator(self, X, y, *, validation_data=None, **fit_params) -> GANOverSampler:
        """Hold back, fit and gate the generator, without drawing samples to add.

        Sets ``generator_``, ``quality_``, ``fit_idx_`` and ``held_idx_`` as
        :meth:`fit_resample` does (``synthaug train`` uses it); the parameters are
        :meth:`fit_resample`'s.
        """
        images, _, y = self._check(X, y)
        self._fit_and_gate(images, y, self._check_validation(validation_data, y), **fit_params)
        return self

    def _check_validation(self, validation_data, y: np.ndarray):
        if validation_data is None or resolve_fraction(self.validation_fraction) == 0:
            return None
        X_val, y_val = validation_data
        images, _ = self._to_images(X_val)
        return images, check_labels(y_val, images.shape[0], "validation_data labels").astype(y.dtype, copy=False)

    def _fit_resample(self, images: np.ndarray, y: np.ndarray, validation=None,
                      **fit_params) -> tuple[np.ndarray, np.ndarray]:
        """Fit and gate a clone of the generator, then draw ``sampling_strategy_`` (checked inputs).

        Shape
        -----
        images : ``(N, C, H, W)`` float32; returns ``X_syn (n_new, C, H, W)``, ``y_syn (n_new,)``.
        """
        self._fit_and_gate(images, y, validation, **fit_params)
        # Keep the best of a pool for every real row the output holds, the held-back ones too:
        # the gate has already judged the generator on its own draw, so they no longer make
        # its numbers optimistic, and covering all rows raised recall (docs/benchmarks.md, 15).
        return draw_selected(self.generator_, self.sampling_strategy_, self.random_state, select=self.select,
                             pool_factor=self.pool_factor, real_X=images, real_y=y, copy_guard=self.copy_guard)

    def _default_generator(self, X_fit: np.ndarray, y_fit: np.ndarray):
        """``generator=None``: the generator ``--model auto`` would choose for these rows."""
        if self.select == "critic":  # scores with a discriminator: a GAN
            return ConditionalGAN(random_state=self.random_state)
        model, why = resolve_model(AUTO, len(y_fit), X_fit.shape[1:])
        logger.info("GANOverSampler: generator %s (%s)", model, why)
        return generator_class(model)(random_state=self.random_state)

    def _fit_and_gate(self, images: np.ndarray, y: np.ndarray, validation, **fit_params) -> None:
        """Hold back rows (or use ``validation``), fit a clone of the generator on the rest, gate it.

        ``generator_`` is set before training, so a caller that catches an error from
        ``fit`` (divergence) can still reach the generator and its last healthy state.
        """
        fraction = resolve_fraction(self.validation_fraction)
        if validation is not None:
            fit_idx, held_idx = np.arange(len(y)), np.zeros(0, np.int64)
            X_held, y_held = validation
        else:
            fit_idx, held_idx = holdout_split(y, fraction, random_state=self.random_state)
            X_held, y_held = images[held_idx], y[held_idx]
        self.fit_idx_, self.held_idx_, self.quality_ = fit_idx, held_idx, None
        X_fit, y_fit = images[fit_idx], y[fit_idx]
        base = self.generator if self.generator is not None else self._default_generator(X_fit, y_fit)
        self.generator_ = clone(base)
        self.generator_.fit(X_fit, y_fit, **fit_params)
        if fraction == 0 or not is_main_process():  # under torchrun rank 0 alone judges the samples
            return
        if len(y_held) == 0:
            logger.warning("GANOverSampler: no class has 3 rows, so none could be held back; the "
                           "samples' quality was not checked.")
            return
        self.quality_ = assess_generator(self.generator_, X_fit, y_fit, X_held, y_held,
                                         random_state=self.random_state, device=self.generator_.device)
        if self.quality_.passed or self.on_low_quality == "ignore":
            return
        message = low_quality_message(self.quality_)
        if self.on_low_quality == "raise":
            raise LowQualityError(
                f"{message} Train longer (more steps), or pass on_low_quality='warn' to use the "
                "samples anyway; the fitted generator and the report are in generator_ and quality_."
            )
        logger.warning("GANOverSampler: %s", message)


def low_quality_message(report) -> str:
    """What failed, in one paragraph (the CLI and the sampler share it)."""
    return "the synthetic samples failed the quality gate: " + " ".join(
        r for r in report.reasons if not r.startswith("note:")) + f" ({report.caption()})"


#: The generator-neutral name of :class:`GANOverSampler` (it takes a GAN or a diffusion model).
OverSampler = GANOverSampler
