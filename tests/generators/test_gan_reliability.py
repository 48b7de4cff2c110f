"""Checkpoints, exact resume, KeyboardInterrupt, divergence rollback, unsafe/corrupt files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from synthaug.exceptions import ConfigError, ModelFileError, TrainingDivergedError
from synthaug.generators import ConditionalGAN
from synthaug.generators import losses

TINY = dict(width=8, latent_dim=8, batch_size=16, random_state=0, device="cpu")
STEPS_PER_EPOCH = 2  # 36 toy images, batch 16 (conditional)


@pytest.fixture(scope="module")
def toy():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images(12, n_classes=3, image_size=8, random_state=0)
    return ds.images, ds.labels


def weights(gan):
    return {f"{i}.{k}": v for i, net in enumerate(gan.generators_) for k, v in net.state_dict().items()}


def assert_same_model(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    labels = np.tile(a.classes_, 3)
    np.testing.assert_array_equal(a.sample(labels, random_state=1), b.sample(labels, random_state=1))
    assert a.history_.drop(columns=[]).equals(b.history_)


@pytest.mark.parametrize(
    "strategy, epochs, call, saved_epoch, saved_pair",
    [
        # conditional: 2 steps per epoch; interrupted in the middle of epoch 4.
        ("conditional", 5, 3 * STEPS_PER_EPOCH + 2, 3, 0),
        # per-class: one step per epoch (12 images < batch 16); interrupted in class 1, epoch 2.
        ("per-class", 3, 3 + 2, 1, 1),
    ],
)
def test_interrupt_then_resume_equals_uninterrupted(toy, tmp_path, monkeypatch, interrupt_at, strategy, epochs, call,
                                                     saved_epoch, saved_pair):
    X, y = toy
    params = dict(TINY, strategy=strategy, epochs=epochs, checkpoint_every=2)
    full = ConditionalGAN(**params, checkpoint_dir=tmp_path / "full").fit(X, y)

    ckpt = tmp_path / "run"
    interrupt_at(call)
    with pytest.raises(KeyboardInterrupt):
        ConditionalGAN(**params, checkpoint_dir=ckpt).fit(X, y)
    monkeypatch.undo()
    state = torch.load(ckpt / "checkpoint.pt", weights_only=True)
    assert (state["pair_index"], state["epoch"]) == (saved_pair, saved_epoch)
    assert [p.name for p in ckpt.iterdir()] == ["checkpoint.pt"]  # no temporary files left

    resumed = ConditionalGAN(**params, checkpoint_dir=ckpt).fit(X, y, resume=True)
    assert_same_model(full, resumed)


def test_resume_of_finished_run_and_more_epochs(toy, tmp_path):
    X, y = toy
    done = ConditionalGAN(**TINY, epochs=2, checkpoint_dir=tmp_path).fit(X, y)
    again = ConditionalGAN(**TINY, epochs=2, checkpoint_dir=tmp_path).fit(X, y, resume=True)
    assert_same_model(done, again)
    longer = ConditionalGAN(**TINY, epochs=3, checkpoint_dir=tmp_path).fit(X, y, resume=True)
    straight = ConditionalGAN(**TINY, epochs=3).fit(X, y)
    assert_same_model(straight, longer)


def test_keyboard_interrupt_without_checkpoint_dir_is_reraised(toy, interrupt_at):
    X, y = toy
    interrupt_at(2)
    gan = ConditionalGAN(**TINY, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        gan.fit(X, y)
    assert not hasattr(gan, "generators_")


def test_resume_errors(toy, tmp_path):
    X, y = toy
    with pytest.raises(ConfigError, match="resume=True needs checkpoint_dir"):
        ConditionalGAN(**TINY, epochs=1).fit(X, y, resume=True)
    with pytest.raises(ConfigError, match="resume=True but there is no checkpoint at"):
        ConditionalGAN(**TINY, epochs=1, checkpoint_dir=tmp_path).fit(X, y, resume=True)
    ConditionalGAN(**TINY, epochs=1, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.raises(ConfigError, match=r"different settings \(loss: 'hinge' -> 'bce'\)"):
        ConditionalGAN(**TINY, epochs=1, loss="bce", checkpoint_dir=tmp_path).fit(X, y, resume=True)
    with pytest.raises(ConfigError, match="the training data differ"):
        ConditionalGAN(**TINY, epochs=1, checkpoint_dir=tmp_path).fit(X * 0.5, y, resume=True)
    with pytest.raises(ConfigError, match="random_state=7 differs from the interrupted run's"):
        ConditionalGAN(**{**TINY, "random_state": 7}, epochs=1, checkpoint_dir=tmp_path).fit(X, y, resume=True)


# ----------------------------------------------------------------------- divergence
def nan_loss_on_calls(monkeypatch, bad_calls):
    real_loss = losses.discriminator_loss
    calls = {"n": 0}

    def loss(real, fake, kind):
        calls["n"] += 1
        out = real_loss(real, fake, kind)
        return out * float("nan") if bad_calls(calls["n"]) else out

    monkeypatch.setattr(losses, "discriminator_loss", loss)


def test_nan_rolls_back_and_halves_lrs(toy, monkeypatch):
    X, y = toy
    # The first step of epoch 2 produces NaN once; training must recover.
    nan_loss_on_calls(monkeypatch, lambda n: n == STEPS_PER_EPOCH + 1)
    gan = ConditionalGAN(**TINY, epochs=3, lr_g=1e-3, lr_d=2e-3).fit(X, y)
    assert len(gan.rollbacks_) == 1
    rb = gan.rollbacks_[0]
    assert (rb["epoch"], rb["restored_epoch"]) == (2, 1)
    assert "non-finite loss" in rb["reason"]
    assert (rb["lr_g"], rb["lr_d"]) == (5e-4, 1e-3)
    assert list(gan.history_["epoch"]) == [1, 2, 3]
    assert list(gan.history_["lr_d"]) == [2e-3, 1e-3, 1e-3]
    assert np.isfinite(gan.history_[["loss_d", "loss_g"]].to_numpy()).all()
    assert np.isfinite(gan.sample([0, 1, 2])).all()


def test_unrecoverable_divergence_raises_and_keeps_last_good_model(toy, tmp_path, monkeypatch):
    X, y = toy
    nan_loss_on_calls(monkeypatch, lambda n: n > STEPS_PER_EPOCH)  # healthy epoch 1 only
    gan = ConditionalGAN(**TINY, epochs=4, max_rollbacks=2, checkpoint_dir=tmp_path)
    with pytest.raises(TrainingDivergedError) as info:
        gan.fit(X, y)
    msg = str(info.value)
    assert "GAN training diverged at epoch 2: non-finite loss (NaN or inf)" in msg
    assert "2 rollback(s) with halved learning rates did not help (max_rollbacks=2)" in msg
    assert "The model of epoch 1 (the last healthy one) is kept." in msg
    assert len(gan.rollbacks_) == 2
    assert list(gan.history_["epoch"]) == [1]
    assert np.isfinite(gan.sample([0, 1, 2])).all()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1


def test_discriminator_collapse_is_detected(toy, monkeypatch):
    X, y = toy

    def perfect_d(real, fake, kind):  # a loss of exactly 0: D "wins" every batch
        return (real.sum() + fake.sum()) * 0.0

    monkeypatch.setattr(losses, "discriminator_loss", perfect_d)
    with pytest.raises(TrainingDivergedError, match=r"discriminator collapse for 3 epochs"):
        ConditionalGAN(**TINY, epochs=6, max_rollbacks=1).fit(X, y)


# ----------------------------------------------------------------------- unsafe / corrupt files
class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


@pytest.fixture(scope="module")
def saved(toy, tmp_path_factory):
    X, y = toy
    path = tmp_path_factory.mktemp("model")
    ConditionalGAN(**TINY, epochs=1).fit(X, y).save(path)
    return path


def copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_pickle_weights_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    torch.save({"x": _Evil()}, model / "model.safetensors")
    with pytest.raises(ModelFileError, match="is a pickle / torch.save file, not safetensors"):
        ConditionalGAN.load(model)


def test_corrupt_weights_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cannot read the model weights .*corrupt or truncated"):
        ConditionalGAN.load(model)


def test_missing_and_bad_config_refused(saved, tmp_path):
    with pytest.raises(ModelFileError, match="no such model folder"):
        ConditionalGAN.load(tmp_path / "nowhere")
    model = copy_model(saved, tmp_path / "m")
    (model / "generator.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"generator.json: cannot read the generator metadata"):
        ConditionalGAN.load(model)
    (model / "generator.json").unlink()
    with pytest.raises(ModelFileError, match=r"generator.json: not found"):
        ConditionalGAN.load(model)


def test_class_names_round_trip(saved, tmp_path):
    gan = ConditionalGAN.load(saved)
    assert gan.class_names_ == [str(c) for c in gan.classes_.tolist()]
    names = [f"name{i}" for i in range(len(gan.classes_))]
    gan.save(tmp_path / "named", class_names=names)
    assert json.loads((tmp_path / "named" / "generator.json").read_text())["class_names"] == names
    back = ConditionalGAN.load(tmp_path / "named")
    assert back.class_names_ == names
    back.save(tmp_path / "again")  # the loaded names are kept by default
    assert ConditionalGAN.load(tmp_path / "again").class_names_ == names
    with pytest.raises(ConfigError, match="class_names has 1 name"):
        gan.save(tmp_path / "bad", class_names=["one"])


def test_legacy_config_json_folder_loads(saved, tmp_path):
    """Folders written before generator.json kept the same metadata as config.json."""
    model = copy_model(saved, tmp_path / "old")
    meta = json.loads((model / "generator.json").read_text())
    del meta["class_names"]
    (model / "config.json").write_text(json.dumps(meta))
    (model / "generator.json").unlink()
    old = ConditionalGAN.load(model, device="cpu")
    new = ConditionalGAN.load(saved, device="cpu")
    np.testing.assert_array_equal(old.sample([0, 1], random_state=1), new.sample([0, 1], random_state=1))
    assert old.class_names_ == [str(c) for c in old.classes_.tolist()]
    # A command's run record (it has a "command" key) is not a model.
    (model / "config.json").write_text(json.dumps({"command": "train", "options": {}}))
    with pytest.raises(ModelFileError, match="not a ConditionalGAN configuration"):
        ConditionalGAN.load(model)


def test_legacy_folder_takes_class_names_from_its_run_record(saved, tmp_path):
    """An old train/augment output kept the class names in its run record, beside model/."""
    run = tmp_path / "run"
    run.mkdir()
    model = copy_model(saved, run / "model")
    meta = json.loads((model / "generator.json").read_text())
    del meta["class_names"]
    (model / "config.json").write_text(json.dumps(meta))
    (model / "generator.json").unlink()
    names = [f"c{i}" for i in range(len(meta["classes"]))]
    (run / "config.json").write_text(json.dumps({"command": "train", "options": {"class_names": names}}))
    assert ConditionalGAN.load(model).class_names_ == names


def test_weights_not_matching_config_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    config = json.loads((model / "generator.json").read_text())
    config["params"]["width"] = 16
    (model / "generator.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="weights do not match generator.json"):
        ConditionalGAN.load(model)


def test_unsafe_or_corrupt_checkpoint_refused(toy, tmp_path):
    X, y = toy
    torch.save({"format": "synthaug.gan-checkpoint", "evil": _Evil()}, tmp_path / "checkpoint.pt")
    with pytest.raises(ModelFileError, match="refused to load: it holds objects other than tensors"):
        ConditionalGAN(**TINY, epochs=1, checkpoint_dir=tmp_path).fit(X, y, resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="cannot read the checkpoint"):
        ConditionalGAN(**TINY, epochs=1, checkpoint_dir=tmp_path).fit(X, y, resume=True)


def test_progress_bar_goes_to_stderr(toy, capsys):
    X, y = toy
    ConditionalGAN(**TINY, epochs=2, progress=True).fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    assert "GAN:" in err and "/2 [" in err  # the bar, with the total number of epochs
