"""Input checks shared by the dataset container and the estimators.

One place for the checks every entry point makes on images and labels, so that the
same mistake gets the same message wherever it is made.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InvalidDataError

__all__ = ["check_unit_pixels", "encode_labels"]


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


def encode_labels(y, n_images: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y_idx)`` for a label vector of one label per image, at least 2 classes.

    ``y`` may be ``(N,)`` or ``(N, 1)`` (MedMNIST's layout) of any sortable labels;
    ``who`` ("a classifier", "a conditional GAN") completes the too-few-classes message.

    Shape
    -----
    y : ``(n_images,)`` or ``(n_images, 1)``; returns ``classes (K,)`` and ``y_idx (n_images,)`` int64.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n_images:
        raise InvalidDataError(
            f"y has shape {y.shape} but X has {n_images} images; expected one label per image."
        )
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InvalidDataError(
            f"y has {len(classes)} class ({classes.tolist()}); {who} needs at least 2 classes."
        )
    return classes, y_idx.astype(np.int64)
