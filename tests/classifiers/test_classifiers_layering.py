"""Layering: classifiers depend on data only, never on attacks (attacks depend on classifiers' models)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synthaug.classifiers

PACKAGE = Path(synthaug.classifiers.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imported_modules(path: Path, root: Path = PACKAGE.parent.parent) -> list[str]:
    """Every module an ``import`` names in ``path``, relative imports resolved to absolute."""
    package = list(path.parent.relative_to(root).parts)  # ["synthaug", "classifiers", ...]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]  # level 1: this package
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append(module)
            out += [f"{module}.{alias.name}" for alias in node.names]  # from .. import attacks
    return out


def test_the_scan_sees_every_module_and_resolves_relative_imports():
    assert {p.name for p in MODULES} >= {"__init__.py", "cnn.py", "cnn_net.py", "loading.py", "registry.py"}
    imports = _imported_modules(PACKAGE / "cnn.py")
    assert "synthaug.data.validation" in imports and "synthaug.classifiers.cnn_net" in imports


def _attack_imports(path: Path, root: Path = PACKAGE.parent.parent) -> list[str]:
    return [m for m in _imported_modules(path, root)
            if m == "synthaug.attacks" or m.startswith("synthaug.attacks.")]


@pytest.mark.parametrize("source", [
    "from ..attacks import PGD", "from .. import attacks", "import synthaug.attacks.registry",
    "def f():\n    from ..attacks.registry import attack_from_config",
])
def test_the_scan_catches_every_form_of_attacks_import(tmp_path, source):
    bad = tmp_path / "synthaug" / "classifiers" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(source + "\n")
    assert _attack_imports(bad, tmp_path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_classifiers_never_import_attacks(path):
    bad = _attack_imports(path)
    assert not bad, f"{path.name} imports {bad}: classifiers depend on data only"
