"""Fixtures for the experiment tests: tiny studies that only need to run, not to be good."""

from __future__ import annotations

import pytest

from synthaug.data.toy import make_toy_images
from synthaug.experiment import ExperimentConfig


@pytest.fixture
def tiny_config() -> ExperimentConfig:
    """One seed, tiny generator and classifiers on the CPU, no quality checks."""
    return ExperimentConfig(seeds=(0,), classifiers=("logreg",), quality=False, gan_model="vanilla",
                            gan_epochs=1, gan_batch_size=16, cnn_epochs=1, cnn_batch_size=16,
                            device="cpu", classifier_params={"logreg": {"max_iter": 100}})


@pytest.fixture
def toy3():
    """A 3-class 8x8 dataset with ``n`` images per class."""
    return lambda n=10, seed=0: make_toy_images(n, n_classes=3, image_size=8, random_state=seed)
