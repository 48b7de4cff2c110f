"""Experiments: does GAN augmentation help, measured on real held-out data?

- :class:`ExperimentConfig`: the typed, immutable study description (from a TOML recipe).
- :data:`ARMS`: the arms of a study, one table entry each (:mod:`.arms`).
- :func:`run_experiment`: splits, generator fitting, arms over seeds, scoring (no file I/O);
  its pieces live in :mod:`.splits` (which rows), :mod:`.jobs` (the two kinds of job)
  and :mod:`.runner` (the grid, joblib and the cache).
- :class:`Report`: tidy results, summary with paired comparisons, figures, files.
- :class:`JobCache`: finished jobs on disk (npz + JSON), so an interrupted study resumes.
"""

from .arms import ARMS, Arm
from .cache import JobCache
from .config import ALL_ARMS, ExperimentConfig
from .report import METRICS, Report, summarize_results, summarize_robustness
from .runner import run_experiment
from .splits import make_splits

__all__ = [
    "ALL_ARMS",
    "ARMS",
    "Arm",
    "ExperimentConfig",
    "JobCache",
    "METRICS",
    "Report",
    "make_splits",
    "run_experiment",
    "summarize_results",
    "summarize_robustness",
]
