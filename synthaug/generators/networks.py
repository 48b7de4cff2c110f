"""Generator and discriminator networks: ``vanilla`` (MLP) and ``dcgan`` (convolutional).

Every network is built by :func:`build_generator` / :func:`build_discriminator`, which
create the modules on the ``meta`` device and then initialise every parameter and
buffer from a private :class:`torch.Generator`. That keeps construction deterministic
under ``random_state`` without ever touching torch's global RNG.

A network is *conditional* when ``n_classes > 0`` (it takes class indices ``y``) and
*unconditional* when ``n_classes == 0`` (``y`` is ignored; the ``per-class`` strategy).

Image sizes (``dcgan``)
-----------------------
The generator starts from an ``h0 x w0`` grid and doubles it ``k`` times, with
``k = max(1, floor(log2(min(H, W) / 4)))`` and ``h0 = ceil(H / 2**k)``. Sizes such as
8, 16, 28 (7 * 4), 32, 48, 56 and 64 are produced exactly; any other size of at least
4 pixels is generated at the next size of that form and centre-cropped (for example
30 x 30 is generated at 32 x 32 and loses one pixel on each side). The discriminator
downsamples ``k`` times and pools globally, so it accepts the same sizes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

__all__ = [
    "ConditionalBatchNorm2d",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "VanillaDiscriminator",
    "VanillaGenerator",
    "build_discriminator",
    "build_generator",
    "dcgan_plan",
]

MIN_SIZE = 4


def dcgan_plan(height: int, width: int) -> tuple[int, int, int]:
    """Return ``(k, h0, w0)``: the number of x2 stages and the starting grid.

    The generator's raw output is ``(h0 * 2**k, w0 * 2**k)``, at least ``(height, width)``.
    """
    k = max(1, int(math.floor(math.log2(min(height, width) / MIN_SIZE))))
    return k, math.ceil(height / 2**k), math.ceil(width / 2**k)


def _center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop ``(B, C, H', W')`` to ``(B, C, height, width)`` around the centre."""
    top = (x.shape[2] - height) // 2
    left = (x.shape[3] - width) // 2
    return x[:, :, top : top + height, left : left + width]


# ----------------------------------------------------------------------- spectral norm
class SpectralNorm(nn.Module):
    """Weight parametrisation ``W / sigma(W)`` (Miyato et al. 2018, one power step per call).

    Written here rather than using ``torch.nn.utils.parametrizations.spectral_norm`` so
    that the power-iteration vectors are drawn from a private generator.

    Shape
    -----
    weight : ``(out, ...)``; it is viewed as an ``(out, prod(...))`` matrix.
    """

    def __init__(self, weight: torch.Tensor, generator: torch.Generator, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        mat = weight.detach().flatten(1)  # (out, in)
        u = torch.randn(mat.shape[0], generator=generator, device=generator.device)
        v = torch.randn(mat.shape[1], generator=generator, device=generator.device)
        self.register_buffer("u", F.normalize(u.to(weight.device), dim=0, eps=eps))
        self.register_buffer("v", F.normalize(v.to(weight.device), dim=0, eps=eps))
        with torch.no_grad():
            for _ in range(15):  # start from a converged estimate, as torch does
                self._power_step(mat)

    def _power_step(self, mat: torch.Tensor) -> None:
        self.v.copy_(F.normalize(mat.t() @ self.u, dim=0, eps=self.eps))
        self.u.copy_(F.normalize(mat @ self.v, dim=0, eps=self.eps))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mat = weight.flatten(1)
        if self.training:
            with torch.no_grad():
                self._power_step(mat)
        # u and v are constants for autograd; clone so later in-place updates (the next
        # forward before backward) do not invalidate this graph.
        sigma = torch.dot(self.u.clone(), mat @ self.v.clone())
        return weight / sigma


def _apply_spectral_norm(module: nn.Module, generator: torch.Generator) -> None:
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.Embedding)):
            parametrize.register_parametrization(layer, "weight", SpectralNorm(layer.weight, generator))


# ----------------------------------------------------------------------- initialisation
def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN-style initialisation of every parameter and buffer, from ``generator``."""

    def normal(t: torch.Tensor, mean: float, std: float) -> None:
        # Draw on the generator's device, then copy: works for CPU generators and CUDA nets.
        t.copy_(torch.randn(t.shape, generator=generator, device=generator.device) * std + mean)

    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                normal(layer.weight, 0.0, 0.02)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.Embedding):
                normal(layer.weight, 0.0, 0.02)
            elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
                if layer.affine:  # not affine inside ConditionalBatchNorm2d
                    normal(layer.weight, 1.0, 0.02)
                    layer.bias.zero_()
                layer.running_mean.zero_()
                layer.running_var.fill_(1.0)
                layer.num_batches_tracked.zero_()
            elif any(True for _ in layer.parameters(recurse=False)) or any(
                True for _ in layer.buffers(recurse=False)
            ):
                raise TypeError(f"no initialiser for {type(layer).__name__}")  # a developer error


# ----------------------------------------------------------------------- vanilla (MLP)
class _Generator(nn.Module):
    """What both generators share: the label code concatenated to the noise.

    A subclass builds its layers after calling ``__init__`` (so ``embed`` is registered,
    and initialised, first) and writes ``_decode``.

    Shape
    -----
    z : ``(B, latent_dim)``; y : ``(B,)`` int64 (ignored when unconditional).
    returns : ``(B, C, H, W)`` in ``[0, 1]``.
    """

    def __init__(self, latent_dim: int, n_classes: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.embed = nn.Embedding(n_classes, latent_dim) if n_classes > 0 else None
        self.in_dim = latent_dim * (2 if n_classes > 0 else 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = None
        if self.embed is not None:
            code = self.embed(y)  # (B, latent_dim)
            z = torch.cat([z, code], dim=1)  # (B, 2 * latent_dim)
        return self._decode(z, code)  # (B, C, H, W)

    def _decode(self, z: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class VanillaGenerator(_Generator):
    """MLP generator: ``[z, embed(y)] -> hidden -> C*H*W`` through a sigmoid.

    The label embedding is initialised at unit scale, like z (see ``build_generator``).
    Inputs and output as in every generator: ``z (B, latent_dim)`` and ``y (B,)`` give
    ``(B, C, H, W)`` in ``[0, 1]``.
    """

    def __init__(self, latent_dim: int, n_classes: int, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__(latent_dim, n_classes, image_shape)
        self.net = nn.Sequential(
            nn.Linear(self.in_dim, 4 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(4 * width, 8 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(8 * width, int(math.prod(image_shape))),
        )

    def _decode(self, z: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).view(z.shape[0], *self.image_shape)  # (B, C, H, W)


class _Discriminator(nn.Module):
    """What both discriminators share: a projection head on features ``phi``
    (Miyato & Koyama, 2018): ``logit = linear(phi) + <embed(y), phi>``.

    A subclass builds its feature layers, then calls ``_add_head`` (so the head is
    registered, and initialised, last) and writes ``_features``.

    Shape
    -----
    x : ``(B, C, H, W)``; y : ``(B,)`` int64 (ignored when unconditional).
    returns : ``(B,)`` logits.
    """

    def _add_head(self, n_features: int, n_classes: int) -> None:
        self.linear = nn.Linear(n_features, 1)
        self.embed = nn.Embedding(n_classes, n_features) if n_classes > 0 else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        phi = self._features(x, y)  # (B, F)
        out = self.linear(phi).squeeze(1)  # (B,)
        if self.embed is not None:
            out = out + (self.embed(y) * phi).sum(dim=1)  # projection term
        return out

    def _features(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class VanillaDiscriminator(_Discriminator):
    """MLP discriminator: ``[flatten(x), one_hot(y)] -> hidden -> phi``, plus a projection term.

    The label enters twice: concatenated to the input (Mirza & Osindero, 2014) and
    through the projection head, which gives it a direct path to the logit.
    ``x (B, C, H, W)`` and ``y (B,)`` give ``(B,)`` logits.
    """

    def __init__(self, n_classes: int, image_shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        self.n_classes = n_classes
        in_dim = int(math.prod(image_shape)) + n_classes
        self.net = nn.Sequential(
            nn.Linear(in_dim, 8 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(8 * width, 4 * width),
            nn.LeakyReLU(0.2),
        )
        self._add_head(4 * width, n_classes)

    def _features(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = x.flatten(1)  # (B, C*H*W)
        if self.n_classes > 0:
            h = torch.cat([h, F.one_hot(y, self.n_classes).to(h.dtype)], dim=1)  # (B, C*H*W + K)
        return self.net(h)  # (B, F)


# ----------------------------------------------------------------------- DCGAN
class ConditionalBatchNorm2d(nn.Module):
    """Class-conditional BatchNorm (as in BigGAN, Brock et al. 2019).

    Normalise without affine parameters, then scale by ``1 + gain(code)`` and shift by
    ``bias(code)``, where ``code`` is the generator's label embedding and ``gain``,
    ``bias`` are linear maps (initialised near zero, so it starts as plain BatchNorm).

    Shape
    -----
    x : ``(B, C, H, W)``; code : ``(B, E)``. returns : ``(B, C, H, W)``.
    """

    def __init__(self, num_features: int, code_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Linear(code_dim, num_features)
        self.bias = nn.Linear(code_dim, num_features)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        scale = 1.0 + self.gain(code)[:, :, None, None]  # (B, C, 1, 1)
        return self.norm(x) * scale + self.bias(code)[:, :, None, None]


class DCGANGenerator(_Generator):
    """Transposed-convolution generator (Radford et al. 2016), label embedding in the input.

    ``[z, embed(y)] -> Linear -> (c0, h0, w0) -> k x [ConvT 4x4 stride 2, BN, ReLU]
    -> Conv 3x3 -> sigmoid``, centre-cropped to ``(H, W)`` (see the module notes).
    With ``conditional_norm`` (conditional networks only) every BN is a
    :class:`ConditionalBatchNorm2d` driven by ``embed(y)``.
    ``z (B, latent_dim)`` and ``y (B,)`` give ``(B, C, H, W)`` in ``[0, 1]``.
    """

    def __init__(self, latent_dim: int, n_classes: int, image_shape: tuple[int, int, int], width: int = 32,
                 conditional_norm: bool = False):
        super().__init__(latent_dim, n_classes, image_shape)
        c, h, w = image_shape
        k, self.h0, self.w0 = dcgan_plan(h, w)
        chans = [min(width * 2 ** (k - i), 8 * width) for i in range(k + 1)]  # c0 ... width
        self.c0 = chans[0]
        self.conditional_norm = bool(conditional_norm)

        def norm(n: int) -> nn.Module:
            return ConditionalBatchNorm2d(n, latent_dim) if conditional_norm else nn.BatchNorm2d(n)

        self.project = nn.Linear(self.in_dim, chans[0] * self.h0 * self.w0)
        layers: list[nn.Module] = [norm(chans[0]), nn.ReLU()]
        for i in range(k):
            layers += [
                nn.ConvTranspose2d(chans[i], chans[i + 1], 4, 2, 1, bias=False),
                norm(chans[i + 1]),
                nn.ReLU(),
            ]
        layers.append(nn.Conv2d(chans[-1], c, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def _decode(self, z: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self.c0, self.h0, self.w0)  # (B, c0, h0, w0)
        if self.conditional_norm:
            for layer in self.body:
                h = layer(h, code) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
            x = torch.sigmoid(h)
        else:
            x = torch.sigmoid(self.body(h))  # (B, C, h0 * 2**k, w0 * 2**k)
        _, height, width = self.image_shape
        if x.shape[2] != height or x.shape[3] != width:
            x = _center_crop(x, height, width)  # (B, C, H, W)
        return x


class DCGANDiscriminator(_Discriminator):
    """Strided-convolution discriminator with a projection head (Miyato & Koyama 2018).

    ``Conv 3x3 -> k x [Conv 4x4 stride 2, LeakyReLU] -> global sum pool -> phi``;
    ``logit = linear(phi) + <embed(y), phi>``. ``x (B, C, H, W)`` and ``y (B,)`` give
    ``(B,)`` logits.
    """

    def __init__(self, n_classes: int, image_shape: tuple[int, int, int], width: int = 32):
        super().__init__()
        c, h, w = image_shape
        k, _, _ = dcgan_plan(h, w)
        chans = [min(width * 2**i, 8 * width) for i in range(k + 1)]  # width ... c_k
        layers: list[nn.Module] = [nn.Conv2d(c, chans[0], 3, 1, 1), nn.LeakyReLU(0.2)]
        for i in range(k):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self._add_head(chans[-1], n_classes)

    def _features(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.body(x).sum(dim=(2, 3))  # (B, F)


# ----------------------------------------------------------------------- builders
_GENERATORS = {"vanilla": VanillaGenerator, "dcgan": DCGANGenerator}
_DISCRIMINATORS = {"vanilla": VanillaDiscriminator, "dcgan": DCGANDiscriminator}


def build_generator(
    model: str,
    *,
    latent_dim: int,
    n_classes: int,
    image_shape: tuple[int, int, int],
    width: int,
    generator: torch.Generator,
    device: torch.device,
    conditional_norm: bool = False,
) -> nn.Module:
    """A freshly initialised generator network on ``device`` (weights from ``generator``).

    ``conditional_norm`` makes the BatchNorm of a conditional ``dcgan`` generator
    class-conditional (:class:`ConditionalBatchNorm2d`); False builds (and initialises,
    in the same order) exactly the plain network.
    """
    extra = {}
    if conditional_norm:
        if model != "dcgan" or n_classes < 1:
            raise ValueError("conditional_norm needs a conditional dcgan generator (n_classes > 0)")
        extra["conditional_norm"] = True
    with torch.device("meta"):
        net = _GENERATORS[model](latent_dim, n_classes, tuple(image_shape), width, **extra)
    net = net.to_empty(device=device)
    _init_weights(net, generator)
    if isinstance(net, VanillaGenerator) and net.embed is not None:
        # Without BatchNorm, a 0.02-scale label code drowns in unit-variance noise and the
        # MLP learned to ignore the label; give it the same scale as z.
        with torch.no_grad():
            net.embed.weight.copy_(torch.randn(net.embed.weight.shape, generator=generator,
                                               device=generator.device))
    return net


def build_discriminator(
    model: str,
    *,
    n_classes: int,
    image_shape: tuple[int, int, int],
    width: int,
    spectral_norm: bool,
    generator: torch.Generator,
    device: torch.device,
) -> nn.Module:
    """A freshly initialised discriminator on ``device``, spectrally normalised if asked."""
    with torch.device("meta"):
        net = _DISCRIMINATORS[model](n_classes, tuple(image_shape), width)
    net = net.to_empty(device=device)
    _init_weights(net, generator)
    if spectral_norm:
        _apply_spectral_norm(net, generator)
    return net
