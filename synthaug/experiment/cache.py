"""``JobCache``: finished jobs of an experiment kept on disk, so an interrupted study resumes.

A study of an hour or more is a grid of independent jobs (one generator per seed x
training size, one classifier job per seed x size x arm x ratio). With a cache, each job
stores its result as soon as it finishes; a rerun of the same study loads the stored
results instead of recomputing them. Every job is seeded from its own coordinates (see
:func:`~synthaug.seeding.derive_seed`), so a resumed study gives exactly the numbers of
an uninterrupted one.

The cache is scratch space that synthaug writes for itself (the CLI puts it in a hidden
sibling of ``--out`` and deletes it once the report is written). An entry is never a
pickle: its arrays go into ``<key>.npz`` (read with ``allow_pickle=False``) and
everything else into ``<key>.json`` (see :func:`encode` for the format), so loading a
cache runs no code. ``run.json`` holds what the results depend on (the configuration, a
fingerprint of the data, package versions); the CLI refuses ``--resume`` when it differs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..persistence import write_json

__all__ = ["JobCache", "decode", "encode"]

STAMP = "run.json"


# --------------------------------------------------------------------------- format
def encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON data, its numpy arrays and scalars moved into ``arrays``.

    Supported: None, bool, int, float (NaN and infinities too), str, numpy arrays and
    scalars of a non-object dtype, lists, tuples, dicts, and DataFrames (numeric columns
    as arrays; text, object and extension-dtype columns as values of plain types plus
    their dtype). Arrays and numpy scalars come back with their dtype, tuples as tuples,
    DataFrames with their columns' dtypes and their index. Anything else is a
    TypeError, never a silent pickle.

    Examples
    --------
    >>> arrays = {}
    >>> encode({"n": 1, "x": np.zeros(2), "r": float("nan")}, arrays)
    {'n': 1, 'x': {'__array__': 'a0'}, 'r': {'__float__': 'nan'}}
    >>> decode(encode((1, "a"), arrays), arrays)
    (1, 'a')
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"cannot store an object array (dtype {array.dtype}) without pickling.")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {"__array__": name}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v, arrays) for k, v in value.items()}
        return {"__items__": [[encode(k, arrays), encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, pd.DataFrame):
        return {"__dataframe__": {
            "columns": [encode(c, arrays) for c in value.columns],
            "data": [_encode_column(value.iloc[:, i], arrays) for i in range(value.shape[1])],
            "index": None if _is_default_index(value.index)
            else _encode_column(pd.Series(value.index), arrays),
        }}
    raise TypeError(f"cannot store a {type(value).__name__} in the job cache.")


def decode(data: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(data, list):
        return [decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    if "__array__" in data:
        array = arrays[data["__array__"]]
        return array[()] if array.ndim == 0 else array  # a numpy scalar stays a numpy scalar
    if "__float__" in data:
        return float(data["__float__"])
    if "__tuple__" in data:
        return tuple(decode(v, arrays) for v in data["__tuple__"])
    if "__items__" in data:
        return {decode(k, arrays): decode(v, arrays) for k, v in data["__items__"]}
    if "__dataframe__" in data:
        frame = data["__dataframe__"]
        columns = [decode(c, arrays) for c in frame["columns"]]
        index = None if frame["index"] is None else pd.Index(_decode_column(frame["index"], arrays))
        df = pd.DataFrame({i: _decode_column(c, arrays) for i, c in enumerate(frame["data"])}, index=index)
        if columns:
            df.columns = pd.Index(columns)
        return df
    return {k: decode(v, arrays) for k, v in data.items()}


def _is_default_index(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _encode_column(column: pd.Series, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
        return encode(column.to_numpy(), arrays)  # numeric, bool, dates: one array, dtype kept
    # Text, object and pandas extension dtypes: the values, and the dtype to restore.
    values = [v.item() if isinstance(v, np.generic) else v for v in column]
    return {"__values__": [encode(v, arrays) for v in values], "dtype": str(column.dtype)}


def _decode_column(data: Any, arrays: dict[str, np.ndarray]):
    if isinstance(data, dict) and "__values__" in data:
        return pd.array([decode(v, arrays) for v in data["__values__"]], dtype=data["dtype"])
    return decode(data, arrays)


# --------------------------------------------------------------------------- cache
class JobCache:
    """A folder of finished job results, keyed by the job's grid coordinates.

    Parameters
    ----------
    directory : path
        Where entries live; created on the first :meth:`save`.

    Examples
    --------
    >>> import tempfile
    >>> cache = JobCache(tempfile.mkdtemp())
    >>> ("job", 0, "10", "real", None) in cache
    False
    >>> cache.save(("job", 0, "10", "real", None), {"accuracy": 0.9})
    >>> cache.load(("job", 0, "10", "real", None))
    {'accuracy': 0.9}
    """

    def __init__(self, directory) -> None:
        self.directory = Path(directory)

    # Keys are short tuples of str/int/float/None; the file name spells them out.
    def _path(self, key: tuple, suffix: str) -> Path:
        name = "_".join("none" if k is None else f"{k:g}" if isinstance(k, float) else str(k) for k in key)
        return self.directory / (re.sub(r"[^A-Za-z0-9_.=-]", "-", name) + suffix)

    # The .npz is written last, so its presence marks a complete entry.
    def __contains__(self, key: tuple) -> bool:
        return self._path(key, ".npz").is_file()

    def __len__(self) -> int:
        return len(list(self.directory.glob("*.npz"))) if self.directory.is_dir() else 0

    def load(self, key: tuple) -> Any:
        """The value stored under ``key`` (arrays read with ``allow_pickle=False``)."""
        with np.load(self._path(key, ".npz"), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return decode(json.loads(self._path(key, ".json").read_text(encoding="utf-8")), arrays)

    def save(self, key: tuple, value: Any) -> None:
        """Store ``value`` atomically: an entry is either complete or absent."""
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        text = json.dumps(encode(value, arrays), allow_nan=False)
        self._replace(self._path(key, ".json"), lambda f: f.write(text.encode("utf-8")))
        self._replace(self._path(key, ".npz"), lambda f: np.savez(f, **arrays))

    def _replace(self, path: Path, write) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --------------------------------------------------------------- what the results depend on
    def read_stamp(self) -> dict | None:
        """The stamp of the run that filled this cache, or None (none, or unreadable)."""
        path = self.directory / STAMP
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None

    def write_stamp(self, stamp: dict) -> None:
        """Record what the results depend on (see the module docstring)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self.directory / STAMP, stamp)

    def clear(self) -> None:
        """Remove the cache folder and everything in it."""
        shutil.rmtree(self.directory, ignore_errors=True)
