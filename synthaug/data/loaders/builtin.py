"""Built-in datasets that need no file or download: ``builtin:digits``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...exceptions import ConfigError
from ..dataset import ImageDataset, images_from_uint8
from .folder import _resize_uint8
from .options import _check_memory, _Options


def _digits_arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
    # Deferred: sklearn.datasets takes about 1.7 s to import (measured); only digits need it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 0..16 intensities onto the usual 0..255 grey scale.
    uint8 = np.rint(bunch.images * 255.0 / 16.0).astype(np.uint8)  # (1797, 8, 8)
    return uint8, bunch.target.astype(np.int64), [str(k) for k in range(10)]


_BUILTINS: dict[str, tuple[str, Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]]] = {
    "builtin:digits": (
        "scikit-learn's handwritten digits: 1797 grayscale 8x8 images, 10 classes (bundled, no download)",
        _digits_arrays,
    ),
}


def list_builtin_datasets() -> dict[str, str]:
    """Built-in datasets that need no file, by the name to pass as ``source``.

    Returns
    -------
    dict of str to str
        ``{"builtin:digits": "one-line description", ...}``.

    Examples
    --------
    >>> list(list_builtin_datasets())
    ['builtin:digits']
    """
    return {name: desc for name, (desc, _) in _BUILTINS.items()}


def _load_builtin(name: str, opts: _Options) -> ImageDataset:
    key = f"builtin:{name}"
    if key not in _BUILTINS:
        raise ConfigError(
            f"unknown built-in dataset {key!r}; available: {', '.join(sorted(_BUILTINS))}."
        )
    uint8, labels, class_names = _BUILTINS[key][1]()
    _check_memory(uint8.shape[0], 1, uint8.shape[1], uint8.shape[2], opts, key)
    if opts.image_size is not None:
        uint8 = _resize_uint8(uint8, opts.image_size)
    return ImageDataset(
        images=images_from_uint8(uint8),
        labels=labels,
        class_names=class_names,
        provenance=np.array([f"{key}[{i}]" for i in range(len(labels))]),
        name=name,
    )
