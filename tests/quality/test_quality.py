"""The quality gate: hold-back, verdict rule, assess on bad and good samples, snapshot choice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from synthaug.data.toy import make_toy_images
from synthaug.exceptions import ConfigError
from synthaug.quality import add_caption, assess, assess_generator, holdout_split, judge


# ----------------------------------------------------------------------------- holdout_split
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_holdout_is_stratified_with_guards(seed):
    y = np.array([0] * 20 + [1] * 7 + [2] * 3 + [3] * 2 + [4] * 1)
    fit, held = holdout_split(y, "auto", random_state=seed)
    assert np.bincount(y[held], minlength=5).tolist() == [4, 1, 1, 0, 0]  # floor(0.2 n), >= 1 from 3 rows
    assert np.bincount(y[fit], minlength=5).min() >= 1 and np.bincount(y[fit])[:4].min() >= 2
    assert sorted([*fit, *held]) == list(range(len(y))) and not set(fit) & set(held)
    np.testing.assert_array_equal(holdout_split(y, 0.2, random_state=seed)[1], held)  # deterministic


def test_holdout_fraction_zero_and_seed_and_errors():
    y = np.repeat([0, 1], 50)
    fit, held = holdout_split(y, 0, random_state=0)
    assert len(held) == 0 and len(fit) == 100
    assert len(holdout_split(y, 0.5, random_state=0)[1]) == 50
    assert not np.array_equal(holdout_split(y, random_state=0)[1], holdout_split(y, random_state=1)[1])
    with pytest.raises(ConfigError, match="validation_fraction"):
        holdout_split(y, 1.0)
    with pytest.raises(ConfigError, match="'most' is not supported"):
        holdout_split(y, "most")


# ----------------------------------------------------------------------------- judge
REF = {"precision": 0.8, "recall": 0.8, "coverage": 0.9, "accuracy": 0.9}


def test_judge_rule_on_hand_made_numbers():
    good = {"precision": 0.9, "recall": 0.5, "trts": 0.9, "n_held": 100}
    assert judge(good, REF, 10) == (True, [])
    # TRTS threshold: chance 0.1 + 0.5 * (0.9 - 0.1) = 0.5
    assert judge({**good, "trts": 0.51}, REF, 10)[0]
    ok, why = judge({**good, "trts": 0.49}, REF, 10)
    assert not ok and why[0].startswith("TRTS 0.49 < 0.50")
    ok, why = judge({**good, "recall": 0.19}, REF, 10)  # 0.25 x 0.8 = 0.2
    assert not ok and why == ["recall 0.19 < 0.20 (0.25 x real 0.80): the samples reach too little of the "
                              "real variety (mode collapse)."]
    assert not judge({**good, "precision": 0.19}, REF, 10)[0]
    assert judge({**good, "recall": 0.2, "precision": 0.2}, REF, 10)[0]


def test_judge_accepts_runner_names_and_notes_noise_and_gaps():
    runner = {"precision": 0.9, "recall": 0.5, "trts_accuracy": 0.2, "n_real": 20}
    ok, why = judge(runner, {"precision": 0.8, "recall": 0.8, "trts_accuracy": 0.9}, 10)
    assert not ok and why[0].startswith("TRTS 0.20")
    assert any("only 20 real held-back images for 10 classes" in r and "noisy" in r for r in why)
    ok, why = judge({"precision": math.nan, "recall": 0.5, "trts": 0.9}, REF, 10)
    assert ok and why == ["note: precision could not be measured (too few rows); that check was skipped."]


# ----------------------------------------------------------------------------- assess
@pytest.fixture(scope="module")
def toy_split():
    ds = make_toy_images(25, n_classes=3, image_size=8, random_state=0)
    fit, held = holdout_split(ds.labels, "auto", random_state=0)
    pool = make_toy_images(30, n_classes=3, image_size=8, random_state=7)  # other real rows
    return ds.images[fit], ds.labels[fit], ds.images[held], ds.labels[held], pool


def _real_like(pool):
    def sample(labels):
        rng = np.random.default_rng(0)
        return np.stack([pool.images[rng.choice(np.flatnonzero(pool.labels == c))] for c in labels])
    return sample


def test_gate_accepts_real_like_samples(toy_split):
    X_fit, y_fit, X_held, y_held, pool = toy_split
    report = assess(_real_like(pool), X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert report.passed, report.reasons
    assert report.metrics["trts"] > 0.9 and report.metrics["recall"] > 0.5
    assert report.metrics["n_synthetic"] == 60 and report.metrics["n_held"] == 15  # 20 per class
    assert {row["class"] for row in report.per_class} == {0, 1, 2}
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True and data["reference"]["accuracy"] == report.reference["accuracy"]
    assert report.caption().startswith("quality gate PASSED: precision")
    assert "Verdict: PASSED" in report.summary_lines(["a", "b", "c"])


@pytest.mark.parametrize("kind", ["noise", "one_class", "gan_one_step"])
def test_gate_refuses_bad_samples(toy_split, kind):
    X_fit, y_fit, X_held, y_held, pool = toy_split
    if kind == "gan_one_step":
        from synthaug.generators import ConditionalGAN

        gan = ConditionalGAN(epochs=1, batch_size=64, width=8, random_state=0, device="cpu").fit(X_fit, y_fit)
        report = assess_generator(gan, X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    else:
        real = _real_like(pool)
        sample = {"noise": lambda labels: np.random.default_rng(0).uniform(size=(len(labels), 1, 8, 8)),
                  "one_class": lambda labels: real(np.zeros_like(labels))}[kind]  # all drawn as class 0
        report = assess(sample, X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert not report.passed
    assert any(r.startswith("TRTS") for r in report.reasons)
    assert "Verdict: FAILED" in report.summary_lines()


class _SnapshotGenerator:
    """Duck-typed generator with snapshots: 0 noise, 1 one image per class, 2 varied real-like."""

    def __init__(self, pool):
        self.pool, self.current = pool, None
        self.snapshots_ = [{"epoch": 10, "step": 10}, {"epoch": 20, "step": 20}, {"epoch": 30, "step": 30}]

    def use_snapshot(self, index):
        self.current = index

    def sample(self, labels, random_state=None):
        rng = np.random.default_rng(random_state)
        if self.current == 0:
            return rng.uniform(size=(len(labels), 1, 8, 8))
        first = {c: np.flatnonzero(self.pool.labels == c) for c in np.unique(labels)}
        pick = [first[c][0] if self.current == 1 else rng.choice(first[c]) for c in labels]
        return self.pool.images[pick]


def test_snapshot_with_best_coverage_is_selected(toy_split):
    X_fit, y_fit, X_held, y_held, pool = toy_split
    gen = _SnapshotGenerator(pool)
    report = assess_generator(gen, X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert report.selected_snapshot == 2 and gen.current == 2
    assert [s["epoch"] for s in report.snapshots] == [10, 20, 30]
    assert report.snapshots[2]["coverage"] >= report.snapshots[1]["coverage"]
    assert report.passed and "Using snapshot 2 (epoch 30) of 3" in "\n".join(report.summary_lines())


def test_caption_is_drawn_under_the_image():
    import io

    from PIL import Image

    from synthaug.data.grid import grid_png_bytes

    ds = make_toy_images(2, n_classes=2, random_state=0)
    png = grid_png_bytes(ds.images, ds.labels, 2)
    out = Image.open(io.BytesIO(add_caption(png, "quality gate FAILED: " + "x " * 200)))
    base = Image.open(io.BytesIO(png))
    assert out.height > base.height + 24  # wrapped onto several lines
    strip = np.asarray(out.convert("L"))[base.height:]
    assert strip.min() < 128  # text was drawn


def test_snapshot_choice_prefers_snapshots_that_pass_the_gate():
    from synthaug.quality.gate import _best

    def score(i, coverage, passes, eligible=True):
        return {"index": i, "coverage": coverage, "recall": 0.5, "passes": passes, "eligible": eligible}

    # A failing snapshot with more coverage loses to one that passes.
    assert _best([score(0, 0.9, False), score(1, 0.4, True), score(2, 0.3, True)]) == 1
    # None passes: the best coverage above the precision floor.
    assert _best([score(0, 0.9, False, eligible=False), score(1, 0.4, False), score(2, 0.6, False)]) == 2
    # None eligible at all: the last.
    assert _best([score(0, 0.9, False, False), score(1, 0.4, False, False)]) == 1


def test_snapshot_choice_avoids_copies_and_ranks_by_trts_when_noisy():
    from synthaug.quality.gate import _best

    def score(i, coverage, trts, copy_ratio):
        return {"index": i, "coverage": coverage, "recall": 1.0, "trts": trts, "copy_ratio": copy_ratio,
                "passes": True, "eligible": True}

    # The measured case (100 digits, 2 held back per class): coverage saturates at 1.00.
    snaps = [score(0, 1.0, 0.70, 1.05), score(1, 1.0, 0.85, 0.84), score(2, 1.0, 0.92, 0.72),
             score(3, 1.0, 0.93, 0.61)]
    assert _best(snaps) == 2  # ties on coverage go to the later snapshot, but 3 copies (< 0.7)
    assert _best(snaps, noisy=True) == 2  # the best TRTS among those that do not copy
    assert _best([score(0, 1.0, 0.9, 0.9), score(1, 0.8, 0.5, 0.9)], noisy=True) == 0
    assert _best([score(0, 0.7, 0.9, 0.9), score(1, 0.8, 0.5, 0.9)], noisy=False) == 1
    # Every snapshot copies: the copy preference falls back to those that pass.
    assert _best([score(0, 0.5, 0.9, 0.6), score(1, 0.9, 0.9, 0.5)]) == 1


def test_caption_says_when_the_numbers_are_noisy(toy_split):
    X_fit, y_fit, X_held, y_held, pool = toy_split
    real = _real_like(pool)
    few = assess(real, X_fit, y_fit, X_held[:3], y_held[:3], random_state=0, device="cpu")
    assert "(noisy: 3 held-back images)" in few.caption()


# ----------------------------------------------------------------------------- copying
def test_judge_copy_ratio_rule():
    good = {"precision": 0.9, "recall": 0.5, "trts": 0.9, "n_held": 100}
    assert judge({**good, "copy_ratio": 0.9}, REF, 10) == (True, [])
    ok, why = judge({**good, "copy_ratio": 0.6}, REF, 10)
    assert ok and why == ["note: copy ratio 0.60 < 0.7: the samples sit close to the training images; check "
                          "the sample grid for near-copies."]
    ok, why = judge({**good, "copy_ratio": 0.3}, REF, 10)
    assert not ok and why[0].startswith("copy ratio 0.30 < 0.5") and "reproduces its training set" in why[0]


def test_gate_refuses_copies_of_the_training_images(toy_split):
    X_fit, y_fit, X_held, y_held, pool = toy_split

    def copies(labels):  # each sample is a fitted image of its class: faithful, but copied
        rng = np.random.default_rng(0)
        return np.stack([X_fit[rng.choice(np.flatnonzero(y_fit == c))] for c in labels])

    report = assess(copies, X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert not report.passed and report.metrics["copy_ratio"] == 0.0
    assert report.metrics["copied_fraction"] == 1.0
    assert any(r.startswith("copy ratio 0.00 < 0.5") for r in report.reasons)
    assert "copy ratio 0.00" in report.caption()
    # Real-like images that are not the fitted ones are not copies.
    fresh = assess(_real_like(pool), X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert fresh.metrics["copy_ratio"] > 0.7 and fresh.passed


# ----------------------------------------------------------------------------- spread (collapse)
def test_judge_spread_rule():
    good = {"precision": 0.9, "recall": 0.5, "trts": 0.9, "n_held": 100}
    assert judge({**good, "spread": 0.61}, REF, 10) == (True, [])
    ok, why = judge({**good, "spread": 0.59}, REF, 10)
    assert not ok and why[0].startswith("spread 0.59 < 0.6") and "mode collapse" in why[0]
    ok, why = judge({**good, "spread": 0.8, "spread_per_class": {0: 0.9, 3: 0.45, 7: float("nan")}}, REF, 10)
    assert ok and why == ["note: the samples of class(es) 3 are nearly all alike (spread < 0.5)."]


def test_gate_refuses_one_prototype_per_class(toy_split):
    X_fit, y_fit, X_held, y_held, pool = toy_split

    def prototype(labels):  # one unseen real image per class, repeated with a little noise: not copies
        rng = np.random.default_rng(0)
        first = {c: pool.images[np.flatnonzero(pool.labels == c)[0]] for c in np.unique(labels)}
        return np.clip(np.stack([first[c] for c in labels]) + 0.02 * rng.standard_normal((len(labels), 1, 8, 8)),
                       0, 1)

    report = assess(prototype, X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert not report.passed and report.metrics["spread"] < 0.3
    assert any(r.startswith("spread ") for r in report.reasons), report.reasons
    assert report.metrics["trts"] > 0.9  # each prototype is recognisably its class: only spread sees it
    assert all(row["spread"] < 0.5 for row in report.per_class)
    assert "spread" in report.caption() and any("Spread within a class" in line for line in report.summary_lines())
    varied = assess(_real_like(pool), X_fit, y_fit, X_held, y_held, random_state=0, device="cpu")
    assert 0.7 < varied.metrics["spread"] < 1.4 and varied.passed
