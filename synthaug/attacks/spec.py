"""What a robustness evaluation runs: :class:`RobustnessSpec`, checked once.

Interface (for the CLI, the experiment runner and library users)::

    from synthaug.attacks import RobustnessSpec, evaluate_robustness

    spec = RobustnessSpec(
        attacks=("fgsm", "pgd"),          # names from ATTACK_NAMES (registry)
        eps_grid=("0", "2/255", 0.03),    # L-inf radii in [0, 1]; numbers or fraction strings
        l2_eps_grid=(0.5, 1),             # L2 radii >= 0 (used by L2 attacks such as pgd_l2)
        corruptions=("blur",),            # names from CORRUPTIONS; () skips corruptions
        severities=(1, 3, 5),             # integers 0..MAX_SEVERITY ("3" is read as 3)
        pgd_steps=10,                     # integer >= 1
        labels={"eps_grid": "--eps"},     # optional: how each field is named in messages
    )
    df = evaluate_robustness(model, images, labels, spec, random_state=0)

Every field is validated and normalised in ``__post_init__`` (the only place these
values are checked): grids become sorted tuples of distinct floats, severities a sorted
tuple of distinct ints, names tuples of str. A bad value raises
:class:`~synthaug.exceptions.ConfigError` naming the field, or its label from
``labels`` (an init-only argument, e.g. the CLI flag). Every requested
attack needs a non-empty grid (``eps_grid`` for L-inf attacks, ``l2_eps_grid`` for L2
ones) and corruptions need severities; empty attacks or corruptions skip them.
:meth:`RobustnessSpec.grid` gives the radii one attack runs over and
:meth:`RobustnessSpec.to_dict` the plain-JSON form for run records.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, fields
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from ..data.validation import check_int
from ..exceptions import ConfigError
from .registry import ATTACK_NAMES, CORRUPTIONS, DEFAULT_ATTACKS, L2_ATTACKS, MAX_SEVERITY

__all__ = [
    "DEFAULT_EPS_GRID",
    "DEFAULT_L2_EPS_GRID",
    "DEFAULT_SEVERITIES",
    "RobustnessSpec",
    "resolve_spec",
]

DEFAULT_EPS_GRID = (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255)
# For scale: an L-inf perturbation of 8/255 on every pixel of a 28x28 grey image has L2 norm 0.88.
DEFAULT_L2_EPS_GRID = (0.25, 0.5, 1.0)
DEFAULT_SEVERITIES = (1, 3, 5)

_EPS_EXAMPLE = "0,1/255,2/255,4/255,8/255"
_L2_EXAMPLE = "0.25,0.5,1"


def _as_tuple(label: str, values: Any) -> tuple:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ConfigError(f"{label}: expected a list of values, got {values!r}.")
    return tuple(values)


def _number(label: str, item: Any, example: str, unit: str) -> float:
    """A float from a number or a text such as ``"8/255"``."""
    value = math.nan
    if isinstance(item, str):
        try:
            value = float(Fraction(item.strip()))
        except (ValueError, ZeroDivisionError):
            pass
    elif isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_)):
        value = float(item)
    if not math.isfinite(value):
        raise ConfigError(f"{label}: {item!r} is not a number; give values such as {example} ({unit}).")
    return value


def _eps_grid(label: str, values: Any, linf: bool) -> tuple[float, ...]:
    out = set()
    for item in _as_tuple(label, values):
        if linf:
            value = _number(label, item, _EPS_EXAMPLE, "pixel units in [0, 1]; 8/255 is eight grey levels")
            if not 0 <= value <= 1:
                raise ConfigError(
                    f"{label}: {item} is outside [0, 1]; eps is in pixel units, e.g. 8/255 rather than 8."
                )
        else:
            value = _number(label, item, _L2_EXAMPLE, "the L2 norm of the whole perturbation, pixels in [0, 1]")
            if value < 0:
                raise ConfigError(f"{label}: {item} is negative; an L2 radius is >= 0, e.g. {_L2_EXAMPLE}.")
        out.add(value)
    return tuple(sorted(out))


def _names(label: str, values: Any, valid: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = _as_tuple(label, values)
    for name in names:
        if name not in valid:
            raise ConfigError(f"{label}: unknown {what} {name!r}; choose from {', '.join(valid)}.")
    return tuple(str(n) for n in names)


def _severities(label: str, values: Any) -> tuple[int, ...]:
    out = set()
    for item in _as_tuple(label, values):
        value = None
        if isinstance(item, str) and item.strip().lstrip("+-").isdigit():
            value = int(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            value = int(item)
        if value is None or not 0 <= value <= MAX_SEVERITY:
            raise ConfigError(
                f"{label}: expected integers from 0 to {MAX_SEVERITY} such as 1,3,5, got {item!r}."
            )
        out.add(value)
    return tuple(sorted(out))


@dataclass(frozen=True)
class RobustnessSpec:
    """Attacks, radii, corruptions and severities of one robustness evaluation.

    Parameters
    ----------
    attacks : sequence of {"fgsm", "pgd", "pgd_l2"}, default ("fgsm", "pgd")
        ``fgsm`` and ``pgd`` are L-inf attacks run at every ``eps_grid`` radius;
        ``pgd_l2`` is PGD in the L2 ball, run at every ``l2_eps_grid`` radius.
    eps_grid : sequence of float or str, default (0, 1/255, 2/255, 4/255, 8/255)
        L-inf radii in [0, 1] pixel units (``"8/255"`` is accepted); ``0`` is the
        clean accuracy.
    l2_eps_grid : sequence of float or str, default (0.25, 0.5, 1.0)
        L2 norms of the whole perturbation (pixels in [0, 1]).
    corruptions : sequence of str, default all of :data:`~synthaug.attacks.CORRUPTIONS`
        Empty to skip corruptions.
    severities : sequence of int, default (1, 3, 5)
        Corruption severities from 0 (unchanged) to 5.
    pgd_steps : int, default 10
        PGD iterations (one random start).
    labels : mapping of str to str, optional
        Init-only: the name each field has in error messages (e.g. ``{"eps_grid":
        "--eps"}``); default the field names.

    Examples
    --------
    >>> spec = RobustnessSpec(eps_grid=("8/255", 0), attacks=("pgd_l2",), l2_eps_grid=(1,))
    >>> spec.eps_grid[1] == 8 / 255, spec.grid("pgd_l2")
    (True, (1.0,))
    """

    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    eps_grid: tuple[float, ...] = DEFAULT_EPS_GRID
    l2_eps_grid: tuple[float, ...] = DEFAULT_L2_EPS_GRID
    corruptions: tuple[str, ...] = CORRUPTIONS
    severities: tuple[int, ...] = DEFAULT_SEVERITIES
    pgd_steps: int = 10
    labels: InitVar[Mapping[str, str] | None] = None

    def __post_init__(self, labels: Mapping[str, str] | None) -> None:
        names = dict(labels or {})

        def label(field: str) -> str:
            return names.get(field, field)

        # Frozen: normalised values are written with object.__setattr__, once, here.
        values = {
            "eps_grid": _eps_grid(label("eps_grid"), self.eps_grid, linf=True),
            "attacks": _names(label("attacks"), self.attacks, ATTACK_NAMES, "attack"),
            "l2_eps_grid": _eps_grid(label("l2_eps_grid"), self.l2_eps_grid, linf=False),
            "corruptions": _names(label("corruptions"), self.corruptions, CORRUPTIONS, "corruption"),
            "severities": _severities(label("severities"), self.severities),
            "pgd_steps": check_int(label("pgd_steps"), self.pgd_steps, 1),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        for l2, field, example in ((False, "eps_grid", _EPS_EXAMPLE), (True, "l2_eps_grid", _L2_EXAMPLE)):
            needing = [a for a in self.attacks if (a in L2_ATTACKS) == l2]
            if needing and not getattr(self, field):
                raise ConfigError(
                    f"{label(field)}: no values given; {', '.join(needing)} need at least one radius, "
                    f"e.g. {example}."
                )
        if self.corruptions and not self.severities:
            raise ConfigError(
                f"{label('severities')}: no values given; the corruptions need at least one severity, "
                "e.g. 1,3,5."
            )

    def grid(self, attack: str) -> tuple[float, ...]:
        """The radii ``attack`` runs over: ``l2_eps_grid`` for L2 attacks, else ``eps_grid``."""
        return self.l2_eps_grid if attack in L2_ATTACKS else self.eps_grid

    @property
    def uses_l2(self) -> bool:
        """Whether any requested attack is an L2 attack (and so uses ``l2_eps_grid``)."""
        return any(a in L2_ATTACKS for a in self.attacks)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON (lists, floats, ints), e.g. for a run record."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}


def resolve_spec(spec: RobustnessSpec | None, options: Mapping[str, Any], who: str) -> RobustnessSpec:
    """``spec``, or one built from its fields given as keywords (``options``).

    For functions that take either a spec or the older keywords; ``who`` names the
    function in the message when both are given.
    """
    if spec is None:
        return RobustnessSpec(**options)
    if options:
        raise ConfigError(f"{who}: pass either spec or its fields ({', '.join(sorted(options))}), not both.")
    if not isinstance(spec, RobustnessSpec):
        raise ConfigError(f"{who}: spec must be a RobustnessSpec, got {type(spec).__name__}.")
    return spec
