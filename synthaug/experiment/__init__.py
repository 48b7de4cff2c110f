"""Experiments: does GAN augmentation help, measured on real held-out data?

- :class:`ExperimentConfig`: the typed, immutable study description (from a TOML recipe).
- :func:`run_experiment`: splits, generator fitting, arms over seeds, scoring (no file I/O).
- :class:`Report`: tidy results, summary with paired comparisons, figures, files.
- :class:`JobCache`: finished jobs on disk, so an interrupted study resumes.
"""

from .cache import JobCache
from .config import ALL_ARMS, ExperimentConfig
from .report import METRICS, Report, summarize_results, summarize_robustness
from .runner import make_splits, run_experiment

__all__ = [
    "ALL_ARMS",
    "ExperimentConfig",
    "JobCache",
    "METRICS",
    "Report",
    "make_splits",
    "run_experiment",
    "summarize_results",
    "summarize_robustness",
]
