"""Package attributes that load their submodule on first use (PEP 562).

A package whose submodules need torch exports through :func:`lazy_exports`, so that
importing one of its light submodules (or the CLI, which checks options and files
before any work) does not load torch: ``import synthaug.cli`` stays well under a second.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, sources: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in ``sources``.

    ``sources`` maps each public name to the submodule (relative, without the dot) that
    defines it; the first lookup imports that submodule and caches the name on the
    package, so later lookups are plain attribute reads.
    """

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{sources[name]}", package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *sources})

    return __getattr__, __dir__
