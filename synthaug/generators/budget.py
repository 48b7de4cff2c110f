"""The training budget of a GAN: batch size and number of generator steps.

A GAN learns per generator *step*, not per epoch: 40 epochs of 100 images in batches of
64 are 40 steps, which leaves grey blobs. So when the user gives neither ``epochs`` nor
``steps``, :func:`resolve_budget` chooses them from the size of the training set (of
each network pair: a class, for ``per-class``) and of its images:

1. **Batch size** (unless given): ``N // 8`` clipped to ``[8, 64]``, so a small set
   still has several batches per epoch (100 images: 12; 546: 64).
2. **Steps wanted**: ``max(2000, 40 epochs)``. 2000 generator steps is what small sets
   need to get past blurry class means (a 100-image digits set with the old defaults
   took 40 steps); 40 epochs is the old default, kept for large sets.
3. **Steps affordable**: the whole fit (all pairs together) should cost about five
   minutes of one CPU core. A step costs about ``7.5 us * (batch * H * W + 2000)`` of
   one core with the default dcgan (measured, median of 3 x 20 steps, one thread:
   8 x 8 batch 8 / 64 = 15-16 / 36-43 ms, 28 x 28 batch 8 / 64 = 66-69 / 362-413 ms;
   a whole default BreastMNIST fit 390 ms per step), so a fit gets ``COST_BUDGET /
   (n_pairs * (batch * H * W + STEP_OVERHEAD))`` steps at most; on a GPU this is far
   less time. Two threads on two idle cores are a little faster than one.
4. ``steps = max(500, min(wanted, affordable))``, rounded up to whole epochs.

Examples: 100 digits of 8 x 8: batch 12, 8 batches per epoch, 250 epochs = 2000 steps;
all 1797 digits: batch 64, 72 epochs = 2016 steps; BreastMNIST's 546 training images of
28 x 28: batch 64, 96 epochs = 768 steps (measured: five minutes on one core).

The numbers depend only on the data, never on the machine; ``max_minutes`` (a
:class:`~synthaug.generators.ConditionalGAN` parameter) is the machine-dependent stop.

The same four steps with other constants (a :class:`BudgetRule`) give the diffusion
generator's budget, :data:`DIFFUSION_RULE`: batch ``N // 4`` in ``[16, 64]``; wanted
``max(1000 steps, 300 epochs)`` but at most 2000 steps (a diffusion model trained much
longer on 100 images starts to copy them, and on all 1797 digits the snapshots at 3000
and 4000 steps scored no better in the gate than the one at 2000: measured in
``docs/benchmarks.md``); cost cap
64 M units (a denoiser step costs a little more than a GAN step per pixel; about eight
minutes of one core at the default width, which is 16 channels above 16 px); floor 500
steps. Examples: 100 digits of 8 x 8: batch 25, 300 epochs = 1200 steps; BreastMNIST's
546 images: batch 64, 1226 steps (cost cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..data.validation import check_float, check_int
from ..exceptions import ConfigError

__all__ = [
    "COST_BUDGET",
    "DIFFUSION_MAX_SIDE",
    "DIFFUSION_RULE",
    "GAN_RULE",
    "BudgetRule",
    "FLOOR_STEPS",
    "MIN_EPOCHS",
    "MIN_STEPS",
    "STEP_OVERHEAD",
    "Budget",
    "budget_summary",
    "check_budget_params",
    "diffusion_fits",
    "resolve_budget",
    "wanted_and_affordable",
]

#: Generator steps a default fit wants at least (before the cost cap).
MIN_STEPS = 2000
#: ... or this many epochs when that is more (large sets; the old default).
MIN_EPOCHS = 40
#: Never fewer steps than this by default, whatever the cost cap says.
FLOOR_STEPS = 500
#: Cost units (pixels through the networks, plus STEP_OVERHEAD per step) of a default
#: fit: about five minutes of one CPU core at the measured ~7.5 microseconds per unit.
COST_BUDGET = 40_000_000
#: The fixed cost of a step (Python, optimisers, EMA, small kernels) in pixel units.
STEP_OVERHEAD = 2000
#: Batch size rule: ``n_images // BATCH_DIVISOR`` clipped to ``[BATCH_MIN, BATCH_MAX]``.
BATCH_DIVISOR, BATCH_MIN, BATCH_MAX = 8, 8, 64


@dataclass(frozen=True)
class BudgetRule:
    """The constants of a default budget (see the module docstring).

    ``max_wanted``: an upper limit on the steps wanted (None: none), applied before the
    cost cap.
    """

    min_steps: int
    min_epochs: int
    floor_steps: int
    cost_budget: int
    step_overhead: int
    batch_divisor: int
    batch_min: int
    batch_max: int
    max_wanted: int | None = None


#: The GAN's rule (the module docstring's numbers).
GAN_RULE = BudgetRule(MIN_STEPS, MIN_EPOCHS, FLOOR_STEPS, COST_BUDGET, STEP_OVERHEAD,
                      BATCH_DIVISOR, BATCH_MIN, BATCH_MAX)
#: The diffusion generator's rule.
DIFFUSION_RULE = BudgetRule(min_steps=1000, min_epochs=300, floor_steps=500, cost_budget=64_000_000,
                            step_overhead=2000, batch_divisor=4, batch_min=16, batch_max=64, max_wanted=2000)


@dataclass(frozen=True)
class Budget:
    """A resolved budget for one network pair.

    ``steps`` is exactly ``epochs * (n_images // min(batch_size, n_images))``: the
    generator steps the pair will take; ``rule_text`` says how the numbers were chosen.
    """

    epochs: int
    steps: int
    batch_size: int
    rule_text: str


def default_batch_size(n_images: int, rule: BudgetRule = GAN_RULE) -> int:
    """The rule's batch size for a training set of ``n_images``."""
    return int(min(rule.batch_max, max(rule.batch_min, n_images // rule.batch_divisor)))


def wanted_and_affordable(n_images: int, image_shape, batch_size: int, n_pairs: int,
                          rule: BudgetRule) -> tuple[int, int]:
    """The default rule's steps wanted and steps affordable (cost cap) for one pair."""
    n, bs = int(n_images), int(batch_size)
    per_epoch = max(1, n // max(1, min(bs, n)))
    _, h, w = (int(s) for s in image_shape)
    by_epochs = rule.min_epochs * per_epoch
    if rule.max_wanted is not None:
        by_epochs = min(by_epochs, rule.max_wanted)
    wanted = max(rule.min_steps, by_epochs)
    affordable = rule.cost_budget // (max(1, int(n_pairs)) * (min(bs, n) * h * w + rule.step_overhead))
    return wanted, affordable


#: The largest image side (pixels) at which ``--model auto`` picks the diffusion model.
DIFFUSION_MAX_SIDE = 16


def diffusion_fits(n_images: int, image_shape, n_pairs: int = 1) -> tuple[bool, str]:
    """Will the diffusion model's defaults train well on these data?

    The rule behind ``--model auto`` (:func:`~synthaug.generators.registry.resolve_model`),
    from what was measured (docs/benchmarks.md, sections 11 and 12): yes when the images
    are at most ``DIFFUSION_MAX_SIDE`` pixels on a side *and* the cost cap of
    :data:`DIFFUSION_RULE` affords all the steps it wants. There (10, 20 and 180 digits
    per class, 8 x 8) its samples cover the real data far better than the GAN's (recall
    0.59 / 0.80 against 0.30 / 0.25 in the digits study; gate recall 0.96 against 0.71
    on all digits). At 28 x 28 (BreastMNIST, default width 16) its samples were noisy
    textures whether the cap bound (546 images: 1226 of 2000 steps; gate precision 0.38)
    or not (100 images: all 1200 steps; precision 0.27-0.37 in the study), while the
    GAN's were not. Returns the answer and one line saying why.
    """
    n = max(1, int(n_images))
    side = max(int(s) for s in tuple(image_shape)[1:])
    size = "x".join(str(int(s)) for s in image_shape)
    if side > DIFFUSION_MAX_SIDE:
        return False, (f"{n} training images of {size}: above {DIFFUSION_MAX_SIDE} px the diffusion model's "
                       "defaults were measured to draw noise where the GAN did not")
    wanted, affordable = wanted_and_affordable(n, image_shape, default_batch_size(n, DIFFUSION_RULE), n_pairs,
                                               DIFFUSION_RULE)
    fits = affordable >= wanted
    return fits, (f"{n} training images of {size}: the diffusion model's default budget "
                  f"{'covers' if fits else 'cannot afford'} the {wanted} steps it wants (affordable: {affordable})")


def resolve_budget(n_images: int, image_shape, *, epochs: int | None = None, steps: int | None = None,
                   batch_size: int | None = None, n_pairs: int = 1, rule: BudgetRule = GAN_RULE) -> Budget:
    """Choose the batch size and the number of epochs of one network pair.

    Parameters
    ----------
    n_images : int
        Training images of this pair (the class's images for ``per-class``).
    image_shape : (C, H, W)
    epochs, steps : int or None
        Explicit overrides (at most one; the estimator checks that). ``steps`` is rounded
        up to whole epochs.
    batch_size : int or None
        Explicit batch size; None applies the rule (see the module docstring).
    n_pairs : int, default 1
        Number of pairs trained in the fit: the cost cap is shared among them.
    rule : BudgetRule, default GAN_RULE

    Returns
    -------
    Budget
    """
    n = int(n_images)
    bs = default_batch_size(n, rule) if batch_size is None else int(batch_size)
    per_epoch = max(1, n // max(1, min(bs, n)))  # run_epoch: batches of min(bs, n), last one dropped
    if epochs is not None:
        e = int(epochs)
        how_steps = f"epochs={e} given"
    elif steps is not None:
        e = max(1, math.ceil(int(steps) / per_epoch))
        how_steps = f"steps={int(steps)} given, rounded up to whole epochs of {per_epoch} step(s)"
    else:
        wanted, affordable = wanted_and_affordable(n, image_shape, bs, n_pairs, rule)
        chosen = max(rule.floor_steps, min(wanted, affordable))
        e = max(1, math.ceil(chosen / per_epoch))
        limit = "" if rule.max_wanted is None else f" capped at {rule.max_wanted}"
        how_steps = (f"default rule: wanted max({rule.min_steps} steps, {rule.min_epochs} epochs{limit}) = {wanted}, "
                     f"affordable {affordable} (cost cap), floor {rule.floor_steps} -> {chosen} steps, "
                     f"rounded up to {e} epochs of {per_epoch} step(s)")
    how = ("given" if batch_size is not None
           else f"rule: {n} images // {rule.batch_divisor} in [{rule.batch_min}, {rule.batch_max}]")
    rule_text = f"batch_size={bs} ({how}); {how_steps}"
    return Budget(epochs=e, steps=e * per_epoch, batch_size=bs, rule_text=rule_text)


def check_budget_params(epochs, steps, batch_size, max_minutes, n_snapshots) -> None:
    """Validate the budget parameters of a ConditionalGAN (ConfigError naming the culprit)."""
    if epochs is not None and steps is not None:
        raise ConfigError(
            f"epochs={epochs!r} and steps={steps!r} were both given; give at most one of "
            "epochs and steps (None for the other), or neither for the default budget."
        )
    for name, value in (("epochs", epochs), ("steps", steps), ("batch_size", batch_size)):
        if value is not None:
            check_int(name, value, 1)
    if max_minutes is not None:
        check_float("max_minutes", max_minutes, 0.0, math.inf, low_open=True, high_open=True)
    check_int("n_snapshots", n_snapshots, 0)


def budget_summary(budgets: list[Budget], stopped_early: dict[int, int], per_pair: bool) -> dict:
    """The fitted ``budget_``: one value per key, or one per pair (a list) when ``per_pair``.

    ``stopped_early`` is True when ``max_minutes`` stopped any pair; ``stopped_at`` is
    the epoch it stopped after (None: ran its planned epochs).
    """
    fields = {
        "steps": [b.steps for b in budgets],
        "epochs": [b.epochs for b in budgets],
        "batch_size": [b.batch_size for b in budgets],
        "rule": [b.rule_text for b in budgets],
        "stopped_at": [stopped_early.get(i) for i in range(len(budgets))],
    }
    out = fields if per_pair else {k: v[0] for k, v in fields.items()}
    return {**out, "stopped_early": bool(stopped_early)}
