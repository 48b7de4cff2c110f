"""Show each distinct warning once while a study runs.

A study repeats the same job per seed, training size and class, so a library warning
(e.g. ``frechet_distance``'s singular covariance) would otherwise print once per job:
dozens of times. :func:`each_warning_once` puts a :class:`OncePerRun` filter on every
handler of the root logger for the duration of a block. ``synthaug evaluate`` wraps the
whole study in one; every job also runs inside :func:`once_per_study` (see
:mod:`synthaug.experiment.execution`), which keeps one filter per process and study, so
that worker processes (loky, Dask, Ray), which log on their own, print each warning
once per worker instead of once per job.

Kept free of torch and joblib: the CLI imports it at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ._nesting import FirstInLastOut

__all__ = ["OncePerRun", "each_warning_once", "once_per_study"]


class OncePerRun(logging.Filter):
    """Let each distinct warning through once; count the repeats it holds back."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[tuple[str, str], logging.LogRecord] = {}
        self.n_repeats = 0
        self._last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        # One filter sits on every handler: each handler asks about the same record, so
        # pass the first record of a message everywhere, and count a repeat once.
        first = self.first.setdefault((record.name, record.getMessage()), record)
        if first is not record and record is not self._last:
            self.n_repeats += 1
        self._last = record
        return first is record


def _handlers() -> list[logging.Handler]:
    return [h for h in (logging.getLogger().handlers or [logging.lastResort]) if h is not None]


@contextmanager
def each_warning_once(once: OncePerRun | None = None) -> Iterator[OncePerRun]:
    """For the duration of the block, every handler of the root logger shows each
    distinct warning once (``once``: a filter to reuse, keeping what it has seen).

    Yields the filter, whose ``n_repeats`` counts the warnings held back.
    """
    once = once if once is not None else OncePerRun()
    handlers = _handlers()
    for handler in handlers:
        handler.addFilter(once)
    try:
        yield once
    finally:
        for handler in handlers:
            handler.removeFilter(once)


_nesting = FirstInLastOut()
_state: dict = {"study": None, "filter": None, "handlers": []}


def _install(study: str) -> None:
    if _state["study"] != study:
        _state["study"], _state["filter"] = study, OncePerRun()
    _state["handlers"] = _handlers()
    for handler in _state["handlers"]:
        handler.addFilter(_state["filter"])


def _remove() -> None:
    for handler in _state["handlers"]:
        handler.removeFilter(_state["filter"])
    _state["handlers"] = []


@contextmanager
def once_per_study(study: str | None) -> Iterator[None]:
    """Run a job of study ``study`` with this process's filter for that study installed.

    The filter lives as long as the process works for the same study (a worker runs many
    jobs of one study); a job of another study starts a fresh one. Jobs running at once
    in threads of one process share it (installed by the first, removed by the last).
    ``study`` None: no filter.
    """
    if study is None:
        yield
        return
    with _nesting.hold(lambda: _install(study), _remove):
        yield
