"""Reading TOML recipes into an :class:`~synthaug.experiment.ExperimentConfig`.

Recipes use flat keys or tables whose keys get a prefix (``[gan] epochs`` ->
``gan_epochs``) or none (``[compute]``: ``n_jobs``, ``backend``, ``address``, ``device``); unknown keys are errors that name the recipe, the key and the closest
known key. A relative ``dataset`` path is looked up in the current folder, beside the
recipe and in the recipe folder's parent.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from pathlib import Path
from typing import Any, Mapping

from ..exceptions import ConfigError

__all__ = ["config_from_dict", "config_from_toml"]

# TOML tables whose keys are flattened with a prefix: [gan] epochs -> gan_epochs.
_TABLE_PREFIX = {"gan": "gan_", "generator": "gan_", "cnn": "cnn_", "robustness": "robust_", "quality": "quality_"}
# Keys of a table that map to an unprefixed field.
_TABLE_SPECIAL = {("robustness", "enabled"): "robustness", ("quality", "enabled"): "quality",
                  **{("compute", k): k for k in ("n_jobs", "backend", "address", "device")}}
# Tables whose keys map to unprefixed fields only (every other key is an error).
_TABLE_ONLY_SPECIAL = ("compute",)


def config_from_dict(cls, data: Mapping[str, Any], *, recipe: str | None = None):
    """An instance of the config class ``cls`` from a (possibly nested) recipe mapping."""
    where = f"{recipe}: " if recipe else ""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TABLE_ONLY_SPECIAL and isinstance(value, Mapping):
            for sub, v in value.items():
                if (key, sub) not in _TABLE_SPECIAL:
                    known = [s for t, s in _TABLE_SPECIAL if t == key]
                    raise ConfigError(f"{where}unknown key {key}.{sub!s}; [{key}] takes {', '.join(known)}.")
                flat[_TABLE_SPECIAL[key, sub]] = v
        elif key in _TABLE_PREFIX and isinstance(value, Mapping):
            for sub, v in value.items():
                name = _TABLE_SPECIAL.get((key, sub), _TABLE_PREFIX[key] + sub)
                if name not in cls.field_names():
                    close = difflib.get_close_matches(name, cls.field_names(), n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise ConfigError(f"{where}unknown key {key}.{sub!s} (read as {name!r}).{hint}")
                flat[name] = v
        else:
            flat[key] = value
    cls._check_keys(flat, where)
    if recipe is not None:
        flat["recipe"] = recipe
    try:
        return cls(**flat)
    except TypeError as exc:  # pragma: no cover - guarded by _check_keys
        raise ConfigError(f"{where}{exc}") from None


def config_from_toml(cls, path: str | Path, overrides: Mapping[str, Any]):
    """Load the TOML recipe at ``path`` into ``cls``, then apply ``overrides``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"recipe {path}: file not found. Check the --config path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"recipe {path}: cannot read it ({exc}).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {path}: not valid TOML ({exc}).") from None
    cfg = config_from_dict(cls, data, recipe=str(path))
    if cfg.dataset is not None and "dataset" not in {k for k, v in overrides.items() if v is not None}:
        cfg = dataclasses.replace(cfg, dataset=resolve_data_path(cfg.dataset, path))
    return cfg.replace(**overrides)


def resolve_data_path(dataset: str, recipe: Path) -> str:
    """Find a recipe's relative dataset path (cwd, recipe folder, recipe folder's parent)."""
    if ":" in dataset.split("/")[0] and not Path(dataset).exists():  # builtin:digits and the like
        return dataset
    p = Path(dataset).expanduser()
    if p.is_absolute() or p.exists():
        return dataset
    for base in (recipe.parent, recipe.parent.parent):
        candidate = base / p
        if candidate.exists():
            return str(candidate)
    return dataset
