"""Input checks shared by the metric modules (private: the public API validates with them)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..exceptions import InvalidDataError

__all__ = ["check_paired"]


def check_paired(first: object, second: object, names: tuple[str, str],
                 check: Callable[[object, str], np.ndarray], unit: str,
                 advice: str) -> tuple[np.ndarray, np.ndarray]:
    """Check two 1-D arrays that pair up element by element, and that they are as long.

    Each is checked with ``check(array, name)``; a length mismatch raises
    ``"<first> has N <unit> but <second> has M; <advice>"``.

    Shape
    -----
    first, second : ``(N,)``; returned as checked by ``check``.
    """
    a, b = check(first, names[0]), check(second, names[1])
    if a.shape != b.shape:
        raise InvalidDataError(
            f"{names[0]} has {a.shape[0]} {unit} but {names[1]} has {b.shape[0]}; {advice}"
        )
    return a, b
