"""Learned topic weights (issue 15): a linear model over words, word pairs and character n-grams,
scored by a sparse dot product.

`streams/data/topic_model.json` is written by `bench/train_topics.py`: a multinomial logistic
regression trained on ANT (Apache-2.0; whole articles and their titles alone), labelled by the
outlet's section, the lexicons' confident topic (weak labels) and labels read by hand
(`bench/data/topic_labels.json`). ASND is never trained on (no licence): it only evaluates.

Features of a text (title, then the first BODY_WORDS words of the body): each distinct word
(normalised, proclitics and the article stripped, stop words and numbers dropped) gives itself
and its character 3–5-grams («<word>» with edge marks), and each pair of neighbouring words
gives one feature. Features are hashed (CRC-32) into BUCKETS, so the file stays bounded; only
buckets that move some topic are shipped (int8, base64). A text's score for a topic is the
bias plus the sum of its features' weights over sqrt(number of features), as in training.
A word's summed vector is cached, so a warm worker pays one dict lookup per word, whatever
the n-grams, and one (cached) hash and lookup per pair. No runtime dependency.
"""

from __future__ import annotations

import base64
import hashlib
import math
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from streams.classify.places import word_variants
from streams.resources import data_file
from streams.stories.features import stopwords
from streams.text.arabic import Tokens

MODEL_FILE = "topic_model.json"
BODY_WORDS = 60  # the lead says what an article is about; more words cost time, not accuracy
BUCKETS = 1 << 20
NGRAMS = (3, 4, 5)
EXPLAIN = 5  # words given as evidence
_CACHE_MAX = 200_000  # cached word vectors (bounded memory in a long-running worker)


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


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode()) & (BUCKETS - 1)


@lru_cache(maxsize=65536)
def word_buckets(stem: str) -> tuple[int, ...]:
    """The hashed features of one word: the word, then its character n-grams."""
    marked = f"<{stem}>"
    grams = [f"w:{stem}"]
    for n in NGRAMS:
        grams.extend(marked[i : i + n] for i in range(len(marked) - n + 1))
    return tuple(_bucket(g) for g in grams)


@lru_cache(maxsize=65536)
def pair_bucket(pair: tuple[str, str]) -> int:
    return _bucket(f"p:{pair[0]} {pair[1]}")


def stems(
    fields: Sequence[tuple[str, Tokens]],
) -> tuple[dict[str, tuple[str, int]], set[tuple[str, str]]]:
    """The text's distinct words (model form → (field, token index) of the first one) and its
    distinct pairs of neighbouring words, title first."""
    seen: dict[str, tuple[str, int]] = {}
    pairs: set[tuple[str, str]] = set()
    for name, tokens in fields:
        words = tokens.words if name == "title" else tokens.words[:BODY_WORDS]
        previous: str | None = None
        for i, word in enumerate(words):
            f = feature(word)
            if f is None:
                continue
            if f not in seen:
                seen[f] = (name, i)
            if previous is not None:
                pairs.add((previous, f))
            previous = f
    return seen, pairs


def text_buckets(fields: Sequence[tuple[str, Tokens]]) -> list[int]:
    """Every hashed feature of a text, as training sees it (a bucket may repeat)."""
    seen, pairs = stems(fields)
    out = [b for s in seen for b in word_buckets(s)]
    out.extend(map(pair_bucket, pairs))
    return out


Vector = tuple[float, ...]  # one weight per topic
_Word = tuple[str | None, Vector | None, int]


@dataclass(frozen=True, slots=True)
class Guess:
    topic: str
    margin: float  # over the second-best topic, in log-odds
    known: int  # distinct words of the text the model has weights for
    scores: dict[str, float]  # every topic's log-probability
    _words: tuple[tuple[Vector, str], ...]  # the known words' vectors, in the text's order
    _where: dict[str, tuple[str, int]]  # word → (field, token index) of its first occurrence
    _topics: tuple[str, ...]

    def words(self, topic: str | None = None) -> tuple[tuple[str, int], ...]:
        """(field, token index) of the words that weigh most for the topic (default: the
        model's), strongest first; none when no word of the text weighs for it."""
        j = self._topics.index(topic or self.topic)
        # weights are centred per feature: a word's weight for a topic is its lift over the mean
        lift = sorted(((v[j], -i, s) for i, (v, s) in enumerate(self._words)), reverse=True)
        return tuple(self._where[s] for x, _, s in lift[:EXPLAIN] if x > 0)


@dataclass(frozen=True, slots=True)
class TopicModel:
    topics: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[int, tuple[float, ...]]  # bucket → one weight per topic
    # A worker's cache (bounded): normalised word → (model form or None, summed vector of its
    # features or None, number of features).
    _words: dict[str, _Word] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> TopicModel:
        """The model from its JSON form: `ids` (uint32, little-endian) and `weights` (int8, one
        per topic and id), both base64; weight = stored / scale."""
        topics = tuple(str(t) for t in doc["topics"])  # type: ignore[attr-defined]
        k = len(topics)
        scale = float(doc["scale"])  # type: ignore[arg-type]
        bias = tuple(float(x) for x in doc["bias"])  # type: ignore[attr-defined]
        if int(doc["buckets"]) != BUCKETS or len(bias) != k:  # type: ignore[call-overload]
            raise ValueError("topic model: buckets or bias do not match this code")
        ids, values = array("I"), array("b")
        ids.frombytes(base64.b64decode(str(doc["ids"])))
        values.frombytes(base64.b64decode(str(doc["weights"])))
        if sys.byteorder == "big":
            ids.byteswap()
        if len(values) != len(ids) * k:
            raise ValueError("topic model: the weights do not match the ids and topics")
        scaled = [v / scale for v in values]
        weights = {b: tuple(scaled[i * k : (i + 1) * k]) for i, b in enumerate(ids)}
        return cls(topics, bias, weights)

    def _word(self, word: str) -> _Word:
        stem = feature(word)
        if stem is None:
            hit: _Word = (None, None, 0)
        else:
            buckets = word_buckets(stem)
            vectors = [v for b in buckets if (v := self.weights.get(b)) is not None]
            vector = tuple(map(sum, zip(*vectors, strict=True))) if vectors else None
            hit = (stem, vector, len(buckets))
        if len(self._words) >= _CACHE_MAX:
            self._words.clear()
        self._words[word] = hit
        return hit

    def guess(self, fields: Sequence[tuple[str, Tokens]]) -> Guess | None:
        """The best topic for these (field, tokens), or None when no known word occurs.

        The features are those of `text_buckets` (what training saw), summed per word and per
        pair from the caches."""
        words, weights = self._words, self.weights
        seen: dict[str, tuple[str, int]] = {}
        known: list[tuple[Vector, str]] = []
        vectors: list[Vector] = []
        neighbours: set[tuple[str, str]] = set()
        n = 0
        for name, tokens in fields:
            previous: str | None = None
            for i, word in enumerate(
                tokens.words if name == "title" else tokens.words[:BODY_WORDS]
            ):
                stem, vector, count = words.get(word) or self._word(word)
                if stem is None:
                    continue
                if stem not in seen:
                    seen[stem] = (name, i)
                    n += count
                    if vector is not None:
                        known.append((vector, stem))
                if previous is not None:
                    neighbours.add((previous, stem))
                previous = stem
        if not known:
            return None
        n += len(neighbours)
        vectors = [v for v, _ in known]
        for pair in neighbours:
            v = weights.get(pair_bucket(pair))
            if v is not None:
                vectors.append(v)
        norm = 1.0 / math.sqrt(n)
        total = [
            b + s * norm
            for b, s in zip(self.bias, map(sum, zip(*vectors, strict=True)), strict=True)
        ]
        top = max(total)
        log_z = top + math.log(sum(math.exp(x - top) for x in total))
        best = total.index(top)
        second = sorted(total)[-2] if len(total) > 1 else top
        return Guess(
            self.topics[best],
            top - second,
            len(known),
            {t: x - log_z for t, x in zip(self.topics, total, strict=True)},
            tuple(known),
            seen,
            self.topics,
        )


def heldout(article_id: str) -> bool:
    """ANT articles kept out of training (a fifth, by a hash of the id): evaluation only."""
    return int(hashlib.sha256(f"t:{article_id}".encode()).hexdigest(), 16) % 5 == 0


@lru_cache(maxsize=1)
def default_model() -> TopicModel | None:
    """The packaged model; None if the data file is absent (the lexicons then decide alone)."""
    path = data_file(MODEL_FILE)
    if not path.is_file():
        return None
    return TopicModel.from_doc(orjson.loads(path.read_bytes()))
