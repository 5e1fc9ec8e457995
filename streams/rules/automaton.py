"""Every term of a rule set in ONE Aho-Corasick automaton over tokens, scanned in C.

A term matches at tokens i … i+m-1 when, for each of its m words w, one of the token's
candidate stems (`word_stems`) is one of w's keys (`phrase_keys`: the word, and the bare form
of a word written with «ال»), and no sentence punctuation or line break separates the tokens.

The tokens become one string, one *symbol* (a code point) per token, and the terms become the
symbol strings that such a token string must equal:

* Two keys are interchangeable when exactly the same phrase words have them: they share a
  *class*, and a class is one symbol. The terms' keys are compiled into classes; every
  spelling of every term (a class per word, every combination) is a key of the automaton,
  whose value says the term ids and the length.
* A token's classes are those of the keys among its stems. The phrase words it matches are
  the union of its classes' words; when one class holds them all (e.g. «والخط»: the stems
  «الخط» and «خط», and every phrase word keyed «الخط» is also keyed «خط»), the token IS that
  class for every term: its symbol. A token with no key gets a filler that no term contains.
  Symbols are memoised per word (bounded: `streams.text.memo`), so a known word costs one
  dict lookup in C, and the field's symbol string is built by `map` and `str.join`.
* A token whose words no single class holds is *ambiguous* (e.g. «بعد» when «بعد» and «عد»
  are both phrase words: a lattice, not a string). It gets a symbol of its own that no
  spelling holds, so the string scan takes it for filler; then, from each ambiguous token,
  its one-word terms come from its classes, and the two-token spans that hold it from what
  each choice of symbol makes with its neighbour (a lookup in the automaton per pair, when
  both tokens can be in a two-token spelling at all); longer spans are walked through the
  automaton (`match` is the trie's prefix test), every choice followed. With the generated
  10,000-rule pack 14% of ANT's tokens are ambiguous, with the default pack 0.07%
  (`bench/match.py` prints it).

Python then runs only for the automaton's hits (span, break check) and the ambiguous tokens.
The occurrences are exactly those of a walk of the phrase-key trie from every token
(tests/unit/rules/reference_walk.py keeps that walk; the property test compares them), each
term's in order of start.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from itertools import product

import ahocorasick

from streams.rules.stems import is_break, phrase_keys, stems_in
from streams.text.arabic import Tokens
from streams.text.memo import WordMemo

Span = tuple[int, int]  # [first token, last token + 1)

# Words with a memoised symbol. Every word of the feed is looked up (a symbol per token), as
# the topic model does for its words (60,000 there): ~50 bytes an entry, the key string
# interned and shared with the other word memos, the value one of the class symbols.
SYMBOLS_CAP = 30_000  # full by 10,000 articles, +1.2 misses an article (performance.md, round 15)

# A symbol is a few characters, one per base-32 digit of its class id, each digit from its own
# range (plane 15): pyahocorasick looks a character up among a state's children one by one,
# and 18,000 classes of one character each made every step from the root a scan of 18,000
# (1 ms a field); with digits a state has at most 32 children. A term's spelling can then only
# match at a token's first digit, since no other position holds a first digit.
BASE = 32
_DIGITS = 0xF0100  # digit j, value v: chr(_DIGITS + BASE * j + v)
FILLER = "\U000f0000"  # a token with no key: FILLER * width, in no spelling
_PAD = "\U000f0001"  # pads an ambiguous token's symbol, in no spelling either
# An ambiguous token: one character of plane 14 standing for its classes (`_choices`), then
# fillers; no spelling holds one, so the string scan takes it for filler and a regex finds it.
_AMBIGUOUS_FIRST, _AMBIGUOUS_END = 0xE0000, 0xF0000
_AMBIGUOUS = re.compile("[\U000e0000-\U000effff]")


def _width(classes: int) -> int:
    """Digits a symbol needs for `classes` classes."""
    width = 1
    while BASE**width < classes:
        width += 1
    return width


def _symbol(class_id: int, width: int) -> str:
    return "".join(
        chr(_DIGITS + BASE * j + (class_id // BASE ** (width - 1 - j)) % BASE) for j in range(width)
    )


class TermAutomaton:
    """The compiled terms of one rule set (immutable but for its memos: safe to share)."""

    __slots__ = (
        "_automaton",
        "_choices",
        "_class_words",
        "_filler",
        "_firsts",
        "_key_class",
        "_longest",
        "_seconds",
        "_sets",
        "_starters",
        "_symbol_of",
        "memo",
        "width",
    )

    def __init__(self, terms: Sequence[Sequence[str]]) -> None:
        # phrase word → its id; key → the ids of the phrase words that have it
        word_ids: dict[str, int] = {}
        key_words: dict[str, set[int]] = {}
        for words in terms:
            for word in words:
                if word not in word_ids:
                    word_ids[word] = wid = len(word_ids)
                    for key in phrase_keys(word):
                        key_words.setdefault(key, set()).add(wid)
        class_ids: dict[frozenset[int], int] = {}
        self._key_class: dict[str, int] = {}
        for key, wids in key_words.items():
            frozen = frozenset(wids)
            self._key_class[key] = class_ids.setdefault(frozen, len(class_ids))
        self._class_words: list[frozenset[int]] = list(class_ids)  # class id → its words
        self.width = width = _width(len(class_ids))
        self._symbol_of = [_symbol(c, width) for c in range(len(class_ids))]  # class → symbol
        self._filler = FILLER * width
        self.memo: WordMemo[str] = WordMemo(SYMBOLS_CAP)  # word → symbol
        self._sets: dict[tuple[str, ...], str] = {}  # an ambiguous token's choices → symbol
        # its first character → its choices, the one-word terms they are (all of them), and
        # those of its choices that start (are second in) a two-token spelling: the lattice
        # looks only those up in a pair (no other makes one)
        self._choices: dict[
            str, tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...]]
        ] = {}

        # Every spelling of every term: one symbol per word, from the classes of its keys.
        spelled: dict[str, list[int]] = {}
        # The symbols that start, and that are second in, a two-token spelling: the lattice
        # looks a pair with an ambiguous token up in the automaton (`get`, in C) only when both
        # tokens can be in one. (It listed what can follow a symbol off the automaton, memoised
        # per symbol, 20,000: a fresh worker paid ~0.1 ms an article at 10,000 rules for the
        # listings; a dict of the pairs by first symbol held 6.8 MB for the generated pack.)
        self._firsts: set[str] = set()
        self._seconds: set[str] = set()
        self._starters: set[str] = set()  # the symbols a spelling starts with
        self._longest = 0
        word_symbols: dict[str, list[str]] = {}  # phrase word → the symbols of its key classes
        for tid, words in enumerate(terms):
            options = []
            for word in words:
                symbols = word_symbols.get(word)
                if symbols is None:
                    classes = sorted({self._key_class[k] for k in phrase_keys(word)})
                    symbols = word_symbols[word] = [self._symbol_of[c] for c in classes]
                options.append(symbols)
            self._starters.update(options[0])
            if len(words) == 2:  # (the class symbols themselves: no new strings)
                self._firsts.update(options[0])
                self._seconds.update(options[1])
            self._longest = max(self._longest, len(words))
            for spelling in map("".join, product(*options)):
                owners = spelled.setdefault(spelling, [])
                if not owners or owners[-1] != tid:
                    owners.append(tid)
        self._automaton = ahocorasick.Automaton()
        for spelling, tids in spelled.items():
            self._automaton.add_word(spelling, (len(spelling) // width, tuple(tids)))
        if spelled:
            self._automaton.make_automaton()

    @property
    def classes(self) -> int:
        return len(self._class_words)

    @property
    def spellings(self) -> int:
        return len(self._automaton)

    def choices(self, word: str) -> tuple[str, ...]:
        """The symbols a word can stand for: its class's, none (no key), or, when no one of its
        classes holds the words of the others, those of its maximal classes."""
        return self._choices_of(stems_in(word, self._key_class))

    def _choices_of(self, classes: set[int]) -> tuple[str, ...]:
        if len(classes) > 1:
            # a class whose words another class of the token holds adds nothing
            words = self._class_words
            classes = {c for c in classes if not any(words[c] < words[d] for d in classes)}
        return tuple(self._symbol_of[c] for c in sorted(classes))

    def _remember(self, word: str) -> str:
        classes = stems_in(word, self._key_class)
        if not classes:
            return self.memo.remember(word, self._filler)
        if len(classes) == 1:
            return self.memo.remember(word, self._symbol_of[classes.pop()])
        return self.memo.remember(word, self._symbol_for(self._choices_of(classes)))

    def _symbol_for(self, choices: tuple[str, ...]) -> str:
        """The symbol of a token whose maximal classes are `choices` (its class's, if one)."""
        if len(choices) == 1:
            return choices[0]
        symbol = self._sets.get(choices)
        if symbol is None:
            first = chr(_AMBIGUOUS_FIRST + len(self._sets))
            symbol = self._sets[choices] = first + _PAD * (self.width - 1)
            solo = (self._automaton.get(c, (0, ())) for c in choices)
            tids = tuple(dict.fromkeys(tid for length, tids in solo if length == 1 for tid in tids))
            self._choices[first] = (
                choices,
                tids,
                tuple(c for c in choices if c in self._firsts),
                tuple(c for c in choices if c in self._seconds),
            )
        return symbol

    def string(self, words: Sequence[str]) -> str:
        """A field's words (`words_keeping_ta_marbuta`) as symbols, `width` characters each."""
        get = self.memo.get
        symbols: list[str | None] = list(map(get, words))
        try:
            return "".join(symbols)  # type: ignore[arg-type]
        except TypeError:  # a word not seen (or evicted): its symbol computed once
            pass
        if self._make_room(len(words)):  # started over: every symbol again
            return "".join([get(word) or self._remember(word) for word in words])
        # only the words not seen, found in C (`index`): a fresh worker meets ~29 new words an
        # ANT article at 10,000 rules, in nearly every field, among ~250
        remember = self._remember
        i = symbols.index(None)
        while True:
            word = words[i]
            symbols[i] = get(word) or remember(word)  # (the field may hold it twice)
            try:
                i = symbols.index(None, i + 1)
            except ValueError:
                return "".join(symbols)  # type: ignore[arg-type]

    def _make_room(self, words: int) -> bool:
        """Before `words` words may be remembered: if the ambiguous symbols could run out
        among them (hostile input), start over, with the words that hold them; a symbol past
        the last would be taken for a filler or a class's digit."""
        if len(self._sets) + words > _AMBIGUOUS_END - _AMBIGUOUS_FIRST:
            self._sets.clear()
            self._choices.clear()
            self.memo.clear()
            return True
        return False

    def scan(
        self, text: str, tokens: Tokens, among: Sequence[int] | None = None
    ) -> dict[int, list[Span]]:
        """Every occurrence of every term in one field: term id → spans, by start.

        `among`: the tokens that can start a term, ascending (a prefilter's candidates: the
        tokens that can have a first word's key among their stems); only they and the tokens
        after them, as far as the longest term reaches, are looked up, in runs with a filler
        between them (no occurrence crosses one: its start is a candidate)."""
        if not self._longest:
            return {}  # no terms
        words = tokens.words_keeping_ta_marbuta
        index: list[int] | None = None  # the string's token → the field's (None: the same)
        if among is None:
            string = self.string(words)
        else:
            if not among:
                return {}
            # the tokens from each start on, as far as the longest term reaches, in runs with
            # a filler between them (a word with no stems but itself: "")
            n = len(words)
            self._make_room(n)  # the candidates are remembered before `string` runs
            longest = self._longest
            memo = self.memo
            starters = self._starters
            picked: list[str] = []
            index = []
            start = stop = -1
            for i in among:
                # most candidates contain a first key but cannot start a term: one lookup
                symbol = memo.get(words[i]) or self._remember(words[i])
                if symbol not in starters and symbol[0] >= FILLER:  # (plane 14: ambiguous)
                    continue
                if i > stop:
                    if stop > 0:
                        stop = min(stop, n)
                        picked.append("")
                        picked.extend(words[start:stop])
                        index.append(-1)
                        index.extend(range(start, stop))
                    start = i
                stop = i + longest
            if start < 0:
                return {}  # no candidate can start a term
            stop = min(stop, n)
            picked.append("")
            picked.extend(words[start:stop])
            index.append(-1)
            index.extend(range(start, stop))
            string = self.string(picked)
        width = self.width
        occurrences: dict[int, list[Span]] = {}
        for last, (length, tids) in self._automaton.iter(string):
            end = last // width + 1
            start = end - length
            if index is not None:
                start, end = index[start], index[end - 1] + 1
            # A phrase never spans a break: one look at the text between its tokens.
            if length > 1 and _broken(text, tokens, start, end - 1):
                continue
            for tid in tids:
                occurrences.setdefault(tid, []).append((start, end))
        if _AMBIGUOUS.search(string) is not None:
            self._lattice(text, tokens, string, index, occurrences)
        return occurrences

    @property
    def keys(self) -> Collection[str]:
        """The phrase keys (of every word of every term)."""
        return self._key_class.keys()

    def _lattice(
        self,
        text: str,
        tokens: Tokens,
        string: str,
        index: list[int] | None,
        occurrences: dict[int, list[Span]],
    ) -> None:
        """Add the occurrences that include an ambiguous token (the string scan took it for
        filler), each span from its first ambiguous token. Its one-word terms are known from
        its classes; two-token spans are looked up in the automaton, a pair of symbols per
        choice (only when the tokens can start and end one); longer spans are walked, every
        choice of symbol per token followed and pruned by the automaton's prefix test."""
        width = self.width
        longest = self._longest
        options = self._choices
        firsts, seconds = self._firsts, self._seconds
        get = self._automaton.get
        n = len(string) // width
        found: list[tuple[Iterable[int], int, int]] = []  # (term ids, start, end)
        before = -1  # the ambiguous token before
        for m in _AMBIGUOUS.finditer(string):
            a = m.start() // width
            _, solo, first, second = options[m.group()]
            if solo:
                found.append((solo, a, a + 1))
            # (a-1, a), the token before plain (else found from it), if it starts a pair and
            # one of this token's choices is second in one
            if second and a - 1 > before:
                symbol = string[(a - 1) * width : a * width]
                if symbol in firsts:
                    tids = [tid for c in second if (v := get(symbol + c, None)) for tid in v[1]]
                    if tids:
                        found.append((tids, a - 1, a + 1))
            if first and a + 1 < n:  # (a, a+1), if the token after can be second in a pair
                symbol = string[(a + 1) * width : (a + 2) * width]
                entry = options.get(symbol[0])
                if entry is None:  # plain (or a filler: no spelling holds one)
                    after: Sequence[str] = (symbol,) if symbol in seconds else ()
                else:  # ambiguous too
                    after = entry[3]
                tids = [
                    tid for c in first for d in after if (v := get(c + d, None)) for tid in v[1]
                ]
                if tids:
                    found.append((tids, a, a + 2))
            if longest > 2:
                self._walk(string, a, before, found)
            before = a
        changed = set()
        for ids, start, end in found:
            if index is not None:
                start, end = index[start], index[end - 1] + 1
            if end - start > 1 and _broken(text, tokens, start, end - 1):
                continue
            for tid in dict.fromkeys(ids):
                occurrences.setdefault(tid, []).append((start, end))
                changed.add(tid)
        for tid in changed:
            occurrences[tid].sort()

    def _walk(
        self, string: str, a: int, before: int, found: list[tuple[Iterable[int], int, int]]
    ) -> None:
        """The spans of three or more tokens that hold ambiguous token `a` (and none after
        `before` before it): every choice of symbol per token, pruned by the prefix test."""
        width = self.width
        longest = self._longest
        options = self._choices
        automaton = self._automaton
        n = len(string) // width
        for start in range(max(0, a - longest + 1, before + 1), a + 1):
            paths = [""]
            for k in range(start, min(n, start + longest)):
                symbol = string[k * width : (k + 1) * width]
                if symbol[0] == FILLER:
                    break  # a token with no key
                entry = options.get(symbol[0])
                paths = [p + c for p in paths for c in (entry[0] if entry else (symbol,))]
                if k >= start + 2 and k >= a:
                    tids = [tid for p in paths if (v := automaton.get(p, None)) for tid in v[1]]
                    if tids:
                        found.append((tids, start, k + 1))
                paths = [p for p in paths if automaton.match(p)]
                if not paths:
                    break


def _broken(text: str, tokens: Tokens, first: int, last: int) -> bool:
    """Whether sentence punctuation or a line break separates two adjacent tokens of
    first … last: one look at the text between them (no break character is part of a token)."""
    return is_break(text, tokens.span(first, first + 1)[1], tokens.span(last, last + 1)[0])


def ambiguity(automaton: TermAutomaton, fields: Iterable[Tokens]) -> tuple[int, int]:
    """(tokens, ambiguous tokens) over fields: how often the lattice path runs."""
    total = ambiguous = 0
    for tokens in fields:
        string = automaton.string(tokens.words_keeping_ta_marbuta)
        total += len(string) // automaton.width
        ambiguous += len(_AMBIGUOUS.findall(string))
    return total, ambiguous
