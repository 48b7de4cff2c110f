"""The network behind :class:`~synthaug.classifiers.CNNClassifier` and its training helpers.

- :class:`CNNNet`: three conv blocks, global average pooling and a linear head, with
  the input normalisation (per-channel mean and standard deviation, stored as buffers)
  inside ``forward``, so it takes images in ``[0, 1]`` pixel space;
- :func:`build_network`: construction that never draws from the global RNG;
- :func:`recompute_batchnorm_stats`: exact BatchNorm statistics under the final weights;
- :func:`augment_batch`: the train-time augmentation (shifts, rotations, light noise).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..seeding import torch_generator

__all__ = ["CNNNet", "augment_batch", "build_network", "init_network", "recompute_batchnorm_stats"]


class CNNNet(nn.Module):
    """Three conv blocks, global average pooling and a linear head.

    Works for any image size from 8x8 up (two 2x2 poolings, then adaptive pooling).

    Parameters
    ----------
    in_channels, n_classes, width : int
        Channels of the blocks are ``width``, ``2 * width``, ``4 * width``.

    Shape
    -----
    forward : ``(N, C, H, W)`` in [0, 1] -> logits ``(N, n_classes)``.
    features : ``(N, C, H, W)`` -> ``(N, 4 * width)`` (the penultimate layer).
    """

    def __init__(self, in_channels: int, n_classes: int, width: int = 32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))

        def block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if pool:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            return layers

        self.body = nn.Sequential(
            *block(in_channels, width, True),
            *block(width, 2 * width, True),
            *block(2 * width, 4 * width, False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, n_classes)
        self.n_features = 4 * width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: normalised input through the conv body."""
        return self.body((x - self.mean) / self.std)  # (N, 4 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the classes for images in [0, 1]."""
        return self.head(self.features(x))  # (N, n_classes)


def init_network(net: nn.Module, gen: torch.Generator) -> None:
    """Initialise every parameter from a private generator (He init, as PyTorch's defaults).

    Parameters
    ----------
    net : torch.nn.Module
        Its convolutions, linear layers and BatchNorm layers are reset in place.
    gen : torch.Generator
        The only source of randomness (the global RNG is never touched).
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()


def build_network(in_channels: int, n_classes: int, width: int, device: torch.device,
                  gen: torch.Generator | None) -> CNNNet:
    """A freshly initialised :class:`CNNNet` on ``device``.

    Parameters
    ----------
    in_channels, n_classes, width : int
        As in :class:`CNNNet`.
    device : torch.device
    gen : torch.Generator or None
        Initialises the weights; ``None`` uses a fixed seed (for loading, where the
        weights are overwritten anyway).
    """
    # Built on the meta device so construction never draws from the global RNG.
    with torch.device("meta"):
        net = CNNNet(in_channels, n_classes, width)
    net = net.to_empty(device=device)
    net.mean.zero_()
    net.std.fill_(1.0)
    init_network(net, gen if gen is not None else torch_generator(0))
    return net


def recompute_batchnorm_stats(net: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace BatchNorm's running statistics with exact averages over the training images.

    During training the running mean and variance are exponential averages (momentum
    0.1) of batches seen under *earlier* weights. With a few hundred images and a
    fast-moving network they lag far behind the final weights, and the eval-mode
    network then predicts very differently from the one that was trained: on
    BreastMNIST, test accuracy swung between 0.67 and 0.80 over three seeds at an
    almost constant ROC-AUC. Recomputing them with the final weights, over clean
    training images in the training batch size, removes that gap (0.80 to 0.87).
    Leaves ``net`` in eval mode.

    Shape
    -----
    x : ``(N, C, H, W)`` in [0, 1] on the network's device.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        net.eval()
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative (equal-weight) average over the batches below
    net.train()
    try:
        with torch.no_grad():
            n = x.shape[0]
            for start in range(0, n, batch_size):
                xb = x[start:start + batch_size]
                if xb.shape[0] < 2 and n >= 2:  # a single image has no batch variance
                    xb = x[max(0, n - 2):]
                net(xb)
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        net.eval()


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts (up to 1/8 of the size), rotations (up to 10 degrees) and light noise.

    One affine grid per batch, so there is no per-sample Python. ``gen`` is a CPU
    generator; the draws move to ``x``'s device afterwards, so results do not depend on
    the device's RNG.

    Shape
    -----
    x : ``(B, C, H, W)`` in [0, 1]; returns the same shape.
    """
    b = x.shape[0]
    rand = torch.rand(b, 3, generator=gen).to(x.device) * 2 - 1  # (B, 3) in [-1, 1)
    angle = rand[:, 0] * math.radians(10)
    shift = rand[:, 1:] * 0.25  # grid units: [-1, 1] spans the image, so 0.25 = 1/8 of it
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    noise = torch.randn(x.shape, generator=gen).to(x.device) * 0.02
    return (out + noise).clamp(0.0, 1.0)
