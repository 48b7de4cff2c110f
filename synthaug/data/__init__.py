"""The data layer: the :class:`ImageDataset` container, loaders, writers, atomic file
writes, classic augmentation and toy data.

Inside the library images are float32 ``(N, C, H, W)`` in ``[0, 1]``; on disk they are
uint8. :func:`load_dataset` reads every supported input (``.npz``, class folders, CSV
manifests, ``builtin:digits``); :func:`write_npz` and :func:`write_png_folder` write
files that load back to the same pixels and labels.
"""

from .._lazy import lazy_exports
from .dataset import ImageDataset, concat, images_from_uint8, images_to_uint8
from .io import atomic_path, atomic_write_bytes, atomic_write_text
from .loaders import list_builtin_datasets, load_dataset, load_dataset_with_report
from .toy import make_toy_images
from .writers import write_npz, write_png_folder

__all__ = [
    "ImageDataset",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "classic_augment",
    "concat",
    "images_from_uint8",
    "images_to_uint8",
    "list_builtin_datasets",
    "load_dataset",
    "load_dataset_with_report",
    "make_toy_images",
    "write_npz",
    "write_png_folder",
]


# classic_augment needs torch: loaded on first use, so the CLI starts without it.
__getattr__, __dir__ = lazy_exports(__name__, {"classic_augment": ".augment"})
