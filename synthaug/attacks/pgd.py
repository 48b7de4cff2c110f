"""Projected Gradient Descent (Madry et al., 2018, arXiv:1706.06083), L-inf and L2."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..exceptions import ConfigError
from ..seeding import seed_from, torch_generator
from .base import Attack, project

__all__ = ["PGD"]


@dataclass(frozen=True)
class PGD(Attack):
    """Iterated gradient steps projected back into the eps-ball, with random restarts.

    Parameters
    ----------
    eps : float
        Radius of the ball: L-inf in [0, 1] pixel units (``8/255``), or the L2 norm of
        the whole perturbation when ``norm="l2"``.
    step_size : float or None, default None
        Step per iteration; ``None`` means ``2.5 * eps / n_steps`` (Madry et al.).
    n_steps : int, default 10
        Gradient steps per restart.
    norm : {"linf", "l2"}, default "linf"
        Which ball. L-inf steps follow the gradient's sign, L2 steps its direction.
    random_start : bool, default True
        Start each restart from a uniformly random point of the ball.
    n_restarts : int, default 1
        Independent runs; per sample the result keeps the example that fools the model,
        and among equals the one with the highest loss.
    random_state : None, int or numpy Generator
        Seeds the random starts (a private ``torch.Generator``; the global RNG is untouched).

    Notes
    -----
    Within a run every iterate is scored, so the returned example is the best one seen,
    not merely the last (as in AutoAttack); this keeps PGD at least as strong as its own
    starting point.

    References
    ----------
    Madry, Makelov, Schmidt, Tsipras and Vladu, "Towards Deep Learning Models Resistant
    to Adversarial Attacks", ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x = torch.rand(3, 1, 2, 2)
    >>> attack = PGD(eps=8 / 255, n_steps=5, random_state=0)
    >>> x_adv = attack(model, x, torch.tensor([0, 1, 0]))
    >>> bool((x_adv - x).abs().max() <= 8 / 255 + 1e-6)
    True
    """

    config_name = "pgd"

    step_size: float | None = None
    n_steps: int = 10
    norm: str = "linf"
    random_start: bool = True
    n_restarts: int = 1
    random_state: object = None

    def _check_params(self) -> None:
        super()._check_params()
        name = type(self).__name__
        for field, value in (("n_steps", self.n_steps), ("n_restarts", self.n_restarts)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name}: {field} must be an integer >= 1, got {value!r}.")
        if self.step_size is not None:
            s = self.step_size
            if isinstance(s, bool) or not isinstance(s, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(s)) or s <= 0:
                raise ConfigError(
                    f"{name}: step_size must be a number > 0 or None (2.5 * eps / n_steps), got {s!r}."
                )

    @property
    def effective_step_size(self) -> float:
        """The step used: ``step_size`` or ``2.5 * eps / n_steps``."""
        if self.step_size is not None:
            return float(self.step_size)
        return 2.5 * float(self.eps) / int(self.n_steps)

    def _random_start(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        eps = float(self.eps)
        # Drawn on the CPU so a seed gives the same starts on every device.
        if self.norm == "linf":
            delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps  # (N, C, H, W)
        else:
            direction = torch.randn(x.shape, generator=gen)
            direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            d = x[0].numel()
            # Uniform in the ball: radius ~ eps * U^(1/d).
            radius = eps * torch.rand(x.shape[0], generator=gen) ** (1.0 / d)  # (N,)
            delta = direction * radius.view(-1, 1, 1, 1)
        return project(x + delta.to(x.device), x, eps, self.norm)

    def _step(self, x_adv: torch.Tensor, grad: torch.Tensor, step: float) -> torch.Tensor:
        if self.norm == "linf":
            return x_adv + step * grad.sign()
        g_norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return x_adv + step * grad / g_norm

    def _perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        eps = float(self.eps)
        if eps == 0:
            return x
        gen = torch_generator(seed_from(self.random_state))
        step = self.effective_step_size
        n = x.shape[0]
        best = x.clone()
        best_loss = torch.full((n,), -math.inf, device=x.device)
        best_fool = torch.zeros(n, dtype=torch.bool, device=x.device)

        def keep(candidate: torch.Tensor, loss: torch.Tensor, logits: torch.Tensor) -> None:
            fool = logits.argmax(dim=1) != y  # (N,)
            better = (fool & ~best_fool) | ((fool == best_fool) & (loss > best_loss))
            best[better] = candidate[better]
            best_loss[better] = loss[better]
            best_fool[better] = fool[better]

        for _ in range(int(self.n_restarts)):
            x_adv = self._random_start(x, gen) if self.random_start else x.clone()
            for _ in range(int(self.n_steps)):
                loss, grad, logits = self._loss_and_grad(model, x_adv, y)
                keep(x_adv, loss, logits)
                x_adv = project(self._step(x_adv, grad, step), x, eps, self.norm)
            with torch.no_grad():
                logits = model(x_adv)
                loss = torch.nn.functional.cross_entropy(logits, y, reduction="none")
            keep(x_adv, loss, logits)
        return best
