"""``run_experiment``: does GAN augmentation help a downstream classifier, honestly measured?

The runner works in memory and writes no files (the CLI or a script calls
:meth:`Report.write`). Its order of work:

1. **Splits** (:mod:`~synthaug.experiment.splits`). The dataset's own train/val/test
   splits when it has a test split, else a stratified split made once with
   ``config.split_seed``. Every number is measured on the real test split; the
   validation split is set aside and never trained on.
2. **Low-data subsample.** Per seed and training size, ``n`` training images per class
   (a fresh subsample per seed, the same for every arm of that seed).
3. **Generators** (:func:`~synthaug.experiment.jobs.prepare`, one joblib job per seed x
   training size). A :class:`~synthaug.generators.ConditionalGAN` is fitted on that
   training subsample only, never on a validation or test row, and every synthetic set
   of that seed and size is drawn from it. The quality and memorisation checks run
   here too, with the quality gate's verdict on the generator's samples (reported in
   the ``gate_passed`` / ``gate_reasons`` columns; it never changes what is trained).
4. **Classifier jobs** (:func:`~synthaug.experiment.jobs.classify`, one joblib job per
   seed x training size x arm x ratio; each trains the requested classifiers on the
   arm's training set, built as its entry in :data:`~synthaug.experiment.arms.ARMS`
   says, and scores them on the real test split, plus robust accuracy when enabled).

With a :class:`~synthaug.experiment.cache.JobCache` (the CLI's ``--resume``), every job
of phases 3 and 4 is stored as it finishes and loaded instead of rerun; that is the
runner's only I/O, and only when the caller hands it a cache.

Every random draw is seeded from ``(seed, training size, what)`` with
:func:`~synthaug.seeding.derive_seed`, never from execution order, so ``n_jobs=1`` and
``n_jobs=2`` give identical results, and so do the Dask and Ray backends
(:mod:`~synthaug.experiment.backends`; the jobs go through joblib in
:mod:`~synthaug.experiment.execution`, on whichever backend is active). A classifier's
seed depends on the seed, training size and classifier name but not on the arm: arms of one seed differ only in their training data
(common random numbers), which is what makes the paired comparison with ``real`` sharp.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import time
import uuid
from typing import Any, Callable, Iterable

import pandas as pd
from tqdm.auto import tqdm

from ..data import load_dataset
from ..data.dataset import ImageDataset
from ..exceptions import ConfigError, InvalidDataError
from .arms import ARMS
from .backends import use_backend
from .cache import JobCache
from .config import ExperimentConfig
from .execution import Task, caller_set_parallel, run_tasks
from .jobs import classify, prepare
from .report import METRICS, Report, summarize_results, summarize_robustness
from .splits import make_splits, stratified_subset

log = logging.getLogger(__name__)

__all__ = ["run_experiment", "make_splits"]

#: The results table's columns. The last three: ``synthetic_weight``, the loss weight of
#: the generator's rows relative to the other rows (NaN for arms without a generator);
#: ``gate_passed`` (True/False) and ``gate_reasons`` (failed checks, then notes,
#: "; "-joined; "" when passed without notes): the quality gate's verdict on the
#: generator of that seed and size, NaN for arms without a generator and without the
#: quality check (``quality = false``: not checked).
_RESULT_COLUMNS = ["seed", "arm", "ratio", "train_size", "classifier", "n_train_real",
                   "n_train_synthetic", *METRICS, "synthetic_weight", "gate_passed", "gate_reasons"]


def _label(key: tuple) -> str:
    """A job's name in messages: ``classifier job (seed 0, train size 10, arm gan, ratio 2)``."""
    if key[0] == "prep":
        return f"generator job (seed {key[1]}, train size {key[2]})"
    _, seed, size, arm, ratio = key
    return f"classifier job (seed {seed}, train size {size}, arm {arm}" + (
        "" if ratio is None else f", ratio {ratio:g}") + ")"


def _run_jobs(cache: JobCache | None, keys: Iterable[tuple], job: Callable[[tuple], tuple], bar,
              n_jobs: int, study: str) -> tuple[dict[tuple, Any], int]:
    """Each key's result: loaded from ``cache`` when stored there, else run by joblib.

    ``job(key)`` gives the ``(func, *args)`` of that key's job. Results arrive as the
    jobs finish (wherever they run) and are stored in ``cache`` here, by this process, so
    a worker never needs the cache's folder, and a job that finished is kept even when
    a later one fails or a worker is lost. Returns the results by key and how many were
    loaded.
    """
    done: dict[tuple, Any] = {}
    pending = []
    for key in keys:
        if cache is not None and key in cache:
            done[key] = cache.load(key)
            bar.update(1)
        else:
            pending.append(key)
    tasks = []
    for key in pending:
        func, *args = job(key)
        tasks.append(Task(key, _label(key), func, tuple(args)))
    for key, result in run_tasks(tasks, n_jobs, study=study):
        if cache is not None:
            cache.save(key, result)
        done[key] = result
        bar.update(1)
    return done, len(done) - len(pending)


def _classify_subset(seed, size, arm, ratio, X_train, y_train, sub, X_test, y_test, robust_rows,
                     n_classes, config, names, *draws):
    """:func:`classify` on the rows ``sub`` of the training split and the draws ``names``.

    The job carries positions and array arguments, never a container of arrays: each
    array (the splits, and every synthetic set as ``images, labels`` in ``draws``, in the
    order of ``names``) is one object that all jobs of a phase share, which loky
    memory-maps and joblib's Dask backend scatters to the cluster once.
    """
    synthetic = {name: (draws[2 * i], draws[2 * i + 1]) for i, name in enumerate(names)}
    return classify(seed, size, arm, ratio, X_train[sub], y_train[sub], synthetic, X_test, y_test,
                    robust_rows, n_classes, config)


def _backend_scope(config: ExperimentConfig):
    """The config's compute backend, unless the caller set a joblib backend (which wins)."""
    if caller_set_parallel():
        if config.backend != "local":
            log.info("A joblib backend set by the caller is used (the config's backend %r is not).",
                     config.backend)
        return contextlib.nullcontext()
    return use_backend(config.backend, config.address, n_jobs=config.n_jobs)


def _available_arms(config: ExperimentConfig, notes: list[str]) -> tuple[str, ...]:
    """The config's arms, less those whose optional package is missing (with a note)."""
    arms = []
    for name in config.resolved_arms():
        need = ARMS[name].requires
        if need is not None:
            try:
                importlib.import_module(need.module)
            except ImportError:
                log.warning("%s is not installed: skipping the %s arm (pip install 'synthaug[%s]').",
                            need.package, name, need.extra)
                notes.append(f"{name} arm skipped: {need.package} is not installed")
                continue
        arms.append(name)
    return tuple(arms)


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
    Arms (see :data:`~synthaug.experiment.arms.ARMS`): ``real`` (real training images
    only), ``classic`` (plus shifted, rotated, noised copies), ``smote`` (plus SMOTE
    interpolations in pixel space, as many per class as the ``mix_ratio`` GAN arm;
    skipped with a warning without imbalanced-learn), ``gan`` (plus synthetic images at
    each ratio), ``gan_balance`` (synthetic images top every class up to the largest),
    ``gan_classic`` (classic + synthetic), ``tstr`` (synthetic only: the Classification
    Accuracy Score of Ravuri & Vinyals, 2019), and with robustness ``adv_real`` /
    ``adv_gan`` (PGD adversarial training, CNN only).

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
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"config must be an ExperimentConfig, got {type(config).__name__}.")
    if dataset is None or isinstance(dataset, str):
        source = dataset if dataset is not None else config.dataset
        if source is None:
            raise ConfigError("no dataset: pass one to run_experiment or set `dataset` in the config.")
        dataset = load_dataset(source, image_size=config.image_size)
    if not isinstance(dataset, ImageDataset):
        raise InvalidDataError(f"dataset must be an ImageDataset or a source string, got {type(dataset).__name__}.")
    t_start = time.perf_counter()
    notes: list[str] = []
    if config.cnn_equal_steps and "cnn" in config.classifiers:
        notes.append("cnn_equal_steps: every arm's CNN trains for about the optimizer steps of the real-only "
                     "arm (fewer epochs over a larger training set)")
    arms = _available_arms(config, notes)
    splits = make_splits(dataset, config)
    K = dataset.n_classes
    X_train, y_train = dataset.images[splits.train], dataset.labels[splits.train]
    X_test, y_test = dataset.images[splits.test], dataset.labels[splits.test]
    robust_rows = stratified_subset(y_test, config.robust_max_test, config.split_seed)
    log.info("%s: %d train / %d val / %d test rows (%s).", dataset.name, len(splits.train),
             len(splits.val), len(splits.test), splits.origin)

    prep_keys = [("prep", seed, str(size)) for size in config.train_sizes for seed in config.seeds]
    job_keys = [("job", seed, str(size), arm, ratio) for size in config.train_sizes
                for seed in config.seeds for arm in arms for ratio in ARMS[arm].grid(config)]
    bar = tqdm(total=len(prep_keys) + len(job_keys), disable=not progress, file=sys.stderr,
               desc="experiment", unit="job")
    sizes = {str(size): size for size in config.train_sizes}
    first_seed = config.seeds[0]
    study = uuid.uuid4().hex  # names this run to the jobs' log filters (each warning once); no result depends on it

    def classify_job(key: tuple) -> tuple:
        _, seed, size, arm, ratio = key
        prep = preps[("prep", seed, size)]
        names = tuple(prep["synthetic"])
        draws = [array for name in names for array in prep["synthetic"][name]]  # images, labels, ...
        return (_classify_subset, seed, size, arm, ratio, X_train, y_train, prep["subsample"], X_test,
                y_test, robust_rows, K, config, names, *draws)

    with _backend_scope(config):
        bar.set_postfix_str("generators")
        preps, n_prep_reused = _run_jobs(cache, prep_keys, lambda key: (
            prepare, key[1], sizes[key[2]], X_train, y_train, X_test, y_test, K, config, arms,
            key[1] == first_seed), bar, config.n_jobs, study)
        bar.set_postfix_str("classifiers")
        done, n_job_reused = _run_jobs(cache, job_keys, classify_job, bar, config.n_jobs, study)
    bar.close()
    # Results are gathered in grid order, whether a job ran now or was loaded.
    rows: list[dict] = []
    robust: list[pd.DataFrame] = []
    for key in job_keys:
        r, rb = done[key]
        rows.extend(r)
        robust.extend(rb)
    return _report(dataset, config, splits, robust_rows, arms, [preps[k] for k in prep_keys], rows,
                   robust, notes, n_reused=n_prep_reused + n_job_reused, t_start=t_start)


def _with_gate(results: pd.DataFrame, prep_list: list[dict]) -> pd.DataFrame:
    """``results`` with each generator arm's row carrying its generator's gate verdict."""
    gates = {(p["seed"], p["train_size"]): p.get("gate") for p in prep_list}
    passed, reasons = [], []
    for seed, size, arm in zip(results["seed"], results["train_size"], results["arm"]):
        gate = gates.get((seed, size)) if ARMS[arm].needs_generator else None
        passed.append(float("nan") if gate is None else gate["passed"])
        reasons.append(float("nan") if gate is None else "; ".join(gate["reasons"]))
    return results.assign(gate_passed=pd.Series(passed, index=results.index, dtype=object),
                          gate_reasons=pd.Series(reasons, index=results.index, dtype=object))


def _report(dataset: ImageDataset, config: ExperimentConfig, splits, robust_rows, arms, prep_list,
            rows: list[dict], robust: list[pd.DataFrame], notes: list[str], *, n_reused: int,
            t_start: float) -> Report:
    """Assemble the :class:`Report` from the jobs' results (in grid order)."""
    balance_rows = [r for r in rows if r["arm"] == "gan_balance"]
    if balance_rows and all(r["n_train_synthetic"] == 0 for r in balance_rows):
        notes.append("gan_balance added no images: the training classes are already balanced, "
                     "so it equals real")
    for name in arms:
        need = ARMS[name].requires
        if need is not None and not any(r["arm"] == name for r in rows):
            notes.append(f"{name} arm skipped: {need.package} could not be imported in the workers")

    results = _with_gate(pd.DataFrame(rows, columns=_RESULT_COLUMNS), prep_list)
    robustness = pd.DataFrame()
    if robust:
        robustness = pd.concat(robust, ignore_index=True)
        lead = ["seed", "arm", "ratio", "train_size", "classifier"]
        robustness = robustness[lead + [c for c in robustness.columns if c not in lead]]
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
