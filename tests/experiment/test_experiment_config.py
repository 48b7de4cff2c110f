"""ExperimentConfig: TOML loading, overrides, validation errors that name key and file."""

from __future__ import annotations

import pytest

from synthaug.exceptions import ConfigError
from synthaug.experiment import ALL_ARMS, ExperimentConfig

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


def test_resolved_arms():
    assert ExperimentConfig().resolved_arms() == (
        "real", "classic", "smote", "gan", "gan_balance", "gan_classic", "tstr")
    assert "gan_balance" not in ExperimentConfig(balance=False).resolved_arms()
    assert ExperimentConfig(robustness=True).resolved_arms() == ALL_ARMS
    assert "adv_real" not in ExperimentConfig(robustness=True, classifiers=("logreg",)).resolved_arms()
    # real is always run: it is the baseline of every paired comparison.
    assert ExperimentConfig(arms=("gan",)).resolved_arms() == ("real", "gan")
    assert not ExperimentConfig(arms=("classic",), quality=False).needs_generator()
    assert ExperimentConfig(arms=("tstr",), quality=False).needs_generator()


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
