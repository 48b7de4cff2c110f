"""Read labelled image sets from disk (or the built-in digits) into an :class:`ImageDataset`.

One entry point, :func:`load_dataset`, dispatches on what ``source`` names:

- ``"builtin:digits"``: scikit-learn's bundled handwritten digits (no download),
  :mod:`.builtin`;
- a ``.npz`` file: MedMNIST layout (``train_images``/``train_labels`` plus optional
  ``val_*`` and ``test_*``, splits kept) or plain ``images``/``labels``, :mod:`.npz`;
- a folder with one sub-folder per class holding PNG/JPEG/BMP/TIFF files, :mod:`.folder`;
- a ``.csv`` manifest with ``path,label`` columns (paths relative to the CSV's folder),
  :mod:`.manifest`.

Every problem with the input becomes :class:`~synthaug.exceptions.InvalidDataError`
(bad parameters: :class:`~synthaug.exceptions.ConfigError`) whose message names the
file and says how to fix it, mentioning CLI flags in ``--kebab-case`` because the CLI
passes these messages straight through. No raw Pillow, numpy, pandas, zipfile or
``OSError`` exception escapes.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from ...exceptions import ConfigError, InvalidDataError, SynthaugError
from ..dataset import ImageDataset
from .builtin import _load_builtin, list_builtin_datasets
from .folder import IMAGE_EXTENSIONS, _load_folder
from .manifest import _load_csv
from .npz import _load_npz
from .options import DEFAULT_MAX_BYTES, _Options

__all__ = ["IMAGE_EXTENSIONS", "list_builtin_datasets", "load_dataset", "load_dataset_with_report"]

_ACCEPTED = (
    "a .npz file (MedMNIST train_images/train_labels or images/labels), a folder with one "
    "sub-folder per class, a .csv manifest with path,label columns, or builtin:digits"
)
_OPTION_NAMES = frozenset(f.name for f in fields(_Options))


def load_dataset(
    source: str | os.PathLike,
    *,
    image_size: int | None = None,
    skip_bad_images: bool = False,
    allow_outside_root: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImageDataset:
    """Load a labelled image set as float32 ``(N, C, H, W)`` images in ``[0, 1]``.

    Parameters
    ----------
    source : str or path-like
        ``"builtin:<name>"`` (see :func:`list_builtin_datasets`), a ``.npz`` file, a
        folder with one sub-folder per class, or a ``.csv`` manifest.

        - ``.npz``: either the MedMNIST layout (``train_images`` and ``train_labels``,
          optional ``val_*`` / ``test_*``; every split is kept and recorded in
          ``ImageDataset.split``) or ``images`` and ``labels`` (optionally ``split``,
          ``is_synthetic``, as written by :func:`~synthaug.data.write_npz`). Optional
          ``class_names`` (str array). Images ``(N, H, W)``, ``(N, H, W, 1)`` or
          ``(N, H, W, 3)``, uint8 (integers 0..255 are accepted too) or float already
          in ``[0, 1]``; labels ``(N,)`` or ``(N, 1)``, integers or whole-number floats.
          Class names default to ``"0" .. "K-1"`` with ``K = max label + 1``.
        - folder: sub-folders (sorted by name; numerically when every name is an
          integer) are the classes; image files (``.png .jpg .jpeg .bmp .tif .tiff``,
          any case) directly inside them are read with Pillow; hidden and other files
          are ignored. All-grayscale sets give C = 1; if any image has colour every
          image becomes RGB (C = 3). Alpha is composited onto black, 16-bit images are
          scaled to 8 bits, palette images become RGB.
        - ``.csv``: columns ``path`` and ``label`` (an optional ``class_name`` column
          names integer labels). Paths are relative to the CSV's folder. String labels
          are class names (sorted); integer labels are class indices.
    image_size : int, optional
        Resize every image to ``image_size x image_size`` (Pillow, bilinear). Without
        it all images must already share one size.
    skip_bad_images : bool, default False
        Skip image files that cannot be decoded (truncated, not an image) instead of
        failing; :func:`load_dataset_with_report` tells which were skipped.
    allow_outside_root : bool, default False
        Let a CSV manifest name files outside its own folder (``..`` or absolute
        paths).
    max_bytes : int, default 4 GiB
        Refuse, before allocating, any image set whose float32 array would exceed this.

    Returns
    -------
    ImageDataset
        With ``provenance`` set per row (file path, or ``"file.npz:train[3]"``).

    Raises
    ------
    InvalidDataError
        Missing, unreadable, malformed or inconsistent input; the message names the file
        and how to fix it.
    ConfigError
        An invalid parameter value.

    Shape
    -----
    returns.images : ``(N, C, H, W)`` float32 in [0, 1], C in {1, 3}.

    Examples
    --------
    >>> ds = load_dataset("builtin:digits")
    >>> ds.images.shape, ds.n_classes
    ((1797, 1, 8, 8), 10)
    """
    opts = _Options(image_size, skip_bad_images, allow_outside_root, max_bytes)
    return _load(source, opts, [])


def load_dataset_with_report(
    source: str | os.PathLike, **options
) -> tuple[ImageDataset, list[str]]:
    """Like :func:`load_dataset`, also returning the image files skipped as bad.

    Parameters
    ----------
    source : str or path-like
        As for :func:`load_dataset`.
    **options
        The keyword arguments of :func:`load_dataset` (``image_size``,
        ``skip_bad_images``, ``allow_outside_root``, ``max_bytes``), same defaults.

    Returns
    -------
    dataset : ImageDataset
    skipped : list of str
        Paths of the files that could not be decoded and were skipped (only ever
        non-empty with ``skip_bad_images=True``). The reasons are logged at WARNING.

    Raises
    ------
    TypeError
        An unknown keyword argument.
    InvalidDataError, ConfigError
        As for :func:`load_dataset`.
    """
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"load_dataset_with_report() got unexpected keyword argument(s) {unknown}; "
            f"valid: {sorted(_OPTION_NAMES)}."
        )
    skipped: list[str] = []
    return _load(source, _Options(**options), skipped), skipped


def _load(source, opts: _Options, skipped: list[str]) -> ImageDataset:
    """Dispatch with the shared guards: the source type, the safety net for unforeseen
    reader errors, and at least two classes. Appends skipped files to ``skipped``."""
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(
            f"source must be a path or 'builtin:<name>', got {type(source).__name__} {source!r}."
        )
    try:
        dataset = _dispatch(source, opts, skipped)
    except SynthaugError:
        raise
    except MemoryError:
        raise InvalidDataError(
            f"{source}: ran out of memory while loading. Use a smaller --image-size, fewer "
            "images, or a machine with more memory."
        ) from None
    except Exception as exc:  # safety net: a reader we did not anticipate failed
        raise InvalidDataError(
            f"{source}: could not read the dataset ({type(exc).__name__}: {exc}). Check the "
            f"file; accepted inputs are {_ACCEPTED}."
        ) from exc
    _check_n_classes(dataset, source)
    return dataset


#: Readers of single files by suffix: ``reader(path, options, skipped) -> ImageDataset``.
#: A new file format is one module in this package and one entry here.
_FILE_READERS = {
    ".npz": lambda path, opts, skipped: _load_npz(path, opts),
    ".csv": _load_csv,
}


def _dispatch(source, opts: _Options, skipped: list[str]) -> ImageDataset:
    text = os.fspath(source)
    if isinstance(text, bytes):  # os.PathLike may return bytes
        text = os.fsdecode(text)
    if text.startswith("builtin:"):
        return _load_builtin(text[len("builtin:"):], opts)
    path = Path(text)
    if not text.strip():
        raise InvalidDataError(f"the data path is empty; pass {_ACCEPTED}.")
    if not path.exists():
        raise InvalidDataError(
            f"{path}: no such file or folder. Pass {_ACCEPTED}."
        )
    if path.is_dir():
        return _load_folder(path, opts, skipped)
    reader = _FILE_READERS.get(path.suffix.lower())
    if reader is not None:
        return reader(path, opts, skipped)
    raise InvalidDataError(
        f"{path}: cannot tell what kind of dataset this is (suffix {path.suffix or 'none'!r}). "
        f"Pass {_ACCEPTED}."
    )


def _check_n_classes(dataset: ImageDataset, source) -> None:
    present = np.unique(dataset.labels)
    if present.size < 2:
        name = dataset.class_names[int(present[0])]
        raise InvalidDataError(
            f"{source}: all {len(dataset)} images belong to one class ({name!r}); synthaug "
            "needs at least 2 classes. Add images of another class."
        )
