"""Rendering for reports: markdown and HTML tables, figures, embedded images.

Every report synthaug writes (``evaluate``'s, ``robustness``'s, the benchmark tables)
builds its tables and pictures with these helpers, so a number looks the same in every
file and an HTML report is one self-contained page (images embedded as data URIs).

Matplotlib is imported inside :func:`new_figure` on purpose: it is only needed when a
report is drawn, and importing it costs the CLI's start-up about half a second.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_cell", "html_page", "html_table", "img_tag", "md_table", "new_figure", "png_bytes"]


def format_cell(value: Any, floatfmt: str = ".3f") -> str:
    """A table cell as text: floats with ``floatfmt``, NaN as an empty cell."""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else format(float(value), floatfmt)
    return str(value)


def md_table(df: pd.DataFrame | None, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped), newline-terminated.

    Examples
    --------
    >>> print(md_table(pd.DataFrame({"arm": ["real"], "acc": [0.5]})), end="")
    | arm | acc |
    | --- | --- |
    | real | 0.500 |
    """
    if df is None or df.empty:
        return "_(empty)_\n"
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(format_cell(v, floatfmt).replace("|", "\\|") for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def html_table(df: pd.DataFrame | None, floatfmt: str = ".3f") -> str:
    """An HTML ``<table>`` with escaped cells (empty frames give a short note)."""
    if df is None or df.empty:
        return "<p><em>(empty)</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_cell(v, floatfmt))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def new_figure(**kwargs: Any):
    """A matplotlib Figure on the Agg canvas (no pyplot global state, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # deferred: see module docstring
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def img_tag(png: bytes, alt: str, caption: str | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a data URI, in a ``<figure>`` when captioned."""
    data = base64.b64encode(png).decode("ascii")
    img = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
    if caption is None:
        return img
    return f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
        "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}"
        "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}")


def html_page(title: str, body: str, css: str = _CSS) -> str:
    """A complete, self-contained HTML document."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title><style>{css}</style></head><body>\n{body}\n</body></html>\n")
