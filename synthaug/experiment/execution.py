"""Running a study's jobs through joblib, on whichever backend is active.

The runner hands :func:`run_tasks` a list of jobs (a key, a label naming the job, a
function and its arguments) and receives ``(key, result)`` pairs **as the jobs finish**,
so it can store each one in the job cache and move the progress bar at once, whether
the job ran in a local process, on a Dask worker or on a Ray worker. Five rules:

- **No hard-coded backend.** A joblib backend or ``n_jobs`` that the caller set with
  ``joblib.parallel_config`` around ``run_experiment`` is used as it is
  (:func:`caller_set_parallel`); only without one does ``Parallel`` get the config's
  ``n_jobs`` (and the runner enters the config's backend, see
  :mod:`~synthaug.experiment.backends`).
- **Results as they finish.** ``return_as="generator_unordered"`` where the backend
  supports it (loky, Dask); otherwise (Ray's joblib backend, multiprocessing) the jobs
  go in rounds of as many jobs as there are workers, each round's results returned
  together.
- **Threads.** A job caps torch's and the BLAS libraries' thread pools at one thread
  (restored afterwards) wherever joblib did not start the process itself (Dask, Ray,
  threads): a worker runs one job per worker thread, and each job using every core
  would oversubscribe the machine. Processes that joblib starts (loky) are capped by
  joblib already; the main process (``n_jobs=1``) keeps its threads.
- **Each warning once.** A job runs with a log filter shared by every job of its study
  in that process (:func:`~synthaug.log_once.once_per_study`): a library warning that
  every job repeats prints once per worker, not once per job.
- **Errors name the job.** An exception inside a job becomes a
  :class:`~synthaug.exceptions.JobError` whose message starts with the job's label
  (seed, training size, arm, ratio) and keeps the job's type and message; its
  ``details`` hold the job's traceback as text.

Jobs receive their arrays as arguments; joblib memory-maps large ones for local
processes, and its Dask backend scatters each large argument once per call (the same
array object is not sent again per job).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import joblib
import torch
from joblib import Parallel, delayed
from joblib import parallel as joblib_parallel
from threadpoolctl import threadpool_limits

from ..exceptions import JobError
from .._nesting import FirstInLastOut
from ..log_once import once_per_study

__all__ = ["Task", "caller_set_parallel", "limit_threads", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One job: ``func(*args)``, stored and reported under ``key``, named by ``label``."""

    key: Hashable
    label: str
    func: Callable[..., Any]
    args: tuple


def caller_set_parallel() -> bool:
    """Whether a ``joblib.parallel_config`` that sets a backend or ``n_jobs`` is active."""
    # joblib keeps the active configuration in a thread-local; a key the caller did not
    # set holds the very sentinel object of `default_parallel_config`.
    defaults = joblib_parallel.default_parallel_config
    config = getattr(joblib_parallel._backend, "config", defaults)
    return config["backend"] is not defaults["backend"] or config["n_jobs"] is not defaults["n_jobs"]


# Backends whose worker processes joblib starts and caps itself (or the main process).
_SELF_CAPPED = tuple(joblib_parallel.BACKENDS[name] for name in ("loky", "multiprocessing", "sequential"))


def _threads_per_job() -> int | None:
    """1 where joblib does not cap the worker's threads itself (Dask, Ray, threads), else None."""
    backend, _ = joblib_parallel.get_active_backend()
    return None if type(backend) in _SELF_CAPPED else 1


# torch.set_num_threads is process-wide: with several jobs in one process (a worker
# with several threads), the first job in sets the cap and the last job out restores it.
_threads_nesting = FirstInLastOut()
_saved_threads = [0]


def _cap_torch(n_threads: int) -> None:
    _saved_threads[0] = torch.get_num_threads()
    torch.set_num_threads(n_threads)


@contextlib.contextmanager
def limit_threads(n_threads: int | None) -> Iterator[None]:
    """Cap torch's and the BLAS libraries' threads at ``n_threads`` for the block (None: no cap)."""
    if n_threads is None:
        yield
        return
    with threadpool_limits(limits=n_threads), \
            _threads_nesting.hold(lambda: _cap_torch(n_threads), lambda: torch.set_num_threads(_saved_threads[0])):
        yield


def _run_job(key: Hashable, label: str, n_threads: int | None, study: str | None, func: Callable,
             *args) -> tuple:
    """``(key, func(*args))`` with capped threads and each warning once per process and
    ``study``; a failure becomes a JobError naming ``label``."""
    try:
        with limit_threads(n_threads), once_per_study(study):
            return key, func(*args)
    except Exception as exc:
        raise JobError(f"{label} failed: {type(exc).__name__}: {exc}", traceback.format_exc()) from exc


def run_tasks(tasks: Sequence[Task], n_jobs: int, *, study: str | None = None) -> Iterator[tuple[Hashable, Any]]:
    """Run ``tasks`` through joblib's active backend; yield ``(key, result)`` as each finishes.

    ``n_jobs`` is used only when the caller has set no ``joblib.parallel_config``.
    ``study`` (an id shared by every call of one study): a warning a job logs is shown
    once per process and study (:func:`~synthaug.log_once.once_per_study`).
    """
    if not tasks:
        return
    kwargs = {} if caller_set_parallel() else {"n_jobs": n_jobs}
    n_threads = _threads_per_job()
    calls = [delayed(_run_job)(t.key, t.label, n_threads, study, t.func, *t.args) for t in tasks]
    try:
        parallel = Parallel(return_as="generator_unordered", **kwargs)
    except ValueError:  # the backend cannot return results as they come (Ray, multiprocessing)
        parallel = None
    if parallel is not None:
        yield from parallel(calls)
        return
    step = max(1, joblib.effective_n_jobs(**kwargs))
    with Parallel(return_as="list", **kwargs) as parallel:  # one pool of workers for every round
        for start in range(0, len(calls), step):
            yield from parallel(calls[start:start + step])
