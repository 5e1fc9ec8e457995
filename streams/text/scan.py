"""One Aho-Corasick automaton over the keys of every matcher: one C scan per field finds the
few tokens any matcher has to look at.

The region and topic phrase indexes (`streams.classify.places.PhraseIndex`) and the rule
matcher (`streams.rules.matcher.RuleSet`) each say which tokens they could possibly accept
at, as a `Prefilter`: a token is worth a look only if it ENDS with one of the prefilter's
`endings`, CONTAINS one of its `substrings` or IS one of its `words`. The keys are chosen so that this is a
necessary condition (every token the matcher would accept passes it); the matchers then run
their exact per-token checks (proclitics, suffixes, the «ة» handling) on the tokens that
passed only, so what they find is exactly what a check of every token would find.

Every live prefilter is compiled into ONE automaton (`ahocorasick.Automaton`), whose values
are bit masks saying whose key it is (less the keys that shorter keys already cover for the
same matchers: `_needed`). A field is scanned once per automaton in C (the words
joined by spaces, with one before the first: «key + space» means «a token ending with key»,
«space + key + space» «the token key»), and every matcher reads
its own tokens off that one scan. A matcher registers its prefilter when it is built (once
per gazetteer, lexicon and rule-set version); the automaton is rebuilt then, and replaced in
one assignment, so a scan always uses a complete automaton. Matchers that are gone leave
their keys in the automaton until the next registration: they only cost a few extra hits.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from itertools import accumulate, compress, count, repeat
from operator import and_

import ahocorasick

from streams.text.arabic import Tokens

# A substring key shorter than this would hit nearly every token: a prefilter with one
# scans every token instead.
MIN_SUBSTRING_KEY = 2
_SEPARATOR = " "  # joins the words for the scan; never part of a \w+ token


class Prefilter:
    """What one matcher may accept: tokens ending with an `endings` key, containing a
    `substrings` key or equal to a `words` key (or every token, if a key is too short to be
    worth scanning for). A short word is better as a `words` key than as an ending: «د» as
    an ending would let through every token that ends with «د»."""

    __slots__ = ("bit", "endings", "everywhere", "substrings", "words")

    def __init__(
        self,
        endings: Iterable[str] = (),
        substrings: Iterable[str] = (),
        words: Iterable[str] = (),
    ) -> None:
        self.endings = frozenset(endings)
        self.substrings = frozenset(substrings)
        self.words = frozenset(words)
        self.everywhere = "" in self.endings or any(
            len(k) < MIN_SUBSTRING_KEY for k in self.substrings
        )
        self.bit = 0  # set when registered

    def __repr__(self) -> str:
        sizes = f"{len(self.endings)}+{len(self.substrings)}+{len(self.words)}"
        return f"Prefilter({'every token' if self.everywhere else sizes} keys)"


class Compiled:
    """The automaton over the keys of a set of prefilters (immutable once built)."""

    __slots__ = ("automaton", "everywhere", "members")

    def __init__(self, members: Sequence[Prefilter]) -> None:
        self.members = tuple(members)
        self.everywhere = 0  # bits of the prefilters that accept every token
        masks: dict[str, int] = {}
        for p in self.members:
            if p.everywhere:
                self.everywhere |= p.bit
                continue
            for key in p.endings:
                key += _SEPARATOR
                masks[key] = masks.get(key, 0) | p.bit
            for key in p.substrings:
                masks[key] = masks.get(key, 0) | p.bit
            for key in p.words:
                key = _SEPARATOR + key + _SEPARATOR
                masks[key] = masks.get(key, 0) | p.bit
        self.automaton: ahocorasick.Automaton | None = None
        if masks:
            automaton = ahocorasick.Automaton()
            for key, mask in _needed(masks).items():
                automaton.add_word(key, mask)
            automaton.make_automaton()
            self.automaton = automaton

    def scan(self, words: Sequence[str], joined: str | None = None) -> ScanHits:
        """Every hit in one field's words: (token index, mask) pairs, in text order.
        `joined`, if given, is `words` joined by single spaces (`Tokens.joined`)."""
        automaton = self.automaton
        if automaton is None or not words:
            return ScanHits(self, [], [], len(words))
        if joined is None:
            joined = _SEPARATOR.join(words)
        joined = _SEPARATOR + joined + _SEPARATOR
        found = list(automaton.iter(joined))
        if not found:
            return ScanHits(self, [], [], len(words))
        # A hit ends (its last character, or the separator after an ending or a word key)
        # inside token i's stretch of the joined text, where i is the number of separators
        # before that end, the leading one aside. The hits come by end position, so the
        # separators are counted from one hit's end to the next and summed: every step in C,
        # no table of token offsets to build or search.
        ends, masks = zip(*found, strict=True)
        tokens = list(accumulate(map(joined.count, repeat(_SEPARATOR), (1, *ends), ends)))
        return ScanHits(self, tokens, list(masks), len(words))


def _needed(masks: dict[str, int]) -> dict[str, int]:
    """The keys whose hits can tell a matcher something: a key is left out when every token
    it hits is also hit by shorter keys that carry all its bits, so the scan reports fewer
    hits and the same tokens to every matcher. A token that ends with «العراق» ends with
    «عراق», and one that contains «اقتصاد» contains «قتصاد»: an ending key is covered by the
    ending keys that are suffixes of it, a word key by those of it (itself included), and any
    key by the substring keys inside it (the key aside). What covers a key left out is covered
    in turn by keys that stay (they are shorter, or a substring or ending key of the same
    word). Issue 13, round seven: 42% of the default matchers' keys, 18% fewer hits on ANT."""
    endings = {
        k[:-1]: m for k, m in masks.items() if k.endswith(_SEPARATOR) and k[:1] != _SEPARATOR
    }
    substrings = ahocorasick.Automaton()
    for key, mask in masks.items():
        if _SEPARATOR not in key:
            substrings.add_word(key, (key, mask))
    inside = len(substrings) > 0
    if inside:
        substrings.make_automaton()
    needed: dict[str, int] = {}
    for key, mask in masks.items():
        word = key.strip(_SEPARATOR)
        if _SEPARATOR in word:  # a key across tokens (none is): kept as it is
            needed[key] = mask
            continue
        covered = 0
        if key.endswith(_SEPARATOR):  # an ending or a word key: the token ends with `word`
            for i in range(0 if key[:1] == _SEPARATOR else 1, len(word)):
                covered |= endings.get(word[i:], 0)
        if inside:
            for _, (sub, bits) in substrings.iter(word):
                if sub != key:
                    covered |= bits
        if mask & ~covered:
            needed[key] = mask
    return needed


class ScanHits:
    """The hits of one scan of one field, read per matcher with `tokens_for`."""

    __slots__ = ("compiled", "masks", "size", "tokens")

    def __init__(self, compiled: Compiled, tokens: list[int], masks: list[int], size: int):
        self.compiled = compiled
        self.tokens = tokens
        self.masks = masks
        self.size = size

    def tokens_for(self, prefilter: Prefilter) -> Sequence[int]:
        """Indexes (ascending, distinct) of the tokens that pass `prefilter`."""
        bit = prefilter.bit
        if self.compiled.everywhere & bit:
            return range(self.size)
        # hits come in text order (the automaton reports them by end position), so the
        # tokens are already ascending: dropping repeats is enough, no sort
        # (`operator.and_` is a plain C function: faster per hit than the bound `bit.__and__`)
        return list(dict.fromkeys(compress(self.tokens, map(and_, self.masks, repeat(bit)))))


class _Registry:
    """The live prefilters and the automaton over all of them (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._members: dict[int, Prefilter] = {}  # slot -> prefilter (bit = 1 << slot)
        self._dead: list[tuple[int, Prefilter]] = []  # appended by finalizers, without a lock
        self.compiled = Compiled(())

    def register(self, owner: object, prefilter: Prefilter) -> None:
        """Add `owner`'s prefilter to the automaton for as long as `owner` lives."""
        with self._lock:
            while self._dead:
                slot, gone = self._dead.pop()
                if self._members.get(slot) is gone:
                    del self._members[slot]
            slot = next(s for s in count() if s not in self._members)
            prefilter.bit = 1 << slot
            self._members[slot] = prefilter
            self.compiled = Compiled(list(self._members.values()))  # swapped in one assignment
        weakref.finalize(owner, self._dead.append, (slot, prefilter))


REGISTRY = _Registry()


def register(owner: object, prefilter: Prefilter) -> None:
    """Compile `prefilter` into the shared automaton while `owner` (its matcher) lives."""
    REGISTRY.register(owner, prefilter)


def current() -> Compiled:
    """The automaton to scan with now (it holds every live matcher's keys)."""
    return REGISTRY.compiled


def candidates(tokens: Tokens, prefilter: Prefilter) -> Sequence[int]:
    """Indexes of the tokens of one field that pass `prefilter` (ascending): the field is
    scanned once per automaton, and the hits are kept on `tokens` for the other matchers."""
    return scan_hits(tokens).tokens_for(prefilter)


def scan_hits(tokens: Tokens) -> ScanHits:
    """The current automaton's hits in one field's tokens, scanned on first use and kept on
    `tokens` (every matcher reads that one scan). Scanning several fields in a row first
    (`streams.classify.enrich.enrich_many`) keeps the automaton in the CPU caches."""
    compiled = REGISTRY.compiled
    hits = tokens.scan_hits
    if not isinstance(hits, ScanHits) or hits.compiled is not compiled:
        hits = tokens.scan_hits = compiled.scan(tokens.words, tokens.joined)
    return hits
