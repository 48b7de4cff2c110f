"""Report figures: pure functions from tidy tables (or image arrays) to figures and PNG bytes.

Figures come from :func:`synthaug.rendering.new_figure` (a Figure on the Agg canvas,
never ``pyplot``), so plotting touches no global state and works in worker threads and
on machines without a display; :func:`synthaug.rendering.png_bytes` encodes them.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from ..attacks import L2_ATTACKS
from ..rendering import new_figure

if TYPE_CHECKING:  # matplotlib is imported by new_figure, only when a report is drawn
    from matplotlib.figure import Figure

__all__ = [
    "image_to_png",
    "plot_metric_vs_ratio",
    "plot_learning_curves",
    "plot_gan_history",
    "plot_robustness",
]

_ARM_COLOURS = {
    "real": "black",
    "classic": "tab:orange",
    "smote": "tab:brown",
    "gan": "tab:blue",
    "gan_balance": "tab:cyan",
    "gan_classic": "tab:purple",
    "tstr": "tab:red",
    "adv_real": "tab:gray",
    "adv_gan": "tab:green",
}


def image_to_png(grid: np.ndarray) -> bytes:
    """Encode a uint8 image to PNG bytes.

    Shape
    -----
    grid : ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` uint8.
    """
    arr = np.asarray(grid, np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _unit_ylim(ax) -> None:
    """Keep a bounded score's axis inside [0, 1] (autoscale margins would leave it)."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, 0.0), min(high, 1.0))


def _grid_axes(n: int, *, width: float = 4.2, height: float = 3.2, ncols: int | None = None):
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = new_figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    return fig, axes


def plot_metric_vs_ratio(summary: pd.DataFrame, metric: str, train_size: str) -> Figure | None:
    """One panel per classifier: the ``gan`` arm's metric against the synthetic ratio.

    The mean over seeds is a line with its 95% interval as a band; the ``real`` arm is
    a horizontal reference line with its band, and so are other arms without a ratio
    (``adv_real``, ``gan_balance``: dashed); single-ratio arms (``classic``, ``smote``,
    ``gan_classic``, ...) are points with error bars at their ratio. The y-axis stays
    within ``[0, 1]``: every metric plotted is bounded.

    Parameters
    ----------
    summary : DataFrame
        :attr:`Report.summary` (columns arm, ratio, train_size, classifier, metric,
        mean, ci_low, ci_high, ...).
    metric : str
        Which metric to plot.
    train_size : str
        Which low-data setting.

    Returns
    -------
    Figure or None
        ``None`` when there is nothing to plot.
    """
    s = summary[(summary["metric"] == metric) & (summary["train_size"] == train_size)]
    if s.empty:
        return None
    classifiers = list(dict.fromkeys(s["classifier"]))
    fig, axes = _grid_axes(len(classifiers))
    for ax, clf in zip(axes, classifiers):
        c = s[s["classifier"] == clf]
        real = c[c["arm"] == "real"]
        if not real.empty:
            r = real.iloc[0]
            ax.axhline(r["mean"], color="black", lw=1.2, label="real only")
            if np.isfinite(r["ci_low"]):
                ax.axhspan(r["ci_low"], r["ci_high"], color="black", alpha=0.08)
        gan = c[c["arm"] == "gan"].sort_values("ratio")
        if not gan.empty:
            ax.plot(gan["ratio"], gan["mean"], "o-", color=_ARM_COLOURS["gan"], label="gan")
            ax.fill_between(gan["ratio"], gan["ci_low"], gan["ci_high"], color=_ARM_COLOURS["gan"], alpha=0.2)
        # Arms without a ratio (adv_real, gan_balance; 0 in older tables) are reference lines.
        no_ratio = c["ratio"].isna() | (c["ratio"] == 0)
        for arm, part in c[no_ratio & (c["arm"] != "real")].groupby("arm", sort=False):
            ax.axhline(part["mean"].iloc[0], color=_ARM_COLOURS.get(arm), lw=1.2, ls="--", label=arm)
        others = [a for a in dict.fromkeys(c.loc[~no_ratio, "arm"]) if a not in ("real", "gan")]
        for i, arm in enumerate(others):
            part = c[c["arm"] == arm].dropna(subset=["ratio"])
            if part.empty:
                continue
            err = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]])
            err = np.where(np.isfinite(err), err, 0.0)
            # Spread arms that share a ratio a little sideways so their bars stay readable.
            x = part["ratio"] * 2 ** (0.06 * (i - (len(others) - 1) / 2))
            ax.errorbar(x, part["mean"], yerr=err, fmt="s", capsize=3,
                        color=_ARM_COLOURS.get(arm, None), label=arm, alpha=0.85)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("synthetic images per real image")
        ax.set_ylabel(metric)
        _unit_ylim(ax)
        ax.set_title(f"{clf} (train size {train_size})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def plot_learning_curves(results: pd.DataFrame, metric: str, *, ratio: float = 1.0) -> Figure | None:
    """One panel per classifier: the metric against the real training-set size, per arm.

    The x position of a train size is the mean number of real training images; the
    ``gan`` arm is shown at ``ratio``. Bands are the 95% interval over seeds (within
    ``[0, 1]``, as is the y-axis).

    Returns
    -------
    Figure or None
        ``None`` with fewer than two training sizes.
    """
    from ..metrics.stats import UNIT_BOUNDS, summarize

    if results["train_size"].nunique() < 2:
        return None
    r = results[(results["arm"] != "gan") | np.isclose(results["ratio"].astype(float), ratio)]
    classifiers = list(dict.fromkeys(r["classifier"]))
    fig, axes = _grid_axes(len(classifiers))
    for ax, clf in zip(axes, classifiers):
        c = r[r["classifier"] == clf]
        ticks: set[int] = set()
        for arm, part in c.groupby("arm", sort=False):
            rows = []
            for size, g in part.groupby("train_size", sort=False):
                st = summarize(g[metric].to_numpy(float), nan_policy="omit", bounds=UNIT_BOUNDS)
                x = g["n_train_real"].mean() if arm != "tstr" else g["n_train_synthetic"].mean()
                rows.append((x, st["mean"], st["ci_low"], st["ci_high"]))
            rows.sort()
            x, m, lo, hi = (np.array(v, float) for v in zip(*rows))
            colour = _ARM_COLOURS.get(arm)
            ax.plot(x, m, "o-", color=colour, label=arm)
            if np.isfinite(lo).all() and arm in ("real", "gan"):
                ax.fill_between(x, lo, hi, color=colour, alpha=0.12)
            ticks.update(np.round(x).astype(int).tolist())
        ax.set_xscale("log")
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.minorticks_off()
        ax.set_xlabel("real training images")
        ax.set_ylabel(metric)
        _unit_ylim(ax)
        ax.set_title(clf)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def plot_gan_history(history: pd.DataFrame) -> Figure | None:
    """Generator and discriminator losses per epoch, one panel per training-set size.

    Each seed is one thin line, so diverging runs stand out.
    """
    if history is None or history.empty or "epoch" not in history:
        return None
    sizes = list(dict.fromkeys(history["train_size"]))
    fig, axes = _grid_axes(len(sizes))
    for ax, size in zip(axes, sizes):
        h = history[history["train_size"] == size]
        for i, (seed, part) in enumerate(h.groupby("seed", sort=True)):
            for col, colour in (("loss_d", "tab:red"), ("loss_g", "tab:blue"), ("loss", "tab:green")):
                if col in part and part[col].notna().any():  # GAN: loss_d, loss_g; diffusion: loss
                    ax.plot(part["epoch"], part[col], color=colour, lw=1, alpha=0.7,
                            label=col if i == 0 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(f"generator training, train size {size}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def plot_robustness(robust_summary: pd.DataFrame, train_size: str,
                    summary: pd.DataFrame | None = None) -> Figure | None:
    """Accuracy under each attack against eps, one panel per (attack, classifier), per arm.

    With ``summary`` (the clean-accuracy summary) each line starts at eps = 0 with the
    clean accuracy of the same arm.
    """
    if robust_summary is None or robust_summary.empty:
        return None
    s = robust_summary[robust_summary["kind"].isin(("adversarial", "transfer")) & (robust_summary["train_size"] == train_size)]
    if s.empty:
        return None
    panels = list(dict.fromkeys(zip(s["perturbation"], s["classifier"])))
    fig, axes = _grid_axes(len(panels))
    for ax, (pert, clf) in zip(axes, panels):
        c = s[(s["perturbation"] == pert) & (s["classifier"] == clf)]
        for (arm, ratio), part in c.groupby(["arm", "ratio"], sort=False, dropna=False):
            part = part.sort_values("eps")
            scale = 1 if pert in L2_ATTACKS else 255  # L-inf radii read as grey levels
            x, y = list(part["eps"] * scale), list(part["mean"])
            if summary is not None:
                clean = summary[(summary["metric"] == "accuracy") & (summary["arm"] == arm)
                                & (summary["classifier"] == clf) & (summary["train_size"] == train_size)]
                clean = clean[clean["ratio"].isna()] if pd.isna(ratio) else clean[clean["ratio"] == ratio]
                if not clean.empty:
                    x, y = [0.0] + x, [float(clean["mean"].iloc[0])] + y
            label = arm if arm != "gan" or pd.isna(ratio) else f"gan x{ratio:g}"
            colour = _ARM_COLOURS.get(arm)
            ax.plot(x, y, "o-", color=colour, label=label, alpha=1.0 if arm != "gan" else 0.5)
        ax.set_xlabel("eps (L2 norm)" if pert in L2_ATTACKS else "eps (grey levels out of 255)")
        ax.set_ylabel("robust accuracy")
        _unit_ylim(ax)
        ax.set_title(f"{pert} on {clf} (train size {train_size})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return fig
