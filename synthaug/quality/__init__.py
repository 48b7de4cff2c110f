"""The quality gate for generated samples.

- :func:`holdout_split`: stratified real rows held back from the generator;
- :func:`assess` / :func:`assess_generator`: precision, recall, coverage and TRTS of
  samples against those rows, with a real-vs-real reference, in a :class:`QualityReport`;
- :func:`judge`: the verdict from the numbers (also used on the experiment runner's own);
- :func:`add_caption`: a text strip under a PNG (the sample grid's verdict).

Layering: uses data, classifiers, metrics and seeding; never generators or over_sampling
(a generator is duck-typed: ``sample``, optional ``snapshots_`` / ``use_snapshot``).
"""

from .caption import add_caption
from .gate import QualityReport, assess, assess_generator, judge
from .holdout import holdout_split, resolve_fraction

__all__ = ["QualityReport", "add_caption", "assess", "assess_generator", "holdout_split", "judge",
           "resolve_fraction"]
