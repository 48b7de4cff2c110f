"""Classic (non-GAN) image augmentation: the baseline a GAN has to beat.

Random small rotations and shifts (one affine warp per image with
``torch.nn.functional.affine_grid`` / ``grid_sample``), optional horizontal flips and
Gaussian pixel noise; vectorised over the whole batch and deterministic under
``random_state``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..seeding import seed_from, torch_generator
from ..exceptions import ConfigError, InvalidDataError

__all__ = ["affine_theta", "classic_augment"]

_CHUNK = 2048  # images warped at once: bounds the (B, H, W, 2) sampling grid's memory


def _check_number(name: str, value, lo: float, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < lo or (hi is not None and value >= hi):
        bound = f">= {lo:g}" if hi is None else f"in [{lo:g}, {hi:g})"
        raise ConfigError(f"{name} must be {bound}, got {value:g}.")
    return value


def affine_theta(angle: torch.Tensor, shift: torch.Tensor, h: int, w: int,
                 flip: torch.Tensor | None = None) -> torch.Tensor:
    """``F.affine_grid``'s matrices for a rotation by ``angle`` (radians) about the image
    centre, in pixel space, then a shift by ``shift`` (normalised coordinates: 2 is the
    whole width / height), with an optional left-right ``flip`` (-1) applied first.

    Shape
    -----
    angle : ``(T,)``; shift : ``(T, 2)`` (x, y); flip : ``(T,)`` of +-1 or None; returns
    ``(T, 2, 3)`` in ``angle``'s dtype and device.
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    flip = torch.ones_like(angle) if flip is None else flip
    # x spans W and y spans H in affine_grid's coordinates: a rotation in pixels needs the aspect.
    theta = torch.zeros(angle.shape[0], 2, 3, dtype=angle.dtype, device=angle.device)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin * (h / w)
    theta[:, 1, 0] = sin * (w / h) * flip
    theta[:, 1, 1] = cos
    theta[:, :, 2] = shift
    return theta


def classic_augment(
    images: np.ndarray,
    *,
    n_copies: int = 1,
    max_shift: float = 0.1,
    max_rotation: float = 10.0,
    flips: bool = False,
    noise_std: float = 0.02,
    random_state=None,
) -> np.ndarray:
    """Randomly rotated, shifted (optionally flipped) and noised copies of ``images``.

    Each output image is one input image warped by a rotation drawn uniformly from
    ``[-max_rotation, max_rotation]`` degrees about its centre and a shift drawn
    uniformly from ``[-max_shift, max_shift]`` times its width / height (bilinear
    resampling, borders repeated), mirrored left-right with probability 1/2 when
    ``flips`` is set, plus Gaussian noise of standard deviation ``noise_std``, and
    finally clipped to ``[0, 1]``.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        float in ``[0, 1]``.
    n_copies : int, default 1
        How many augmented versions of each image to make.
    max_shift : float, default 0.1
        Largest shift as a fraction of the image size, in ``[0, 1)``.
    max_rotation : float, default 10.0
        Largest rotation in degrees, in ``[0, 180]``.
    flips : bool, default False
        Also mirror half of the images left-right (leave off for digits and text).
    noise_std : float, default 0.02
        Standard deviation of added Gaussian pixel noise (0 for none).
    random_state : None, int or numpy Generator
        Seeds every random draw; the same value gives the same output.

    Returns
    -------
    ndarray of shape (N * n_copies, C, H, W), float32 in [0, 1]
        Stacked per copy: rows ``k*N .. (k+1)*N - 1`` are copy ``k`` of images
        ``0 .. N-1``, so the matching labels are ``np.tile(labels, n_copies)``.

    Shape
    -----
    images : ``(N, C, H, W)``; returns : ``(N * n_copies, C, H, W)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    >>> classic_augment(x, n_copies=3, random_state=0).shape
    (15, 1, 8, 8)
    """
    if isinstance(n_copies, bool) or not isinstance(n_copies, (int, np.integer)) or n_copies < 1:
        raise ConfigError(f"n_copies must be a whole number >= 1, got {n_copies!r}.")
    max_shift = _check_number("max_shift", max_shift, 0.0, 1.0)
    max_rotation = _check_number("max_rotation", max_rotation, 0.0)
    if max_rotation > 180.0:
        raise ConfigError(f"max_rotation must be in [0, 180] degrees, got {max_rotation:g}.")
    noise_std = _check_number("noise_std", noise_std, 0.0)
    arr = np.asarray(images)
    if arr.ndim != 4 or 0 in arr.shape[1:]:
        raise InvalidDataError(
            f"images have shape {arr.shape}; expected (N, C, H, W) float in [0, 1]."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidDataError(
            f"images have dtype {arr.dtype}; expected float in [0, 1] (convert uint8 with "
            "images_from_uint8)."
        )
    arr = arr.astype(np.float32, copy=False)
    if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
        raise InvalidDataError("images must be finite and lie in [0, 1].")

    n, c, h, w = arr.shape
    total = n * int(n_copies)
    gen = torch_generator(seed_from(random_state))
    # Draw every random parameter up front, so the result does not depend on chunking.
    angle = (torch.rand(total, generator=gen, dtype=torch.float64) * 2 - 1) * math.radians(max_rotation)
    shift = (torch.rand(total, 2, generator=gen, dtype=torch.float64) * 2 - 1) * (2 * max_shift)
    flip = torch.ones(total, dtype=torch.float64)
    if flips:
        flip = torch.where(torch.rand(total, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
    theta = affine_theta(angle, shift, h, w, flip).to(torch.float32)  # (T, 2, 3)

    src = torch.from_numpy(np.require(arr, np.float32, ["C", "W"]))  # (N, C, H, W); copies read-only input
    out = np.empty((total, c, h, w), np.float32)
    for start in range(0, total, _CHUNK):
        stop = min(start + _CHUNK, total)
        idx = torch.arange(start, stop) % n  # copy-major order: row t is image t % N
        batch = src[idx]  # (B, C, H, W)
        grid = F.affine_grid(theta[start:stop], [stop - start, c, h, w], align_corners=False)
        warped = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if noise_std > 0:
            warped = warped + noise_std * torch.randn(warped.shape, generator=gen)
        out[start:stop] = warped.clamp_(0.0, 1.0).numpy()
    return out
