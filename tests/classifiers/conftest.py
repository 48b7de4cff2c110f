"""Fixtures for classifier tests: toy train/test sets and a small fitted CNN."""

from __future__ import annotations

import pytest

from synthaug.data.toy import make_toy_images

FAST = dict(epochs=15, width=8, batch_size=16, lr=3e-3)


@pytest.fixture(scope="session")
def toy_train():
    return make_toy_images(20, n_classes=3, image_size=8, random_state=0)


@pytest.fixture(scope="session")
def toy_test():
    return make_toy_images(20, n_classes=3, image_size=8, random_state=1)


@pytest.fixture(scope="session")
def fitted_cnn(toy_train):
    from synthaug.classifiers import CNNClassifier

    return CNNClassifier(random_state=0, **FAST).fit(toy_train.images, toy_train.labels)
