"""The attack registry: names, make_attack, and attacks as plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthaug.attacks import ATTACK_NAMES, FGSM, PGD, attack_from_config, make_attack
from synthaug.exceptions import ConfigError


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_make_attack_round_trips_through_json(name):
    attack = make_attack(name, 0.25, pgd_steps=3, random_state=7)
    config = json.loads(json.dumps(attack.to_config()))
    assert attack_from_config(config) == attack


def test_to_config_is_plain_json():
    attack = PGD(eps=np.float64(0.1), n_steps=np.int64(3), norm="l2",
                 random_state=np.random.default_rng(0))
    config = attack.to_config()
    assert config == {"name": "pgd", "eps": 0.1, "step_size": None, "n_steps": 3, "norm": "l2",
                      "random_start": True, "n_restarts": 1, "random_state": None}
    assert type(config["eps"]) is float and type(config["n_steps"]) is int
    assert FGSM(eps=0.5).to_config() == {"name": "fgsm", "eps": 0.5}


def test_legacy_layout_is_read():
    legacy = {"class": "PGD", "params": {"eps": 0.1, "n_steps": 2, "norm": "l2"}}
    assert attack_from_config(legacy) == PGD(eps=0.1, n_steps=2, norm="l2")


@pytest.mark.parametrize(
    "config, match",
    [
        ({"name": "cw", "eps": 0.1}, "unknown attack 'cw'; choose from fgsm, pgd, pgd_l2"),
        ({"eps": 0.1}, "unknown attack None"),
        ({"name": "fgsm", "eps": 0.1, "steps": 3}, "attack 'fgsm': bad parameters"),
        ({"name": "pgd", "eps": -1}, "eps must be a finite number >= 0"),
        ("pgd", "must be a mapping"),
    ],
)
def test_bad_configs(config, match):
    with pytest.raises(ConfigError, match=match):
        attack_from_config(config)


def test_make_attack_unknown_name():
    with pytest.raises(ConfigError, match="unknown attack 'cw'"):
        make_attack("cw", 0.1)
