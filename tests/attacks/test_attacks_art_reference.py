"""Cross-check our PGD against the Adversarial Robustness Toolbox (skipped when ART is absent).

ART is in the ``dev`` extra, so in a development install these tests run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synthaug.attacks import PGD, robust_accuracy


@pytest.mark.parametrize("norm, eps", [("linf", 0.2), ("l2", 1.5)])
def test_pgd_matches_art_within_two_points(norm, eps, trained_model, attack_data):
    art_classification = pytest.importorskip("art.estimators.classification")
    art_evasion = pytest.importorskip("art.attacks.evasion")
    images, labels = attack_data
    steps = 10
    step = 2.5 * eps / steps
    ours = robust_accuracy(trained_model, images, labels,
                           PGD(eps=eps, n_steps=steps, step_size=step, norm=norm, random_start=False))

    classifier = art_classification.PyTorchClassifier(
        model=trained_model, loss=nn.CrossEntropyLoss(), input_shape=images.shape[1:],
        nb_classes=3, clip_values=(0.0, 1.0), device_type="cpu",
    )
    attack = art_evasion.ProjectedGradientDescent(
        estimator=classifier, norm=np.inf if norm == "linf" else 2, eps=eps, eps_step=step,
        max_iter=steps, num_random_init=0, batch_size=len(images), verbose=False,
    )
    x_adv = attack.generate(x=images, y=labels)
    trained_model.eval()
    with torch.no_grad():
        theirs = float((trained_model(torch.tensor(x_adv)).argmax(1).numpy() == labels).mean())
    clean = robust_accuracy(trained_model, images, labels, PGD(eps=0.0))
    assert theirs < clean, "the radius is too small for the comparison to mean anything"
    assert abs(ours - theirs) <= 0.02 + 1e-9, (ours, theirs)
