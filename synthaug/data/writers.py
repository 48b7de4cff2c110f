"""Write an :class:`ImageDataset` to disk as ``.npz`` or as PNG files with a CSV manifest.

Both formats load back with :func:`~synthaug.data.load_dataset` to the same pixels and
labels. Every file is written atomically (see :mod:`synthaug.data.io`), so an
interrupted export never leaves a half-written file behind under its final name.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..exceptions import ConfigError, OutputError
from .dataset import ImageDataset
from .io import atomic_path, atomic_write_bytes, atomic_write_text

__all__ = ["write_npz", "write_png_folder", "safe_class_dirnames"]

_NPZ_KEYS = ("images", "labels", "class_names", "is_synthetic", "split")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_MAX_NAME = 100


def write_npz(
    dataset: ImageDataset,
    path: str | os.PathLike,
    *,
    extra: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write ``dataset`` to a compressed ``.npz`` that :func:`load_dataset` reads back.

    Arrays written: ``images`` (uint8, on-disk layout ``(N, H, W)`` or ``(N, H, W, 3)``),
    ``labels`` (int64), ``class_names`` (str), ``is_synthetic`` (bool) and, when the
    dataset has splits, ``split`` (str per row), plus any ``extra`` arrays.

    Parameters
    ----------
    dataset : ImageDataset
        The rows to write (all of them, in order).
    path : str or path-like
        The target file; ``.npz`` is the expected suffix. Missing folders are created.
    extra : mapping of str to array, optional
        More arrays to store (for example ``{"test_images": ..., "test_labels": ...}``).
        Names must be identifiers that do not clash with the arrays above; object
        arrays are refused because the loader never unpickles.

    Returns
    -------
    Path
        The file written, ``path``.

    Raises
    ------
    ConfigError
        A bad ``extra`` name or array.
    OutputError
        The file cannot be written; an earlier file at ``path`` is left intact.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from synthaug.data import make_toy_images, load_dataset
    >>> ds = make_toy_images(4, random_state=0)
    >>> out = write_npz(ds, pathlib.Path(tempfile.mkdtemp()) / "toy.npz")
    >>> load_dataset(out).images.shape
    (12, 1, 8, 8)
    """
    arrays: dict[str, np.ndarray] = {
        "images": dataset.images_uint8(),
        "labels": np.asarray(dataset.labels, np.int64),
        "class_names": np.array(dataset.class_names, dtype=str),
        "is_synthetic": np.asarray(dataset.is_synthetic, bool),
    }
    if dataset.split is not None:
        arrays["split"] = np.asarray(dataset.split, dtype=str)
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key.isidentifier() or key in _NPZ_KEYS:
            raise ConfigError(
                f"extra array name {key!r} is not allowed; use a Python identifier other than "
                f"{', '.join(_NPZ_KEYS)}."
            )
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise ConfigError(
                f"extra array {key!r} has dtype object; store numbers or str (the loader never "
                "unpickles)."
            )
        arrays[key] = arr
    with atomic_path(path, fsync=True) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would otherwise append ".npz"
            np.savez_compressed(fh, **arrays)
    return Path(path)


def safe_class_dirnames(class_names: tuple[str, ...] | list[str]) -> list[str]:
    """File-system-safe, unique folder names for ``class_names`` (same order).

    Path separators, control characters and characters Windows forbids become ``_``;
    leading dots (hidden files, ``..``) become ``_``; empty names become ``class<k>``;
    names are cut to 100 characters; names equal ignoring case get a ``_<k>`` suffix.
    Already safe names are kept as they are.
    """
    out: list[str] = []
    taken: set[str] = set()
    for k, name in enumerate(class_names):
        safe = _UNSAFE_CHARS.sub("_", str(name)).strip()
        safe = re.sub(r"^\.+", lambda m: "_" * len(m.group()), safe)[:_MAX_NAME].rstrip(". ")
        if not safe:
            safe = f"class{k}"
        if safe.lower() in taken:
            safe = f"{safe}_{k}"
        taken.add(safe.lower())
        out.append(safe)
    return out


def write_png_folder(
    dataset: ImageDataset,
    directory: str | os.PathLike,
    *,
    manifest_name: str = "manifest.csv",
) -> Path:
    """Write each row as a PNG in a per-class folder, plus a CSV manifest.

    Row ``i`` goes to ``<directory>/<class folder>/<i:06d>.png``, where the class folder
    is the class name made safe by :func:`safe_class_dirnames`. The manifest has the
    columns ``path,label,class_name`` (``path`` relative to ``directory`` with ``/``
    separators, ``label`` the integer class index, ``class_name`` the original name),
    so ``load_dataset(manifest)`` restores labels and class names exactly.
    ``load_dataset(directory)`` restores the same pixels; its class order is the
    folder names' sorted order, which matches the labels whenever the class names
    are already in that order (true for ``"0".."K-1"`` and for sorted names).
    Empty classes get no folder.

    Parameters
    ----------
    dataset : ImageDataset
    directory : str or path-like
        Created if missing; existing files with the same names are replaced.
    manifest_name : str, default "manifest.csv"
        File name of the manifest inside ``directory``.

    Returns
    -------
    Path
        The manifest's path.

    Raises
    ------
    ConfigError
        ``manifest_name`` is not a plain ``.csv`` file name.
    OutputError
        A folder or file cannot be written.
    """
    directory = Path(directory)
    if (
        not manifest_name
        or Path(manifest_name).name != manifest_name
        or manifest_name.startswith(".")
        or not manifest_name.lower().endswith(".csv")
    ):
        raise ConfigError(
            f"manifest_name={manifest_name!r} must be a plain file name ending in .csv, such as "
            "'manifest.csv'."
        )
    from PIL import Image

    dirnames = safe_class_dirnames(dataset.class_names)
    uint8 = dataset.images_uint8()  # (N, H, W) or (N, H, W, 3)
    present = np.unique(dataset.labels)
    for k in present:
        folder = directory / dirnames[int(k)]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"{folder}: cannot create the folder ({exc.strerror or exc}). Choose another output "
                "path or free some space."
            ) from None

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "label", "class_name"])
    for i, (img, label) in enumerate(zip(uint8, dataset.labels)):
        rel = f"{dirnames[int(label)]}/{i:06d}.png"
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        # The folder as a whole is staged by the caller; skipping fsync per PNG keeps it fast.
        atomic_write_bytes(directory / rel, buf.getvalue(), fsync=False)
        writer.writerow([rel, int(label), dataset.class_names[int(label)]])
    manifest = directory / manifest_name
    atomic_write_text(manifest, text.getvalue())
    return manifest

