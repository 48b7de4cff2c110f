"""Adversarial losses on raw discriminator logits.

``bce``: the original GAN loss (Goodfellow et al. 2014) with the non-saturating
generator loss ``-log D(G(z))``. ``hinge``: the hinge loss of Lim & Ye (2017) and
Miyato et al. (2018), with the generator maximising the fake logit.

All functions take logits of shape ``(B,)`` and return a scalar tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .registry import LOSSES

__all__ = ["LOSSES", "discriminator_loss", "generator_loss"]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss for the discriminator: real rows are labelled 1, fake rows 0.

    Shape
    -----
    real_logits, fake_logits : ``(B,)``. returns : ``()``.
    """
    if kind == "bce":
        # softplus(-l) == -log sigmoid(l): BCE with target 1, numerically stable.
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    raise ValueError(f"unknown loss {kind!r}; valid: {LOSSES}")


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss for the generator: fakes labelled 1 (non-saturating for ``bce``).

    Shape
    -----
    fake_logits : ``(B,)``. returns : ``()``.
    """
    if kind == "bce":
        return F.softplus(-fake_logits).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown loss {kind!r}; valid: {LOSSES}")
