"""RobustnessSpec: the one place where attack names, radii and severities are checked."""

from __future__ import annotations

import dataclasses

import pytest

from synthaug.attacks import CORRUPTIONS, RobustnessSpec, evaluate_robustness
from synthaug.exceptions import ConfigError


def test_defaults_and_normalisation():
    spec = RobustnessSpec()
    assert spec.attacks == ("fgsm", "pgd") and spec.corruptions == CORRUPTIONS
    assert spec.eps_grid == (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255) and spec.severities == (1, 3, 5)
    spec = RobustnessSpec(eps_grid=["8/255", 0, "0", 0.5], severities=["3", 1, 3], l2_eps_grid=[1, "1/2"])
    assert spec.eps_grid == (0.0, 8 / 255, 0.5)
    assert spec.severities == (1, 3) and spec.l2_eps_grid == (0.5, 1.0)
    assert spec.grid("pgd_l2") == (0.5, 1.0) and spec.grid("fgsm") == spec.eps_grid
    assert spec.to_dict()["eps_grid"] == [0.0, 8 / 255, 0.5]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.pgd_steps = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps_grid": ("abc",)}, "eps_grid: 'abc' is not a number"),
        ({"eps_grid": (float("nan"),)}, "eps_grid: nan is not a number"),
        ({"eps_grid": (True,)}, "eps_grid: True is not a number"),
        ({"eps_grid": ("8",)}, r"eps_grid: 8 is outside \[0, 1\]; eps is in pixel units"),
        ({"eps_grid": "0.1"}, "eps_grid: expected a list of values"),
        ({"attacks": ("pgd_l2",), "l2_eps_grid": ("-1",)}, "l2_eps_grid: -1 is negative"),
        ({"attacks": ("fgsm", "cw")}, "attacks: unknown attack 'cw'; choose from fgsm, pgd, pgd_l2"),
        ({"corruptions": ("fog",)}, "corruptions: unknown corruption 'fog'"),
        ({"severities": (6,)}, "severities: expected integers from 0 to 5 such as 1,3,5, got 6"),
        ({"severities": ("1.5",)}, "severities: expected integers from 0 to 5"),
        ({"pgd_steps": 0}, "pgd_steps must be an integer >= 1, got 0"),
        ({"eps_grid": ()}, "eps_grid: no values given; fgsm, pgd need at least one radius"),
        ({"attacks": ("pgd_l2",), "l2_eps_grid": ()}, "l2_eps_grid: no values given; pgd_l2 need"),
        ({"severities": ()}, "severities: no values given; the corruptions need at least one severity"),
    ],
)
def test_bad_values_name_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RobustnessSpec(**kwargs)


def test_labels_rename_fields_in_messages():
    with pytest.raises(ConfigError, match="^--eps: 8 is outside"):
        RobustnessSpec(eps_grid=("8",), labels={"eps_grid": "--eps"})


def test_empty_selections_are_allowed():
    spec = RobustnessSpec(attacks=(), eps_grid=(), l2_eps_grid=(), corruptions=(), severities=())
    assert spec.attacks == () and spec.corruptions == ()


def test_evaluate_takes_a_spec_or_keywords_not_both(trained_model, attack_data):
    images, labels = attack_data
    spec = RobustnessSpec(attacks=("fgsm",), eps_grid=(0.1,), corruptions=())
    a = evaluate_robustness(trained_model, images, labels, spec, random_state=0)
    b = evaluate_robustness(trained_model, images, labels, attacks=("fgsm",), eps_grid=(0.1,),
                            corruptions=(), random_state=0)
    assert a.equals(b)
    with pytest.raises(ConfigError, match="pass either spec or its fields \\(corruptions\\), not both"):
        evaluate_robustness(trained_model, images, labels, spec, corruptions=())
    with pytest.raises(ConfigError, match="spec must be a RobustnessSpec"):
        evaluate_robustness(trained_model, images, labels, {"attacks": ()})
