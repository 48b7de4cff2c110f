"""``.npz`` files: MedMNIST's split layout or plain ``images``/``labels``.

MedMNIST files hold ``train_images``/``train_labels`` plus optional ``val_*`` and
``test_*`` (every split is kept in ``ImageDataset.split``); plain files hold ``images``
and ``labels`` and optionally ``class_names``, ``is_synthetic`` and ``split``, as
:func:`~synthaug.data.write_npz` writes them. Arrays are never unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ...exceptions import InvalidDataError
from ..dataset import SPLITS, ImageDataset, images_from_uint8
from ..validation import check_images, check_labels
from .folder import _resize_uint8
from .options import _check_bytes, _Options

_OBJECT_ARRAY = (
    "holds Python objects, which synthaug does not load (unsafe). Save it as a numeric (or, "
    "for class_names, str) array."
)


def _resize_float(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float images in [0, 1], channel by channel (Pillow mode ``F``).

    Shape
    -----
    images : ``(N, C, H, W)`` float32.
    returns : ``(N, C, size, size)`` float32, clipped to [0, 1].
    """
    if images.shape[2:] == (size, size):
        return images
    n, c = images.shape[:2]
    out = np.empty((n, c, size, size), np.float32)
    for i in range(n):
        for ch in range(c):
            plane = Image.fromarray(np.ascontiguousarray(images[i, ch], dtype=np.float32), mode="F")
            out[i, ch] = np.asarray(plane.resize((size, size), Image.BILINEAR))
    return np.clip(out, 0.0, 1.0)


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
            raise InvalidDataError(f"{path}: array {key!r} {_OBJECT_ARRAY}") from None
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
        for split in SPLITS:
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
        arr = arr[:, None] if arr.ndim == 3 else np.transpose(arr, (0, 3, 1, 2))  # (N, C, H, W)
        return check_images(arr, f"{path}: {key!r}")
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


def _check_npz_size(path: Path, headers: dict, parts: list, opts: _Options) -> None:
    """Refuse object arrays and oversized sets before anything is allocated."""
    for key, (_, dtype) in headers.items():
        if dtype.hasobject:
            raise InvalidDataError(f"{path}: array {key!r} {_OBJECT_ARRAY}")
    need = 0
    n_total = 0
    for _, ik, _ in parts:
        shape = headers[ik][0]
        if len(shape) in (3, 4):
            c = 3 if len(shape) == 4 and shape[-1] == 3 else 1
            h, w = opts.padded_size(shape[1], shape[2])
            n_total += shape[0]
            need += shape[0] * c * h * w * 4
    _check_bytes(need, f"{n_total} images", opts, path)


def _load_npz(path: Path, opts: _Options) -> ImageDataset:
    headers = _npz_headers(path)
    parts = _npz_layout(path, list(headers))
    _check_npz_size(path, headers, parts, opts)
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidDataError(f"{path}: cannot open as .npz ({exc}). Re-create the file.") from None
    with npz:
        blocks = []
        for split, ik, lk in parts:
            imgs = _npz_images(_npz_read(npz, path, ik), path, ik)
            labels = check_labels(_npz_read(npz, path, lk), imgs.shape[0], f"{path}: {lk!r}",
                                  class_indices=True, images_who=repr(ik))
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
    bad = sorted(set(np.unique(values)) - set(SPLITS))
    if bad:
        raise InvalidDataError(
            f"{path}: 'split' holds {bad[:5]}; expected only 'train', 'val' or 'test'."
        )
    return values
