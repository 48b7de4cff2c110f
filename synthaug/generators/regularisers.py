"""Diversity regularisers for GAN training, each off by default and each ablatable.

* **Mode seeking** (Mao et al., CVPR 2019, MSGAN): two noise vectors with the same labels
  should give images that differ in proportion to how much the noise differs. The
  generator loss gains ``lambda / (ratio + eps)`` with
  ``ratio = mean|G(z1) - G(z2)| / mean|z1 - z2|``.
* **LeCam** (Tseng et al., CVPR 2021): the discriminator's outputs are pulled towards
  exponential moving averages ("anchors") of its own past outputs on the other kind
  of image: ``lambda * (E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2])``.
* **Adaptive augmentation** (Karras et al., NeurIPS 2020, ADA): each DiffAugment
  transform is applied to each image with probability ``p``, and ``p`` follows the
  overfitting heuristic ``r_t = E[sign(D(x))]`` towards a target every
  :data:`ADA_INTERVAL` steps, fast enough to go from 0 to 1 in :data:`ADA_RAMP_STEPS`.

The state they carry (LeCam anchors, ADA's ``p`` and its running sum) lives on the
:class:`~synthaug.generators.training.GANPair` and is checkpointed with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.validation import check_float
from ..exceptions import ConfigError

__all__ = [
    "ADA_INTERVAL",
    "ADA_RAMP_STEPS",
    "LECAM_DECAY",
    "ada_adjust",
    "check_diversity_params",
    "lecam_loss",
    "mode_seeking_loss",
    "update_anchors",
]

#: Decay of the EMA anchors of LeCam regularisation (the paper's 0.99).
LECAM_DECAY = 0.99
#: ADA adjusts ``p`` every this many steps ...
ADA_INTERVAL = 4
#: ... by ``ADA_INTERVAL / ADA_RAMP_STEPS``, so ``p`` can go from 0 to 1 in this many steps.
ADA_RAMP_STEPS = 500
#: Keeps the mode-seeking term finite when two fakes coincide (as in MSGAN's code).
MS_EPS = 1e-5


def check_diversity_params(est: Any, policy: tuple[str, ...]) -> dict[str, Any]:
    """Check the diversity parameters of a ConditionalGAN; return its TrainConfig fields.

    Parameters
    ----------
    est : ConditionalGAN
        Read for ``mode_seeking``, ``lecam``, ``ada_target``, ``conditional_norm``,
        ``model`` and ``strategy`` (already checked).
    policy : tuple of str
        The parsed DiffAugment policy (ADA needs one).

    Raises
    ------
    ConfigError
        Naming the offending parameter.
    """
    mode_seeking = check_float("mode_seeking", est.mode_seeking, 0.0, np.inf, low_open=False, high_open=True)
    lecam = check_float("lecam", est.lecam, 0.0, np.inf, low_open=False, high_open=True)
    ada_target = est.ada_target
    if ada_target is not None:
        ada_target = check_float("ada_target", ada_target, 0.0, 1.0, low_open=False, high_open=False)
        if not policy:
            # ADA adapts how often DiffAugment applies: with DiffAugment off there is
            # nothing to adapt (the default ada_target must not break diff_augment=None).
            ada_target = None
    if not isinstance(est.conditional_norm, (bool, np.bool_)):
        raise ConfigError(f"conditional_norm must be True or False, got {est.conditional_norm!r}.")
    if est.conditional_norm and (est.model != "dcgan" or est.strategy != "conditional"):
        raise ConfigError(
            "conditional_norm=True needs model='dcgan' and strategy='conditional' (it makes the "
            f"generator's BatchNorm class-conditional); got model={est.model!r}, strategy={est.strategy!r}."
        )
    return {"mode_seeking": float(mode_seeking), "lecam": float(lecam),
            "ada_target": None if ada_target is None else float(ada_target)}


# ----------------------------------------------------------------------- mode seeking
def mode_seeking_loss(fake1: torch.Tensor, fake2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """``1 / (mean|fake1 - fake2| / mean|z1 - z2| + eps)``: small when the fakes differ.

    Shape
    -----
    fake1, fake2 : ``(B, C, H, W)``; z1, z2 : ``(B, Z)``. returns : ``()``.
    """
    ratio = (fake1 - fake2).abs().mean() / (z1 - z2).abs().mean()
    return 1.0 / (ratio + MS_EPS)


# ----------------------------------------------------------------------- LeCam
def update_anchors(anchors: torch.Tensor | None, real_logits: torch.Tensor,
                   fake_logits: torch.Tensor) -> torch.Tensor:
    """The new EMA anchors ``(a_real, a_fake)``; the first call starts them at the batch means.

    Shape
    -----
    real_logits, fake_logits : ``(B,)``. returns : ``(2,)``, detached.
    """
    means = torch.stack([real_logits.detach().mean(), fake_logits.detach().mean()])  # (2,)
    if anchors is None:
        return means
    return anchors * LECAM_DECAY + means * (1.0 - LECAM_DECAY)


def lecam_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """LeCam regulariser ``E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2]``.

    Shape
    -----
    real_logits, fake_logits : ``(B,)``; anchors : ``(2,)`` = (a_real, a_fake). returns : ``()``.
    """
    return (F.relu(real_logits - anchors[1]).pow(2).mean()
            + F.relu(anchors[0] - fake_logits).pow(2).mean())


# ----------------------------------------------------------------------- ADA
def ada_adjust(p: torch.Tensor, sign_sum: torch.Tensor, target: float) -> torch.Tensor:
    """One ADA update: ``p + sign(r_t - target) * ADA_INTERVAL / ADA_RAMP_STEPS``, clipped to [0, 1].

    Shape
    -----
    p : ``()``; sign_sum : ``(2,)`` = (sum of sign(D(x)), number of images). returns : ``()``.
    """
    r_t = sign_sum[0] / sign_sum[1].clamp_min(1.0)
    return (p + torch.sign(r_t - target) * (ADA_INTERVAL / ADA_RAMP_STEPS)).clamp(0.0, 1.0)
