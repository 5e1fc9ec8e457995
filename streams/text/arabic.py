"""Arabic text normalisation for matching, with offsets back into the original text.

Normalised text is only ever used to *find* things; what people see is the original text.
Every normalised character therefore remembers the index of the original character it came
from, so a match in normalised space maps back to an exact span of the original.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, islice
from typing import overload

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


_TA_MARBUTA = frozenset({"ة", "ۃ"})


@lru_cache(maxsize=8192)
def _fold_char(ch: str, keep_ta_marbuta: bool = False) -> str:
    """Normalise one original character to zero or more normalised characters.

    `keep_ta_marbuta` keeps «ة» (and «ۃ») as «ة» instead of folding it to «ه»: the rule matcher
    needs to know which «ه» was a «ة» (see `words_keeping_ta_marbuta`).
    """
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c in _DROP:
            continue
        c = "ة" if keep_ta_marbuta and c in _TA_MARBUTA else _FOLD.get(c, c)
        out.append(c.casefold() if c.isascii() else c)
    return "".join(out)


class Normalized:
    """Normalised text plus the map from each of its characters to the original text.

    The map is kept as runs (most characters fold to exactly one, so a run is long) and looked
    up with a binary search: building one integer per character cost more than the rest of
    tokenising, and most articles only ever map a few spans back.
    """

    __slots__ = ("_origins", "_starts", "_text", "kept_ta_marbuta", "original")

    def __init__(
        self, original: str, text: str | None, starts: list[int], origins: list[int], kept_ta: str
    ) -> None:
        self.original = original
        self._text = text  # None: made from `kept_ta_marbuta` when first asked for (`text`)
        self.kept_ta_marbuta = kept_ta  # `text` with «ة» left as it is
        # Normalised index starts[k] onwards maps to origins[k] onwards, one to one; a later
        # run with the same start overrides an earlier one (a dropped character).
        self._starts = starts
        self._origins = origins

    @property
    def text(self) -> str:
        """The normalised text («ة» folded to «ه»). Made on first use: the hot path reads only
        `kept_ta_marbuta` (`Tokens` folds its words itself), so a field's second full-length
        copy is neither made nor kept (issue 13, round fifteen)."""
        text = self._text
        if text is None:
            text = self._text = self.kept_ta_marbuta.replace("ة", "ه")
        return text

    @property
    def is_identity(self) -> bool:
        """Whether every character folded to exactly one (indexes are the same in both)."""
        return len(self._starts) == 1

    def offset(self, index: int) -> int:
        """Index in the original text of normalised character `index` (len(text) → len(original))."""
        starts = self._starts
        if len(starts) == 1:
            return index
        k = bisect_right(starts, index) - 1
        return self._origins[k] + index - starts[k]

    @property
    def offsets(self) -> tuple[int, ...]:
        """`offset(i)` for every normalised index, plus the original length at the end."""
        return tuple(self.offset(i) for i in range(len(self.text) + 1))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text to a span of the original text.

        The span runs over dropped characters (harakat, tatweel) that trail its last letter,
        so highlighting «خطاً» covers the tanween too.
        """
        starts = self._starts
        if len(starts) == 1:  # is_identity, inlined: this runs for every match
            return start, max(start, end)
        if start >= end:
            pos = self.offset(start)
            return pos, pos
        return _mapped_span(starts, self._origins, start, end)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalized):
            return NotImplemented
        return (self.original, self.text, self.offsets) == (
            other.original,
            other.text,
            other.offsets,
        )

    def __hash__(self) -> int:
        return hash((self.original, self.text))

    def __repr__(self) -> str:
        return f"Normalized({self.original!r}, {self.text!r})"


def _mapped_span(starts: list[int], origins: list[int], start: int, end: int) -> tuple[int, int]:
    """`Normalized.original_span(start, end)` for start < end and a map of several runs.

    Its start is offset(start). Its end runs from just after the original of the last
    character, offset(end - 1) + 1, over the dropped characters that follow it up to
    offset(end): every original character between those two produced no normalised character,
    so it was dropped, and the end is offset(end) itself; unless both are the same character
    (inside an expansion such as «ﷲ»), when it is offset(end - 1) + 1. Each search starts from
    the previous one's run (the three indexes only grow).
    """
    k = bisect_right(starts, start) - 1
    orig_start = origins[k] + start - starts[k]
    k = bisect_right(starts, end - 1, k) - 1
    after_last = origins[k] + end - starts[k]  # offset(end - 1) + 1
    k = bisect_right(starts, end, k) - 1
    return orig_start, max(after_last, origins[k] + end - starts[k])


class _Table(dict[int, str]):
    """A `str.translate` table filled on first use: code point → its folded text (or, with
    `lengths`, one character whose code is the folded length). Translating in C is ~20× faster
    than folding character by character in Python; the size cap keeps memory bounded whatever
    code points hostile input brings (beyond it, values are computed and not stored)."""

    _CAP = 65536

    def __init__(self, lengths: bool, keep_ta_marbuta: bool = False) -> None:
        super().__init__()
        self._lengths = lengths
        self._keep_ta = keep_ta_marbuta

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code), self._keep_ta)
        value = chr(len(folded)) if self._lengths else folded
        if len(self) < self._CAP:
            self[code] = value
        return value


_TA_TABLE = _Table(lengths=False, keep_ta_marbuta=True)
_LENGTH_TABLE = _Table(lengths=True)


def _class_of(keep: Callable[[str], bool]) -> str:
    """A regex character class of the common characters (ASCII, the Arabic block, «») for
    which `keep` holds; the fast paths below skip them and look up only the rest."""
    chars = [chr(c) for c in (*range(0x80), *range(0x600, 0x700), 0xAB, 0xBB)]
    return "".join(re.escape(ch) for ch in chars if keep(ch))


# Characters that may fold to zero or several characters: only these break the offset map.
_MAYBE_NOT_ONE = re.compile(f"[^{_class_of(lambda ch: len(_fold_char(ch)) == 1)}]")
# Runs of characters that normalisation (keeping «ة») changes. Most of an Arabic text is left as
# it is, so only these runs are translated: ~2x faster than translating the whole text. Written
# `[c][c]*`, not `[c]+`: a pattern that starts with a character class lets the regex engine skip
# to the next candidate in a tight loop (3-4x faster on Arabic text than trying every position).
_UNCHANGED = _class_of(lambda ch: _fold_char(ch, True) == ch)
_CHANGED_RUN = re.compile(f"[^{_UNCHANGED}][^{_UNCHANGED}]*")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_TA_TABLE)


def _kept_ta(text: str) -> str:
    """`text` normalised with «ة» kept. The frequent one-to-one folds (9 in 10 changed characters
    of Arabic news) go first through str.replace, a C loop per letter; what is left (harakat,
    tatweel, capitals, rare letters) goes through the run translation. Folding is per character
    and every pre-folded letter folds to itself again, so the order does not matter."""
    pre = (
        text.replace("أ", "ا")
        .replace("إ", "ا")
        .replace("ى", "ي")
        .replace("ئ", "ي")
        .replace("ؤ", "و")
        .replace("آ", "ا")
    )
    return _CHANGED_RUN.sub(_fold_run, pre)


def normalize(text: str) -> str:
    """Normalise text for matching (no offsets)."""
    return _kept_ta(text).replace("ة", "ه")


def normalize_with_offsets(text: str) -> Normalized:
    """Normalise text and keep the map from every output character to its original index."""
    # The map is made of runs of characters that fold to exactly one, broken only where a
    # character is dropped (harakat, tatweel) or expands (ligatures): only those are visited.
    starts, origins = [0], [0]
    shift = 0  # normalised index - original index, so far
    for m in _MAYBE_NOT_ONE.finditer(text):
        i, size = m.start(), ord(_LENGTH_TABLE[ord(m.group())])
        if size == 1:
            continue
        for q in range(size):  # an expansion: each of its characters maps to i
            starts.append(i + shift + q)
            origins.append(i)
        starts.append(i + shift + size)
        origins.append(i + 1)
        shift += size - 1
    return Normalized(text, None, starts, origins, _kept_ta(text))


# No word of a lexicon, gazetteer or rule is anywhere near this long; a longer token is base64,
# a URL or a hostile run of letters. Such a token stays a token (its span is kept) but its word
# is blanked to "", so every per-word algorithm (stems, proclitics, prefixes, memo keys) works
# on at most MAX_WORD_CHARS characters and an enormous "word" costs no more than a short one.
MAX_WORD_CHARS = 64


def cap_words(words: list[str]) -> list[str]:
    """`words` with every word longer than MAX_WORD_CHARS blanked to "" (in place)."""
    if words and max(map(len, words)) > MAX_WORD_CHARS:
        for i, word in enumerate(words):
            if len(word) > MAX_WORD_CHARS:
                words[i] = ""
    return words


def words_keeping_ta_marbuta(norm: Normalized) -> list[str]:
    """The words of `norm` (same split as `Tokens`) with «ة» not folded to «ه»."""
    return cap_words(_WORD.findall(norm.kept_ta_marbuta))


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised word and its [start, end) span in the original text."""

    text: str
    start: int
    end: int


_WORD = re.compile(r"\w+")
# The separators between words, kept by `split`: one C call gives the words and, from their
# lengths and the separators', every word's position (see `Tokens`). `\W\W*`, not `\W+`: it
# starts with a character class, so the engine skips to the next candidate in a tight loop
# (as `_CHANGED_RUN`; ~15% faster on Arabic news).
_SEPARATORS = re.compile(r"(\W\W*)")


class Tokens(Sequence[Token]):
    """The normalised words of one text; spans in the original are mapped when asked for.

    Matchers scan `words` (plain strings, split in C); only the few tokens they hit become
    `Token`s with original offsets.

    The text is split once, with «ة» kept, into words and the separators between them (one
    regex pass: a pass each for the folded words, the kept words and the positions cost ~1.6x
    as much on ANT). The folded words are the kept ones with «ة» replaced, in C over the words
    joined (that string is what the shared automaton scans); the positions are the running sums
    of the parts' lengths, summed in C (the spans themselves are mapped when asked for).
    """

    __slots__ = ("_bounds", "_kept", "joined", "norm", "scan_hits", "words")

    def __init__(self, norm: Normalized) -> None:
        self.norm = norm
        # [word, separator, word, …, word]: words at even indexes; only the first and the last
        # may be empty (the text starts or ends with a separator, or is empty).
        parts = _SEPARATORS.split(norm.kept_ta_marbuta)
        kept = parts[::2]
        if not kept[-1]:
            kept.pop()
        if kept and not kept[0]:
            del kept[0]
        cap_words(kept)  # too long: ""
        self._kept = kept
        # The words joined by single spaces (a space is never part of a word): the shared
        # automaton scans this (streams.text.scan), so it is kept rather than joined again.
        joined = " ".join(kept)
        if "ة" in joined:
            joined = joined.replace("ة", "ه")
            self.words: list[str] = joined.split(" ")
        else:
            self.words = list(kept)
        self.joined = joined
        # Normalised [start, end) of word k at [2k], [2k + 1] (and the ends of a trailing
        # separator after the last word): the running sums of the parts' lengths, summed now,
        # while the parts are fresh in the cache (nearly every field is asked for a span: a
        # region's, a topic's or a rule's evidence), and the separators are let go at once.
        if parts[0] or len(parts) == 1:  # starts with a word (or is empty)
            self._bounds = list(accumulate(map(len, parts), initial=0))
        else:  # with a separator: the first word starts after it
            self._bounds = list(accumulate(map(len, islice(parts, 2, None)), initial=len(parts[1])))
        # The shared automaton's hits in these words (streams.text.scan keeps them here, so
        # every matcher reads the one scan of the field).
        self.scan_hits: object | None = None

    @property
    def words_keeping_ta_marbuta(self) -> list[str]:
        """`words` with «ة» not folded to «ه» (see `words_keeping_ta_marbuta`)."""
        return self._kept

    def __len__(self) -> int:
        return len(self.words)

    @overload
    def __getitem__(self, index: int) -> Token: ...

    @overload
    def __getitem__(self, index: slice) -> list[Token]: ...

    def __getitem__(self, index: int | slice) -> Token | list[Token]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self.words)))]
        if index < 0:
            index += len(self.words)
        if not 0 <= index < len(self.words):
            raise IndexError("token index out of range")
        return Token(self.words[index], *self.span(index, index + 1))

    def _normalised_spans(self) -> list[tuple[int, int]]:
        bounds = self._bounds
        n = 2 * len(self.words)
        return list(zip(bounds[0:n:2], bounds[1:n:2], strict=True))

    def original_spans(self) -> list[tuple[int, int]]:
        """[start, end) in the original text of every token."""
        spans = self._normalised_spans()
        if self.norm.is_identity:
            return spans
        return [self.norm.original_span(start, end) for start, end in spans]

    def span(self, first: int, end: int) -> tuple[int, int]:
        """[start, end) in the original text of tokens first … end - 1 (first < end)."""
        bounds = self._bounds
        start, stop = bounds[2 * first], bounds[2 * end - 1]
        starts = self.norm._starts
        if len(starts) == 1:  # original_span, inlined: this runs for every hit
            return start, stop
        return _mapped_span(starts, self.norm._origins, start, stop)

    def __repr__(self) -> str:
        return f"Tokens({self.words!r})"


def tokenize(text: str) -> Tokens:
    """Split text into normalised word tokens, each with its span in the original text.

    The one normalisation and tokenisation of a field: the region classifier, the topic
    classifier and the rule matcher all call this for the same title and body, one after
    the other, and share the result (and the automaton scan kept on it).
    """
    if len(text) > _CACHE_MAX_CHARS:
        return Tokens(normalize_with_offsets(text))
    held = _HELD.get()
    if held is None:
        return _tokenize_recent(text)
    tokens = held.get(text)
    if tokens is None:
        tokens = held[text] = _tokenize_recent(text)
    return tokens


# A few recent results are kept (short texts only, so memory stays bounded): the fields of
# the article in hand (title, dateline, body) while it goes through enrich and match.
_CACHE_MAX_CHARS = 200_000
# Inside `holding_tokens`: every text tokenised since it began → its tokens.
_HELD: ContextVar[dict[str, Tokens] | None] = ContextVar("rasid_held_tokens", default=None)


@contextmanager
def holding_tokens() -> Iterator[None]:
    """Keep the tokens of every text tokenised inside the block (not only the 8 most recent)
    until it ends: a batch processed stage by stage (the regions of every article, then their
    topics, then the rules, …) still tokenises each field once, as one article at a time does.
    What it holds is the batch's fields, let go when the block ends; nested blocks share the
    outermost one's (issue 13, round fifteen)."""
    if _HELD.get() is not None:
        yield
        return
    reset = _HELD.set({})
    try:
        yield
    finally:
        _HELD.reset(reset)


@lru_cache(maxsize=8)
def _tokenize_recent(text: str) -> Tokens:
    return Tokens(normalize_with_offsets(text))
