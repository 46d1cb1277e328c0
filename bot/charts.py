"""Draw a summary's bar chart as a PNG, for Telegram to show with the sentence as its caption.

The spec comes from `surveys.summary_text.chart_spec` (stored in the outbox row's reply JSON):
``{"title": str, "bars": [{"label", "ratio", "text", "highlight"}], "note": str?}``.
Labels are in the contact's language, so each text is drawn with a font that has its script
(Noto Sans <Script> where installed, e.g. Debian's fonts-noto-core) and shaped with Raqm where
Pillow has it, so Bengali conjuncts join as they should.
"""

from __future__ import annotations

import io
import os
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, features

WIDTH = 800
MARGIN = 28
TITLE_SIZE = 30
LABEL_SIZE = 24
BAR_HEIGHT = 30
ROW_GAP = 18
BACKGROUND = "#ffffff"
INK = "#1f2933"
MUTED = "#616e7c"
BAR = "#4c78a8"
HIGHLIGHT = "#e4572e"
TRACK = "#e4e7eb"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))
FALLBACKS = ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_bar_chart(spec: dict[str, Any]) -> bytes:
    """PNG bytes of a horizontal bar chart: one labelled bar per answer, its share written."""
    bars = list(spec.get("bars") or [])
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_lines = _wrap(probe, str(spec.get("title") or ""), TITLE_SIZE, WIDTH - 2 * MARGIN)
    note = str(spec.get("note") or "")
    row = LABEL_SIZE + 8 + BAR_HEIGHT + ROW_GAP
    height = (MARGIN + len(title_lines) * (TITLE_SIZE + 10) + 16 + max(1, len(bars)) * row
              + (LABEL_SIZE + 16 if note else 0) + MARGIN)
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line in title_lines:
        _text(draw, (MARGIN, y), line, TITLE_SIZE, INK)
        y += TITLE_SIZE + 10
    y += 16
    track = WIDTH - 2 * MARGIN - 110
    for bar in bars:
        ratio = min(1.0, max(0.0, float(bar.get("ratio") or 0)))
        _text(draw, (MARGIN, y), str(bar.get("label", "")), LABEL_SIZE, INK)
        y += LABEL_SIZE + 8
        draw.rectangle((MARGIN, y, MARGIN + track, y + BAR_HEIGHT), fill=TRACK)
        if ratio > 0:
            draw.rectangle((MARGIN, y, MARGIN + max(2, round(track * ratio)), y + BAR_HEIGHT),
                           fill=HIGHLIGHT if bar.get("highlight") else BAR)
        _text(draw, (MARGIN + track + 12, y + 2), str(bar.get("text", "")), LABEL_SIZE, INK)
        y += BAR_HEIGHT + ROW_GAP
    if note:
        _text(draw, (MARGIN, y), note, LABEL_SIZE - 4, MUTED)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _text(draw: ImageDraw.ImageDraw, at: tuple[int, int], text: str, size: int,
          fill: str) -> None:
    draw.text(at, text, font=font_for(text, size), fill=fill)


def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> list[str]:
    font = font_for(text, size)
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines[:4]


def font_for(text: str, size: int) -> Font:
    """A font with the script of `text` (its first non-Latin letter or digit decides)."""
    return _font(_script(text), size)


def _script(text: str) -> str:
    for char in text:
        if ord(char) > 0x24F and unicodedata.category(char)[0] in "LN":
            return unicodedata.name(char, "LATIN").split(" ")[0].capitalize()
    return "Latin"


@cache
def _font(script: str, size: int) -> Font:
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    wanted = [] if script == "Latin" else [f"NotoSans{script}-Regular.ttf",
                                           f"NotoSerif{script}-Regular.ttf"]
    files = _font_files()
    for name in (*wanted, *FALLBACKS):
        if name in files:
            return ImageFont.truetype(files[name], size, layout_engine=layout)
    return ImageFont.load_default(size)


@cache
def _font_files() -> dict[str, str]:
    """File name → path of every TrueType/OpenType font installed (HEARD_FONTS_DIR first)."""
    found: dict[str, str] = {}
    extra = os.environ.get("HEARD_FONTS_DIR")
    for folder in ((extra,) if extra else ()) + FONT_DIRS:
        root = Path(folder)
        if root.is_dir():
            for path in sorted(root.rglob("*.[ot]tf")):
                found.setdefault(path.name, str(path))
    return found
