"""`--model ddpm`: train, augment and generate with the diffusion generator from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthaug.cli import cli
from synthaug.data import write_npz
from synthaug.data.toy import make_toy_images

DDPM = ["--model", "ddpm", "--epochs", "2", "--batch-size", "16", "--no-progress", "--seed", "0",
        "--sample-steps", "3"]


@pytest.fixture
def toy_npz(tmp_path: Path) -> Path:
    path = tmp_path / "toy.npz"
    write_npz(make_toy_images([12, 6, 9], n_classes=3, image_size=8, random_state=0), path)
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_train_then_generate_with_ddpm(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("train", toy_npz, "--out", tmp_path / "m", *DDPM)
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / "model" / "generator.json").read_text())
    assert meta["format"] == "synthaug.ConditionalDiffusion" and meta["params"]["sample_steps"] == 3
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    assert record["options"]["model"] == "ddpm" and (tmp_path / "m" / "quality.json").is_file()
    assert not list((tmp_path / "m").rglob("*.pt")) and not list((tmp_path / "m").rglob("*.pkl"))
    result = invoke("generate", tmp_path / "m", "--n-per-class", "4", "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "g" / "synthetic.npz") as z:
        assert np.bincount(z["labels"]).tolist() == [4, 4, 4] and z["images"].shape[1:] == (8, 8)


def test_augment_with_ddpm_is_reproducible(toy_npz: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        result = invoke("augment", toy_npz, "--out", tmp_path / name, *DDPM, "--accept-low-quality")
        assert result.exit_code == 0, result.output
        with np.load(tmp_path / name / "augmented.npz") as z:
            runs.append((z["images"].copy(), z["is_synthetic"].copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1].sum() == 27  # --ratio 1 by default


@pytest.mark.parametrize("flag, value", [("--loss", "bce"), ("--lecam", "0.1"), ("--no-spectral-norm", None),
                                         ("--diff-augment", "none")])
def test_gan_only_options_are_refused_with_ddpm(toy_npz: Path, tmp_path: Path, flag, value) -> None:
    args = ["augment", toy_npz, "--out", tmp_path / "o", *DDPM, flag] + ([value] if value else [])
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{flag.replace('--no-', '--')} applies to GAN models (dcgan, vanilla) only" in result.output
    assert not (tmp_path / "o").exists()


def test_ddpm_only_options_are_refused_with_a_gan(toy_npz: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", str(toy_npz), "--out", str(tmp_path / "o"), "--model", "dcgan",
                                      "--guidance-scale", "2"])
    assert result.exit_code != 0 and "--guidance-scale applies to --model ddpm only" in result.output
    # --model auto (the default): a ddpm-only and a GAN-only option together cannot both apply.
    result = CliRunner().invoke(cli, ["train", str(toy_npz), "--out", str(tmp_path / "o"), "--guidance-scale", "2",
                                      "--mode-seeking", "0.1"])
    assert result.exit_code != 0
    assert "--mode-seeking applies to GAN models only and --guidance-scale to --model ddpm only" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_augment_p_reaches_the_model_and_is_checked(toy_npz: Path, tmp_path: Path) -> None:
    """--augment-p: a ddpm-only option (auto picks ddpm for it), recorded, validated, refused with a GAN."""
    result = invoke("train", toy_npz, "--out", tmp_path / "m", "--epochs", "1", "--no-progress",
                    "--sample-steps", "3", "--augment-p", "0.5")
    assert result.exit_code == 0, result.output
    assert "Generator: ddpm (auto: --sample-steps, --augment-p given)" in result.stderr
    meta = json.loads((tmp_path / "m" / "model" / "generator.json").read_text())
    assert meta["params"]["augment_p"] == 0.5
    assert json.loads((tmp_path / "m" / "config.json").read_text())["options"]["augment_p"] == 0.5
    never_clean = "--augment-p must be in [0, 1) (at 1 the model never sees an unwarped image), got 1.0."
    for args, message in [(["--model", "ddpm", "--augment-p", "1.0"], never_clean),
                          (["--model", "dcgan", "--augment-p", "0.5"], "--augment-p applies to --model ddpm only")]:
        result = CliRunner().invoke(cli, ["train", str(toy_npz), "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_dropout_reaches_the_model_and_is_checked(toy_npz: Path, tmp_path: Path) -> None:
    result = invoke("train", toy_npz, "--out", tmp_path / "m", "--epochs", "1", "--no-progress",
                    "--sample-steps", "3", "--dropout", "0.3")
    assert result.exit_code == 0, result.output
    assert "Generator: ddpm (auto: --sample-steps, --dropout given)" in result.stderr
    assert json.loads((tmp_path / "m" / "model" / "generator.json").read_text())["params"]["dropout"] == 0.3
    for args, message in [(["--model", "ddpm", "--dropout", "1"], "--dropout must be in [0, 1), got 1.0."),
                          (["--model", "dcgan", "--dropout", "0.3"], "--dropout applies to --model ddpm only")]:
        result = CliRunner().invoke(cli, ["train", str(toy_npz), "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_critic_selection_needs_a_gan(toy_npz: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["augment", str(toy_npz), "--out", str(tmp_path / "o"), *DDPM,
                                      "--select", "critic", "--accept-low-quality"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "a diffusion model has none" in result.output and not (tmp_path / "o").exists()


def test_oversampler_takes_the_diffusion_model() -> None:
    from synthaug import ConditionalDiffusion, OverSampler
    from synthaug.exceptions import ConfigError

    ds = make_toy_images([12, 6, 9], n_classes=3, image_size=8, random_state=0)
    tiny = ConditionalDiffusion(epochs=1, width=8, timesteps=50, sample_steps=2, device="cpu")
    sampler = OverSampler(generator=tiny, random_state=0, on_low_quality="ignore", select="covariance")
    X, y = sampler.fit_resample(ds.images, ds.labels)
    assert len(X) == len(y) and np.bincount(y).tolist() == [12, 12, 12]  # "auto": up to the majority
    assert isinstance(sampler.generator_, ConditionalDiffusion) and sampler.quality_ is not None
    with pytest.raises(ConfigError, match="select='critic' needs a GAN's discriminator"):
        OverSampler(generator=tiny, select="critic").fit_resample(ds.images, ds.labels)


@pytest.mark.parametrize("extra, chosen", [([], "ddpm"), (["--lecam", "0.1"], "dcgan"),
                                           (["--sample-steps", "3"], "ddpm")])
def test_model_auto_chooses_from_the_data_and_the_options(toy_npz: Path, tmp_path: Path, extra, chosen) -> None:
    """The default --model auto: 27 images of 8 x 8 fit the diffusion budget -> ddpm; a GAN-only option -> dcgan."""
    result = CliRunner().invoke(cli, [str(a) for a in ["train", toy_npz, "--out", tmp_path / "m",
                                                                       "--epochs", "1", "--no-progress", *extra]])
    assert result.exit_code == 0, result.output + result.stderr
    assert f"Generator: {chosen} (auto: " in result.stderr
    assert json.loads((tmp_path / "m" / "config.json").read_text())["options"]["model"] == chosen
    fmt = {"ddpm": "synthaug.ConditionalDiffusion", "dcgan": "synthaug.ConditionalGAN"}[chosen]
    assert json.loads((tmp_path / "m" / "model" / "generator.json").read_text())["format"] == fmt


def test_model_auto_line_is_printed_once_under_torchrun(capsys) -> None:
    """Every torchrun rank resolves auto the same way; only rank 0 says so."""
    from synthaug.cli.gan_options import resolve_cli_model

    ds = make_toy_images(6, n_classes=2, image_size=8, random_state=0)
    opts = {"model": "auto", "strategy": "conditional", "select": "coverage"}
    assert resolve_cli_model(opts, ds, 2, main=False)["model"] == "dcgan"
    assert capsys.readouterr().err == ""
    assert resolve_cli_model(opts, ds, 2, main=True)["model"] == "dcgan"
    assert "Generator: dcgan (auto: torchrun given)." in capsys.readouterr().err


def test_near_copy_hint_names_the_knobs_that_apply() -> None:
    from synthaug import ConditionalDiffusion, ConditionalGAN
    from synthaug.cli.gan_commands import near_copy_hint

    assert near_copy_hint(0.1, ConditionalDiffusion(dropout=0.0)) is None  # few near-copies: nothing to say
    ddpm = near_copy_hint(0.65, ConditionalDiffusion(dropout=0.0))
    assert "65% of the samples are near-copies" in ddpm and "--dropout 0.5" in ddpm and "--copy-guard 0.7" in ddpm
    assert "--dropout" not in near_copy_hint(0.65, ConditionalDiffusion())  # on by default
    gan = near_copy_hint(0.4, ConditionalGAN())
    assert "--dropout" not in gan and "--copy-guard 0.7" in gan
