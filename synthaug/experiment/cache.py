"""``JobCache``: finished jobs of an experiment kept on disk, so an interrupted study resumes.

A study of an hour or more is a grid of independent jobs (one generator per seed x
training size, one classifier job per seed x size x arm x ratio). With a cache, each job
stores its result as soon as it finishes; a rerun of the same study loads the stored
results instead of recomputing them. Every job is seeded from its own coordinates (see
:func:`~synthaug.experiment.runner.derive_seed`), so a resumed study gives exactly the
numbers of an uninterrupted one.

The cache is scratch space that synthaug writes for itself (the CLI puts it in a hidden
sibling of ``--out`` and deletes it once the report is written). Its entries are joblib
pickles: load a cache only from a folder that this program wrote, never one you were
sent. ``run.json`` holds what the results depend on (the configuration, a fingerprint
of the data, package versions); the CLI refuses ``--resume`` when it differs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["JobCache"]

STAMP = "run.json"


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
    def _path(self, key: tuple) -> Path:
        name = "_".join("none" if k is None else f"{k:g}" if isinstance(k, float) else str(k) for k in key)
        return self.directory / (re.sub(r"[^A-Za-z0-9_.=-]", "-", name) + ".joblib")

    def __contains__(self, key: tuple) -> bool:
        return self._path(key).is_file()

    def __len__(self) -> int:
        return len(list(self.directory.glob("*.joblib"))) if self.directory.is_dir() else 0

    def load(self, key: tuple) -> Any:
        import joblib

        return joblib.load(self._path(key))

    def save(self, key: tuple, value: Any) -> None:
        """Store ``value`` atomically: an entry is either complete or absent."""
        import joblib

        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=self.directory)
        os.close(fd)
        try:
            joblib.dump(value, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --------------------------------------------------------------- what the results depend on
    def read_stamp(self) -> dict | None:
        path = self.directory / STAMP
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None

    def write_stamp(self, stamp: dict) -> None:
        from ..data.io import atomic_write_text

        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.directory / STAMP, json.dumps(stamp, indent=2, sort_keys=True, default=str) + "\n")

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
