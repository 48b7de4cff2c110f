"""make_classifier: names, image input for scikit-learn models, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import synthaug.classifiers
from synthaug.classifiers import (
    CLASSIFIER_NAMES,
    CNNClassifier,
    make_classifier,
    registry,
)
from synthaug.exceptions import ConfigError

KINDS = {"cnn": CNNClassifier, "logreg": LogisticRegression, "random_forest": RandomForestClassifier}


def test_names_are_a_tuple_that_the_package_exports():
    assert isinstance(CLASSIFIER_NAMES, tuple) and len(set(CLASSIFIER_NAMES)) == len(CLASSIFIER_NAMES)
    assert synthaug.classifiers.CLASSIFIER_NAMES is registry.CLASSIFIER_NAMES
    assert "CLASSIFIER_NAMES" in synthaug.classifiers.__all__
    assert set(CLASSIFIER_NAMES) == set(KINDS)  # a new name needs a row in KINDS


@pytest.mark.parametrize("name", CLASSIFIER_NAMES)
def test_every_name_builds_a_fresh_estimator_of_its_kind(name):
    est = make_classifier(name, random_state=3)
    model = est if isinstance(est, CNNClassifier) else est.steps[-1][1]
    assert type(model) is KINDS[name]
    assert model.random_state == 3
    assert not hasattr(model, "classes_")  # unfitted
    assert make_classifier(name) is not make_classifier(name)
    if name != "cnn":
        assert est.steps[0][0] == "flatten"  # takes (N, C, H, W) images directly
    assert callable(est.predict_proba)


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
    for bad in (None, ["logreg"], "CNN"):
        with pytest.raises(ConfigError, match=f"choose one of {', '.join(CLASSIFIER_NAMES)}"):
            make_classifier(bad)
    with pytest.raises(ConfigError, match="classifier 'cnn'"):
        make_classifier("cnn", not_a_param=1)
    with pytest.raises(ConfigError, match="classifier 'logreg'"):
        make_classifier("logreg", not_a_param=1)
