"""Telegram's bar charts: every script drawn with a font that has it, right-to-left mirrored.

Real fonts (Debian's fonts-noto-core), real Pillow with Raqm, real PNGs read back pixel by
pixel: a label is in a font whose glyphs are not the empty box, and no label ink is in a bar.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageFont, features

from bot import charts
from bot.charts import Box, font_for, font_path_for, layout_bar_chart, render_bar_chart, texts_of

SCRIPTS = {"Arabic": "مياه الشرب", "Urdu": "پانی کہاں سے ملتا ہے؟", "Bengali": "বাড়িতে কল",
           "Devanagari": "घर पर नल", "Tamil": "வீட்டில் குழாய்",
           "Inuktitut syllabics": "ᐃᓄᒃᑎᑐᑦ", "Santali (Ol Chiki)": "ᱥᱟᱱᱛᱟᱲᱤ"}
UNASSIGNED = "\u0378"  # no character: every font draws its .notdef box for it
ARABIC = {"title": "من أين تحصل عائلتك على مياه الشرب في أغلب أيام الأسبوع؟",
          "bars": [{"label": "صنبور داخل المنزل أو في الفناء المشترك مع الجيران", "ratio": 0.55,
                    "text": "٥٥٪"},
                   {"label": "بئر عامة بعيدة عن القرية ويستغرق الوصول إليها ساعة كاملة سيرا "
                             "على الأقدام في الحر الشديد", "ratio": 0.3, "text": "٣٠٪",
                    "highlight": True},
                   {"label": "پانی کا ٹینکر جو ہفتے میں ایک بار محلے میں آتا ہے اور مہنگا ہے",
                    "ratio": 1.0, "text": "١٠٠٪"},
                   {"label": "دریا یا نہر سے", "ratio": 0.02, "text": "٢٪"}],
          "note": "لا تظهر الإجابات التي قدمها عدد قليل جدا من الناس."}
ENGLISH = {"title": "Where does your family get drinking water on most days of the week?",
           "bars": [{"label": "A tap inside the house or in the yard shared with the neighbours",
                     "ratio": 0.55, "text": "55%"},
                    {"label": "Public well", "ratio": 1.0, "text": "100%", "highlight": True}]}


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    """Font look-ups made again (HEARD_FONTS_DIR is read when the fonts are first listed)."""
    caches = (charts._installed_fonts, charts._best_font, charts._loaded)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def glyph(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, char: str) -> bytes:
    return bytes(font.getmask(char))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_gets_a_font_that_has_its_letters(script):
    text = SCRIPTS[script]
    font = font_for(text, 40)
    assert isinstance(font, ImageFont.FreeTypeFont)
    box = glyph(font, UNASSIGNED)
    for char in set(text) - {" "}:
        assert glyph(font, char) != box, f"{script}: {char!r} drawn as the empty box " \
                                         f"by {font_path_for(text)}"
    if shutil.which("fc-list"):  # fontconfig, asked on its own, agrees the font has them
        charset = " ".join(f"{ord(char):x}" for char in set(text) - {" "})
        having = subprocess.run(["fc-list", f":charset={charset}", "file"], check=True,
                                capture_output=True, text=True).stdout
        assert f"{font_path_for(text)}:" in having


def test_the_font_is_made_for_the_script_not_one_that_has_a_few_of_its_letters():
    assert Path(font_path_for("Tap at home")).name == "NotoSans-Regular.ttf"
    assert Path(font_path_for(SCRIPTS["Inuktitut syllabics"])).name == \
        "NotoSansCanadianAboriginal-Regular.ttf"  # DejaVu Sans has some syllabics too
    for text in SCRIPTS.values():
        regular = ImageFont.truetype(font_path_for(text), 12).getname()[1]
        assert regular in ("Regular", "Book")


def test_fonts_in_heard_fonts_dir_come_first(tmp_path, monkeypatch, fresh_fonts):
    own = tmp_path / "OurArabic.ttf"
    shutil.copy(font_path_for(SCRIPTS["Arabic"]), own)
    monkeypatch.setenv("HEARD_FONTS_DIR", str(tmp_path))
    charts._installed_fonts.cache_clear()
    charts._best_font.cache_clear()
    assert font_path_for(SCRIPTS["Arabic"]) == str(own)
    assert Path(font_path_for("Tap at home")).name == "NotoSans-Regular.ttf"  # it has no Latin


def pixels(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def colours_in(image: Image.Image, box: Box) -> set[tuple[int, int, int]]:
    return {colour for _, colour in
            image.crop((box.left, box.top, box.right, box.bottom)).getcolors(1 << 20)}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[at:at + 2], 16) for at in (1, 3, 5))


@pytest.mark.parametrize("spec", [ARABIC, ENGLISH], ids=["arabic-urdu", "english"])
def test_no_label_ink_falls_in_a_bar(spec):
    layout = layout_bar_chart(spec)
    image = pixels(render_bar_chart(spec))
    assert image.size == (layout.width, layout.height)
    texts = texts_of(layout)
    tracks = [row.track for row in layout.rows]
    for line in texts:
        assert line.box.left >= 0 and line.box.right <= layout.width, line.text
        assert not any(line.box.meets(track) for track in tracks), line.text
        assert len(colours_in(image, line.box)) > 3, f"nothing drawn for {line.text!r}"
    bar_colours = {rgb(charts.TRACK), rgb(charts.BAR), rgb(charts.HIGHLIGHT)}
    for track in tracks:
        assert colours_in(image, track) <= bar_colours  # no text pixel on a bar
    inked = Image.new("1", image.size, 0)  # where the layout says anything may be drawn
    for box in [line.box for line in texts] + tracks:
        inked.paste(1, (box.left, box.top, box.right, box.bottom))
    white = rgb(charts.BACKGROUND)
    stray = [(x, y) for y in range(image.height) for x in range(image.width)
             if not inked.getpixel((x, y)) and image.getpixel((x, y)) != white]
    assert stray == []  # all ink is inside the boxes the layout measured


def test_a_right_to_left_chart_is_mirrored():
    layout = layout_bar_chart(ARABIC)
    image = pixels(render_bar_chart(ARABIC))
    assert layout.right_to_left
    end = layout.width - charts.MARGIN
    assert all(line.direction == "rtl" for line in layout.title)
    for row in layout.rows:
        assert all(end - 3 <= line.box.right <= end for line in row.label)  # set from the right
        assert row.bar is not None and row.bar.right == row.track.right == end
        assert row.figure.box.right <= row.track.left  # figures on the left
        middle = (row.track.top + row.track.bottom) // 2
        assert image.getpixel((row.track.right - 1, middle)) in {rgb(charts.BAR),
                                                                  rgb(charts.HIGHLIGHT)}
    short = layout.rows[-1]  # 2 %: a sliver at the right, the rest of the track empty
    assert image.getpixel((short.track.left, (short.track.top + short.track.bottom) // 2)) \
        == rgb(charts.TRACK)
    english = layout_bar_chart(ENGLISH)
    assert not english.right_to_left
    assert all(row.bar.left == row.track.left == charts.MARGIN for row in english.rows)


def label_ink(spec: dict) -> Image.Image:
    """The first label of the chart as drawn, cropped to its ink, as black on white."""
    line = layout_bar_chart(spec).rows[0].label[0]
    image = pixels(render_bar_chart(spec)).convert("L")
    crop = image.crop((line.box.left, line.box.top, line.box.right, line.box.bottom))
    return crop.point(lambda value: 255 if value < 128 else 0).crop(
        crop.point(lambda value: 255 if value < 128 else 0).getbbox())


@pytest.mark.skipif(not features.check("raqm"), reason="Pillow without libraqm shapes nothing")
def test_arabic_is_joined_and_read_from_the_right():
    joined = label_ink({"title": "", "bars": [{"label": "بببببب", "ratio": 0.5, "text": ""}]})
    columns = [any(joined.getpixel((x, y)) for y in range(joined.height))
               for x in range(joined.width)]
    assert all(columns), "the letters do not join: a column without ink between them"
    alef_first = label_ink({"title": "", "bars": [{"label": "اب", "ratio": 0.5, "text": ""}]})
    tall = [x for x in range(alef_first.width) if alef_first.getpixel((x, 0))]
    assert tall and min(tall) > alef_first.width / 2  # the alef, first, stands on the right
    assert unicodedata.bidirectional("ا") == "AL"


def test_an_overlong_word_is_cut_to_fit_with_an_ellipsis():
    word = "ᐃᓄᒃᑎᑐᑦ" * 30
    layout = layout_bar_chart({"title": word, "bars": [{"label": word, "ratio": 1, "text": "1"}]})
    for line in texts_of(layout)[:2]:
        assert line.text.endswith(charts.ELLIPSIS) and line.box.right <= layout.width
