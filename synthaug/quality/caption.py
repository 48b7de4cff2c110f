"""A one-line caption rendered as a white strip under a PNG (Pillow's built-in font)."""

from __future__ import annotations

import io
import textwrap

__all__ = ["add_caption"]

_LINE_HEIGHT = 12  # Pillow's default bitmap font is about 11 px tall
_CHAR_WIDTH = 6


def add_caption(png: bytes, text: str, *, min_width: int = 360) -> bytes:
    """Return ``png`` with ``text`` written in black on a white strip below it.

    The text wraps to the image width (widened to ``min_width`` pixels when the image is
    narrower, so a grid of a few 8 x 8 images still gets a readable line).
    """
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width = max(image.width, min_width)
    lines = textwrap.wrap(text, width=max(10, (width - 8) // _CHAR_WIDTH)) or [""]
    canvas = Image.new("RGB", (width, image.height + 6 + _LINE_HEIGHT * len(lines)), "white")
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((4, image.height + 3 + i * _LINE_HEIGHT), line, fill="black")
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()
