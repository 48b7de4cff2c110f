"""Checks at the boundary: one place for every check made on user input.

Every public entry point (estimators' ``fit``/``predict``/``sample``, loaders, attacks,
the config and the CLI) validates its input once with these helpers, so the same
mistake gets the same message wherever it is made; internal code trusts its inputs.

- :func:`check_images` and :func:`check_labels` for arrays;
- :func:`check_unit_pixels` for the ``[0, 1]`` range alone;
- :func:`encode_labels` for estimators that accept any sortable labels;
- :func:`check_int`, :func:`check_float`, :func:`check_choice` for parameters.

Errors are :class:`~synthaug.exceptions.InvalidDataError` for data and
:class:`~synthaug.exceptions.ConfigError` for parameters; both name what was wrong,
what was received and how to fix it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..exceptions import ConfigError, InvalidDataError

__all__ = [
    "MAX_CLASSES",
    "check_choice",
    "check_float",
    "check_images",
    "check_int",
    "check_labels",
    "check_unit_pixels",
    "class_indices",
    "encode_labels",
]

#: Labels above this are refused as class indices (a corrupt or continuous label column).
MAX_CLASSES = 100_000


# ------------------------------------------------------------------------ arrays
def check_unit_pixels(images: np.ndarray, what: str = "X") -> None:
    """Raise :class:`InvalidDataError` unless every value is finite and in ``[0, 1]``.

    ``what`` names the array in the message, e.g. ``"X"`` or ``"train.npz: images"``.
    """
    if not np.isfinite(images).all():
        raise InvalidDataError(f"{what} contains NaN or inf values; remove or repair those images.")
    if images.size == 0:
        return
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise InvalidDataError(
            f"{what} values span [{lo:g}, {hi:g}]; expected [0, 1]. Rescale (e.g. X / 255 for "
            "0..255 data; models normalise internally)."
        )


def check_images(
    X: Any,
    who: str = "X",
    *,
    owner: str = "synthaug",
    channels: tuple[int, ...] | None = (1, 3),
    min_size: int = 1,
    min_images: int = 1,
    allow_unit_integers: bool = False,
) -> np.ndarray:
    """Validate an image array and return it as contiguous, writable ``float32``.

    Parameters
    ----------
    X : array-like
        Images, ``(N, C, H, W)`` in ``[0, 1]``.
    who : str
        Names the array in messages (``"X"``, ``"train.npz: images"``).
    owner : str
        Names the consumer in the shape message (``"ConditionalGAN"``).
    channels : tuple of int or None
        Accepted channel counts (``None``: any count >= 1).
    min_size : int
        Smallest accepted height and width.
    min_images : int
        Smallest accepted number of images.
    allow_unit_integers : bool
        Accept integer arrays whose values are 0 or 1 (binary masks); other integer
        arrays are refused with a hint to convert uint8 images.

    Shape
    -----
    X : ``(N, C, H, W)``; returns the same shape, ``float32``.

    Examples
    --------
    >>> check_images(np.zeros((2, 1, 8, 8))).dtype
    dtype('float32')
    """
    arr = np.asarray(X)
    if arr.ndim != 4:
        hint = " For grayscale (N, H, W) add a channel axis: X[:, None]." if arr.ndim == 3 else ""
        raise InvalidDataError(
            f"{who} has shape {arr.shape}; {owner} expects images of shape (N, C, H, W).{hint}"
        )
    if channels is not None and arr.shape[1] not in channels:
        raise InvalidDataError(
            f"{who} has shape {arr.shape}: {arr.shape[1]} channels; expected "
            f"{' or '.join(str(c) for c in channels)} (1 = grayscale, 3 = RGB) in axis 1 (N, C, H, W). "
            "Channels-last arrays need X.transpose(0, 3, 1, 2)."
        )
    is_int = np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool
    if not (np.issubdtype(arr.dtype, np.floating) or (allow_unit_integers and is_int)):
        raise InvalidDataError(
            f"{who} has dtype {arr.dtype}; expected float values in [0, 1]. Convert uint8 images "
            "with synthaug.data.images_from_uint8 or X / 255."
        )
    if is_int and arr.size and arr.max() > 1:
        raise InvalidDataError(
            f"{who} holds integers up to {arr.max()}; expected floats in [0, 1] "
            "(convert uint8 with synthaug.data.images_from_uint8)."
        )
    if arr.shape[0] < min_images:
        needed = "no images" if arr.shape[0] == 0 else f"{arr.shape[0]} image(s)"
        raise InvalidDataError(f"{who} has {needed}; at least {min_images} are needed.")
    if min(arr.shape[1:]) < 1 or arr.shape[2] < min_size or arr.shape[3] < min_size:
        raise InvalidDataError(
            f"{who} has images of {arr.shape[2]} x {arr.shape[3]} pixels; the smallest supported "
            f"size is {max(min_size, 1)} x {max(min_size, 1)}."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not arr.flags.writeable:  # torch.from_numpy wants a writable buffer
        arr = arr.copy()
    check_unit_pixels(arr, who)
    return arr


def check_labels(y: Any, n: int, who: str = "y", *, class_indices: bool = False,
                 images_who: str = "X") -> np.ndarray:
    """Validate one label per image: ``(n,)`` or ``(n, 1)`` (MedMNIST's layout), returned 1-D.

    ``images_who`` names the images in the count message (``"X"``, ``"'images'"``).
    With ``class_indices=True`` the labels must be whole non-negative numbers below
    :data:`MAX_CLASSES` (bools and integral floats are accepted) and come back ``int64``.

    Shape
    -----
    y : ``(n,)`` or ``(n, 1)``; returns ``(n,)``.

    Examples
    --------
    >>> check_labels([[0], [1]], 2).tolist()
    [0, 1]
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidDataError(
            f"{who} has shape {arr.shape} but {images_who} has {n} images; expected one label per image: "
            f"({n},) or ({n}, 1)."
        )
    if not class_indices:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all() or not np.array_equal(arr, np.round(arr)):
            bad = arr[~finite | (arr != np.round(np.where(finite, arr, 0)))]
            raise InvalidDataError(
                f"{who}: labels must be whole numbers (class indices), found {bad[:3].tolist()}. "
                "Store integer labels."
            )
    elif not np.issubdtype(arr.dtype, np.integer):
        raise InvalidDataError(
            f"{who}: labels have dtype {arr.dtype}; expected integer class indices "
            "(with names in an optional 'class_names' array)."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= MAX_CLASSES):
        raise InvalidDataError(
            f"{who}: labels span [{arr.min():g}, {arr.max():g}]; expected class indices "
            f"0..K-1 (below {MAX_CLASSES}). Re-encode the labels."
        )
    return arr.astype(np.int64)


def encode_labels(y, n_images: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y_idx)`` for a label vector of one label per image, at least 2 classes.

    ``y`` may be ``(N,)`` or ``(N, 1)`` of any sortable labels; ``who`` ("a classifier",
    "a conditional GAN") completes the too-few-classes message.

    Shape
    -----
    y : ``(n_images,)`` or ``(n_images, 1)``; returns ``classes (K,)`` and ``y_idx (n_images,)`` int64.
    """
    y = check_labels(y, n_images, "y")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InvalidDataError(
            f"y has {len(classes)} class ({classes.tolist()}); {who} needs at least 2 classes."
        )
    return classes, y_idx.astype(np.int64)


# -------------------------------------------------------------------- parameters
def check_choice(name: str, value: Any, valid: Iterable[str]) -> str:
    """``value`` if it is one of ``valid``, else a ConfigError listing the valid values."""
    valid = tuple(valid)
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(f"{name}={value!r} is not supported; valid values: {', '.join(valid)}.")
    return value


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``int(value)`` if it is an integer (not a bool) in ``[minimum, maximum]``."""
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if not ok or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ConfigError(f"{name} must be an integer {bound}, got {value!r}.")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> float:
    """``float(value)`` if it is a finite number (not a bool) in the given interval."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    ok = ok and math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}.")
    return v


def class_indices(classes: np.ndarray, y) -> np.ndarray:
    """The index in ``classes`` of each label of ``y`` (a fitted generator's ``classes_``).

    ConfigError naming the unknown labels and the known classes when a label is not one
    of them, or when ``y`` is not 1-D.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ConfigError(f"y has shape {y.shape}; pass a 1-D sequence of labels, one per image.")
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    try:
        idx = np.array([lookup.get(v, -1) for v in y.tolist()], dtype=np.int64)
    except TypeError:  # unhashable labels
        idx = np.full(len(y), -1, np.int64)
    if np.any(idx < 0):
        unknown = sorted({repr(v) for v, i in zip(y.tolist(), idx) if i < 0})
        raise ConfigError(
            f"unknown label(s) {', '.join(unknown[:5])} in y; this model knows the classes "
            f"{classes.tolist()}."
        )
    return idx
