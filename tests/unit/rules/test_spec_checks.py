"""The rule checks' character tests (`streams.rules.spec`) written as regular expressions give
the same answers as the per-character definitions they replaced."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from streams.rules import RuleError, parse_rule
from streams.rules.spec import _CONTROL_CHAR, _REGEX_CHAR, _REGEX_CHARS, _is_slug

# every code point up to the end of Arabic Presentation Forms-B, and some beyond
CHARS = [chr(c) for c in itertools.chain(range(0x10000), range(0x1F600, 0x1F650), [0x10FFFF])]


def _slug_before(value: str) -> bool:
    if not value or value[0] in "-_" or value[-1] in "-_":
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") and not ch.isupper() for ch in value)


def test_control_characters_are_exactly_category_cc() -> None:
    for ch in CHARS:
        assert (_CONTROL_CHAR.search(ch) is not None) == (unicodedata.category(ch) == "Cc"), ch


def test_regex_characters_are_exactly_the_set() -> None:
    for ch in CHARS:
        assert (_REGEX_CHAR.search(ch) is not None) == (ch in _REGEX_CHARS), ch


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a",
        "-",
        "_",
        "red-line",
        "red_line",
        "red-line-",
        "-red-line",
        "_red",
        "red_",
        "Red-line",
        "red line",
        "r3d-l1n3",
        "9",
        "a--b",
        "a\n",
        "a\nb",
        "ﬁre",  # a ligature: not ASCII
        "٣",  # an Arabic-Indic digit: isalnum, not ASCII
        "ärger",
        "rule.one",
        "İ",
    ],
)
def test_slug_is_what_it_was(value: str) -> None:
    assert _is_slug(value) == _slug_before(value)


def test_slug_agrees_on_every_short_string_of_an_edge_alphabet() -> None:
    alphabet = "aZ0-_. \n٣é"
    for n in range(4):
        for chars in itertools.product(alphabet, repeat=n):
            value = "".join(chars)
            assert _is_slug(value) == _slug_before(value), repr(value)


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("مترو|قطار", "regex syntax is not supported in phrase 'مترو|قطار' (found |)"),
        ("(سد) [النهضة]", "found ( ) [ ]"),
        ("سد\x07النهضة", "control character"),
        ("سد\u0085النهضة", "control character"),  # NEL: Cc beyond ASCII
        ("سد\u200fالنهضة", None),  # a right-to-left mark is Cf, not Cc: allowed
        ("سد النهضة", None),
    ],
)
def test_phrase_checks_report_as_before(phrase: str, problem: str | None) -> None:
    raw = {"id": "r", "title": "t", "severity": "low", "match": {"phrase": [phrase]}}
    if problem is None:
        parse_rule(raw)
        return
    with pytest.raises(RuleError) as err:
        parse_rule(raw)
    assert problem in str(err.value.problems[0])
