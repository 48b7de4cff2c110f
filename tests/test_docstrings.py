"""Docstring examples outside the metrics package run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

from synthaug import persistence, rendering, seeding
from synthaug.attacks import evaluate, registry, spec
from synthaug.data import validation
from synthaug.experiment import cache
from synthaug.experiment.robustness import run


@pytest.mark.parametrize(
    "module", [cache, evaluate, registry, spec, run, persistence, rendering, seeding, validation]
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
