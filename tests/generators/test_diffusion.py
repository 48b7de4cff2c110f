"""What is particular to ConditionalDiffusion: guidance, the unconditional path, sizes,
its schedule and sampler, its budget, errors; and a tiny fit that learns the classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from synthaug.data.toy import make_toy_images
from synthaug.exceptions import ConfigError, TrainingDivergedError
from synthaug.generators import ConditionalDiffusion
from synthaug.generators.budget import DIFFUSION_RULE, resolve_budget
from synthaug.generators.diffusion import training as diffusion_training
from synthaug.generators.diffusion.schedule import alpha_bars, ddim_timesteps
from synthaug.generators.diffusion.unet import DiffusionUNet

TINY = dict(width=8, timesteps=50, sample_steps=4, batch_size=16, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def toy():
    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)
    return ds.images, ds.labels


@pytest.fixture(scope="module")
def learned():
    """A diffusion model trained long enough (about 10 s) to draw the toy classes."""
    ds = make_toy_images(30, n_classes=3, image_size=8, random_state=0)
    model = ConditionalDiffusion(width=16, steps=400, batch_size=32, timesteps=200, sample_steps=10,
                                 random_state=0, device="cpu").fit(ds.images, ds.labels)
    return model, ds


def test_tiny_fit_draws_recognisable_classes(learned):
    model, ds = learned
    clf = LogisticRegression(max_iter=1000).fit(ds.images.reshape(len(ds), -1), ds.labels)
    labels = np.repeat([0, 1, 2], 20)
    samples = model.sample(labels, random_state=1)
    accuracy = (clf.predict(samples.reshape(len(samples), -1)) == labels).mean()
    assert accuracy >= 0.9, accuracy
    # ... and they are not all one image: the samples of a class vary.
    assert samples[labels == 0].std(axis=0).mean() > 0.01


def test_guidance_scales(learned):
    model, ds = learned
    labels = np.repeat([0, 1, 2], 10)
    plain = model.sample(labels, random_state=2)
    guided = model.set_params(guidance_scale=3.0).sample(labels, random_state=2)
    unconditional = model.set_params(guidance_scale=0.0).sample(labels, random_state=2)
    model.set_params(guidance_scale=1.0)
    assert not np.array_equal(plain, guided) and not np.array_equal(plain, unconditional)
    for out in (guided, unconditional):
        assert out.shape == plain.shape and 0.0 <= out.min() and out.max() <= 1.0
    # Scale 0 ignores the label: the same noise gives the same image whatever the class.
    a = model.set_params(guidance_scale=0.0).sample([0, 0], random_state=3)
    b = model.sample([2, 2], random_state=3)
    model.set_params(guidance_scale=1.0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain, model.sample(labels, random_state=2))


def test_per_class_networks_are_unconditional(toy):
    model = ConditionalDiffusion(**TINY, epochs=1, strategy="per-class").fit(*toy)
    assert all(net.class_emb is None for net in model.generators_)
    assert model.sample([0, 2, 1]).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("shape", [(1, 5, 5), (1, 9, 13), (3, 8, 8), (1, 28, 28), (3, 17, 16)])
def test_any_size_the_gan_takes(shape):
    c, h, w = shape
    rng = np.random.default_rng(0)
    X = rng.random((8, c, h, w), dtype=np.float32)
    y = np.repeat([0, 1], 4)
    model = ConditionalDiffusion(**{**TINY, "batch_size": 4}, epochs=1).fit(X, y)
    assert model.sample([0, 1]).shape == (2, c, h, w)
    net = DiffusionUNet(shape, 2, 8)
    out = net(torch.zeros(2, c, h, w), torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert out.shape == (2, c, h, w)


def test_schedule_and_sampler_steps():
    abar = alpha_bars(1000)
    assert abar.shape == (1000,)
    assert torch.all(abar[1:] < abar[:-1]) and 0.99 < abar[0] <= 1.0 and abar[-1] < 1e-3
    steps = ddim_timesteps(1000, 25)
    assert len(steps) == 25 and steps[0] == 999 and steps[-1] == 0 and steps == sorted(steps, reverse=True)
    assert ddim_timesteps(10, 50) == list(range(9, -1, -1))  # never more steps than timesteps


def test_default_budget_follows_the_diffusion_rule(toy):
    b = resolve_budget(100, (1, 8, 8), rule=DIFFUSION_RULE)
    assert (b.batch_size, b.steps) == (25, 1200)
    breast = resolve_budget(546, (1, 28, 28), rule=DIFFUSION_RULE)
    assert breast.batch_size == 64 and 1000 <= breast.steps <= 1300  # the cost cap binds
    assert resolve_budget(5000, (1, 8, 8), rule=DIFFUSION_RULE).steps <= 4000 + 5000 // 64
    model = ConditionalDiffusion(**{**TINY, "batch_size": None}, steps=3).fit(*toy)
    assert model.budget_["batch_size"] == 16 and model.budget_["steps"] == 4  # 36 images: 2 steps/epoch


def test_nan_loss_rolls_back_then_gives_up(toy, monkeypatch):
    real = diffusion_training.diffusion_loss
    calls = {"n": 0}

    def loss(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        return out * float("nan") if calls["n"] == 3 else out

    monkeypatch.setattr(diffusion_training, "diffusion_loss", loss)
    model = ConditionalDiffusion(**TINY, epochs=3).fit(*toy)
    assert len(model.rollbacks_) == 1 and model.rollbacks_[0]["lr"] == pytest.approx(5e-4)
    assert model.history_["lr"].iloc[-1] == pytest.approx(5e-4) and len(model.history_) == 3

    monkeypatch.setattr(diffusion_training, "diffusion_loss", lambda *a, **k: real(*a, **k) * float("nan"))
    model = ConditionalDiffusion(**TINY, epochs=3, max_rollbacks=1)
    with pytest.raises(TrainingDivergedError, match="diffusion training diverged at epoch 1.*Try a lower lr"):
        model.fit(*toy)
    assert model.sample([0]).shape == (1, 1, 8, 8)  # the last healthy (initial) model is kept


def test_no_discriminator(toy):
    model = ConditionalDiffusion(**TINY, epochs=1).fit(*toy)
    with pytest.raises(ConfigError, match="no discriminator.*'coverage'"):
        model.discriminator_scores(toy[0], toy[1])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"strategy": "joint"}, "strategy='joint' is not supported; valid values: conditional, per-class."),
        ({"epochs": 2, "steps": 3}, "give at most one of epochs and steps"),
        ({"lr": 0}, "lr must be a number in (0, inf), got 0"),
        ({"sample_steps": 0}, "sample_steps must be an integer >= 1, got 0."),
        ({"guidance_scale": -1.0}, "guidance_scale must be a number in [0, inf), got -1.0."),
        ({"label_dropout": 1.0}, "label_dropout must be a number in [0, 1), got 1.0."),
        ({"timesteps": 1}, "timesteps must be an integer >= 2, got 1."),
        ({"ema_decay": 1.0}, "ema_decay must be a number in [0, 1), got 1.0."),
        ({"augment_p": 1.0}, "augment_p must be a number in [0, 1), got 1.0."),
        ({"dropout": 1.0}, "dropout must be a number in [0, 1), got 1.0."),
    ],
)
def test_bad_parameters(toy, params, message):
    with pytest.raises(ConfigError) as info:
        ConditionalDiffusion(**{**TINY, **params}).fit(*toy)
    assert message in str(info.value)


def test_bad_data_names_the_estimator(toy):
    X, y = toy
    with pytest.raises(Exception, match="ConditionalDiffusion expects images of shape"):
        ConditionalDiffusion(**TINY).fit(X[:, 0], y)
    with pytest.raises(Exception, match="a conditional diffusion model needs at least 2 classes"):
        ConditionalDiffusion(**TINY).fit(X, np.zeros(len(X), int))


def test_default_width_follows_the_image_size():
    model = ConditionalDiffusion()
    assert model._width((1, 8, 8)) == 32 and model._width((1, 16, 16)) == 32
    assert model._width((1, 28, 28)) == 16 and model._width((3, 8, 64)) == 16
    assert ConditionalDiffusion(width=24)._width((1, 28, 28)) == 24
    with pytest.raises(ConfigError, match="width must be an integer >= 2"):
        ConditionalDiffusion(width=1).fit(np.zeros((4, 1, 8, 8), np.float32), [0, 0, 1, 1])


def test_warp_batch_warps_the_flagged_images_only():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0  # one bright pixel in the centre
    same, flags = diffusion_training.warp_batch(x, torch.Generator().manual_seed(0), 0.0)
    assert torch.equal(same, x) and flags.sum() == 0
    out, flags = diffusion_training.warp_batch(x, torch.Generator().manual_seed(0), 0.5)
    again, flags2 = diffusion_training.warp_batch(x, torch.Generator().manual_seed(0), 0.5)
    assert torch.equal(out, again) and torch.equal(flags, flags2)  # seeded by the generator
    assert 10 < int(flags.sum()) < 54 and flags.dtype == torch.int64
    on = flags.bool()
    assert torch.equal(out[~on], x[~on])
    moved = (out[on] - x[on]).abs().flatten(1).amax(1)  # (n_on,): how much each warped image changed
    assert (moved > 0.05).float().mean() > 0.9
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_augmentation_adds_a_warp_input_that_starts_at_zero(toy):
    plain = ConditionalDiffusion(**TINY, epochs=1).fit(*toy)
    assert plain.generators_[0].warp_emb is None
    model = ConditionalDiffusion(**TINY, epochs=3, augment_p=0.5, ema_decay=None)
    net = model._make_generator(3, (1, 8, 8), "cpu", torch.Generator().manual_seed(0))
    assert torch.count_nonzero(net.warp_emb.weight) == 0
    # Registered last and zero: the other initial weights are those of a network without it.
    bare = ConditionalDiffusion(**TINY)._make_generator(3, (1, 8, 8), "cpu", torch.Generator().manual_seed(0))
    for (name, p), (name0, p0) in zip(net.named_parameters(), bare.named_parameters()):
        assert name == name0 and torch.equal(p, p0)
    model.fit(*toy)
    learned = model.generators_[0].warp_emb.weight
    assert torch.count_nonzero(learned) > 0  # it learned something about warped images
    samples = model.sample([0, 1, 2], random_state=0)
    assert samples.shape == (3, 1, 8, 8) and 0.0 <= samples.min() and samples.max() <= 1.0


def test_dropout_changes_training_only_and_leaves_the_global_rng_alone(toy):
    make = lambda p: ConditionalDiffusion(**TINY, epochs=3, dropout=p)  # noqa: E731
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    # no parameters of its own: the initial weights are those of a network without dropout
    for (name, a), (_, b) in zip(make(0.5)._make_generator(3, (1, 8, 8), "cpu", gen()).named_parameters(),
                                 make(0.0)._make_generator(3, (1, 8, 8), "cpu", gen()).named_parameters()):
        assert torch.equal(a, b), name
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    dropped = make(0.5).fit(*toy)
    assert torch.equal(torch.rand(4), expected)  # the fit seeded its own dropout masks
    torch.manual_seed(7)  # ... from random_state alone, whatever the caller's global seed
    again = make(0.5).fit(*toy)
    for a, b in zip(dropped.generators_[0].parameters(), again.generators_[0].parameters()):
        assert torch.equal(a, b)
    plain = make(0.0).fit(*toy)
    assert not np.array_equal(dropped.sample([0, 1, 2], random_state=0), plain.sample([0, 1, 2], random_state=0))
    net = dropped.generators_[0]
    assert not net.training  # sampling runs the network without dropout: repeated draws agree
    np.testing.assert_array_equal(dropped.sample([0, 1], random_state=1), dropped.sample([0, 1], random_state=1))


def test_folders_and_checkpoints_from_before_dropout_mean_no_dropout(toy, tmp_path):
    # written before the parameter existed (it was then always 0): no "dropout" key at all
    from synthaug.generators.checkpoint import load_checkpoint, save_checkpoint
    from synthaug.persistence import read_json, write_json

    old = ConditionalDiffusion(**TINY, epochs=2, dropout=0.0, checkpoint_every=1, checkpoint_dir=tmp_path / "ckpt")
    old.fit(*toy)
    old.save(tmp_path / "m")
    meta = read_json(tmp_path / "m" / "generator.json", "model")
    del meta["params"]["dropout"]
    write_json(tmp_path / "m" / "generator.json", meta)
    assert ConditionalDiffusion.load(tmp_path / "m", device="cpu").dropout == 0.0  # not today's default
    state = load_checkpoint(tmp_path / "ckpt")
    del state["fingerprint"]["dropout"]
    save_checkpoint(tmp_path / "ckpt", {k: v for k, v in state.items() if k not in ("format", "format_version")})
    with pytest.raises(ConfigError, match=r"dropout: 0\.0 -> 0\.5"):
        ConditionalDiffusion(**TINY, epochs=3, checkpoint_dir=tmp_path / "ckpt").fit(*toy, resume=True)
    ConditionalDiffusion(**TINY, epochs=3, dropout=0.0, checkpoint_dir=tmp_path / "ckpt").fit(*toy, resume=True)
