"""How robust is *any* classifier? Attacks, corruptions and a GAN stress set, with a report.

:func:`run_robustness` evaluates a :class:`~synthaug.classifiers.LoadedModel` (a
TorchScript file, a ``module:function`` network, a saved :class:`CNNClassifier` or a
scikit-learn model) on a labelled :class:`~synthaug.data.dataset.ImageDataset`;
:func:`write_robustness_report` writes the tables, figures and report files. The runner
does no file I/O; the writer does no computing.

Which rows are used for what is decided once, here, and written into the report:

- **evaluated rows**: the dataset's ``test`` split when it has one, otherwise every row;
  optionally a stratified, seeded subsample of at most ``max_samples`` of them;
- **surrogate** (only for models without gradients, e.g. scikit-learn): a
  :class:`CNNClassifier` trained on the rows that are *not* in the ``test`` split, or on
  every row when the dataset has no splits (the report then says that the surrogate has
  seen the evaluated images, which makes the transfer attack somewhat stronger than a
  true black-box one).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._utils import check_random_state, seed_from
from ..attacks.corruptions import CORRUPTIONS, MAX_SEVERITY
from ..attacks.evaluate import (
    ATTACK_NAMES,
    DEFAULT_ATTACKS,
    DEFAULT_EPS_GRID,
    DEFAULT_L2_EPS_GRID,
    L2_ATTACKS,
    Condition,
    eps_label,
    conditions_to_frame,
    predict_labels,
    run_conditions,
)
from ..classifiers.cnn import CNNClassifier
from ..classifiers.loading import LoadedModel, check_input_shape
from ..data.dataset import ImageDataset
from ..exceptions import ConfigError, InvalidDataError

__all__ = ["REPORT_FILES", "RobustnessResult", "run_robustness", "summary_lines", "write_robustness_report"]

log = logging.getLogger(__name__)

REPORT_FILES = (
    "robustness.csv", "per_class.csv", "predictions.csv", "robust_accuracy.png", "examples.png",
    "report.md", "report.html", "config.json",
)
STRESS = "gan_samples"


@dataclass
class RobustnessResult:
    """Everything :func:`run_robustness` measured.

    Attributes
    ----------
    results : DataFrame
        Tidy: ``perturbation, kind, eps, severity, accuracy, n``; ``kind`` is ``clean``,
        ``adversarial`` (white box), ``transfer`` (crafted on the surrogate),
        ``corruption`` or ``stress`` (the generator's samples).
    per_class : DataFrame
        The same with a ``class`` column (class names).
    predictions : DataFrame
        One row per evaluated image and setting: ``row`` (position in the evaluated set),
        ``provenance``, ``label``, ``perturbation``, ``kind``, ``eps``, ``severity``,
        ``prediction`` and ``correct`` (labels and predictions as class names).
    examples : dict
        ``images`` ``(k, C, H, W)``, ``labels`` ``(k,)`` and ``panels``: a list of
        ``(title, images, predictions)`` (clean first, then the strongest setting of each
        attack and corruption).
    class_names : tuple of str
    notes : list of str
        Plain sentences: which rows were evaluated, what the surrogate was trained on.
    config : dict
        The resolved options (JSON-able).
    """

    results: pd.DataFrame
    per_class: pd.DataFrame
    predictions: pd.DataFrame
    examples: dict
    class_names: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def clean_accuracy(self) -> float:
        """Accuracy on the unperturbed evaluated rows."""
        return float(self.results.loc[self.results["kind"] == "clean", "accuracy"].iloc[0])

    def worst_case(self) -> pd.DataFrame:
        """Per attack, the accuracy at the largest eps; per corruption, at the top severity."""
        rows = []
        for (pert, kind), grp in self.results.groupby(["perturbation", "kind"], sort=False):
            if kind in ("adversarial", "transfer"):
                rows.append(grp.loc[grp["eps"].idxmax()])
            elif kind == "corruption":
                rows.append(grp.loc[grp["severity"].idxmax()])
        return pd.DataFrame(rows).reset_index(drop=True) if rows else self.results.iloc[0:0]


# ============================================================================ helpers
class _ScatterLogits(nn.Module):
    """Place a surrogate's logits (over the classes it saw) into the model's label positions.

    Shape
    -----
    forward : ``(N, C, H, W)`` -> ``(N, n_out)``; unseen positions get a very low logit.
    """

    def __init__(self, net: nn.Module, positions: np.ndarray, n_out: int) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.int64))
        self.n_out = int(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)  # (N, K_seen)
        out = logits.new_full((logits.shape[0], self.n_out), -1e4)
        return out.index_copy(1, self.positions.to(logits.device), logits)  # (N, n_out)


class _PositionPredictor:
    """A gradient-free model whose predictions are turned into label positions (-1: unknown)."""

    def __init__(self, model: LoadedModel, classes: np.ndarray | None) -> None:
        self.model = model
        self.lookup = None if classes is None else {_key(c): i for i, c in enumerate(classes.tolist())}

    def predict(self, X: np.ndarray) -> np.ndarray:
        pred = np.asarray(self.model.predict(X))
        if self.lookup is None:
            return pred.astype(np.int64)
        return np.array([self.lookup.get(_key(p), -1) for p in pred.tolist()], dtype=np.int64)


def _key(value: Any) -> Any:
    # 1 and 1.0 and np.int64(1) are one class; strings stay strings.
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return str(value)


def _label_positions(model: LoadedModel, dataset: ImageDataset) -> tuple[np.ndarray, int, list[str]]:
    """For each dataset class, its position in the model's outputs; plus the output count
    and a display name per position."""
    names = list(dataset.class_names)
    k = len(names)
    if model.classes is None:
        n_out = k
        if model.module is not None:
            probe = np.full((1, *dataset.image_shape), 0.5, np.float32)
            with torch.no_grad():
                out = model.module(torch.tensor(probe, device=model.device))
            n_out = int(out.shape[1])
            if n_out < k:
                raise InvalidDataError(
                    f"model {model.source} returns {n_out} logits but the data has {k} classes "
                    f"({', '.join(names)}); logit k must be the score of class k."
                )
            if n_out > k:
                log.warning("model returns %d logits for %d classes; the extra outputs count as wrong.",
                            n_out, k)
        display = names + [f"output {i}" for i in range(k, n_out)]
        return np.arange(k), n_out, display
    classes = [_key(c) for c in model.classes.tolist()]
    index = {c: i for i, c in enumerate(classes)}
    positions = []
    for i, name in enumerate(names):
        # Models trained on label indices know class i as i; models trained on names, by name.
        pos = index.get(i) if all(isinstance(c, int) for c in classes) else index.get(_key(name))
        if pos is None:
            pos = index.get(_key(name))
        if pos is None:
            raise InvalidDataError(
                f"model {model.source} knows the classes {model.classes.tolist()} but the data has class "
                f"{name!r} (index {i}); evaluate on data with the classes the model was trained on."
            )
        positions.append(pos)
    display = [str(c) for c in model.classes.tolist()]
    for i, pos in enumerate(positions):
        display[pos] = names[i]
    return np.asarray(positions, dtype=np.int64), len(classes), display


def _stratified_subsample(labels: np.ndarray, max_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    # Keep class proportions: a seeded shuffle within each class, then proportional quotas.
    chosen = []
    classes, counts = np.unique(labels, return_counts=True)
    quotas = np.maximum(1, np.floor(counts / n * max_samples).astype(int))
    for c, q in zip(classes, quotas):
        rows = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(rows)[:q])
    return np.sort(np.concatenate(chosen))


def _example_index(labels: np.ndarray, k: int) -> np.ndarray:
    """Up to ``k`` rows, round-robin over classes so every class shows up."""
    by_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    out: list[int] = []
    while len(out) < min(k, len(labels)):
        for rows in by_class:
            if rows and len(out) < k:
                out.append(rows.pop(0))
    return np.asarray(sorted(out), dtype=np.int64)


def _train_surrogate(images: np.ndarray, labels: np.ndarray, n_out: int, epochs: int, seed: int,
                     device: torch.device) -> nn.Module:
    if len(np.unique(labels)) < 2:
        raise InvalidDataError(
            "cannot train a surrogate network: its training rows hold a single class. Pass a model with "
            "gradients (TorchScript, module:function, a CNNClassifier folder) or use --attacks ''."
        )
    clf = CNNClassifier(epochs=epochs, random_state=seed, device=str(device)).fit(images, labels)
    return _ScatterLogits(clf.model_, clf.classes_.astype(np.int64), n_out).to(device).eval()


def _check_options(eps_grid, attacks, corruptions, severities, pgd_steps, surrogate_epochs, n_stress,
                   max_samples, n_examples, l2_eps_grid=()) -> None:
    for name in attacks:
        if name not in ATTACK_NAMES:
            raise ConfigError(f"--attacks: unknown attack {name!r}; choose from {', '.join(ATTACK_NAMES)}.")
    for name in corruptions:
        if name not in CORRUPTIONS:
            raise ConfigError(
                f"--corruptions: unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}."
            )
    if any(a not in L2_ATTACKS for a in attacks) and not list(eps_grid):
        raise ConfigError("--eps: give at least one value, e.g. 0,2/255,8/255.")
    if any(a in L2_ATTACKS for a in attacks) and not list(l2_eps_grid):
        raise ConfigError("--l2-eps: give at least one value for pgd_l2, e.g. 0.25,0.5,1.")
    for e in eps_grid:
        if not isinstance(e, (int, float, np.floating, np.integer)) or not 0 <= float(e) <= 1:
            raise ConfigError(f"--eps: values must lie in [0, 1] (pixel units, e.g. 8/255), got {e!r}.")
    for e in l2_eps_grid:
        if not isinstance(e, (int, float, np.floating, np.integer)) or not 0 <= float(e) < float("inf"):
            raise ConfigError(f"--l2-eps: values must be finite numbers >= 0 (an L2 norm, e.g. 0.5), got {e!r}.")
    for s in severities:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= MAX_SEVERITY:
            raise ConfigError(f"--severities: integers from 0 to {MAX_SEVERITY}, got {s!r}.")
    for flag, value, low in (("--pgd-steps", pgd_steps, 1), ("--surrogate-epochs", surrogate_epochs, 1),
                             ("--n-stress", n_stress, 1), ("n_examples", n_examples, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{flag} must be an integer >= {low}, got {value!r}.")
    if max_samples is not None and (not isinstance(max_samples, (int, np.integer)) or max_samples < 1):
        raise ConfigError(f"--max-samples must be an integer >= 1 (or none for all), got {max_samples!r}.")


def _stress_set(generator: Any, dataset: ImageDataset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` generated images per dataset class and their dataset label indices."""
    if not callable(getattr(generator, "sample", None)):
        raise ConfigError(
            f"stress_generator must be a fitted generator with sample(y), got {type(generator).__name__}."
        )
    gen_classes = getattr(generator, "classes_", None)
    gen_labels, ds_labels = [], []
    for i, name in enumerate(dataset.class_names):
        if gen_classes is None:
            g = i
        else:
            keys = [_key(c) for c in np.asarray(gen_classes).tolist()]
            g = i if i in keys else (_key(name) if _key(name) in keys else None)
            if g is None:
                log.warning("the generator has no class %r; no stress samples for it.", name)
                continue
            g = np.asarray(gen_classes)[keys.index(g)]
        gen_labels.append(g)
        ds_labels.append(i)
    if not gen_labels:
        raise InvalidDataError(
            f"the generator knows the classes {list(np.asarray(gen_classes).tolist())}, none of the data's "
            f"classes {list(dataset.class_names)}."
        )
    y_gen = np.repeat(np.asarray(gen_labels), n)
    try:
        images = np.asarray(generator.sample(y_gen, random_state=seed), dtype=np.float32)
    except TypeError:
        images = np.asarray(generator.sample(y_gen), dtype=np.float32)
    if images.shape[1:] != tuple(dataset.image_shape):
        raise InvalidDataError(
            f"the generator makes images of shape {images.shape[1:]} but the data has "
            f"{tuple(dataset.image_shape)} (C, H, W); use the generator trained on this data, or "
            "--image-size to match."
        )
    return np.clip(images, 0.0, 1.0), np.repeat(np.asarray(ds_labels, np.int64), n)


# ============================================================================ runner
def run_robustness(
    dataset: ImageDataset,
    model: LoadedModel,
    *,
    eps_grid: Sequence[float] = DEFAULT_EPS_GRID,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    corruptions: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = (1, 3, 5),
    pgd_steps: int = 10,
    surrogate_epochs: int = 15,
    stress_generator: Any = None,
    n_stress: int = 50,
    max_samples: int | None = None,
    n_examples: int = 8,
    batch_size: int = 256,
    random_state=0,
    l2_eps_grid: Sequence[float] = DEFAULT_L2_EPS_GRID,
) -> RobustnessResult:
    """Measure a classifier's accuracy under attacks, corruptions and generated samples.

    Parameters
    ----------
    dataset : ImageDataset
        Labelled real images. Its ``test`` split is evaluated when it has one, else
        every row.
    model : LoadedModel
        From :func:`~synthaug.classifiers.load_model`. With gradients, attacks are white
        box; without (scikit-learn), they are crafted on a surrogate CNN and transferred.
    eps_grid : sequence of float
        L-inf radii in [0, 1] pixel units (``8/255`` is eight grey levels).
    attacks : sequence of {"fgsm", "pgd", "pgd_l2"}
        ``pgd_l2`` runs over ``l2_eps_grid``, the others over ``eps_grid``.
    corruptions : sequence of str
        From :data:`~synthaug.attacks.CORRUPTIONS`.
    severities : sequence of int
        Corruption severities (0..5).
    pgd_steps : int, default 10
    surrogate_epochs : int, default 15
        Training epochs of the surrogate CNN (gradient-free models only).
    stress_generator : fitted ConditionalGAN, optional
        Its samples, ``n_stress`` per class, are an extra labelled test set reported as
        rows of kind ``stress``. A classifier that fails on them disagrees with the
        generator about what each class looks like.
    n_stress : int, default 50
    max_samples : int, optional
        Evaluate a stratified, seeded subsample of at most this many rows (PGD on
        thousands of images is slow on a CPU). ``None``: every row.
    n_examples : int, default 8
        Images shown in the example figure.
    batch_size : int, default 256
    random_state : None, int or numpy Generator, default 0
        Seeds the subsample, the surrogate, PGD's starts, the noise and the stress samples.
    l2_eps_grid : sequence of float, default (0.25, 0.5, 1.0)
        L2 norms of the whole perturbation for ``pgd_l2``.

    Returns
    -------
    RobustnessResult

    Examples
    --------
    >>> from synthaug.classifiers import CNNClassifier, LoadedModel
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images(6, n_classes=2, random_state=0)
    >>> clf = CNNClassifier(epochs=2, width=4, random_state=0).fit(ds.images, ds.labels)
    >>> model = LoadedModel("cnn", "toy", module=clf.model_, classes=clf.classes_)
    >>> res = run_robustness(ds, model, eps_grid=(0, 0.1), corruptions=("blur",), severities=(1,))
    >>> sorted(set(res.results["kind"]))
    ['adversarial', 'clean', 'corruption']
    """
    if not isinstance(dataset, ImageDataset):
        raise ConfigError(f"dataset must be an ImageDataset, got {type(dataset).__name__}.")
    if not isinstance(model, LoadedModel):
        raise ConfigError(
            f"model must be a LoadedModel (see synthaug.classifiers.load_model), got {type(model).__name__}."
        )
    attacks, corruptions = tuple(attacks), tuple(corruptions)
    eps_grid = tuple(float(e) for e in eps_grid)
    l2_eps_grid = tuple(float(e) for e in l2_eps_grid)
    severities = tuple(int(s) for s in severities)
    _check_options(eps_grid, attacks, corruptions, severities, pgd_steps, surrogate_epochs, n_stress,
                   max_samples, n_examples, l2_eps_grid)
    rng = check_random_state(random_state)
    notes: list[str] = []

    # ---------------------------------------------------------------- which rows
    has_test = "test" in dataset.splits
    evaluated = dataset.get_split("test") if has_test else dataset
    where = f"the {'test split' if has_test else 'whole dataset (it has no test split)'} of {dataset.name}"
    keep = _stratified_subsample(evaluated.labels, max_samples, rng)
    if len(keep) < len(evaluated):
        notes.append(f"Evaluated a stratified random subsample of {len(keep)} of the {len(evaluated)} rows "
                     f"of {where} (max_samples={max_samples}).")
        evaluated = evaluated.subset(keep)
    else:
        notes.append(f"Evaluated all {len(evaluated)} rows of {where}.")
    check_input_shape(model, dataset.image_shape)
    positions, n_out, display = _label_positions(model, dataset)
    y = positions[evaluated.labels]  # labels as indices into the model's outputs

    # ---------------------------------------------------------------- target and surrogate
    surrogate = None
    if model.has_gradients:
        target: Any = model.module
        notes.append("The model has gradients: attacks are white box (crafted on the model itself).")
    else:
        target = _PositionPredictor(model, model.classes)
        if attacks:
            if has_test and len(dataset.splits) > 1:
                train = dataset.subset(dataset.split != "test")
                notes.append(
                    f"The model has no gradients: attacks were crafted on a surrogate CNN trained for "
                    f"{surrogate_epochs} epochs on the {len(train)} non-test rows "
                    f"({', '.join(s for s in dataset.splits if s != 'test')}) and transferred."
                )
            else:
                train = dataset
                notes.append(
                    f"The model has no gradients: attacks were crafted on a surrogate CNN trained for "
                    f"{surrogate_epochs} epochs on all {len(train)} rows, including the evaluated ones "
                    "(the data has no train/test split), and transferred; this surrogate has seen the "
                    "test images, so the transfer attack is somewhat stronger than a true black-box one."
                )
            log.info("training the surrogate CNN on %d rows", len(train))
            surrogate = _train_surrogate(train.images, positions[train.labels], n_out, surrogate_epochs,
                                         seed_from(rng), model.device)
        else:
            notes.append("The model has no gradients and no attacks were requested.")

    # ---------------------------------------------------------------- evaluate
    example_rows = _example_index(evaluated.labels, n_examples) if n_examples else None
    conditions = run_conditions(
        target, evaluated.images, y, attacks=attacks, eps_grid=eps_grid, corruptions=corruptions,
        severities=severities, surrogate=surrogate, pgd_steps=pgd_steps, batch_size=batch_size,
        random_state=seed_from(rng), l2_eps_grid=l2_eps_grid, keep_index=example_rows,
        progress=lambda what: log.info("robustness: %s", what),
    )
    results = conditions_to_frame(conditions, y)
    per_class = conditions_to_frame(conditions, y, evaluated.class_names, per_class=True,
                                    groups=evaluated.labels)

    # ---------------------------------------------------------------- stress set
    if stress_generator is not None:
        x_s, y_s_ds = _stress_set(stress_generator, dataset, n_stress, seed_from(rng))
        pred_s = predict_labels(target, x_s, batch_size)
        stress = Condition(STRESS, "stress", np.nan, np.nan, pred_s)
        y_s = positions[y_s_ds]
        results = pd.concat([results, conditions_to_frame([stress], y_s)], ignore_index=True)
        per_class = pd.concat(
            [per_class, conditions_to_frame([stress], y_s, evaluated.class_names, True, groups=y_s_ds)],
            ignore_index=True,
        )
        notes.append(f"Stress set: {n_stress} generated images per class from the given generator "
                     f"({len(x_s)} in all), labelled with the class they were generated for.")

    # ---------------------------------------------------------------- predictions and examples
    names = np.asarray(display + ["(unknown)"], dtype=object)  # index -1 -> "(unknown)"
    label_names = np.asarray(evaluated.class_names, dtype=object)[evaluated.labels]
    frames = []
    for c in conditions:
        frames.append(pd.DataFrame({
            "row": np.arange(len(y)), "provenance": evaluated.provenance, "label": label_names,
            "perturbation": c.perturbation, "kind": c.kind, "eps": c.eps, "severity": c.severity,
            "prediction": names[c.predictions], "correct": c.predictions == y,
        }))
    predictions = pd.concat(frames, ignore_index=True)

    examples: dict = {"images": np.zeros((0, *dataset.image_shape), np.float32), "labels": [], "panels": []}
    if example_rows is not None and len(example_rows):
        examples["images"] = evaluated.images[example_rows]
        examples["labels"] = list(label_names[example_rows])
        strongest: dict[str, Condition] = {}
        for c in conditions:
            key = c.perturbation
            level = c.eps if c.kind in ("adversarial", "transfer") else c.severity
            prev = strongest.get(key)
            prev_level = None if prev is None else (
                prev.eps if prev.kind in ("adversarial", "transfer") else prev.severity)
            if prev is None or level > prev_level:
                strongest[key] = c
        for key, c in strongest.items():
            if c.kind == "clean":
                title = "clean"
            elif c.kind == "corruption":
                title = f"{key} (severity {int(c.severity)})"
            else:
                title = f"{key} eps={eps_label(key, c.eps)}" + (" (transfer)" if c.kind == "transfer" else "")
            examples["panels"].append((title, c.images, list(names[c.predictions[example_rows]])))

    config = {
        "data": dataset.name,
        "evaluated_rows": int(len(evaluated)),
        "evaluated_split": "test" if has_test else "all",
        "model": model.source,
        "model_kind": model.kind,
        "has_gradients": model.has_gradients,
        "eps_grid": list(eps_grid),
        "l2_eps_grid": list(l2_eps_grid) if any(a in L2_ATTACKS for a in attacks) else [],
        "attacks": list(attacks),
        "corruptions": list(corruptions),
        "severities": list(severities),
        "pgd_steps": int(pgd_steps),
        "surrogate_epochs": int(surrogate_epochs) if surrogate is not None else None,
        "stress_generator": stress_generator is not None,
        "n_stress": int(n_stress) if stress_generator is not None else None,
        "max_samples": max_samples,
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "generator",
    }
    return RobustnessResult(results, per_class, predictions, examples, tuple(dataset.class_names), notes,
                            config)


# ============================================================================ report
def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def plot_robust_accuracy(result: RobustnessResult) -> bytes:
    """PNG: accuracy vs eps per attack (left) and vs severity per corruption (right)."""
    df = result.results
    clean = result.clean_accuracy()
    attacked = df[df["kind"].isin(["adversarial", "transfer"])]
    l2 = attacked["perturbation"].isin(L2_ATTACKS)
    attacks, l2_attacks = attacked[~l2], attacked[l2]
    corr = df[df["kind"] == "corruption"]
    panels = [p for p, d in (("attacks", attacks), ("l2", l2_attacks), ("corruptions", corr))
              if not d.empty] or ["attacks"]
    fig = _figure()
    fig.set_size_inches(5.0 * len(panels), 3.8)
    for i, panel in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i)
        if panel in ("attacks", "l2"):
            for (name, kind), grp in (attacks if panel == "attacks" else l2_attacks).groupby(
                    ["perturbation", "kind"], sort=False):
                grp = grp.sort_values("eps")
                label = name + (" (transfer)" if kind == "transfer" else "")
                x, y = list(grp["eps"] * (255 if panel == "attacks" else 1)), list(grp["accuracy"])
                if x[0] > 0:  # start every curve at the clean accuracy (eps 0)
                    x, y = [0.0, *x], [clean, *y]
                ax.plot(x, y, marker="o", label=label)
            ax.set_xlabel("eps (grey levels out of 255)" if panel == "attacks" else "eps (L2 norm of the perturbation)")
            ax.set_title("Accuracy under attack" + (" (L2)" if panel == "l2" else ""))
        else:
            for name, grp in corr.groupby("perturbation", sort=False):
                grp = grp.sort_values("severity")
                ax.plot([0, *grp["severity"]], [clean, *grp["accuracy"]], marker="o", label=name)
            ax.set_xlabel("severity (0 = clean)")
            ax.set_title("Accuracy under corruption")
        ax.axhline(clean, color="grey", linestyle="--", linewidth=1, label="clean")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def plot_examples(result: RobustnessResult) -> bytes:
    """PNG: one row per setting (clean, strongest attacks and corruptions), one column per image;
    the text above each image is the prediction (red when wrong).

    Drawn as one mosaic on a single axes (fast even with many images).
    """
    ex = result.examples
    panels = ex["panels"]
    k = len(ex["labels"])
    fig = _figure()
    if not panels or k == 0:
        fig.set_size_inches(3, 1)
        fig.text(0.5, 0.5, "no examples", ha="center")
        return _png(fig)
    c, h, w = ex["images"].shape[1:]
    scale = max(1, int(np.ceil(48 / max(h, w))))  # small images are enlarged (nearest neighbour)
    ch, cw = h * scale, w * scale
    pad_x, pad_y = max(4, cw // 8), max(14, ch // 3)  # room for the prediction above each cell
    # A light blue background keeps white image borders visible.
    mosaic = np.empty(((ch + pad_y) * len(panels) + pad_y, (cw + pad_x) * k + pad_x, 3), np.float32)
    mosaic[:] = (0.82, 0.88, 0.97)
    for r, (_, images, _) in enumerate(panels):
        for j in range(k):
            img = np.transpose(images[j], (1, 2, 0))  # (H, W, C)
            img = np.kron(img, np.ones((scale, scale, 1), np.float32))
            if img.shape[2] == 1:
                img = np.repeat(img, 3, axis=2)
            y0, x0 = pad_y + r * (ch + pad_y), pad_x + j * (cw + pad_x)
            mosaic[y0:y0 + ch, x0:x0 + cw] = np.clip(img, 0, 1)
    dpi = 100
    fig.set_size_inches(max(4.0, mosaic.shape[1] / dpi * 1.6 + 1.8), mosaic.shape[0] / dpi * 1.6 + 0.4)
    ax = fig.add_axes([0.18, 0.02, 0.8, 0.92])
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    for r, (title, _, preds) in enumerate(panels):
        y0 = pad_y + r * (ch + pad_y)
        ax.text(-pad_x, y0 + ch / 2, title, ha="right", va="center", fontsize=8)
        for j in range(k):
            x0 = pad_x + j * (cw + pad_x)
            wrong = preds[j] != ex["labels"][j]
            ax.text(x0 + cw / 2, y0 - 2, str(preds[j])[:12], ha="center", va="bottom", fontsize=7,
                    color="red" if wrong else "black")
    ax.set_title("top row: clean images (true labels: " + ", ".join(str(v)[:12] for v in ex["labels"])
                 + "); text: prediction, red when wrong", fontsize=8)
    return _png(fig)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    return str(value)


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _display_table(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "eps" in out:
        # eps_255 reads L-inf radii in grey levels; an L2 radius has no such reading.
        eps_255 = out["eps"] * 255
        if "perturbation" in out:
            eps_255 = eps_255.where(~out["perturbation"].isin(L2_ATTACKS))
        out.insert(out.columns.get_loc("eps") + 1, "eps_255", eps_255)
    return out


def _per_class_wide(result: RobustnessResult) -> pd.DataFrame:
    """One row per setting, one accuracy column per class."""
    keys = ["perturbation", "kind", "eps", "severity"]
    rows = []
    for key, grp in result.per_class.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key))
        row.update({str(c): a for c, a in zip(grp["class"], grp["accuracy"])})
        rows.append(row)
    return _display_table(pd.DataFrame(rows, columns=keys + [str(c) for c in result.class_names]))


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("synthaug", "torch", "numpy", "scikit-learn", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out


EPS_NOTE = ("For fgsm and pgd, eps is an L-inf radius in [0, 1] pixel units (eps_255 = grey levels "
            "out of 255); for pgd_l2 it is the L2 norm of the whole perturbation.")


def summary_lines(result: RobustnessResult) -> list[str]:
    """Short human lines: clean accuracy, each attack at its largest eps, each corruption at its
    top severity, the stress set."""
    lines = [f"Clean accuracy: {result.clean_accuracy():.3f}"]
    for row in result.worst_case().itertuples(index=False):
        if row.kind == "corruption":
            lines.append(f"{row.perturbation} at severity {int(row.severity)}: {row.accuracy:.3f}")
        else:
            suffix = " (transfer)" if row.kind == "transfer" else ""
            lines.append(f"{row.perturbation}{suffix} at eps={eps_label(row.perturbation, row.eps)}: "
                         f"{row.accuracy:.3f}")
    stress = result.results[result.results["kind"] == "stress"]
    for row in stress.itertuples(index=False):
        lines.append(f"generated stress set ({row.n} images): {row.accuracy:.3f}")
    return lines


def write_robustness_report(result: RobustnessResult, directory) -> dict[str, Path]:
    """Write the robustness tables, figures and reports into ``directory``.

    Files: ``robustness.csv`` (tidy), ``per_class.csv``, ``predictions.csv``,
    ``robust_accuracy.png``, ``examples.png``, ``report.md``, ``report.html`` (a single
    self-contained file: figures embedded as base64) and ``config.json``.

    Returns
    -------
    dict
        File name -> path written.
    """
    from ..data.io import atomic_write_bytes, atomic_write_text

    directory = Path(directory)
    written: dict[str, Path] = {}

    def text(name: str, content: str) -> None:
        written[name] = atomic_write_text(directory / name, content, fsync=False)

    def binary(name: str, content: bytes) -> None:
        written[name] = atomic_write_bytes(directory / name, content, fsync=False)

    text("robustness.csv", result.results.to_csv(index=False))
    text("per_class.csv", result.per_class.to_csv(index=False))
    text("predictions.csv", result.predictions.to_csv(index=False))
    figures = {"robust_accuracy.png": plot_robust_accuracy(result), "examples.png": plot_examples(result)}
    for name, data in figures.items():
        binary(name, data)

    summary = summary_lines(result)
    table = _display_table(result.results)
    per_class = _per_class_wide(result)
    title = f"Robustness of {result.config.get('model', 'the model')} on {result.config.get('data', 'the data')}"

    md = [f"# {title}", "", "## Summary", "", *[f"- {s}" for s in summary], "", "## What was measured", "",
          *[f"- {n}" for n in result.notes], "",
          f"{EPS_NOTE} Accuracy at eps 0 is the clean accuracy.", "",
          "## Accuracy", "", _md_table(table), "", "![accuracy vs eps](robust_accuracy.png)", "",
          "## Per class", "", _md_table(per_class), "",
          "## Examples", "", "Predictions on clean images and at the strongest setting of each "
          "perturbation (red: wrong).", "", "![examples](examples.png)", ""]
    text("report.md", "\n".join(md))

    def img(name: str) -> str:
        data = base64.b64encode(figures[name]).decode("ascii")
        return f'<img alt="{name}" src="data:image/png;base64,{data}">'

    def html_table(df: pd.DataFrame) -> str:
        return df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)

    body = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary) + "</ul>",
        "<h2>What was measured</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
        + f"</ul><p>{html.escape(EPS_NOTE)}</p>",
        "<h2>Accuracy</h2>", img("robust_accuracy.png"), html_table(table),
        "<h2>Per class</h2>", html_table(per_class),
        "<h2>Examples</h2><p>Predictions on clean images and at the strongest setting of each "
        "perturbation (red: wrong).</p>", img("examples.png"),
    ]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}")
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    text("report.html", page)
    config = {"command": "run_robustness", "options": result.config, "notes": result.notes,
              "versions": _versions()}
    text("config.json", json.dumps(config, indent=2, default=str) + "\n")
    return written
