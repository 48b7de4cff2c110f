"""The two kinds of job in a study's grid, as pure functions of their inputs.

- :func:`prepare`, one per (seed, training size): the low-data subsample, the
  generator fitted on it, every synthetic set its arms need, and the quality and
  memorisation checks with the quality gate's verdict (:func:`gate_verdict`).
- :func:`classify`, one per (seed, training size, arm, ratio): the arm's training set,
  every requested classifier trained on it and scored on the real test split, and
  robust accuracy when enabled.

Each job seeds every random draw from its own coordinates with
:func:`~synthaug.seeding.derive_seed` (32-bit seeds, string keys), never from the
order in which jobs run, so any schedule and a resumed study give the same numbers.
Both return plain data (dicts, lists, arrays, DataFrames) that
:class:`~synthaug.experiment.cache.JobCache` can store without pickling.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import numpy as np
import pandas as pd

from ..attacks import PGD, RobustnessSpec, evaluate_robustness
from ..classifiers import make_classifier as make_named_classifier
from ..data.grid import make_grid
from ..exceptions import TrainingDivergedError
from ..generators import AUTO, DIFFUSION_MODELS, ConditionalDiffusion, ConditionalGAN, resolve_model
from ..metrics import (
    classification_metrics,
    fidelity_report,
    memorisation_report,
    per_class_accuracy,
    spread_ratio,
)
from ..over_sampling.draw import draw_synthetic
from ..over_sampling.select import draw_selected
from ..quality.gate import judge
from ..seeding import derive_seed
from .arms import (
    ARMS,
    ArmInputs,
    draw_name,
    sample_weights,
    synthetic_counts,
    training_set,
)
from .config import ExperimentConfig
from .report import METRICS
from .splits import subsample

log = logging.getLogger(__name__)

__all__ = ["classify", "equal_step_epochs", "gate_verdict", "make_classifier", "make_generator", "prepare"]

# How many nearest synthetic/training pairs the memorisation grid shows.
_N_NEIGHBOUR_PAIRS = 8


def _seed(seed: int, *keys: str) -> int:
    """The job's stream for ``keys`` (32 bits: also a valid scikit-learn ``random_state``)."""
    return derive_seed(seed, *keys, bits=32)


def make_generator(config: ExperimentConfig, random_state: int, X_fit: np.ndarray, y_fit: np.ndarray):
    """An unfitted generator with the config's settings: a
    :class:`~synthaug.generators.ConditionalGAN`, or a
    :class:`~synthaug.generators.ConditionalDiffusion` for ``gan_model = "ddpm"``.

    ``gan_model = "auto"`` chooses from ``X_fit, y_fit`` (the rows it will be fitted on) as the
    CLI does (:func:`~synthaug.generators.resolve_model`); a GAN-only ``gan_loss`` or
    ``gan_select = "critic"`` choose the GAN."""
    model = config.gan_model
    if model == AUTO:
        gan_only = config.gan_loss != "hinge" or config.gan_select == "critic"  # "loss": a GAN parameter
        model, _ = resolve_model(AUTO, len(X_fit), X_fit.shape[1:], n_classes=len(np.unique(y_fit)),
                                 strategy=config.gan_strategy, params=[*config.gan_params, *(["loss"] * gan_only)])
    if model in DIFFUSION_MODELS:
        return ConditionalDiffusion(strategy=config.gan_strategy, epochs=config.gan_epochs,
                                    batch_size=config.gan_batch_size, device=config.device,
                                    random_state=random_state, progress=False, **config.gan_params)
    return ConditionalGAN(
        model=model,
        strategy=config.gan_strategy,
        loss=config.gan_loss,
        epochs=config.gan_epochs,
        batch_size=config.gan_batch_size,
        device=config.device,
        random_state=random_state,
        progress=False,
        **config.gan_params,
    )


def make_classifier(name: str, config: ExperimentConfig, random_state: int, *, adversarial: bool = False,
                    rows: tuple[int, int] | None = None):
    """An unfitted downstream classifier ``name`` with the config's settings.

    ``adversarial`` (CNN only) trains it with PGD at ``robust_adv_eps``. ``rows``:
    ``(rows of the arm's training set, real rows of the subsample)``; with
    ``cnn_equal_steps`` the CNN's epochs are scaled by :func:`equal_step_epochs`.
    """
    params = dict(config.classifier_params.get(name, {}))
    if name == "cnn":
        params = {"epochs": config.cnn_epochs, "batch_size": config.cnn_batch_size,
                  "device": config.device, **config.cnn_params, **params}
        if config.cnn_equal_steps and rows is not None:
            params["epochs"] = equal_step_epochs(params["epochs"], params["batch_size"], *rows)
        if adversarial:
            params["adversarial_training"] = PGD(eps=config.robust_adv_eps,
                                                 n_steps=config.robust_pgd_steps,
                                                 random_state=random_state)
    return make_named_classifier(name, random_state=random_state, **params)


def equal_step_epochs(epochs: int, batch_size: int, n_rows: int, n_real: int) -> int:
    """Epochs over ``n_rows`` rows that take about the optimizer steps of ``epochs`` over ``n_real``.

    >>> equal_step_epochs(20, 32, n_rows=1092, n_real=546)  # real + as many added rows
    10
    """
    per_epoch = math.ceil(n_rows / batch_size)
    return max(1, round(epochs * math.ceil(n_real / batch_size) / per_epoch))


def _scores(clf, X: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels and a full ``(N, n_classes)`` probability matrix (or None)."""
    pred = np.asarray(clf.predict(X)).astype(np.int64)
    proba = None
    if hasattr(clf, "predict_proba"):
        p = np.asarray(clf.predict_proba(X), np.float64)
        classes = np.asarray(getattr(clf, "classes_", np.arange(p.shape[1]))).astype(np.int64)
        proba = np.zeros((len(X), n_classes))
        proba[:, classes] = p  # classes missing from training score 0
    return pred, proba


# --------------------------------------------------------------------------- prepare
def prepare(seed: int, size: int | str, X_train: np.ndarray, y_train: np.ndarray,
            X_test: np.ndarray, y_test: np.ndarray, n_classes: int, config: ExperimentConfig,
            arms: tuple[str, ...], want_grids: bool) -> dict[str, Any]:
    """Per (seed, size): subsample, fit the generator, draw every synthetic set, check quality.

    Returns
    -------
    dict
        ``seed``, ``train_size`` (str), ``subsample`` (positions into ``y_train``),
        ``synthetic`` (:func:`~synthaug.experiment.arms.draw_name` to ``(images,
        labels)``), ``history``, ``quality``, ``memorisation``, ``gate`` (``{"passed":
        bool, "reasons": [str, ...]}`` from :func:`gate_verdict`), ``sample_grid``,
        ``neighbour_grid`` (None when not computed), ``seconds`` and ``notes``.
    """
    key = str(size)
    sub = subsample(y_train, size, np.random.default_rng(_seed(seed, "subsample", key)), n_classes)
    X_sub, y_sub = X_train[sub], y_train[sub]
    out: dict[str, Any] = {"seed": seed, "train_size": key, "subsample": sub, "synthetic": {},
                           "history": None, "quality": None, "memorisation": None, "gate": None,
                           "sample_grid": None, "neighbour_grid": None, "seconds": {}, "notes": []}
    if not config.needs_generator():
        return out
    t0 = time.perf_counter()
    gan = make_generator(config, _seed(seed, "gan", key), X_sub, y_sub)
    try:
        gan.fit(X_sub, y_sub)  # the training subsample only: never a val or test row
    except TrainingDivergedError as exc:
        # One diverged generator should not sink the whole study: its arms are left out
        # for this seed and size, and the report says so.
        log.warning("seed %d, train size %s: %s; its GAN arms are skipped.", seed, key, exc)
        out["notes"] = [f"seed {seed}, train size {key}: generator diverged, GAN arms skipped"]
        return out
    out["seconds"]["gan_fit"] = time.perf_counter() - t0
    history = getattr(gan, "history_", None)
    if isinstance(history, pd.DataFrame) and not history.empty:
        out["history"] = history.assign(seed=seed, train_size=key)

    # One set per draw name, in arm order; arms at the same ratio share it.
    t0 = time.perf_counter()
    for arm in arms:
        if not ARMS[arm].needs_generator:
            continue
        for ratio in ARMS[arm].grid(config):
            name = draw_name(ratio)
            if name not in out["synthetic"]:
                # The arms' samples go through the same selection as GANOverSampler's.
                out["synthetic"][name] = draw_selected(gan, synthetic_counts(y_sub, ratio),
                                                       _seed(seed, "sample", key, name),
                                                       select=config.gan_select,
                                                       pool_factor=config.gan_pool_factor,
                                                       copy_guard=config.gan_copy_guard,
                                                       real_X=X_sub, real_y=y_sub)
    out["seconds"]["gan_sample"] = time.perf_counter() - t0
    if config.quality or want_grids:
        per_class = max(6, math.ceil(config.quality_max_samples / n_classes))
        q_images, q_labels = draw_synthetic(gan, {int(c): per_class for c in np.unique(y_sub)},
                                            _seed(seed, "sample", key, "quality"))
        if want_grids:
            out["sample_grid"] = make_grid(q_images, q_labels, n_classes, n_per_row=10)
        if config.quality:
            t0 = time.perf_counter()
            out.update(_quality(seed, key, X_sub, y_sub, X_test, y_test, q_images, q_labels,
                                n_classes, config, want_grids))
            out["seconds"]["quality"] = time.perf_counter() - t0
    return out


def _accuracies(cnn, X: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    """``cnn``'s accuracy on ``(X, y)``: ``"all"`` and per class index."""
    pred = np.asarray(cnn.predict(X)).astype(np.int64)
    per_cls = per_class_accuracy(y, pred, n_classes)
    return {"all": float(np.mean(pred == y)), **{k: float(per_cls[k]) for k in range(n_classes)}}


def gate_verdict(quality: pd.DataFrame, n_classes: int, copy_ratio: float | None = None,
                 spread: float | None = None) -> dict[str, Any]:
    """The quality gate's verdict on one generator, from the ``class == "all"`` row of its table.

    :func:`~synthaug.quality.gate.judge` gets the samples' numbers (``trts_accuracy``,
    ``precision``, ``recall``, ``density``, ``coverage``, ``frechet_distance``, and
    ``n_real``, the test rows compared with) and the same numbers with the real training
    rows in place of the samples (the ``reference_*`` columns; ``accuracy`` is the CNN's
    accuracy on the real test rows). ``copy_ratio``: the memorisation check's
    ``distance_ratio``; ``spread``: :func:`~synthaug.metrics.spread_ratio` of the samples
    against the real training rows (None: not checked). ``reasons``: one line per failed
    check, then notes.
    """
    row = quality[quality["class"] == "all"].iloc[0]
    names = ("trts_accuracy", "precision", "recall", "density", "coverage", "frechet_distance")
    metrics = {**{n: float(row[n]) for n in names}, "n_real": int(row["n_real"])}
    if copy_ratio is not None:
        metrics["copy_ratio"] = float(copy_ratio)
    if spread is not None:
        metrics["spread"] = float(spread)
    reference = {n: float(row[f"reference_{n}"]) for n in names}
    reference["accuracy"] = reference["trts_accuracy"]
    passed, reasons = judge(metrics, reference, n_classes)
    return {"passed": bool(passed), "reasons": [str(r) for r in reasons]}


def _quality(seed, key, X_sub, y_sub, X_test, y_test, q_images, q_labels, n_classes, config,
             want_grids) -> dict:
    """Fidelity, TRTS, memorisation and the gate's verdict on one generator's samples.

    The ``reference_*`` columns measure the real training subsample the same way (its
    fidelity to the test rows; ``reference_trts_accuracy`` is the CNN's accuracy on the
    real test rows): what a generator that reproduced its training images would score,
    the yardstick of the gate. These numbers use the held-out test rows, as every
    quality number does, and are only reported: nothing here feeds back into training.
    """
    cnn = make_classifier("cnn", config, _seed(seed, "quality_cnn", key))
    cnn.fit(X_sub, y_sub)  # feature extractor: real training rows only
    real_feats = np.asarray(cnn.transform(X_test))
    fake_feats = np.asarray(cnn.transform(q_images))
    fid = fidelity_report(real_feats, y_test, fake_feats, q_labels, k=5)
    # TRTS: a classifier trained on real data, tested on synthetic (per class).
    trts = _accuracies(cnn, q_images, q_labels, n_classes)
    fid["trts_accuracy"] = [trts.get(c, np.nan) for c in fid["class"]]
    ref = fidelity_report(real_feats, y_test, np.asarray(cnn.transform(X_sub)), y_sub, k=5)
    ref["trts_accuracy"] = ref["class"].map(_accuracies(cnn, X_test, y_test, n_classes))
    ref = ref.set_index("class")
    for name in ("frechet_distance", "precision", "recall", "density", "coverage", "trts_accuracy"):
        fid[f"reference_{name}"] = fid["class"].map(ref[name]).astype(float)
    fid.insert(0, "train_size", key)
    fid.insert(0, "seed", seed)
    fid["class"] = fid["class"].astype(str)
    summary, table = memorisation_report(q_images, X_sub, X_test)
    spread, _ = spread_ratio(q_images, q_labels, X_sub, y_sub)
    gate = gate_verdict(fid, n_classes, copy_ratio=summary["distance_ratio"], spread=spread)
    fid["gate_passed"] = gate["passed"]
    fid["gate_reasons"] = "; ".join(gate["reasons"])
    mem = {"seed": seed, "train_size": key, **summary, "spread": spread}
    out = {"quality": fid, "memorisation": mem, "gate": gate}
    if want_grids:
        syn = table[table["set"] == "synthetic"].sort_values("nn_distance").head(_N_NEIGHBOUR_PAIRS)
        pairs = np.stack([np.stack([q_images[i], X_sub[j]])
                          for i, j in zip(syn["index"], syn["nn_train_index"])])  # (k, 2, C, H, W)
        flat = pairs.reshape(-1, *pairs.shape[2:])
        labels = np.repeat(np.arange(len(pairs)), 2)
        out["neighbour_grid"] = make_grid(flat, labels, len(pairs), n_per_row=2)
    return out


# --------------------------------------------------------------------------- classify
def classify(seed: int, key: str, arm: str, ratio: float | None, X_sub, y_sub, synthetic: dict,
             X_test, y_test, robust_rows: np.ndarray, n_classes: int, config: ExperimentConfig
             ) -> tuple[list[dict], list[pd.DataFrame]]:
    """Train every classifier of one (seed, size, arm, ratio) and score it on the real test split.

    Returns
    -------
    rows : list of dict
        One results row per classifier (empty when the arm is skipped).
    robust : list of DataFrame
        Robust scores per classifier (without the clean rows), when robustness is on.
    """
    inputs = ArmInputs(seed, key, ratio, X_sub, y_sub, synthetic, config)
    built = training_set(arm, inputs)
    if built is None:
        return [], []
    X, y, n_syn = built
    weights = sample_weights(arm, inputs, len(X))  # None unless synthetic_weight != 1
    entry = ARMS[arm]
    names = ["cnn"] if entry.adversarial else list(config.classifiers)
    if "cnn" in names:  # the CNN first: sklearn models borrow it as the transfer-attack surrogate
        names.remove("cnn")
        names.insert(0, "cnn")
    reported_ratio = entry.reported(config, ratio)
    condition = {"seed": seed, "arm": arm, "ratio": reported_ratio, "train_size": key}
    rows, robust = [], []
    surrogate = None
    for name in names:
        clf = make_classifier(name, config, _seed(seed, "classifier", key, name),
                              adversarial=entry.adversarial, rows=(len(X), len(y_sub)))
        if weights is None:
            clf.fit(X, y)  # unweighted: exactly as before synthetic_weight existed
        else:
            clf.fit(X, y, sample_weight=weights)
        pred, proba = _scores(clf, X_test, n_classes)
        m = classification_metrics(y_test, pred, proba, n_classes=n_classes)
        rows.append({**condition, "classifier": name, "n_train_real": len(X) - n_syn,
                     "n_train_synthetic": n_syn, **{k: m[k] for k in METRICS},
                     "synthetic_weight": config.synthetic_weight if entry.needs_generator else np.nan})
        if not config.robustness:
            continue
        if name == "cnn" and not np.array_equal(clf.classes_, np.arange(n_classes)):
            # Logit columns would not match label indices (a class missing from training).
            log.warning("robustness skipped for %s/%s seed %d: the CNN saw only classes %s.",
                        arm, name, seed, list(clf.classes_))
            continue
        spec, transfer_from = config.robustness_spec, None
        if name == "cnn":
            model = surrogate = clf.model_
        elif config.robust_transfer and surrogate is not None:
            model, transfer_from = clf, surrogate  # transfer attacks crafted on this arm's CNN
        else:
            model, spec = clf, dataclasses.replace(spec, attacks=())  # corruptions only
        df = _robust_scores(model, X_test[robust_rows], y_test[robust_rows], spec, transfer_from,
                            _seed(seed, "robustness", key))
        df = df[df["kind"] != "clean"]  # clean accuracy is already in the results table
        robust.append(df.assign(**condition, classifier=name))
    return rows, robust


def _robust_scores(model, X: np.ndarray, y: np.ndarray, spec: RobustnessSpec, surrogate,
                   random_state: int) -> pd.DataFrame:
    """The attack engine's tidy robust scores of ``model`` on ``(X, y)``."""
    return evaluate_robustness(model, X, y, spec, surrogate=surrogate, random_state=random_state)
