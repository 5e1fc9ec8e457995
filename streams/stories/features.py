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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from streams.resources import data_file
from streams.text.arabic import normalize, tokenize
from streams.text.memo import UNSEEN, WordMemo

LEAD_WORDS = 60
MAX_BODY_WORDS = 400  # later words rarely name the event; bounds the work per article
MAX_TERMS = 60  # distinct body terms sent per article (the most frequent; bench/dedup_eval.py)
MAX_NUMBERS = 20
MAX_ENTITIES = 24
MIN_TERM_CHARS = 2

# Longest first: «وال» before «ال». A word keeps its prefix when too little would remain.
_PREFIXES = ("وبال", "وكال", "وال", "بال", "كال", "فال", "لل", "ال")
_MIN_STEM = 3

_terms: WordMemo[str] = WordMemo()


def term(word: str) -> str:
    """The story term of one normalised word ("" when it is a stop word or too short)."""
    cached = _terms.get(word, UNSEEN)
    if cached is not UNSEEN:
        return str(cached)
    stem = word
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            stem = word[len(prefix) :]
            break
    if len(stem) < MIN_TERM_CHARS or stem.isdigit() or stem in stopwords() or word in stopwords():
        stem = ""
    return _terms.remember(word, stem)


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
        return cls(
            dict(message["title"]),
            dict(message["lead"]),
            dict(message["body"]),
            tuple(message["numbers"]),
            tuple(message["entities"]),
            str(message["fingerprint"]),
        )


def _counts(words: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for word in words:
        if t := term(word):
            out[t] = out.get(t, 0) + 1
    return out


def _is_number(word: str) -> bool:
    # a year says when, not what: "2018" is in every article of 2018
    return (
        word.isdigit()
        and 2 <= len(word) <= 12
        and not (len(word) == 4 and word[:2] in ("19", "20"))
    )


def story_features(title: str, body: str, places: Sequence[str] = ()) -> StoryFeatures:
    """The features of an article from its original title and body, and the place names its
    region evidence found (original text; normalised here)."""
    title_words = tokenize(title).words
    body_words = tokenize(body).words
    head = body_words[:MAX_BODY_WORDS]
    counts = _counts(head)
    if len(counts) > MAX_TERMS:
        counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS])
    numbers: list[str] = []
    for word in (*title_words, *head):
        if _is_number(word) and word not in numbers:
            numbers.append(word)
    entities: list[str] = []
    for place in places:
        name = " ".join(filter(None, (term(w) for w in normalize(place).split())))
        if name and name not in entities:
            entities.append(name)
    digest = hashlib.blake2b(digest_size=12)
    digest.update(" ".join(title_words).encode())
    digest.update(b"\n")
    digest.update(" ".join(body_words).encode())
    return StoryFeatures(
        _counts(title_words),
        _counts(body_words[:LEAD_WORDS]),
        counts,
        tuple(numbers[:MAX_NUMBERS]),
        tuple(entities[:MAX_ENTITIES]),
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
