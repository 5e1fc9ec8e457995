"""Learned topic weights (issue 15): a linear model over words, scored by a sparse dot product.

`streams/data/topic_model.json` is written by `bench/train_topics.py`: naive Bayes over the
words of ANT articles (Apache-2.0), labelled by their outlet's section (economy, sport,
technology, culture) and, for news sections, by the lexicons' confident topic (weak labels).
Each kept word carries one centred log-probability per topic (×100, as integers); an article's
score for a topic is the sum over its distinct known words, and the model's topic is the best
one. No runtime dependency: a dict lookup per word. ASND is never used to train (no licence):
it only evaluates (bench/eval_classify.py).

The words are the same as the lexicons': normalised tokens, proclitics and the article stripped,
stop words and numbers dropped; the title and the first BODY_WORDS words of the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import orjson

from streams.classify.places import word_variants
from streams.resources import data_file
from streams.stories.features import stopwords
from streams.text.arabic import Tokens

MODEL_FILE = "topic_model.json"
BODY_WORDS = 150
SCALE = 100.0  # weights are stored as integers: log-probability × SCALE
EXPLAIN = 5  # words given as evidence


@lru_cache(maxsize=65536)
def feature(word: str) -> str | None:
    """The model's form of a normalised word, or None for words it ignores."""
    if len(word) < 3 or word.isdigit():
        return None
    stem = word_variants(word)[-1]
    if stem.startswith("ال") and len(stem) > 4:
        stem = stem[2:]
    stop = stopwords()
    if word in stop or stem in stop:
        return None
    return stem


def features(words: Iterable[str]) -> list[str]:
    return [f for f in map(feature, words) if f is not None]


def heldout(article_id: str) -> bool:
    """ANT articles kept out of training (a fifth, by a hash of the id): evaluation only."""
    return int(hashlib.sha256(f"t:{article_id}".encode()).hexdigest(), 16) % 5 == 0


@dataclass(frozen=True, slots=True)
class Guess:
    topic: str
    margin: float  # over the second-best topic, in log-probability units
    known: int  # distinct words of the text the model has weights for
    words: tuple[tuple[str, int], ...]  # (field, token index) of the words that weigh most


@dataclass(frozen=True, slots=True)
class TopicModel:
    topics: tuple[str, ...]
    weights: dict[str, tuple[int, ...]]

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> TopicModel:
        topics = tuple(str(t) for t in doc["topics"])  # type: ignore[attr-defined]
        weights = {
            str(w): tuple(int(x) for x in v)
            for w, v in doc["weights"].items()  # type: ignore[attr-defined]
        }
        if any(len(v) != len(topics) for v in weights.values()):
            raise ValueError("topic model: a weight vector does not match the topics")
        return cls(topics, weights)

    def guess(self, fields: Sequence[tuple[str, Tokens]]) -> Guess | None:
        """The best topic for these (field, tokens), or None when no known word occurs."""
        n = len(self.topics)
        weights = self.weights
        seen: dict[str, tuple[str, int]] = {}  # feature → where it first occurs
        for field, tokens in fields:
            words = tokens.words if field == "title" else tokens.words[:BODY_WORDS]
            for i, word in enumerate(words):
                f = feature(word)
                if f is not None and f not in seen and f in weights:
                    seen[f] = (field, i)
        if not seen:
            return None
        # one C-level sum per topic over the known words' vectors
        total = [sum(column) for column in zip(*(weights[f] for f in seen), strict=True)]
        order = sorted(range(n), key=lambda j: -total[j])
        best = order[0]
        margin = (total[best] - total[order[1]]) / SCALE if n > 1 else 0.0
        strongest = sorted(seen, key=lambda f: -self.weights[f][best])[:EXPLAIN]
        return Guess(self.topics[best], margin, len(seen), tuple(seen[f] for f in strongest))


@lru_cache(maxsize=1)
def default_model() -> TopicModel | None:
    """The packaged model; None if the data file is absent (the lexicons then decide alone)."""
    path = data_file(MODEL_FILE)
    if not path.is_file():
        return None
    return TopicModel.from_doc(orjson.loads(path.read_bytes()))
