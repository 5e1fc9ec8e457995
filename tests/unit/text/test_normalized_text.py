"""`Normalized.text` (the folded text, «ة» as «ه») is made when first asked for (issue 13, round
fifteen): tokenising reads only `kept_ta_marbuta`, so no field pays for a second full-length
copy; asked for, it is what `normalize` gives, and the same object on every later read."""

from __future__ import annotations

import re

import pytest

from streams.text.arabic import Normalized, normalize, normalize_with_offsets, tokenize

TEXTS = [
    pytest.param("", id="empty"),
    pytest.param("خطة السلام", id="ta-marbuta"),
    pytest.param("مدينةُ الموصلِ", id="ta-marbuta-and-harakat"),
    pytest.param("ﷲ أكبر", id="ligature-expands"),
    pytest.param("خطـــوط حمراء", id="tatweel"),
    pytest.param("ۃ ة ه", id="both-ta-marbutas"),
    pytest.param("RT @AJABreaking: عاجل | ١٢٣", id="latin-and-digits"),
]


@pytest.mark.parametrize("original", TEXTS)
def test_text_is_normalize_made_on_first_use(original: str) -> None:
    norm = normalize_with_offsets(original)
    assert norm._text is None  # not made yet
    assert norm.kept_ta_marbuta.replace("ة", "ه") == normalize(original)
    text = norm.text
    assert text == normalize(original)
    assert norm.text is text  # made once
    assert "ة" not in text and "ۃ" not in text


@pytest.mark.parametrize("original", TEXTS)
def test_tokenising_does_not_make_the_folded_text(original: str) -> None:
    tokens = tokenize(original + " تجربة")  # a text no other test tokenised (a fresh result)
    assert tokens.norm._text is None
    assert tokens.words == re.findall(r"\w+", tokens.norm.text)  # the words are the folded text's
    assert tokens.norm._text is not None  # asked for just now


@pytest.mark.parametrize("original", TEXTS)
def test_equality_and_hash_read_the_folded_text(original: str) -> None:
    a, b = normalize_with_offsets(original), normalize_with_offsets(original)
    assert a == b and hash(a) == hash(b)
    given = Normalized(a.original, normalize(original), a._starts, a._origins, a.kept_ta_marbuta)
    assert given == a and given.text is given._text
