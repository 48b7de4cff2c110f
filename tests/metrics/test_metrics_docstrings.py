"""The docstring examples of the metrics package run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

from synthaug.metrics import classification, fidelity, memorisation, stats


@pytest.mark.parametrize("module", [classification, stats, fidelity, memorisation])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
