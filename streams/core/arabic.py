"""Arabic text normalisation for matching, with offsets back into the original text.

Normalised text is only ever used to *find* things; what people see is the original text.
Every normalised character therefore remembers the index of the original character it came
from, so a match in normalised space maps back to an exact span of the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters dropped entirely: harakat and Quranic marks, tatweel, zero-width and bidi controls.
_DROP = frozenset(
    [chr(c) for c in range(0x064B, 0x0660)]  # fathatan … sukun, maddah, hamza above/below, …
    + [chr(0x0670)]  # superscript alef
    + [chr(c) for c in range(0x0610, 0x061B)]  # honorifics and small high letters
    + [chr(c) for c in range(0x06D6, 0x06EE)]  # Quranic annotation marks
    + [chr(0x0640)]  # tatweel
    + [chr(c) for c in range(0x200B, 0x2010)]  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    + [chr(c) for c in range(0x202A, 0x202F)]  # LRE … RLO, PDF
    + [chr(c) for c in range(0x2066, 0x206A)]  # LRI … PDI
    + [chr(0xFEFF), chr(0x061C), chr(0x00AD)]  # BOM, Arabic letter mark, soft hyphen
)

# Letter variants folded to one form. Persian/Urdu/Kurdish letters appear in Iraqi (Kurdish)
# and Iranian names, and copy-paste from those keyboards is common in Arabic news.
_FOLD: dict[str, str] = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ٵ": "ا",
    "ؤ": "و",
    "ٶ": "و",
    "ۆ": "و",
    "ۇ": "و",
    "ۈ": "و",
    "ۋ": "و",
    "ئ": "ي",
    "ى": "ي",
    "ی": "ي",
    "ې": "ي",
    "ێ": "ي",
    "ۍ": "ي",
    "ٸ": "ي",
    "ة": "ه",
    "ە": "ه",
    "ھ": "ه",
    "ۀ": "ه",
    "ہ": "ه",
    "ۃ": "ه",
    "ک": "ك",
    "ڪ": "ك",
    "گ": "ك",
}
# Both Arabic-Indic digit sets (U+0660… and the Persian U+06F0…) become ASCII digits.
for _i in range(10):
    _FOLD[chr(0x0660 + _i)] = str(_i)
    _FOLD[chr(0x06F0 + _i)] = str(_i)
_FOLD["٫"] = "."  # Arabic decimal separator
_FOLD["٬"] = ","  # Arabic thousands separator


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """Normalise one original character to zero or more normalised characters."""
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c in _DROP:
            continue
        c = _FOLD.get(c, c)
        out.append(c.casefold() if c.isascii() else c)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus, for each of its characters, the index in the original text.

    `offsets` has one more entry than `text`: the original length, so that an exclusive end
    offset maps back too.
    """

    original: str
    text: str
    offsets: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text to a span of the original text.

        The span runs over dropped characters (harakat, tatweel) that trail its last letter,
        so highlighting «خطاً» covers the tanween too.
        """
        if start >= end:
            pos = self.offsets[start]
            return pos, pos
        orig_start = self.offsets[start]
        orig_end = self.offsets[end - 1] + 1
        limit = self.offsets[end]
        while orig_end < limit and not _fold_char(self.original[orig_end]):
            orig_end += 1
        return orig_start, orig_end


class _Table(dict[int, str]):
    """A `str.translate` table filled on first use: code point → its folded text (or, with
    `lengths`, one character whose code is the folded length). Translating in C is ~20× faster
    than folding character by character in Python; the size cap keeps memory bounded whatever
    code points hostile input brings (beyond it, values are computed and not stored)."""

    _CAP = 65536

    def __init__(self, lengths: bool) -> None:
        super().__init__()
        self._lengths = lengths

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        value = chr(len(folded)) if self._lengths else folded
        if len(self) < self._CAP:
            self[code] = value
        return value


_FOLD_TABLE = _Table(lengths=False)
_LENGTH_TABLE = _Table(lengths=True)
_NOT_ONE = re.compile("[^\x01]")  # a character that folds to zero or several characters


def normalize(text: str) -> str:
    """Normalise text for matching (no offsets)."""
    return text.translate(_FOLD_TABLE)


def normalize_with_offsets(text: str) -> Normalized:
    """Normalise text and keep, for every output character, its original index."""
    # Most characters fold to exactly one: offsets are runs of consecutive indexes, broken
    # only where a character is dropped (harakat, tatweel) or expands (ligatures).
    lengths = text.translate(_LENGTH_TABLE)
    offsets: list[int] = []
    run_start = 0
    for m in _NOT_ONE.finditer(lengths):
        i = m.start()
        offsets.extend(range(run_start, i))
        offsets.extend([i] * ord(m.group()))
        run_start = i + 1
    offsets.extend(range(run_start, len(text) + 1))
    return Normalized(text, text.translate(_FOLD_TABLE), tuple(offsets))


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised word and its [start, end) span in the original text."""

    text: str
    start: int
    end: int


_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[Token]:
    """Split text into normalised word tokens, each with its span in the original text."""
    return list(_tokenize_cached(text))


# Region and topic classification tokenise the same title and body one after the other: a
# few recent results are kept (short texts only, so memory stays bounded).
_CACHE_MAX_CHARS = 200_000


@lru_cache(maxsize=8)
def _tokenize_recent(text: str) -> tuple[Token, ...]:
    return tuple(tokenize_normalized(normalize_with_offsets(text)))


def _tokenize_cached(text: str) -> tuple[Token, ...]:
    if len(text) > _CACHE_MAX_CHARS:
        return tuple(tokenize_normalized(normalize_with_offsets(text)))
    return _tokenize_recent(text)


def tokenize_normalized(norm: Normalized) -> list[Token]:
    """Tokens of already-normalised text (avoids normalising twice on the hot path)."""
    # `Normalized.original_span` inlined: this loop runs for every word of every article.
    tokens: list[Token] = []
    append = tokens.append
    offsets, original = norm.offsets, norm.original
    for m in _WORD.finditer(norm.text):
        start, end = m.span()  # a \w+ match is never empty
        orig_end = offsets[end - 1] + 1
        limit = offsets[end]
        while orig_end < limit and not _fold_char(original[orig_end]):
            orig_end += 1
        append(Token(m.group(), offsets[start], orig_end))
    return tokens
