"""Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy, 2015, arXiv:1412.6572)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Attack

__all__ = ["FGSM"]


@dataclass(frozen=True)
class FGSM(Attack):
    """One signed-gradient step of size ``eps`` that increases the cross-entropy.

    ``x_adv = clamp(x + eps * sign(grad_x CE(model(x), y)), 0, 1)``.

    Parameters
    ----------
    eps : float
        L-inf radius in [0, 1] pixel units (``8/255`` is eight grey levels).

    References
    ----------
    Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples",
    ICLR 2015.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x = torch.rand(3, 1, 2, 2)
    >>> x_adv = FGSM(eps=8 / 255)(model, x, torch.tensor([0, 1, 0]))
    >>> bool((x_adv - x).abs().max() <= 8 / 255 + 1e-6)
    True
    """

    config_name = "fgsm"

    def _perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.eps == 0:
            return x
        _, grad, _ = self._loss_and_grad(model, x, y)
        return x + float(self.eps) * grad.sign()  # (N, C, H, W)
