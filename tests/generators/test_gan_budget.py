"""ConditionalGAN's training budget (generators/budget.py), time limit, snapshots and critic."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from synthaug.exceptions import ConfigError, NotFittedError
from synthaug.generators import ConditionalGAN, training
from synthaug.generators.budget import resolve_budget
from synthaug.generators.training import Trainer

TINY = {"width": 8, "latent_dim": 8, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def toy():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)  # 36 images
    return ds.images, ds.labels


def weights(gan):
    return {f"{i}.{k}": v.clone() for i, net in enumerate(gan.generators_) for k, v in net.state_dict().items()}


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def fake_clock(monkeypatch, seconds_per_call: float) -> None:
    """Every reading of the trainer's clock is ``seconds_per_call`` later than the last."""
    now = {"t": 0.0}

    def clock():
        now["t"] += seconds_per_call
        return now["t"]

    monkeypatch.setattr(Trainer, "clock", staticmethod(clock))


# --------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    "n, shape, n_pairs, expected",
    [
        (100, (1, 8, 8), 1, (12, 250, 2000)),    # 10 digits per class: 2000 steps, not 40
        (1797, (1, 8, 8), 1, (64, 72, 2016)),    # all digits: more than the old 40 x 28 = 1120
        (1347, (1, 8, 8), 1, (64, 96, 2016)),
        (546, (1, 28, 28), 1, (64, 96, 768)),     # BreastMNIST train: capped by cost
        (10, (1, 8, 8), 10, (8, 1592, 1592)),    # per-class, 10 classes: the cap is shared
        (200, (3, 64, 64), 1, (25, 63, 504)),    # large images: the 500-step floor
    ],
)
def test_default_rule(n, shape, n_pairs, expected):
    b = resolve_budget(n, shape, epochs=None, steps=None, batch_size=None, n_pairs=n_pairs)
    assert (b.batch_size, b.epochs, b.steps) == expected
    assert b.steps == b.epochs * (n // min(b.batch_size, n))
    assert "default rule" in b.rule_text


def test_rule_meets_its_targets():
    assert resolve_budget(100, (1, 8, 8), epochs=None, steps=None, batch_size=None).steps >= 1500
    assert resolve_budget(1347, (1, 8, 8), epochs=None, steps=None, batch_size=None).steps >= 40 * 28
    breast = resolve_budget(546, (1, 28, 28), epochs=None, steps=None, batch_size=None)
    # Measured on one core: ~7.5 us per pixel unit (see budget.py); <= 6 minutes.
    assert 7.5e-6 * breast.steps * (breast.batch_size * 28 * 28 + 2000) <= 360
    small, large = (resolve_budget(n, (1, 8, 8), epochs=None, steps=None, batch_size=None) for n in (40, 400))
    assert small.batch_size < large.batch_size


def test_explicit_overrides():
    b = resolve_budget(100, (1, 8, 8), epochs=40, steps=None, batch_size=64)
    assert (b.batch_size, b.epochs, b.steps) == (64, 40, 40)  # the old defaults: 40 steps
    b = resolve_budget(100, (1, 8, 8), epochs=None, steps=100, batch_size=16)
    assert (b.epochs, b.steps) == (17, 102)  # 6 steps per epoch, rounded up
    b = resolve_budget(100, (1, 8, 8), epochs=None, steps=None, batch_size=50)
    assert b.batch_size == 50 and b.steps >= 2000


@pytest.mark.parametrize(
    "params, names",
    [
        ({"epochs": 3, "steps": 10}, ["epochs", "steps"]),
        ({"steps": 0}, ["steps"]),
        ({"batch_size": 0}, ["batch_size"]),
        ({"max_minutes": 0}, ["max_minutes"]),
        ({"max_minutes": -1.0}, ["max_minutes"]),
        ({"n_snapshots": -1}, ["n_snapshots"]),
    ],
)
def test_invalid_budget_parameters(toy, params, names):
    with pytest.raises(ConfigError) as err:
        ConditionalGAN(**TINY, **params).fit(*toy)
    assert all(name in str(err.value) for name in names)


# --------------------------------------------------------------------------- in fit
def test_default_fit_plans_the_rule_and_max_minutes_stops_it(monkeypatch, caplog):
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(10, n_classes=10, image_size=8, random_state=0)  # 100 images of 8 x 8
    fake_clock(monkeypatch, 30.0)  # every epoch "takes" 30 s
    with caplog.at_level(logging.INFO, logger="synthaug.generators"):
        gan = ConditionalGAN(**TINY, max_minutes=1.0, n_snapshots=2).fit(ds.images, ds.labels)
    assert gan.budget_["steps"] >= 1500 and gan.budget_["batch_size"] == 12
    assert gan.budget_["epochs"] == gan.budget_["steps"] // 8
    assert gan.budget_["stopped_early"] and gan.budget_["stopped_at"] == 2
    assert len(gan.history_) == 2  # stopped after the epoch in which 60 s ran out
    assert "max_minutes" in caplog.text
    # The last snapshot is the model it stopped with.
    assert [s["epoch"] for s in gan.snapshots_][-1] == 2


def test_max_minutes_is_shared_by_per_class_pairs(toy, monkeypatch):
    fake_clock(monkeypatch, 30.0)
    gan = ConditionalGAN(**TINY, strategy="per-class", epochs=5, max_minutes=1.0).fit(*toy)
    # Deadlines 20 s, 40 s, 60 s: each class trains one epoch, none is left untrained.
    assert gan.history_.groupby("class").size().tolist() == [1, 1, 1]
    assert gan.budget_["stopped_at"] == [1, 1, 1] and gan.budget_["stopped_early"]


def test_no_time_limit_and_snapshots_leave_the_weights_alone(toy):
    base = ConditionalGAN(**TINY, epochs=3, batch_size=16, n_snapshots=0).fit(*toy)
    other = ConditionalGAN(**TINY, epochs=3, batch_size=16, n_snapshots=3, max_minutes=60.0).fit(*toy)
    assert same_weights(weights(base), weights(other))
    assert not base.budget_["stopped_early"] and len(other.history_) == 3


def test_per_class_pairs_get_their_own_budget():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(40, n_classes=2, image_size=8, random_state=0)
    keep = np.concatenate([np.flatnonzero(ds.labels == 0)[:16], np.flatnonzero(ds.labels == 1)])
    gan = ConditionalGAN(**TINY, strategy="per-class", steps=10, n_snapshots=0)
    gan.fit(ds.images[keep], ds.labels[keep])
    assert gan.budget_["batch_size"] == [8, 8]
    assert gan.budget_["epochs"] == [5, 2]  # 16 images: 2 steps per epoch; 40 images: 5
    assert gan.history_.groupby("class").size().tolist() == [5, 2]


# --------------------------------------------------------------------------- snapshots
@pytest.mark.parametrize("strategy", ["conditional", "per-class"])
def test_snapshots_evenly_spaced_and_selectable(toy, tmp_path, strategy):
    gan = ConditionalGAN(**TINY, strategy=strategy, epochs=6, batch_size=16, n_snapshots=3).fit(*toy)
    n_pairs = 1 if strategy == "conditional" else 3
    per_step = 2 if strategy == "conditional" else 1  # 36 images (or 12 per class), batch 16
    assert [s["pairs"][0]["epoch"] for s in gan.snapshots_] == [2, 4, 6]
    assert [s["epoch"] for s in gan.snapshots_] == [2 * n_pairs, 4 * n_pairs, 6 * n_pairs]
    assert [s["step"] for s in gan.snapshots_] == [e * n_pairs * per_step for e in (2, 4, 6)]
    assert gan.snapshot_index_ == 2

    labels = np.tile(gan.classes_, 3)
    final_w, final_x = weights(gan), gan.sample(labels, random_state=1)
    assert gan.use_snapshot(0) is gan and gan.snapshot_index_ == 0
    early = gan.sample(labels, random_state=1)
    assert not np.array_equal(early, final_x)
    gan.save(tmp_path / "m")
    loaded = ConditionalGAN.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(loaded.sample(labels, random_state=1), early)  # save keeps the selection
    assert loaded.snapshots_ == [] and loaded.snapshot_index_ == 0
    with pytest.raises(ConfigError, match="no snapshots"):
        loaded.use_snapshot(0)
    gan.use_snapshot(-1)
    assert gan.snapshot_index_ == 2 and same_weights(weights(gan), final_w)
    np.testing.assert_array_equal(gan.sample(labels, random_state=1), final_x)
    for bad in (3, -4, 1.0, True):
        with pytest.raises(ConfigError, match="snapshot index"):
            gan.use_snapshot(bad)


def test_snapshot_count_is_limited_by_epochs_and_can_be_off(toy):
    gan = ConditionalGAN(**TINY, epochs=2, batch_size=16, n_snapshots=4).fit(*toy)
    assert [s["epoch"] for s in gan.snapshots_] == [1, 2]
    off = ConditionalGAN(**TINY, epochs=2, batch_size=16, n_snapshots=0).fit(*toy)
    assert off.snapshots_ == [] and off.snapshot_index_ is None
    with pytest.raises(ConfigError, match="no snapshots"):
        off.use_snapshot(-1)


def test_snapshots_survive_resume(toy, tmp_path, monkeypatch):
    X, y = toy
    params = dict(TINY, epochs=6, batch_size=16, n_snapshots=3, checkpoint_every=1)
    full = ConditionalGAN(**params).fit(X, y)
    real_step, calls = training.train_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2 * 5 + 1:  # in epoch 6: snapshots of epochs 2 and 4 are in the checkpoint
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        ConditionalGAN(**params, checkpoint_dir=tmp_path).fit(X, y)
    monkeypatch.undo()
    resumed = ConditionalGAN(**params, checkpoint_dir=tmp_path).fit(X, y, resume=True)
    assert resumed.snapshots_ == full.snapshots_
    for k in range(3):
        full.use_snapshot(k)
        resumed.use_snapshot(k)
        assert same_weights(weights(full), weights(resumed)), k


# --------------------------------------------------------------------------- critic
@pytest.mark.parametrize("strategy", ["conditional", "per-class"])
def test_discriminator_scores(toy, tmp_path, strategy):
    X, y = toy
    gan = ConditionalGAN(**TINY, strategy=strategy, epochs=2, batch_size=16).fit(X, y)
    scores = gan.discriminator_scores(X, y)
    assert scores.shape == (len(X),) and scores.dtype == np.float32
    assert all(math.isfinite(s) for s in scores)
    np.testing.assert_array_equal(gan.discriminator_scores(X, y), scores)  # scoring changes nothing
    # Another batch size may sum in another order: equal up to float32 rounding.
    np.testing.assert_allclose(gan.discriminator_scores(X[:5], y[:5]), scores[:5], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError):
        gan.discriminator_scores(X, y[:-1])
    gan.save(tmp_path / "m")
    with pytest.raises(NotFittedError, match="not saved"):
        ConditionalGAN.load(tmp_path / "m", device="cpu").discriminator_scores(X, y)


# ----------------------------------------------------------------------------- --model auto
@pytest.mark.parametrize("n, shape, expected", [
    (100, (1, 8, 8), "ddpm"),        # 10 digits per class: 1200 steps wanted, ~17800 affordable
    (1797, (1, 8, 8), "ddpm"),       # all digits: 2000 wanted, ~10500 affordable
    (300, (3, 16, 16), "ddpm"),      # the largest side auto gives the diffusion model
    (100, (1, 28, 28), "dcgan"),     # budget fits (1200 of 2962), but 28 px drew noise (BreastMNIST at 50/class)
    (546, (1, 28, 28), "dcgan"),     # BreastMNIST
    (5000, (3, 32, 32), "dcgan"),
    (200_000, (1, 8, 8), "ddpm"),    # large sets of small images: wanted stays 2000
])
def test_auto_picks_ddpm_only_for_small_images_within_its_budget(n, shape, expected):
    from synthaug.generators import resolve_model
    from synthaug.generators.budget import DIFFUSION_MAX_SIDE

    model, why = resolve_model("auto", n, shape)
    assert model == expected and why.startswith("auto: ")
    if max(shape[1:]) > DIFFUSION_MAX_SIDE:
        assert f"above {DIFFUSION_MAX_SIDE} px" in why
    else:
        assert "steps it wants" in why and "affordable: " in why


def test_auto_follows_named_models_params_and_per_class_pairs():
    from synthaug.generators import resolve_model

    assert resolve_model("dcgan", 100, (1, 8, 8)) == ("dcgan", "--model dcgan")
    assert resolve_model("auto", 100, (1, 8, 8), params=["lecam"])[0] == "dcgan"       # a GAN parameter
    assert resolve_model("auto", 546, (1, 28, 28), params=["sample_steps"])[0] == "ddpm"  # a ddpm one
    # per-class: 10 models share the budget, so 5000 images of 8 x 8 no longer fit.
    assert resolve_model("auto", 5000, (1, 8, 8))[0] == "ddpm"
    assert resolve_model("auto", 5000, (1, 8, 8), n_classes=10, strategy="per-class")[0] == "dcgan"
