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
A word's summed vector is memoised (bounded), so a warm worker pays one dict lookup per word,
whatever the n-grams; a pair's bucket is one CRC-32 call over its two memoised forms joined
by a space, once per distinct pair (no memo of pairs, whose vocabulary has no end; issue 13,
round eight: the memo's entries no longer keep a CRC prefix per form, one object fewer to
reach per word in a worker whose memos do not stay in the CPU cache). A text's words, pairs
and sums go through C-level map/zip/filter steps rather than a Python loop per word, summed
in a fixed order: words as they first occur, then pairs as they first occur (a set's order
before, which varied with the process's string hashing). No runtime dependency (numpy's sums
were tried in round eight: the same floats, but no faster in the worker's loop).

A word the memo has not seen (issue 13: a stream brings new words for ever) is looked up by its
model form first: the forms are memoised too (bounded), and the words of one form share its
entry, so «والانفجار» after «انفجار» costs the form's stripping alone. A new form's n-grams are
sliced from its UTF-8 bytes (encoded once); only the unseen words of a text go through a Python
loop. The worker's path fills neither `feature`'s nor `word_buckets`' cache (the memos hold
what they would), which halves the model's memory after 20,000 articles. The memos' entries and
the model's weights keep their floats packed (C doubles in `bytes`, ~300 bytes a model form
where a tuple of float objects took ~600), summed by topic column over one memoryview: the
same floats added in the same order, so the same scores bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, pairwise, repeat
from operator import add, and_, itemgetter, mul, not_, sub
from typing import cast

import orjson

from streams.classify.places import word_variants
from streams.resources import data_file
from streams.stories.features import stopwords
from streams.text.arabic import Tokens
from streams.text.memo import Memo, WordMemo

MODEL_FILE = "topic_model.json"
BODY_WORDS = 60  # the lead says what an article is about; more words cost time, not accuracy
BUCKETS = 1 << 20
NGRAMS = (3, 4, 5)
EXPLAIN = 5  # words given as evidence
# The memos' caps (bounded memory in a long-running worker), reached by ~9,000 articles of a
# feed (ANT's first 10,000 bring 63,880 words of 41,972 model forms, all 31,525 bring 103,585
# of 65,606), so that a worker's memory is flat from there (issue 13): a feed's vocabulary
# keeps arriving for weeks, and caps above it grew the worker by ~17 MB of memo objects from
# 10,000 to 40,000 articles. A memo below the vocabulary a feed keeps using is paid in misses
# (~2.5 µs a new word of a known form, ~10 µs a new form): measured in docs/performance.md,
# "Memory: round eleven" (and round six). Words at 1.5 per form (ANT's ratio), so the words'
# memo does not keep alive more entries than the forms' cap allows. At the caps ~22 MB of
# objects together (~50 MB at the former 160,000 / 100,000).
_CACHE_MAX = 60_000  # memoised words
_FORMS_MAX = 40_000  # memoised model forms
_MASK = BUCKETS - 1


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
    return zlib.crc32(key.encode()) & _MASK


@lru_cache(maxsize=65536)
def word_buckets(stem: str) -> tuple[int, ...]:
    """The hashed features of one word: the word, then its character n-grams."""
    marked = f"<{stem}>"
    grams = [f"w:{stem}", *map(marked.__getitem__, _gram_slices(len(marked)))]
    return tuple(map(and_, map(zlib.crc32, map(str.encode, grams)), repeat(_MASK)))


@lru_cache(maxsize=128)
def _gram_slices(size: int) -> tuple[slice, ...]:
    """Where the character n-grams of a marked word of `size` characters are: the 3-grams
    from the left, then the 4-grams, then the 5-grams."""
    return tuple(slice(i, i + n) for n in NGRAMS for i in range(size - n + 1))


def _word_buckets(stem: str, data: bytes) -> tuple[int, ...]:
    """`word_buckets(stem)`, not cached (its caller memoises), from the word's UTF-8 bytes
    (`data`); cheaper for a word written in letters of two bytes each (Arabic): its n-grams are
    sliced from the marked word's bytes rather than each encoded on its own (the same bytes,
    so the same CRCs)."""
    if _TWO_BYTE_LETTERS(stem) is None:
        return word_buckets.__wrapped__(stem)
    marked = b"<" + data + b">"
    grams = [b"w:" + data, *map(marked.__getitem__, _BYTE_SLICES[len(stem)])]
    return tuple(map(and_, map(zlib.crc32, grams), repeat(_MASK)))


_TWO_BYTE_LETTERS = re.compile("[\u0080-\u07ff]+").fullmatch  # two bytes each in UTF-8


def _byte_slices(letters: int) -> tuple[slice, ...]:
    """`_gram_slices` of «<word>» in its UTF-8 bytes, for a word of `letters` letters of two
    bytes each: «<» and «>» take one byte, so character c starts at byte 2c - 1 (c ≥ 1)."""
    size = letters + 2

    def byte(c: int) -> int:
        return 0 if c == 0 else 2 * size - 2 if c == size else 2 * c - 1

    return tuple(slice(byte(g.start), byte(g.stop)) for g in _gram_slices(size))


class _ByteSlices(dict[int, tuple[slice, ...]]):
    """`_byte_slices` by number of letters, worked out once per length (words have at most
    MAX_WORD_CHARS letters: a bounded table)."""

    def __missing__(self, letters: int) -> tuple[slice, ...]:
        slices = self[letters] = _byte_slices(letters)
        return slices


_BYTE_SLICES = _ByteSlices()


@lru_cache(maxsize=65536)
def pair_bucket(pair: tuple[str, str]) -> int:
    return _bucket(f"p:{pair[0]} {pair[1]}")


_PAIR_START = zlib.crc32(b"p:")
_SPACE = b" "


def pair_buckets(pairs: Iterable[tuple[bytes, bytes]]) -> Iterator[int]:
    """`pair_bucket` of each pair of model forms given as UTF-8 bytes: the CRC-32 of
    «p:<first> <second>» continued from «p:»'s over the two forms joined by a space, in C (no
    key string built, nothing kept per form)."""
    crcs = map(zlib.crc32, map(_SPACE.join, pairs), repeat(_PAIR_START))
    return map(and_, crcs, repeat(_MASK))


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
# A row of weights as the worker keeps it: one C double per topic, packed in native order (a
# tuple of 10 float objects is 360 bytes, these bytes 113). The worker sums packed rows by
# joining them and summing every topic's column of the joined doubles (a strided slice of one
# memoryview): the same floats added in the same order as a sum over tuples, and faster.
Packed = bytes
# What the model makes of one normalised word (issue 13: compact, the memos hold ~100,000):
# its model form's UTF-8 bytes (None: a word it ignores), the summed weights of its features
# (`Packed`; None: none is shipped) and how many features it has.
_Word = tuple[bytes | None, Packed | None, int]
_IGNORED: _Word = (None, None, 0)
_form_of = itemgetter(0)
_vector_of = itemgetter(1)
_count_of = itemgetter(2)


def pack(values: Iterable[float]) -> Packed:
    """Floats as a packed row (C doubles, native order)."""
    return array("d", values).tobytes()


def unpack(row: Packed) -> Vector:
    """A packed row's floats."""
    return tuple(memoryview(row).cast("d"))


@lru_cache(maxsize=8)
def _columns(topics: int) -> tuple[slice, ...]:
    """Where each topic's weights are in packed rows joined end to end."""
    return tuple(slice(j, None, topics) for j in range(topics))


@lru_cache(maxsize=8)
def _packer(topics: int) -> struct.Struct:
    """Packs one row (C doubles, native order, as `pack`)."""
    return struct.Struct(f"={topics}d")


@dataclass(slots=True, eq=False)  # not frozen: built once per article, and that costs less
class Guess:
    topic: str
    margin: float  # over the second-best topic, in log-odds
    known: int  # distinct words of the text the model has weights for
    scores: dict[str, float]  # every topic's log-probability
    _weights: memoryview[float]  # the known words' packed vectors, in the text's order, as doubles
    _stems: list[bytes]  # … and the words' model forms
    # per field read: (field, every word's model form or None, aligned with its tokens)
    _positions: list[tuple[str, list[bytes | None]]]
    _topics: tuple[str, ...]
    _explained: dict[int, tuple[tuple[str, int], ...]]  # topic index → `words(topic)`

    def words(self, topic: str | None = None) -> tuple[tuple[str, int], ...]:
        """(field, token index) of the words that weigh most for the topic (default: the
        model's), strongest first; none when no word of the text weighs for it."""
        j = self._topics.index(topic or self.topic)
        done = self._explained.get(j)
        if done is None:
            # weights are centred per feature: a word's weight for a topic is its lift over
            # the mean. A stable sort, descending: equal lifts keep the text's order.
            lift = self._weights[j :: len(self._topics)].tolist()
            order = sorted(range(len(lift)), key=lift.__getitem__, reverse=True)[:EXPLAIN]
            done = self._explained[j] = tuple(
                self._where(self._stems[i]) for i in order if lift[i] > 0
            )
        return done

    def _where(self, stem: bytes) -> tuple[str, int]:
        """(field, token index) of the word's first occurrence (title first): a known word is
        always in the text it was read from, so the last field is searched without a check."""
        positions = self._positions
        last = len(positions) - 1
        for k in range(last):
            name, stems = positions[k]
            if stem in stems:
                return name, stems.index(stem)
        name, stems = positions[last]
        return name, stems.index(stem)


@dataclass(frozen=True, slots=True)
class TopicModel:
    topics: tuple[str, ...]
    bias: tuple[float, ...]
    rows: dict[int, Packed]  # bucket → its weights, one per topic (`weight` unpacks one)
    # A worker's memo (bounded: the vocabulary of a stream never ends): normalised word →
    # what the model makes of it (`_Word`).
    _words: WordMemo[_Word] = field(
        default_factory=lambda: WordMemo(_CACHE_MAX), compare=False, repr=False
    )
    # … and model form (its UTF-8 bytes) → the same entry, shared by the words of that form
    _forms: Memo[bytes, _Word] = field(
        default_factory=lambda: Memo(_FORMS_MAX), compare=False, repr=False
    )

    @classmethod
    def of(
        cls, topics: Sequence[str], bias: Sequence[float], weights: Mapping[int, Sequence[float]]
    ) -> TopicModel:
        """The model from its weights as floats (bucket → one weight per topic)."""
        return cls(tuple(topics), tuple(bias), {b: pack(v) for b, v in weights.items()})

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
        scaled = pack(v / scale for v in values)
        size = 8 * k  # bytes of a row
        return cls(topics, bias, {b: scaled[i * size : (i + 1) * size] for i, b in enumerate(ids)})

    def weight(self, bucket: int) -> Vector | None:
        """A bucket's weights, one per topic (None: not shipped)."""
        row = self.rows.get(bucket)
        return None if row is None else unpack(row)

    def word(self, word: str) -> tuple[str | None, Vector | None, int]:
        """What the model makes of a normalised word, computed (not memoised): its model form,
        the sum of its features' weights (the word and its n-grams; None if none is shipped)
        and its number of features."""
        return _readable(self._word_of(word))

    def _word_of(self, word: str) -> _Word:
        """`word` as the memo keeps it (`_Word`), computed."""
        stem = feature(word)
        return _IGNORED if stem is None else self._form(stem, stem.encode())

    def _form(self, stem: str, data: bytes) -> _Word:
        """`_word_of` a word whose model form is `stem` (UTF-8: `data`)."""
        buckets = _word_buckets(stem, data)
        rows = list(filter(None, map(self.rows.get, buckets)))  # in the buckets' order
        vector = self._sum(rows) if rows else None
        return (data, vector, len(buckets))

    def _sum(self, rows: list[Packed]) -> Packed:
        """The rows summed per topic, packed: each topic's column in the rows' order."""
        k = len(self.topics)
        doubles = memoryview(b"".join(rows)).cast("d")
        return _packer(k).pack(*map(sum, map(doubles.__getitem__, _columns(k))))

    def _word(self, word: str) -> _Word:
        """`_word_of`, memoised: per word, and per model form (a new word of a known form, such
        as «والانفجار» after «انفجار», costs its form alone)."""
        stem = feature.__wrapped__(word)  # the memo of words is feature's cache here
        if stem is None:
            entry = _IGNORED
        else:
            data = stem.encode()
            entry = self._forms.get(data) or self._forms.remember(data, self._form(stem, data))
        return self._words.remember(word, entry)

    def _fill(self, words: list[str], memoised: list[_Word | None]) -> list[_Word]:
        """`memoised` (the memo's entries for `words`, None for a word it has not seen)
        completed in place: a Python loop over the unseen words alone."""
        get = self._words.get
        for i in compress(range(len(words)), map(not_, memoised)):
            word = words[i]
            memoised[i] = get(word) or self._word(word)  # (the word may repeat)
        return cast(list[_Word], memoised)

    def guess(self, fields: Sequence[tuple[str, Tokens]]) -> Guess | None:
        """The best topic for these (field, tokens), or None when no known word occurs.

        The features are those of `text_buckets` (what training saw): each distinct word's
        summed vector from the memo, and each distinct pair's bucket from its two words'
        memoised forms (`pair_buckets`). Per word and per pair, a few C-level steps (map, zip,
        filter)."""
        get = self._words.get
        distinct: dict[bytes, _Word] = {}  # model form → its entry, in order of first occurrence
        pairs: list[tuple[bytes, bytes]] = []  # neighbouring words' model forms, in text order
        positions: list[tuple[str, list[bytes | None]]] = []
        for name, tokens in fields:
            words = tokens.words if name == "title" else tokens.words[:BODY_WORDS]
            memoised: list[_Word | None] = list(map(get, words))
            # (words not seen before, or forgotten, are None: computed first)
            entries = cast(list[_Word], memoised) if all(memoised) else self._fill(words, memoised)
            stems: list[bytes | None] = list(map(_form_of, entries))
            positions.append((name, stems))
            kept: list[_Word] = list(compress(entries, stems))
            if kept:
                forms: list[bytes] = list(map(_form_of, kept))
                distinct.update(zip(forms, kept, strict=True))
                pairs.extend(pairwise(forms))
        vectors: list[Packed | None] = list(map(_vector_of, distinct.values()))
        known: list[Packed] = list(filter(None, vectors))
        if not known:
            return None
        distinct_pairs = dict.fromkeys(pairs)  # in order of first occurrence
        n = sum(map(_count_of, distinct.values())) + len(distinct_pairs)
        buckets = pair_buckets(distinct_pairs)
        k = len(self.topics)
        # The known words' rows in the text's order, then the pairs' rows, joined: each topic's
        # sum is its column's, in that order (training's evaluation sums the same floats in
        # the same order), in C.
        doubles = memoryview(b"".join([*known, *filter(None, map(self.rows.get, buckets))]))
        weights = doubles.cast("d")
        summed = map(sum, map(weights.__getitem__, _columns(k)))
        norm = 1.0 / math.sqrt(n)
        total = list(map(add, self.bias, map(mul, summed, repeat(norm))))
        top = max(total)
        log_z = top + math.log(sum(map(math.exp, map(sub, total, repeat(top)))))
        best = total.index(top)
        second = sorted(total)[-2] if len(total) > 1 else top
        return Guess(
            self.topics[best],
            top - second,
            len(known),
            dict(zip(self.topics, map(sub, total, repeat(log_z)), strict=False)),
            weights[: k * len(known)],
            list(compress(distinct, vectors)),
            positions,
            self.topics,
            {},
        )


def _readable(entry: _Word) -> tuple[str | None, Vector | None, int]:
    """A memo entry as (model form, summed weights, number of features)."""
    data, vector, count = entry
    return (
        None if data is None else data.decode(),
        None if vector is None else unpack(vector),
        count,
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
