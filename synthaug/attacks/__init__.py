"""Evasion attacks in pixel space, common corruptions, and robustness evaluation.

Every attack is a frozen dataclass called as ``attack(model, images, labels)``; see
:class:`~synthaug.attacks.base.Attack` for the contract they share.
"""

from .base import Attack
from .corruptions import CORRUPTIONS, corrupt
from .evaluate import (
    ATTACK_NAMES,
    DEFAULT_ATTACKS,
    DEFAULT_EPS_GRID,
    DEFAULT_L2_EPS_GRID,
    L2_ATTACKS,
    eps_label,
    evaluate_robustness,
    make_attack,
    per_class_robust_accuracy,
    robust_accuracy,
)
from .fgsm import FGSM
from .pgd import PGD

__all__ = [
    "ATTACK_NAMES",
    "Attack",
    "CORRUPTIONS",
    "DEFAULT_ATTACKS",
    "DEFAULT_EPS_GRID",
    "DEFAULT_L2_EPS_GRID",
    "FGSM",
    "L2_ATTACKS",
    "PGD",
    "corrupt",
    "eps_label",
    "evaluate_robustness",
    "make_attack",
    "per_class_robust_accuracy",
    "robust_accuracy",
]
