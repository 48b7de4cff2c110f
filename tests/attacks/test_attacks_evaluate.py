"""evaluate_robustness: the tidy table, white-box, transfer and corruption rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug.attacks import FGSM, PGD, evaluate_robustness, per_class_robust_accuracy, robust_accuracy
from synthaug.exceptions import ConfigError

GRID = (0.0, 0.1, 0.3)


class _PredictOnly:
    """A gradient-free model: wraps a network behind predict()."""

    def __init__(self, net):
        self.net = net

    def predict(self, X):
        with torch.no_grad():
            return self.net(torch.tensor(X)).argmax(1).numpy()


def test_white_box_table(trained_model, attack_data):
    images, labels = attack_data
    df = evaluate_robustness(trained_model, images, labels, eps_grid=GRID, severities=(1, 5), random_state=0)
    assert list(df.columns) == ["perturbation", "kind", "eps", "severity", "accuracy", "n"]
    assert len(df) == 1 + 2 * len(GRID) + 4 * 2
    assert set(df["kind"]) == {"clean", "adversarial", "corruption"}
    assert (df["n"] == len(labels)).all()
    clean = df.loc[df.kind == "clean", "accuracy"].item()
    for name in ("fgsm", "pgd"):
        rows = df[df.perturbation == name].sort_values("eps")
        assert rows["accuracy"].iloc[0] == clean  # eps = 0
        assert rows["accuracy"].iloc[-1] < clean
        assert rows["severity"].isna().all()
    fgsm_03 = robust_accuracy(trained_model, images, labels, FGSM(eps=0.3))
    assert df.query("perturbation == 'fgsm' and eps == 0.3")["accuracy"].item() == fgsm_03
    corr = df[df.kind == "corruption"]
    assert corr["eps"].isna().all() and set(corr["severity"]) == {1.0, 5.0}


def test_deterministic(trained_model, attack_data):
    images, labels = attack_data
    kw = dict(eps_grid=(0.2,), severities=(3,), random_state=4)
    pd.testing.assert_frame_equal(evaluate_robustness(trained_model, images, labels, **kw),
                                  evaluate_robustness(trained_model, images, labels, **kw))


def test_transfer_with_surrogate_and_corruptions_only_without(trained_model, attack_data):
    images, labels = attack_data
    black_box = _PredictOnly(trained_model)
    df = evaluate_robustness(black_box, images, labels, eps_grid=GRID, corruptions=("blur",),
                             surrogate=trained_model, random_state=0)
    assert set(df["kind"]) == {"clean", "transfer", "corruption"}
    # Same network as surrogate and target: transfer equals the white-box result.
    white = evaluate_robustness(trained_model, images, labels, eps_grid=GRID, corruptions=("blur",),
                                random_state=0)
    np.testing.assert_allclose(df["accuracy"], white["accuracy"])
    alone = evaluate_robustness(black_box, images, labels, eps_grid=GRID, severities=(1,))
    assert set(alone["kind"]) == {"clean", "corruption"}


def test_per_class_rows(trained_model, attack_data):
    images, labels = attack_data
    df = per_class_robust_accuracy(trained_model, images, labels, eps_grid=(0.0, 0.3), corruptions=(),
                                   class_names=["a", "b", "c"])
    assert "class" in df.columns and set(df["class"]) == {"a", "b", "c"}
    assert len(df) == 3 * (1 + 2 * 2)
    assert df.groupby(["perturbation", "eps"], dropna=False)["n"].sum().eq(len(labels)).all()


def test_robust_accuracy_pgd_in_unit_interval(trained_model, attack_data):
    images, labels = attack_data
    acc = robust_accuracy(trained_model, images, labels, PGD(eps=0.25, random_state=0), batch_size=7)
    assert 0.0 <= acc < 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"attacks": ("cw",)}, "unknown attack 'cw'"),
        ({"corruptions": ("fog",)}, "unknown corruption 'fog'"),
        ({"eps_grid": (2.0,)}, r"eps_grid: 2.0 is outside \[0, 1\]"),
        ({"attacks": ("pgd_l2",), "l2_eps_grid": (-1.0,)}, r"l2_eps_grid: -1.0 is negative"),
        ({"severities": (9,)}, "severities: expected integers from 0 to 5"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ],
)
def test_bad_options(kwargs, match, trained_model, attack_data):
    images, labels = attack_data
    with pytest.raises(ConfigError, match=match):
        evaluate_robustness(trained_model, images, labels, **kwargs)


def test_model_without_predict_or_gradients_is_refused(attack_data):
    images, labels = attack_data
    with pytest.raises(ConfigError, match="predict"):
        evaluate_robustness(object(), images, labels)


def test_loaded_model_with_gradients_is_attacked_white_box(trained_model, attack_data):
    from synthaug.classifiers import LoadedModel

    images, labels = attack_data
    loaded = LoadedModel("python", "test", module=trained_model)
    df = evaluate_robustness(loaded, images, labels, eps_grid=(0.3,), corruptions=(), random_state=0)
    assert set(df["kind"]) == {"clean", "adversarial"}


def test_pgd_l2_runs_over_its_own_grid_and_matches_the_attack(trained_model, attack_data):
    images, labels = attack_data
    l2_grid = (0.0, 0.5, 2.0)
    df = evaluate_robustness(trained_model, images, labels, attacks=("pgd", "pgd_l2"), eps_grid=(0.1,),
                             l2_eps_grid=l2_grid, corruptions=(), random_state=0)
    l2 = df[df.perturbation == "pgd_l2"].sort_values("eps")
    assert list(l2["eps"]) == list(l2_grid)  # the L2 grid, not eps_grid
    assert list(df.loc[df.perturbation == "pgd", "eps"]) == [0.1]
    clean = df.loc[df.kind == "clean", "accuracy"].item()
    assert l2["accuracy"].iloc[0] == clean
    assert l2["accuracy"].is_monotonic_decreasing and l2["accuracy"].iloc[-1] < clean
    # The same number as the L2 PGD attack run by hand (one batch, the same seed chain).
    from synthaug.attacks import make_attack

    attack = make_attack("pgd_l2", 2.0, pgd_steps=10)
    assert attack.norm == "l2" and attack.eps == 2.0
    x_adv = attack(trained_model, images, labels)
    assert float(np.sqrt(((x_adv - images) ** 2).reshape(len(images), -1).sum(1)).max()) <= 2.0 + 1e-4
