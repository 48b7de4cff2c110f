"""Seeding: every random stream in synthaug is derived here, from one integer seed.

Library code never touches the global RNGs (``torch.manual_seed``, ``np.random.seed``).
An estimator turns its ``random_state`` into a numpy ``Generator`` or an integer with
:func:`check_random_state` / :func:`seed_from`; independent streams (initialisation,
sampling, one per job of a study) come from :func:`derive_seed`, and a torch RNG for a
stream from :func:`torch_generator`.

This module sits at the bottom of the layering, beside ``exceptions`` and ``data``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from .exceptions import ConfigError

if TYPE_CHECKING:  # torch is imported where a generator is made: the CLI starts without it
    import torch

__all__ = ["check_random_state", "derive_seed", "seed_from", "torch_generator"]


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


def _key_word(key: Any) -> int:
    # Integers are used as they are; anything else (a job's arm name, a training size
    # written as text) is hashed with CRC-32, which is stable across processes and
    # Python versions (unlike ``hash``).
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    return zlib.crc32(str(key).encode("utf-8"))


def derive_seed(seed: int, *keys: Any, bits: int = 63) -> int:
    """A seed for an independent random stream, derived from ``seed`` and ``keys``.

    The same ``(seed, *keys)`` always gives the same value, in any process; different
    keys give statistically independent streams (numpy's ``SeedSequence`` mixing).

    Parameters
    ----------
    seed : int
        The root seed (a ``random_state`` or a study's seed).
    *keys : int or str
        Names the stream: integers are used as they are, other values are hashed from
        their text (``derive_seed(0, "gan", "10")``).
    bits : {63, 32}, default 63
        63 gives a seed for torch generators; 32 a seed that fits numpy's legacy
        ``RandomState`` and the ``random_state`` of scikit-learn estimators (the
        experiment runner's jobs use 32). Both are read from the same 64-bit word.

    Examples
    --------
    >>> derive_seed(0, "gan", "10") == derive_seed(0, "gan", "10")
    True
    >>> derive_seed(0, "gan", "10") != derive_seed(1, "gan", "10")
    True
    >>> 0 <= derive_seed(0, 1, 2, bits=32) < 2**32
    True
    """
    if bits not in (32, 63):
        raise ConfigError(f"bits must be 32 or 63, got {bits!r}.")
    words = [int(seed), *[_key_word(k) for k in keys]]
    word = np.random.SeedSequence(words).generate_state(1, np.uint64)[0]  # (64-bit)
    if bits == 63:
        return int(word >> np.uint64(1))
    return int(word & np.uint64(0xFFFFFFFF))


def torch_generator(seed: int, device: torch.device | None = None) -> torch.Generator:
    """A private torch RNG seeded with ``seed``: library code never touches the global one."""
    import torch

    gen = torch.Generator(device=device if device is not None else "cpu")
    gen.manual_seed(int(seed))
    return gen
