from __future__ import annotations

import pytest

from sms.segments import count_segments


@pytest.mark.parametrize("text,encoding,units,count", [
    ("", "GSM-7", 0, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),          # extension characters count double
    ("{" * 81, "GSM-7", 162, 2),
    ("Ñandù éà", "GSM-7", 8, 1),
    ("ক" * 70, "UCS-2", 70, 1),
    ("ক" * 71, "UCS-2", 71, 2),
    ("a" * 134 + "ক", "UCS-2", 135, 3),   # one Bengali letter turns the whole text to UCS-2
    ("😀" * 35, "UCS-2", 70, 1),           # outside the BMP: two UTF-16 units each
    ("ç", "UCS-2", 1, 1),                  # lower-case ç is not in GSM-7 (only Ç is)
])
def test_count_segments(text, encoding, units, count):
    segments = count_segments(text)
    assert (segments.encoding, segments.units, segments.count) == (encoding, units, count)
