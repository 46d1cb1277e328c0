"""Draw a summary's bar chart as a PNG, for Telegram to show with the sentence as its caption.

The spec comes from `surveys.summary_text.chart_spec` (stored in the outbox row's reply JSON):
``{"title": str, "bars": [{"label", "ratio", "text", "highlight"}], "note": str?, "lang": str?}``.
Labels are in the contact's language, so each text is drawn with an installed font that has its
characters (found by reading the fonts' character maps, not by guessing file names) and shaped
with Raqm where Pillow has it, so Bengali conjuncts join and Arabic letters connect. A chart
whose title (else first label) is right-to-left is mirrored: labels on the right, bars growing
leftwards. Every text is measured before it is placed, so labels never run into the bars.
"""

from __future__ import annotations

import io
import os
import struct
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from math import ceil, floor
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, features

WIDTH = 800
MARGIN = 28
TITLE_SIZE = 30
LABEL_SIZE = 24
NOTE_SIZE = 20
BAR_HEIGHT = 30
LABEL_GAP = 8  # between a label and its bar
FIGURE_GAP = 12  # between a bar's track and its figure
ROW_GAP = 18
TITLE_GAP = 16
TITLE_LINES = 4
LABEL_LINES = 3
BACKGROUND = "#ffffff"
INK = "#1f2933"
MUTED = "#616e7c"
BAR = "#4c78a8"
HIGHLIGHT = "#e4572e"
TRACK = "#e4e7eb"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))
FALLBACKS = ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf")
ELLIPSIS = "…"
RAQM = features.check("raqm")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Box:
    """Pixels from left to right and top to bottom (the right and bottom edges excluded)."""

    left: int
    top: int
    right: int
    bottom: int

    def meets(self, other: Box) -> bool:
        """Whether the two boxes share a pixel."""
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)


@dataclass(frozen=True)
class Line:
    """One line of text placed on the chart: `x` is its start edge, `box` holds all its ink."""

    text: str
    x: int
    baseline: int
    anchor: str  # Pillow's: "ls" (left, on the baseline) or "rs"
    size: int
    fill: str
    direction: str
    box: Box
    bottom: int  # where the next line may start


@dataclass(frozen=True)
class Row:
    """One answer: its label's lines, the track its bar runs in, the bar, and its figure."""

    label: list[Line]
    track: Box
    bar: Box | None
    highlight: bool
    figure: Line


@dataclass(frozen=True)
class ChartLayout:
    """Where everything goes, computed from measured text before anything is drawn."""

    width: int
    height: int
    right_to_left: bool
    title: list[Line]
    rows: list[Row]
    note: Line | None


def render_bar_chart(spec: dict[str, Any]) -> bytes:
    """PNG bytes of a horizontal bar chart: one labelled bar per answer, its share written."""
    layout = layout_bar_chart(spec)
    image = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for row in layout.rows:  # bars first: should text ever reach one, it stays readable
        draw.rectangle(_corners(row.track), fill=TRACK)
        if row.bar is not None:
            draw.rectangle(_corners(row.bar), fill=HIGHLIGHT if row.highlight else BAR)
    for line in texts_of(layout):
        draw.text((line.x, line.baseline), line.text, font=font_for(line.text, line.size),
                  fill=line.fill, anchor=line.anchor,
                  **_shaping(line.direction, spec.get("lang")))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def layout_bar_chart(spec: dict[str, Any]) -> ChartLayout:
    """The chart's layout: labels above their bars, figures beside them, mirrored for RTL."""
    bars = list(spec.get("bars") or [])
    title = str(spec.get("title") or "")
    labels = [str(bar.get("label", "")) for bar in bars]
    rtl = direction_of(" ".join([title, *labels])) == "rtl"
    setter = _Setter(rtl, spec.get("lang"))
    content = WIDTH - 2 * MARGIN
    start = WIDTH - MARGIN if rtl else MARGIN
    title_lines, y = setter.lines(title, TITLE_SIZE, INK, MARGIN, start, content, TITLE_LINES)
    y += TITLE_GAP
    figures = [str(bar.get("text", "")) for bar in bars]
    track = content - FIGURE_GAP - max((ceil(setter.width(text, LABEL_SIZE))
                                        for text in figures), default=0)
    rows = []
    for bar, label, figure in zip(bars, labels, figures, strict=True):
        label_lines, y = setter.lines(label, LABEL_SIZE, INK, y, start, content, LABEL_LINES)
        y += LABEL_GAP
        left = WIDTH - MARGIN - track if rtl else MARGIN
        lane = Box(left, y, left + track, y + BAR_HEIGHT)
        ratio = min(1.0, max(0.0, float(bar.get("ratio") or 0)))
        beside = lane.left - FIGURE_GAP if rtl else lane.right + FIGURE_GAP
        middle = lane.top + (BAR_HEIGHT - setter.height(figure, LABEL_SIZE)) // 2
        rows.append(Row(label_lines, lane, _bar_in(lane, ratio, rtl), bool(bar.get("highlight")),
                        setter.line(figure, LABEL_SIZE, INK, middle, beside)))
        y = lane.bottom + ROW_GAP
    note_lines, y = setter.lines(str(spec.get("note") or ""), NOTE_SIZE, MUTED, y, start,
                                 content, 1)
    return ChartLayout(WIDTH, y + MARGIN, rtl, title_lines, rows,
                       note_lines[0] if note_lines else None)


def _bar_in(lane: Box, ratio: float, rtl: bool) -> Box | None:
    """The filled part of a bar's lane, from its start edge; a sliver for any share above 0."""
    if ratio <= 0:
        return None
    length = max(2, round((lane.right - lane.left) * ratio))
    if rtl:
        return Box(lane.right - length, lane.top, lane.right, lane.bottom)
    return Box(lane.left, lane.top, lane.left + length, lane.bottom)


def texts_of(layout: ChartLayout) -> list[Line]:
    """Every line of text on the chart: title, labels, figures and note."""
    rows = [line for row in layout.rows for line in (*row.label, row.figure)]
    return [*layout.title, *rows, *([layout.note] if layout.note else [])]


def direction_of(text: str, default: str = "ltr") -> str:
    """"rtl" or "ltr", as the text's first strong character says (Unicode's rule P2)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return default


class _Setter:
    """Sets lines of text from the chart's start edge, measured with the fonts that draw them."""

    def __init__(self, rtl: bool, language: str | None) -> None:
        self.rtl = rtl
        self.language = language
        self.draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def direction(self, text: str) -> str:
        return direction_of(text, "rtl" if self.rtl else "ltr")

    def width(self, text: str, size: int) -> float:
        return self.draw.textlength(text, font=font_for(text, size),
                                    **_shaping(self.direction(text), self.language))

    def height(self, text: str, size: int) -> int:
        return self.line(text, size, INK, 0, 0).bottom

    def line(self, text: str, size: int, fill: str, top: int, x: int) -> Line:
        """`text` on a line whose ink starts at `top` or below, its start edge at `x`."""
        font = font_for(text, size)
        anchor = "rs" if self.rtl else "ls"
        direction = self.direction(text)
        left, high, right, low = self.draw.textbbox((0, 0), text, font=font, anchor=anchor,
                                                    **_shaping(direction, self.language))
        ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) \
            else (size, 0)
        baseline = top + max(ascent, ceil(-high))
        return Line(text, x, baseline, anchor, size, fill, direction,
                    Box(x + floor(left), baseline + floor(high), x + ceil(right),
                        baseline + ceil(low)), baseline + max(descent, ceil(low)))

    def lines(self, text: str, size: int, fill: str, top: int, x: int, width: int,
              most: int) -> tuple[list[Line], int]:
        """`text` wrapped to `width` in at most `most` lines, and where the next thing goes."""
        placed = []
        for words in self.wrap(text, size, width, most):
            placed.append(self.line(words, size, fill, top, x))
            top = placed[-1].bottom
        return placed, top

    def wrap(self, text: str, size: int, width: int, most: int) -> list[str]:
        """Words filled into lines that fit `width`; what is left over goes to the last one."""
        lines: list[str] = []
        for word in text.split():
            candidate = f"{lines[-1]} {word}" if lines else word
            if lines and self.width(candidate, size) <= width:
                lines[-1] = candidate
            else:
                lines.append(word)
        if len(lines) > most:
            lines = [*lines[:most - 1], " ".join(lines[most - 1:])]
        return [line if self.width(line, size) <= width else self.cut(line, size, width)
                for line in lines]

    def cut(self, text: str, size: int, width: int) -> str:
        """The longest start of `text` that fits `width` with an ellipsis after it."""
        end = len(text)
        while end > 1 and self.width(text[:end] + ELLIPSIS, size) > width:
            end -= 1
            while end > 1 and unicodedata.category(text[end])[0] == "M":
                end -= 1  # never strip a vowel sign or mark from its letter
        return text[:end].rstrip() + ELLIPSIS


def _shaping(direction: str, language: str | None) -> dict[str, Any]:
    """Raqm's direction and language for a text (the basic layout knows neither)."""
    if not RAQM:
        return {}
    return {"direction": direction} | ({"language": str(language)} if language else {})


def _corners(box: Box) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right - 1, box.bottom - 1


# --- fonts by what they cover --------------------------------------------------------------

@dataclass(frozen=True)
class FontFile:
    """An installed font: where it is, which code points it draws, and how plain it is."""

    path: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    covered: int  # how many code points: a font made for one script covers few
    oddness: int  # 0 for an upright, regular, proportional sans; one more for each way not
    preferred: bool  # from HEARD_FONTS_DIR

    def draws(self, char: str) -> bool:
        """Whether the font has a glyph for `char` (its character map says so)."""
        at = bisect_right(self.starts, ord(char)) - 1
        return at >= 0 and ord(char) <= self.ends[at]


def font_for(text: str, size: int) -> Font:
    """An installed font that has every character of `text` (or as many as any font has)."""
    return _loaded(font_path_for(text), size)


def font_path_for(text: str) -> str | None:
    """The file of the font `font_for` draws `text` with; None if no font is installed."""
    return _best_font(frozenset(char for char in text if unicodedata.category(char)[0]
                                not in "ZC"), _is_latin(text))


def _is_latin(text: str) -> bool:
    """No letter or digit past Latin Extended-B: many script fonts carry Latin too, so the
    fallbacks, made for it, come first."""
    return not any(ord(char) > 0x24F and unicodedata.category(char)[0] in "LN" for char in text)


@lru_cache(maxsize=4096)
def _best_font(chars: frozenset[str], latin: bool) -> str | None:
    """The font missing fewest letters, then other characters, then the plainest; of those the
    one with most characters of the text's scripts: a font made for them, not one that has a
    few."""
    def fit(font: FontFile) -> tuple[int, ...]:
        missing = [char for char in chars if not font.draws(char)]
        letters = sum(unicodedata.category(char)[0] in "LMN" for char in missing)
        name = Path(font.path).name
        fallback = FALLBACKS.index(name) if latin and name in FALLBACKS else len(FALLBACKS)
        return letters, len(missing) - letters, fallback, not font.preferred, font.oddness

    fitting = [(fit(font), font) for font in _installed_fonts()]
    if not fitting:
        return None
    best = min(rank for rank, _ in fitting)
    scripts = {_script_of(char) for char in chars if unicodedata.category(char)[0] == "L"}
    return max((font for rank, font in fitting if rank == best),
               key=lambda font: (sum(_scripts_drawn(font)[script] for script in scripts),
                                 -font.covered)).path


def _script_of(char: str) -> str:
    """The script a character's Unicode name starts with: ARABIC, BENGALI, OL (Chiki)…"""
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


@cache
def _scripts_drawn(font: FontFile) -> Counter[str]:
    """How many letters of each script the font draws."""
    return Counter(_script_of(chr(code)) for start, end in zip(font.starts, font.ends,
                                                               strict=True)
                   for code in range(start, end + 1)
                   if unicodedata.category(chr(code))[0] == "L")


@cache
def _loaded(path: str | None, size: int) -> Font:
    if path is None:
        return ImageFont.load_default(size)
    layout = ImageFont.Layout.RAQM if RAQM else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, layout_engine=layout)


@cache
def _installed_fonts() -> tuple[FontFile, ...]:
    """Every readable TrueType/OpenType font installed; a HEARD_FONTS_DIR file shadows its name."""
    found: dict[str, FontFile] = {}
    extra = os.environ.get("HEARD_FONTS_DIR")
    for folder in ((extra,) if extra else ()) + FONT_DIRS:
        root = Path(folder)
        if root.is_dir():
            for path in sorted(root.rglob("*.[ot]tf")):
                if path.name not in found:
                    font = _read_font(path, preferred=folder == extra)
                    if font is not None:
                        found[path.name] = font
    return tuple(found.values())


def _read_font(path: Path, preferred: bool) -> FontFile | None:
    """The font's character map and style, read from its cmap, OS/2 and post tables."""
    try:
        data = path.read_bytes()
        tables = _tables(data)
        ranges = sorted(_character_map(data, tables["cmap"]))
        oddness = _oddness(data, tables.get("OS/2"), tables.get("post"))
    except (KeyError, ValueError, struct.error, OSError):
        return None
    return FontFile(str(path), tuple(start for start, _ in ranges),
                    tuple(end for _, end in ranges),
                    sum(end - start + 1 for start, end in ranges), oddness, preferred)


def _tables(data: bytes) -> dict[str, int]:
    """Where each table of an OpenType file starts."""
    count = struct.unpack_from(">H", data, 4)[0]
    return {tag.decode("latin-1"): offset for tag, _, offset, _ in
            (struct.unpack_from(">4sIII", data, 12 + 16 * index) for index in range(count))}


def _character_map(data: bytes, cmap: int) -> list[tuple[int, int]]:
    """Code point ranges with a glyph, from the font's Unicode cmap subtable."""
    count = struct.unpack_from(">H", data, cmap + 2)[0]
    subtables = {}
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * index)
        subtables[(platform, encoding, struct.unpack_from(">H", data, cmap + offset)[0])] = \
            cmap + offset
    for key in ((3, 10, 12), (0, 4, 12), (0, 6, 12), (3, 1, 4), (0, 3, 4), (0, 1, 4)):
        if key in subtables:
            read = _groups if key[2] == 12 else _segments
            return read(data, subtables[key])
    raise ValueError("no Unicode character map")


def _groups(data: bytes, at: int) -> list[tuple[int, int]]:
    """Format 12: ranges of code points mapped to consecutive glyphs."""
    count = struct.unpack_from(">I", data, at + 12)[0]
    return [(start + (glyph == 0), end) for start, end, glyph in
            (struct.unpack_from(">III", data, at + 16 + 12 * index) for index in range(count))
            if start + (glyph == 0) <= end]


def _segments(data: bytes, at: int) -> list[tuple[int, int]]:
    """Format 4: segments of the Basic Multilingual Plane, glyphs by delta or by lookup."""
    count = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends = struct.unpack_from(f">{count}H", data, at + 14)
    starts = struct.unpack_from(f">{count}H", data, at + 16 + 2 * count)
    deltas = struct.unpack_from(f">{count}H", data, at + 16 + 4 * count)
    lookups = at + 16 + 6 * count
    offsets = struct.unpack_from(f">{count}H", data, lookups)
    ranges: list[tuple[int, int]] = []
    for index, (start, end, delta, offset) in enumerate(zip(starts, ends, deltas, offsets,
                                                            strict=True)):
        if start == 0xFFFF:
            continue
        if offset == 0:  # glyph = code + delta: .notdef (no glyph) for at most one code
            blank = -delta % 0x10000
            ranges.extend(part for part in ((start, min(end, blank - 1)),
                                            (max(start, blank + 1), end)) if part[0] <= part[1])
            continue
        for code in range(start, end + 1):
            place = lookups + 2 * index + offset + 2 * (code - start)
            if struct.unpack_from(">H", data, place)[0]:
                ranges.append((code, code))
    return ranges


def _oddness(data: bytes, os2: int | None, post: int | None) -> int:
    """0 for an upright, regular-weight, normal-width, proportional sans; +1 for each not."""
    if os2 is None:
        return 1
    weight, width = struct.unpack_from(">HH", data, os2 + 4)
    serif_style = data[os2 + 33]  # PANOSE: 2-10 are serifs, 11-13 sans
    selection = struct.unpack_from(">H", data, os2 + 62)[0]
    italic, bold = selection & 1, selection >> 5 & 1
    fixed = bool(struct.unpack_from(">I", data, post + 12)[0]) if post is not None else False
    return (weight != 400 or bold) + (width != 5) + italic + fixed + (2 <= serif_style <= 10)
