"""make_classifier: names, image input for scikit-learn models, errors."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.classifiers import CLASSIFIER_NAMES, CNNClassifier, make_classifier
from synthaug.exceptions import ConfigError


def test_names():
    assert CLASSIFIER_NAMES == ("cnn", "logreg", "random_forest")
    assert isinstance(make_classifier("cnn", epochs=2, random_state=0), CNNClassifier)


@pytest.mark.parametrize("name, params", [("logreg", {}), ("random_forest", {"n_estimators": 20})])
def test_sklearn_models_take_images(name, params, toy_train, toy_test):
    clf = make_classifier(name, random_state=0, **params).fit(toy_train.images, toy_train.labels)
    proba = clf.predict_proba(toy_test.images)
    assert proba.shape == (len(toy_test.images), 3)
    assert clf.score(toy_test.images, toy_test.labels) > 0.9


def test_defaults_and_overrides():
    assert make_classifier("random_forest").steps[-1][1].n_estimators == 200
    assert make_classifier("logreg").steps[-1][1].max_iter >= 1000
    assert make_classifier("logreg", C=0.5).steps[-1][1].C == 0.5
    rf = make_classifier("random_forest", random_state=np.random.default_rng(0)).steps[-1][1]
    assert isinstance(rf.random_state, int)


def test_unknown_name_and_bad_params():
    with pytest.raises(ConfigError, match="unknown classifier 'svm'; choose one of cnn, logreg, random_forest"):
        make_classifier("svm")
    with pytest.raises(ConfigError, match="classifier 'logreg'"):
        make_classifier("logreg", not_a_param=1)
