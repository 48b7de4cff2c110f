"""Differentiable augmentation (DiffAugment; Zhao et al., NeurIPS 2020).

The same random, differentiable transforms are applied to real and generated images
before every discriminator call (in both the discriminator and the generator step),
so the discriminator cannot memorise a small training set and the generator still
receives gradients through the transform. Written for images in ``[0, 1]``; every
random draw comes from the ``torch.Generator`` passed in.

Adaptive strength (ADA; Karras et al., NeurIPS 2020): with ``p``, each transform is
applied to each image with probability ``p`` only.

Policies: ``color`` (brightness, saturation, contrast), ``translation`` (shift by up
to 1/8 of the size, zero fill), ``cutout`` (zero a square of half the size).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["POLICIES", "diff_augment", "parse_policy"]

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``None``/``""`` -> ``()``.

    Raises ``ValueError`` naming the unknown policy (the estimator turns it into a
    :class:`~synthaug.exceptions.ConfigError`).
    """
    if policy is None:
        return ()
    parts = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(p.strip().lower() for p in parts if p.strip())
    if names == ("none",):
        return ()
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(
            f"unknown DiffAugment policy {unknown[0]!r}; valid: {', '.join(POLICIES)} "
            "(comma-separated), or None / '' to disable."
        )
    return names


def _rand(gen: torch.Generator, *shape: int, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=gen, device=like.device, dtype=like.dtype)


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    x = x + (_rand(gen, b, 1, 1, 1, like=x) - 0.5) * 0.5  # brightness, +-0.25 of the range
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
    x = (x - mean) * (_rand(gen, b, 1, 1, 1, like=x) * 2.0) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_rand(gen, b, 1, 1, 1, like=x) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1), generator=gen, device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1), generator=gen, device=x.device)
    rows = (torch.arange(h, device=x.device) + ty + sh).clamp(0, h + 2 * sh - 1)  # (B, H)
    cols = (torch.arange(w, device=x.device) + tx + sw).clamp(0, w + 2 * sw - 1)  # (B, W)
    padded = F.pad(x, (sw, sw, sh, sh))  # (B, C, H + 2sh, W + 2sw), zero fill
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)  # (B, C, H, W)


def _cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=gen, device=x.device) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=gen, device=x.device) - cw // 2
    r = torch.arange(h, device=x.device)[None, :, None]  # (1, H, 1)
    c = torch.arange(w, device=x.device)[None, None, :]  # (1, 1, W)
    inside = (r >= oy) & (r < oy + ch) & (c >= ox) & (c < ox + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: Sequence[str], generator: torch.Generator,
                 p: torch.Tensor | float | None = None) -> torch.Tensor:
    """Apply the policies in order, with independent random parameters per image.

    With ``p`` (adaptive augmentation, ADA), each transform is applied to each image
    with probability ``p`` and the image is left as it is otherwise; ``None`` applies
    every transform to every image and draws nothing extra from ``generator``.

    Shape
    -----
    x : ``(B, C, H, W)``; p : ``()`` or a float; returns the same shape as ``x``
    (values may leave ``[0, 1]``).
    """
    for name in policy:
        out = _FUNCS[name](x, generator)
        if p is not None:
            keep = _rand(generator, x.shape[0], 1, 1, 1, like=x) >= p  # (B, 1, 1, 1)
            out = torch.where(keep, x, out)
        x = out
    return x
