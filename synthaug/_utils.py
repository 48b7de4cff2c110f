"""Device resolution, shared by every layer (seeded RNGs live in ``synthaug.seeding``).

This module sits at the bottom of the layering, beside ``exceptions`` and ``data``.
"""

from __future__ import annotations

import torch

from .exceptions import ConfigError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return a torch device: ``"auto"`` means CUDA when present, else CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} was requested but CUDA is not available; use 'auto' or 'cpu'."
        )
    return dev
