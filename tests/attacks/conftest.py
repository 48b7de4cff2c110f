"""Fixtures for the attack tests: a tiny trained network on toy 8x8 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synthaug.data.toy import make_toy_images


def _train_mlp(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    d = int(np.prod(images.shape[1:]))
    # BatchNorm and Dropout make train and eval mode differ, so mode handling is visible.
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(d, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3)
    )
    for p in model.parameters():
        if p.ndim > 1:
            nn.init.normal_(p, 0.0, 0.1, generator=gen)
    x, y = torch.tensor(images), torch.tensor(labels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    # Dropout draws from torch's global RNG: fork and seed it, so the trained model does
    # not depend on what other test modules drew at import time.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for _ in range(60):
            idx = torch.randperm(len(x), generator=gen)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
    return model


@pytest.fixture(scope="session")
def attack_data():
    ds = make_toy_images(20, n_classes=3, image_size=8, random_state=0)
    return ds.images.copy(), ds.labels.copy()


@pytest.fixture(scope="session")
def _trained_state(attack_data):
    images, labels = attack_data
    return _train_mlp(images, labels).state_dict()


@pytest.fixture
def trained_model(_trained_state, attack_data):
    """A fresh copy per test (tests may flip its mode)."""
    images, _ = attack_data
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(images[0].size, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(32, 3),
    )
    model.load_state_dict(_trained_state)
    return model.eval()
