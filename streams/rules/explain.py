"""Snippets: the original context around a match, kept within its line, cut at spaces."""

from __future__ import annotations

import re

SNIPPET_CONTEXT = 60  # characters of original context on each side of a match


_LINE_BREAKS = "\n\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85"
_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}]")
_LAST_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}](?=[^{_LINE_BREAKS}]*\\Z)")
_FIRST_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CONTEXT) -> str:
    """Up to `width` characters of context each side, kept within the line, cut at spaces."""
    left_from = max(0, start - width)
    left = text[left_from:start]
    cut = _LAST_LINE_BREAK.search(left)
    if cut is not None:
        left = left[cut.end() :]
    elif left_from > 0 and not text[left_from - 1].isspace() and not left[:1].isspace():
        space = _FIRST_SPACE.search(left)
        left = left[space.start() :] if space else ""  # drop the partial first word

    right_to = min(len(text), end + width)
    right = text[end:right_to]
    first = _LINE_BREAK.search(right)
    if first is not None:
        right = right[: first.start()]
    elif right_to < len(text) and not text[right_to].isspace() and not right[-1:].isspace():
        space = _LAST_SPACE.search(right)
        right = right[: space.start()] if space else ""  # drop the partial last word
    return " ".join((left + text[start:end] + right).split())
