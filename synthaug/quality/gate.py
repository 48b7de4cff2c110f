"""The quality gate: are a generator's samples good enough to add to someone's data?

The samples are embedded with a small CNN trained on the real rows the generator was
fitted on, and compared with real rows held back from both (:func:`holdout_split`):

- precision, recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models": k-NN balls estimate each manifold) and coverage (Naeem
  et al. 2020), from :func:`synthaug.metrics.prdc`, overall and per class;
- TRTS, "train on real, test on synthetic": the CNN's accuracy on the samples, i.e. how
  often a sample is recognised as the class it was drawn for, overall and per class.

- copying (:func:`synthaug.metrics.memorisation_report`, pixel space): the median
  distance from a sample to its nearest fitted image over the same for a held-back real
  image (``copy_ratio``), and the share of samples closer to a fitted image than
  almost any held-back image comes (``copied_fraction``). Diffusion models trained
  long on a few images start to reproduce them.
- spread (:func:`synthaug.metrics.spread_ratio`, pixel space, needs no held-back rows):
  per class, the median distance between two samples over that between two fitted real
  images; the median over classes is ``spread``. One prototype per class repeated
  (the GAN's collapse on tiny sets) reads about 0.5 while its recall, measured on a
  handful of held-back images, can still look fine.

The same numbers for real data give the reference: the held-back rows against the fitted
rows (precision, recall, coverage) and the CNN's accuracy on the held-back rows.
:func:`judge` turns numbers and reference into a verdict. Samples that are faithful but
all alike (mode collapse) fail on recall or spread; grey blobs fail on precision and
TRTS; copies of the training images fail on ``copy_ratio``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..classifiers import CNNClassifier
from ..data.validation import check_images, check_int
from ..exceptions import InvalidDataError
from ..metrics import memorisation_report, prdc, spread_ratio
from ..persistence import to_jsonable
from ..seeding import derive_seed
from .holdout import root_seed

__all__ = ["MIN_SAMPLES_PER_CLASS", "NOISY_HELD_PER_CLASS", "QualityReport", "assess",
           "assess_generator", "judge"]

log = logging.getLogger(__name__)

#: Synthetic samples drawn per class at least (more when more rows of a class are held back).
MIN_SAMPLES_PER_CLASS = 20
#: Below this many held-back rows per class the verdict carries a "noisy" note.
NOISY_HELD_PER_CLASS = 5
#: Neighbourhood size of the k-NN manifold estimate (lowered when a set is smaller).
K_NEIGHBOURS = 5
# The rule's factors (documented in judge).
_TRTS_SHARE, _RECALL_SHARE, _PRECISION_SHARE, _SNAPSHOT_PRECISION_SHARE = 0.5, 0.25, 0.25, 0.5
#: Below this copy ratio the samples fail (they copy); below COPY_NOTE a note warns and
#: snapshot selection prefers another snapshot.
COPY_FAIL, COPY_NOTE = 0.5, 0.7
#: Below this spread (median over classes) the samples fail: each class is a few images
#: repeated; a class below SPREAD_NOTE gets a note naming it.
SPREAD_FAIL, SPREAD_NOTE = 0.6, 0.5
_METRICS = ("precision", "recall", "coverage")


def _first(values: Mapping[str, Any], *keys: str) -> float:
    for key in keys:
        if key in values and values[key] is not None:
            return float(values[key])
    return math.nan


def judge(metrics: Mapping[str, Any], reference: Mapping[str, Any], n_classes: int) -> tuple[bool, list[str]]:
    """The verdict on synthetic samples, from their numbers and real data's.

    The samples FAIL when any of these holds (a check whose numbers are missing or NaN
    is skipped, and a note says so):

    - TRTS < chance + 0.5 x (reference accuracy - chance), with chance = 1 / n_classes:
      the real-trained classifier recognises the samples' classes less than halfway
      from guessing to how well it recognises real held-back images;
    - recall < 0.25 x reference recall: the samples reach under a quarter of the real
      variety that other real images reach (mode collapse);
    - precision < 0.25 x reference precision: most samples lie off the real manifold;
    - ``copy_ratio`` < 0.5 (when given): the samples' median distance to their nearest
      training image is under half that of unseen real images: the generator copies.
      Under 0.7 a note says the samples sit close to the training images;
    - ``spread`` < 0.6 (when given): two samples of a class are typically under 0.6 x as
      far apart as two real images of it: each class is a few images repeated (measured:
      the GAN's collapse on 10 digits per class 0.52; varied samples 0.68-0.84). A class
      under 0.5 in ``spread_per_class`` gets a note.

    Parameters
    ----------
    metrics : mapping
        The samples' numbers: ``precision``, ``recall``, ``trts`` (or ``trts_accuracy``,
        the experiment runner's name); optional ``n_held`` (or ``n_real``): the real
        rows they were compared with, for the noise note.
    reference : mapping
        Real data's numbers: ``precision``, ``recall`` and ``accuracy`` (or ``trts`` /
        ``trts_accuracy``): the classifier's accuracy on real held-back images.
    n_classes : int
        Number of classes (sets chance accuracy).

    Returns
    -------
    passed : bool
    reasons : list of str
        One line per failed check, then notes (``"note: ..."``): skipped checks, and a
        warning when fewer than 5 real rows per class were compared (tiny sets make
        every number noisy; a single image changes recall by 1/n).

    Examples
    --------
    >>> judge({"precision": 0.9, "recall": 0.5, "trts": 0.9},
    ...       {"precision": 0.8, "recall": 0.8, "accuracy": 0.95}, 10)
    (True, [])
    >>> ok, why = judge({"precision": 0.0, "recall": 0.0, "trts_accuracy": 0.1},
    ...                 {"precision": 0.8, "recall": 0.8, "accuracy": 0.9}, 10)
    >>> ok, len(why)
    (False, 3)
    """
    n_classes = check_int("n_classes", n_classes, 1)
    chance = 1.0 / n_classes
    fails: list[str] = []
    notes: list[str] = []
    trts = _first(metrics, "trts", "trts_accuracy")
    ref_acc = _first(reference, "accuracy", "trts", "trts_accuracy")
    if math.isnan(trts) or math.isnan(ref_acc):
        notes.append("note: TRTS or the reference accuracy is missing; the TRTS check was skipped.")
    else:
        need = chance + _TRTS_SHARE * (ref_acc - chance)
        if trts < need:
            fails.append(
                f"TRTS {trts:.2f} < {need:.2f}: a classifier trained on real images recognises the "
                f"samples' classes {trts:.0%} of the time (real held-back images: {ref_acc:.0%}, "
                f"chance: {chance:.0%})."
            )
    checks = (("recall", _RECALL_SHARE, "the samples reach too little of the real variety (mode collapse)"),
              ("precision", _PRECISION_SHARE, "most samples do not look like real images"))
    for name, share, meaning in checks:
        value, ref = _first(metrics, name), _first(reference, name)
        if math.isnan(value) or math.isnan(ref):
            notes.append(f"note: {name} could not be measured (too few rows); that check was skipped.")
        elif value < share * ref:
            fails.append(f"{name} {value:.2f} < {share * ref:.2f} ({share:g} x real {ref:.2f}): {meaning}.")
    copy_ratio = _first(metrics, "copy_ratio")
    if not math.isnan(copy_ratio):
        if copy_ratio < COPY_FAIL:
            fails.append(
                f"copy ratio {copy_ratio:.2f} < {COPY_FAIL:g}: the samples lie much closer to the training "
                "images than unseen real images do (median nearest-training-image distance); the generator "
                "reproduces its training set. Train for fewer steps."
            )
        elif copy_ratio < COPY_NOTE:
            notes.append(f"note: copy ratio {copy_ratio:.2f} < {COPY_NOTE:g}: the samples sit close to the "
                         "training images; check the sample grid for near-copies.")
    spread = _first(metrics, "spread")
    if not math.isnan(spread) and spread < SPREAD_FAIL:
        fails.append(
            f"spread {spread:.2f} < {SPREAD_FAIL:g}: two samples of a class are typically only {spread:.2f} x "
            "as far apart as two real images of it; each class is a few images repeated (mode collapse)."
        )
    alike = [str(c) for c, v in (metrics.get("spread_per_class") or {}).items()
             if v is not None and not math.isnan(v) and v < SPREAD_NOTE]
    if alike:
        notes.append(f"note: the samples of class(es) {', '.join(alike)} are nearly all alike "
                     f"(spread < {SPREAD_NOTE:g}).")
    n_held = _first(metrics, "n_held", "n_real")
    if not math.isnan(n_held) and n_held < NOISY_HELD_PER_CLASS * n_classes:
        notes.append(
            f"note: only {n_held:.0f} real held-back images for {n_classes} classes (< "
            f"{NOISY_HELD_PER_CLASS} per class): these numbers are noisy; hold back more rows "
            "(validation_fraction) or provide a validation split."
        )
    return not fails, fails + notes


def _fmt(value: Any) -> str:
    return "  n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:5.2f}"


@dataclass(frozen=True)
class QualityReport:
    """The gate's numbers and verdict for one generator's samples.

    Attributes
    ----------
    metrics : dict
        The samples, overall: ``precision``, ``recall``, ``coverage``, ``trts`` and the
        set sizes ``n_held``, ``n_synthetic``.
    reference : dict
        Real data, overall: ``precision``, ``recall``, ``coverage`` of the held-back rows
        against the fitted rows and ``accuracy`` (the CNN on held-back rows).
    per_class : list of dict
        Per class: ``class``, ``n_held``, ``n_synthetic``, the four numbers, and
        ``reference`` (the real numbers for that class).
    passed : bool
    reasons : list of str
        See :func:`judge`.
    n_classes, n_fit, k : int
        Classes, real rows the feature extractor was trained on, neighbourhood size.
    snapshots : list of dict
        Per generator snapshot scored (``index``, ``epoch``, ``step``, the four numbers,
        ``eligible``); empty when the generator had none.
    selected_snapshot : int or None
        The snapshot chosen (None: no snapshots).
    """

    metrics: dict
    reference: dict
    per_class: list
    passed: bool
    reasons: list
    n_classes: int
    n_fit: int
    k: int
    snapshots: list = field(default_factory=list)
    selected_snapshot: int | None = None

    def to_dict(self) -> dict:
        """Plain JSON types (NaN becomes None)."""
        return to_jsonable(asdict(self))

    def caption(self) -> str:
        """One line, for under a sample grid."""
        m, r = self.metrics, self.reference
        verdict = "PASSED" if self.passed else "FAILED"
        n_held = m.get("n_held", math.nan)
        if isinstance(n_held, (int, float)) and n_held < NOISY_HELD_PER_CLASS * self.n_classes:
            # With a handful of held-back images the k-NN numbers are near-degenerate
            # (precision and coverage read 1.00 for almost anything): say so on the image.
            verdict += f" (noisy: {n_held:.0f} held-back images)"
        copy = f", copy ratio {_fmt(m['copy_ratio']).strip()}" if "copy_ratio" in m else ""
        copy += f", spread {_fmt(m['spread']).strip()}" if "spread" in m else ""
        return (f"quality gate {verdict}: precision {_fmt(m['precision']).strip()} "
                f"(real {_fmt(r['precision']).strip()}), recall {_fmt(m['recall']).strip()} "
                f"(real {_fmt(r['recall']).strip()}), coverage {_fmt(m['coverage']).strip()}, "
                f"TRTS {_fmt(m['trts']).strip()} (real {_fmt(r['accuracy']).strip()}){copy}")

    def summary_lines(self, class_names=None) -> list[str]:
        """A small table for the console: samples vs real reference, overall and per class."""
        names = list(class_names) if class_names is not None else None

        def label(cls) -> str:
            return str(names[cls]) if names is not None and isinstance(cls, int) and cls < len(names) else str(cls)

        width = max([len("real reference"), *(len(label(row["class"])) + 2 for row in self.per_class)])
        lines = [
            (f"Quality gate: {self.metrics['n_synthetic']} samples vs {self.metrics['n_held']} held-back "
             f"real images (features: a CNN trained on the other {self.n_fit})."),
            f"  {'':<{width}} precision  recall  coverage   TRTS",
        ]

        def row(name, d, acc_key) -> str:
            return (f"  {name:<{width}}     {_fmt(d['precision'])}   {_fmt(d['recall'])}     "
                    f"{_fmt(d['coverage'])}  {_fmt(d[acc_key])}")

        lines.append(row("synthetic", self.metrics, "trts"))
        lines.append(row("real reference", self.reference, "accuracy"))
        for cls_row in self.per_class:
            lines.append(row("  " + label(cls_row["class"]), cls_row, "trts"))
        if "copy_ratio" in self.metrics:
            lines.append(f"  Nearest training image (pixels): median distance {_fmt(self.metrics['copy_ratio']).strip()}"
                         f" x that of held-back real images; {self.metrics['copied_fraction']:.0%} of the "
                         "samples are near-copies.")
        if "spread" in self.metrics:
            lines.append(f"  Spread within a class (pixels): two samples lie {_fmt(self.metrics['spread']).strip()} x as "
                         "far apart as two real images (median over classes; about 1 for real data).")
        if self.selected_snapshot is not None:
            chosen = self.snapshots[self.selected_snapshot]
            noisy = self.metrics.get("n_held", math.inf) < NOISY_HELD_PER_CLASS * self.n_classes
            best = "TRTS (few held-back images)" if noisy else "coverage"
            why = (f"the best {best} among those that pass" if chosen.get("passes") else
                   f"none passes; the best coverage with precision >= {_SNAPSHOT_PRECISION_SHARE:g} x real")
            lines.append(f"  Using snapshot {self.selected_snapshot} (epoch {chosen.get('epoch')}) of "
                         f"{len(self.snapshots)}: {why}.")
        lines.append(f"Verdict: {'PASSED' if self.passed else 'FAILED'}")
        lines.extend(f"  - {reason}" for reason in self.reasons)
        return lines


# --------------------------------------------------------------------------- scoring
def _manifold(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    k = min(K_NEIGHBOURS, len(real) - 1, len(fake) - 1)
    if k < 1:
        return dict.fromkeys(_METRICS, math.nan)
    out = prdc(real, fake, k=k)
    return {name: out[name] for name in _METRICS}


def _accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(pred == labels)) if len(labels) else math.nan


class _FeatureSpace:
    """The feature extractor (a CNN on the fitted rows) and the real reference, fitted once."""

    def __init__(self, X_fit, y_fit, X_held, y_held, seed: int, device: str):
        self.X_fit, self.X_held = X_fit, X_held
        batches = math.ceil(len(X_fit) / 64)
        # About 200 optimiser steps whatever the data size, 3..30 epochs: seconds on a CPU.
        epochs = int(np.clip(math.ceil(200 / batches), 3, 30))
        self.cnn = CNNClassifier(epochs=epochs, width=16, batch_size=64, device=device,
                                 random_state=derive_seed(seed, "quality", "cnn", bits=32))
        self.cnn.fit(X_fit, y_fit)
        self.y_fit, self.y_held = y_fit, y_held
        self.fit_feats = self.cnn.transform(X_fit)
        self.held_feats = self.cnn.transform(X_held)
        self.held_pred = self.cnn.predict(X_held)
        self.classes = np.unique(y_held)
        self.k = max(0, min(K_NEIGHBOURS, len(y_held) - 1))
        self.reference = {**_manifold(self.held_feats, self.fit_feats),
                          "accuracy": _accuracy(self.held_pred, y_held)}

    def score(self, images: np.ndarray, labels: np.ndarray, per_class: bool):
        """Overall numbers (and per class) of synthetic ``images`` drawn for ``labels``."""
        feats = self.cnn.transform(images)
        pred = self.cnn.predict(images)
        judged = np.isin(labels, self.classes)  # only classes that have real rows to compare with
        copies, _ = memorisation_report(images, self.X_fit, self.X_held, quantile=0.05)
        spread, spread_per_class = spread_ratio(images, labels, self.X_fit, self.y_fit)
        overall = {**_manifold(self.held_feats, feats[judged]), "trts": _accuracy(pred, labels),
                   "n_held": len(self.y_held), "n_synthetic": len(labels),
                   "copy_ratio": copies["distance_ratio"], "copied_fraction": copies["fraction_flagged"],
                   "median_train_distance": copies["median_synthetic_distance"],
                   "median_held_distance": copies["median_test_distance"],
                   "spread": spread, "spread_per_class": spread_per_class}
        if not per_class:
            return overall, []
        rows = []
        for cls in np.unique(np.concatenate([labels, self.y_held])):
            held, fake, fit = self.y_held == cls, labels == cls, self.y_fit == cls
            rows.append({
                "class": cls.item() if isinstance(cls, np.generic) else cls,
                "n_held": int(held.sum()), "n_synthetic": int(fake.sum()),
                **_manifold(self.held_feats[held], feats[fake]),
                "trts": _accuracy(pred[fake], labels[fake]),
                "spread": spread_per_class.get(cls.item() if isinstance(cls, np.generic) else cls, math.nan),
                "reference": {**_manifold(self.held_feats[held], self.fit_feats[fit]),
                              "accuracy": _accuracy(self.held_pred[held], self.y_held[held])},
            })
        return overall, rows


def _draw_labels(y_fit: np.ndarray, y_held: np.ndarray, n_per_class: int | None) -> np.ndarray:
    classes = np.unique(y_fit)
    counts = [n_per_class if n_per_class is not None
              else max(int((y_held == c).sum()), MIN_SAMPLES_PER_CLASS) for c in classes]
    return np.repeat(classes, counts)


def _check_inputs(X_fit, y_fit, X_held, y_held, n_per_class):
    X_fit = check_images(X_fit, owner="quality gate: X_fit", channels=None)
    X_held = check_images(X_held, owner="quality gate: X_held", channels=None)
    y_fit, y_held = np.asarray(y_fit), np.asarray(y_held)
    if y_fit.shape != (len(X_fit),) or y_held.shape != (len(X_held),):
        raise InvalidDataError(
            f"quality gate: got {len(X_fit)} fit images with labels of shape {y_fit.shape} and "
            f"{len(X_held)} held-back images with labels of shape {y_held.shape}; pass one label per image."
        )
    if len(X_held) == 0:
        raise InvalidDataError("quality gate: no held-back real rows to compare the samples with; "
                               "hold back some rows (validation_fraction > 0).")
    if n_per_class is not None:
        n_per_class = check_int("n_per_class", n_per_class, 2)
    return X_fit, y_fit, X_held, y_held, n_per_class


def _report(space: _FeatureSpace, images, labels, n_fit: int, snapshots=None, selected=None) -> QualityReport:
    metrics, per_class = space.score(images, labels, per_class=True)
    passed, reasons = judge(metrics, space.reference, len(np.unique(labels)))
    return QualityReport(metrics=metrics, reference=dict(space.reference), per_class=per_class,
                         passed=passed, reasons=reasons, n_classes=len(np.unique(labels)),
                         n_fit=n_fit, k=space.k, snapshots=list(snapshots or []),
                         selected_snapshot=selected)


def _sample(sample_fn: Callable, labels: np.ndarray) -> np.ndarray:
    images = np.asarray(sample_fn(labels), np.float32)
    if images.ndim != 4 or len(images) != len(labels):
        raise InvalidDataError(f"quality gate: sample_fn returned shape {images.shape} for "
                               f"{len(labels)} labels; expected (n, C, H, W).")
    return np.clip(images, 0.0, 1.0)


def assess(sample_fn: Callable[[np.ndarray], np.ndarray], X_fit, y_fit, X_held, y_held, *,
           n_per_class: int | None = None, random_state=None, device: str = "auto") -> QualityReport:
    """Judge samples from ``sample_fn`` against real held-back rows.

    Parameters
    ----------
    sample_fn : callable
        ``sample_fn(labels) -> images``: one image per label, ``(n, C, H, W)`` in [0, 1].
    X_fit, y_fit : arrays
        The real rows the generator was fitted on; the feature extractor (a small CNN) is
        trained on these only.
    X_held, y_held : arrays
        Real rows neither saw (see :func:`~synthaug.quality.holdout_split`).
    n_per_class : int or None
        Samples drawn per class; None draws as many as the class's held-back rows, at
        least 20.
    random_state : int, numpy Generator or None
        Seeds the feature extractor.
    device : str, default "auto"
        Where the feature extractor runs.

    Returns
    -------
    QualityReport

    Shape
    -----
    X_fit : ``(N_fit, C, H, W)``, X_held : ``(N_held, C, H, W)`` float in [0, 1].

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> ds = make_toy_images(30, n_classes=2, random_state=0)
    >>> real = make_toy_images(40, n_classes=2, random_state=1)
    >>> faithful = lambda labels: np.concatenate([real.images[real.labels == c][:1] for c in labels])
    >>> report = assess(faithful, ds.images[::2], ds.labels[::2], ds.images[1::2], ds.labels[1::2],
    ...                 random_state=0, device="cpu")
    >>> report.metrics["trts"] > 0.9
    True
    """
    X_fit, y_fit, X_held, y_held, n_per_class = _check_inputs(X_fit, y_fit, X_held, y_held, n_per_class)
    space = _FeatureSpace(X_fit, y_fit, X_held, y_held, root_seed(random_state), device)
    labels = _draw_labels(y_fit, y_held, n_per_class)
    return _report(space, _sample(sample_fn, labels), labels, len(X_fit))


def assess_generator(generator, X_fit, y_fit, X_held, y_held, *, n_per_class: int | None = None,
                     random_state=None, device: str = "auto") -> QualityReport:
    """:func:`assess` for a fitted generator, choosing among its snapshots first.

    ``generator`` needs ``sample(labels, random_state=...)``. When it also has
    ``snapshots_`` (a list of dicts with ``epoch``/``step``) and ``use_snapshot(index)``,
    every snapshot is scored with the same feature extractor and the same noise, and the
    one with the best coverage (ties: recall, then the later one) is selected among
    those that pass the gate (:func:`judge`) with a copy ratio of at least 0.7, else
    those that pass, or, when none passes, among those whose precision is at least 0.5 x
    the real reference precision (none eligible: the last). With fewer than 5 held-back
    images per class the highest TRTS ranks first (see :func:`_best`). The generator is
    left on that snapshot and the report lists every snapshot's numbers.
    """
    X_fit, y_fit, X_held, y_held, n_per_class = _check_inputs(X_fit, y_fit, X_held, y_held, n_per_class)
    seed = root_seed(random_state)
    space = _FeatureSpace(X_fit, y_fit, X_held, y_held, seed, device)
    labels = _draw_labels(y_fit, y_held, n_per_class)
    noise_seed = derive_seed(seed, "quality", "sample")

    def draw():
        return _sample(lambda lab: generator.sample(lab, random_state=noise_seed), labels)

    snapshots = getattr(generator, "snapshots_", None)
    if not snapshots or not callable(getattr(generator, "use_snapshot", None)):
        return _report(space, draw(), labels, len(X_fit))
    scores = []
    floor = _SNAPSHOT_PRECISION_SHARE * space.reference["precision"]
    for i, snap in enumerate(snapshots):
        generator.use_snapshot(i)
        overall, _ = space.score(draw(), labels, per_class=False)
        passes, _ = judge(overall, space.reference, len(np.unique(labels)))
        scores.append({"index": i, "epoch": snap.get("epoch"), "step": snap.get("step"),
                       **{k: overall[k] for k in (*_METRICS, "trts", "copy_ratio", "spread")},
                       "passes": bool(passes), "eligible": not overall["precision"] < floor})
    n_classes = len(np.unique(labels))
    best = _best(scores, noisy=len(y_held) < NOISY_HELD_PER_CLASS * n_classes)
    generator.use_snapshot(best)
    log.info("quality gate: selected snapshot %d of %d (epoch %s)", best, len(scores), scores[best]["epoch"])
    images = draw()  # the same noise as when it was scored: the same images
    return _report(space, images, labels, len(X_fit), scores, best)


def _best(scores: list[dict], noisy: bool = False) -> int:
    """Index of the best score (ties: the later) among the snapshots that pass the gate
    without sitting close to the training images (copy ratio >= 0.7), else among those
    that pass, else among those above the precision floor; the last when none is eligible.

    Best: the highest coverage, then recall. ``noisy`` (fewer than 5 held-back images per
    class, where the k-NN numbers saturate: coverage reads 1.00 for nearly anything):
    the highest TRTS first, then coverage and recall.
    """
    eligible = ([s for s in scores if s.get("passes") and not s.get("copy_ratio", 1.0) < COPY_NOTE]
                or [s for s in scores if s.get("passes")] or [s for s in scores if s["eligible"]])
    if not eligible:
        return scores[-1]["index"]
    order = ("trts", "coverage", "recall") if noisy else ("coverage", "recall")

    def key(score: dict) -> tuple[float, ...]:
        return tuple(-1.0 if math.isnan(score.get(m, math.nan)) else score[m] for m in order)

    return max(reversed(eligible), key=key)["index"]
