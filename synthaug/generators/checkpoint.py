"""Safe files for generators: safetensors weights and resumable training checkpoints.

Nothing here unpickles code. Model weights are ``safetensors`` files and metadata is
JSON; training checkpoints are ``torch.save`` files of plain dicts, lists, numbers,
strings and tensors, read back with ``torch.load(weights_only=True)``, which refuses
anything else. Every file is written atomically (temporary file, then ``os.replace``)
through :mod:`synthaug.data.io`.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..data.io import atomic_path, atomic_write_bytes
from ..exceptions import ConfigError, ModelFileError

__all__ = [
    "CHECKPOINT_FILE",
    "WEIGHTS_FILE",
    "load_checkpoint",
    "read_weights",
    "save_checkpoint",
    "write_weights",
]

WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = "synthaug.gan-checkpoint"


def _looks_like_pickle(data: bytes) -> bool:
    """Pickle protocol 2+ starts with 0x80; torch.save writes a zip (``PK``) around a pickle."""
    return data[:1] == b"\x80" or data[:4] == b"PK\x03\x04"


# ----------------------------------------------------------------------- model folders
def write_weights(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (moved to CPU, made contiguous) as one safetensors file, atomically."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, st_save(flat, metadata=metadata))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; anything else (missing, corrupt, a pickle) is a ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"{path}: model weights are missing. Point to a folder written by ConditionalGAN.save "
            "(it holds model.safetensors, generator.json and history.csv)."
        )
    data = path.read_bytes()
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        if _looks_like_pickle(data):
            raise ModelFileError(
                f"{path}: this is a pickle / torch.save file, not safetensors. synthaug never "
                "unpickles model files (they can run arbitrary code); re-save the model with "
                "ConditionalGAN.save."
            ) from None
        raise ModelFileError(
            f"{path}: cannot read the model weights ({exc}); the file is corrupt or truncated. "
            "Re-save or re-train the model."
        ) from None


# ----------------------------------------------------------------------- checkpoints
def save_checkpoint(directory: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write a training checkpoint (plain containers and tensors only)."""
    path = Path(directory) / CHECKPOINT_FILE
    with atomic_path(path, fsync=True) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, "format_version": 1, **payload}, tmp)
    return path


def load_checkpoint(directory: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises
    ------
    ConfigError
        No checkpoint in ``directory``.
    ModelFileError
        The file is corrupt, truncated, or holds objects other than plain data.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError(
            f"resume=True but there is no checkpoint at {path}. Fit once without resume "
            "(with checkpoint_dir set) to create one, or check checkpoint_dir."
        )
    corrupt = (
        f"{path}: cannot read the checkpoint ({{}}); it is corrupt or truncated. Delete it and "
        "train without resume."
    )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(corrupt.format("not a torch.save archive"))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), None)
        if detail is None:
            raise ModelFileError(corrupt.format("unreadable pickle stream")) from None
        raise ModelFileError(
            f"{path}: refused to load: it holds objects other than tensors and plain data "
            f"({detail}). synthaug never unpickles code; delete the file and train again."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(corrupt.format(first)) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(
            f"{path}: not a synthaug GAN checkpoint. Delete it and train without resume."
        )
    return payload
