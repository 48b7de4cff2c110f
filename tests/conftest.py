"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Two cores on CI: one intra-op thread per test process keeps runs fast and repeatable.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (real datasets); skips if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def toy_dataset():
    """A tiny 3-class 8x8 grayscale dataset that any model learns in seconds."""
    from synthaug.data.toy import make_toy_images

    return make_toy_images(12, n_classes=3, image_size=8, random_state=0)
