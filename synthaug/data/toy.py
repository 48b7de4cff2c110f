"""Tiny synthetic datasets for tests and examples (made on the fly, never downloaded)."""

from __future__ import annotations

import numpy as np

from ..seeding import check_random_state
from .dataset import ImageDataset


def make_toy_images(
    n_per_class: int | list[int] = 20,
    *,
    n_classes: int = 3,
    image_size: int = 8,
    n_channels: int = 1,
    noise: float = 0.05,
    random_state=None,
) -> ImageDataset:
    """Easy-to-learn labelled images: class ``k`` is a bright bar at a class-specific place.

    Class 0 is a horizontal bar near the top, class 1 a vertical bar near the left,
    and so on, with small random jitter and noise, so any reasonable classifier or
    generator can learn them in seconds.

    Shape
    -----
    images : ``(N, n_channels, image_size, image_size)`` float32 in [0, 1].
    """
    rng = check_random_state(random_state)
    counts = [n_per_class] * n_classes if isinstance(n_per_class, int) else list(n_per_class)
    s = image_size
    images, labels = [], []
    for k, count in enumerate(counts):
        for _ in range(count):
            img = np.zeros((n_channels, s, s), np.float32)
            pos = (k // 2 * 2 + 1 + int(rng.integers(0, 2))) % s
            width = max(1, s // 8)
            if k % 2 == 0:
                img[:, pos : pos + width, :] = 1.0
            else:
                img[:, :, pos : pos + width] = 1.0
            if n_channels == 3:
                img[k % 3] *= 0.6  # a class-specific tint
            img += noise * rng.standard_normal(img.shape).astype(np.float32)
            images.append(np.clip(img, 0.0, 1.0))
            labels.append(k)
    return ImageDataset(
        images=np.stack(images),
        labels=np.array(labels),
        class_names=[f"class{k}" for k in range(len(counts))],
        name="toy",
    )
