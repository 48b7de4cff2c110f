"""The quality gate for generated samples.

- :func:`holdout_split`: stratified real rows held back from the generator;
- :func:`assess` / :func:`assess_generator`: precision, recall, coverage and TRTS of
  samples against those rows, with a real-vs-real reference, in a :class:`QualityReport`;
- :func:`judge`: the verdict from the numbers (also used on the experiment runner's own);
- :func:`add_caption`: a text strip under a PNG (the sample grid's verdict).

Layering: uses data, classifiers, metrics and seeding; never generators or over_sampling
(a generator is duck-typed: ``sample``, optional ``snapshots_`` / ``use_snapshot``).
"""

from .._lazy import lazy_exports

# Loaded on first use: the gate needs torch, the CLI's option checks (resolve_fraction) do not.
_SOURCES = {"add_caption": ".caption", "QualityReport": ".gate", "assess": ".gate", "assess_generator": ".gate",
            "judge": ".gate", "holdout_split": ".holdout", "resolve_fraction": ".holdout"}

__all__ = sorted(_SOURCES)

__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
