"""`synthaug robustness` through click's CliRunner, with each kind of model."""

from __future__ import annotations

import json
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from synthaug.classifiers import CNNClassifier, make_classifier
from synthaug.cli import cli
from synthaug.data.toy import make_toy_images

FAST = ["--eps", "0,0.1,0.3", "--pgd-steps", "3", "--severities", "1", "--surrogate-epochs", "3"]
FILES = ("robustness.csv", "per_class.csv", "robust_accuracy.png", "examples.png", "report.md",
         "report.html", "config.json")


@pytest.fixture(scope="module")
def toy_npz(tmp_path_factory):
    """A MedMNIST-style .npz with train and test splits, 3 classes of 8x8 bars."""
    train = make_toy_images(15, n_classes=3, image_size=8, random_state=0)
    test = make_toy_images(6, n_classes=3, image_size=8, random_state=1)
    path = tmp_path_factory.mktemp("data") / "toy.npz"
    np.savez(path, train_images=train.images_uint8(), train_labels=train.labels[:, None],
             test_images=test.images_uint8(), test_labels=test.labels[:, None])
    return path, train


@pytest.fixture(scope="module")
def cnn(toy_npz):
    _, train = toy_npz
    return CNNClassifier(epochs=8, width=4, random_state=0).fit(train.images, train.labels)


def _run(args):
    return CliRunner().invoke(cli, ["robustness", *args])


def _check_outputs(out, kind):
    for name in FILES:
        assert (out / name).is_file(), name
    df = pd.read_csv(out / "robustness.csv")
    assert set(df["kind"]) == {"clean", kind, "corruption"}
    assert sorted(df.loc[df.kind == kind, "perturbation"].unique()) == ["fgsm", "pgd"]
    assert (df["n"] == 18).all()  # the test split: 6 per class
    assert "data:image/png;base64," in (out / "report.html").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "robustness" and config["options"]["eps"] == [0.0, 0.1, 0.3]
    return df


def test_torchscript_model(toy_npz, cnn, tmp_path):
    data, _ = toy_npz
    model_path = tmp_path / "model.pt"
    torch.jit.trace(cnn.model_, torch.zeros(1, 1, 8, 8)).save(str(model_path))
    out = tmp_path / "out"
    result = _run([str(data), "--model", str(model_path), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    df = _check_outputs(out, "adversarial")
    assert "Clean accuracy:" in result.output and "pgd at eps=76.5/255" in result.output
    assert "Report:" in result.output
    assert df.loc[df.kind == "clean", "accuracy"].item() == pytest.approx(cnn.score(
        make_toy_images(6, n_classes=3, image_size=8, random_state=1).images,
        np.repeat(np.arange(3), 6)), abs=1 / 18 + 1e-9)  # uint8 round trip may move one image


def test_module_function_model(toy_npz, tmp_path, monkeypatch):
    data, _ = toy_npz
    (tmp_path / "cli_user_models_r.py").write_text(
        "from torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))\n"
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    try:
        result = _run([str(data), "--model", "cli_user_models_r:build", "--out", str(out), *FAST])
    finally:
        sys.modules.pop("cli_user_models_r", None)
    assert result.exit_code == 0, result.output
    _check_outputs(out, "adversarial")


def test_cnn_folder_model(toy_npz, cnn, tmp_path):
    data, _ = toy_npz
    cnn.save(tmp_path / "clf")
    out = tmp_path / "out"
    result = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(out), *FAST, "--seed", "3"])
    assert result.exit_code == 0, result.output
    _check_outputs(out, "adversarial")
    per_class = pd.read_csv(out / "per_class.csv")
    assert set(per_class["class"].astype(str)) == {"0", "1", "2"}


def test_pickle_refused_then_trusted(toy_npz, tmp_path):
    data, train = toy_npz
    path = tmp_path / "clf.joblib"
    joblib.dump(make_classifier("logreg", random_state=0).fit(train.images, train.labels), path)
    out = tmp_path / "out"
    refused = _run([str(data), "--model", str(path), "--out", str(out), *FAST])
    assert refused.exit_code == 1
    assert "Error:" in refused.output
    assert "unpickling runs code; pass --trust-pickle only if you trust this file" in refused.output
    assert "Traceback" not in refused.output
    assert not out.exists()
    trusted = _run([str(data), "--model", str(path), "--out", str(out), "--trust-pickle", *FAST])
    assert trusted.exit_code == 0, trusted.output
    _check_outputs(out, "transfer")
    assert "surrogate CNN trained for 3 epochs on the 45 non-test rows" in trusted.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--eps", "0,abc"], "--eps: 'abc' is not a number"),
        (["--eps", "8"], "--eps: 8 is outside [0, 1]"),
        (["--attacks", "pgd_l2", "--l2-eps", "-1"], "--l2-eps: -1 is negative"),
        (["--attacks", "pgd_l2", "--l2-eps", ""], "--l2-eps: no values given"),
        (["--attacks", "fgsm,cw"], "--attacks: unknown attack 'cw'"),
        (["--severities", "7"], "--severities: expected integers from 0 to 5"),
        (["--pgd-steps", "0"], "--pgd-steps must be an integer >= 1"),
        (["--eps", ""], "--eps: no values given"),
        (["--severities", ""], "--severities: no values given"),
        (["--generator", "nowhere"], "--generator nowhere: no trained model found"),
    ],
)
def test_bad_options_are_clean_errors(toy_npz, cnn, tmp_path, args, message):
    data, _ = toy_npz
    cnn.save(tmp_path / "clf")
    result = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_model_and_busy_output(toy_npz, cnn, tmp_path):
    data, _ = toy_npz
    result = _run([str(data), "--model", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no such file or folder" in result.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    cnn.save(tmp_path / "clf")
    result = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(busy), *FAST])
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (busy / "keep.txt").read_text() == "mine"


def test_generator_stress_set(toy_npz, cnn, tmp_path):
    from synthaug.generators import ConditionalGAN

    data, train = toy_npz
    gan = ConditionalGAN(model="vanilla", epochs=1, width=8, latent_dim=8, random_state=0, device="cpu")
    gan.fit(train.images, train.labels).save(tmp_path / "train_out" / "model")
    cnn.save(tmp_path / "clf")
    out = tmp_path / "out"
    result = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(out), "--attacks", "",
                   "--no-corruptions", "--generator", str(tmp_path / "train_out"), "--n-stress", "4"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out / "robustness.csv")
    assert list(df["kind"]) == ["clean", "stress"]
    assert df.loc[df.kind == "stress", "n"].item() == 12
    assert "generated stress set (12 images)" in result.output
    missing = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(tmp_path / "o2"),
                    "--generator", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "--generator" in missing.output


def test_bad_image_is_named_and_can_be_skipped(toy_npz, cnn, tmp_path):
    from PIL import Image

    _, train = toy_npz
    root = tmp_path / "imgs"
    for i, (img, label) in enumerate(zip(train.images_uint8(), train.labels)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0]).save(root / str(label) / f"{i}.png")
    (root / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cnn.save(tmp_path / "clf")
    args = [str(root), "--model", str(tmp_path / "clf"), "--out", str(tmp_path / "o"), *FAST]
    failed = _run(args)
    assert failed.exit_code == 1 and "broken.png" in failed.output
    assert "--skip-bad-images" in failed.output and not (tmp_path / "o").exists()
    result = _run([*args, "--skip-bad-images"])
    assert result.exit_code == 0, result.output
    assert "Skipped 1 unreadable file(s)" in result.output
    assert json.loads((tmp_path / "o" / "config.json").read_text())["options"]["skip_bad_images"] is True


def test_l2_pgd_has_its_own_radii_panel_and_labels(toy_npz, cnn, tmp_path):
    data, _ = toy_npz
    cnn.save(tmp_path / "clf")
    out = tmp_path / "out"
    result = _run([str(data), "--model", str(tmp_path / "clf"), "--out", str(out), "--attacks", "pgd,pgd_l2",
                   "--eps", "0,0.1", "--l2-eps", "0.5,2", "--pgd-steps", "3", "--no-corruptions"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out / "robustness.csv")
    assert sorted(df.loc[df.perturbation == "pgd_l2", "eps"]) == [0.5, 2.0]
    assert sorted(df.loc[df.perturbation == "pgd", "eps"]) == [0.0, 0.1]
    assert "pgd_l2 at eps=L2 2: " in result.output
    assert json.loads((out / "config.json").read_text())["options"]["l2_eps"] == [0.5, 2.0]
    assert "for pgd_l2 it is the L2 norm" in (out / "report.md").read_text()
