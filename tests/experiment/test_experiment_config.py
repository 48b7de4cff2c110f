"""ExperimentConfig: TOML loading, overrides, validation errors that name key and file."""

from __future__ import annotations

import pytest

from synthaug.exceptions import ConfigError
from synthaug.experiment import ExperimentConfig

RECIPE = """
dataset = "builtin:digits"
seeds = [0, 1, 2]
train_sizes = [10, "all"]
ratios = [1, 2]
classifiers = ["logreg"]

[gan]
epochs = 7
model = "vanilla"

[cnn]
epochs = 3

[robustness]
enabled = true
eps_grid = ["2/255", "8/255"]
pgd_steps = 3
"""


def write(tmp_path, text, name="recipe.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_from_toml_reads_flat_keys_and_tables(tmp_path):
    cfg = ExperimentConfig.from_toml(write(tmp_path, RECIPE))
    assert cfg.dataset == "builtin:digits"
    assert cfg.seeds == (0, 1, 2)
    assert cfg.train_sizes == (10, "all")
    assert cfg.ratios == (1.0, 2.0)
    assert cfg.gan_epochs == 7 and cfg.gan_model == "vanilla"
    assert cfg.cnn_epochs == 3
    assert cfg.robustness is True and cfg.robust_pgd_steps == 3
    assert cfg.robust_eps_grid == pytest.approx((2 / 255, 8 / 255))
    assert cfg.recipe.endswith("recipe.toml")


def test_overrides_win_and_none_is_ignored(tmp_path):
    cfg = ExperimentConfig.from_toml(write(tmp_path, RECIPE), seeds=[5], gan_epochs=None, quality=False)
    assert cfg.seeds == (5,)
    assert cfg.gan_epochs == 7  # None means "not given on the command line"
    assert cfg.quality is False


def test_unknown_key_names_key_file_and_suggestion(tmp_path):
    path = write(tmp_path, 'ratio = [1]\n', name="bad.toml")
    with pytest.raises(ConfigError, match=r"bad\.toml.*unknown key 'ratio'.*Did you mean 'ratios'"):
        ExperimentConfig.from_toml(path)


def test_unknown_key_in_table(tmp_path):
    path = write(tmp_path, '[gan]\nepoch = 3\n', name="bad.toml")
    with pytest.raises(ConfigError, match=r"bad\.toml.*gan\.epoch.*gan_epochs"):
        ExperimentConfig.from_toml(path)


@pytest.mark.parametrize(
    "line, key",
    [
        ("ratios = [0.0]", "ratios"),
        ('train_sizes = ["ten"]', "train_sizes"),
        ('seeds = [1, 1]', "seeds"),
        ('balance = "yes"', "balance"),
        ('classifiers = ["svm"]', "classifiers"),
        ('arms = ["gan", "magic"]', "arms"),
        ('test_fraction = 1.5', "test_fraction"),
        ('cnn_epochs = 0', "cnn_epochs"),
        ('robust_eps_grid = ["8/0"]', "robust_eps_grid"),
        ('robust_l2_eps_grid = [-0.5]', "robust_l2_eps_grid"),
        ('robust_attacks = ["cw"]', "robust_attacks"),
        ('robust_corruptions = ["fog"]', "robust_corruptions"),
        ('n_jobs = 0', "n_jobs"),
    ],
)
def test_bad_values_name_key_and_file(tmp_path, line, key):
    path = write(tmp_path, line + "\n", name="bad.toml")
    with pytest.raises(ConfigError, match=rf"bad\.toml: {key}"):
        ExperimentConfig.from_toml(path)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        ExperimentConfig.from_toml(write(tmp_path, "seeds = [0, 1\n", name="broken.toml"))
    with pytest.raises(ConfigError, match="file not found"):
        ExperimentConfig.from_toml(tmp_path / "missing.toml")


def test_replace_validates_and_rejects_unknown_keys():
    cfg = ExperimentConfig()
    assert cfg.replace(seeds=[3, 4]).seeds == (3, 4)
    assert cfg.seeds == (0, 1, 2, 3, 4)  # frozen: the original is untouched
    with pytest.raises(ConfigError, match="unknown key 'sede'"):
        cfg.replace(sede=[1])
    with pytest.raises(ConfigError, match="ratios"):
        cfg.replace(ratios=[-1])
    with pytest.raises(Exception):
        cfg.seeds = (1,)  # type: ignore[misc]


def test_to_dict_round_trips():
    cfg = ExperimentConfig(dataset="builtin:digits", train_sizes=(5, "all"), gan_params={"ema_decay": 0.9},
                           classifier_params={"logreg": {"C": 0.5}})
    d = cfg.to_dict()
    assert d["train_sizes"] == [5, "all"] and d["gan_params"] == {"ema_decay": 0.9}
    assert ExperimentConfig.from_dict(d) == cfg


def test_adversarial_arms_need_robustness():
    with pytest.raises(ConfigError, match="arms: adv_real/adv_gan need robustness"):
        ExperimentConfig(arms=("adv_real",))


def test_relative_dataset_path_found_from_recipe_parent(tmp_path, monkeypatch):
    (tmp_path / "data.npz").write_bytes(b"")
    (tmp_path / "pipelines").mkdir()
    recipe = write(tmp_path / "pipelines", 'dataset = "data.npz"\n')
    monkeypatch.chdir(tmp_path / "pipelines")  # not the repository root
    cfg = ExperimentConfig.from_toml(recipe)
    assert cfg.dataset == str(tmp_path / "data.npz")
    # builtin names are left alone; an explicit DATA override is used as given
    assert ExperimentConfig.from_toml(recipe, dataset="builtin:digits").dataset == "builtin:digits"


def test_l2_pgd_in_a_recipe(tmp_path):
    text = '[robustness]\nenabled = true\nattacks = ["pgd", "pgd_l2"]\nl2_eps_grid = [1, "1/2"]\n'
    cfg = ExperimentConfig.from_toml(write(tmp_path, text))
    assert cfg.robust_attacks == ("pgd", "pgd_l2")
    assert cfg.robust_l2_eps_grid == (0.5, 1.0)


@pytest.mark.parametrize("table, key, value, field", [
    ("gan", "model", "dcgann", "gan_model"),
    ("gan", "strategy", "per_class", "gan_strategy"),
    ("gan", "loss", "wgan", "gan_loss"),
])
def test_generator_name_typo_fails_when_the_recipe_is_read(tmp_path, table, key, value, field):
    """Not inside a worker an hour into the study: the registries are checked at load time."""
    path = write(tmp_path, f'[{table}]\n{key} = "{value}"\n', name="typo.toml")
    with pytest.raises(ConfigError, match=rf"typo\.toml: {field}: unknown value '{value}'; choose from"):
        ExperimentConfig.from_toml(path)


def test_generator_names_come_from_the_generator_registries():
    from synthaug.generators import LOSSES, MODELS, STRATEGIES

    for model in MODELS:
        for strategy in STRATEGIES:
            for loss in LOSSES:
                assert ExperimentConfig(gan_model=model, gan_strategy=strategy, gan_loss=loss).gan_loss == loss


def test_classifier_attack_and_corruption_names_come_from_the_registries():
    from synthaug.attacks import ATTACK_NAMES, CORRUPTIONS
    from synthaug.classifiers import CLASSIFIER_NAMES

    cfg = ExperimentConfig(classifiers=CLASSIFIER_NAMES, robust_attacks=ATTACK_NAMES,
                           robust_corruptions=CORRUPTIONS)
    assert cfg.classifiers == tuple(CLASSIFIER_NAMES) and cfg.robust_attacks == tuple(ATTACK_NAMES)
    with pytest.raises(ConfigError, match="robust_severities"):
        ExperimentConfig(robust_severities=(9,))


def test_robustness_spec_is_built_once_from_the_robust_fields(tmp_path):
    from synthaug.attacks import RobustnessSpec

    cfg = ExperimentConfig.from_toml(write(tmp_path, RECIPE))
    spec = cfg.robustness_spec
    assert isinstance(spec, RobustnessSpec)
    assert spec.eps_grid == cfg.robust_eps_grid == (2 / 255, 8 / 255) and spec.pgd_steps == 3
    assert spec.attacks == cfg.robust_attacks and spec.corruptions == cfg.robust_corruptions
    assert cfg.replace(robust_pgd_steps=5).robustness_spec.pgd_steps == 5
    assert "robustness_spec" not in cfg.to_dict()


def test_synthetic_weight_from_a_recipe_and_overrides(tmp_path):
    assert ExperimentConfig().synthetic_weight == 1.0  # default: train without weights
    cfg = ExperimentConfig.from_toml(write(tmp_path, "synthetic_weight = '1/2'\n" + RECIPE))
    assert cfg.synthetic_weight == 0.5 and cfg.to_dict()["synthetic_weight"] == 0.5
    assert ExperimentConfig.from_toml(write(tmp_path, RECIPE), synthetic_weight=2).synthetic_weight == 2.0


@pytest.mark.parametrize("value, message", [
    ("0", "must be a finite number > 0, got 0.0"),
    ("-1.5", "must be a finite number > 0, got -1.5"),
    ("inf", "must be a finite number > 0, got inf"),
    ("true", "expected a number, got True"),
    ("[0.5, 1]", "expected a number or a fraction like '8/255', got \\[0.5, 1\\]"),
])
def test_bad_synthetic_weight_names_key_and_file(tmp_path, value, message):
    path = write(tmp_path, f"synthetic_weight = {value}\n" + RECIPE)
    with pytest.raises(ConfigError, match=f"recipe.toml: synthetic_weight: {message}"):
        ExperimentConfig.from_toml(path)


def test_gan_params_are_checked_against_the_chosen_generator():
    cfg = ExperimentConfig(dataset="builtin:digits", gan_model="ddpm", gan_params={"sample_steps": 10})
    assert cfg.gan_model == "ddpm" and cfg.gan_params == {"sample_steps": 10}
    with pytest.raises(ConfigError, match=r"ConditionalDiffusion \(gan_model = 'ddpm'\) has no parameter\(s\) 'lecam'"):
        ExperimentConfig(dataset="builtin:digits", gan_model="ddpm", gan_params={"lecam": 0.1})
    with pytest.raises(ConfigError, match=r"ConditionalGAN \(gan_model = 'dcgan'\) has no parameter\(s\) 'sample_steps'"):
        ExperimentConfig(dataset="builtin:digits", gan_model="dcgan", gan_params={"sample_steps": 10})


def test_copy_guard_is_read_from_the_recipe_and_checked(tmp_path):
    assert ExperimentConfig().gan_copy_guard == 0.0
    assert ExperimentConfig.from_toml(write(tmp_path, "[gan]\ncopy_guard = 0.7\n", name="g.toml")).gan_copy_guard == 0.7
    with pytest.raises(ConfigError, match=r"gan_copy_guard: must be >= 0 \(0 turns the guard off\), got -1"):
        ExperimentConfig.from_toml(write(tmp_path, "[gan]\ncopy_guard = -1\n", name="bad.toml"))


def test_every_shipped_recipe_loads():
    from pathlib import Path

    recipes = sorted((Path(__file__).resolve().parents[2] / "pipelines").glob("*.toml"))
    assert len(recipes) >= 5
    for recipe in recipes:  # every key known, every value valid; no data is read
        cfg = ExperimentConfig.from_toml(recipe)
        assert cfg.seeds and cfg.resolved_arms(), recipe.name
