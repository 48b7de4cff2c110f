"""Docstring examples outside the metrics package run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

from synthaug.attacks import evaluate
from synthaug.experiment import cache


@pytest.mark.parametrize("module", [cache, evaluate])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
