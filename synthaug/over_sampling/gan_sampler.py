"""The :class:`GANOverSampler`: imbalanced-learn's ``fit_resample`` with a conditional GAN."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..data.validation import check_labels
from ..exceptions import ConfigError, InvalidDataError
from ..generators import ConditionalGAN
from .draw import append_synthetic, draw_synthetic
from .strategy import resolve_sampling_strategy

__all__ = ["GANOverSampler"]

logger = logging.getLogger(__name__)


class GANOverSampler(BaseEstimator):
    """Over-sample classes with images drawn from a conditional GAN.

    Follows imbalanced-learn's sampler contract, so it drops into
    ``imblearn.pipeline.Pipeline`` by duck typing (imbalanced-learn itself is not
    needed): ``fit_resample(X, y)`` returns the real rows first, in their original
    order, followed by the synthetic rows grouped by class.

    Parameters
    ----------
    generator : ConditionalGAN or None
        The generator to train (cloned with :func:`sklearn.base.clone`; the object
        passed in is never modified). None means ``ConditionalGAN(random_state=random_state)``.
    sampling_strategy : str, float, dict or callable, default "auto"
        imbalanced-learn's meanings; see
        :func:`~synthaug.over_sampling.resolve_sampling_strategy`.
    image_shape : (C, H, W) or None
        How to read a 2-D ``X`` of flattened images. None infers a square grayscale
        image when the number of features is a perfect square.
    random_state : int, numpy Generator or None
        Seeds the generator's training (when ``generator`` is None) and the sampling.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: number of samples added}``.
    generator_ : ConditionalGAN or None
        The fitted clone (None when no class needed new samples).

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
    >>> X_res, y_res = GANOverSampler(generator=gan, random_state=0).fit_resample(X, ds.labels)
    >>> X_res.shape, int((y_res == 1).sum())
    ((24, 64), 12)
    """

    def __init__(self, *, generator: ConditionalGAN | None = None, sampling_strategy="auto",
                 image_shape: tuple[int, int, int] | None = None, random_state=None):
        self.generator = generator
        self.sampling_strategy = sampling_strategy
        self.image_shape = image_shape
        self.random_state = random_state

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
        if self.generator is not None and not isinstance(self.generator, ConditionalGAN):
            raise ConfigError(
                f"generator must be a ConditionalGAN or None, got {type(self.generator).__name__}."
            )
        return images, layout, y

    def fit(self, X, y) -> "GANOverSampler":
        """Check the inputs and resolve ``sampling_strategy_`` (no training; see fit_resample)."""
        _, _, y = self._check(X, y)
        self.sampling_strategy_ = resolve_sampling_strategy(self.sampling_strategy, y)
        return self

    def fit_resample(self, X, y, **fit_params) -> tuple[np.ndarray, np.ndarray]:
        """Fit the generator on ``(X, y)`` and append synthetic rows.

        Parameters
        ----------
        X : array-like of shape (N, C, H, W), (N, H, W) or (N, D)
        y : array-like of shape (N,)
        **fit_params
            Passed to the generator's ``fit`` (e.g. ``resume=True`` to continue from the
            generator's ``checkpoint_dir``).

        Returns
        -------
        X_resampled : ndarray of shape (N + n_new, ...)
            ``X``'s layout and dtype; the first N rows are ``X`` unchanged, then the
            synthetic rows, class by class in sorted class order.
        y_resampled : ndarray of shape (N + n_new,)
        """
        images, layout, y = self._check(X, y)
        self.sampling_strategy_ = resolve_sampling_strategy(self.sampling_strategy, y)
        if not any(self.sampling_strategy_.values()):
            logger.info("GANOverSampler: every class already meets its target; nothing generated")
            self.generator_ = None
            return np.array(X, copy=True), y.copy()
        X_syn, y_syn = self._fit_resample(images, y, **fit_params)
        return append_synthetic(X, y, self._from_images(X_syn, layout), y_syn)

    def _fit_resample(self, images: np.ndarray, y: np.ndarray, **fit_params) -> tuple[np.ndarray, np.ndarray]:
        """Fit a clone of the generator and draw ``sampling_strategy_`` (checked inputs).

        ``generator_`` is set before training, so a caller that catches an error from
        ``fit`` (divergence) can still reach the generator and its last healthy state.

        Shape
        -----
        images : ``(N, C, H, W)`` float32; returns ``X_syn (n_new, C, H, W)``, ``y_syn (n_new,)``.
        """
        base = self.generator if self.generator is not None else ConditionalGAN(random_state=self.random_state)
        self.generator_ = clone(base)
        self.generator_.fit(images, y, **fit_params)
        return draw_synthetic(self.generator_, self.sampling_strategy_, self.random_state)
