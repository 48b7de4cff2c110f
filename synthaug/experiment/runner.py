"""``run_experiment``: does GAN augmentation help a downstream classifier, honestly measured?

The runner works in memory and writes no files (the CLI or a script calls
:meth:`Report.write`). Its order of work:

1. **Splits.** The dataset's own train/val/test splits when it has a test split, else a
   stratified split made once with ``config.split_seed``. Every number is measured on
   the real test split; the validation split is set aside and never trained on.
2. **Low-data subsample.** Per seed and training size, ``n`` training images per class
   (a fresh subsample per seed, the same for every arm of that seed).
3. **Generators** (joblib jobs, one per seed x training size). A
   :class:`~synthaug.generators.ConditionalGAN` is fitted on that training subsample
   only, never on a validation or test row, and every synthetic set of that seed and
   size is drawn from it. The quality and memorisation checks run here too.
4. **Classifier jobs** (joblib jobs, one per seed x training size x arm x ratio; each
   trains the requested classifiers on the arm's training set and scores them on the
   real test split, plus robust accuracy when enabled).

With a :class:`~synthaug.experiment.cache.JobCache` (the CLI's ``--resume``), every job
of phases 3 and 4 is stored as it finishes and loaded instead of rerun; that is the
runner's only I/O, and only when the caller hands it a cache.

Every random draw is seeded from ``(seed, training size, what)`` with a
:class:`numpy.random.SeedSequence`, never from execution order, so ``n_jobs=1`` and
``n_jobs=2`` give identical results, and the joblib backend can be swapped (Dask, Ray)
without touching this code. A classifier's seed depends on the seed, training size and
classifier name but not on the arm: arms of one seed differ only in their training data
(common random numbers), which is what makes the paired comparison with ``real`` sharp.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, InvalidDataError, TrainingDivergedError
from ..data.dataset import ImageDataset
from .cache import JobCache
from .config import ADV_ARMS, ExperimentConfig
from .report import METRICS, Report, summarize_results, summarize_robustness

log = logging.getLogger(__name__)

__all__ = ["run_experiment", "make_splits", "derive_seed"]

# How many nearest synthetic/training pairs the memorisation grid shows.
_N_NEIGHBOUR_PAIRS = 8


# --------------------------------------------------------------------------- seeding
def derive_seed(seed: int, *keys: Any) -> int:
    """A 32-bit seed derived from ``seed`` and a tuple of keys (stable across processes).

    Examples
    --------
    >>> derive_seed(0, "gan", "10") == derive_seed(0, "gan", "10")
    True
    >>> derive_seed(0, "gan", "10") != derive_seed(1, "gan", "10")
    True
    """
    words = [int(seed)] + [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


# --------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Splits:
    """Row indices (into the dataset) of each real split, and where they came from."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    origin: str


def make_splits(dataset: ImageDataset, config: ExperimentConfig) -> Splits:
    """The real train/val/test rows: the dataset's own splits, or a stratified split.

    Synthetic rows already in ``dataset`` are dropped (with a warning): an evaluation
    must train its baseline and test on real images only.

    Raises
    ------
    InvalidDataError
        The dataset has too few images per class for a stratified split.
    """
    real = ~dataset.is_synthetic
    if not real.all():
        log.warning("%s: ignoring %d synthetic rows; the experiment uses real rows only.",
                    dataset.name, int((~real).sum()))
    if dataset.split is not None and "test" in dataset.splits:
        train = np.flatnonzero(real & (dataset.split == "train"))
        val = np.flatnonzero(real & (dataset.split == "val"))
        test = np.flatnonzero(real & (dataset.split == "test"))
        if len(train) == 0:
            raise InvalidDataError(f"{dataset.name}: has a test split but no training rows.")
        return Splits(train, val, test, "the dataset's own splits")
    from sklearn.model_selection import train_test_split

    rows = np.flatnonzero(real)
    labels = dataset.labels[rows]
    counts = np.bincount(labels, minlength=dataset.n_classes)
    present = counts[counts > 0]
    if present.min() < 3:
        raise InvalidDataError(
            f"{dataset.name}: class {dataset.class_names[int(np.flatnonzero(counts == present.min())[0])]!r} "
            f"has {present.min()} images; a stratified train/test split needs at least 3 per class. "
            "Add images or pass a dataset with its own train/test splits."
        )
    try:
        rest, test = train_test_split(rows, test_size=config.test_fraction, stratify=labels,
                                      random_state=config.split_seed)
        val = np.zeros(0, np.int64)
        if config.val_fraction > 0:
            frac = config.val_fraction / (1.0 - config.test_fraction)
            rest, val = train_test_split(rest, test_size=frac, stratify=dataset.labels[rest],
                                         random_state=config.split_seed)
    except ValueError as exc:
        raise InvalidDataError(
            f"{dataset.name}: cannot make a stratified split with test_fraction="
            f"{config.test_fraction} and val_fraction={config.val_fraction} ({exc}). "
            "Use larger fractions or more images per class."
        ) from None
    origin = (f"stratified split, test_fraction={config.test_fraction:g}, "
              f"val_fraction={config.val_fraction:g}, split_seed={config.split_seed}")
    return Splits(np.sort(rest), np.sort(val), np.sort(test), origin)


def _subsample(labels: np.ndarray, n_per_class: int | str, rng: np.random.Generator,
               n_classes: int) -> np.ndarray:
    """Positions (into ``labels``) of ``n_per_class`` rows per class, sorted."""
    if n_per_class == "all":
        return np.arange(len(labels))
    keep = []
    for k in range(n_classes):
        rows = np.flatnonzero(labels == k)
        if len(rows) == 0:
            continue
        if len(rows) < n_per_class:
            log.warning("class %d has only %d training images (< %d requested); using all of them.",
                        k, len(rows), n_per_class)
        keep.append(rng.choice(rows, size=min(n_per_class, len(rows)), replace=False))
    return np.sort(np.concatenate(keep))


def _stratified_subset(labels: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """At most ``max_n`` positions, stratified, fixed by ``seed`` (for robustness scoring)."""
    n = len(labels)
    if max_n is None or n <= max_n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(np.arange(n), train_size=max_n, stratify=labels, random_state=seed)
    except ValueError:
        keep = np.random.default_rng(seed).choice(n, size=max_n, replace=False)
    return np.sort(keep)


# --------------------------------------------------------------------------- building blocks
def _counts_to_labels(counts: dict) -> np.ndarray:
    return np.concatenate([np.full(int(v), int(k), np.int64) for k, v in sorted(counts.items())]
                          or [np.zeros(0, np.int64)])


def _make_generator(config: ExperimentConfig, random_state: int):
    from ..generators import ConditionalGAN

    return ConditionalGAN(
        model=config.gan_model,
        strategy=config.gan_strategy,
        loss=config.gan_loss,
        epochs=config.gan_epochs,
        batch_size=config.gan_batch_size,
        device=config.device,
        random_state=random_state,
        progress=False,
        **config.gan_params,
    )


def _sample(gan, labels: np.ndarray, random_state: int) -> np.ndarray:
    """``(len(labels), C, H, W)`` synthetic images for the requested labels."""
    if len(labels) == 0:
        return np.zeros((0, *gan.image_shape_), np.float32)
    out = gan.sample(labels, random_state=random_state)  # (n, C, H, W)
    return np.clip(np.asarray(out, np.float32), 0.0, 1.0)


def _make_classifier(name: str, config: ExperimentConfig, random_state: int, *,
                     adversarial: bool = False):
    from ..classifiers import make_classifier

    params = dict(config.classifier_params.get(name, {}))
    if name == "cnn":
        params = {"epochs": config.cnn_epochs, "batch_size": config.cnn_batch_size,
                  "device": config.device, **config.cnn_params, **params}
        if adversarial:
            from ..attacks import PGD

            params["adversarial_training"] = PGD(eps=config.robust_adv_eps,
                                                 n_steps=config.robust_pgd_steps,
                                                 random_state=random_state)
    return make_classifier(name, random_state=random_state, **params)


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


def _smote(X: np.ndarray, y: np.ndarray, n_extra: dict, k_neighbors: int, random_state: int
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """SMOTE rows (pixel space) adding ``n_extra[c]`` images to class ``c``; None without imblearn."""
    try:
        from imblearn.over_sampling import SMOTE
    except ImportError:
        return None
    counts = np.bincount(y)
    shape = X.shape[1:]
    flat = X.reshape(len(X), -1)
    strategy = {int(c): int(counts[c] + n) for c, n in n_extra.items() if n > 0 and counts[c] >= 2}
    extra_x, extra_y = [], []
    rng = np.random.default_rng(random_state)
    for c, n in n_extra.items():
        if n > 0 and counts[c] == 1:  # SMOTE needs two points to interpolate: copy the one
            log.warning("smote: class %s has a single training image; repeating it %d times.", c, n)
            extra_x.append(np.repeat(flat[y == c], n, axis=0))
            extra_y.append(np.full(n, c, np.int64))
    if strategy:
        # Lower k for tiny classes: SMOTE needs more than k samples in each class it grows.
        k = max(1, min(k_neighbors, min(int(counts[c]) for c in strategy) - 1))
        if k < k_neighbors:
            log.info("smote: k_neighbors lowered from %d to %d for small classes.", k_neighbors, k)
        sm = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=int(rng.integers(2**31 - 1)))
        xr, yr = sm.fit_resample(flat, y)
        extra_x.append(xr[len(X):])  # imblearn appends the new rows after the originals
        extra_y.append(np.asarray(yr[len(X):], np.int64))
    if not extra_x:
        return np.zeros((0, *shape), np.float32), np.zeros(0, np.int64)
    xs = np.clip(np.concatenate(extra_x), 0.0, 1.0).astype(np.float32).reshape(-1, *shape)
    return xs, np.concatenate(extra_y)


def _n_synthetic(y: np.ndarray, *, ratio: float | None = None,
                 balance: bool = False) -> dict[int, int]:
    from ..over_sampling import n_synthetic_per_class

    counts = n_synthetic_per_class(y, ratio=ratio, balance=balance)
    return {int(k): int(v) for k, v in counts.items()}


# --------------------------------------------------------------------------- phase 1
def _prepare(seed: int, size: int | str, X_train: np.ndarray, y_train: np.ndarray,
             X_test: np.ndarray, y_test: np.ndarray, n_classes: int, config: ExperimentConfig,
             arms: tuple[str, ...], want_grids: bool) -> dict:
    """Per (seed, size): subsample, fit the generator, draw every synthetic set, check quality."""
    key = str(size)
    sub = _subsample(y_train, size, np.random.default_rng(derive_seed(seed, "subsample", key)), n_classes)
    X_sub, y_sub = X_train[sub], y_train[sub]
    out: dict[str, Any] = {"seed": seed, "train_size": key, "subsample": sub, "synthetic": {},
                           "history": None, "quality": None, "memorisation": None,
                           "sample_grid": None, "neighbour_grid": None, "seconds": {}, "notes": []}
    if not config.needs_generator():
        return out
    t0 = time.perf_counter()
    gan = _make_generator(config, derive_seed(seed, "gan", key))
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

    def draw(name: str, counts: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        labels = _counts_to_labels(counts)
        return _sample(gan, labels, derive_seed(seed, "sample", key, name)), labels

    if "gan" in arms:
        for r in config.ratios:
            out["synthetic"][("gan", r)] = draw(f"ratio={r!r}", _n_synthetic(y_sub, ratio=r))
    if "gan_balance" in arms:
        out["synthetic"][("gan_balance", None)] = draw("balance", _n_synthetic(y_sub, balance=True))
    if any(a in arms for a in ("gan_classic", "tstr", "adv_gan")):
        mix = config.mix_ratio
        if ("gan", mix) in out["synthetic"]:
            out["synthetic"][("mix", mix)] = out["synthetic"][("gan", mix)]
        else:
            out["synthetic"][("mix", mix)] = draw(f"ratio={mix!r}", _n_synthetic(y_sub, ratio=mix))
    if config.quality or want_grids:
        per_class = max(6, math.ceil(config.quality_max_samples / n_classes))
        classes = np.unique(y_sub)
        q_labels = np.repeat(classes, per_class)
        q_images = _sample(gan, q_labels, derive_seed(seed, "sample", key, "quality"))
        if want_grids:
            from ..data.grid import make_grid

            out["sample_grid"] = make_grid(q_images, q_labels, n_classes, n_per_row=10)
        if config.quality:
            t0 = time.perf_counter()
            out.update(_quality(seed, key, X_sub, y_sub, X_test, y_test, q_images, q_labels,
                                n_classes, config, want_grids))
            out["seconds"]["quality"] = time.perf_counter() - t0
    return out


def _quality(seed, key, X_sub, y_sub, X_test, y_test, q_images, q_labels, n_classes, config,
             want_grids) -> dict:
    """Fidelity, TRTS and memorisation of one generator's samples."""
    from ..metrics import fidelity_report, memorisation_report, per_class_accuracy

    cnn = _make_classifier("cnn", config, derive_seed(seed, "quality_cnn", key))
    cnn.fit(X_sub, y_sub)  # feature extractor: real training rows only
    real_feats = np.asarray(cnn.transform(X_test))
    fake_feats = np.asarray(cnn.transform(q_images))
    fid = fidelity_report(real_feats, y_test, fake_feats, q_labels, k=5)
    # TRTS: a classifier trained on real data, tested on synthetic (per class).
    pred = np.asarray(cnn.predict(q_images)).astype(np.int64)
    per_cls = per_class_accuracy(q_labels, pred, n_classes)
    trts = {"all": float(np.mean(pred == q_labels))}
    trts.update({k: float(per_cls[k]) for k in range(n_classes)})
    fid["trts_accuracy"] = [trts.get(c, np.nan) for c in fid["class"]]
    fid.insert(0, "train_size", key)
    fid.insert(0, "seed", seed)
    fid["class"] = fid["class"].astype(str)
    summary, table = memorisation_report(q_images, X_sub, X_test)
    mem = {"seed": seed, "train_size": key, **summary}
    out = {"quality": fid, "memorisation": mem}
    if want_grids:
        from ..data.grid import make_grid

        syn = table[table["set"] == "synthetic"].sort_values("nn_distance").head(_N_NEIGHBOUR_PAIRS)
        pairs = np.stack([np.stack([q_images[i], X_sub[j]])
                          for i, j in zip(syn["index"], syn["nn_train_index"])])  # (k, 2, C, H, W)
        flat = pairs.reshape(-1, *pairs.shape[2:])
        labels = np.repeat(np.arange(len(pairs)), 2)
        out["neighbour_grid"] = make_grid(flat, labels, len(pairs), n_per_row=2)
    return out


# --------------------------------------------------------------------------- phase 2
def _training_set(arm: str, ratio: float | None, seed: int, key: str, X_sub, y_sub, syn: dict,
                  n_classes: int, config: ExperimentConfig) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The arm's training images, labels and number of non-real rows (None: skip arm)."""
    def classic(X):
        from ..data.augment import classic_augment

        aug = classic_augment(X, n_copies=config.classic_copies, flips=config.flips,
                              random_state=derive_seed(seed, "classic", key))
        return aug, np.tile(y_sub, config.classic_copies)

    def stack(*parts):
        xs = [p[0] for p in parts if len(p[0])]
        ys = [p[1] for p in parts if len(p[1])]
        return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)

    real = (X_sub, y_sub)
    needs = {"gan": ("gan", ratio), "gan_balance": ("gan_balance", None)}.get(
        arm, ("mix", config.mix_ratio))
    if arm in ("gan", "gan_balance", "gan_classic", "tstr", "adv_gan") and needs not in syn:
        return None  # this seed's generator diverged
    if arm in ("real", "adv_real"):
        return X_sub, y_sub, 0
    if arm == "classic":
        aug = classic(X_sub)
        return (*stack(real, aug), len(aug[0]))
    if arm == "smote":
        extra = _smote(X_sub, y_sub, _n_synthetic(y_sub, ratio=ratio),
                       config.smote_k_neighbors, derive_seed(seed, "smote", key))
        if extra is None:
            return None
        return (*stack(real, extra), len(extra[0]))
    if arm == "gan":
        s = syn[("gan", ratio)]
        return (*stack(real, s), len(s[0]))
    if arm == "gan_balance":
        s = syn[("gan_balance", None)]
        return (*stack(real, s), len(s[0]))
    s = syn[("mix", config.mix_ratio)]
    if arm == "gan_classic":
        aug = classic(X_sub)
        return (*stack(real, aug, s), len(aug[0]) + len(s[0]))
    if arm == "tstr":
        return s[0], s[1], len(s[0])
    if arm == "adv_gan":
        return (*stack(real, s), len(s[0]))
    raise ConfigError(f"unknown arm {arm!r}.")  # pragma: no cover - validated by the config


def _classify(seed: int, key: str, arm: str, ratio: float | None, X_sub, y_sub, synthetic: dict,
              X_test, y_test, robust_rows: np.ndarray, n_classes: int, config: ExperimentConfig
              ) -> tuple[list[dict], list[pd.DataFrame]]:
    """Train every classifier of one (seed, size, arm, ratio) and score it on the real test split."""
    built = _training_set(arm, ratio, seed, key, X_sub, y_sub, synthetic, n_classes, config)
    if built is None:
        return [], []
    X, y, n_syn = built
    n_real = len(X) - n_syn if arm != "tstr" else 0
    adversarial = arm in ADV_ARMS
    names = ["cnn"] if adversarial else list(config.classifiers)
    if "cnn" in names:  # the CNN first: sklearn models borrow it as the transfer-attack surrogate
        names.remove("cnn")
        names.insert(0, "cnn")
    rows, robust = [], []
    surrogate = None
    reported_ratio = _reported_ratio(arm, ratio, config)
    for name in names:
        clf = _make_classifier(name, config, derive_seed(seed, "classifier", key, name),
                               adversarial=adversarial)
        clf.fit(X, y)
        pred, proba = _scores(clf, X_test, n_classes)
        from ..metrics import classification_metrics

        m = classification_metrics(y_test, pred, proba, n_classes=n_classes)
        rows.append({"seed": seed, "arm": arm, "ratio": reported_ratio, "train_size": key,
                     "classifier": name, "n_train_real": n_real, "n_train_synthetic": n_syn,
                     **{k: m[k] for k in METRICS}})
        if config.robustness:
            from ..attacks import evaluate_robustness

            Xr, yr = X_test[robust_rows], y_test[robust_rows]
            common = dict(eps_grid=config.robust_eps_grid, l2_eps_grid=config.robust_l2_eps_grid,
                          corruptions=config.robust_corruptions,
                          severities=config.robust_severities, pgd_steps=config.robust_pgd_steps,
                          random_state=derive_seed(seed, "robustness", key))
            if name == "cnn" and not np.array_equal(clf.classes_, np.arange(n_classes)):
                # Logit columns would not match label indices (a class missing from training).
                log.warning("robustness skipped for %s/%s seed %d: the CNN saw only classes %s.",
                            arm, name, seed, list(clf.classes_))
                continue
            if name == "cnn":
                surrogate = clf.model_
                df = evaluate_robustness(clf.model_, Xr, yr, attacks=config.robust_attacks, **common)
            else:
                transfer = config.robust_transfer and surrogate is not None
                df = evaluate_robustness(clf, Xr, yr, attacks=config.robust_attacks if transfer else (),
                                         surrogate=surrogate if transfer else None, **common)
            df = df[df["kind"] != "clean"]  # clean accuracy is already in the results table
            robust.append(df.assign(seed=seed, arm=arm, ratio=reported_ratio, train_size=key,
                                    classifier=name))
    return rows, robust


def _reported_ratio(arm: str, ratio: float | None, config: ExperimentConfig) -> float:
    if arm in ("real", "adv_real"):
        return 0.0
    if arm == "classic":
        return float(config.classic_copies)
    if arm == "gan_balance":
        return float("nan")
    return float(ratio if ratio is not None else config.mix_ratio)


def _arm_ratios(arm: str, config: ExperimentConfig) -> list[float | None]:
    if arm == "gan":
        return list(config.ratios)
    if arm in ("smote", "gan_classic", "tstr", "adv_gan"):
        return [config.mix_ratio]
    return [None]


def _stored(cache: JobCache | None, key: tuple, func, *args):
    """``func(*args)``, stored in ``cache`` under ``key`` as soon as it finishes."""
    out = func(*args)
    if cache is not None:
        cache.save(key, out)
    return out


# --------------------------------------------------------------------------- entry point
def run_experiment(dataset: ImageDataset | str | None, config: ExperimentConfig, *,
                   progress: bool = False, cache: JobCache | None = None) -> Report:
    """Run every arm over every seed and training size; return the :class:`Report`.

    Parameters
    ----------
    dataset : ImageDataset, str or None
        The data. A string is loaded with :func:`~synthaug.data.load_dataset` (with
        ``config.image_size``); ``None`` loads ``config.dataset``.
    config : ExperimentConfig
        What to run (arms, ratios, seeds, training sizes, models, robustness, quality).
    progress : bool, default False
        Show a tqdm bar over the job grid on stderr.
    cache : JobCache, optional
        Each finished job is stored there, and jobs already stored are loaded instead
        of run, so an interrupted study resumes where it stopped with identical results.
        The caller makes sure the cache belongs to this configuration and data (the CLI
        checks its ``run.json``). ``info["n_jobs_reused"]`` counts the loaded jobs.

    Returns
    -------
    Report
        Tidy results, summary with paired comparisons against ``real``, robustness,
        quality, memorisation, GAN histories and sample grids. Nothing is written.

    Notes
    -----
    Arms: ``real`` (real training images only), ``classic`` (plus shifted, rotated,
    noised copies), ``smote`` (plus SMOTE interpolations in pixel space, as many per
    class as the ``mix_ratio`` GAN arm; skipped with a warning without imbalanced-learn),
    ``gan`` (plus synthetic images at each ratio), ``gan_balance`` (synthetic images
    top every class up to the largest), ``gan_classic`` (classic + synthetic), ``tstr``
    (synthetic only: the Classification Accuracy Score of Ravuri & Vinyals, 2019),
    and with robustness ``adv_real`` / ``adv_gan`` (PGD adversarial training, CNN only).

    With robustness, sklearn classifiers are attacked by transfer: adversarial examples
    crafted on the CNN of the same arm and seed (``kind="transfer"``); without a CNN in
    ``config.classifiers`` (or with ``robust_transfer = false``) they get corruption
    scores only.

    Examples
    --------
    >>> from synthaug.data.toy import make_toy_images
    >>> cfg = ExperimentConfig(seeds=(0,), classifiers=("logreg",), arms=("real", "classic"),
    ...                        quality=False)
    >>> report = run_experiment(make_toy_images(12, random_state=0), cfg)
    >>> sorted(report.results["arm"].unique())
    ['classic', 'real']
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"config must be an ExperimentConfig, got {type(config).__name__}.")
    if dataset is None or isinstance(dataset, str):
        source = dataset if dataset is not None else config.dataset
        if source is None:
            raise ConfigError("no dataset: pass one to run_experiment or set `dataset` in the config.")
        from ..data import load_dataset

        dataset = load_dataset(source, image_size=config.image_size)
    if not isinstance(dataset, ImageDataset):
        raise InvalidDataError(f"dataset must be an ImageDataset or a source string, got {type(dataset).__name__}.")
    t_start = time.perf_counter()
    arms = config.resolved_arms()
    notes: list[str] = []
    if "smote" in arms:
        try:
            import imblearn  # noqa: F401
        except ImportError:
            log.warning("imbalanced-learn is not installed: skipping the smote arm "
                        "(pip install 'synthaug[imblearn]').")
            notes.append("smote arm skipped: imbalanced-learn is not installed")
            arms = tuple(a for a in arms if a != "smote")
    splits = make_splits(dataset, config)
    K = dataset.n_classes
    X_train, y_train = dataset.images[splits.train], dataset.labels[splits.train]
    X_test, y_test = dataset.images[splits.test], dataset.labels[splits.test]
    robust_rows = _stratified_subset(y_test, config.robust_max_test, config.split_seed)
    log.info("%s: %d train / %d val / %d test rows (%s).", dataset.name, len(splits.train),
             len(splits.val), len(splits.test), splits.origin)

    grid_prep = [(seed, size) for size in config.train_sizes for seed in config.seeds]
    grid_jobs = [(seed, size, arm, ratio) for size in config.train_sizes for seed in config.seeds
                 for arm in arms for ratio in _arm_ratios(arm, config)]
    bar = tqdm(total=len(grid_prep) + len(grid_jobs), disable=not progress, file=sys.stderr,
               desc="experiment", unit="job")
    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator")
    first_seed = config.seeds[0]
    preps: dict[tuple[int, str], dict] = {}
    n_reused = 0
    bar.set_postfix_str("generators")
    todo = []
    for seed, size in grid_prep:
        key = ("prep", seed, str(size))
        if cache is not None and key in cache:
            preps[(seed, str(size))] = cache.load(key)
            n_reused += 1
            bar.update(1)
        else:
            todo.append((seed, size))
    for prep in parallel(
        delayed(_stored)(cache, ("prep", seed, str(size)), _prepare, seed, size, X_train, y_train,
                         X_test, y_test, K, config, arms, seed == first_seed)
        for seed, size in todo
    ):
        preps[(prep["seed"], prep["train_size"])] = prep
        bar.update(1)

    bar.set_postfix_str("classifiers")
    rows: list[dict] = []
    robust: list[pd.DataFrame] = []

    def job(seed, size, arm, ratio):
        prep = preps[(seed, str(size))]
        sub = prep["subsample"]
        return delayed(_stored)(cache, ("job", seed, str(size), arm, ratio), _classify,
                                seed, str(size), arm, ratio, X_train[sub], y_train[sub],
                                prep["synthetic"], X_test, y_test, robust_rows, K, config)

    # Results are gathered in grid order, whether a job ran now or was loaded.
    done: dict[tuple, tuple[list[dict], list[pd.DataFrame]]] = {}
    pending = []
    for seed, size, arm, ratio in grid_jobs:
        key = ("job", seed, str(size), arm, ratio)
        if cache is not None and key in cache:
            done[key] = cache.load(key)
            n_reused += 1
            bar.update(1)
        else:
            pending.append((seed, size, arm, ratio))
    for (seed, size, arm, ratio), result in zip(pending, parallel(job(*j) for j in pending)):
        done[("job", seed, str(size), arm, ratio)] = result
        bar.update(1)
    bar.close()
    for seed, size, arm, ratio in grid_jobs:
        r, rb = done[("job", seed, str(size), arm, ratio)]
        rows.extend(r)
        robust.extend(rb)
    balance_rows = [r for r in rows if r["arm"] == "gan_balance"]
    if balance_rows and all(r["n_train_synthetic"] == 0 for r in balance_rows):
        notes.append("gan_balance added no images: the training classes are already balanced, "
                     "so it equals real")
    if "smote" in arms and not any(r["arm"] == "smote" for r in rows):
        notes.append("smote arm skipped: imbalanced-learn could not be imported in the workers")

    results = pd.DataFrame(rows, columns=["seed", "arm", "ratio", "train_size", "classifier",
                                          "n_train_real", "n_train_synthetic", *METRICS])
    robustness = pd.DataFrame()
    if robust:
        robustness = pd.concat(robust, ignore_index=True)
        lead = ["seed", "arm", "ratio", "train_size", "classifier"]
        robustness = robustness[lead + [c for c in robustness.columns if c not in lead]]
    prep_list = [preps[(seed, str(size))] for seed, size in grid_prep]
    histories = [p["history"] for p in prep_list if p["history"] is not None]
    qualities = [p["quality"] for p in prep_list if p["quality"] is not None]
    mems = [p["memorisation"] for p in prep_list if p["memorisation"] is not None]
    for p in prep_list:
        notes.extend(p["notes"])
    timings = {"total": time.perf_counter() - t_start}
    for p in prep_list:
        for k, v in p["seconds"].items():
            timings[k] = timings.get(k, 0.0) + v
    info = {
        "dataset": dataset.name if config.dataset is None else config.dataset,
        "class_names": list(dataset.class_names),
        "image_shape": list(dataset.image_shape),
        "split_sizes": {"train": int(len(splits.train)), "val": int(len(splits.val)),
                        "test": int(len(splits.test))},
        "split_origin": splits.origin,
        "n_robustness_test": int(len(robust_rows)) if config.robustness else 0,
        "arms": list(arms),
        "seconds": timings["total"],
        "n_jobs_reused": n_reused,
        "timings": timings,
        "notes": notes,
    }
    return Report(
        config=config,
        results=results,
        summary=summarize_results(results),
        robustness=robustness,
        robustness_summary=summarize_robustness(robustness) if not robustness.empty else pd.DataFrame(),
        quality=pd.concat(qualities, ignore_index=True) if qualities else pd.DataFrame(),
        memorisation=pd.DataFrame(mems),
        gan_history=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
        sample_grids={p["train_size"]: p["sample_grid"] for p in prep_list if p["sample_grid"] is not None},
        neighbour_grids={p["train_size"]: p["neighbour_grid"] for p in prep_list
                         if p["neighbour_grid"] is not None},
        info=info,
    )
