"""``ExperimentConfig``: the typed, immutable description of one evaluation study.

A config is usually loaded from a TOML recipe in ``pipelines/`` and adjusted with
command-line overrides::

    cfg = ExperimentConfig.from_toml("pipelines/digits_lowdata.toml", seeds=[0, 1])

Recipes use flat keys (``seeds = [0, 1, 2]``) and may group the generator, classifier
and robustness options in tables whose keys get a prefix::

    [gan]            # -> gan_epochs, gan_model, ...
    epochs = 100
    [cnn]            # -> cnn_epochs, cnn_batch_size, ...
    epochs = 20
    [robustness]     # enabled -> robustness; everything else -> robust_<key>
    enabled = true
    eps_grid = ["1/255", "2/255", "4/255", "8/255"]
    [compute]        # n_jobs, backend, address, device (unprefixed)
    backend = "dask"
    address = "tcp://scheduler:8786"

Every unknown key and every bad value raises :class:`~synthaug.exceptions.ConfigError`
naming the key and the recipe file.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from ..attacks.spec import RobustnessSpec
from ..classifiers import CLASSIFIER_NAMES
from ..exceptions import ConfigError
from ..generators import LOSSES, MODEL_CHOICES, STRATEGIES
from ..generators.registry import unknown_generator_params
from ..over_sampling.select import COPY_GUARD, DEFAULT_POOL_FACTOR, DEFAULT_SELECT, SELECTION_METHODS
from .arms import ARMS
from .backends import BACKEND_NAMES
from .recipe import config_from_dict, config_from_toml

#: Every arm the runner knows, in report order (see :data:`~synthaug.experiment.arms.ARMS`).
ALL_ARMS = tuple(ARMS)
#: Arms that exist only with robustness (PGD adversarial training, CNN only).
ADV_ARMS = tuple(name for name, arm in ARMS.items() if arm.adversarial)

# RobustnessSpec fields that a recipe sets as robust_<field> ([robustness] <field>).
_SPEC_FIELDS = ("attacks", "eps_grid", "l2_eps_grid", "corruptions", "severities", "pgd_steps")

#: Small and fast settings used by ``synthaug evaluate`` when no recipe is given.
FAST_DEFAULTS: dict[str, Any] = {
    "seeds": (0, 1, 2),
    "ratios": (0.5, 1.0, 2.0),
    "classifiers": ("logreg", "cnn"),
    "gan_epochs": 30,
    "gan_batch_size": 64,
    "cnn_epochs": 10,
    "robustness": False,
}


def _parse_number(key: str, value: Any, where: str) -> float:
    """A float from a number or a fraction string such as ``"8/255"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}{key}: expected a number, got {value!r}.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            pass
    raise ConfigError(f"{where}{key}: expected a number or a fraction like '8/255', got {value!r}.")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one evaluation study needs, immutable and saved beside its results.

    Parameters
    ----------
    dataset : str or None
        What to load: ``"builtin:digits"``, an ``.npz`` path, a folder or a CSV manifest.
        ``None`` when the dataset is passed to :func:`run_experiment` directly.
    image_size : int or None
        Resize images to this square size when loading (``None`` keeps them).
    seeds : tuple of int
        One repetition per seed; the seed drives the low-data subsample, the generator,
        the augmentation and the classifiers. Arms are compared pairwise per seed.
    train_sizes : tuple of (int or "all")
        Low-data settings: keep ``n`` training images per class (a fresh subsample per
        seed), or ``"all"`` for the whole training split.
    test_fraction, val_fraction : float
        For datasets without their own splits: a stratified split made once with
        ``split_seed`` (the same for every seed and arm).
    split_seed : int
        Seed of that split and of the robustness test subset.
    arms : tuple of str or None
        Arms to run (see :data:`ALL_ARMS`); ``None`` runs every applicable arm. ``real``
        is always run, because every other arm is compared with it.
    ratios : tuple of float
        Synthetic images per real image, per class, for the ``gan`` arm.
    mix_ratio : float
        The single ratio used by ``smote``, ``gan_classic``, ``tstr`` and ``adv_gan``.
    synthetic_weight : float
        Weight (``> 0``) of each generator-drawn row in the downstream classifiers' loss,
        relative to a real, classic or SMOTE row; ``1.0`` trains without weights.
    balance : bool
        Add the ``gan_balance`` arm (synthetic images top every class up to the largest).
    classifiers : tuple of str
        Downstream classifiers by name (``cnn``, ``logreg``, ``random_forest``).
    cnn_epochs, cnn_batch_size : int
        Training length and batch size of the downstream CNN.
    cnn_equal_steps : bool
        Give every arm's CNN about the optimizer steps of the real-only arm (default; False:
        ``cnn_epochs`` over each arm's own set, as before 2026-12-02; docs/benchmarks.md 14).
    cnn_params, classifier_params : dict
        Extra keyword arguments for the CNN, and per-classifier-name keyword arguments
        (``{"random_forest": {"n_estimators": 200}}``).
    gan_model, gan_strategy, gan_loss : str
        Generator: a GAN (``dcgan``, ``vanilla``), ``ddpm`` (``ConditionalDiffusion``) or
        ``auto`` (the default, as in the CLI: :func:`~synthaug.generators.resolve_model` per
        training size; GAN-only ``gan_params``/``gan_loss``/``gan_select`` choose a GAN), its conditioning
        strategy, and the GAN's loss (ignored by ``ddpm``). Every arm named ``gan*`` uses
        this generator; two runs of one recipe that differ only here share splits,
        subsamples and classifier seeds, so their results compare pair by pair.
    gan_epochs, gan_batch_size : int or None
        Generator training length and batch size; None (the default) lets the
        generator's budget rule choose them from the data, as ``synthaug augment`` does.
    gan_select, gan_pool_factor, gan_copy_guard : str, float, float
        Sample selection for the generator arms, as ``GANOverSampler(select=...)``
        (``"none"``, ``"coverage"``, ``"covariance"``, ``"critic"``, ``"random"``), the
        pool size per class relative to the samples kept, and coverage's copy guard
        (default 0: off; see ``GANOverSampler(copy_guard=...)``).
    gan_params : dict
        Extra keyword arguments for the generator: :class:`~synthaug.generators.ConditionalGAN`
        (``steps``, ``max_minutes``, ``mode_seeking``, ``lecam``, ``ada_target``, ...) or
        :class:`~synthaug.generators.ConditionalDiffusion` (``steps``, ``sample_steps``,
        ``guidance_scale``, ...).
    flips : bool
        Allow horizontal flips in classic augmentation (wrong for digits, fine for
        many medical images).
    classic_copies : int
        Augmented copies of each real image in the ``classic`` arms.
    smote_k_neighbors : int
        SMOTE's neighbours (lowered automatically for tiny classes).
    robustness : bool
        Score every CNN arm under attacks and corruptions, and add the adversarial
        training arms (when ``robust_adversarial_training``).
    robust_eps_grid : tuple of float
        L-inf attack budgets (``fgsm``, ``pgd``) in ``[0, 1]`` pixel units (``8/255`` is
        8 grey levels).
    robust_l2_eps_grid : tuple of float
        L2 budgets of ``pgd_l2``: the L2 norm of the whole perturbation.
    robust_attacks, robust_corruptions : tuple of str
        Attack names (``fgsm``, ``pgd``, ``pgd_l2``) and corruption names; an empty
        corruption tuple skips corruptions.
    robust_severities : tuple of int
        Corruption severities (0 to 5).
    robust_pgd_steps : int
        PGD iterations. These six ``robust_*`` fields are checked and normalised by
        :class:`~synthaug.attacks.spec.RobustnessSpec` (see :attr:`robustness_spec`).
    robust_adversarial_training : bool
        Add the ``adv_real`` and ``adv_gan`` arms.
    robust_adv_eps : float
        Budget of PGD adversarial training.
    robust_transfer : bool
        Attack the sklearn classifiers with examples crafted on the CNN of the same arm
        and seed (transfer attacks); without it they get no robust scores.
    robust_max_test : int or None
        Score robustness on at most this many test images (a fixed subset).
    quality : bool
        Sample fidelity, TRTS and memorisation of each generator (fitted only for arms).
    quality_max_samples : int
        Synthetic images drawn per generator for the quality metrics.
    n_jobs : int
        joblib workers for the job grid (``-1`` for all cores); with the ``dask`` or
        ``ray`` backend and no ``address``, the size of the local cluster started.
    backend : {"local", "dask", "ray"}
        Where the grid's jobs run (see :mod:`~synthaug.experiment.backends`): local
        processes, a Dask cluster or a Ray cluster. A joblib backend that the caller of
        ``run_experiment`` set with ``joblib.parallel_config`` takes precedence. Results
        do not depend on it.
    address : str or None
        The Dask scheduler (``tcp://host:8786``) or Ray head (``host:6379``) to connect
        to; None starts a local cluster for the run. Only with ``dask`` or ``ray``.
    device : str
        Torch device for generator and CNN (``"auto"``, ``"cpu"``, ``"cuda"``).
    recipe : str or None
        The TOML file this config came from (recorded, and named in errors).

    Examples
    --------
    >>> cfg = ExperimentConfig(dataset="builtin:digits", seeds=(0, 1), ratios=(1.0,))
    >>> cfg.replace(gan_epochs=5).gan_epochs
    5
    """

    dataset: str | None = None
    image_size: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    train_sizes: tuple[int | str, ...] = ("all",)
    test_fraction: float = 0.25
    val_fraction: float = 0.0
    split_seed: int = 0
    arms: tuple[str, ...] | None = None
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    mix_ratio: float = 1.0
    synthetic_weight: float = 1.0
    balance: bool = True
    classifiers: tuple[str, ...] = ("cnn", "logreg")
    cnn_epochs: int = 20
    cnn_batch_size: int = 64
    cnn_equal_steps: bool = True
    cnn_params: dict = field(default_factory=dict)
    classifier_params: dict = field(default_factory=dict)
    gan_model: str = "auto"
    gan_strategy: str = "conditional"
    gan_loss: str = "hinge"
    gan_epochs: int | None = None
    gan_batch_size: int | None = None
    gan_params: dict = field(default_factory=dict)
    gan_select: str = DEFAULT_SELECT
    gan_pool_factor: float = DEFAULT_POOL_FACTOR
    gan_copy_guard: float = COPY_GUARD
    flips: bool = False
    classic_copies: int = 1
    smote_k_neighbors: int = 5
    robustness: bool = False
    robust_eps_grid: tuple[float, ...] = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
    robust_l2_eps_grid: tuple[float, ...] = (0.25, 0.5, 1.0)
    robust_attacks: tuple[str, ...] = ("fgsm", "pgd")
    robust_corruptions: tuple[str, ...] = ("gaussian_noise", "blur", "contrast")
    robust_severities: tuple[int, ...] = (1, 3, 5)
    robust_pgd_steps: int = 10
    robust_adversarial_training: bool = True
    robust_adv_eps: float = 4 / 255
    robust_transfer: bool = True
    robust_max_test: int | None = 500
    quality: bool = True
    quality_max_samples: int = 1000
    n_jobs: int = 1
    backend: str = "local"
    address: str | None = None
    device: str = "auto"
    recipe: str | None = None

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        where = f"{self.recipe}: " if self.recipe else ""
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731

        def err(key: str, msg: str) -> ConfigError:
            return ConfigError(f"{where}{key}: {msg}")

        def as_int(key: str, value: Any, *, minimum: int | None = None, allow_none: bool = False):
            if value is None and allow_none:
                return None
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise err(key, f"expected an integer, got {value!r}.")
            if minimum is not None and value < minimum:
                raise err(key, f"must be >= {minimum}, got {value}.")
            return int(value)

        def as_bool(key: str, value: Any) -> bool:
            if not isinstance(value, bool):
                raise err(key, f"expected true or false, got {value!r}.")
            return value

        def as_str(key: str, value: Any, choices: tuple[str, ...] | None = None) -> str:
            if not isinstance(value, str) or not value:
                raise err(key, f"expected a non-empty string, got {value!r}.")
            if choices is not None and value not in choices:
                raise err(key, f"unknown value {value!r}; choose from {list(choices)}.")
            return value

        def as_list(key: str, value: Any) -> list:
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                value = [value]
            out = list(value)
            if not out:
                raise err(key, "must not be empty.")
            return out

        def as_dict(key: str, value: Any) -> dict:
            if value is None:
                return {}
            if not isinstance(value, Mapping):
                raise err(key, f"expected a table of keyword arguments, got {value!r}.")
            return {str(k): v for k, v in value.items()}

        if self.dataset is not None:
            set_("dataset", as_str("dataset", str(self.dataset) if isinstance(self.dataset, Path) else self.dataset))
        set_("image_size", as_int("image_size", self.image_size, minimum=4, allow_none=True))
        seeds = tuple(as_int("seeds", s, minimum=0) for s in as_list("seeds", self.seeds))
        if len(set(seeds)) != len(seeds):
            raise err("seeds", f"has duplicates: {list(seeds)}.")
        set_("seeds", seeds)
        sizes: list[int | str] = []
        for s in as_list("train_sizes", self.train_sizes):
            if isinstance(s, str) and s.strip().lower() == "all":
                sizes.append("all")
            elif isinstance(s, str) and s.strip().isdigit():
                sizes.append(as_int("train_sizes", int(s), minimum=1))
            else:
                try:
                    sizes.append(as_int("train_sizes", s, minimum=1))
                except ConfigError:
                    raise err("train_sizes", f"each entry must be a positive integer (images per class) or 'all', got {s!r}.") from None
        if len(set(sizes)) != len(sizes):
            raise err("train_sizes", f"has duplicates: {sizes}.")
        set_("train_sizes", tuple(sizes))
        for key in ("test_fraction", "val_fraction"):
            v = _parse_number(key, getattr(self, key), where)
            if not 0.0 <= v < 1.0:
                raise err(key, f"must be in [0, 1), got {v}.")
            set_(key, v)
        if self.test_fraction <= 0.0:
            raise err("test_fraction", "must be > 0 (the real test split is what every number is measured on).")
        if self.test_fraction + self.val_fraction >= 0.9:
            raise err("test_fraction", "test_fraction + val_fraction must leave at least 10% for training.")
        set_("split_seed", as_int("split_seed", self.split_seed, minimum=0))
        if self.arms is not None:
            known = tuple(ARMS)
            arms = tuple(as_str("arms", a, known) for a in as_list("arms", self.arms))
            set_("arms", tuple(a for a in known if a in arms))  # canonical order, no duplicates
        ratios = tuple(_parse_number("ratios", r, where) for r in as_list("ratios", self.ratios))
        if any(r <= 0 for r in ratios):
            raise err("ratios", f"every ratio must be > 0, got {list(ratios)}.")
        set_("ratios", tuple(sorted(set(ratios))))
        mix = _parse_number("mix_ratio", self.mix_ratio, where)
        if mix <= 0:
            raise err("mix_ratio", f"must be > 0, got {mix}.")
        set_("mix_ratio", mix)
        weight = _parse_number("synthetic_weight", self.synthetic_weight, where)
        if not 0 < weight < float("inf"):
            raise err("synthetic_weight", f"must be a finite number > 0, got {weight}.")
        set_("synthetic_weight", weight)
        set_("balance", as_bool("balance", self.balance))
        clfs = tuple(as_str("classifiers", c, CLASSIFIER_NAMES) for c in as_list("classifiers", self.classifiers))
        if len(set(clfs)) != len(clfs):
            raise err("classifiers", f"has duplicates: {list(clfs)}.")
        set_("classifiers", clfs)
        set_("cnn_epochs", as_int("cnn_epochs", self.cnn_epochs, minimum=1))
        set_("cnn_batch_size", as_int("cnn_batch_size", self.cnn_batch_size, minimum=1))
        set_("cnn_equal_steps", as_bool("cnn_equal_steps", self.cnn_equal_steps))
        set_("cnn_params", as_dict("cnn_params", self.cnn_params))
        cp = as_dict("classifier_params", self.classifier_params)
        for name, params in cp.items():
            as_str("classifier_params", name, CLASSIFIER_NAMES)
            cp[name] = as_dict(f"classifier_params.{name}", params)
        set_("classifier_params", cp)
        # Checked here, when the recipe is read, not inside a worker an hour later.
        set_("gan_model", as_str("gan_model", self.gan_model, MODEL_CHOICES))
        set_("gan_strategy", as_str("gan_strategy", self.gan_strategy, STRATEGIES))
        set_("gan_loss", as_str("gan_loss", self.gan_loss, LOSSES))
        # None: the generator's own budget rule (synthaug.generators.budget), as in the CLI.
        for key in ("gan_epochs", "gan_batch_size"):
            value = getattr(self, key)
            set_(key, None if value is None else as_int(key, value, minimum=1))
        set_("gan_params", as_dict("gan_params", self.gan_params))
        unknown = unknown_generator_params(self.gan_model, self.gan_params)
        if unknown:
            raise err("gan_params", unknown)
        set_("gan_select", as_str("gan_select", self.gan_select, tuple(SELECTION_METHODS)))
        for key, low, note in (("gan_pool_factor", 1, ""), ("gan_copy_guard", 0, " (0 turns the guard off)")):
            value = _parse_number(key, getattr(self, key), where)
            if not value >= low:
                raise err(key, f"must be >= {low}{note}, got {value:g}.")
            set_(key, value)
        set_("flips", as_bool("flips", self.flips))
        set_("classic_copies", as_int("classic_copies", self.classic_copies, minimum=1))
        set_("smote_k_neighbors", as_int("smote_k_neighbors", self.smote_k_neighbors, minimum=1))
        set_("robustness", as_bool("robustness", self.robustness))
        # The attack engine's spec checks and normalises the [robustness] grids and names
        # (once, here, when the recipe is read); the flat fields keep its normalised values.
        corr = () if self.robust_corruptions in (None, (), []) else as_list("robust_corruptions", self.robust_corruptions)
        spec = RobustnessSpec(
            attacks=tuple(as_list("robust_attacks", self.robust_attacks)),
            eps_grid=tuple(as_list("robust_eps_grid", self.robust_eps_grid)),
            l2_eps_grid=tuple(as_list("robust_l2_eps_grid", self.robust_l2_eps_grid)),
            corruptions=tuple(corr),
            severities=tuple(as_list("robust_severities", self.robust_severities)),
            pgd_steps=self.robust_pgd_steps,
            labels={name: f"{where}robust_{name}" for name in _SPEC_FIELDS},
        )
        for name in _SPEC_FIELDS:
            set_(f"robust_{name}", getattr(spec, name))
        set_("_robustness_spec", spec)
        set_("robust_adversarial_training", as_bool("robust_adversarial_training", self.robust_adversarial_training))
        adv_eps = _parse_number("robust_adv_eps", self.robust_adv_eps, where)
        if not 0 < adv_eps <= 1:
            raise err("robust_adv_eps", f"must be in (0, 1], got {adv_eps}.")
        set_("robust_adv_eps", adv_eps)
        set_("robust_transfer", as_bool("robust_transfer", self.robust_transfer))
        set_("robust_max_test", as_int("robust_max_test", self.robust_max_test, minimum=1, allow_none=True))
        set_("quality", as_bool("quality", self.quality))
        set_("quality_max_samples", as_int("quality_max_samples", self.quality_max_samples, minimum=2))
        n_jobs = as_int("n_jobs", self.n_jobs)
        if n_jobs == 0 or n_jobs < -1:
            raise err("n_jobs", f"must be a positive integer or -1 (all cores), got {n_jobs}.")
        set_("n_jobs", n_jobs)
        set_("backend", as_str("backend", self.backend, BACKEND_NAMES))
        if self.address is not None:
            set_("address", as_str("address", self.address).strip())
            if self.backend == "local":
                raise err("address", f"{self.address!r} is for the dask or ray backend; set backend "
                          "(--backend dask) or remove the address.")
        set_("device", as_str("device", self.device))
        if self.arms is not None and any(a in ADV_ARMS for a in self.arms):
            adv = "/".join(ADV_ARMS)
            if not self.robustness:
                raise err("arms", f"{adv} need robustness; set robustness = true or remove them.")
            if "cnn" not in self.classifiers:
                raise err("arms", f"{adv} train a CNN; add 'cnn' to classifiers or remove them.")

    # ------------------------------------------------------------------ derived facts
    def resolved_arms(self) -> tuple[str, ...]:
        """The arms that will run, in report order (``real`` always included).

        Without an ``arms`` list, every arm whose table entry runs by default (see
        :data:`~synthaug.experiment.arms.ARMS`).
        """
        if self.arms is None:
            return tuple(name for name, arm in ARMS.items() if arm.default(self))
        return tuple(name for name in ARMS if name in self.arms or name == "real")

    @property
    def robustness_spec(self) -> RobustnessSpec:
        """The attacks, radii, corruptions and severities to score (from ``robust_*``)."""
        return self._robustness_spec

    def needs_generator(self) -> bool:
        """Whether any arm needs a fitted generator (the quality report alone does not)."""
        return any(ARMS[a].needs_generator for a in self.resolved_arms())

    # ------------------------------------------------------------------ construction
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def _check_keys(cls, keys, where: str) -> None:
        known = cls.field_names()
        for key in keys:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{where}unknown key {key!r}.{hint} Known keys: {', '.join(known)}."
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, recipe: str | None = None) -> "ExperimentConfig":
        """Build a config from a (possibly nested) mapping as found in a TOML recipe."""
        return config_from_dict(cls, data, recipe=recipe)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "ExperimentConfig":
        """Load a TOML recipe, then apply ``overrides`` (``None`` values are ignored).

        A relative ``dataset`` path is looked up in the current folder first, then beside
        the recipe and in the recipe folder's parent (the repository root for recipes
        kept in ``pipelines/``).

        Raises
        ------
        ConfigError
            The file is missing or not valid TOML, or a key or value is invalid; the
            message names the file and the key.
        """
        return config_from_toml(cls, path, overrides)

    def replace(self, **changes: Any) -> "ExperimentConfig":
        """A copy with some fields changed (``None`` values are ignored), validated again."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        where = f"{self.recipe}: " if self.recipe else ""
        self._check_keys(changes, where)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, dict):
                v = {k: (dict(x) if isinstance(x, Mapping) else x) for k, x in v.items()}
            out[f.name] = v
        return out
