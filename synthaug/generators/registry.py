"""The valid names of the generator's choices: the one source for the estimator, the
configuration and the CLI.

``MODELS``: the network families (:mod:`~synthaug.generators.networks`);
``STRATEGIES``: one conditional pair, or one pair per class; ``LOSSES``: the adversarial
losses (:mod:`~synthaug.generators.losses`).
"""

from __future__ import annotations

__all__ = ["LOSSES", "MODELS", "STRATEGIES"]

MODELS = ("vanilla", "dcgan")
STRATEGIES = ("conditional", "per-class")
LOSSES = ("bce", "hinge")
