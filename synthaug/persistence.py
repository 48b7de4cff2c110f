"""What synthaug writes to disk besides datasets: JSON records, model folders, resume stamps.

One module owns the on-disk formats that several commands share:

- :func:`to_jsonable` and :func:`write_json` / :func:`read_json`: plain JSON, written
  atomically; never a pickle.
- The **run record** (:data:`RUN_RECORD`, ``config.json``): what a command was asked to
  do, the resolved options and :func:`package_versions`. Every output folder has one.
- The **model folder**: weights (``model.safetensors``) plus one metadata file named for
  what the model is (:data:`GENERATOR_META` ``generator.json``,
  :data:`CLASSIFIER_META` ``classifier.json``), which also stores the class names.
  :func:`find_model_dir` finds it inside a command's output folder.
- **Resume stamps**: :func:`stamp_changes` compares what an interrupted run depended on
  with what the resumed run depends on, and :func:`check_resume_stamp` refuses the
  resume with a message naming every difference.

This module sits at the bottom of the layering, beside ``data`` and ``exceptions``.
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .data.io import atomic_write_text
from .exceptions import ConfigError, ModelFileError

__all__ = [
    "CLASSIFIER_META",
    "GENERATOR_META",
    "LEGACY_GENERATOR_META",
    "MODEL_DIR_NAME",
    "RUN_RECORD",
    "check_resume_stamp",
    "find_model_dir",
    "package_versions",
    "read_json",
    "stamp_changes",
    "to_jsonable",
    "write_json",
    "write_run_record",
]

#: A command's run record in every output folder: command, resolved options, versions.
RUN_RECORD = "config.json"
#: The sub-folder of a ``train``/``augment`` output that holds the model.
MODEL_DIR_NAME = "model"
#: Metadata of a saved generator (parameters, classes, class names, fitted state).
GENERATOR_META = "generator.json"
#: Model folders written before the generator metadata had its own name.
LEGACY_GENERATOR_META = "config.json"
#: Metadata of a saved CNNClassifier.
CLASSIFIER_META = "classifier.json"

#: Packages whose versions a result depends on (recorded in run records and stamps).
_VERSIONED = ("synthaug", "torch", "numpy", "scikit-learn", "pandas", "click", "imbalanced-learn")


def package_versions() -> dict[str, str]:
    """Versions of Python, synthaug and the packages its results depend on."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: numpy scalars unboxed, paths and tuples converted.

    Non-finite floats become ``None`` (JSON has no NaN); a numpy ``Generator`` (an
    unsaveable ``random_state``) becomes ``None``; anything else unknown becomes its text.

    Examples
    --------
    >>> to_jsonable({"a": (np.int64(1), np.float32(0.5)), 2: Path("x")})
    {'a': [1, 0.5], '2': 'x'}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.random.Generator):
        return None
    return str(value)


def write_json(path: str | Path, payload: Any, *, fsync: bool = False) -> Path:
    """Write ``payload`` (made JSON-able) to ``path`` atomically, indented, newline-terminated."""
    return atomic_write_text(Path(path), json.dumps(to_jsonable(payload), indent=2) + "\n", fsync=fsync)


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing or malformed one is a ModelFileError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not found; expected the {what}.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: cannot read the {what} ({exc}). The file is damaged: save the model again."
        ) from None


def write_run_record(directory: str | Path, options: Mapping[str, Any], command: str) -> Path:
    """Write the run record ``config.json``: the command, its resolved options and versions."""
    payload = {"command": command, "options": dict(options), "versions": package_versions()}
    return write_json(Path(directory) / RUN_RECORD, payload)


def find_model_dir(path: str | Path, meta_file: str = GENERATOR_META, *,
                   legacy: Iterable[str] = (LEGACY_GENERATOR_META,), flag: str = "MODEL_DIR") -> Path:
    """The model folder at ``path``: the folder itself, or its ``model/`` sub-folder.

    ``path`` may be a command's output folder (``synthaug train --out``) or the model
    folder itself. A folder counts as a model folder when it holds ``meta_file``, or a
    ``legacy`` metadata file that is not a run record (folders from older versions).

    Raises
    ------
    ModelFileError
        Naming ``flag`` and ``path`` when neither holds a model.
    """
    path = Path(path)
    for candidate in (path / MODEL_DIR_NAME, path):
        if (candidate / meta_file).is_file():
            return candidate
        for name in legacy:
            old = candidate / name
            if old.is_file():
                try:
                    is_run_record = "command" in json.loads(old.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, ValueError):
                    is_run_record = True
                if not is_run_record:
                    return candidate
    raise ModelFileError(
        f"{flag} {path}: no trained model found (expected {path}/{MODEL_DIR_NAME}/{meta_file} from "
        "'synthaug train' or 'synthaug augment', or a model folder holding it)."
    )


def stamp_changes(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of the entries that differ between two stamps; nested dicts are compared per key.

    Examples
    --------
    >>> stamp_changes({"config": {"a": 1, "b": 2}, "seed": 0}, {"config": {"a": 1, "b": 3}, "seed": 0})
    ['config.b']
    """
    changed: list[str] = []
    for key in sorted(set(saved) | set(current), key=str):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changed += [f"{key}.{sub}" for sub in stamp_changes(old, new)]
        elif to_jsonable(old) != to_jsonable(new):
            changed.append(str(key))
    return changed


def check_resume_stamp(saved: Mapping[str, Any] | None, current: Mapping[str, Any], *,
                       where: str | Path, describe: Mapping[str, str] | None = None) -> None:
    """Refuse a ``--resume`` whose saved stamp is missing or differs from ``current``.

    ``where`` names the checkpoint or cache folder in the message; ``describe`` maps a
    stamp key to the words used for it (``{"data_sha256": "the data"}``).

    Raises
    ------
    ConfigError
        No stamp: "no interrupted run found"; a difference: every changed key named.
    """
    if saved is None:
        raise ConfigError(
            f"--resume: no interrupted run found at {where}. Run the same command without "
            "--resume to start."
        )
    changed = stamp_changes(saved, current)
    if changed:
        describe = describe or {}
        names = [describe.get(c, describe.get(c.split(".", 1)[0], c) if "." not in c else c) for c in changed]
        raise ConfigError(
            f"--resume: the interrupted run used other settings ({', '.join(dict.fromkeys(names))} "
            "differ). Use the same data and options, or drop --resume to start over."
        )
