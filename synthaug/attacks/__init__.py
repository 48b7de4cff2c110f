"""Evasion attacks in pixel space, common corruptions, and robustness evaluation.

Every attack is a frozen dataclass called as ``attack(model, images, labels)``; see
:class:`~synthaug.attacks.base.Attack` for the contract they share. Attack and
corruption names live in :mod:`~synthaug.attacks.registry`; what an evaluation runs is a
:class:`~synthaug.attacks.spec.RobustnessSpec`, consumed by :func:`evaluate_robustness`.
"""

from .base import Attack
from .corruptions import corrupt
from .evaluate import evaluate_robustness, per_class_robust_accuracy, predict_labels, robust_accuracy
from .fgsm import FGSM
from .pgd import PGD
from .registry import (
    ATTACK_NAMES,
    CORRUPTIONS,
    DEFAULT_ATTACKS,
    L2_ATTACKS,
    MAX_SEVERITY,
    attack_from_config,
    eps_label,
    make_attack,
)
from .spec import DEFAULT_EPS_GRID, DEFAULT_L2_EPS_GRID, DEFAULT_SEVERITIES, RobustnessSpec

__all__ = [
    "ATTACK_NAMES",
    "Attack",
    "CORRUPTIONS",
    "DEFAULT_ATTACKS",
    "DEFAULT_EPS_GRID",
    "DEFAULT_L2_EPS_GRID",
    "DEFAULT_SEVERITIES",
    "FGSM",
    "L2_ATTACKS",
    "MAX_SEVERITY",
    "PGD",
    "RobustnessSpec",
    "attack_from_config",
    "corrupt",
    "eps_label",
    "evaluate_robustness",
    "make_attack",
    "per_class_robust_accuracy",
    "predict_labels",
    "robust_accuracy",
]
