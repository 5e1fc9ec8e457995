"""`clean`'s patterns, written so the regex engine can skip to their first characters (issue 13,
round nine), blank exactly what the patterns they replace blanked."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.classify.topics import _FURNITURE, _JOINED, _blank, clean

# the patterns as they were written before (each tried at every position of a text)
_FURNITURE_BEFORE = re.compile(r"\bRT\s*@\w+:?|@\w+|(?:https?://|www\.)\S+", re.ASCII)
_JOINED_BEFORE = re.compile(r"(?<=[^\W\d_])_+(?=[^\W\d_])")

_PIECES = [
    "R",
    "T",
    "RT",
    "xRT",
    "بRT",
    "_RT",
    "@",
    "@ab_c",
    ":",
    "_",
    "__",
    "h",
    "http",
    "https://",
    "www.",
    "www",
    ".",
    "/",
    "a",
    "1",
    "٣",
    "هجوم",
    "ب",
    "#",
    "é",
]
_texts = st.lists(st.sampled_from([*_PIECES, " ", "\n"]), max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(_texts)
def test_the_patterns_blank_what_they_blanked(text: str) -> None:
    assert _FURNITURE.sub(_blank, text) == _FURNITURE_BEFORE.sub(_blank, text)
    assert _JOINED.sub(_blank, text) == _JOINED_BEFORE.sub(_blank, text)


def test_clean_blanks_furniture_and_splits_hashtags() -> None:
    text = "RT @newsiq: #هجوم_مسلح في بغداد https://t.co/xy و@user1 xRT @a"
    cleaned = clean(text)
    assert len(cleaned) == len(text)
    assert cleaned.split() == ["#هجوم", "مسلح", "في", "بغداد", "و", "xRT"]
