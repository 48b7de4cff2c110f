"""Read labelled image sets from disk (or the built-in digits) into an :class:`ImageDataset`.

One entry point, :func:`load_dataset`, dispatches on what ``source`` names:

- ``"builtin:digits"``: scikit-learn's bundled handwritten digits (no download);
- a ``.npz`` file: MedMNIST layout (``train_images``/``train_labels`` plus optional
  ``val_*`` and ``test_*``, splits kept) or plain ``images``/``labels``;
- a folder with one sub-folder per class holding PNG/JPEG/BMP/TIFF files;
- a ``.csv`` manifest with ``path,label`` columns (paths relative to the CSV's folder).

Every problem with the input becomes :class:`~synthaug.exceptions.InvalidDataError`
(bad parameters: :class:`~synthaug.exceptions.ConfigError`) whose message names the
file and says how to fix it, mentioning CLI flags in ``--kebab-case`` because the CLI
passes these messages straight through. No raw Pillow, numpy, pandas, zipfile or
``OSError`` exception escapes.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..exceptions import ConfigError, InvalidDataError, SynthaugError
from .dataset import ImageDataset, images_from_uint8

__all__ = ["load_dataset", "load_dataset_with_report", "list_builtin_datasets"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_ACCEPTED = (
    "a .npz file (MedMNIST train_images/train_labels or images/labels), a folder with one "
    "sub-folder per class, a .csv manifest with path,label columns, or builtin:digits"
)
_GIB = float(2**30)
# Labels are class indices; a value far beyond this is a data error, not a class count.
_MAX_CLASSES = 100_000


# --------------------------------------------------------------------------- public API
def list_builtin_datasets() -> dict[str, str]:
    """Built-in datasets that need no file, by the name to pass as ``source``.

    Returns
    -------
    dict of str to str
        ``{"builtin:digits": "one-line description", ...}``.
    """
    return {name: desc for name, (desc, _) in _BUILTINS.items()}


def load_dataset(
    source: str | os.PathLike,
    *,
    image_size: int | None = None,
    skip_bad_images: bool = False,
    allow_outside_root: bool = False,
    max_bytes: int = 4 * 2**30,
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
    dataset, _ = load_dataset_with_report(
        source,
        image_size=image_size,
        skip_bad_images=skip_bad_images,
        allow_outside_root=allow_outside_root,
        max_bytes=max_bytes,
    )
    return dataset


def load_dataset_with_report(
    source: str | os.PathLike,
    *,
    image_size: int | None = None,
    skip_bad_images: bool = False,
    allow_outside_root: bool = False,
    max_bytes: int = 4 * 2**30,
) -> tuple[ImageDataset, list[str]]:
    """Like :func:`load_dataset`, also returning the image files skipped as bad.

    Returns
    -------
    dataset : ImageDataset
    skipped : list of str
        Paths of the files that could not be decoded and were skipped (only ever
        non-empty with ``skip_bad_images=True``). The reasons are logged at WARNING.
    """
    opts = _Options(
        image_size=_check_image_size(image_size),
        skip_bad_images=bool(skip_bad_images),
        allow_outside_root=bool(allow_outside_root),
        max_bytes=_check_max_bytes(max_bytes),
    )
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(
            f"source must be a path or 'builtin:<name>', got {type(source).__name__} {source!r}."
        )
    skipped: list[str] = []
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
    return dataset, skipped


# --------------------------------------------------------------------------- internals
@dataclass(frozen=True)
class _Options:
    image_size: int | None
    skip_bad_images: bool
    allow_outside_root: bool
    max_bytes: int


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
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, opts)
    if suffix == ".csv":
        return _load_csv(path, opts, skipped)
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


def _check_memory(n: int, c: int, h: int, w: int, opts: _Options, where) -> None:
    """Refuse before allocating when the float32 image array would exceed ``max_bytes``."""
    if opts.image_size is not None:
        # Reading needs the source pixels as well as the resized ones: count the larger.
        h = max(h, opts.image_size)
        w = max(w, opts.image_size)
    need = int(n) * int(c) * int(h) * int(w) * 4
    if need > opts.max_bytes:
        raise InvalidDataError(
            f"{where}: {n} images of {c}x{h}x{w} need about {need / _GIB:.2f} GiB as float32, "
            f"more than the limit of {opts.max_bytes / _GIB:.2f} GiB. Use fewer images or a "
            "smaller --image-size."
        )


def _size_text(hw: tuple[int, int]) -> str:
    return f"{hw[1]}x{hw[0]}"  # width x height, as image viewers say it


# --------------------------------------------------------------------------- resizing
def _resize_uint8(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of on-disk uint8 images.

    Shape
    -----
    images : ``(N, H, W)`` or ``(N, H, W, 3)`` uint8.
    returns : ``(N, size, size)`` or ``(N, size, size, 3)`` uint8.
    """
    from PIL import Image

    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((images.shape[0], size, size) + images.shape[3:], np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return out


def _resize_float(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float images in [0, 1], channel by channel (Pillow mode ``F``).

    Shape
    -----
    images : ``(N, C, H, W)`` float32.
    returns : ``(N, C, size, size)`` float32, clipped to [0, 1].
    """
    from PIL import Image

    if images.shape[2:] == (size, size):
        return images
    n, c = images.shape[:2]
    out = np.empty((n, c, size, size), np.float32)
    for i in range(n):
        for ch in range(c):
            plane = Image.fromarray(np.ascontiguousarray(images[i, ch], dtype=np.float32), mode="F")
            out[i, ch] = np.asarray(plane.resize((size, size), Image.BILINEAR))
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- builtin
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
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


# --------------------------------------------------------------------------- npz
_NPZ_CORE = ("images", "labels")


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in an ``.npz`` without loading any of them."""
    headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[: -len(".npy")]
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                headers[key] = (tuple(int(s) for s in shape), np.dtype(dtype))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError, SyntaxError, TypeError) as exc:
        raise InvalidDataError(
            f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc}). Re-create it "
            "with numpy.savez (arrays 'images' and 'labels', or MedMNIST 'train_images'/'train_labels')."
        ) from None
    return headers


def _npz_read(npz, path: Path, key: str) -> np.ndarray:
    try:
        return np.asarray(npz[key])
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InvalidDataError(
                f"{path}: array {key!r} holds Python objects, which synthaug does not load "
                "(unsafe). Save it as a numeric (or, for class_names, str) array."
            ) from None
        raise InvalidDataError(f"{path}: cannot read array {key!r} ({exc}).") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, RuntimeError) as exc:
        raise InvalidDataError(
            f"{path}: array {key!r} is corrupt ({type(exc).__name__}: {exc}). Re-create the file."
        ) from None


def _npz_layout(path: Path, keys: list[str]) -> list[tuple[str | None, str, str]]:
    """The (split, images_key, labels_key) triples to read, or a clear error."""
    found = ", ".join(repr(k) for k in sorted(keys)) or "none"
    expected = (
        "expected 'train_images' and 'train_labels' (MedMNIST layout, optionally 'val_*' "
        "and 'test_*') or 'images' and 'labels'"
    )
    if "train_images" in keys or "train_labels" in keys:
        parts = []
        for split in ("train", "val", "test"):
            ik, lk = f"{split}_images", f"{split}_labels"
            if ik in keys and lk in keys:
                parts.append((split, ik, lk))
            elif ik in keys or lk in keys:
                have, missing = (ik, lk) if ik in keys else (lk, ik)
                raise InvalidDataError(
                    f"{path}: has {have!r} but no {missing!r} (keys found: {found}); {expected}."
                )
        return parts
    if "images" in keys and "labels" in keys:
        return [(None, "images", "labels")]
    raise InvalidDataError(f"{path}: no image/label arrays found (keys found: {found}); {expected}.")


def _npz_images(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Validate one image array and return it as uint8 ``(N, H, W[, 3])`` or float ``(N, C, H, W)``."""
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] == 3)):
        raise InvalidDataError(
            f"{path}: {key!r} has shape {arr.shape}; expected (N, H, W) for grayscale or "
            "(N, H, W, 3) for RGB."
        )
    if 0 in arr.shape:
        raise InvalidDataError(f"{path}: {key!r} has shape {arr.shape}; it holds no pixels.")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise InvalidDataError(
                f"{path}: {key!r} contains {bad} NaN or inf values. Fix or drop those images."
            )
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidDataError(
                f"{path}: {key!r} is float with values in [{lo:g}, {hi:g}]; float images must lie "
                "in [0, 1]. Rescale them, or store uint8 0..255."
            )
        arr = arr.astype(np.float32)
        return arr[:, None] if arr.ndim == 3 else np.transpose(arr, (0, 3, 1, 2))  # (N, C, H, W)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidDataError(
                f"{path}: {key!r} is {arr.dtype} with values in [{lo}, {hi}]; integer images must "
                "be 0..255. Convert them to uint8 (or to float in [0, 1])."
            )
        return arr.astype(np.uint8)
    raise InvalidDataError(
        f"{path}: {key!r} has dtype {arr.dtype}; expected uint8 0..255 or float in [0, 1]."
    )


def _as_labels(arr: np.ndarray, n: int, where: str) -> np.ndarray:
    """Validate labels: ``(n,)`` or ``(n, 1)``, whole non-negative numbers."""
    arr = np.asarray(arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidDataError(
            f"{where}: {n} images but labels have shape {arr.shape}; expected ({n},) or ({n}, 1), "
            "one label per image."
        )
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all() or not np.array_equal(arr, np.round(arr)):
            bad = arr[~finite | (arr != np.round(np.where(finite, arr, 0)))]
            raise InvalidDataError(
                f"{where}: labels must be whole numbers (class indices), found {bad[:3].tolist()}. "
                "Store integer labels."
            )
    elif not np.issubdtype(arr.dtype, np.integer):
        raise InvalidDataError(
            f"{where}: labels have dtype {arr.dtype}; expected integer class indices "
            "(with names in an optional 'class_names' array)."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= _MAX_CLASSES):
        raise InvalidDataError(
            f"{where}: labels span [{arr.min():g}, {arr.max():g}]; expected class indices "
            f"0..K-1 (below {_MAX_CLASSES}). Re-encode the labels."
        )
    return arr.astype(np.int64)


def _load_npz(path: Path, opts: _Options) -> ImageDataset:
    headers = _npz_headers(path)
    parts = _npz_layout(path, list(headers))
    # Refuse object arrays and oversized sets before anything is allocated.
    for key, (shape, dtype) in headers.items():
        if dtype.hasobject:
            raise InvalidDataError(
                f"{path}: array {key!r} holds Python objects, which synthaug does not load "
                "(unsafe). Save it as a numeric (or, for class_names, str) array."
            )
    need = 0
    n_total = 0
    for _, ik, _ in parts:
        shape = headers[ik][0]
        if len(shape) in (3, 4):
            c = 3 if len(shape) == 4 and shape[-1] == 3 else 1
            h, w = shape[1], shape[2]
            if opts.image_size is not None:
                h, w = max(h, opts.image_size), max(w, opts.image_size)
            n_total += shape[0]
            need += shape[0] * c * h * w * 4
    if need > opts.max_bytes:
        raise InvalidDataError(
            f"{path}: {n_total} images need about {need / _GIB:.2f} GiB as float32, more than the "
            f"limit of {opts.max_bytes / _GIB:.2f} GiB. Use fewer images or a smaller --image-size."
        )

    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidDataError(f"{path}: cannot open as .npz ({exc}). Re-create the file.") from None
    with npz:
        blocks = []
        for split, ik, lk in parts:
            imgs = _npz_images(_npz_read(npz, path, ik), path, ik)
            labels = _as_labels(_npz_read(npz, path, lk), imgs.shape[0], f"{path}: {lk!r}")
            blocks.append((split, ik, imgs, labels))
        class_names = None
        if "class_names" in headers:
            class_names = _npz_class_names(_npz_read(npz, path, "class_names"), path)
        extra_split = is_synthetic = None
        if parts[0][0] is None:
            n = blocks[0][2].shape[0]
            if "is_synthetic" in headers:
                is_synthetic = _npz_flags(_npz_read(npz, path, "is_synthetic"), n, path)
            if "split" in headers:
                extra_split = _npz_split(_npz_read(npz, path, "split"), n, path)

    # Bring every block to one representation: float (N, C, H, W), resized if asked.
    floats = []
    for split, ik, imgs, _ in blocks:
        if imgs.dtype == np.uint8:
            if opts.image_size is not None:
                imgs = _resize_uint8(imgs, opts.image_size)
            floats.append(images_from_uint8(imgs))
        else:
            floats.append(_resize_float(imgs, opts.image_size) if opts.image_size else imgs)
    shapes = {f.shape[1:] for f in floats}
    if len(shapes) > 1:
        desc = ", ".join(f"{ik!r} {f.shape[1:]}" for (_, ik, _, _), f in zip(blocks, floats))
        if len({shape[0] for shape in shapes}) > 1:
            hint = ("their channel counts differ (gray vs colour); convert every split to the "
                    "same number of channels before saving the .npz")
        else:
            hint = "pass --image-size N to resize them all, or fix the arrays"
        raise InvalidDataError(
            f"{path}: splits have different image shapes ({desc}) as (C, H, W); {hint}."
        )
    labels = np.concatenate([b[3] for b in blocks])
    k = int(labels.max()) + 1
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    elif k > len(class_names):
        raise InvalidDataError(
            f"{path}: labels go up to {k - 1} but 'class_names' has only {len(class_names)} "
            "names. Add the missing names or fix the labels."
        )
    split = extra_split
    prov = []
    if parts[0][0] is not None:
        split = np.concatenate([np.full(b[2].shape[0], b[0]) for b in blocks])
    for split_name, _, imgs, _ in blocks:
        tag = split_name or "images"
        prov.extend(f"{path.name}:{tag}[{i}]" for i in range(imgs.shape[0]))
    return ImageDataset(
        images=np.concatenate(floats) if len(floats) > 1 else floats[0],
        labels=labels,
        class_names=class_names,
        is_synthetic=is_synthetic,
        split=split,
        provenance=np.array(prov),
        name=path.stem,
    )


def _npz_class_names(arr: np.ndarray, path: Path) -> list[str]:
    if arr.dtype.kind not in "US" or arr.ndim != 1 or arr.size == 0:
        raise InvalidDataError(
            f"{path}: 'class_names' has dtype {arr.dtype} and shape {arr.shape}; expected a "
            "non-empty 1-D array of str."
        )
    names = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in arr.tolist()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidDataError(f"{path}: 'class_names' has duplicates {dupes}; names must be unique.")
    return names


def _npz_flags(arr: np.ndarray, n: int, path: Path) -> np.ndarray:
    arr = np.asarray(arr)
    ok_dtype = arr.dtype == bool or np.issubdtype(arr.dtype, np.integer)
    if arr.shape != (n,) or not ok_dtype or (arr.size and not np.isin(arr, (0, 1)).all()):
        raise InvalidDataError(
            f"{path}: 'is_synthetic' has dtype {arr.dtype} and shape {arr.shape}; expected ({n},) "
            "booleans, one per image."
        )
    return arr.astype(bool)


def _npz_split(arr: np.ndarray, n: int, path: Path) -> np.ndarray:
    if arr.dtype.kind not in "US" or arr.shape != (n,):
        raise InvalidDataError(
            f"{path}: 'split' has dtype {arr.dtype} and shape {arr.shape}; expected ({n},) "
            "strings 'train', 'val' or 'test'."
        )
    values = arr.astype(str)
    bad = sorted(set(np.unique(values)) - {"train", "val", "test"})
    if bad:
        raise InvalidDataError(
            f"{path}: 'split' holds {bad[:5]}; expected only 'train', 'val' or 'test'."
        )
    return values


# --------------------------------------------------------------------------- image files
def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".")


def _is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(p) and p.is_file()


def _decode(path: Path, image_size: int | None) -> np.ndarray:
    """Decode one image file to uint8 ``(H, W)`` (grayscale) or ``(H, W, 3)`` (colour).

    Raises whatever Pillow or the OS raises; the caller turns that into a message.
    """
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        mode = im.mode
        if mode in ("1", "L"):
            im = im.convert("L")
        elif mode.startswith("I") or mode == "F":
            arr = np.asarray(im, dtype=np.float64)
            if mode.startswith("I;16") or (mode == "I" and arr.max() > 255):
                arr = arr / 257.0  # 16-bit grey onto 8 bits
            elif mode == "F" and arr.max() <= 1.0:
                arr = arr * 255.0  # float images in [0, 1]
            arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
            im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
        elif mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in im.info):
            grey = mode in ("LA", "La")
            rgba = im.convert("RGBA")
            # Composite onto black: transparent pixels become background, not hidden colour.
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            im = Image.alpha_composite(black, rgba).convert("L" if grey else "RGB")
        else:  # P, RGB, CMYK, YCbCr, LAB, HSV, ...
            im = im.convert("RGB")
        if image_size is not None and im.size != (image_size, image_size):
            im = im.resize((image_size, image_size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).copy()


def _peek(path: Path) -> tuple[int, int, int] | None:
    """``(C, H, W)`` from the file header without decoding pixels, or None if unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            c = 1 if im.mode in ("1", "L", "LA", "La", "F") or im.mode.startswith("I") else 3
            return c, h, w
    except Exception:  # any failure here is reported properly when the file is decoded
        return None


def _bad_reason(exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text.lower():
        return "truncated file"
    if "cannot identify image" in text.lower():
        return "not an image Pillow can read"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _read_image_files(
    entries: list[tuple[Path, str, int]],
    class_names: list[str],
    opts: _Options,
    skipped: list[str],
    where: Path,
    describe: Callable[[int], str],
) -> ImageDataset:
    """Decode ``(path, shown_name, label)`` entries into a dataset.

    ``shown_name`` is how messages and ``provenance`` refer to the file;
    ``describe(label)`` names a class in messages ("class folder ..." / "class ...").
    """
    first = next((s for s in (_peek(p) for p, _, _ in entries[:20]) if s is not None), None)
    if first is not None:
        _check_memory(len(entries), *first, opts, where)

    images: list[np.ndarray] = []
    labels: list[int] = []
    shown: list[str] = []
    for path, name, label in entries:
        try:
            arr = _decode(path, opts.image_size)
        except MemoryError:
            raise
        except Exception as exc:  # Pillow raises many types for bad files
            reason = _bad_reason(exc)
            if opts.skip_bad_images:
                log.warning("skipping %s: %s", path, reason)
                skipped.append(str(path))
                continue
            raise InvalidDataError(
                f"{name}: cannot decode image ({reason}). Remove it or pass --skip-bad-images."
            ) from None
        images.append(arr)
        labels.append(label)
        shown.append(name)

    counts = Counter(labels)
    for label in sorted({lbl for _, _, lbl in entries}):
        if counts[label] < 2:
            extra = " readable" if opts.skip_bad_images and skipped else ""
            raise InvalidDataError(
                f"{describe(label)} has {counts[label]}{extra} image"
                f"{'' if counts[label] == 1 else 's'}; each class needs at least 2 images. "
                "Add images or remove that class."
            )

    sizes = Counter(a.shape[:2] for a in images)
    if len(sizes) > 1:
        ranked = sizes.most_common()
        parts = [f"{_size_text(hw)} ({c} file{'s' if c != 1 else ''})" for hw, c in ranked]
        example_hw = ranked[-1][0]
        example = next(s for s, a in zip(shown, images) if a.shape[:2] == example_hw)
        raise InvalidDataError(
            f"{where}: images have different sizes: found {', '.join(parts[:-1])} and {parts[-1]}, "
            f"e.g. {example}; pass --image-size N to resize them all to NxN."
        )
    if any(a.ndim == 3 for a in images):
        images = [np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a for a in images]
    stacked = np.stack(images)  # (N, H, W) or (N, H, W, 3)
    return ImageDataset(
        images=images_from_uint8(stacked),
        labels=np.asarray(labels, np.int64),
        class_names=class_names,
        provenance=np.array(shown),
        name=where.stem if where.is_file() else where.name,
    )


def _sort_class_names(names: list[str]) -> list[str]:
    if names and all(re.fullmatch(r"\d+", n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))  # "2" before "10"
    return sorted(names)


# --------------------------------------------------------------------------- folder
def _load_folder(root: Path, opts: _Options, skipped: list[str]) -> ImageDataset:
    try:
        children = [p for p in root.iterdir() if not _is_hidden(p)]
    except OSError as exc:
        raise InvalidDataError(f"{root}: cannot list the folder ({exc.strerror}).") from None
    class_dirs = {p.name: p for p in children if p.is_dir()}
    if not children:
        raise InvalidDataError(
            f"{root}: the folder is empty. Put each class's images in its own sub-folder "
            f"({root}/<class_name>/image.png)."
        )
    if not class_dirs:
        loose = sum(1 for p in children if _is_image_file(p))
        raise InvalidDataError(
            f"{root}: no class sub-folders found ({loose} image file{'' if loose == 1 else 's'} directly "
            "inside). Put each "
            f"class's images in its own sub-folder ({root}/<class_name>/image.png)."
        )
    class_names = _sort_class_names(list(class_dirs))
    entries: list[tuple[Path, str, int]] = []
    for label, cname in enumerate(class_names):
        folder = class_dirs[cname]
        try:
            files = sorted(p for p in folder.iterdir() if _is_image_file(p))
        except OSError as exc:
            raise InvalidDataError(f"{folder}: cannot list the folder ({exc.strerror}).") from None
        if len(files) < 2:
            raise InvalidDataError(
                f"class folder {folder} has {len(files)} image file{'' if len(files) == 1 else 's'}; "
                f"each class needs at least 2 images ({', '.join(IMAGE_EXTENSIONS)}). Add images "
                "or remove the folder."
            )
        entries.extend((p, f"{cname}/{p.name}", label) for p in files)
    return _read_image_files(
        entries, class_names, opts, skipped, root,
        lambda lbl: f"class folder {class_dirs[class_names[lbl]]}",
    )


# --------------------------------------------------------------------------- csv
def _load_csv(path: Path, opts: _Options, skipped: list[str]) -> ImageDataset:
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"{path}: the CSV is empty; expected a header row 'path,label' and one row per image."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InvalidDataError(
            f"{path}: cannot parse the CSV ({type(exc).__name__}: {str(exc).strip()}). Expected "
            "UTF-8 text with a header 'path,label'."
        ) from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        found = ", ".join(repr(c) for c in table.columns) or "none"
        raise InvalidDataError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (columns found: {found}); expected a header "
            "'path,label'."
        )
    if len(table) == 0:
        raise InvalidDataError(f"{path}: the CSV has a header but no rows; add one row per image.")
    if table.columns.duplicated().any():
        raise InvalidDataError(f"{path}: repeated column names {list(table.columns)}; keep one of each.")

    root = path.resolve().parent
    paths = [str(v).strip() for v in table["path"]]
    raw_labels = [str(v).strip() for v in table["label"]]
    seen: dict[Path, int] = {}
    files: list[Path] = []
    for i, (rel, lbl) in enumerate(zip(paths, raw_labels)):
        row = i + 2  # the header is line 1
        if not rel or not lbl:
            raise InvalidDataError(
                f"{path}: row {row} has an empty {'path' if not rel else 'label'}; every row needs "
                "both. Fill it in or remove the row."
            )
        candidate = Path(rel)
        try:
            full = (root / candidate).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidDataError(
                f"{path}: row {row} path {rel!r} is not a usable file path ({exc}). Fix the path."
            ) from None
        if not opts.allow_outside_root and (candidate.is_absolute() or not full.is_relative_to(root)):
            raise InvalidDataError(
                f"{path}: row {row} path {rel!r} is absolute or leaves the manifest's folder {root}. "
                "Use a path relative to that folder, or pass --allow-outside-root to allow it."
            )
        if full in seen:
            raise InvalidDataError(
                f"{path}: row {row} repeats {rel!r} (first listed at row {seen[full]}); each image "
                "must be listed once. Remove the duplicate row."
            )
        seen[full] = row
        if not full.is_file():
            raise InvalidDataError(
                f"{path}: row {row} file {rel!r} not found (looked for {full}). Fix the path "
                "(relative to the CSV's folder) or remove the row."
            )
        files.append(full)

    int_like = all(re.fullmatch(r"[+-]?\d+", v) for v in raw_labels)
    if int_like:
        values = [int(v) for v in raw_labels]
        lo, hi = min(values), max(values)
        if lo < 0 or hi >= _MAX_CLASSES:
            raise InvalidDataError(
                f"{path}: integer labels span [{lo}, {hi}]; expected class indices 0..K-1. Use "
                "non-negative indices or class names."
            )
        class_names = [str(k) for k in range(hi + 1)]
        if "class_name" in table.columns:
            class_names = _csv_class_names(path, values, table["class_name"].tolist(), class_names)
        labels = values
    else:
        class_names = _sort_class_names(sorted(set(raw_labels)))
        index = {c: k for k, c in enumerate(class_names)}
        labels = [index[v] for v in raw_labels]

    entries = [(f, rel, lbl) for f, rel, lbl in zip(files, paths, labels)]
    return _read_image_files(
        entries, class_names, opts, skipped, path,
        lambda lbl: f"{path}: class {class_names[lbl]!r}",
    )


def _csv_class_names(path: Path, labels: list[int], names: list, default: list[str]) -> list[str]:
    """Names for integer labels from an optional ``class_name`` column (must be consistent)."""
    mapping: dict[int, str] = {}
    for lbl, name in zip(labels, names):
        name = str(name)
        if mapping.setdefault(lbl, name) != name:
            raise InvalidDataError(
                f"{path}: label {lbl} has two class names ({mapping[lbl]!r} and {name!r}); each "
                "label needs exactly one name in the 'class_name' column."
            )
    out = [mapping.get(k, default[k]) for k in range(len(default))]
    if len(set(out)) != len(out):
        raise InvalidDataError(
            f"{path}: the 'class_name' column gives repeated names {out}; each label needs its "
            "own name."
        )
    return out
