"""How robust is *any* classifier? Attacks, corruptions and a GAN stress set, with a report.

:func:`run_robustness` evaluates a :class:`~synthaug.classifiers.LoadedModel` (a
TorchScript file, a ``module:function`` network, a saved :class:`CNNClassifier` or a
scikit-learn model) on a labelled :class:`~synthaug.data.dataset.ImageDataset`;
:func:`write_robustness_report` writes the tables, figures and report files. The runner
does no file I/O; the writer does no computing.

- :mod:`.run`: :func:`run_robustness` and :class:`RobustnessResult` (which rows are
  evaluated, white box or transfer, the stress set);
- :mod:`.alignment`: where each dataset class sits in the model's outputs, the
  surrogate network, the generated stress set;
- :mod:`.report`: plots, ``report.md`` / ``report.html``, CSV files and ``config.json``.
"""

from .report import (
    EPS_NOTE,
    REPORT_FILES,
    plot_examples,
    plot_robust_accuracy,
    summary_lines,
    write_robustness_report,
)
from .run import STRESS, RobustnessResult, run_robustness

__all__ = [
    "EPS_NOTE",
    "REPORT_FILES",
    "STRESS",
    "RobustnessResult",
    "plot_examples",
    "plot_robust_accuracy",
    "run_robustness",
    "summary_lines",
    "write_robustness_report",
]
