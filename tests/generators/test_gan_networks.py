"""Network shapes for several image sizes, DiffAugment and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synthaug.seeding import torch_generator
from synthaug.generators import ConditionalGAN
from synthaug.generators.diffaugment import diff_augment, parse_policy
from synthaug.generators.losses import discriminator_loss, generator_loss
from synthaug.generators.networks import build_discriminator, build_generator, dcgan_plan

CPU = torch.device("cpu")


@pytest.mark.parametrize("size, plan", [(8, (1, 4, 4)), (28, (2, 7, 7)), (32, (3, 4, 4)), (64, (4, 4, 4)),
                                        (30, (2, 8, 8)), (4, (1, 2, 2))])
def test_dcgan_plan(size, plan):
    assert dcgan_plan(size, size) == plan


@pytest.mark.parametrize("model", ["vanilla", "dcgan"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 30, 30), (3, 16, 24)])
@pytest.mark.parametrize("n_classes", [0, 3])
def test_network_shapes(model, shape, n_classes):
    gen = torch_generator(0)
    g = build_generator(model, latent_dim=8, n_classes=n_classes, image_shape=shape, width=4, generator=gen, device=CPU)
    d = build_discriminator(model, n_classes=n_classes, image_shape=shape, width=4, spectral_norm=True,
                            generator=gen, device=CPU)
    z = torch.randn(5, 8, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1]) if n_classes else None
    x = g(z, y)
    assert x.shape == (5, *shape)
    assert 0 <= x.min() and x.max() <= 1
    assert d(x, y).shape == (5,)


def test_networks_are_seeded_by_the_private_generator():
    def build(seed):
        return build_generator("dcgan", latent_dim=8, n_classes=3, image_shape=(1, 8, 8), width=4,
                               generator=torch_generator(seed), device=CPU).state_dict()

    a, b, c = build(1), build(1), build(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["project.weight"], c["project.weight"])


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_estimator_on_larger_and_rgb_images(shape):
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(4, n_classes=2, image_size=shape[1], n_channels=shape[0], random_state=0)
    gan = ConditionalGAN(epochs=1, width=4, latent_dim=8, batch_size=8, random_state=0, device="cpu")
    gan.fit(ds.images, ds.labels)
    assert gan.image_shape_ == shape
    assert gan.sample([0, 1, 1]).shape == (3, *shape)


# ----------------------------------------------------------------------- DiffAugment
def test_parse_policy():
    assert parse_policy("color, Translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy(None) == () and parse_policy("") == () and parse_policy("none") == ()
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'blur'"):
        parse_policy("blur")


def test_diff_augment_is_seeded_shape_preserving_and_differentiable():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    policy = ("color", "translation", "cutout")
    a = diff_augment(x, policy, torch_generator(0))
    b = diff_augment(x, policy, torch_generator(0))
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, diff_augment(x, policy, torch_generator(1)))
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_shifts_and_cutout_zeroes():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 8] = 1.0
    gen = torch_generator(0)
    moved = [diff_augment(x, ("translation",), gen) for _ in range(20)]
    positions = {tuple(torch.nonzero(m[0, 0])[0].tolist()) for m in moved if m.sum() > 0}
    assert len(positions) > 1  # the pixel moves
    assert all(abs(r - 8) <= 2 and abs(c - 8) <= 2 for r, c in positions)  # by at most 16/8 pixels
    ones = torch.ones(4, 1, 16, 16)
    cut = diff_augment(ones, ("cutout",), torch_generator(0))
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert (zeros > 0).all() and (zeros <= 64).all()  # at most an 8 x 8 square


# ----------------------------------------------------------------------- losses
def test_losses_hand_computed():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([-2.0, 0.5])
    # hinge: relu(1 - real) = [0, 1] -> 0.5; relu(1 + fake) = [0, 1.5] -> 0.75
    assert discriminator_loss(real, fake, "hinge").item() == pytest.approx(1.25)
    assert generator_loss(fake, "hinge").item() == pytest.approx(0.75)
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    expected_d = np.mean([softplus(-2.0), softplus(0.0)]) + np.mean([softplus(-2.0), softplus(0.5)])
    assert discriminator_loss(real, fake, "bce").item() == pytest.approx(expected_d, rel=1e-5)
    # non-saturating: -log sigmoid(fake)
    assert generator_loss(fake, "bce").item() == pytest.approx(np.mean([softplus(2.0), softplus(-0.5)]), rel=1e-5)


# ----------------------------------------------------------------------- conditional BatchNorm
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
def test_conditional_norm_generator(shape):
    def build(**kw):
        return build_generator("dcgan", latent_dim=8, n_classes=3, image_shape=shape, width=4,
                               generator=torch_generator(0), device=CPU, **kw)

    plain, explicit, cond = build(), build(conditional_norm=False), build(conditional_norm=True)
    a, b = plain.state_dict(), explicit.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "body.0.gain.weight" in cond.state_dict() and "body.0.weight" not in cond.state_dict()
    assert torch.equal(cond.project.weight, plain.project.weight)  # built in the same order up to the norms
    with torch.no_grad():  # make the class code matter only through the norms
        cond.project.weight[:, 8:] = 0
        for m in cond.modules():
            if isinstance(m, nn.Linear) and m is not cond.project:
                m.weight.normal_(0, 1, generator=torch_generator(1))
    z = torch.randn(1, 8, generator=torch_generator(2)).repeat(4, 1)
    cond.eval()
    x = cond(z, torch.tensor([0, 1, 2, 0]))
    assert x.shape == (4, *shape) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x[0], x[3]) and not torch.equal(x[0], x[1])


@pytest.mark.parametrize("model, n_classes", [("vanilla", 3), ("dcgan", 0)])
def test_conditional_norm_needs_a_conditional_dcgan(model, n_classes):
    with pytest.raises(ValueError, match="conditional_norm"):
        build_generator(model, latent_dim=8, n_classes=n_classes, image_shape=(1, 8, 8), width=4,
                        generator=torch_generator(0), device=CPU, conditional_norm=True)
