"""A compact class-conditional UNet for denoising diffusion on small images.

The network predicts the noise ``eps`` in ``x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps``
from ``x_t``, the timestep ``t`` and a class index. It is the usual DDPM UNet (Ho et
al., 2020) cut down to what 8-64 px images need: residual blocks with GroupNorm and
SiLU, the timestep's sinusoidal embedding plus a learned class embedding added into
every block (scale and shift, as in Dhariwal & Nichol, 2021), one block per level on
the way down and up, stride-2 convolutions down and nearest-neighbour upsampling.
No attention: at these sizes it costs more than it gives on a CPU.

Class index ``n_classes`` is the *null* label: classifier-free guidance (Ho &
Salimans, 2022) trains with labels randomly replaced by it and samples with a mix
of the conditional and the null prediction. ``n_classes == 0`` makes the network
unconditional (the ``per-class`` strategy); labels are then ignored.

Sizes: the input is padded (reflect) to a multiple of ``2 ** (levels - 1)`` and the
output cropped back, so any size the GAN accepts works.

Why our own and not ``diffusers``' ``UNet2DModel``: measured on this project's 2-core
CPU machine, see ``docs/benchmarks.md`` (section "Diffusion generator").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiffusionUNet", "levels_for"]


def levels_for(height: int, width: int) -> int:
    """Resolution levels of the UNet: 2 below 16 px, 3 from 16 px on."""
    return 2 if min(height, width) < 16 else 3


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps; ``(B,)`` -> ``(B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _groups(channels: int) -> int:
    for g in (8, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the embedding as scale and shift in between (and
    dropout before the second convolution while training, as in Ho et al., 2020)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = float(dropout)
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        if self.training and self.dropout > 0:
            h = F.dropout(h, self.dropout, training=True)  # torch's global RNG: the trainer seeds it per batch
        return self.conv2(h) + self.skip(x)


class DiffusionUNet(nn.Module):
    """Noise predictor ``eps(x_t, t, y)``.

    Parameters
    ----------
    image_shape : (C, H, W)
    n_classes : int
        Number of classes; 0 for an unconditional network.
    width : int
        Channels of the first level; deeper levels have ``2 * width``.
    levels : int or None
        Resolution levels (None: :func:`levels_for` the image size).
    warp_flag : bool
        Also embed whether each input was warped by training-time augmentation
        (``warped`` in :meth:`forward`; None, as when sampling, means not warped).
    dropout : float
        Dropout probability inside every residual block while training (no parameters:
        the initial weights do not depend on it).

    Shape
    -----
    x : ``(B, C, H, W)``; t : ``(B,)`` int64; y : ``(B,)`` int64 in ``[0, n_classes]``
    (``n_classes``: the null label) or None; warped : ``(B,)`` int64 in {0, 1} or None;
    returns ``(B, C, H, W)``.
    """

    def __init__(self, image_shape, n_classes: int, width: int = 32, levels: int | None = None, *,
                 warp_flag: bool = False, dropout: float = 0.0):
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        self.n_classes = int(n_classes)
        self.levels = int(levels or levels_for(h, w))
        emb_dim = 4 * width
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(self.n_classes + 1, emb_dim) if self.n_classes > 0 else None
        chans = [width * min(2, 2 ** i) for i in range(self.levels)]  # e.g. 32, 64, 64
        self.stem = nn.Conv2d(c, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = chans[0]
        for i, ch in enumerate(chans):
            self.down.append(ResBlock(prev, ch, emb_dim, dropout))
            prev = ch
            if i < self.levels - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = ResBlock(prev, prev, emb_dim, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            self.up.append(ResBlock(prev + ch, ch, emb_dim, dropout))
            prev = ch
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, chans[i - 1], 3, padding=1))
                prev = chans[i - 1]
        self.out_norm = nn.GroupNorm(_groups(prev), prev)
        self.out = nn.Conv2d(prev, c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # Non-leaking augmentation: "this training image was warped" (1) or not (0, and
        # always when sampling). Registered last and zero at the start, so a network
        # without it draws the same initial weights.
        self.warp_emb = nn.Embedding(2, emb_dim) if warp_flag else None
        if self.warp_emb is not None:
            nn.init.zeros_(self.warp_emb.weight)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None,
                warped: torch.Tensor | None = None) -> torch.Tensor:
        _, _, h, w = x.shape
        m = 2 ** (self.levels - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode=mode)
        emb = self.time_mlp(timestep_embedding(t, self.width))
        if self.class_emb is not None:
            labels = torch.full_like(t, self.n_classes) if y is None else y
            emb = emb + self.class_emb(labels)
        if self.warp_emb is not None and warped is not None:
            emb = emb + self.warp_emb(warped)
        emb = F.silu(emb)
        hs = []
        hcur = self.stem(x)
        for i, block in enumerate(self.down):
            hcur = block(hcur, emb)
            hs.append(hcur)
            if i < self.levels - 1:
                hcur = self.downsample[i](hcur)
        hcur = self.mid(hcur, emb)
        for j, block in enumerate(self.up):
            hcur = block(torch.cat([hcur, hs.pop()], dim=1), emb)
            if j < self.levels - 1:
                hcur = self.upsample[j](F.interpolate(hcur, scale_factor=2.0, mode="nearest"))
        out = self.out(F.silu(self.out_norm(hcur)))
        if ph or pw:
            out = out[:, :, ph // 2: ph // 2 + h, pw // 2: pw // 2 + w]
        return out
