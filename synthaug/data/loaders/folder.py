"""Image files: decoding and resizing them, and the class-folder layout.

A folder with one sub-folder per class holding PNG/JPEG/BMP/TIFF files is read by
:func:`_load_folder`; :func:`_read_image_files` turns any list of labelled image files
into an :class:`~synthaug.data.ImageDataset` and also serves the CSV manifest reader.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ...exceptions import InvalidDataError
from ..dataset import ImageDataset, images_from_uint8
from .options import _check_memory, _Options

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


# --------------------------------------------------------------------------- resizing
def _resize_uint8(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of on-disk uint8 images.

    Shape
    -----
    images : ``(N, H, W)`` or ``(N, H, W, 3)`` uint8.
    returns : ``(N, size, size)`` or ``(N, size, size, 3)`` uint8.
    """
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((images.shape[0], size, size) + images.shape[3:], np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return out


# --------------------------------------------------------------------------- image files
def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".")


def _is_image_file(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(p) and p.is_file()


def _decode(path: Path, image_size: int | None) -> np.ndarray:
    """Decode one image file to uint8 ``(H, W)`` (grayscale) or ``(H, W, 3)`` (colour).

    Raises whatever Pillow or the OS raises; the caller turns that into a message.
    """
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


def _size_text(hw: tuple[int, int]) -> str:
    return f"{hw[1]}x{hw[0]}"  # width x height, as image viewers say it


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
