"""One contract battery run over both generators: ConditionalGAN and ConditionalDiffusion.

What a pipeline may rely on whichever generator it holds: sample shape/range/dtype,
fitted attributes, determinism from ``random_state``, save/load (safetensors + JSON,
no pickle) through :func:`synthaug.generators.load_model`, unknown labels, clone,
untouched global RNG, interrupt + resume equal to an uninterrupted fit, snapshots.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from synthaug.exceptions import ConfigError, NotFittedError
from synthaug.generators import ConditionalDiffusion, ConditionalGAN, load_model
from synthaug.generators.diffusion import training as diffusion_training

# (estimator class, tiny parameters, strategy)
KINDS = {
    "gan-conditional": (ConditionalGAN, dict(width=8, latent_dim=8), "conditional"),
    "gan-per-class": (ConditionalGAN, dict(width=8, latent_dim=8), "per-class"),
    "ddpm-conditional": (ConditionalDiffusion, dict(width=8, timesteps=50, sample_steps=4), "conditional"),
    "ddpm-per-class": (ConditionalDiffusion, dict(width=8, timesteps=50, sample_steps=4), "per-class"),
    # training-time augmentation draws more per batch and adds a network input, dropout draws
    # from torch's global generator (seeded per batch): the same contract
    "ddpm-augmented": (ConditionalDiffusion, dict(width=8, timesteps=50, sample_steps=4, augment_p=0.5,
                                                  dropout=0.2), "conditional"),
}


def make(kind: str, **kw):
    cls, params, strategy = KINDS[kind]
    return cls(**{**params, "strategy": strategy, "epochs": 2, "batch_size": 16, "random_state": 0,
                  "device": "cpu", **kw})


def weights(model) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v for i, net in enumerate(model.generators_) for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def toy():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)
    return ds.images, ds.labels


@pytest.fixture(scope="module", params=list(KINDS))
def fitted(request, toy):
    return make(request.param).fit(*toy), request.param


def test_sample_shape_range_dtype(fitted):
    model, _ = fitted
    out = model.sample([0, 1, 2, 2, 1])
    assert out.shape == (5, 1, 8, 8) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert model.sample([]).shape == (0, 1, 8, 8)


def test_fitted_attributes(fitted):
    model, kind = fitted
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.class_names_ == ["0", "1", "2"]
    assert model.image_shape_ == (1, 8, 8) and model.device_ == torch.device("cpu")
    n_units = 3 if kind.endswith("per-class") else 1
    assert len(model.generators_) == n_units
    assert len(model.history_) == 2 * n_units
    assert "epoch" in model.history_.columns and ("class" in model.history_.columns) == (n_units == 3)
    loss_cols = [c for c in model.history_.columns if c.startswith("loss")]
    assert loss_cols and np.isfinite(model.history_[loss_cols].to_numpy()).all()
    assert model.train_seconds_ > 0 and model.images_per_second_ > 0 and model.rollbacks_ == []
    assert model.budget_["epochs"] == (2 if n_units == 1 else [2, 2, 2])
    assert len(model.snapshots_) == 2 and model.snapshot_index_ == 1  # min(4, 2 epochs) snapshots


def test_fit_and_sample_are_deterministic(fitted, toy):
    model, kind = fitted
    again = make(kind).fit(*toy)
    w1, w2 = weights(model), weights(again)
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
    np.testing.assert_array_equal(model.sample([0, 1, 2], random_state=5), again.sample([0, 1, 2], random_state=5))
    np.testing.assert_array_equal(model.sample([0, 1]), model.sample([0, 1]))  # None: derived from the fit
    assert not np.array_equal(model.sample([0, 1, 2] * 3, random_state=3), model.sample([0, 1, 2] * 3, random_state=4))
    other = weights(make(kind, random_state=1).fit(*toy))
    assert not all(torch.equal(w1[k], other[k]) for k in w1)  # the seed drives initialisation and training


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "m", class_names=["a", "b", "c"])
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.safetensors", "generator.json", "history.csv"}
    for path in (tmp_path / "m").iterdir():
        head = path.read_bytes()[:4]
        assert head[:1] != b"\x80" and head != b"PK\x03\x04", path  # neither a pickle nor a torch.save zip
    back = load_model(tmp_path / "m", device="cpu")
    assert type(back) is type(model) and back.get_params() == {**model.get_params(), "device": "cpu"}
    assert back.class_names_ == ["a", "b", "c"] and back.image_shape_ == model.image_shape_
    labels = [2, 0, 1, 1]
    np.testing.assert_array_equal(back.sample(labels, random_state=9), model.sample(labels, random_state=9))
    assert list(back.history_.columns) == list(model.history_.columns)
    # The class's own load refuses the other generator's folder, naming what it found.
    other = ConditionalGAN if isinstance(model, ConditionalDiffusion) else ConditionalDiffusion
    with pytest.raises(Exception, match="not a Conditional"):
        other.load(tmp_path / "m")


@pytest.mark.parametrize("kind", ["gan-conditional", "ddpm-conditional"])
def test_string_labels_unknown_label_clone_and_rng(toy, kind):
    X, y = toy
    names = np.array(["cat", "dog", "eel"])[y]
    model = make(kind, epochs=1)
    before = model.get_params()
    state = torch.random.get_rng_state()
    model.fit(X, names)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is never used
    assert model.get_params() == before
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "eel"])
    assert model.sample(["eel", "cat"]).shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match=r"unknown label\(s\) 'fox' in y; this model knows the classes"):
        model.sample(["cat", "fox"])
    cloned = clone(model)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cloned.sample(["cat"])


@pytest.mark.parametrize("kind", list(KINDS))
def test_interrupt_then_resume_equals_uninterrupted(toy, tmp_path, monkeypatch, interrupt_at, kind):
    X, y = toy
    params = dict(epochs=4, checkpoint_every=1)
    full = make(kind, **params).fit(X, y)
    ckpt = tmp_path / "run"
    # conditional: 2 steps per epoch, so step 6 is in epoch 3; per-class: 1 step per epoch, class 1.
    if kind.startswith("gan"):
        interrupt_at(6)
    else:
        interrupt_at(6, diffusion_training, "diffusion_loss")
    with pytest.raises(KeyboardInterrupt):
        make(kind, **params, checkpoint_dir=ckpt).fit(X, y)
    monkeypatch.undo()
    assert (ckpt / "checkpoint.pt").is_file()
    resumed = make(kind, **params, checkpoint_dir=ckpt).fit(X, y, resume=True)
    w1, w2 = weights(full), weights(resumed)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    np.testing.assert_array_equal(full.sample([0, 1, 2], random_state=1), resumed.sample([0, 1, 2], random_state=1))
    assert full.history_.drop(columns=[c for c in full.history_ if c.startswith("lr")]).equals(
        resumed.history_.drop(columns=[c for c in resumed.history_ if c.startswith("lr")]))


@pytest.mark.parametrize("kind", ["gan-conditional", "ddpm-conditional"])
def test_use_snapshot_changes_the_samples(toy, kind):
    model = make(kind, epochs=4).fit(*toy)
    last = model.sample([0, 1, 2], random_state=0)
    model.use_snapshot(0)
    assert model.snapshot_index_ == 0
    assert not np.array_equal(last, model.sample([0, 1, 2], random_state=0))
    model.use_snapshot(-1)
    np.testing.assert_array_equal(last, model.sample([0, 1, 2], random_state=0))
