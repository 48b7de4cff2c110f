"""run_robustness and write_robustness_report (synthaug.experiment.robustness)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from torch import nn

from synthaug.classifiers import CNNClassifier, LoadedModel, make_classifier
from synthaug.data.dataset import ImageDataset
from synthaug.data.toy import make_toy_images
from synthaug.exceptions import ConfigError, InvalidDataError, ModelFileError
from synthaug.experiment.robustness import REPORT_FILES, run_robustness, write_robustness_report

FAST = dict(eps_grid=(0.0, 0.3), pgd_steps=3, severities=(1,), surrogate_epochs=3)


@pytest.fixture(scope="module")
def split_data():
    train = make_toy_images(15, n_classes=3, image_size=8, random_state=0)
    test = make_toy_images(6, n_classes=3, image_size=8, random_state=1)
    return ImageDataset(np.concatenate([train.images, test.images]), np.concatenate([train.labels, test.labels]),
                        ["a", "b", "c"], split=np.array(["train"] * 45 + ["test"] * 18), name="toy")


@pytest.fixture(scope="module")
def cnn(split_data):
    train = split_data.get_split("train")
    return CNNClassifier(epochs=8, width=4, random_state=0).fit(train.images, train.labels)


def _loaded(clf):
    return LoadedModel("cnn", "test-cnn", module=clf.model_, estimator=clf, classes=clf.classes_)


class _FakeGenerator:
    """Returns the class's toy images: a stand-in for a fitted ConditionalGAN."""

    classes_ = np.array([0, 1, 2])

    def sample(self, y, *, random_state=None):
        ds = make_toy_images(1, n_classes=3, image_size=8, random_state=random_state)
        return ds.images[np.asarray(y)]


def test_white_box_uses_test_split_and_reports_everything(split_data, cnn, tmp_path):
    res = run_robustness(split_data, _loaded(cnn), stress_generator=_FakeGenerator(), n_stress=5,
                         n_examples=4, **FAST)
    assert set(res.results["kind"]) == {"clean", "adversarial", "corruption", "stress"}
    assert (res.results.loc[res.results.kind != "stress", "n"] == 18).all()
    assert res.results.loc[res.results.kind == "stress", "n"].item() == 15
    assert "Evaluated all 18 rows of the test split of toy." in res.notes
    assert set(res.per_class["class"]) == {"a", "b", "c"}
    assert len(res.predictions) == 18 * (1 + 2 * 2 + 4)
    assert set(res.predictions["label"]) == {"a", "b", "c"}
    clean = res.predictions[res.predictions.kind == "clean"]
    assert clean["correct"].mean() == pytest.approx(res.clean_accuracy())
    assert res.examples["images"].shape == (4, 1, 8, 8)
    assert res.examples["panels"][0][0] == "clean" and len(res.examples["panels"]) == 1 + 2 + 4

    written = write_robustness_report(res, tmp_path / "report")
    assert sorted(written) == sorted(REPORT_FILES)
    for name in REPORT_FILES:
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert (tmp_path / "report" / "robust_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "src=\"robust" not in page
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Clean accuracy:" in md and "![examples](examples.png)" in md
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "report" / "robustness.csv"), res.results,
                                  check_dtype=False)
    assert json.loads((tmp_path / "report" / "config.json").read_text())["options"]["eps_grid"] == [0.0, 0.3]


def test_deterministic(split_data, cnn):
    a = run_robustness(split_data, _loaded(cnn), random_state=1, **FAST)
    b = run_robustness(split_data, _loaded(cnn), random_state=1, **FAST)
    pd.testing.assert_frame_equal(a.results, b.results)


def test_gradient_free_model_without_split_says_what_the_surrogate_saw(split_data):
    no_split = ImageDataset(split_data.images, split_data.labels, split_data.class_names, name="nosplit")
    clf = make_classifier("logreg", random_state=0).fit(no_split.images, no_split.labels)
    model = LoadedModel("sklearn", "lr", estimator=clf, classes=clf.classes_)
    res = run_robustness(no_split, model, max_samples=30, **FAST)
    assert set(res.results["kind"]) == {"clean", "transfer", "corruption"}
    assert (res.results["n"] == 30).all()
    notes = " ".join(res.notes)
    assert "stratified random subsample of 30 of the 63 rows" in notes
    assert "including the evaluated ones" in notes


def test_string_classes_are_matched_by_name(split_data):
    names = np.array(split_data.class_names)
    train = split_data.get_split("train")
    clf = make_classifier("logreg", random_state=0).fit(train.images, names[train.labels])
    model = LoadedModel("sklearn", "lr", estimator=clf, classes=clf.classes_)
    res = run_robustness(split_data, model, attacks=(), corruptions=())
    assert res.clean_accuracy() == pytest.approx(clf.score(split_data.get_split("test").images,
                                                           names[split_data.get_split("test").labels]))


def test_mismatched_models_are_refused(split_data):
    few = LoadedModel("python", "two-logits", module=nn.Sequential(nn.Flatten(), nn.Linear(64, 2)))
    with pytest.raises(InvalidDataError, match="returns 2 logits but the data has 3 classes"):
        run_robustness(split_data, few, **FAST)
    fitted = make_classifier("logreg").fit(split_data.images, np.array(["x", "y"])[split_data.labels % 2])
    other = LoadedModel("sklearn", "other", estimator=fitted, classes=fitted.classes_)
    with pytest.raises(InvalidDataError, match="knows the classes"):
        run_robustness(split_data, other, attacks=(), corruptions=())
    wrong_size = LoadedModel("python", "16px", module=nn.Sequential(nn.Flatten(), nn.Linear(256, 3)))
    with pytest.raises(InvalidDataError, match="cannot take images of shape"):
        run_robustness(split_data, wrong_size, **FAST)
    unfitted = LoadedModel("sklearn", "unfitted", estimator=make_classifier("logreg"))
    with pytest.raises(ModelFileError, match="is not fitted"):
        run_robustness(split_data, unfitted, **FAST)


def test_bad_options(split_data, cnn):
    with pytest.raises(ConfigError, match="unknown attack 'cw'"):
        run_robustness(split_data, _loaded(cnn), attacks=("cw",))
    with pytest.raises(ConfigError, match="must be a LoadedModel"):
        run_robustness(split_data, cnn)
    with pytest.raises(ConfigError, match="--max-samples"):
        run_robustness(split_data, _loaded(cnn), max_samples=0)
