"""The valid names of the generator's choices: the one source for the estimator, the
configuration and the CLI.

``MODELS``: the GAN network families (:mod:`~synthaug.generators.networks`);
``GENERATOR_MODELS``: those plus ``ddpm``, the diffusion generator; ``MODEL_CHOICES``:
those plus ``auto`` (the default of ``--model``, recipes and the over-sampler), which
:func:`resolve_model` turns into ``ddpm`` or ``dcgan`` from the data;
``STRATEGIES``: one conditional pair, or one pair per class; ``LOSSES``: the adversarial
losses (:mod:`~synthaug.generators.losses`).
"""

from __future__ import annotations

__all__ = ["AUTO", "DIFFUSION_MODELS", "GENERATOR_MODELS", "LOSSES", "MODELS", "MODEL_CHOICES", "STRATEGIES",
           "generator_class", "resolve_model", "unknown_generator_params"]

MODELS = ("vanilla", "dcgan")
#: The diffusion generator (:class:`~synthaug.generators.ConditionalDiffusion`).
DIFFUSION_MODELS = ("ddpm",)
#: What ``--model`` and a recipe's ``gan_model`` accept: a GAN family or ``ddpm``.
GENERATOR_MODELS = MODELS + DIFFUSION_MODELS
#: Choose from the data (:func:`resolve_model`).
AUTO = "auto"
MODEL_CHOICES = (AUTO, *GENERATOR_MODELS)
STRATEGIES = ("conditional", "per-class")
LOSSES = ("bce", "hinge")


def resolve_model(model: str, n_images: int, image_shape, *, n_classes: int = 1,
                  strategy: str = "conditional", params=()) -> tuple[str, str]:
    """``model`` itself, or for ``"auto"``: ``"ddpm"`` when the diffusion model's default
    budget affords all the steps it wants on these data and the images are at most 16 px
    on a side, else ``"dcgan"``
    (:func:`~synthaug.generators.budget.diffusion_fits` has the measurements).

    The choice depends only on the data (never on the machine), so it is reproducible.
    ``n_images``: the rows the generator is fitted on; ``per-class`` fits one model per
    class on about ``n_images / n_classes`` rows each. ``params``: parameter names the
    caller will pass; one that only the GAN (or only the diffusion model) takes decides.
    Returns ``(model, why)``.
    """
    from .budget import diffusion_fits

    if model != AUTO:
        return model, f"--model {model}"
    for name, other in (("dcgan", "ddpm"), ("ddpm", "dcgan")):
        only = sorted(set(params) - _valid_params(other))
        if only:
            return name, f"auto: {', '.join(only)} given"
    pairs = max(1, int(n_classes)) if strategy == "per-class" else 1
    fits, why = diffusion_fits(max(1, int(n_images) // pairs), image_shape, n_pairs=pairs)
    return ("ddpm" if fits else "dcgan"), f"auto: {why}"


def generator_class(model: str) -> type:
    """The estimator a ``--model`` / ``gan_model`` name builds (imported on first use)."""
    from . import ConditionalDiffusion, ConditionalGAN

    return ConditionalDiffusion if model in DIFFUSION_MODELS else ConditionalGAN


def unknown_generator_params(model: str, params) -> str | None:
    """A message naming the keys of ``params`` that ``model``'s estimator does not take, or None.

    ``random_state``, ``device`` and ``progress`` are set by the caller and not accepted here.
    """
    valid = _valid_params(model)
    unknown = sorted(set(params) - valid)
    if not unknown:
        return None
    name = "Neither generator" if model == AUTO else generator_class(model).__name__
    return (f"{name} (gan_model = {model!r}) has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid))}.")


def _valid_params(model: str) -> set:
    """The parameters a recipe may set for ``model`` (``auto``: those of either generator)."""
    import inspect

    if model == AUTO:
        return _valid_params("dcgan") | _valid_params("ddpm")
    return set(inspect.signature(generator_class(model)).parameters) - {"random_state", "device", "progress"}
