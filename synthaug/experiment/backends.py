"""Compute backends for a study's grid: where its joblib jobs run.

:data:`BACKENDS` is the registry (``local``, ``dask``, ``ray``). :func:`use_backend`
turns a backend name and an address into a context in which joblib's ``Parallel``
sends its jobs there:

- ``local``: nothing to set up; the runner's own ``Parallel(n_jobs=config.n_jobs)``
  runs the jobs in local processes (joblib's loky).
- ``dask``: a :class:`distributed.Client` connected to the scheduler at ``address``
  (``tcp://host:8786``), or, without an address, to a ``LocalCluster`` of ``n_jobs``
  single-threaded worker processes started for the block; then
  ``joblib.parallel_config(backend="dask")``.
- ``ray``: ``ray.init(address=address)`` (a local Ray instance with ``n_jobs`` CPUs
  without one) and ``ray.util.joblib.register_ray()``; then
  ``joblib.parallel_config(backend="ray")``.

An address that cannot be reached is a :class:`~synthaug.exceptions.ConfigError` that
names it, raised within :data:`CONNECT_TIMEOUT` seconds, before anything is written; a
missing package is a ConfigError naming the extra to install. The runner never
hard-codes a backend: it uses the joblib backend its caller set, and enters
:func:`use_backend` itself only when the caller set none (see
:mod:`~synthaug.experiment.execution`).

The optional packages (dask, distributed, ray) are imported inside the functions that
use them: they are extras, and ``import synthaug`` must work without them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

import joblib

from ..exceptions import ConfigError

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "BACKEND_NAMES", "CONNECT_TIMEOUT", "Backend", "use_backend"]

#: Seconds allowed to reach a scheduler or a Ray head before giving up (well under 30).
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Backend:
    """One entry of :data:`BACKENDS`.

    Attributes
    ----------
    name : str
        The name a recipe (``[compute] backend``) and ``--backend`` use.
    extra : str or None
        The pip extra that installs its packages (``synthaug[dask]``); None for local.
    enter : callable
        ``enter(address, n_jobs, timeout)`` -> a context manager that connects and sets
        joblib's backend for the block.
    remote : bool
        Whether jobs may run in processes that joblib does not start itself (the runner
        then caps each job's torch and BLAS threads; see ``execution``).
    """

    name: str
    extra: str | None
    enter: Callable[[str | None, int, float], AbstractContextManager[None]]
    remote: bool


def _n_workers(n_jobs: int) -> int:
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``tcp://host:port``, ``ray://host:port`` or ``host:port`` address."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls", "ray") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port) if port is not None else None


def _unreachable(backend: str, address: str, what: str, reason: str) -> ConfigError:
    return ConfigError(
        f"--address {address}: no {what} answered there ({reason}). Check the address "
        f"(the {what} prints it when it starts) and that it is running; the {backend} backend "
        "wrote nothing."
    )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _probe(backend: str, address: str, what: str, timeout: float) -> None:
    """Fail fast with a clear message when nothing listens at ``address``'s host and port."""
    target = _host_port(address)
    if target is None:
        return  # another transport (inproc://, ucx://, "auto"): the client library decides
    try:
        socket.create_connection(target, timeout=min(timeout, 5.0)).close()
    except OSError as exc:
        raise _unreachable(backend, address, what, _short(exc)) from None


def _missing(backend: str, packages: str, extra: str, exc: ImportError) -> ConfigError:
    return ConfigError(
        f"backend {backend!r} needs {packages}, which could not be imported ({exc}). "
        f"Install it with: pip install 'synthaug[{extra}]'."
    )


@contextlib.contextmanager
def _local(address: str | None, n_jobs: int, timeout: float) -> Iterator[None]:
    if address is not None:
        raise ConfigError(f"address {address!r} is for the dask and ray backends; the local backend takes none.")
    yield  # the runner's own Parallel(n_jobs=config.n_jobs) decides


@contextlib.contextmanager
def _dask(address: str | None, n_jobs: int, timeout: float) -> Iterator[None]:
    try:  # an optional extra: imported only when this backend is chosen
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise _missing("dask", "dask and distributed", "dask", exc) from None
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = stack.enter_context(LocalCluster(
                n_workers=_n_workers(n_jobs), threads_per_worker=1, processes=True,
                dashboard_address=None))
            client = stack.enter_context(Client(cluster))
            log.info("dask: started a local cluster of %d single-threaded workers.", _n_workers(n_jobs))
        else:
            _probe("dask", address, "Dask scheduler", timeout)
            try:
                client = Client(address, timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - refused, timed out, or not a scheduler talking
                # (something else listening there answers with bytes Dask cannot parse)
                raise _unreachable("dask", address, "Dask scheduler", _short(exc)) from None
            stack.callback(client.close)
            log.info("dask: connected to %s (%d worker threads).", address, sum(client.nthreads().values()))
        with joblib.parallel_config(backend="dask", n_jobs=-1):
            yield


@contextlib.contextmanager
def _ray(address: str | None, n_jobs: int, timeout: float) -> Iterator[None]:
    try:  # an optional extra: imported only when this backend is chosen
        import ray
        from ray.util.joblib import register_ray
    except ImportError as exc:
        raise _missing("ray", "ray", "ray", exc) from None
    if address is not None and address != "auto":
        _probe("ray", address, "Ray head", timeout)
    try:
        if address is None:
            ray.init(num_cpus=_n_workers(n_jobs), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, or not a Ray head answering
        raise _unreachable("ray", str(address), "Ray head", _short(exc)) from None
    try:
        register_ray()
        with joblib.parallel_config(backend="ray", n_jobs=-1):
            yield
    finally:
        ray.shutdown()


#: The compute backends, by name (a recipe's ``[compute] backend``, ``--backend``).
BACKENDS: dict[str, Backend] = {
    "local": Backend("local", None, _local, remote=False),
    "dask": Backend("dask", "dask", _dask, remote=True),
    "ray": Backend("ray", "ray", _ray, remote=True),
}
BACKEND_NAMES = tuple(BACKENDS)


def use_backend(name: str, address: str | None = None, *, n_jobs: int = 1,
                timeout: float = CONNECT_TIMEOUT) -> AbstractContextManager[None]:
    """A context in which joblib runs the grid's jobs on backend ``name``.

    Parameters
    ----------
    name : {"local", "dask", "ray"}
        The backend (see :data:`BACKENDS`).
    address : str, optional
        The Dask scheduler (``tcp://host:8786``) or the Ray head (``host:6379``,
        ``ray://host:10001`` or ``auto``). None starts a local cluster of ``n_jobs``
        single-threaded workers for the block (dask), or a local Ray instance (ray).
    n_jobs : int, default 1
        Workers of such a local cluster (``-1``: one per core).
    timeout : float
        Seconds allowed to connect.

    Raises
    ------
    ConfigError
        Unknown backend; address unreachable (the message names it); package missing
        (the message names the extra).

    Examples
    --------
    >>> with use_backend("local"):
    ...     pass
    """
    if name not in BACKENDS:
        raise ConfigError(f"backend: unknown value {name!r}; choose from {list(BACKENDS)}.")
    return BACKENDS[name].enter(address, n_jobs, timeout)
