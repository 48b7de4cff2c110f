"""``synthaug robustness``: accuracy of any classifier under attacks, corruptions and a GAN stress set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..persistence import find_model_dir, write_run_record
from ._common import check_output_dir, data_options, load_data, positive, staged_output

DEFAULT_EPS = "0,1/255,2/255,4/255,8/255"
DEFAULT_L2_EPS = "0.25,0.5,1"
#: How each RobustnessSpec field is named in error messages: by its flag.
SPEC_FLAGS = {"attacks": "--attacks", "eps_grid": "--eps", "l2_eps_grid": "--l2-eps",
              "corruptions": "--corruptions", "severities": "--severities", "pgd_steps": "--pgd-steps"}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_spec(eps_text: str, attacks_text: str, l2_eps_text: str, corruptions: bool,
               severities_text: str, pgd_steps: int):
    """The :class:`~synthaug.attacks.RobustnessSpec` of the command's comma-list flags.

    The spec checks every value once; its messages name the flags (``--eps: 8 is
    outside [0, 1]; ...``). ``--l2-eps`` is read only when an L2 attack is requested and
    ``--severities`` only with ``--corruptions``.
    """
    # Deferred: importing synthaug.attacks loads pandas, about a second of CLI start-up.
    from ..attacks import CORRUPTIONS, L2_ATTACKS, RobustnessSpec

    attacks = [name.lower() for name in _split(attacks_text)]
    return RobustnessSpec(
        attacks=tuple(attacks),
        eps_grid=tuple(_split(eps_text)),
        l2_eps_grid=tuple(_split(l2_eps_text)) if any(a in L2_ATTACKS for a in attacks) else (),
        corruptions=CORRUPTIONS if corruptions else (),
        severities=tuple(_split(severities_text)) if corruptions else (),
        pgd_steps=pgd_steps,
        labels=SPEC_FLAGS,
    )


@click.command("robustness")
@click.argument("data")
@click.option("--model", "model_spec", required=True,
              help="The classifier: a TorchScript file, module:function returning a torch.nn.Module, a "
                   "folder saved by CNNClassifier.save, or a joblib file of a scikit-learn model "
                   "(with --trust-pickle).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder for the report.")
@click.option("--trust-pickle", is_flag=True,
              help="Allow loading a pickle/joblib model. Unpickling runs code from the file: only for files "
                   "you trust.")
@click.option("--eps", "eps_text", default=DEFAULT_EPS, show_default=True,
              help="Comma-separated L-inf radii in [0, 1] pixel units; fractions like 8/255 are fine.")
@click.option("--attacks", "attacks_text", default="fgsm,pgd", show_default=True,
              help="Comma-separated attacks: fgsm, pgd (L-inf, over --eps), pgd_l2 (L2, over --l2-eps); "
                   "empty for none.")
@click.option("--l2-eps", "l2_eps_text", default=DEFAULT_L2_EPS, show_default=True,
              help="Comma-separated L2 radii for pgd_l2: the L2 norm of the whole perturbation (pixels in "
                   "[0, 1]; 8/255 on every pixel of a 28x28 image is 0.88).")
@click.option("--pgd-steps", type=int, default=10, show_default=True, help="PGD iterations.")
@click.option("--corruptions/--no-corruptions", default=True, show_default=True,
              help="Also score gaussian_noise, blur, contrast and brightness.")
@click.option("--severities", "severities_text", default="1,3,5", show_default=True,
              help="Corruption severities, 0 (unchanged) to 5.")
@click.option("--generator", "generator_dir", type=click.Path(path_type=Path), default=None,
              help="A trained generator (the output folder of 'synthaug train'): its samples are an extra "
                   "labelled stress set.")
@click.option("--n-stress", type=int, default=50, show_default=True, help="Generated images per class.")
@click.option("--surrogate-epochs", type=int, default=15, show_default=True,
              help="Epochs of the surrogate CNN used to attack models without gradients.")
@click.option("--max-samples", type=int, default=1000, show_default=True,
              help="Evaluate a stratified subsample of at most N images (0: all).")
@click.option("--batch-size", type=int, default=256, show_default=True)
@data_options
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out folder.")
def robustness(data: str, model_spec: str, out: Path, trust_pickle: bool, eps_text: str, attacks_text: str,
               l2_eps_text: str, pgd_steps: int, corruptions: bool, severities_text: str, generator_dir: Path | None,
               n_stress: int, surrogate_epochs: int, max_samples: int, batch_size: int,
               image_size: int | None, skip_bad_images: bool, allow_outside_root: bool, seed: int,
               device: str, overwrite: bool) -> None:
    """Measure how robust a trained classifier is: FGSM and PGD attacks over an eps grid,
    common corruptions, and optionally a stress set of GAN samples. Writes tables, plots
    and a report to --out.

    DATA (builtin:digits, an .npz, a folder or a CSV manifest) supplies labelled images;
    its test split is used when it has one, otherwise every image. Models without
    gradients (scikit-learn) are attacked through a surrogate CNN (transfer attacks).

    \b
    Examples:
      synthaug robustness data.npz --model model.pt --out runs/robust
      synthaug robustness data.npz --model mymodels:build --eps 0,2/255,8/255 --out runs/r
      synthaug robustness data.npz --model model.pt --attacks pgd,pgd_l2 --l2-eps 0.5,1 --out runs/r
      synthaug robustness data.npz --model clf.joblib --trust-pickle --out runs/r
    """
    spec = build_spec(eps_text, attacks_text, l2_eps_text, corruptions, severities_text, pgd_steps)
    for flag, value in (("--n-stress", n_stress), ("--surrogate-epochs", surrogate_epochs),
                        ("--batch-size", batch_size), ("--image-size", image_size)):
        positive(flag, value)
    positive("--max-samples", max_samples, allow_zero=True)

    check_output_dir(out, overwrite)  # before any slow work
    from ..attacks import attack_from_config
    from ..classifiers import load_model
    dataset, _, _ = load_data(data, image_size, skip_bad_images, allow_outside_root)
    model = load_model(model_spec, trust_pickle=trust_pickle, device=device,
                       build_attack=attack_from_config)
    generator = None
    if generator_dir is not None:
        from ..generators import load_model as load_generator

        generator = load_generator(find_model_dir(generator_dir, flag="--generator"), device=device)

    click.echo(
        f"Robustness of {model_spec} ({model.kind}, {'white box' if model.has_gradients else 'transfer'}) "
        f"on {data}: {len(dataset)} images, {dataset.n_classes} classes.",
        err=True,
    )
    from ..experiment.robustness import run_robustness, summary_lines, write_robustness_report

    result = run_robustness(
        dataset, model, spec, surrogate_epochs=surrogate_epochs, stress_generator=generator,
        n_stress=n_stress, max_samples=max_samples or None, batch_size=batch_size, random_state=seed,
    )
    options: dict[str, Any] = {
        "data": data, "model": model_spec, "out": out, "trust_pickle": trust_pickle,
        "eps": list(spec.eps_grid), "attacks": list(spec.attacks), "l2_eps": list(spec.l2_eps_grid),
        "pgd_steps": spec.pgd_steps, "corruptions": corruptions, "severities": list(spec.severities),
        "generator": generator_dir, "n_stress": n_stress, "surrogate_epochs": surrogate_epochs,
        "max_samples": max_samples, "batch_size": batch_size, "image_size": image_size,
        "skip_bad_images": skip_bad_images, "allow_outside_root": allow_outside_root, "seed": seed,
        "device": device, "overwrite": overwrite,
    }
    with staged_output(out, overwrite) as tmp:
        write_robustness_report(result, tmp)
        write_run_record(tmp, {**options, "resolved": result.config, "notes": result.notes}, "robustness")

    for line in summary_lines(result):
        click.echo(line)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(f"Report: {out / 'report.html'} (also report.md, robustness.csv, per_class.csv).")
