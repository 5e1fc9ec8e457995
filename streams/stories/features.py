"""What the story stage compares: an article's weighted terms, its named places, its fingerprint.

Pure code, no faust. The hot stage computes these from the tokens it already made for the
classifiers and the rule matcher (`streams.text.arabic.tokenize` keeps the article's fields), so
the story features cost no second normalisation; the story stage weighs them with document
frequencies learned from the stream (streams/stories/docfreq.py).

Terms are normalised words with the «ال» family of prefixes dropped («والعراق», «بالعراق»,
«العراق» → «عراق»), stop words removed. Three fields are kept apart, as Miranda et al. (2018)
keep title and body sub-vectors: the title, the lead (the first LEAD_WORDS words of the body,
where an article says which event it reports) and the body (its first MAX_BODY_WORDS words, its MAX_TERMS most frequent terms). The
numbers an article gives (tolls, scores, amounts) are a feature of their own: two reports of one
event give the same ones.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from sys import intern
from typing import Any

from streams.resources import data_file
from streams.text.arabic import normalize, tokenize
from streams.text.memo import WordMemo

LEAD_WORDS = 60
MAX_BODY_WORDS = 400  # later words rarely name the event; bounds the work per article
MAX_TERMS = 60  # distinct body terms sent per article (the most frequent; bench/dedup_eval.py)
MAX_NUMBERS = 20
MAX_ENTITIES = 24
MIN_TERM_CHARS = 2

# Longest first: «وال» before «ال». A word keeps its prefix when too little would remain.
_PREFIXES = ("وبال", "وكال", "وال", "بال", "كال", "فال", "لل", "ال")
_MIN_STEM = 3


def _term_of(word: str) -> str:
    stem = word
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            stem = word[len(prefix) :]
            break
    if len(stem) < MIN_TERM_CHARS or stem.isdigit() or stem in stopwords() or word in stopwords():
        stem = ""
    return stem


class _TermMemo(WordMemo[str]):
    """word → story term, computed on a miss: `map(memo.__getitem__, words)` then runs in C
    for every word seen before (most of them: news vocabulary is Zipfian)."""

    def __missing__(self, word: str) -> str:
        # The term interned: the story stage interns the terms it decodes (`from_message`),
        # which then returns this object, so its document frequencies, centroids and index
        # hold the memo's string instead of a decoded copy of every term (58,000 copies at
        # 10,000 ANT articles; docs/performance.md, "Memory: round ten").
        return self.remember(word, intern(_term_of(word)))


# 64,000 words (~10 MB of objects when full): ANT's first 10,000 articles bring 77,351 body
# words, so this fills by ~7,500 articles and the memo stays flat from there (issue 13; the
# former 100,000 filled at ~14,000 and its table doubled to 2^18 slots on the way). A miss
# costs ~1-2 µs (`_term_of`); docs/performance.md, "Memory: round eleven".
TERMS_CAP = 64_000
_terms = _TermMemo(TERMS_CAP)
_term_lookup = _terms.__getitem__


def term(word: str) -> str:
    """The story term of one normalised word ("" when it is a stop word or too short)."""
    return _terms[word]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The packaged stop words, normalised, in both their written and their stripped form."""
    out: set[str] = set()
    for line in data_file("story_stopwords.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for word in normalize(line).split():
            out.add(word)
            for prefix in _PREFIXES:
                if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
                    out.add(word[len(prefix) :])
                    break
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """An article as the story stage sees it: term → count in its title, lead and body (no
    weights yet: those come from the stream's document frequencies), the numbers it gives, the
    normalised names of the places it is about, and a fingerprint of its exact text (to tell
    one outlet filing the same article twice from news)."""

    title: Mapping[str, int]
    lead: Mapping[str, int]
    body: Mapping[str, int]
    numbers: tuple[str, ...]
    entities: tuple[str, ...]
    fingerprint: str

    def terms(self) -> set[str]:
        """Every distinct term (what the document frequencies count)."""
        return {*self.title, *self.lead, *self.body}

    def as_message(self) -> dict[str, Any]:
        return {
            "title": dict(self.title),
            "lead": dict(self.lead),
            "body": dict(self.body),
            "numbers": list(self.numbers),
            "entities": list(self.entities),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> StoryFeatures:
        """The features of a decoded candidate, their terms, numbers and places interned
        (`sys.intern`): the stories' centroids, the index and the document frequencies then
        share one string per term instead of holding a decoded copy per article (most of a
        one-article story's memory), and a term found in them compares by identity."""
        return cls(
            _interned(message["title"]),
            _interned(message["lead"]),
            _interned(message["body"]),
            tuple(map(intern, message["numbers"])),
            tuple(map(intern, message["entities"])),
            str(message["fingerprint"]),
        )


def _interned(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(zip(map(intern, counts), counts.values(), strict=True))


def _counts(terms: Iterable[str]) -> dict[str, int]:
    """term → count, in order of first occurrence ("" — stop words — left out). Counted in C
    (`Counter`), then copied into a plain dict (what the features hold)."""
    counts = Counter(terms)
    counts.pop("", None)
    return dict(counts)


def _most_frequent(counts: dict[str, int], n: int) -> dict[str, int]:
    """The n most frequent terms, most frequent first, ties by term: the terms sorted, then
    stably by count (two sorts in C, no Python key per comparison)."""
    ordered = sorted(counts)
    ordered.sort(key=counts.__getitem__, reverse=True)  # reverse keeps ties in term order
    return {t: counts[t] for t in ordered[:n]}


def _is_number(word: str) -> bool:
    # a year says when, not what: "2018" is in every article of 2018
    return (
        word.isdigit()
        and 2 <= len(word) <= 12
        and not (len(word) == 4 and word[:2] in ("19", "20"))
    )


def _numbers(*words: Iterable[str]) -> tuple[str, ...]:
    """The numbers of `words`, in order, once each (at most MAX_NUMBERS)."""
    numbers: dict[str, None] = {}
    # `str.isdigit` first, in C: most words are not digits at all
    for word in filter(str.isdigit, chain(*words)):
        if word not in numbers and _is_number(word):
            numbers[word] = None
            if len(numbers) >= MAX_NUMBERS:
                break
    return tuple(numbers)


_places: WordMemo[str] = WordMemo(10_000)


def _place_name(place: str) -> str:
    """A place name as story terms («محافظة البصرة» → «محافظه بصره»); memoised (gazetteer
    names repeat)."""
    name = _places.get(place)
    if name is None:
        # interned: the story stage's entities (`from_message`) share it
        name = intern(" ".join(filter(None, map(term, normalize(place).split()))))
        _places.remember(place, name)
    return name


def story_features(title: str, body: str, places: Sequence[str] = ()) -> StoryFeatures:
    """The features of an article from its original title and body, and the place names its
    region evidence found (original text; normalised here).

    `tokenize` is memoised: in the hot stage the title's and body's tokens are those the
    classifiers and the rule matcher made, so this only maps their words to story terms
    (memoised) and counts those."""
    title_words = tokenize(title).words
    body_words = tokenize(body).words
    head = body_words[:MAX_BODY_WORDS]
    # the terms counted in C as they come (in order of first occurrence): a word's later
    # lookups in the big term memo find the entry its first one brought into the CPU cache,
    # so this costs less than counting the words first and merging their terms in a Python
    # loop (which the previous release did: the same counts in the same order)
    counts = _counts(map(_term_lookup, head))
    if len(counts) > MAX_TERMS:
        counts = _most_frequent(counts, MAX_TERMS)
    entities: dict[str, None] = {}
    for place in places:
        if name := _place_name(place):
            entities[name] = None
    digest = hashlib.blake2b(digest_size=12)
    digest.update(" ".join(title_words).encode())
    digest.update(b"\n")
    digest.update(" ".join(body_words).encode())
    return StoryFeatures(
        _counts(map(_term_lookup, title_words)),
        _counts(map(_term_lookup, body_words[:LEAD_WORDS])),
        counts,
        _numbers(title_words, head),
        tuple(entities)[:MAX_ENTITIES],
        digest.hexdigest(),
    )


def places_of(enriched: Mapping[str, Any]) -> list[str]:
    """The place names an enriched article's region evidence found, in order, once each: of the
    regions it is about, then of those it mentions (two reports of one event name the same
    places, whichever of them a report is about)."""
    out: list[str] = []
    for region in (*enriched.get("regions", ()), *enriched.get("mentioned", ())):
        for evidence in region.get("evidence", ()):
            if evidence["text"] not in out:
                out.append(evidence["text"])
    return out
