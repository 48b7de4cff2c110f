"""Shared contract battery for ConditionalGAN: model x strategy x loss on tiny toy data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.base import clone

from synthaug.exceptions import ConfigError, InvalidDataError, NotFittedError
from synthaug.generators import ConditionalGAN

COMBOS = list(itertools.product(["vanilla", "dcgan"], ["conditional", "per-class"], ["hinge", "bce"]))
IDS = ["-".join(c) for c in COMBOS]
TINY = dict(epochs=2, width=8, latent_dim=8, batch_size=16)


def tiny_gan(**kw) -> ConditionalGAN:
    return ConditionalGAN(**{**TINY, "random_state": 0, "device": "cpu", **kw})


def weights(gan: ConditionalGAN) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v for i, net in enumerate(gan.generators_) for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def toy():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)
    return ds.images, ds.labels


@pytest.fixture(scope="module", params=COMBOS, ids=IDS)
def fitted(request, toy):
    model, strategy, loss = request.param
    X, y = toy
    return tiny_gan(model=model, strategy=strategy, loss=loss).fit(X, y), request.param


def test_sample_shape_range_dtype(fitted):
    gan, _ = fitted
    out = gan.sample([0, 1, 2, 2, 1])
    assert out.shape == (5, 1, 8, 8)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert gan.sample([]).shape == (0, 1, 8, 8)


def test_fitted_attributes_and_history(fitted, toy):
    gan, (_, strategy, _) = fitted
    np.testing.assert_array_equal(gan.classes_, [0, 1, 2])
    assert gan.image_shape_ == (1, 8, 8)
    assert gan.device_ == torch.device("cpu")
    base = ["epoch", "loss_d", "loss_g", "d_real", "d_fake"]
    cols = list(gan.history_.columns)
    assert cols[: len(base) + (strategy == "per-class")] == (["class"] if strategy == "per-class" else []) + base
    n_pairs = 3 if strategy == "per-class" else 1
    assert len(gan.history_) == 2 * n_pairs
    assert len(gan.generators_) == n_pairs
    for col in ("d_real", "d_fake"):  # probabilities, not logits
        assert gan.history_[col].between(0, 1).all()
    assert np.isfinite(gan.history_[["loss_d", "loss_g"]].to_numpy()).all()
    assert gan.train_seconds_ > 0
    # 36 images, batch 16: 2 full batches (32 images) per epoch; per-class: 12 per class.
    expected_images = 2 * (32 if strategy == "conditional" else 36)
    assert gan.images_per_second_ == pytest.approx(expected_images / gan.train_seconds_)
    assert gan.rollbacks_ == []


def test_fit_is_deterministic(fitted, toy):
    gan, (model, strategy, loss) = fitted
    X, y = toy
    again = tiny_gan(model=model, strategy=strategy, loss=loss).fit(X, y)
    w1, w2 = weights(gan), weights(again)
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k
    np.testing.assert_array_equal(gan.sample([0, 1, 2], random_state=5), again.sample([0, 1, 2], random_state=5))
    other = tiny_gan(model=model, strategy=strategy, loss=loss, random_state=1).fit(X, y)
    assert not np.array_equal(gan.sample([0, 1, 2], random_state=5), other.sample([0, 1, 2], random_state=5))


def test_sample_random_state(fitted):
    gan, _ = fitted
    a = gan.sample([0, 1, 2] * 3, random_state=3)
    np.testing.assert_array_equal(a, gan.sample([0, 1, 2] * 3, random_state=3))
    assert not np.array_equal(a, gan.sample([0, 1, 2] * 3, random_state=4))
    # None: a seed derived from the fit, so it repeats.
    np.testing.assert_array_equal(gan.sample([0, 1]), gan.sample([0, 1]))


def test_save_load_round_trip(fitted, tmp_path):
    gan, _ = fitted
    gan.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.safetensors", "generator.json", "history.csv"}
    back = ConditionalGAN.load(tmp_path / "m", device="cpu")
    assert back.get_params()["model"] == gan.model and back.strategy == gan.strategy
    np.testing.assert_array_equal(back.classes_, gan.classes_)
    assert back.image_shape_ == gan.image_shape_
    labels = [2, 0, 1, 1]
    np.testing.assert_array_equal(back.sample(labels, random_state=9), gan.sample(labels, random_state=9))
    np.testing.assert_array_equal(back.sample(labels), gan.sample(labels))
    assert list(back.history_.columns) == list(gan.history_.columns)
    np.testing.assert_allclose(back.history_["loss_d"], gan.history_["loss_d"])


def test_string_labels_and_unknown_label(toy):
    X, y = toy
    names = np.array(["cat", "dog", "eel"])[y]
    gan = tiny_gan(epochs=1).fit(X, names)
    np.testing.assert_array_equal(gan.classes_, ["cat", "dog", "eel"])
    assert gan.sample(["eel", "cat"]).shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match=r"unknown label\(s\) 'fox' in y; this model knows the classes"):
        gan.sample(["cat", "fox"])


def test_clone_and_params_untouched_by_fit(toy):
    X, y = toy
    gan = tiny_gan(epochs=1)
    before = gan.get_params()
    gan.fit(X, y)
    assert gan.get_params() == before
    cloned = clone(gan)
    assert not hasattr(cloned, "generators_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cloned.sample([0])


@pytest.mark.parametrize("flag", ["spectral_norm", "diff_augment", "ema_decay"])
def test_stabilisers_switch_off(toy, flag):
    X, y = toy
    off = {"spectral_norm": False, "diff_augment": None, "ema_decay": None}[flag]
    on = tiny_gan().fit(X, y)
    gan = tiny_gan(**{flag: off}).fit(X, y)
    assert gan.sample([0, 1]).shape == (2, 1, 8, 8)
    # Switching a stabiliser off must change training (otherwise the flag is dead).
    assert not np.array_equal(on.sample([0, 1, 2], random_state=0), gan.sample([0, 1, 2], random_state=0))
    if flag == "ema_decay":  # without EMA the live generator samples (in eval mode)
        assert gan.generators_[0].training is False


def test_spectral_norm_bounds_discriminator_layers(toy):
    from synthaug.generators.networks import build_discriminator
    from synthaug.seeding import torch_generator

    d = build_discriminator("dcgan", n_classes=3, image_shape=(1, 8, 8), width=8, spectral_norm=True,
                            generator=torch_generator(0), device=torch.device("cpu"))
    conv = d.body[2]
    for _ in range(50):  # each access in training mode is one power-iteration step
        w = conv.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=0.02)
    plain = build_discriminator("dcgan", n_classes=3, image_shape=(1, 8, 8), width=8, spectral_norm=False,
                                generator=torch_generator(0), device=torch.device("cpu"))
    assert not hasattr(plain.body[2], "parametrizations")


def test_fit_does_not_touch_global_torch_rng(toy):
    X, y = toy
    state = torch.random.get_rng_state()
    tiny_gan(epochs=1).fit(X, y).sample([0, 1])
    assert torch.equal(state, torch.random.get_rng_state())


# ----------------------------------------------------------------------- bad parameters
@pytest.mark.parametrize(
    "params, message",
    [
        ({"model": "stylegan"}, "model='stylegan' is not supported; valid values: vanilla, dcgan."),
        ({"strategy": "joint"}, "strategy='joint' is not supported; valid values: conditional, per-class."),
        ({"loss": "wasserstein"}, "loss='wasserstein' is not supported; valid values: bce, hinge."),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0."),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5."),
        ({"lr_g": -1.0}, "lr_g must be a number in (0, inf), got -1.0."),
        ({"betas": (0.5,)}, "betas must be a pair of numbers in [0, 1), got (0.5,)."),
        ({"ema_decay": 1.5}, "ema_decay must be a number in [0, 1), got 1.5."),
        ({"diff_augment": "color,blur"},
         "diff_augment='color,blur': unknown DiffAugment policy 'blur'; valid: color, translation, cutout"),
        ({"max_rollbacks": -1}, "max_rollbacks must be an integer >= 0, got -1."),
    ],
)
def test_bad_parameters(toy, params, message):
    X, y = toy
    with pytest.raises(ConfigError) as info:
        tiny_gan(**params).fit(X, y)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda X, y: (X[:, 0], y), "X has shape (36, 8, 8); ConditionalGAN expects images of shape (N, C, H, W)."),
        (lambda X, y: (np.repeat(X, 2, axis=1), y), "2 channels; expected 1 or 3 (1 = grayscale, 3 = RGB)"),
        (lambda X, y: ((X * 255).astype(np.uint8), y), "X has dtype uint8; expected float values in [0, 1]."),
        (lambda X, y: (X * 255, y), "X values span [0, 255]; expected [0, 1]."),
        (lambda X, y: (np.where(X > 0.5, np.nan, X), y), "X contains NaN or inf values"),
        (lambda X, y: (X, np.zeros(len(X), int)), "y has 1 class ([0]); a conditional GAN needs at least 2 classes."),
        (lambda X, y: (X, y[:-1]), "y has shape (35,) but X has 36 images"),
        (lambda X, y: (X[:, :, :3, :3], y), "the smallest supported size is 4 x 4."),
    ],
)
def test_bad_data(toy, make, message):
    X, y = make(*toy)
    with pytest.raises(InvalidDataError) as info:
        tiny_gan().fit(X, y)
    assert message in str(info.value)
