"""CSV manifests: a ``path,label`` table of image files (paths relative to the CSV's folder).

String labels are class names (sorted); integer labels are class indices, optionally
named by a ``class_name`` column. The files are decoded by
:func:`~synthaug.data.loaders.folder._read_image_files`, like a class folder's.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...exceptions import InvalidDataError
from ..dataset import ImageDataset
from ..validation import MAX_CLASSES
from .folder import _read_image_files, _sort_class_names
from .options import _Options


def _load_csv(path: Path, opts: _Options, skipped: list[str]) -> ImageDataset:
    # Deferred: pandas takes about 0.4 s to import (measured), and only manifests need it.
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"{path}: the CSV is empty; expected a header row 'path,label' and one row per image."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InvalidDataError(
            f"{path}: cannot parse the CSV ({type(exc).__name__}: {str(exc).strip()}). Expected "
            "UTF-8 text with a header 'path,label'."
        ) from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        found = ", ".join(repr(c) for c in table.columns) or "none"
        raise InvalidDataError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (columns found: {found}); expected a header "
            "'path,label'."
        )
    if len(table) == 0:
        raise InvalidDataError(f"{path}: the CSV has a header but no rows; add one row per image.")
    if table.columns.duplicated().any():
        raise InvalidDataError(f"{path}: repeated column names {list(table.columns)}; keep one of each.")

    paths = [str(v).strip() for v in table["path"]]
    raw_labels = [str(v).strip() for v in table["label"]]
    files = _csv_files(path, paths, raw_labels, opts)

    if all(re.fullmatch(r"[+-]?\d+", v) for v in raw_labels):
        labels = [int(v) for v in raw_labels]
        lo, hi = min(labels), max(labels)
        # Text labels, so the hint differs from check_labels': names are an alternative.
        if lo < 0 or hi >= MAX_CLASSES:
            raise InvalidDataError(
                f"{path}: integer labels span [{lo}, {hi}]; expected class indices 0..K-1. Use "
                "non-negative indices or class names."
            )
        class_names = [str(k) for k in range(hi + 1)]
        if "class_name" in table.columns:
            class_names = _csv_class_names(path, labels, table["class_name"].tolist(), class_names)
    else:
        class_names = _sort_class_names(sorted(set(raw_labels)))
        index = {c: k for k, c in enumerate(class_names)}
        labels = [index[v] for v in raw_labels]

    entries = [(f, rel, lbl) for f, rel, lbl in zip(files, paths, labels)]
    return _read_image_files(
        entries, class_names, opts, skipped, path,
        lambda lbl: f"{path}: class {class_names[lbl]!r}",
    )


def _csv_files(path: Path, paths: list[str], raw_labels: list[str], opts: _Options) -> list[Path]:
    """The resolved image file of every row, checked: present, listed once, inside the root."""
    root = path.resolve().parent
    seen: dict[Path, int] = {}
    files: list[Path] = []
    for i, (rel, lbl) in enumerate(zip(paths, raw_labels)):
        row = i + 2  # the header is line 1
        if not rel or not lbl:
            raise InvalidDataError(
                f"{path}: row {row} has an empty {'path' if not rel else 'label'}; every row needs "
                "both. Fill it in or remove the row."
            )
        candidate = Path(rel)
        try:
            full = (root / candidate).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidDataError(
                f"{path}: row {row} path {rel!r} is not a usable file path ({exc}). Fix the path."
            ) from None
        if not opts.allow_outside_root and (candidate.is_absolute() or not full.is_relative_to(root)):
            raise InvalidDataError(
                f"{path}: row {row} path {rel!r} is absolute or leaves the manifest's folder {root}. "
                "Use a path relative to that folder, or pass --allow-outside-root to allow it."
            )
        if full in seen:
            raise InvalidDataError(
                f"{path}: row {row} repeats {rel!r} (first listed at row {seen[full]}); each image "
                "must be listed once. Remove the duplicate row."
            )
        seen[full] = row
        if not full.is_file():
            raise InvalidDataError(
                f"{path}: row {row} file {rel!r} not found (looked for {full}). Fix the path "
                "(relative to the CSV's folder) or remove the row."
            )
        files.append(full)
    return files


def _csv_class_names(path: Path, labels: list[int], names: list, default: list[str]) -> list[str]:
    """Names for integer labels from an optional ``class_name`` column (must be consistent)."""
    mapping: dict[int, str] = {}
    for lbl, name in zip(labels, names):
        name = str(name)
        if mapping.setdefault(lbl, name) != name:
            raise InvalidDataError(
                f"{path}: label {lbl} has two class names ({mapping[lbl]!r} and {name!r}); each "
                "label needs exactly one name in the 'class_name' column."
            )
    out = [mapping.get(k, default[k]) for k in range(len(default))]
    if len(set(out)) != len(out):
        raise InvalidDataError(
            f"{path}: the 'class_name' column gives repeated names {out}; each label needs its "
            "own name."
        )
    return out
