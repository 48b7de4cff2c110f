"""Sample grids: one row per class, written as a PNG (used by the CLI and reports)."""

from __future__ import annotations

import io

import numpy as np

from .dataset import images_to_uint8


def make_grid(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    n_per_row: int = 10,
    padding: int = 1,
    min_cell: int = 28,
) -> np.ndarray:
    """Tile images into a grid with one row per class (first ``n_per_row`` of each class).

    Shape
    -----
    images : ``(N, C, H, W)`` float in [0, 1]; labels : ``(N,)`` ints in ``0..n_classes-1``.
    returns : ``(rows * (h + padding) + padding, cols * (w + padding) + padding, C')`` uint8,
    with C' = 3 for RGB input and 1 for grayscale; cells are upscaled (nearest neighbour) to
    at least ``min_cell`` pixels so that 8x8 images stay visible.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    c, h, w = images.shape[1:]
    scale = max(1, int(np.ceil(min_cell / max(h, w))))
    hs, ws = h * scale, w * scale
    grid = np.full(
        (n_classes * (hs + padding) + padding, n_per_row * (ws + padding) + padding, c),
        255,
        np.uint8,
    )
    for k in range(n_classes):
        rows = np.flatnonzero(labels == k)[:n_per_row]
        if rows.size == 0:
            continue
        tiles = images_to_uint8(images[rows]).reshape(rows.size, h, w, c)  # (n, h, w, C)
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)  # (n, hs, ws, C)
        y0 = padding + k * (hs + padding)
        for j, tile in enumerate(tiles):
            x0 = padding + j * (ws + padding)
            grid[y0 : y0 + hs, x0 : x0 + ws] = tile
    return grid


def grid_png_bytes(images: np.ndarray, labels: np.ndarray, n_classes: int, **kwargs) -> bytes:
    """:func:`make_grid` encoded as PNG bytes."""
    from PIL import Image

    grid = make_grid(images, labels, n_classes, **kwargs)
    mode_img = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    buf = io.BytesIO()
    mode_img.save(buf, format="PNG")
    return buf.getvalue()
