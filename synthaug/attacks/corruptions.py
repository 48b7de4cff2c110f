"""Common image corruptions at graded severities (after Hendrycks & Dietterich, 2019).

Four cheap, label-preserving corruptions that work at any image size from 8x8 up:
``gaussian_noise``, ``blur``, ``contrast`` and ``brightness``. Severity ``0`` is the
identity and ``1``..``5`` grow monotonically. The parameter tables are gentler than
ImageNet-C's, because the images here are small and often medical.

References
----------
Hendrycks and Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions
and Perturbations", ICLR 2019 (arXiv:1903.12261).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.validation import check_images
from ..exceptions import ConfigError
from ..seeding import check_random_state

__all__ = ["CORRUPTIONS", "MAX_SEVERITY", "corrupt"]

MAX_SEVERITY = 5

# One value per severity 1..5.
_NOISE_STD = (0.04, 0.08, 0.12, 0.18, 0.26)
_BLUR_SIGMA_AT_32 = (0.5, 0.75, 1.0, 1.5, 2.0)  # pixels at 32x32; scaled with image size
_CONTRAST_FACTOR = (0.75, 0.6, 0.45, 0.3, 0.15)
_BRIGHTNESS_SHIFT = (0.1, 0.2, 0.3, 0.4, 0.5)


def _gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders.

    Shape
    -----
    images : ``(N, C, H, W)``; returns the same shape.
    """
    n, c, h, w = images.shape
    radius = max(1, int(np.ceil(3 * sigma)))
    radius = min(radius, h - 1, w - 1) if min(h, w) > 1 else 0
    if radius == 0:
        return images.copy()
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()  # (K,)
    x = torch.from_numpy(np.ascontiguousarray(images)).reshape(n * c, 1, h, w)
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))  # blur rows
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))  # blur columns
    return x.reshape(n, c, h, w).numpy()


def corrupt(images: np.ndarray, kind: str, severity: int, random_state=None) -> np.ndarray:
    """Apply one common corruption at a given severity.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        Float images in [0, 1].
    kind : {"gaussian_noise", "blur", "contrast", "brightness"}
        ``gaussian_noise`` adds N(0, sigma^2) pixel noise; ``blur`` is a Gaussian blur
        whose width scales with the image size; ``contrast`` pulls every pixel towards
        its image's per-channel mean; ``brightness`` adds a constant.
    severity : int
        ``0`` (identity) to ``5`` (strongest).
    random_state : None, int or numpy Generator
        Seeds the noise (only ``gaussian_noise`` is random).

    Returns
    -------
    ndarray of shape (N, C, H, W)
        float32, clipped to [0, 1]; a new array (the input is not modified).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.full((2, 1, 8, 8), 0.5, np.float32)
    >>> round(float(corrupt(x, "brightness", 3).max()), 2)
    0.8
    """
    if kind not in CORRUPTIONS:
        raise ConfigError(f"unknown corruption {kind!r}; choose one of {', '.join(CORRUPTIONS)}.")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) \
            or not 0 <= severity <= MAX_SEVERITY:
        raise ConfigError(
            f"corruption severity must be an integer from 0 (none) to {MAX_SEVERITY}, got {severity!r}."
        )
    x = check_images(images, "corrupt: images", owner="corrupt", channels=None, min_images=0)
    return _corrupt(x, kind, int(severity), random_state)


def _gaussian_noise(x: np.ndarray, i: int, random_state) -> np.ndarray:
    rng = check_random_state(random_state)
    return x + rng.normal(0.0, _NOISE_STD[i], size=x.shape).astype(np.float32)


def _blur(x: np.ndarray, i: int, random_state) -> np.ndarray:
    sigma = _BLUR_SIGMA_AT_32[i] * max(x.shape[2], x.shape[3]) / 32.0
    return _gaussian_blur(x, max(sigma, 0.3 + 0.1 * i))


def _contrast(x: np.ndarray, i: int, random_state) -> np.ndarray:
    mean = x.mean(axis=(2, 3), keepdims=True)  # (N, C, 1, 1)
    return (x - mean) * _CONTRAST_FACTOR[i] + mean


def _brightness(x: np.ndarray, i: int, random_state) -> np.ndarray:
    return x + _BRIGHTNESS_SHIFT[i]


#: The corruption registry: name -> function(x, severity index 0..4, random_state).
#: Adding a corruption is one function above and one entry here.
_CORRUPTION_FUNCS = {
    "gaussian_noise": _gaussian_noise,
    "blur": _blur,
    "contrast": _contrast,
    "brightness": _brightness,
}
CORRUPTIONS = tuple(_CORRUPTION_FUNCS)


def _corrupt(x: np.ndarray, kind: str, severity: int, random_state=None) -> np.ndarray:
    """:func:`corrupt` on checked inputs (``x`` float32 in [0, 1]); never modifies ``x``.

    Shape
    -----
    x : ``(N, C, H, W)``; returns the same shape.
    """
    if severity == 0 or x.size == 0:
        return x.copy()
    out = _CORRUPTION_FUNCS[kind](x, int(severity) - 1, random_state)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
