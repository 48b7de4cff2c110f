"""Running a robustness evaluation of any classifier: :func:`run_robustness`.

Which rows are used for what is decided once, here, and written into the result's notes:

- **evaluated rows**: the dataset's ``test`` split when it has one, otherwise every row;
  optionally a stratified, seeded subsample of at most ``max_samples`` of them;
- **surrogate** (only for models without gradients, e.g. scikit-learn): a
  :class:`CNNClassifier` trained on the rows that are *not* in the ``test`` split, or on
  every row when the dataset has no splits (the notes then say that the surrogate has
  seen the evaluated images, which makes the transfer attack somewhat stronger than a
  true black-box one).

The runner does no file I/O (:mod:`.report` writes the files).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...attacks.evaluate import Condition, conditions_to_frame, predict_labels, run_conditions
from ...attacks.registry import eps_label
from ...attacks.spec import RobustnessSpec, resolve_spec
from ...classifiers.loading import LoadedModel, check_input_shape
from ...data.dataset import ImageDataset
from ...data.validation import check_int
from ...exceptions import ConfigError
from ...seeding import check_random_state, seed_from
from .alignment import PositionPredictor, label_positions, stress_set, train_surrogate

__all__ = ["STRESS", "RobustnessResult", "run_robustness"]

log = logging.getLogger(__name__)

#: The ``perturbation`` of the generated stress set's rows.
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


def _examples(conditions: list[Condition], evaluated: ImageDataset, example_rows: np.ndarray | None,
              names: np.ndarray) -> dict:
    """:attr:`RobustnessResult.examples`: the example images and one panel per perturbation,
    at its strongest setting (``names`` maps prediction positions to display names)."""
    label_names = np.asarray(evaluated.class_names, dtype=object)[evaluated.labels]
    examples: dict = {"images": np.zeros((0, *evaluated.image_shape), np.float32), "labels": [], "panels": []}
    if example_rows is None or not len(example_rows):
        return examples
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
    return examples


def run_robustness(
    dataset: ImageDataset,
    model: LoadedModel,
    spec: RobustnessSpec | None = None,
    *,
    surrogate_epochs: int = 15,
    stress_generator: Any = None,
    n_stress: int = 50,
    max_samples: int | None = None,
    n_examples: int = 8,
    batch_size: int = 256,
    random_state=0,
    **spec_options: Any,
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
    spec : RobustnessSpec, optional
        Attacks and their radii (``pgd_l2`` runs over ``l2_eps_grid``, the others over
        ``eps_grid``), corruptions, severities and PGD steps. Default ``RobustnessSpec()``.
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
    **spec_options
        Instead of ``spec``, its fields as keywords (``eps_grid=(0, 0.1)``, ...).

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
    spec = resolve_spec(spec, spec_options, "run_robustness")
    for flag, value, low in (("--surrogate-epochs", surrogate_epochs, 1), ("--n-stress", n_stress, 1),
                             ("n_examples", n_examples, 0)):
        check_int(flag, value, low)
    if max_samples is not None and (not isinstance(max_samples, (int, np.integer)) or max_samples < 1):
        raise ConfigError(f"--max-samples must be an integer >= 1 (or none for all), got {max_samples!r}.")
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
    positions, n_out, display = label_positions(model, dataset)
    y = positions[evaluated.labels]  # labels as indices into the model's outputs

    # ---------------------------------------------------------------- target and surrogate
    surrogate = None
    if model.has_gradients:
        target: Any = model.module
        notes.append("The model has gradients: attacks are white box (crafted on the model itself).")
    else:
        target = PositionPredictor(model, model.classes)
        if spec.attacks:
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
            surrogate = train_surrogate(train.images, positions[train.labels], n_out, surrogate_epochs,
                                         seed_from(rng), model.device)
        else:
            notes.append("The model has no gradients and no attacks were requested.")

    # ---------------------------------------------------------------- evaluate
    example_rows = _example_index(evaluated.labels, n_examples) if n_examples else None
    conditions = run_conditions(
        target, evaluated.images, y, spec, surrogate=surrogate, batch_size=batch_size,
        random_state=seed_from(rng), keep_index=example_rows,
        progress=lambda what: log.info("robustness: %s", what),
    )
    results = conditions_to_frame(conditions, y)
    per_class = conditions_to_frame(conditions, y, evaluated.class_names, per_class=True,
                                    groups=evaluated.labels)

    # ---------------------------------------------------------------- stress set
    if stress_generator is not None:
        x_s, y_s_ds = stress_set(stress_generator, dataset, n_stress, seed_from(rng))
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

    examples = _examples(conditions, evaluated, example_rows, names)

    config = {
        "data": dataset.name,
        "evaluated_rows": int(len(evaluated)),
        "evaluated_split": "test" if has_test else "all",
        "model": model.source,
        "model_kind": model.kind,
        "has_gradients": model.has_gradients,
        "eps_grid": list(spec.eps_grid),
        "l2_eps_grid": list(spec.l2_eps_grid) if spec.uses_l2 else [],
        "attacks": list(spec.attacks),
        "corruptions": list(spec.corruptions),
        "severities": list(spec.severities),
        "pgd_steps": spec.pgd_steps,
        "surrogate_epochs": int(surrogate_epochs) if surrogate is not None else None,
        "stress_generator": stress_generator is not None,
        "n_stress": int(n_stress) if stress_generator is not None else None,
        "max_samples": max_samples,
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "generator",
    }
    return RobustnessResult(results, per_class, predictions, examples, tuple(dataset.class_names), notes,
                            config)
