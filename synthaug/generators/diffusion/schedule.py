"""The noise schedule, the training loss and the DDIM sampler of the diffusion generator.

Images are mapped from ``[0, 1]`` to ``[-1, 1]``. Forward process (Ho et al., 2020):
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with the cosine schedule of Nichol &
Dhariwal (2021), ``T`` training timesteps. The network learns to predict ``eps``.

Sampling is DDIM with ``eta = 0`` (Song et al., 2021): deterministic given the initial
noise, ``n_steps`` evenly spaced timesteps from ``T - 1`` down to 0, the predicted
``x_0`` clipped to ``[-1, 1]`` at each step. Classifier-free guidance (Ho & Salimans,
2022): ``eps = eps_null + s * (eps_y - eps_null)``; ``s = 1`` is the plain conditional
model (one network pass per step), ``s = 0`` the unconditional one, other values two
passes per step.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["alpha_bars", "ddim_sample", "ddim_timesteps", "diffusion_loss"]


def alpha_bars(timesteps: int) -> torch.Tensor:
    """Cosine schedule ``abar_t`` for ``t = 0 .. T-1`` (float64 on the CPU; ``(T,)``)."""
    s = 0.008
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def diffusion_loss(net, x0: torch.Tensor, labels: torch.Tensor | None, abar: torch.Tensor,
                   gen: torch.Generator, label_dropout: float, null_label: int,
                   warped: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of the predicted noise on one batch.

    Draws from ``gen``, in this order: timesteps ``(B,)``, noise ``(B, C, H, W)``, and
    (conditional networks with ``label_dropout > 0``) the dropout mask ``(B,)``.
    ``warped`` (which images training-time augmentation warped) goes to the network.

    Shape
    -----
    x0 : ``(B, C, H, W)`` in ``[0, 1]``; labels : ``(B,)`` int64 or None; abar : ``(T,)``
    float32 on the device of ``x0``; warped : ``(B,)`` int64 or None.
    """
    b = x0.shape[0]
    x0 = x0 * 2.0 - 1.0
    t = torch.randint(0, abar.shape[0], (b,), generator=gen, device=x0.device)  # (B,)
    eps = torch.randn(x0.shape, generator=gen, device=x0.device)  # (B, C, H, W)
    a = abar[t][:, None, None, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    if labels is not None and label_dropout > 0:
        drop = torch.rand(b, generator=gen, device=x0.device) < label_dropout
        labels = torch.where(drop, torch.full_like(labels, null_label), labels)
    pred = net(xt, t, labels) if warped is None else net(xt, t, labels, warped)
    return torch.mean((pred - eps) ** 2)


def ddim_timesteps(timesteps: int, n_steps: int) -> list[int]:
    """``n_steps`` distinct timesteps from ``T - 1`` down to 0, evenly spaced."""
    n = max(1, min(int(n_steps), int(timesteps)))
    return sorted({int(round(v)) for v in np.linspace(timesteps - 1, 0, n)}, reverse=True)


@torch.no_grad()
def ddim_sample(net, noise: torch.Tensor, labels: torch.Tensor | None, abar: torch.Tensor,
                n_steps: int, guidance_scale: float, null_label: int, eta: float = 0.0,
                gen: torch.Generator | None = None) -> torch.Tensor:
    """Run DDIM from ``noise``; returns images in ``[0, 1]``.

    ``eta = 0`` is deterministic given ``noise``; ``eta = 1`` adds the DDPM amount of
    fresh noise at every step (drawn from ``gen``, on the CPU, so every device gets the
    same numbers).

    Shape
    -----
    noise : ``(B, C, H, W)`` on the network's device; labels : ``(B,)`` int64 or None
    (unconditional network); abar : ``(T,)`` float32 on that device.
    """
    x = noise
    steps = ddim_timesteps(abar.shape[0], n_steps)
    conditional = labels is not None
    null = None if not conditional else torch.full_like(labels, null_label)
    for i, t in enumerate(steps):
        tt = torch.full((x.shape[0],), t, dtype=torch.int64, device=x.device)
        if not conditional or guidance_scale == 1.0:
            eps = net(x, tt, labels)
        elif guidance_scale == 0.0:
            eps = net(x, tt, null)
        else:
            both = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
            eps_y, eps_null = both.chunk(2)
            eps = eps_null + guidance_scale * (eps_y - eps_null)
        a = abar[t]
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1.0, 1.0)
        if i + 1 == len(steps):
            x = x0
            break
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()  # consistent with the clipped x0
        a_prev = abar[steps[i + 1]]
        sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).sqrt() if eta > 0 else a.new_zeros(())
        x = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0:
            x = x + sigma * torch.randn(x.shape, generator=gen).to(x.device)
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)
