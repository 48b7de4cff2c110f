"""The generator's model folder: ``model.safetensors``, ``generator.json``, ``history.csv``.

:func:`save_generator` and :func:`load_generator` are the bodies of
``ConditionalGAN.save`` and ``ConditionalGAN.load``. Weights are safetensors and the
metadata (:data:`~synthaug.persistence.GENERATOR_META`) is JSON holding the parameters,
the classes and their names, the image shape, the seed and the fitted statistics; no
pickle is ever written or read. Folders from before the metadata had its own name hold
it as :data:`~synthaug.persistence.LEGACY_GENERATOR_META` and still load.

Only the sampling networks are written, with the weights they hold: after
``use_snapshot(k)`` that is snapshot ``k`` (recorded as ``snapshot_index``). Snapshots
and discriminators are not saved; the training budget (``budget_``) is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import __version__
from .._utils import resolve_device
from ..data.io import atomic_write_text
from ..exceptions import ConfigError, ModelFileError, OutputError
from ..persistence import (
    GENERATOR_META,
    LEGACY_GENERATOR_META,
    RUN_RECORD,
    package_versions,
    read_json,
    to_jsonable,
    write_json,
)
from ..seeding import torch_generator
from . import checkpoint as ckpt_io
from .training import HISTORY_COLUMNS

__all__ = ["FORMAT", "FORMAT_VERSION", "HISTORY_FILE", "load_generator", "load_model", "model_format",
           "save_generator"]

logger = logging.getLogger(__name__)

FORMAT = "synthaug.ConditionalGAN"
FORMAT_VERSION = 1
HISTORY_FILE = "history.csv"


def model_format(cls) -> str:
    """The ``format`` a class's model folders carry (``MODEL_FORMAT``; the GAN's by default)."""
    return getattr(cls, "MODEL_FORMAT", FORMAT)


def _estimator_classes() -> dict[str, type]:
    """Every generator estimator by the format of its model folder."""
    from .diffusion import ConditionalDiffusion
    from .gan import ConditionalGAN
    return {model_format(c): c for c in (ConditionalGAN, ConditionalDiffusion)}


def load_model(directory: str | Path, device: str = "auto"):
    """Load any saved generator (GAN or diffusion), chosen by its folder's ``format``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: no such model folder. Pass the folder a generator was saved to.")
    _, meta = _read_meta(directory, None)
    return load_generator(_estimator_classes()[meta["format"]], directory, device)


def save_generator(gan, directory: str | Path, class_names: Sequence[str] | None = None) -> Path:
    """Write a fitted ``gan``'s sampling networks, metadata and history into ``directory``."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is a file; pass a folder to save the model into.")
    names = [str(c) for c in gan.classes_.tolist()] if class_names is None else [str(n) for n in class_names]
    if len(names) != len(gan.classes_):
        raise ConfigError(
            f"class_names has {len(names)} name(s) but the model has {len(gan.classes_)} classes; "
            "pass one name per class, in the order of classes_."
        )
    tensors = {}
    for i, net in enumerate(gan.generators_):
        for key, value in net.state_dict().items():
            tensors[f"{i}.{key}"] = value
    fmt = model_format(type(gan))
    ckpt_io.write_weights(directory / ckpt_io.WEIGHTS_FILE, tensors, metadata={"format": fmt})
    meta = {
        "format": fmt,
        "format_version": FORMAT_VERSION,
        "params": to_jsonable(gan.get_params(deep=False)),
        "classes": gan.classes_.tolist(),
        "classes_dtype": gan.classes_.dtype.str if gan.classes_.dtype != object else "object",
        "class_names": names,
        "image_shape": list(gan.image_shape_),
        "seed": gan.seed_,
        "n_generators": len(gan.generators_),
        "train_seconds": gan.train_seconds_,
        "images_per_second": gan.images_per_second_,
        "rollbacks": gan.rollbacks_,
        "budget": getattr(gan, "budget_", None),
        "snapshot_index": getattr(gan, "snapshot_index_", None),
        "n_snapshots_kept": len(getattr(gan, "snapshots_", [])),
        "versions": {**package_versions(), "synthaug": __version__},
    }
    write_json(directory / GENERATOR_META, meta)
    atomic_write_text(directory / HISTORY_FILE, gan.history_.to_csv(index=False))
    return directory


def _read_meta(directory: Path, fmt: str | None) -> tuple[Path, dict[str, Any]]:
    """The metadata file (``generator.json``, else a legacy ``config.json``) and its content.

    ``fmt``: the format expected; None accepts any generator's.
    """
    path = directory / GENERATOR_META
    if not path.is_file() and (directory / LEGACY_GENERATOR_META).is_file():
        path = directory / LEGACY_GENERATOR_META
    if not path.is_file():
        raise ModelFileError(
            f"{path}: not found. A saved generator's folder holds {GENERATOR_META}, "
            f"{ckpt_io.WEIGHTS_FILE} and {HISTORY_FILE}; check the path."
        )
    meta = read_json(path, "generator metadata")
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: expected a JSON object, got {type(meta).__name__}. Re-save the model.")
    known = _estimator_classes()
    if meta.get("format") not in known or (fmt is not None and meta.get("format") != fmt):
        want = fmt.split(".")[-1] if fmt is not None else " or ".join(f.split(".")[-1] for f in known)
        raise ModelFileError(f"{path}: not a {want} configuration (format={meta.get('format')!r}).")
    if int(meta.get("format_version", -1)) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by a newer synthaug (format_version={meta['format_version']}); upgrade synthaug."
        )
    return path, meta


def _legacy_class_names(directory: Path, n_classes: int) -> list[str] | None:
    """Class names of a model folder saved before ``generator.json`` stored them.

    Such folders sit inside a ``train``/``augment`` output whose run record
    (``../config.json``) lists the class names; reading them keeps old outputs working.
    """
    record = directory.parent / RUN_RECORD
    try:
        names = read_json(record, "run record").get("options", {}).get("class_names")
    except (ModelFileError, AttributeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) and len(names) == n_classes else None


def load_generator(cls, directory: str | Path, device: str = "auto"):
    """Restore an estimator of class ``cls`` from a folder written by :func:`save_generator`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: no such model folder. Pass the folder given to {cls.__name__}.save.")
    path, meta = _read_meta(directory, model_format(cls))
    try:
        valid = cls().get_params(deep=False)
        # a folder written before a parameter existed was trained with its old behaviour
        stored = {**getattr(cls, "LEGACY_PARAMS", {}), **meta["params"]}
        params = {k: v for k, v in stored.items() if k in valid}
        if isinstance(params.get("betas"), list):
            params["betas"] = tuple(params["betas"])
        params["device"] = device
        est = cls(**params)
        est._check_params()
        classes = np.array(meta["classes"], dtype=meta.get("classes_dtype") or None)
        image_shape = tuple(int(s) for s in meta["image_shape"])
        seed = int(meta["seed"])
        names = [str(n) for n in meta.get("class_names") or _legacy_class_names(directory, len(classes))
                 or classes.tolist()]
        if len(names) != len(classes):
            raise ValueError(f"{len(names)} class names for {len(classes)} classes")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: incomplete or invalid configuration ({exc!r}). Re-save the model.") from None
    tensors = ckpt_io.read_weights(directory / ckpt_io.WEIGHTS_FILE)
    dev = resolve_device(device)
    conditional = est.strategy == "conditional"
    nets = []
    gen = torch_generator(0)  # weights are overwritten right away
    for i in range(1 if conditional else len(classes)):
        net = est._make_generator(len(classes) if conditional else 0, image_shape, dev, gen)
        prefix = f"{i}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(
                f"{directory / ckpt_io.WEIGHTS_FILE}: weights do not match {path.name} "
                f"({str(exc).splitlines()[0]}). The files come from different models; re-save it."
            ) from None
        nets.append(net.eval())
    history_path = directory / HISTORY_FILE
    try:
        history = pd.read_csv(history_path)
    except (OSError, ValueError, pd.errors.ParserError):
        logger.warning("%s: missing or unreadable; history_ is empty", history_path)
        history = pd.DataFrame(columns=getattr(cls, "HISTORY_COLUMNS", HISTORY_COLUMNS))
    est.classes_ = classes
    est.class_names_ = names
    est.image_shape_ = image_shape
    est.device_ = dev
    est.seed_ = seed
    est.generators_ = nets
    est.history_ = history
    est.rollbacks_ = list(meta.get("rollbacks", []))
    est.train_seconds_ = float(meta.get("train_seconds", 0.0))
    est.images_per_second_ = float(meta.get("images_per_second", 0.0))
    est.budget_ = dict(meta.get("budget") or {})
    est.snapshots_ = []  # snapshots live in memory only; the saved weights are the selected ones
    est.snapshot_index_ = meta.get("snapshot_index")
    return est
