"""The shared contract battery every attack passes (FGSM, PGD L-inf, PGD L2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synthaug.attacks import FGSM, PGD, robust_accuracy
from synthaug.exceptions import ConfigError, InvalidDataError

# name -> (factory(eps) -> attack, eps grid, norm). L2 radii are ~sqrt(64)=8x the L-inf ones.
ATTACKS = {
    "fgsm": (lambda eps, rs=0: FGSM(eps=eps), (0.0, 0.1, 0.15, 0.2, 0.25, 0.3), "linf"),
    "pgd_linf": (lambda eps, rs=0: PGD(eps=eps, n_steps=10, random_state=rs),
                 (0.0, 0.1, 0.15, 0.2, 0.25, 0.3), "linf"),
    "pgd_l2": (lambda eps, rs=0: PGD(eps=eps, norm="l2", n_steps=10, random_state=rs),
               (0.0, 0.5, 0.75, 1.0, 1.25, 1.5), "l2"),
}
NAMES = list(ATTACKS)
TOL = 1 / 60 + 1e-9  # one sample of the 60 toy images


def _largest(name):
    factory, grid, norm = ATTACKS[name]
    return factory(grid[-1]), grid[-1], norm


def _accuracy(model, images, labels):
    with torch.no_grad():
        return float((model(torch.tensor(images)).argmax(1).numpy() == labels).mean())


@pytest.mark.parametrize("name", NAMES)
def test_eps_zero_is_clean(name, trained_model, attack_data):
    images, labels = attack_data
    attack = ATTACKS[name][0](0.0)
    x_adv = attack(trained_model, images, labels)
    np.testing.assert_array_equal(x_adv, images)
    assert robust_accuracy(trained_model, images, labels, attack) == _accuracy(trained_model, images, labels)


@pytest.mark.parametrize("name", NAMES)
def test_robust_accuracy_non_increasing_in_eps(name, trained_model, attack_data):
    images, labels = attack_data
    factory, grid, _ = ATTACKS[name]
    accs = [robust_accuracy(trained_model, images, labels, factory(eps), random_state=0) for eps in grid]
    assert accs[0] > 0.9
    assert accs[-1] < accs[0]  # the grid reaches eps values that hurt
    for smaller, larger in zip(accs, accs[1:]):
        assert larger <= smaller + TOL, accs


def test_pgd_at_least_as_strong_as_fgsm(trained_model, attack_data):
    images, labels = attack_data
    for eps in ATTACKS["fgsm"][1]:
        fgsm = robust_accuracy(trained_model, images, labels, FGSM(eps=eps))
        pgd = robust_accuracy(trained_model, images, labels, PGD(eps=eps, random_state=0))
        assert pgd <= fgsm + TOL, (eps, pgd, fgsm)


def test_fgsm_matches_hand_computed_step_on_linear_model():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 12)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor(W))
        model[1].bias.copy_(torch.tensor(b))
    x = rng.random((5, 3, 2, 2), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1])
    eps = 0.1
    # d CE / d x = W^T (softmax(Wx + b) - onehot(y)) for a linear model.
    logits = x.reshape(5, -1) @ W.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[y]) @ W
    expected = np.clip(x + eps * np.sign(grad).reshape(x.shape), 0, 1)
    np.testing.assert_allclose(FGSM(eps=eps)(model, x, y), expected, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_in_range_and_inside_eps_ball(name, trained_model, attack_data):
    images, labels = attack_data
    attack, eps, norm = _largest(name)
    x_adv = attack(trained_model, images, labels)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    delta = (x_adv - images).reshape(len(images), -1)
    if norm == "linf":
        assert np.abs(delta).max() <= eps + 1e-6
    else:
        assert np.linalg.norm(delta, axis=1).max() <= eps + 1e-5
    assert np.abs(delta).max() > 0  # it did move


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_model_modes_restored(name, mode, trained_model, attack_data):
    images, labels = attack_data
    trained_model.train(mode != "eval")
    if mode == "mixed":
        trained_model[4].eval()  # dropout off, the rest in training mode
    before = [m.training for m in trained_model.modules()]
    running_mean = trained_model[2].running_mean.clone()
    _largest(name)[0](trained_model, images, labels)
    assert [m.training for m in trained_model.modules()] == before
    # Eval mode during the attack: BatchNorm statistics did not move.
    torch.testing.assert_close(trained_model[2].running_mean, running_mean)


class _FailsOnGradient(nn.Module):
    """Works without gradients (the logit check) and raises inside the attack's gradient pass."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        if x.requires_grad:
            raise RuntimeError("boom")
        return self.drop(self.linear(x.flatten(1)))


@pytest.mark.parametrize("name", NAMES)
def test_model_mode_restored_after_exception(name):
    model = _FailsOnGradient().train()
    with pytest.raises(RuntimeError, match="boom"):
        ATTACKS[name][0](0.5)(model, np.full((2, 1, 2, 2), 0.5, np.float32), np.array([0, 1]))
    assert model.training and model.drop.training


@pytest.mark.parametrize("name", NAMES)
def test_parameters_untouched_and_no_grad_written(name, trained_model, attack_data):
    images, labels = attack_data
    trained_model[1].weight.requires_grad_(False)  # a frozen layer stays frozen
    before = {k: v.clone() for k, v in trained_model.state_dict().items()}
    _largest(name)[0](trained_model, images, labels)
    for k, v in trained_model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert all(p.grad is None for p in trained_model.parameters())
    assert trained_model[1].weight.requires_grad is False
    assert trained_model[5].weight.requires_grad is True


@pytest.mark.parametrize("name", NAMES)
def test_numpy_in_numpy_out_tensor_in_tensor_out(name, trained_model, attack_data):
    images, labels = attack_data
    attack = _largest(name)[0]
    out = attack(trained_model, images, labels)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == images.shape
    t_out = attack(trained_model, torch.tensor(images), torch.tensor(labels))
    assert isinstance(t_out, torch.Tensor) and t_out.dtype == torch.float32
    np.testing.assert_allclose(t_out.numpy(), out, atol=1e-6)
    # Read-only inputs (as ImageDataset hands out) are fine and not modified.
    ro = images.copy()
    ro.flags.writeable = False
    attack(trained_model, ro, labels)
    np.testing.assert_array_equal(ro, images)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_random_state(name, trained_model, attack_data):
    images, labels = attack_data
    factory, grid, _ = ATTACKS[name]
    a = factory(grid[-2], 7)(trained_model, images, labels)
    b = factory(grid[-2], 7)(trained_model, images, labels)
    np.testing.assert_array_equal(a, b)


def test_pgd_random_start_depends_on_seed_and_leaves_global_rng_alone(trained_model, attack_data):
    images, labels = attack_data
    state = torch.get_rng_state()
    a = PGD(eps=0.1, n_steps=1, random_state=1)(trained_model, images, labels)
    b = PGD(eps=0.1, n_steps=1, random_state=2)(trained_model, images, labels)
    assert not np.array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)


def test_pgd_restarts_never_weaker_per_sample(trained_model, attack_data):
    images, labels = attack_data

    def outcome(x):
        with torch.no_grad():
            logits = trained_model(torch.tensor(x))
        loss = nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="none").numpy()
        return logits.argmax(1).numpy() != labels, loss

    one = PGD(eps=0.2, n_steps=5, n_restarts=1, random_state=3)(trained_model, images, labels)
    three = PGD(eps=0.2, n_steps=5, n_restarts=3, random_state=3)(trained_model, images, labels)
    fool1, loss1 = outcome(one)
    fool3, loss3 = outcome(three)
    assert np.all(fool3 | ~fool1)  # fooled with one restart -> fooled with three
    same = fool1 == fool3
    assert np.all(loss3[same] >= loss1[same] - 1e-5)


def test_pgd_default_step_size():
    assert PGD(eps=0.1, n_steps=10).effective_step_size == pytest.approx(0.025)
    assert PGD(eps=0.1, step_size=0.01).effective_step_size == 0.01


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FGSM(eps=-0.1), "eps must be a finite number >= 0"),
        (lambda: FGSM(eps=float("nan")), "eps must be a finite number >= 0"),
        (lambda: FGSM(eps="big"), "eps must be a number"),
        (lambda: PGD(eps=0.1, n_steps=0), "n_steps must be an integer >= 1"),
        (lambda: PGD(eps=0.1, n_restarts=0), "n_restarts must be an integer >= 1"),
        (lambda: PGD(eps=0.1, norm="l1"), "norm must be one of"),
        (lambda: PGD(eps=0.1, step_size=0), "step_size must be a number > 0"),
    ],
)
def test_bad_hyperparameters_raise_config_error(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_clear_errors(name, trained_model, attack_data):
    images, labels = attack_data
    attack = _largest(name)[0]
    with pytest.raises(InvalidDataError, match=rf"{type(attack).__name__}: images values span .*expected \[0, 1\]"):
        attack(trained_model, images * 255, labels)
    with pytest.raises(InvalidDataError, match=r"expects images of shape \(N, C, H, W\)"):
        attack(trained_model, images[:, 0], labels)
    bad = images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InvalidDataError, match="NaN"):
        attack(trained_model, bad, labels)
    with pytest.raises(InvalidDataError, match="labels has shape"):
        attack(trained_model, images, labels[:-1])
    with pytest.raises(InvalidDataError, match="model returns 3 logits"):
        attack(trained_model, images, labels + 3)
    with pytest.raises(InvalidDataError, match="labels must be whole numbers"):
        attack(trained_model, images, labels + 0.5)
    with pytest.raises(InvalidDataError, match="integer class indices"):
        attack(trained_model, images, labels.astype(str))
    with pytest.raises(ConfigError, match="must be a torch.nn.Module"):
        attack(lambda x: x, images, labels)
