"""Small helpers shared by every layer: device resolution and seeded RNGs.

This module sits at the bottom of the layering, beside ``exceptions`` and ``data``.
"""

from __future__ import annotations

import numpy as np
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


def check_random_state(random_state) -> np.random.Generator:
    """Turn ``None``, an int or a Generator into a ``numpy.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise ConfigError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
    )


def seed_from(random_state) -> int:
    """Derive a 63-bit integer seed (for torch generators) from ``random_state``."""
    return int(check_random_state(random_state).integers(0, 2**63 - 1))


def torch_generator(seed: int, device: torch.device | None = None) -> torch.Generator:
    """A private torch RNG seeded with ``seed``: library code never touches the global one."""
    gen = torch.Generator(device=device if device is not None else "cpu")
    gen.manual_seed(int(seed))
    return gen
