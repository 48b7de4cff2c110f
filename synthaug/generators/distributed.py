"""Multi-process training under ``torchrun``: process group, ranks, sharding, DDP.

A small generic layer that any generator's training loop can use; nothing here knows
about GANs.

* :func:`init_from_env` joins the process group that ``torchrun`` describes in the
  environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT``) and always leaves it again, also on an error or Ctrl-C. Backend
  ``nccl`` on CUDA (device ``cuda:LOCAL_RANK``), ``gloo`` on the CPU. Without
  ``WORLD_SIZE > 1`` it does nothing: a plain ``python -m synthaug`` is one process.
* :func:`world_size`, :func:`rank`, :func:`is_main_process`: read from the
  initialised process group (1, 0, True when there is none). The process group, not
  the environment, is what switches a fit to multi-process training, so library code
  run inside a user's own ``init_process_group`` behaves the same.
* :func:`shard_batches`: the batches of one epoch for one rank. Every rank draws the
  same permutation (from the epoch's seed), cuts it into *global* batches and takes its
  own equal slice of each, so the ranks' shards are disjoint, cover the epoch, and
  every rank runs the same number of steps (collective operations cannot deadlock).
  With one process the batches are exactly those of the single-process loop.
* :func:`wrap_ddp`: ``DistributedDataParallel`` without buffer broadcasting (each rank
  keeps its own buffers: spectral-norm power-iteration vectors, BatchNorm statistics;
  :func:`average_buffers` reconciles them where the caller wants).
* :func:`all_reduce_mean`, :func:`all_reduce_sum`, :func:`all_reduce_max`,
  :func:`broadcast_int`: collectives that return their input unchanged in a single
  process, so a training loop calls them unconditionally and its single-process random
  streams and results do not change.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import logging
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .._utils import resolve_device
from ..exceptions import ConfigError

__all__ = [
    "DistContext",
    "all_reduce_max",
    "all_reduce_mean",
    "all_reduce_sum",
    "average_buffers",
    "barrier",
    "broadcast_int",
    "env_world_size",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "local_batch_size",
    "process_device",
    "rank",
    "shard_batches",
    "world_size",
    "wrap_ddp",
]

logger = logging.getLogger(__name__)

#: The environment variables torchrun sets for every worker.
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: How long a collective waits for the other ranks before failing (gloo's default is 30 min).
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``local_rank``, backend and device."""

    rank: int
    world_size: int
    local_rank: int
    backend: str | None
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer; torchrun sets it, "
                          "do not set it by hand.") from None


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (set by ``torchrun``); 1 when absent."""
    return _env_int("WORLD_SIZE", 1)


@contextlib.contextmanager
def init_from_env(device: str | torch.device = "auto") -> Iterator[DistContext]:
    """Join torchrun's process group for the duration of the block (a no-op for one process).

    Parameters
    ----------
    device : str or torch.device, default "auto"
        The training device asked for (``--device``). CUDA gives backend ``nccl`` and
        this process's device ``cuda:LOCAL_RANK``; the CPU gives ``gloo``.

    Yields
    ------
    DistContext

    Raises
    ------
    ConfigError
        ``WORLD_SIZE > 1`` but a torchrun variable is missing, ``torch.distributed`` is
        not available, or there are fewer GPUs than local ranks.

    Examples
    --------
    >>> with init_from_env("cpu") as ctx:   # not under torchrun: one process
    ...     (ctx.rank, ctx.world_size, is_main_process())
    (0, 1, True)
    """
    n = env_world_size()
    dev = resolve_device(device)
    if n <= 1 or is_distributed():  # one process, or the caller already set the group up
        yield DistContext(rank(), world_size(), _env_int("LOCAL_RANK", 0), None, process_device(dev))
        return
    missing = [v for v in TORCHRUN_VARS if not os.environ.get(v)]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={n} but {', '.join(missing)} not set: start multi-process training with "
            "'torchrun --nproc_per_node N -m synthaug ...', which sets them."
        )
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed; run one process.")
    local = _env_int("LOCAL_RANK", 0)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK={local} but this machine has {torch.cuda.device_count()} GPU(s); start at most "
                "that many processes per node (--nproc_per_node), or use --device cpu."
            )
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT,
                            device_id=dev if backend == "nccl" else None)
    ctx = DistContext(dist.get_rank(), dist.get_world_size(), local, backend, dev)
    logger.info("joined the process group: rank %d of %d (%s, %s)", ctx.rank, ctx.world_size, backend, dev)
    try:
        yield ctx
    finally:
        # Also on errors and Ctrl-C: a process that leaves without this can hang its peers.
        if dist.is_initialized():
            dist.destroy_process_group()


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes training together (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """True on rank 0: the one process that evaluates, samples and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (a no-op for one process)."""
    if is_distributed():
        dist.barrier()


def process_device(device: torch.device) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for CUDA under torchrun, else ``device``."""
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", _env_int("LOCAL_RANK", 0))
    return device


# ----------------------------------------------------------------------- sharding
def local_batch_size(batch_size: int, n_processes: int) -> int:
    """Images per step on each rank when ``batch_size`` is the global batch.

    The global batch is cut into equal slices; ``batch_size % n_processes`` images of
    each global batch are left out (logged by the caller).

    Raises
    ------
    ConfigError
        ``batch_size < n_processes``: a rank would get an empty slice.
    """
    if batch_size < n_processes:
        raise ConfigError(
            f"batch size {batch_size} is smaller than the {n_processes} training processes; every "
            f"process needs at least one image per step. Pass --batch-size >= {n_processes} (it is the "
            "global batch, shared by the processes), or start fewer processes."
        )
    return batch_size // n_processes


def shard_batches(perm: torch.Tensor, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Row indices of one epoch's batches for ``rank``: global batches cut into equal slices.

    ``perm`` (the same on every rank) is cut into ``len(perm) // batch_size`` global
    batches (the last incomplete one is dropped); rank ``r`` gets slice
    ``[r * b, (r + 1) * b)`` of each, ``b = batch_size // world_size``. The ranks' rows
    are disjoint, together cover the global batches (all of them when ``world_size``
    divides ``batch_size``), and every rank gets the same number of batches.

    Shape
    -----
    perm : ``(N,)``; returns ``(N // batch_size, batch_size // world_size)``.

    Examples
    --------
    >>> perm = torch.arange(10)
    >>> shard_batches(perm, 4, rank=1, world_size=2).tolist()
    [[2, 3], [6, 7]]
    """
    n_batches = perm.shape[0] // batch_size
    local = local_batch_size(batch_size, world_size)
    batches = perm[: n_batches * batch_size].view(n_batches, batch_size)  # (n_batches, B)
    return batches[:, rank * local : (rank + 1) * local]  # (n_batches, B // world)


# ----------------------------------------------------------------------- DDP and collectives
def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel (the module itself for one process).

    Buffers are synchronised once at construction and never broadcast in ``forward``:
    spectral normalisation updates its power-iteration vectors in place during the
    forward pass, and BatchNorm's running statistics are per rank (see
    :func:`average_buffers`). Gradients are averaged over the ranks in ``backward``.
    """
    if not is_distributed():
        return module
    ids = [device.index] if device.type == "cuda" else None
    if "forward_sync_buffers" in _DDP_PARAMS:  # torch >= 2.13 renamed broadcast_buffers
        return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


_DDP_PARAMS = frozenset(inspect.signature(DistributedDataParallel.__init__).parameters)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over the ranks (a new tensor; ``tensor`` itself for one process)."""
    if not is_distributed():
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over the ranks (``tensor`` itself for one process)."""
    if not is_distributed():
        return tensor
    return all_reduce_sum(tensor) / dist.get_world_size()


def all_reduce_max(value: float) -> float:
    """The largest ``value`` over the ranks: ranks agree on a time-based decision."""
    if not is_distributed():
        return value
    out = torch.tensor([float(value)], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return float(out.item())


def broadcast_int(value: int) -> int:
    """Rank 0's ``value`` on every rank (``value`` for one process)."""
    if not is_distributed():
        return value
    out = torch.tensor([int(value)], dtype=torch.int64, device=_collective_device())
    dist.broadcast(out, src=0)
    return int(out.item())


def average_buffers(*modules: nn.Module | None) -> None:
    """Replace every floating-point buffer of ``modules`` by its mean over the ranks, in place.

    After this the ranks hold identical buffers (with two ranks, buffers that were
    already equal stay bit-identical: ``(x + x) / 2 == x``). A no-op for one process.
    """
    if not is_distributed():
        return
    n = dist.get_world_size()
    with torch.no_grad():
        for module in modules:
            if module is None:
                continue
            for buf in module.buffers():
                if buf.is_floating_point():
                    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                    buf.div_(n)


def _collective_device() -> torch.device:
    # nccl only moves CUDA tensors; gloo moves CPU tensors.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
