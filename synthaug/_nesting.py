"""``FirstInLastOut``: set up a process-wide state when the first of overlapping blocks
starts, tear it down when the last one ends (thread-safe).

Used where jobs running in threads of one process share one global: torch's thread
count (``experiment.execution.limit_threads``) and the warning filter of a study
(``log_once.once_per_study``). Kept free of torch: the CLI imports ``log_once`` at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["FirstInLastOut"]


class FirstInLastOut:
    """Counts the blocks inside :meth:`hold`; ``enter`` runs for the first, ``leave`` after the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0

    @contextmanager
    def hold(self, enter: Callable[[], None], leave: Callable[[], None]) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                enter()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    leave()
