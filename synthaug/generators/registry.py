"""The valid names of the generator's choices: the one source for the estimator, the
configuration and the CLI.

``MODELS``: the GAN network families (:mod:`~synthaug.generators.networks`);
``GENERATOR_MODELS``: those plus ``ddpm``, the diffusion generator;
``STRATEGIES``: one conditional pair, or one pair per class; ``LOSSES``: the adversarial
losses (:mod:`~synthaug.generators.losses`).
"""

from __future__ import annotations

__all__ = ["DIFFUSION_MODELS", "GENERATOR_MODELS", "LOSSES", "MODELS", "STRATEGIES", "generator_class",
           "unknown_generator_params"]

MODELS = ("vanilla", "dcgan")
#: The diffusion generator (:class:`~synthaug.generators.ConditionalDiffusion`).
DIFFUSION_MODELS = ("ddpm",)
#: What ``--model`` and a recipe's ``gan_model`` accept: a GAN family or ``ddpm``.
GENERATOR_MODELS = MODELS + DIFFUSION_MODELS
STRATEGIES = ("conditional", "per-class")
LOSSES = ("bce", "hinge")


def generator_class(model: str) -> type:
    """The estimator a ``--model`` / ``gan_model`` name builds (imported on first use)."""
    from . import ConditionalDiffusion, ConditionalGAN

    return ConditionalDiffusion if model in DIFFUSION_MODELS else ConditionalGAN


def unknown_generator_params(model: str, params) -> str | None:
    """A message naming the keys of ``params`` that ``model``'s estimator does not take, or None.

    ``random_state``, ``device`` and ``progress`` are set by the caller and not accepted here.
    """
    import inspect

    cls = generator_class(model)
    valid = set(inspect.signature(cls).parameters) - {"random_state", "device", "progress"}
    unknown = sorted(set(params) - valid)
    if not unknown:
        return None
    return (f"{cls.__name__} (gan_model = {model!r}) has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid))}.")
