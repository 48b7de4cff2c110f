"""Fixtures shared by the generator tests."""

from __future__ import annotations

import pytest

from synthaug.generators import training


@pytest.fixture
def interrupt_at(monkeypatch):
    """``interrupt_at(n)`` makes the n-th training step (1-based) raise KeyboardInterrupt.

    The step is the GAN's ``training.train_step`` unless ``module``/``name`` name another
    per-step function (the diffusion unit's ``diffusion_loss``).
    """

    def arm(call_number: int, module=training, name: str = "train_step") -> None:
        real_step = getattr(module, name)
        calls = {"n": 0}

        def step(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == call_number:
                raise KeyboardInterrupt
            return real_step(*args, **kwargs)

        monkeypatch.setattr(module, name, step)

    return arm
