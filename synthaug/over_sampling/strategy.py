"""How many synthetic samples each class gets: one resolver, two vocabularies.

:func:`resolve_counts` is the one place that turns a request into a plan
``{class label: number of samples to add}`` (every class of ``y``, sorted). It speaks:

* imbalanced-learn's ``sampling_strategy`` for over-samplers ("auto", "minority",
  "not minority", "not majority", "all", a float for binary problems, a dict of target
  counts, or a callable returning such a dict);
* the CLI's flags (``--ratio``, ``--balance``, ``--n-per-class``).

:func:`resolve_sampling_strategy` and :func:`n_synthetic_per_class` are its two
vocabularies under their own names.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Mapping

import numpy as np

from ..exceptions import ConfigError

__all__ = ["STRATEGY_NAMES", "n_synthetic_per_class", "resolve_counts", "resolve_sampling_strategy"]

STRATEGY_NAMES = ("auto", "minority", "not minority", "not majority", "all")


def _counts(y) -> dict[Any, int]:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError(f"y has shape {y.shape}; expected a non-empty 1-D array of labels.")
    classes, counts = np.unique(y, return_counts=True)
    return {c: int(n) for c, n in zip(classes.tolist(), counts)}


def resolve_counts(y, *, sampling_strategy: str | float | Mapping | Callable | None = None,
                   ratio: float | None = None, balance: bool = False,
                   n_per_class: int | None = None) -> dict[Any, int]:
    """The resolved plan: how many samples to add to each class of ``y``.

    Give exactly one of the four requests.

    Parameters
    ----------
    y : array-like of shape (N,)
        Training labels.
    sampling_strategy : str, float, dict or callable, optional
        imbalanced-learn's meanings (see :func:`resolve_sampling_strategy`).
    ratio : float, optional
        ``--ratio R``: add ``round(R * count)`` to each class (R > 0).
    balance : bool, default False
        ``--balance``: raise every class to the largest class's count (the same plan
        as ``sampling_strategy="all"``).
    n_per_class : int, optional
        ``--n-per-class N``: add N to every class (N > 0).

    Returns
    -------
    dict
        ``{class: n_to_add}`` for every class of ``y`` (0 when untouched), in sorted
        class order, labels as Python scalars.

    Raises
    ------
    ConfigError
        None or several requests given, or an invalid one.

    Examples
    --------
    >>> resolve_counts([0, 0, 0, 1], balance=True)
    {0: 0, 1: 2}
    >>> resolve_counts([0, 0, 0, 1], sampling_strategy="minority")
    {0: 0, 1: 2}
    """
    flags = [flag for flag, on in (("--ratio", ratio is not None), ("--balance", bool(balance)),
                                   ("--n-per-class", n_per_class is not None)) if on]
    if sampling_strategy is not None:
        if flags:
            raise ConfigError(
                f"sampling_strategy cannot be combined with {' and '.join(flags)}; give one of them."
            )
        return _from_strategy(sampling_strategy, y)
    if len(flags) != 1:
        what = "none was given" if not flags else f"got {' and '.join(flags)}"
        raise ConfigError(
            f"choose exactly one of --ratio, --balance or --n-per-class ({what})."
        )
    counts = _counts(y)
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not np.isfinite(ratio) or ratio <= 0:
            raise ConfigError(f"--ratio must be a number > 0, got {ratio!r}.")
        return {c: int(round(float(ratio) * n)) for c, n in counts.items()}
    if n_per_class is not None:
        if isinstance(n_per_class, bool) or not isinstance(n_per_class, numbers.Integral) or n_per_class <= 0:
            raise ConfigError(f"--n-per-class must be an integer > 0, got {n_per_class!r}.")
        return {c: int(n_per_class) for c in counts}
    return _from_strategy("all", y)


def resolve_sampling_strategy(sampling_strategy: str | float | Mapping | Callable, y) -> dict[Any, int]:
    """Number of samples to generate per class, with imbalanced-learn's meanings.

    Parameters
    ----------
    sampling_strategy : str, float, dict or callable
        * ``"minority"``: only the smallest class, raised to the largest's count.
        * ``"not majority"`` (and ``"auto"``): every class but the largest.
        * ``"not minority"``: every class but the smallest.
        * ``"all"``: every class (the largest gets 0).
        * float ``r`` (binary ``y`` only): raise the minority to ``r * n_majority``.
        * dict ``{class: target count}``: raise each listed class to its target.
        * callable: ``f(y) -> dict`` as above.
    y : array-like of shape (N,)

    Returns
    -------
    dict
        ``{class: n_to_add}`` for every class of ``y`` (0 when untouched), sorted.

    Raises
    ------
    ConfigError
        Unknown name, a float for non-binary ``y``, a target below a class's count,
        or a dict naming a class absent from ``y``.

    Examples
    --------
    >>> resolve_sampling_strategy("auto", [0, 0, 0, 0, 1, 2, 2])
    {0: 0, 1: 3, 2: 2}
    >>> resolve_sampling_strategy(0.5, [0, 0, 0, 0, 1])
    {0: 0, 1: 1}
    """
    if sampling_strategy is None:
        raise ConfigError(
            f"sampling_strategy=None is not supported; use one of "
            f"{', '.join(repr(s) for s in STRATEGY_NAMES)}, a float, a dict or a callable."
        )
    return resolve_counts(y, sampling_strategy=sampling_strategy)


def n_synthetic_per_class(y, *, ratio: float | None = None, balance: bool = False,
                          n_per_class: int | None = None) -> dict[Any, int]:
    """Synthetic samples per class from exactly one of the CLI's count options.

    Parameters
    ----------
    y : array-like of shape (N,)
        Training labels.
    ratio : float, optional
        ``--ratio R``: add ``round(R * count)`` to each class (R > 0).
    balance : bool, default False
        ``--balance``: raise every class to the largest class's count.
    n_per_class : int, optional
        ``--n-per-class N``: add N to every class (N > 0).

    Returns
    -------
    dict
        ``{class label: n_to_add}`` in sorted class order (labels as Python scalars).

    Raises
    ------
    ConfigError
        None or several options given, or a value that is not positive.

    Examples
    --------
    >>> n_synthetic_per_class([0, 0, 0, 1], balance=True)
    {0: 0, 1: 2}
    >>> n_synthetic_per_class([0, 0, 0, 1], ratio=0.5)
    {0: 2, 1: 0}
    """
    return resolve_counts(y, ratio=ratio, balance=balance, n_per_class=n_per_class)


def _from_strategy(sampling_strategy, y) -> dict[Any, int]:
    """imbalanced-learn's ``sampling_strategy`` -> ``{class: n_to_add}``."""
    counts = _counts(y)
    n_max = max(counts.values())
    n_min = min(counts.values())
    # Ties: like imbalanced-learn, the first class (in sorted order) with the extreme count.
    majority = next(c for c, n in counts.items() if n == n_max)
    minority = next(c for c, n in counts.items() if n == n_min)

    if callable(sampling_strategy):
        result = sampling_strategy(np.asarray(y))
        if not isinstance(result, Mapping):
            raise ConfigError(
                f"sampling_strategy callable returned {type(result).__name__}; it must return a "
                "dict {class: target count}."
            )
        return _from_strategy(dict(result), y)

    if isinstance(sampling_strategy, str):
        name = sampling_strategy
        if name == "minority":
            chosen = {minority}
        elif name in ("auto", "not majority"):
            chosen = set(counts) - {majority}
        elif name == "not minority":
            chosen = set(counts) - {minority}
        elif name == "all":
            chosen = set(counts)
        else:
            raise ConfigError(
                f"sampling_strategy={name!r} is not supported; valid names: "
                f"{', '.join(repr(s) for s in STRATEGY_NAMES)}, or a float, dict or callable."
            )
        return {c: (n_max - n if c in chosen else 0) for c, n in counts.items()}

    if isinstance(sampling_strategy, numbers.Real) and not isinstance(sampling_strategy, bool):
        ratio = float(sampling_strategy)
        if len(counts) != 2:
            raise ConfigError(
                f"sampling_strategy={ratio!r}: a float is only valid for binary targets, but y has "
                f"{len(counts)} classes. Use a string or a dict {{class: target count}}."
            )
        if not 0.0 < ratio <= 1.0:
            raise ConfigError(
                f"sampling_strategy={ratio!r}: a float must be in (0, 1] (minority / majority ratio)."
            )
        out = {c: (int(ratio * n_max - n) if c != majority else 0) for c, n in counts.items()}
        if any(v < 0 for v in out.values()):
            raise ConfigError(
                f"sampling_strategy={ratio!r} asks for fewer minority samples than exist "
                f"(minority {n_min}, majority {n_max}); an over-sampler cannot remove samples. "
                "Use a larger ratio."
            )
        return out

    if isinstance(sampling_strategy, Mapping):
        unknown = [k for k in sampling_strategy if k not in counts]
        if unknown:
            raise ConfigError(
                f"sampling_strategy names class(es) {unknown} that are not in y "
                f"(classes: {list(counts)})."
            )
        out = {c: 0 for c in counts}
        for c, target in sampling_strategy.items():
            if isinstance(target, bool) or not isinstance(target, numbers.Integral):
                raise ConfigError(
                    f"sampling_strategy[{c!r}]={target!r}: target counts must be integers."
                )
            if target < counts[c]:
                raise ConfigError(
                    f"sampling_strategy[{c!r}]={target}: class {c!r} already has {counts[c]} samples; "
                    "an over-sampler can only add samples, so targets must be >= the current count."
                )
            out[c] = int(target) - counts[c]
        return out

    raise ConfigError(
        f"sampling_strategy={sampling_strategy!r} is not supported; use one of "
        f"{', '.join(repr(s) for s in STRATEGY_NAMES)}, a float, a dict or a callable."
    )
