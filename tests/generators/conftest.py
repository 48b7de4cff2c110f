"""Fixtures shared by the generator tests."""

from __future__ import annotations

import pytest

from synthaug.generators import training


@pytest.fixture
def interrupt_at(monkeypatch):
    """``interrupt_at(n)`` makes the n-th training step (1-based) raise KeyboardInterrupt."""

    def arm(call_number: int) -> None:
        real_step = training.train_step
        calls = {"n": 0}

        def step(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == call_number:
                raise KeyboardInterrupt
            return real_step(*args, **kwargs)

        monkeypatch.setattr(training, "train_step", step)

    return arm
