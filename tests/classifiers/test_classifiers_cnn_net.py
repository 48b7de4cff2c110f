"""CNNNet and its helpers: construction, seeded initialisation, BatchNorm statistics, augmentation."""

from __future__ import annotations

import copy

import pytest
import torch

from synthaug.classifiers.cnn_net import (
    CNNNet,
    augment_batch,
    build_network,
    recompute_batchnorm_stats,
)
from synthaug.seeding import torch_generator


@pytest.mark.parametrize("size", [4, 8, 13, 28])
def test_forward_and_features_shapes(size):
    net = build_network(3, 5, 4, torch.device("cpu"), torch_generator(0)).eval()
    x = torch.rand(2, 3, size, size)
    assert net(x).shape == (2, 5)
    assert net.features(x).shape == (2, net.n_features) == (2, 16)
    assert isinstance(net, CNNNet)


def test_build_network_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a = build_network(1, 3, 4, torch.device("cpu"), torch_generator(1))
    b = build_network(1, 3, 4, torch.device("cpu"), torch_generator(1))
    c = build_network(1, 3, 4, torch.device("cpu"), torch_generator(2))
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    # Normalisation starts as the identity; BatchNorm as a fresh layer.
    assert torch.equal(a.mean, torch.zeros(1, 1, 1, 1)) and torch.equal(a.std, torch.ones(1, 1, 1, 1))
    bn = next(m for m in a.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and int(bn.num_batches_tracked) == 0


def test_build_network_without_generator_is_fixed():
    a = build_network(1, 2, 4, torch.device("cpu"), None).state_dict()
    b = build_network(1, 2, 4, torch.device("cpu"), torch_generator(0)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_batchnorm_statistics_are_exact_averages_under_the_final_weights(fitted_cnn, toy_train):
    # After fit, each BatchNorm layer's running mean/var must be the equal-weight average
    # of the batch statistics that the final weights produce on the training images (in
    # training-size batches), not an exponential average of batches seen under earlier
    # weights. A train-mode forward pass on a copy records those batch statistics.
    net = copy.deepcopy(fitted_cnn.model_)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    expected = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    inputs: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(bns))}
    hooks = [bn.register_forward_hook(lambda mod, inp, out, i=i: inputs[i].append(inp[0].detach()))
             for i, bn in enumerate(bns)]
    x = torch.from_numpy(toy_train.images.copy())
    bs = fitted_cnn.batch_size
    net.train()
    try:
        with torch.no_grad():
            for start in range(0, len(x), bs):
                net(x[start:start + bs])  # dropout lives outside forward: deterministic
    finally:
        for h in hooks:
            h.remove()
    for i, (mean, var) in enumerate(expected):
        batches = inputs[i]
        means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches])
        variances = torch.stack([b.var(dim=(0, 2, 3), unbiased=True) for b in batches])
        torch.testing.assert_close(mean, means.mean(0), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(var, variances.mean(0), rtol=1e-4, atol=1e-5)
    assert not fitted_cnn.model_.training


def test_recompute_batchnorm_stats_restores_momentum_and_eval_mode():
    net = build_network(1, 2, 4, torch.device("cpu"), torch_generator(0))
    x = torch.rand(5, 1, 8, 8)
    recompute_batchnorm_stats(net, x, batch_size=2)  # last batch of one image: uses the last two
    assert not net.training
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.momentum == 0.1 for m in bns)
    assert all(torch.isfinite(m.running_var).all() for m in bns)
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).train()
    recompute_batchnorm_stats(plain, x, batch_size=2)  # no BatchNorm: only eval mode
    assert not plain.training


def test_augment_batch_is_seeded_in_range_and_shape_preserving():
    x = torch.rand(6, 3, 12, 12)
    a = augment_batch(x, torch_generator(0))
    b = augment_batch(x, torch_generator(0))
    c = augment_batch(x, torch_generator(1))
    assert a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # Light changes: shifts up to 1/8, rotations up to 10 degrees, noise of 0.02.
    assert 0 < float((a - x).abs().mean()) < 0.5


def test_augment_batch_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    augment_batch(torch.rand(2, 1, 8, 8, generator=torch_generator(3)), torch_generator(0))
    assert torch.equal(torch.get_rng_state(), state)
