"""The one place that names attacks and corruptions, and turns attacks into plain JSON.

- :data:`ATTACK_NAMES` / :data:`DEFAULT_ATTACKS` / :data:`L2_ATTACKS` and
  :func:`make_attack` build an attack from its name and radius (the CLI, recipes and
  the robustness engine all go through it);
- :data:`CORRUPTIONS` and :data:`MAX_SEVERITY` name the common corruptions;
- :meth:`Attack.to_config <synthaug.attacks.base.Attack.to_config>` writes an attack as
  ``{"name": ..., **params}`` and :func:`attack_from_config` rebuilds it (how a saved
  adversarially trained classifier remembers its attack).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

from ..exceptions import ConfigError
from .base import Attack
from .corruptions import CORRUPTIONS, MAX_SEVERITY
from .fgsm import FGSM
from .pgd import PGD

__all__ = [
    "ATTACK_NAMES",
    "CORRUPTIONS",
    "DEFAULT_ATTACKS",
    "L2_ATTACKS",
    "MAX_SEVERITY",
    "attack_from_config",
    "eps_label",
    "make_attack",
]

#: Attacks by name: the classes (or class with a fixed norm) they build.
_BUILDERS: dict[str, Callable[..., Attack]] = {
    "fgsm": FGSM,
    "pgd": PGD,
    "pgd_l2": partial(PGD, norm="l2"),
}
ATTACK_NAMES = tuple(_BUILDERS)
DEFAULT_ATTACKS = ("fgsm", "pgd")
# Attacks whose eps is the L2 norm of the whole perturbation (they take the L2 eps grid);
# the others are L-inf and take eps in [0, 1] pixel units.
L2_ATTACKS = ("pgd_l2",)
# Class names accepted in configs saved before ``to_config`` (``{"class": "PGD", "params": ...}``).
_LEGACY_CLASSES = {"FGSM": "fgsm", "PGD": "pgd"}


def _unknown(name: Any) -> ConfigError:
    return ConfigError(f"unknown attack {name!r}; choose from {', '.join(ATTACK_NAMES)}.")


def make_attack(name: str, eps: float, *, pgd_steps: int = 10, random_state=None) -> Attack:
    """Build a named attack: ``"fgsm"``, ``"pgd"`` (L-inf) or ``"pgd_l2"`` (L2), one random start.

    Parameters
    ----------
    name : {"fgsm", "pgd", "pgd_l2"}
        One of :data:`ATTACK_NAMES`.
    eps : float
        Radius: L-inf in [0, 1] pixel units, or the L2 norm for ``pgd_l2``.
    pgd_steps : int, default 10
        PGD iterations (ignored by FGSM).
    random_state : None, int or numpy Generator
        Seeds PGD's random start.

    Examples
    --------
    >>> make_attack("pgd_l2", 0.5, pgd_steps=5).norm
    'l2'
    """
    if name == "fgsm":
        return FGSM(eps=eps)
    if name in _BUILDERS:
        return _BUILDERS[name](eps=eps, n_steps=pgd_steps, random_state=random_state)
    raise _unknown(name)


def attack_from_config(config: Mapping[str, Any]) -> Attack:
    """Rebuild an attack from :meth:`Attack.to_config`'s ``{"name": ..., **params}``.

    The older ``{"class": "PGD", "params": {...}}`` layout is read too.

    Raises
    ------
    ConfigError
        For an unknown name or parameters the attack does not take.

    Examples
    --------
    >>> attack_from_config(PGD(eps=0.1, n_steps=3).to_config()) == PGD(eps=0.1, n_steps=3)
    True
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"an attack config must be a mapping with a 'name', got {config!r}.")
    if "name" not in config and "class" in config:  # the pre-registry layout
        name = _LEGACY_CLASSES.get(str(config["class"]), config["class"])
        params = dict(config.get("params") or {})
    else:
        name = config.get("name")
        params = {k: v for k, v in config.items() if k != "name"}
    if name not in _BUILDERS:
        raise _unknown(name)
    try:
        return _BUILDERS[name](**params)
    except TypeError as exc:
        raise ConfigError(f"attack {name!r}: bad parameters {sorted(params)} ({exc}).") from None


def eps_label(attack: str, eps: float) -> str:
    """How a radius reads to a person: ``"8/255"`` for L-inf attacks, ``"L2 0.5"`` for L2 ones.

    Examples
    --------
    >>> eps_label("pgd", 8 / 255), eps_label("pgd_l2", 0.5)
    ('8/255', 'L2 0.5')
    """
    if attack in L2_ATTACKS:
        return f"L2 {eps:g}"
    return f"{eps * 255:.3g}/255"
