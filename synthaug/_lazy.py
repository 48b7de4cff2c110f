"""Package attributes that load their module on first use (PEP 562).

Every package whose public names need torch, scikit-learn or pandas exports them
through :func:`lazy_exports` (``synthaug`` itself, ``data``, ``generators``, ``quality``,
``over_sampling``), so that importing a light module of the package, or the CLI, which
checks options and files before any work, does not load them: ``import synthaug.cli``
stays well under a second.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, sources: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in ``sources``.

    ``sources`` maps each public name to the module that defines it, as
    :func:`importlib.import_module` takes it (``".draw"`` relative to ``package``, or an
    absolute name); the first lookup imports that module and caches the name on the
    package, so later lookups are plain attribute reads. ``__dir__`` lists the package's
    ``__all__`` (all its names when it has none).
    """

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(sources[name], package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        module = importlib.import_module(package)
        return sorted(getattr(module, "__all__", None) or {*vars(module), *sources})

    return __getattr__, __dir__
