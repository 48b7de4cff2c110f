"""The diversity switches of ConditionalGAN: mode seeking, LeCam, conditional BatchNorm, ADA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synthaug.exceptions import ConfigError
from synthaug.generators import ConditionalGAN, training
from synthaug.generators import regularisers as reg
from synthaug.generators.diffaugment import diff_augment
from synthaug.seeding import torch_generator

TINY = {"width": 8, "latent_dim": 8, "batch_size": 16, "random_state": 0, "device": "cpu"}
SWITCHES = [
    {"mode_seeking": 1.0},
    {"lecam": 0.3},
    {"conditional_norm": True},
    {"ada_target": 0.6},
]
OFF = {"mode_seeking": 0.0, "lecam": 0.0, "conditional_norm": False, "ada_target": None}
DEFAULTS = OFF  # opt-in: they helped low-data digits but hurt BreastMNIST (docs/benchmarks.md)


@pytest.fixture(scope="module")
def toy():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)  # 36 images: 2 steps per epoch
    return ds.images, ds.labels


def weights(gan):
    return {f"{i}.{k}": v for i, net in enumerate(gan.generators_) for k, v in net.state_dict().items()}


def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def default_fit(toy):
    """Every diversity switch off: the GAN as it was before they existed."""
    return ConditionalGAN(**TINY, epochs=3, **OFF).fit(*toy)


# ----------------------------------------------------------------------- estimator level
def test_defaults_reproduce_a_fit_without_the_new_parameters(toy, default_fit):
    """Every switch is off by default: a plain fit is the GAN as it was before them."""
    plain = ConditionalGAN(**TINY, epochs=3).fit(*toy)
    assert same_weights(plain, default_fit)
    assert plain.history_.equals(default_fit.history_)
    assert "ada_p" not in plain.history_.columns


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: next(iter(s)))
def test_each_switch_changes_training_and_is_deterministic(toy, default_fit, switch):
    a = ConditionalGAN(**TINY, epochs=3, **{**OFF, **switch}).fit(*toy)
    b = ConditionalGAN(**TINY, epochs=3, **{**OFF, **switch}).fit(*toy)
    assert same_weights(a, b)
    labels = np.tile(a.classes_, 2)
    np.testing.assert_array_equal(a.sample(labels, random_state=1), b.sample(labels, random_state=1))
    assert not same_weights(a, default_fit)  # conditional_norm: even the keys differ
    assert not np.array_equal(a.sample(labels, random_state=1), default_fit.sample(labels, random_state=1))


def _train_pair(toy, epochs, **params):
    gan = ConditionalGAN(**TINY, epochs=epochs, **params)
    cfg = gan._check_params()
    (pair,) = gan._build_pairs(0, 3, (1, 8, 8), torch.device("cpu"))
    X, y = (torch.tensor(a) for a in toy)
    for epoch in range(epochs):
        training.run_epoch(pair, X, y, cfg, seed=epoch)
    return pair


def test_ada_probability_follows_the_overfitting_heuristic(toy):
    step = reg.ADA_INTERVAL / reg.ADA_RAMP_STEPS
    # 6 epochs x 2 steps = 3 adjustments. Target 0: a D right on most reals raises p.
    up = _train_pair(toy, 6, ada_target=0.0)
    n_up = round(up.ada_p.item() / step)
    assert 1 <= n_up <= 3 and up.ada_p.item() == pytest.approx(n_up * step)
    # Target 1: r_t can never exceed it, so p stays at its start, 0.
    assert _train_pair(toy, 6, ada_target=1.0).ada_p.item() == 0.0


def test_trainer_history_rows_carry_ada_p_only_when_ada_is_on(toy):
    rows = {}
    real_init = training.Trainer.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        rows[len(rows)] = self.history

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training.Trainer, "__init__", spy)
        ConditionalGAN(**TINY, epochs=2, ada_target=0.0).fit(*toy)
        ConditionalGAN(**TINY, epochs=2, **OFF).fit(*toy)
    with_ada, without = rows[0], rows[1]
    assert [r["ada_p"] for r in with_ada] == [0.0, 0.0]  # 4 steps: the first adjustment lands after epoch 2
    assert all("ada_p" not in r for r in without)


def test_history_frame_has_ada_p_column_when_ada_is_on(toy):
    gan = ConditionalGAN(**TINY, epochs=2, ada_target=0.6).fit(*toy)
    assert list(gan.history_.columns)[-1] == "ada_p"


def test_resume_with_lecam_and_ada_is_bit_identical(toy, tmp_path, monkeypatch, interrupt_at):
    X, y = toy
    params = dict(TINY, epochs=5, checkpoint_every=2, lecam=0.3, ada_target=0.0, mode_seeking=0.5)
    full = ConditionalGAN(**params, checkpoint_dir=tmp_path / "full").fit(X, y)

    ckpt = tmp_path / "run"
    interrupt_at(3 * 2 + 2)  # in epoch 4; the checkpoint holds epoch 3 = step 6
    with pytest.raises(KeyboardInterrupt):
        ConditionalGAN(**params, checkpoint_dir=ckpt).fit(X, y)
    monkeypatch.undo()
    state = torch.load(ckpt / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3
    pair = state["pairs"][0]
    assert pair["lecam_anchors"].shape == (2,) and pair["ada_p"].shape == ()
    assert pair["ada_signs"][1].item() == 2 * TINY["batch_size"]  # 2 steps since the adjustment at step 4

    resumed = ConditionalGAN(**params, checkpoint_dir=ckpt).fit(X, y, resume=True)
    assert same_weights(full, resumed)
    labels = np.tile(full.classes_, 3)
    np.testing.assert_array_equal(full.sample(labels, random_state=1), resumed.sample(labels, random_state=1))
    assert full.history_.equals(resumed.history_)


def test_pair_state_round_trips_the_regulariser_state(toy):
    pair = _train_pair(toy, 3, lecam=0.3, ada_target=0.0)
    snap = pair.state()
    (other,) = ConditionalGAN(**TINY)._build_pairs(0, 3, (1, 8, 8), torch.device("cpu"))
    other.load_state(snap)
    for key in ("lecam_anchors", "ada_p", "ada_signs"):
        assert torch.equal(getattr(other, key), getattr(pair, key)), key
    pair.lecam_anchors += 1  # the snapshot is a copy
    assert not torch.equal(snap["lecam_anchors"], pair.lecam_anchors)
    # Older checkpoints have none of these keys.
    old = {k: v for k, v in snap.items() if k not in ("lecam_anchors", "ada_p", "ada_signs")}
    other.load_state(old)
    assert other.lecam_anchors is None and other.ada_p is None


@pytest.mark.parametrize("channels", [1, 3])
def test_conditional_norm_builds_samples_and_round_trips(tmp_path, channels):
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(4, n_classes=3, image_size=8, n_channels=channels, random_state=0)
    gan = ConditionalGAN(**TINY, epochs=1, conditional_norm=True).fit(ds.images, ds.labels)
    out = gan.sample([0, 1, 2, 2], random_state=0)
    assert out.shape == (4, channels, 8, 8)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert any("gain" in k for k in weights(gan))
    back = ConditionalGAN.load(gan.save(tmp_path / "m"))
    np.testing.assert_array_equal(back.sample([0, 1, 2, 2], random_state=0), out)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"mode_seeking": -1.0}, "mode_seeking"),
        ({"mode_seeking": "strong"}, "mode_seeking"),
        ({"lecam": math.nan}, "lecam"),
        ({"lecam": -0.1}, "lecam"),
        ({"ada_target": 1.5}, "ada_target"),
        ({"ada_target": True}, "ada_target"),
        ({"conditional_norm": "yes"}, "conditional_norm"),
        ({"conditional_norm": True, "model": "vanilla"}, "conditional_norm"),
        ({"conditional_norm": True, "strategy": "per-class"}, "conditional_norm"),
    ],
)
def test_bad_values_raise_config_error_naming_the_parameter(toy, params, name):
    with pytest.raises(ConfigError, match=name):
        ConditionalGAN(**TINY, epochs=1, **params).fit(*toy)


def test_ada_is_ignored_without_diff_augment(toy):
    """The default ada_target must not break diff_augment=None: there is nothing to adapt."""
    off = ConditionalGAN(**TINY, epochs=2, diff_augment=None, ada_target=None).fit(*toy)
    default = ConditionalGAN(**TINY, epochs=2, diff_augment=None).fit(*toy)
    np.testing.assert_array_equal(off.sample([0, 1], random_state=0), default.sample([0, 1], random_state=0))
    assert "ada_p" not in default.history_


# ----------------------------------------------------------------------- building blocks
def test_lecam_loss_penalises_only_outputs_past_the_other_anchor():
    anchors = torch.tensor([1.0, -1.0])  # (a_real, a_fake)
    real = torch.tensor([-2.0, 0.0, 2.0])  # relu(real - a_fake) = 0, 1, 3
    fake = torch.tensor([2.0, 0.0, -2.0])  # relu(a_real - fake) = 0, 1, 3
    assert reg.lecam_loss(real, fake, anchors).item() == pytest.approx(2 * (0 + 1 + 9) / 3)
    assert reg.lecam_loss(torch.full((3,), -5.0), torch.full((3,), 5.0), anchors).item() == 0.0


def test_anchors_start_at_the_batch_means_then_follow_an_ema():
    a = reg.update_anchors(None, torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0]))
    assert a.tolist() == [2.0, -1.0]
    b = reg.update_anchors(a, torch.tensor([12.0]), torch.tensor([-1.0]))
    assert b.tolist() == pytest.approx([2.0 * 0.99 + 12.0 * 0.01, -1.0])


def test_mode_seeking_loss_is_smaller_for_more_diverse_fakes():
    z1, z2 = torch.zeros(4, 8), torch.ones(4, 8)
    base = torch.zeros(4, 1, 8, 8)
    close = reg.mode_seeking_loss(base, base + 0.01, z1, z2)
    far = reg.mode_seeking_loss(base, base + 0.5, z1, z2)
    assert far.item() == pytest.approx(2.0, rel=1e-3) and close.item() > far.item()


@pytest.mark.parametrize("target, r_t, expected", [(0.6, 1.0, 0.5 + 0.008), (0.6, 0.0, 0.5 - 0.008),
                                                    (0.6, 0.6, 0.5)])
def test_ada_adjust_moves_towards_the_target(target, r_t, expected):
    signs = torch.tensor([r_t * 8, 8.0])
    assert reg.ada_adjust(torch.tensor(0.5), signs, target).item() == pytest.approx(expected)
    assert reg.ada_adjust(torch.tensor(1.0), torch.tensor([8.0, 8.0]), 0.6).item() == 1.0  # clipped
    assert reg.ada_adjust(torch.tensor(0.0), torch.tensor([-8.0, 8.0]), 0.6).item() == 0.0


def test_diff_augment_with_probability():
    x = torch.rand(16, 1, 8, 8)
    assert torch.equal(diff_augment(x, ("color", "cutout"), torch_generator(0), p=torch.tensor(0.0)), x)
    always = diff_augment(x, ("translation",), torch_generator(0))
    assert torch.equal(diff_augment(x, ("translation",), torch_generator(0), p=1.0), always)
    half = diff_augment(x, ("cutout",), torch_generator(0), p=0.5)
    changed = (half != x).flatten(1).any(1)
    assert 0 < changed.sum() < 16
