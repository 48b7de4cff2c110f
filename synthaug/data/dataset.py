"""The :class:`ImageDataset` container and the two pixel conversion helpers.

Conventions (see ``docs/architecture.md``): inside the library images are ``float32``
arrays of shape ``(N, C, H, W)`` with values in ``[0, 1]``; labels are 1-D integer
indices into ``class_names``. On disk images are ``uint8`` in the usual layout
``(N, H, W)`` (grayscale) or ``(N, H, W, 3)`` (RGB). :func:`images_from_uint8` and
:func:`images_to_uint8` are the only places that rescale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..exceptions import InvalidDataError
from .validation import check_images, check_labels

SPLITS = ("train", "val", "test")


def images_from_uint8(images: np.ndarray) -> np.ndarray:
    """Convert on-disk ``uint8`` images to the library's float layout.

    Shape
    -----
    images : ``(N, H, W)`` or ``(N, H, W, C)`` with C in {1, 3}, uint8 in 0..255.
    returns : ``(N, C, H, W)`` float32 in ``[0, 1]``.
    """
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[:, None, :, :]  # (N, 1, H, W)
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
        arr = np.transpose(arr, (0, 3, 1, 2))  # (N, C, H, W)
    else:
        raise InvalidDataError(
            f"images have shape {arr.shape}; expected (N, H, W) for grayscale or "
            "(N, H, W, 3) for RGB."
        )
    return np.ascontiguousarray(arr, dtype=np.float32) / np.float32(255.0)


def images_to_uint8(images: np.ndarray) -> np.ndarray:
    """Convert library images back to the on-disk ``uint8`` layout.

    Shape
    -----
    images : ``(N, C, H, W)`` float in ``[0, 1]`` (values outside are clipped).
    returns : ``(N, H, W)`` when C == 1, else ``(N, H, W, C)``; uint8.
    """
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4:
        raise InvalidDataError(f"images have shape {arr.shape}; expected (N, C, H, W).")
    out = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if out.shape[1] == 1:
        return out[:, 0]  # (N, H, W)
    return np.ascontiguousarray(np.transpose(out, (0, 2, 3, 1)))  # (N, H, W, C)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """An immutable labelled image set.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W), float32 in [0, 1]
        C is 1 (grayscale) or 3 (RGB).
    labels : ndarray of shape (N,)
        Integer class indices into ``class_names``.
    class_names : sequence of str
        One name per class; at least one.
    is_synthetic : ndarray of shape (N,) of bool, optional
        Which rows were generated (default: none).
    split : ndarray of shape (N,) of str, optional
        ``"train"``, ``"val"`` or ``"test"`` per row when the source defines splits.
    provenance : ndarray of shape (N,) of str, optional
        Where each row came from (a file path, ``"file.npz:train[3]"``, ``"generator"``).
    name : str
        A short human name for messages and reports.

    The constructor validates everything and stores read-only copies, so a dataset
    that exists is always consistent.

    Examples
    --------
    >>> import numpy as np
    >>> ds = ImageDataset(np.zeros((4, 1, 8, 8), np.float32), np.array([0, 1, 0, 1]), ["a", "b"])
    >>> ds.class_counts()
    {'a': 2, 'b': 2}
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    is_synthetic: np.ndarray | None = None
    split: np.ndarray | None = None
    provenance: np.ndarray | None = None
    name: str = "dataset"
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        images = check_images(self.images, f"{self.name}: images", owner="ImageDataset")
        n = images.shape[0]
        labels = check_labels(self.labels, n, f"{self.name}: labels", class_indices=True,
                              images_who="images")
        names = tuple(str(c) for c in self.class_names)
        if len(names) == 0:
            raise InvalidDataError(f"{self.name}: class_names is empty.")
        if len(set(names)) != len(names):
            raise InvalidDataError(f"{self.name}: class_names has duplicates: {names}.")
        if labels.max() >= len(names):
            raise InvalidDataError(
                f"{self.name}: labels span [{labels.min()}, {labels.max()}] but there are "
                f"{len(names)} classes; labels must be indices 0..{len(names) - 1}."
            )
        syn = np.zeros(n, bool) if self.is_synthetic is None else np.asarray(self.is_synthetic, bool)
        if syn.shape != (n,):
            raise InvalidDataError(f"{self.name}: is_synthetic must have shape ({n},).")
        split = None
        if self.split is not None:
            split = np.asarray(self.split).astype(str)
            if split.shape != (n,) or not set(np.unique(split)) <= set(SPLITS):
                raise InvalidDataError(
                    f"{self.name}: split must hold one of {SPLITS} per row."
                )
        prov = (
            np.array([f"{self.name}[{i}]" for i in range(n)])
            if self.provenance is None
            else np.asarray(self.provenance).astype(str)
        )
        if prov.shape != (n,):
            raise InvalidDataError(f"{self.name}: provenance must have shape ({n},).")
        object.__setattr__(self, "images", _readonly(images))
        object.__setattr__(self, "labels", _readonly(labels))
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "is_synthetic", _readonly(syn))
        object.__setattr__(self, "split", None if split is None else _readonly(split))
        object.__setattr__(self, "provenance", _readonly(prov))
        object.__setattr__(self, "_checked", True)

    # ----------------------------------------------------------------- shape facts
    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_samples(self) -> int:
        return len(self)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    @property
    def n_channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def source(self) -> np.ndarray:
        """Per-row ``"real"`` or ``"synthetic"``."""
        return np.where(self.is_synthetic, "synthetic", "real")

    @property
    def splits(self) -> tuple[str, ...]:
        """The split names present, in train/val/test order (empty if none)."""
        if self.split is None:
            return ()
        present = set(np.unique(self.split))
        return tuple(s for s in SPLITS if s in present)

    def class_counts(self) -> dict[str, int]:
        """Rows per class name, in class order (classes with no rows count 0)."""
        counts = np.bincount(self.labels, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    # ----------------------------------------------------------------- new datasets
    def subset(self, index: np.ndarray | Sequence[int], name: str | None = None) -> "ImageDataset":
        """Rows selected by an integer index or a boolean mask (a new dataset)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ImageDataset(
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=self.class_names,
            is_synthetic=self.is_synthetic[idx],
            split=None if self.split is None else self.split[idx],
            provenance=self.provenance[idx],
            name=name or self.name,
        )

    def get_split(self, split: str) -> "ImageDataset":
        """The rows of one split; raises if the dataset has no such split."""
        if split not in self.splits:
            raise InvalidDataError(
                f"{self.name}: has no {split!r} split (splits present: {list(self.splits) or 'none'})."
            )
        return self.subset(self.split == split, name=f"{self.name}:{split}")

    def with_synthetic(self, images: np.ndarray, labels: np.ndarray) -> "ImageDataset":
        """This dataset with synthetic rows appended (real rows first, order kept)."""
        images = np.asarray(images, np.float32)
        labels = np.asarray(labels)
        m = images.shape[0]
        split = None
        if self.split is not None:
            split = np.concatenate([self.split, np.full(m, "train")])
        return ImageDataset(
            images=np.concatenate([self.images, images]) if m else self.images,
            labels=np.concatenate([self.labels, labels.astype(np.int64)]) if m else self.labels,
            class_names=self.class_names,
            is_synthetic=np.concatenate([self.is_synthetic, np.ones(m, bool)]),
            split=split,
            provenance=np.concatenate([self.provenance, np.full(m, "generator")]),
            name=self.name,
        )

    def images_uint8(self) -> np.ndarray:
        """Images in the on-disk layout: ``(N, H, W)`` or ``(N, H, W, 3)`` uint8."""
        return images_to_uint8(self.images)


def concat(datasets: Iterable[ImageDataset], name: str | None = None) -> ImageDataset:
    """Stack datasets that share class names and image shape."""
    parts = list(datasets)
    if not parts:
        raise InvalidDataError("concat needs at least one dataset.")
    first = parts[0]
    for p in parts[1:]:
        if p.class_names != first.class_names or p.image_shape != first.image_shape:
            raise InvalidDataError(
                f"cannot concatenate {p.name} ({p.image_shape}, {p.class_names}) with "
                f"{first.name} ({first.image_shape}, {first.class_names})."
            )
    has_split = all(p.split is not None for p in parts)
    return ImageDataset(
        images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        class_names=first.class_names,
        is_synthetic=np.concatenate([p.is_synthetic for p in parts]),
        split=np.concatenate([p.split for p in parts]) if has_split else None,
        provenance=np.concatenate([p.provenance for p in parts]),
        name=name or first.name,
    )
