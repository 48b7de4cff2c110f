"""load_model: every accepted kind of model, and the refusals."""

from __future__ import annotations

import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from torch import nn

from synthaug.attacks import PGD
from synthaug.attacks.registry import attack_from_config
from synthaug.classifiers import CNNClassifier, load_model, make_classifier
from synthaug.classifiers.loading import check_input_shape
from synthaug.exceptions import ConfigError, InvalidDataError, ModelFileError


def _linear():
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    nn.init.normal_(model[1].weight, generator=gen)
    return model.eval()


def test_torchscript_file(tmp_path, toy_test):
    model = _linear()
    path = tmp_path / "model.pt"
    torch.jit.script(model).save(str(path))
    loaded = load_model(path, device="cpu")
    assert loaded.kind == "torchscript" and loaded.has_gradients and loaded.classes is None
    with torch.no_grad():
        expected = model(torch.tensor(toy_test.images)).argmax(1).numpy()
    np.testing.assert_array_equal(loaded.predict(toy_test.images), expected)
    np.testing.assert_allclose(loaded.predict_proba(toy_test.images).sum(1), 1.0, atol=1e-5)


def test_traced_torchscript_without_suffix(tmp_path, toy_test):
    path = tmp_path / "weights_blob"
    torch.jit.trace(_linear(), torch.zeros(1, 1, 8, 8)).save(str(path))
    assert load_model(str(path)).kind == "torchscript"


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module file in tmp_path, importable by name like a user's own code."""
    name = f"user_models_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        def build():
            return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))

        def not_a_module():
            return 42

        def broken():
            raise ValueError("missing weights file")

        CONSTANT = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_module_function(user_module, toy_test):
    loaded = load_model(f"{user_module}:build")
    assert loaded.kind == "python" and loaded.has_gradients
    assert loaded.predict(toy_test.images).shape == (len(toy_test.images),)


def test_module_function_from_current_folder(tmp_path, monkeypatch):
    (tmp_path / "cwd_models_abc.py").write_text(
        "from torch import nn\ndef net():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2))\n"
    )
    monkeypatch.chdir(tmp_path)
    try:
        assert load_model("cwd_models_abc:net").kind == "python"
    finally:
        sys.modules.pop("cwd_models_abc", None)
    assert str(tmp_path) not in sys.path  # the temporary path entry is removed again


@pytest.mark.parametrize(
    "attr, error, match",
    [
        ("not_a_module", ConfigError, "returned a int; it must return a torch.nn.Module"),
        ("broken", ConfigError, "calling broken\\(\\) failed with ValueError: missing weights file"),
        ("absent", ConfigError, "has no attribute 'absent'"),
        ("CONSTANT", ConfigError, "is a int, not a function"),
    ],
)
def test_module_function_errors(user_module, attr, error, match):
    with pytest.raises(error, match=match):
        load_model(f"{user_module}:{attr}")


def test_missing_module_and_missing_file():
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_xyz'"):
        load_model("no_such_module_xyz:build")
    with pytest.raises(ModelFileError, match="no such file or folder"):
        load_model("does/not/exist.pt")


def test_cnn_folder(fitted_cnn, tmp_path, toy_test):
    fitted_cnn.save(tmp_path / "cnn")
    loaded = load_model(tmp_path / "cnn")
    assert loaded.kind == "cnn" and loaded.has_gradients
    np.testing.assert_array_equal(loaded.classes, fitted_cnn.classes_)
    np.testing.assert_array_equal(loaded.predict(toy_test.images), fitted_cnn.predict(toy_test.images))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not one written by CNNClassifier.save"):
        load_model(tmp_path / "empty")


def test_cnn_folder_passes_build_attack_through(toy_train, tmp_path):
    attack = PGD(eps=0.1, n_steps=2, random_state=1)
    CNNClassifier(epochs=1, width=4, adversarial_training=attack, random_state=0).fit(
        toy_train.images, toy_train.labels).save(tmp_path / "adv")
    rebuilt = load_model(tmp_path / "adv", device="cpu", build_attack=attack_from_config)
    assert rebuilt.estimator.adversarial_training == attack
    plain = load_model(tmp_path / "adv", device="cpu")
    assert plain.estimator.adversarial_training is None
    assert plain.estimator.adversarial_training_config_ == attack.to_config()


def test_joblib_pickle_refused_unless_trusted(tmp_path, toy_train, toy_test):
    clf = make_classifier("logreg", random_state=0).fit(toy_train.images, toy_train.labels)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    with pytest.raises(ModelFileError, match="unpickling runs code; pass --trust-pickle only if you trust"):
        load_model(path)
    loaded = load_model(path, trust_pickle=True)
    assert loaded.kind == "sklearn" and not loaded.has_gradients and loaded.module is None
    np.testing.assert_array_equal(loaded.predict(toy_test.images), clf.predict(toy_test.images))
    assert loaded.predict_proba(toy_test.images).shape == (len(toy_test.images), 3)


def test_pickle_without_suffix_refused(tmp_path):
    path = tmp_path / "model.bin"
    joblib.dump(make_classifier("logreg"), path)
    with pytest.raises(ModelFileError, match="unpickling runs code"):
        load_model(path)


def test_torch_save_refusals(tmp_path):
    sd = tmp_path / "state.pt"
    torch.save(_linear().state_dict(), sd)
    with pytest.raises(ModelFileError, match="a state_dict"):
        load_model(sd, trust_pickle=True)
    whole = tmp_path / "whole.pt"
    torch.save(_linear(), whole)
    with pytest.raises(ModelFileError, match="unpickling runs code"):
        load_model(whole)
    assert load_model(whole, trust_pickle=True).kind == "torch_pickle"


def test_unrecognised_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="unrecognised model file"):
        load_model(path)
    st = tmp_path / "w.safetensors"
    st.write_bytes(b"x")
    with pytest.raises(ModelFileError, match="holds weights only"):
        load_model(st)


def test_check_input_shape(tmp_path):
    path = tmp_path / "model.pt"
    torch.jit.script(_linear()).save(str(path))
    loaded = load_model(path)
    check_input_shape(loaded, (1, 8, 8))
    with pytest.raises(InvalidDataError, match="cannot take images of shape .* --image-size"):
        check_input_shape(loaded, (1, 16, 16))
