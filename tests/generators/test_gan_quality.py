"""Do the samples look like their class? A classifier trained on real digits must agree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from synthaug.generators import ConditionalGAN


def digits(classes):
    d = load_digits()
    keep = np.isin(d.target, classes)
    X = (d.images[keep] / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    return X, d.target[keep]


def label_agreement(gan, X, y, n_per_class=50):
    clf = LogisticRegression(max_iter=2000).fit(X.reshape(len(X), -1), y)
    labels = np.repeat(gan.classes_, n_per_class)
    synthetic = gan.sample(labels, random_state=1)
    return float((clf.predict(synthetic.reshape(len(synthetic), -1)) == labels).mean())


def test_digits_samples_carry_their_label_fast():
    """Three digit classes, a short run: clearly above chance (1/3)."""
    X, y = digits([0, 1, 7])
    gan = ConditionalGAN(epochs=12, width=16, batch_size=32, lr_g=1e-3, lr_d=1e-3, ema_decay=None,
                         random_state=0, device="cpu")
    gan.fit(X, y)
    assert label_agreement(gan, X, y) > 0.75


@pytest.mark.slow
def test_digits_quality_bar_with_defaults():
    """The product bar: default settings, all ten digits, >= 90% label agreement."""
    X, y = digits(list(range(10)))
    gan = ConditionalGAN(random_state=0).fit(X, y)
    assert label_agreement(gan, X, y, n_per_class=100) >= 0.90
