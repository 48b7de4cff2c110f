"""End-to-end CLI tests for train, generate, augment and datasets (click's CliRunner)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from synthaug.cli import cli
from synthaug.data import write_npz
from synthaug.data.toy import make_toy_images

FAST = ["--epochs", "2", "--batch-size", "16", "--no-progress", "--seed", "0"]
# Two epochs cannot pass the quality gate: tests of the other mechanics accept the samples
# anyway (the gate still runs and writes quality.json); the gate's own tests are below.
ACCEPT = [*FAST, "--accept-low-quality"]


@pytest.fixture
def toy_npz(tmp_path: Path) -> Path:
    ds = make_toy_images([12, 6, 9], n_classes=3, image_size=8, random_state=0)
    path = tmp_path / "toy.npz"
    write_npz(ds, path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_augment_writes_every_output(toy_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke("augment", toy_npz, "--out", out, "--ratio", "2", *ACCEPT)
    assert result.exit_code == 0, result.output
    for name in ("augmented.npz", "samples.png", "history.csv", "config.json",
                 "synthetic/manifest.csv"):
        assert (out / name).is_file(), name
    with np.load(out / "augmented.npz", allow_pickle=False) as z:
        images, labels, syn = z["images"], z["labels"], z["is_synthetic"]
        assert images.dtype == np.uint8 and images.shape[1:] == (8, 8)
        assert list(z["class_names"]) == ["class0", "class1", "class2"]
    # real rows first, then 2x each class's real count of synthetic rows
    assert syn.tolist() == [False] * 27 + [True] * 54
    assert np.bincount(labels[syn], minlength=3).tolist() == [24, 12, 18]
    manifest = pd.read_csv(out / "synthetic" / "manifest.csv")
    assert list(manifest.columns) == ["path", "label", "class_name"]
    assert len(manifest) == 54 and all((out / "synthetic" / p).is_file() for p in manifest.path)
    assert set(manifest.class_name) == {"class0", "class1", "class2"}
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "augment" and config["options"]["seed"] == 0
    assert config["options"]["quality"]["passed"] is False and config["options"]["dataset_written"]
    quality = json.loads((out / "quality.json").read_text())
    assert quality["passed"] is False and quality["held_back_from"] == "held-back training images"
    assert quality["n_fit"] + quality["n_held"] == 27
    assert "torch" in config["versions"]
    assert "class0" in result.output and "Results in" in result.output
    assert not list(tmp_path.glob(".run.*")), "temporary or checkpoint folders left behind"


def test_augment_balance_and_n_per_class(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("augment", toy_npz, "--out", tmp_path / "b", "--balance", *ACCEPT)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "b" / "augmented.npz") as z:
        assert np.bincount(z["labels"]).tolist() == [12, 12, 12]
    result = invoke("augment", toy_npz, "--out", tmp_path / "n", "--n-per-class", "5", *ACCEPT)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "n" / "augmented.npz") as z:
        assert np.bincount(z["labels"][z["is_synthetic"]]).tolist() == [5, 5, 5]


def test_augment_is_reproducible_from_seed(toy_npz: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert invoke("augment", toy_npz, "--out", tmp_path / name, *ACCEPT).exit_code == 0
    with np.load(tmp_path / "a" / "augmented.npz") as a, np.load(tmp_path / "b" / "augmented.npz") as b:
        np.testing.assert_array_equal(a["images"], b["images"])


def test_augment_writes_the_rows_gan_oversampler_returns(toy_npz: Path, tmp_path: Path) -> None:
    """`augment DATA --seed S` == GANOverSampler(generator=ConditionalGAN(random_state=S), random_state=S)."""
    from synthaug.data import images_to_uint8, load_dataset
    from synthaug.generators import ConditionalGAN
    from synthaug.over_sampling import GANOverSampler, draw_selected

    # Both sides hold back the same rows (validation_fraction="auto", seeded by --seed /
    # random_state) and gate; two epochs fail the gate, so the CLI is told to write the rows
    # anyway and the sampler to return them anyway: the rows themselves must be equal.
    result = invoke("augment", toy_npz, "--out", tmp_path / "a", "--balance", "--model", "vanilla",
                    "--epochs", "2", "--batch-size", "16", "--no-progress", "--seed", "5", "--device", "cpu",
                    "--accept-low-quality")
    assert result.exit_code == 0, result.output
    assert "Before you train on them: the gate judges whether they look like your images" in result.output
    train = load_dataset(str(toy_npz))
    gan = ConditionalGAN(model="vanilla", epochs=2, batch_size=16, random_state=5, device="cpu")
    sampler = GANOverSampler(generator=gan, random_state=5, on_low_quality="ignore")
    X_res, y_res = sampler.fit_resample(train.images, train.labels)
    n = len(train)
    assert len(y_res) > n
    with np.load(tmp_path / "a" / "augmented.npz") as z:
        syn = z["is_synthetic"]
        assert not syn[:n].any() and syn[n:].all()
        np.testing.assert_array_equal(z["labels"][syn], y_res[n:])  # same classes, same order
        np.testing.assert_array_equal(z["images"][syn], images_to_uint8(X_res[n:]))
    assert json.loads((tmp_path / "a" / "quality.json").read_text())["metrics"] == \
        json.loads(json.dumps(sampler.quality_.to_dict()["metrics"]))
    # The saved model is the one that drew them: the same pool and selection give the same rows.
    saved = ConditionalGAN.load(tmp_path / "a" / "model", device="cpu")
    # (selection covers every training row, the held-back ones too)
    X_again, _ = draw_selected(saved, sampler.sampling_strategy_, 5, select=sampler.select,
                               real_X=train.images, real_y=train.labels)
    np.testing.assert_array_equal(X_again, X_res[n:])
    assert saved.class_names_ == ["class0", "class1", "class2"]


def test_augment_keeps_val_and_test_splits_real(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    split = {}
    for name, n in (("train", 20), ("val", 6), ("test", 8)):
        split[f"{name}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        split[f"{name}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    src = tmp_path / "med.npz"
    np.savez(src, **split)
    result = invoke("augment", src, "--out", tmp_path / "o", *ACCEPT)
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "o" / "augmented.npz") as z:
        assert z["images"].shape[0] == 40  # 20 real train + 20 synthetic
        np.testing.assert_array_equal(z["test_images"], split["test_images"])
        np.testing.assert_array_equal(z["val_labels"], split["val_labels"][:, 0])


def test_train_then_generate(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("train", toy_npz, "--out", tmp_path / "gan", "--model", "vanilla",
                    "--strategy", "per-class", "--loss", "bce", *FAST)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gan" / "model").is_dir() and (tmp_path / "gan" / "samples.png").is_file()
    result = invoke("generate", tmp_path / "gan", "--n-per-class", "4", "--out", tmp_path / "gen")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "gen" / "synthetic.npz") as z:
        assert np.bincount(z["labels"]).tolist() == [4, 4, 4]
        assert z["is_synthetic"].all()
        assert list(z["class_names"]) == ["class0", "class1", "class2"]
    assert len(pd.read_csv(tmp_path / "gen" / "synthetic" / "manifest.csv")) == 12


def test_datasets_lists_builtin_digits() -> None:
    result = invoke("datasets")
    assert result.exit_code == 0
    assert "builtin:digits" in result.output


def _fails(args, match: str) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert match in result.output, result.output
    return result.output


def test_clear_errors(tmp_path: Path, toy_npz: Path) -> None:
    _fails(["augment", tmp_path / "missing.npz", "--out", tmp_path / "o"], "missing.npz")
    (tmp_path / "empty").mkdir()
    _fails(["augment", tmp_path / "empty", "--out", tmp_path / "o"], "empty")
    _fails(["augment", toy_npz, "--out", tmp_path / "o", "--model", "stylegan"], "stylegan")
    _fails(["augment", toy_npz, "--out", tmp_path / "o", "--ratio", "-1"], "--ratio")
    _fails(["augment", toy_npz, "--out", tmp_path / "o", "--ratio", "1", "--balance"], "--balance")
    # Option conflicts are reported before the data are read (here they do not even exist).
    _fails(["augment", tmp_path / "missing.npz", "--out", tmp_path / "o", "--ratio", "1", "--balance"],
           "choose exactly one of --ratio, --balance or --n-per-class")
    for flag, value, message in (("--epochs", "0", "--epochs must be > 0"),
                                 ("--batch-size", "-1", "--batch-size must be > 0"),
                                 ("--ema-decay", "1", "--ema-decay must be in [0, 1)")):
        for command in ("train", "augment"):
            _fails([command, tmp_path / "missing.npz", "--out", tmp_path / "o", flag, value], message)
    _fails(["augment", tmp_path / "missing.npz", "--out", tmp_path / "o", "--copy-guard", "-0.5"],
           "--copy-guard must be >= 0 (0 turns the guard off), got -0.5")
    one_class = tmp_path / "one.npz"
    np.savez(one_class, images=np.zeros((5, 8, 8), np.uint8), labels=np.zeros(5, np.int64))
    _fails(["augment", one_class, "--out", tmp_path / "o"], "2 classes")
    _fails(["generate", tmp_path, "--n-per-class", "3", "--out", tmp_path / "g"], "no trained model")
    assert not (tmp_path / "o").exists()


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _fails(["augment", tmp_path / "imgs", "--out", tmp_path / "o"], "broken.png")
    result = invoke("augment", tmp_path / "imgs", "--out", tmp_path / "o", "--skip-bad-images", *ACCEPT)
    assert result.exit_code == 0, result.output
    assert "broken.png" in result.output


def test_never_overwrites_without_flag(toy_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    _fails(["augment", toy_npz, "--out", out, *FAST], "--overwrite")
    assert (out / "precious.txt").read_text() == "mine"
    target = tmp_path / "a_file"
    target.write_text("x")
    _fails(["augment", toy_npz, "--out", target, *FAST], "is a file")
    assert target.read_text() == "x"
    result = invoke("augment", toy_npz, "--out", out, "--overwrite", *ACCEPT)
    assert result.exit_code == 0, result.output
    assert not (out / "precious.txt").exists() and (out / "augmented.npz").is_file()




@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_result(toy_npz: Path, tmp_path: Path, cli_process, sig) -> None:
    """A real CLI process stopped by Ctrl-C or SIGTERM mid-training resumes to an identical result."""
    args = ["augment", toy_npz, "--epochs", "120", "--batch-size", "16", "--no-progress",
            "--seed", "3", "--checkpoint-every", "1", "--model", "vanilla", "--accept-low-quality"]
    code, _, err = cli_process([*args, "--out", tmp_path / "ref"]).finish()
    assert code == 0, err

    out = tmp_path / "run"
    ckpt = tmp_path / ".run.checkpoint"
    run = cli_process([*args, "--out", out])
    run.wait_for(lambda: ckpt.is_dir() and any(p.name != "run.json" for p in ckpt.iterdir()))
    code, _, err = run.send(sig).finish()
    assert code == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not out.exists(), "an incomplete output folder was left behind"

    code, _, err = cli_process([*args, "--out", out, "--resume"]).finish()
    assert code == 0, err
    with np.load(tmp_path / "ref" / "augmented.npz") as a, np.load(out / "augmented.npz") as b:
        np.testing.assert_array_equal(a["images"], b["images"])
    assert pd.read_csv(tmp_path / "ref" / "history.csv").shape == pd.read_csv(out / "history.csv").shape
    assert not ckpt.exists()


def test_resume_with_other_options_is_refused(toy_npz: Path, tmp_path: Path, monkeypatch) -> None:
    ckpt = tmp_path / ".o.checkpoint"
    ckpt.mkdir()
    (ckpt / "run.json").write_text(json.dumps({"data": str(toy_npz), "model": "dcgan", "epochs": 3}))
    message = _fails(["augment", toy_npz, "--out", tmp_path / "o", "--resume", *FAST], "--resume")
    assert "--epochs" in message and "--batch-size" in message and "Use the same data and options" in message


def test_resume_without_checkpoint_is_refused(toy_npz: Path, tmp_path: Path) -> None:
    _fails(["augment", toy_npz, "--out", tmp_path / "o", "--resume", *FAST],
           "--resume: no interrupted run found")


def test_divergence_saves_the_last_healthy_model_and_says_where(toy_npz: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    from synthaug.generators import training

    real_run_epoch = training.run_epoch
    calls = {"n": 0}

    def nan_after_first_epoch(*args, **kwargs):
        stats, n_images = real_run_epoch(*args, **kwargs)
        calls["n"] += 1
        return ((float("nan"), *stats[1:]) if calls["n"] > 1 else stats), n_images

    monkeypatch.setattr(training, "run_epoch", nan_after_first_epoch)
    out = tmp_path / "out"
    message = _fails(["augment", toy_npz, "--out", out, "--epochs", "4", "--batch-size", "16",
                      "--no-progress", "--model", "vanilla"], "GAN training diverged at epoch 2")
    kept = tmp_path / ".out.checkpoint" / "last_healthy_model"
    assert str(kept) in message.replace("\n", "") and "--steps" in message
    assert not out.exists()
    monkeypatch.setattr(training, "run_epoch", real_run_epoch)
    result = invoke("generate", kept, "--n-per-class", "2", "--out", tmp_path / "gen")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "gen" / "synthetic.npz") as z:
        assert len(z["labels"]) == 6


# ----------------------------------------------------------------------------- quality gate
ONE_STEP = ["--epochs", "1", "--batch-size", "64", "--no-progress", "--seed", "0"]  # 27 rows: one step


def test_augment_refuses_samples_that_fail_the_gate(toy_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    message = _fails(["augment", toy_npz, "--out", out, *ONE_STEP],
                     "Error: the synthetic samples failed the quality gate: TRTS")
    assert "Nothing was added to your data. Train longer (--" in message
    assert "pass --accept-low-quality to write them anyway" in message
    assert "synthaug evaluate with --arms real,classic,noise,gan" in message  # how to check usefulness
    assert "Verdict: FAILED" in message and "real reference" in message  # the summary was printed
    assert not (out / "augmented.npz").exists() and not (out / "synthetic").exists()
    for name in ("model", "samples.png", "history.csv", "quality.json", "config.json"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())["options"]
    assert config["quality"]["passed"] is False and config["dataset_written"] is False
    quality = json.loads((out / "quality.json").read_text())
    assert quality["passed"] is False and quality["reasons"] and quality["class_names"] == ["class0", "class1", "class2"]
    from PIL import Image

    with Image.open(out / "samples.png") as captioned:  # the verdict is a text strip under the grid
        plain = invoke("generate", out, "--n-per-class", "3", "--out", tmp_path / "g")
        assert plain.exit_code == 0
        with Image.open(tmp_path / "g" / "samples.png") as grid:
            assert captioned.height > grid.height

    result = invoke("augment", toy_npz, "--out", tmp_path / "a", *ONE_STEP, "--accept-low-quality")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "augmented.npz").is_file() and (tmp_path / "a" / "synthetic").is_dir()
    assert "written anyway (--accept-low-quality)" in result.output


def test_train_warns_on_a_failed_gate_but_succeeds(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("train", toy_npz, "--out", tmp_path / "t", *ONE_STEP)
    assert result.exit_code == 0, result.output
    assert "Verdict: FAILED" in result.output and "Warning: the synthetic samples failed" in result.output
    assert json.loads((tmp_path / "t" / "quality.json").read_text())["passed"] is False
    assert json.loads((tmp_path / "t" / "config.json").read_text())["options"]["quality"]["passed"] is False


def test_validation_fraction_zero_turns_the_gate_off(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("augment", toy_npz, "--out", tmp_path / "o", *ONE_STEP, "--validation-fraction", "0")
    assert result.exit_code == 0, result.output
    assert "Quality gate: off" in result.output
    assert not (tmp_path / "o" / "quality.json").exists() and (tmp_path / "o" / "augmented.npz").is_file()
    _fails(["augment", toy_npz, "--out", tmp_path / "x", "--validation-fraction", "half"],
           "--validation-fraction must be 'auto' or a number in [0, 1), got 'half'")


@pytest.mark.parametrize("with_val", [False, True])
def test_no_test_row_reaches_the_generator_or_the_gate(tmp_path: Path, monkeypatch, with_val: bool) -> None:
    """Fit rows and held rows come from the train split (or the val split), never from test."""
    from synthaug.generators import ConditionalGAN
    from synthaug.over_sampling import gan_sampler

    rng = np.random.default_rng(1)
    arrays = {}
    for name, n in (("train", 24), ("test", 12), *((("val", 9),) if with_val else ())):
        arrays[f"{name}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        arrays[f"{name}_labels"] = np.arange(n) % 3
    np.savez(tmp_path / "split.npz", **arrays)
    seen: dict[str, np.ndarray] = {}
    real_fit, real_assess = ConditionalGAN.fit, gan_sampler.assess_generator

    def fit(self, X, y, **kw):
        seen["generator"] = X
        return real_fit(self, X, y, **kw)

    def assess(generator, X_fit, y_fit, X_held, y_held, **kw):
        seen["fit"], seen["held"] = X_fit, X_held
        return real_assess(generator, X_fit, y_fit, X_held, y_held, **kw)

    monkeypatch.setattr(ConditionalGAN, "fit", fit)
    monkeypatch.setattr(gan_sampler, "assess_generator", assess)
    result = invoke("augment", tmp_path / "split.npz", "--out", tmp_path / "o", *ONE_STEP, "--accept-low-quality",
                    "--model", "dcgan")
    assert result.exit_code == 0, result.output

    def rows(name: str) -> set[bytes]:
        return {r.tobytes() for r in arrays[f"{name}_images"]}

    def as_rows(x: np.ndarray) -> set[bytes]:
        return {r.tobytes() for r in np.rint(x[:, 0] * 255).astype(np.uint8)}

    train, test = rows("train"), rows("test")
    assert as_rows(seen["generator"]) <= train and as_rows(seen["fit"]) == as_rows(seen["generator"])
    assert not as_rows(seen["held"]) & test and not as_rows(seen["generator"]) & test
    if with_val:  # the val split is the held-back set; every training row is fitted on
        assert as_rows(seen["held"]) == rows("val") and len(seen["generator"]) == 24
    else:
        assert as_rows(seen["held"]) <= train and not as_rows(seen["held"]) & as_rows(seen["generator"])
        assert len(seen["held"]) + len(seen["generator"]) == 24


def test_select_choices_are_the_selection_registry() -> None:
    """The CLI spells the selection methods itself (fast start-up); they must match the registry."""
    from synthaug.cli.gan_options import SELECT_CHOICES
    from synthaug.over_sampling import SELECTION_METHODS

    assert set(SELECT_CHOICES) == set(SELECTION_METHODS)


def test_cli_pool_factor_default_is_the_library_default() -> None:
    """--pool-factor's default is spelled in the CLI too (fast start-up); it must follow the library's."""
    from synthaug.over_sampling.select import DEFAULT_POOL_FACTOR

    option = next(p for p in cli.commands["augment"].params if p.name == "pool_factor")
    assert option.default == DEFAULT_POOL_FACTOR


def test_epochs_and_steps_together_are_refused_before_loading(tmp_path: Path) -> None:
    result = invoke("train", tmp_path / "missing.npz", "--out", tmp_path / "o", "--epochs", "3", "--steps", "10")
    assert result.exit_code == 1
    assert "--epochs and --steps both set the training length; give one of them." in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_the_cli_starts_without_torch(tmp_path: Path) -> None:
    # --help, option errors and a missing DATA file should not wait for torch (about 1.2 s
    # of a 1.4 s start)
    import subprocess
    import sys

    heavy = "print(sorted(m for m in ('torch', 'pandas', 'sklearn') if m in sys.modules))"
    code = f"import sys, synthaug.cli; {heavy}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for args in (["augment", str(tmp_path / "missing.npz")],
                 ["generate", str(tmp_path / "no-model"), "--n-per-class", "2"]):
        code = ("import sys\nfrom synthaug.cli import cli\ntry:\n"
                f"    cli({args + ['--out', str(tmp_path / 'out')]!r}, standalone_mode=False)\n"
                f"except Exception as exc:\n    print(type(exc).__name__)\n{heavy}")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["ClickException", "[]"], args  # the clean one-line error, torch never loaded
