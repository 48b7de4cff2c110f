"""Writing a robustness result: tables, figures, ``report.md``, ``report.html``, ``config.json``.

The writer does no computing beyond drawing; :mod:`.run` measures.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ...attacks.registry import L2_ATTACKS, eps_label
from ...data.io import atomic_write_bytes, atomic_write_text
from ...persistence import RUN_RECORD, package_versions, write_json
from ...rendering import html_page, html_table, img_tag, md_table, new_figure, png_bytes
from .run import RobustnessResult

__all__ = [
    "EPS_NOTE",
    "REPORT_FILES",
    "plot_examples",
    "plot_robust_accuracy",
    "summary_lines",
    "write_robustness_report",
]

REPORT_FILES = (
    "robustness.csv", "per_class.csv", "predictions.csv", "robust_accuracy.png", "examples.png",
    "report.md", "report.html", RUN_RECORD,
)
# Tables show accuracies and radii with four significant digits.
_FLOATFMT = ".4g"


def plot_robust_accuracy(result: RobustnessResult) -> bytes:
    """PNG: accuracy vs eps per attack (left) and vs severity per corruption (right)."""
    df = result.results
    clean = result.clean_accuracy()
    attacked = df[df["kind"].isin(["adversarial", "transfer"])]
    l2 = attacked["perturbation"].isin(L2_ATTACKS)
    attacks, l2_attacks = attacked[~l2], attacked[l2]
    corr = df[df["kind"] == "corruption"]
    panels = [p for p, d in (("attacks", attacks), ("l2", l2_attacks), ("corruptions", corr))
              if not d.empty] or ["attacks"]
    fig = new_figure()
    fig.set_size_inches(5.0 * len(panels), 3.8)
    for i, panel in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i)
        if panel in ("attacks", "l2"):
            for (name, kind), grp in (attacks if panel == "attacks" else l2_attacks).groupby(
                    ["perturbation", "kind"], sort=False):
                grp = grp.sort_values("eps")
                label = name + (" (transfer)" if kind == "transfer" else "")
                x, y = list(grp["eps"] * (255 if panel == "attacks" else 1)), list(grp["accuracy"])
                if x[0] > 0:  # start every curve at the clean accuracy (eps 0)
                    x, y = [0.0, *x], [clean, *y]
                ax.plot(x, y, marker="o", label=label)
            ax.set_xlabel("eps (grey levels out of 255)" if panel == "attacks" else "eps (L2 norm of the perturbation)")
            ax.set_title("Accuracy under attack" + (" (L2)" if panel == "l2" else ""))
        else:
            for name, grp in corr.groupby("perturbation", sort=False):
                grp = grp.sort_values("severity")
                ax.plot([0, *grp["severity"]], [clean, *grp["accuracy"]], marker="o", label=name)
            ax.set_xlabel("severity (0 = clean)")
            ax.set_title("Accuracy under corruption")
        ax.axhline(clean, color="grey", linestyle="--", linewidth=1, label="clean")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return png_bytes(fig)


def plot_examples(result: RobustnessResult) -> bytes:
    """PNG: one row per setting (clean, strongest attacks and corruptions), one column per image;
    the text above each image is the prediction (red when wrong).

    Drawn as one mosaic on a single axes (fast even with many images).
    """
    ex = result.examples
    panels = ex["panels"]
    k = len(ex["labels"])
    fig = new_figure()
    if not panels or k == 0:
        fig.set_size_inches(3, 1)
        fig.text(0.5, 0.5, "no examples", ha="center")
        return png_bytes(fig)
    c, h, w = ex["images"].shape[1:]
    scale = max(1, int(np.ceil(48 / max(h, w))))  # small images are enlarged (nearest neighbour)
    ch, cw = h * scale, w * scale
    pad_x, pad_y = max(4, cw // 8), max(14, ch // 3)  # room for the prediction above each cell
    # A light blue background keeps white image borders visible.
    mosaic = np.empty(((ch + pad_y) * len(panels) + pad_y, (cw + pad_x) * k + pad_x, 3), np.float32)
    mosaic[:] = (0.82, 0.88, 0.97)
    for r, (_, images, _) in enumerate(panels):
        for j in range(k):
            img = np.transpose(images[j], (1, 2, 0))  # (H, W, C)
            img = np.kron(img, np.ones((scale, scale, 1), np.float32))
            if img.shape[2] == 1:
                img = np.repeat(img, 3, axis=2)
            y0, x0 = pad_y + r * (ch + pad_y), pad_x + j * (cw + pad_x)
            mosaic[y0:y0 + ch, x0:x0 + cw] = np.clip(img, 0, 1)
    dpi = 100
    fig.set_size_inches(max(4.0, mosaic.shape[1] / dpi * 1.6 + 1.8), mosaic.shape[0] / dpi * 1.6 + 0.4)
    ax = fig.add_axes([0.18, 0.02, 0.8, 0.92])
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    for r, (title, _, preds) in enumerate(panels):
        y0 = pad_y + r * (ch + pad_y)
        ax.text(-pad_x, y0 + ch / 2, title, ha="right", va="center", fontsize=8)
        for j in range(k):
            x0 = pad_x + j * (cw + pad_x)
            wrong = preds[j] != ex["labels"][j]
            ax.text(x0 + cw / 2, y0 - 2, str(preds[j])[:12], ha="center", va="bottom", fontsize=7,
                    color="red" if wrong else "black")
    ax.set_title("top row: clean images (true labels: " + ", ".join(str(v)[:12] for v in ex["labels"])
                 + "); text: prediction, red when wrong", fontsize=8)
    return png_bytes(fig)


def _display_table(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "eps" in out:
        # eps_255 reads L-inf radii in grey levels; an L2 radius has no such reading.
        eps_255 = out["eps"] * 255
        if "perturbation" in out:
            eps_255 = eps_255.where(~out["perturbation"].isin(L2_ATTACKS))
        out.insert(out.columns.get_loc("eps") + 1, "eps_255", eps_255)
    return out


def _per_class_wide(result: RobustnessResult) -> pd.DataFrame:
    """One row per setting, one accuracy column per class."""
    keys = ["perturbation", "kind", "eps", "severity"]
    rows = []
    for key, grp in result.per_class.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key))
        row.update({str(c): a for c, a in zip(grp["class"], grp["accuracy"])})
        rows.append(row)
    return _display_table(pd.DataFrame(rows, columns=keys + [str(c) for c in result.class_names]))


EPS_NOTE = ("For fgsm and pgd, eps is an L-inf radius in [0, 1] pixel units (eps_255 = grey levels "
            "out of 255); for pgd_l2 it is the L2 norm of the whole perturbation.")


def summary_lines(result: RobustnessResult) -> list[str]:
    """Short human lines: clean accuracy, each attack at its largest eps, each corruption at its
    top severity, the stress set."""
    lines = [f"Clean accuracy: {result.clean_accuracy():.3f}"]
    for row in result.worst_case().itertuples(index=False):
        if row.kind == "corruption":
            lines.append(f"{row.perturbation} at severity {int(row.severity)}: {row.accuracy:.3f}")
        else:
            suffix = " (transfer)" if row.kind == "transfer" else ""
            lines.append(f"{row.perturbation}{suffix} at eps={eps_label(row.perturbation, row.eps)}: "
                         f"{row.accuracy:.3f}")
    stress = result.results[result.results["kind"] == "stress"]
    for row in stress.itertuples(index=False):
        lines.append(f"generated stress set ({row.n} images): {row.accuracy:.3f}")
    return lines


def write_robustness_report(result: RobustnessResult, directory) -> dict[str, Path]:
    """Write the robustness tables, figures and reports into ``directory``.

    Files: ``robustness.csv`` (tidy), ``per_class.csv``, ``predictions.csv``,
    ``robust_accuracy.png``, ``examples.png``, ``report.md``, ``report.html`` (a single
    self-contained file: figures embedded as base64) and ``config.json``.

    Returns
    -------
    dict
        File name -> path written.
    """
    directory = Path(directory)
    written: dict[str, Path] = {}

    def text(name: str, content: str) -> None:
        written[name] = atomic_write_text(directory / name, content, fsync=False)

    text("robustness.csv", result.results.to_csv(index=False))
    text("per_class.csv", result.per_class.to_csv(index=False))
    text("predictions.csv", result.predictions.to_csv(index=False))
    figures = {"robust_accuracy.png": plot_robust_accuracy(result), "examples.png": plot_examples(result)}
    for name, data in figures.items():
        written[name] = atomic_write_bytes(directory / name, data, fsync=False)

    summary = summary_lines(result)
    table = _display_table(result.results)
    per_class = _per_class_wide(result)
    title = f"Robustness of {result.config.get('model', 'the model')} on {result.config.get('data', 'the data')}"
    examples_text = "Predictions on clean images and at the strongest setting of each perturbation (red: wrong)."

    md = [f"# {title}", "", "## Summary", "", *[f"- {s}" for s in summary], "", "## What was measured", "",
          *[f"- {n}" for n in result.notes], "",
          f"{EPS_NOTE} Accuracy at eps 0 is the clean accuracy.", "",
          "## Accuracy", "", md_table(table, _FLOATFMT), "![accuracy vs eps](robust_accuracy.png)", "",
          "## Per class", "", md_table(per_class, _FLOATFMT),
          "## Examples", "", examples_text, "", "![examples](examples.png)", ""]
    text("report.md", "\n".join(md))

    body = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary) + "</ul>",
        "<h2>What was measured</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
        + f"</ul><p>{html.escape(EPS_NOTE)}</p>",
        "<h2>Accuracy</h2>", img_tag(figures["robust_accuracy.png"], "robust_accuracy.png"),
        html_table(table, _FLOATFMT),
        "<h2>Per class</h2>", html_table(per_class, _FLOATFMT),
        f"<h2>Examples</h2><p>{html.escape(examples_text)}</p>", img_tag(figures["examples.png"], "examples.png"),
    ]
    text("report.html", html_page(title, "\n".join(body)))
    # The library's own run record; the CLI replaces it with one that also holds its options.
    written[RUN_RECORD] = write_json(directory / RUN_RECORD, {
        "command": "run_robustness", "options": result.config, "notes": result.notes,
        "versions": package_versions()})
    return written
