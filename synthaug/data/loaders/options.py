"""The loading options and the guards every reader shares.

:class:`_Options` checks the parameters of :func:`~synthaug.data.load_dataset` once;
:func:`_check_memory` and :func:`_check_bytes` refuse an image set before it is
allocated when its float32 array would exceed ``max_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...exceptions import ConfigError, InvalidDataError

#: Default for ``max_bytes``: refuse float32 image sets above 4 GiB.
DEFAULT_MAX_BYTES = 4 * 2**30
_GIB = float(2**30)


@dataclass(frozen=True)
class _Options:
    """The checked keyword arguments of :func:`~synthaug.data.load_dataset`."""

    image_size: int | None = None
    skip_bad_images: bool = False
    allow_outside_root: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _check_image_size(self.image_size))
        object.__setattr__(self, "skip_bad_images", bool(self.skip_bad_images))
        object.__setattr__(self, "allow_outside_root", bool(self.allow_outside_root))
        object.__setattr__(self, "max_bytes", _check_max_bytes(self.max_bytes))

    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        """``(h, w)`` to budget for: reading with resizing holds both the source pixels and
        the resized ones, so count the larger of each."""
        if self.image_size is None:
            return h, w
        return max(h, self.image_size), max(w, self.image_size)


def _check_image_size(image_size) -> int | None:
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise ConfigError(
            f"--image-size must be a whole number of pixels, got {image_size!r}."
        )
    if not 1 <= int(image_size) <= 4096:
        raise ConfigError(f"--image-size must be between 1 and 4096, got {image_size}.")
    return int(image_size)


def _check_max_bytes(max_bytes) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer, float)):
        raise ConfigError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}.")
    if not max_bytes > 0:
        raise ConfigError(f"max_bytes must be > 0, got {max_bytes}.")
    return int(max_bytes)


def _check_bytes(need: int, what: str, opts: _Options, where) -> None:
    """Refuse when ``need`` bytes (``what``, e.g. ``"10 images"``) exceed ``max_bytes``."""
    if need > opts.max_bytes:
        raise InvalidDataError(
            f"{where}: {what} need about {need / _GIB:.2f} GiB as float32, more than the "
            f"limit of {opts.max_bytes / _GIB:.2f} GiB. Use fewer images or a smaller "
            "--image-size."
        )


def _check_memory(n: int, c: int, h: int, w: int, opts: _Options, where) -> None:
    """Refuse before allocating when ``n`` float32 images of ``c x h x w`` exceed ``max_bytes``."""
    h, w = opts.padded_size(h, w)
    need = int(n) * int(c) * int(h) * int(w) * 4
    _check_bytes(need, f"{n} images of {c}x{h}x{w}", opts, where)
