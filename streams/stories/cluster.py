"""Stories: the articles of many outlets about one event, and the alert lifecycle over a story.

Pure code, no faust. Online single-pass clustering as media monitors do it (Miranda et al.,
"Multilingual Clustering of Streaming News", EMNLP 2018; EMM NewsBrief): every article becomes
TF-IDF sub-vectors for its title, lead and body (streams/stories/features.py gives the terms,
streams/stories/docfreq.py the document frequencies learned from the stream); it is compared
with the centroids of the live stories (field by field, title against lead both ways, and how
much of its rarest terms' weight they hold), with their places and numbers, and with their
age; a logistic model (streams/data/story_model.json, trained on labelled pairs by
bench/train_story_model.py) turns these into the probability that the article reports the
story's event. It joins the most probable story if that reaches the threshold, or opens one.

Candidates come from an inverted index (a story's heaviest terms → the story): the article
looks up its heaviest terms that some live story is listed under and ranks the stories by its
weight of the terms that list them, then by recency; only the first few are compared, so the
work per article depends on neither how many stories are live nor how many share a common
term; a candidate sharing almost nothing of the article's lead and rarest terms is skipped
before the full comparison.
The worker keeps story → state in a changelog-backed table and the index in memory (rebuilt
from the stories with `StoryIndex.build`), and passes both in; `Clusterer` bundles dicts.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import struct
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, compress, islice, repeat
from operator import add, itemgetter, mul, or_, truediv
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, final

import orjson

from streams import alerts
from streams.classify.names import names_of
from streams.ids import alert_id
from streams.resources import data_file
from streams.severity import raised
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures

if TYPE_CHECKING:
    from streams.settings import Settings

K = TypeVar("K")
MAX_LISTED_ARTICLES = 200  # an alert (and a story) lists at most this many articles
MAX_COPIES = 200  # (source, fingerprint) pairs a story remembers to spot same-outlet copies
MAX_POSTINGS = 40  # stories per index term: the most recently active ones
MAX_STORY_NUMBERS = 40
MAX_STORY_ENTITIES = 40
# outlets a story (and an alert) lists: the first ones to report it. Past this many, a story
# counts its further outlets in `outlets` (`_add_outlet`); an alert lists no more.
MAX_STORY_SOURCES = 64
FIELDS = ("title", "lead", "body")
ARTICLE_TERMS = {"title": 20, "lead": 40, "body": 60}  # heaviest terms kept per vector
CENTROID_TERMS = {"title": 40, "lead": 80, "body": 100}
QUERY_TERMS = 8  # an article's heaviest body terms the `rare` feature (and the index) look at
# A candidate sharing almost nothing of the article's lead and of its heaviest terms is not
# scored: of 128,000 comparisons over ANT (bench/dedup_eval.py) none below both reached the
# join threshold (lead cosine < 0.05 and rare < 0.25: 42% of the comparisons, p ≤ 0.65).
GATE_LEAD = 0.05
GATE_RARE = 0.25
Vectors = dict[str, dict[str, float]]
# what the model weighs, in the order of Similarity's fields and story_model.json's weights
FEATURES = ("title", "lead", "body", "places", "numbers", "age_hours", "cross", "rare")


@dataclass(frozen=True, slots=True)
class StoryModel:
    """Logistic weights: P(same event) = σ(bias + Σ weight × similarity feature)."""

    bias: float
    title: float
    lead: float
    body: float
    places: float
    numbers: float
    age_hours: float
    cross: float = 0.0  # features a model file may lack (one trained before them) weigh 0
    rare: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StoryModel:
        w = data["weights"]
        return cls(float(data["bias"]), *(float(w.get(k, 0.0)) for k in FEATURES))


@lru_cache(maxsize=1)
def packaged_model() -> tuple[StoryModel, float, float]:
    """The shipped model, its join threshold and its anchor (streams/data/story_model.json)."""
    data = orjson.loads(data_file("story_model.json").read_bytes())
    join = packaged_join()
    return StoryModel.from_mapping(data), join["threshold"], join["anchor"]


@lru_cache(maxsize=1)
def packaged_join() -> Mapping[str, float]:
    """The shipped join settings: `threshold`, `anchor` and `outlet_threshold` (0 when the
    file has none: the join threshold applies to every story)."""
    join = orjson.loads(data_file("story_model.json").read_bytes())["join"]
    return MappingProxyType(  # cached: read-only
        {
            "threshold": float(join["threshold"]),
            "anchor": float(join["anchor"]),
            "outlet_threshold": float(join.get("outlet_threshold", 0.0)),
        }
    )


def _default_model() -> StoryModel:
    return packaged_model()[0]


@dataclass(frozen=True, slots=True)
class StoryParams:
    # Defaults = the worker's (settings.py) and the packaged model's.
    window_seconds: float = 48 * 3600.0  # a story quiet this long is closed
    threshold: float = field(default_factory=lambda: packaged_join()["threshold"])  # min. prob.
    model: StoryModel = field(default_factory=_default_model)
    # a story's heaviest body terms (and half as many title terms) indexed
    index_terms: int = QUERY_TERMS
    # stories compared per article, the first by `StoryIndex.candidates`' ranking: 6 gives
    # the labelled pairs' and days' figures of 12 (bench/dedup_eval.py --candidates) at ~0.85×
    # the cost with 10,000 live stories (bench/story_stage.py --candidates)
    max_candidates: int = 6
    # min. probability against the story's first article too (0: not checked), so a story
    # that grew does not drift away from the event it reports
    anchor: float = field(default_factory=lambda: packaged_join()["anchor"])
    gate: bool = True  # skip the full comparison of candidates that share almost nothing
    # min. probability to join a story the article's own outlet has already reported (the
    # higher of this and `threshold`; 0: `threshold`): an outlet seldom files two reports of
    # one event, its second article on a story is more often a reaction, a side story or a
    # follow-up (bench/story_errors.py: 18 of the 22 wrongly merged labelled pairs)
    outlet_threshold: float = field(default_factory=lambda: packaged_join()["outlet_threshold"])
    # which stories `StoryIndex.candidates` returns: "listed" looks up the article's heaviest
    # terms some live story is listed under and ranks the stories by the article's weight of
    # them (`StoryIndex.lookup`); "heaviest", the release before: the stories listed under its
    # heaviest terms, listed or not, by how many of them list each (round twelve: 11 of the 12
    # labelled pairs the index missed are grouped now; bench/dedup_eval.py --lookup)
    lookup: str = "listed"

    @classmethod
    def from_settings(cls, settings: Settings, threshold: float | None = None) -> StoryParams:
        """The worker's parameters (RASID_STORY_*): the worker and the offline commands share
        them, so `rasid stories` and `rasid trends` cluster as the worker does."""
        return cls(
            window_seconds=settings.story_window_hours * 3600.0,
            threshold=settings.story_threshold if threshold is None else threshold,
            anchor=settings.story_anchor,
            outlet_threshold=settings.story_outlet_threshold,
        )


@dataclass(frozen=True, slots=True)
class Similarity:
    """How an article compares with a story: what the model weighs."""

    title: float
    lead: float
    body: float
    places: float  # 0 when either names no place
    numbers: float  # Jaccard of the numbers both give
    age_hours: float  # since the story's first article: an event is reported within hours
    # the article's title against the story's lead and its lead against the story's title
    # (mean): a rewrite's title often says what the other's lead says
    cross: float = 0.0
    # share of the article's heaviest (rarest) terms' weight that the story's centroids have:
    # names of people, organisations and places a rewrite keeps whatever its angle
    rare: float = 0.0

    def probability(self, model: StoryModel) -> float:
        z = (
            model.bias
            + model.title * self.title
            + model.lead * self.lead
            + model.body * self.body
            + model.places * self.places
            + model.numbers * self.numbers
            + model.age_hours * self.age_hours
            + model.cross * self.cross
            + model.rare * self.rare
        )
        return _z_to_probability(z)


@final
class Centroid:
    """A story's body centroid (`PACKED`), term → weight, in the order the dict it
    was made of had (`of`): a dict from each term to its position (small ints: Python shares
    one object per value below 257, so the dict's values cost nothing more) and the weights
    packed in an `array("d")`, 8 bytes each where a float object per weight took 24.
    The same doubles in the same order as the dict, so every dot product, norm and heaviest
    term is bit for bit what the dict gave. Read-only: `add_member` makes a new one. The
    stories table stores it as that dict (`__json__`, which faust's JSON codec calls), and a
    state read back from the table is made compact again (`compact`)."""

    __slots__ = ("ordered", "slots", "weights")

    def __init__(self, slots: dict[str, int], weights: array[float], ordered: bool = False):
        self.slots = slots
        self.weights = weights
        # in `_heaviest`'s order (heaviest first, ties to the larger term): it was cut to its
        # heaviest terms, so `_heaviest` of it is its first terms, no sort needed
        self.ordered = ordered

    @classmethod
    def of(cls, weights: Mapping[str, float]) -> Centroid:
        return cls(
            dict(zip(weights, range(len(weights)), strict=True)), array("d", weights.values())
        )

    def __json__(self) -> dict[str, float]:
        return dict(zip(self.slots, self.weights, strict=True))

    def keys(self) -> Iterator[str]:  # with `values`, what `_heaviest` reads
        return iter(self.slots)

    def values(self) -> array[float]:
        return self.weights

    def items(self) -> Iterator[tuple[str, float]]:
        return zip(self.slots, self.weights, strict=True)

    def get(self, term: str, default: float = 0.0) -> float:
        at = self.slots.get(term)
        return default if at is None else self.weights[at]

    def __getitem__(self, term: str) -> float:
        return self.weights[self.slots[term]]

    def __contains__(self, term: object) -> bool:
        return term in self.slots

    def __iter__(self) -> Iterator[str]:
        return iter(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Centroid):
            return self.slots == other.slots and self.weights == other.weights
        return isinstance(other, Mapping) and self.__json__() == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Centroid({self.__json__()!r})"


# The centroids kept as `Centroid`s: the body's (up to 100 terms, 16 bytes a term saved;
# ~0.9 KB a live story). Its dot product costs ~25% more than a dict's (a position looked up
# and a float made per shared term), once per compared story: the body 1-4% of assign
# (docs/performance.md, "Stories: round six"). The lead's would save ~0.55 KB more a story
# but is compared for every candidate (the gate): with it, 7-9% of assign. The title's (20-40
# terms) would save nothing: its `Centroid` and array objects cost what its floats do.
PACKED = ("body",)


@final
class First:
    """A story's `first` (its first article, kept for the anchor: `_first_of`) held as its
    JSON bytes: ~12.5 KB reachable per story of two articles or more (its terms shared with
    the centroids), ~2.3 KB as bytes (docs/performance.md, "Memory: round sixteen"). It is
    read only by `opener`, for a candidate that passed the join threshold (`anchored`), which
    decodes it: orjson gives back the same doubles in the same order, so every feature is bit
    for bit the dict's. The stories table stores the same JSON as the dict (`__json__` hands
    faust's orjson codec the bytes as they are), and a state read back from the table is
    packed again (`compact`)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    @classmethod
    def of(cls, first: Mapping[str, Any]) -> First:
        # copied: the bytes orjson.dumps returns keep the whole buffer it wrote into (32 KB
        # of malloc for ~2.3 KB of JSON), a copy only its own size
        return cls(bytes(memoryview(orjson.dumps(first))))

    def value(self) -> dict[str, Any]:
        """The dict it was made of (a new one at every call)."""
        out: dict[str, Any] = orjson.loads(self.data)
        return out

    def __json__(self) -> orjson.Fragment:
        return orjson.Fragment(self.data)

    def __getitem__(self, name: str) -> Any:  # for benches and tests: decodes it all
        return self.value()[name]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, First):
            return self.data == other.data
        return isinstance(other, Mapping) and self.value() == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"First({self.value()!r})"


def compact(story: dict[str, Any]) -> dict[str, Any]:
    """A story state read back from the table (or written by an earlier release): its `PACKED`
    centroids made `Centroid`s and its `first` a `First`, in place (the same JSON; no table
    write needed). Returns it."""
    for name in PACKED:
        centroid = story.get(name)
        if type(centroid) is dict:
            story[name] = Centroid.of(centroid)
    first = story.get("first")
    if type(first) is dict:
        story["first"] = First.of(first)
    return story


def state_json(value: Any) -> Any:
    """`default` for `orjson.dumps` (or `json.dumps`) of a story state outside faust (faust's
    codec calls `__json__` itself): a centroid or a `First` as its dict."""
    if isinstance(value, Centroid):
        return value.__json__()
    if isinstance(value, First):
        return value.value()
    if isinstance(value, Copies):
        return value.__json__()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _heaviest(weights: Mapping[str, float] | Centroid, n: int) -> list[tuple[str, float]]:
    """The n heaviest (term, weight) pairs; ties go to the larger term, so replays agree."""
    if type(weights) is Centroid and weights.ordered:  # sorted so already
        return list(islice(zip(weights.slots, weights.weights, strict=True), n))
    # = heapq.nlargest(n, pairs) (the keys are distinct, so no two pairs tie), one sort in C
    pairs = sorted(zip(weights.values(), weights.keys(), strict=True), reverse=True)
    return [(t, w) for w, t in pairs[:n]]


_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 64)]  # sublinear tf, 1 + ln(count)
# the same by count for every count an article's term can have (a body counts its first
# MAX_BODY_WORDS words): the same doubles, looked up in C
_TF_OF = {c: 1.0 + math.log(c) for c in range(1, 512)}
_first, _second = itemgetter(0), itemgetter(1)
# ln(df + 1) for the document frequencies most terms have: a list index instead of a call
# (the same doubles `math.log` returns, so the weights are bit for bit those of `DocFreq.idf`)
_LOG1 = [math.log(c + 1) for c in range(4096)]


def article_vectors(
    features: StoryFeatures, df: DocFreq, weights: Mapping[str, float] | None = None
) -> Vectors:
    """Unit-length TF-IDF vectors of the title, lead and body over their heaviest terms
    (`DocFreq.idf` inlined, once per distinct term: this runs for ~150 terms per article).
    `weights`: every term's idf as `DocFreq.add_weighed` returned it, when the caller has it."""
    log, tf = math.log, _TF
    if weights is None:
        get, log1 = df.counts.get, _LOG1
        base = 1.0 + log(df.docs + 1)
        idf = {}
        for t in features.terms():
            c = get(t, 0)
            idf[t] = base - (log1[c] if c < 4096 else log(c + 1))
        weights = idf
    out: Vectors = {}
    tf_of, weight_of = _TF_OF.get, weights.__getitem__
    for name in FIELDS:
        counts: Mapping[str, int] = getattr(features, name)
        try:  # (tf × idf, term) in C; a count outside `_TF_OF` (≤ 0 too) gives None: TypeError
            weighted = list(
                zip(
                    map(mul, map(tf_of, counts.values()), map(weight_of, counts)),
                    counts,
                    strict=True,
                )
            )
        except TypeError:
            weighted = [
                ((tf[c] if c < 64 else 1.0 + log(c)) * weights[t], t)
                for t, c in counts.items()
                if c > 0
            ]
        n = ARTICLE_TERMS[name]
        # the heaviest first, ties to the larger term (= heapq.nlargest: the terms are distinct,
        # so no two pairs tie; one sort in C); in the features' order when every term is kept
        top = sorted(weighted, reverse=True)[:n] if len(weighted) > n else weighted
        ws = list(map(_first, top))
        norm = math.sqrt(sum(map(mul, ws, ws))) or 1.0
        out[name] = dict(zip(map(_second, top), map(truediv, ws, repeat(norm)), strict=True))
    return out


def _dot(vector: Mapping[str, float], centroid: Mapping[str, float] | Centroid) -> float:
    """Σ w·c over the terms of the smaller side, in its order, the terms the other lacks left
    out: they add exactly +0.0 (weights are positive), so the sum is bit for bit the sum over
    every term. All in C: the shared terms found by one probe each (~1 in 5 is shared), then
    both weights of those looked up (~1.3× cheaper than a Python loop of `get`s). A story's
    `Centroid`: the same sum, its weights read by position (the smaller side's order kept)."""
    if type(centroid) is Centroid:
        slots, weights = centroid.slots, centroid.weights
        if len(vector) > len(slots):  # the centroid's order: its shared terms and weights
            mask = list(map(vector.__contains__, slots))
            return sum(
                map(mul, compress(weights, mask), map(vector.__getitem__, compress(slots, mask))),
                0.0,
            )
        common = list(filter(slots.__contains__, vector))
        return sum(
            map(
                mul,
                map(vector.__getitem__, common),
                map(weights.__getitem__, map(slots.__getitem__, common)),
            ),
            0.0,
        )
    if len(vector) > len(centroid):
        vector, centroid = centroid, vector
    common = list(filter(centroid.__contains__, vector))
    return sum(map(mul, map(vector.__getitem__, common), map(centroid.__getitem__, common)), 0.0)


def _places(entities: Sequence[str], story: Mapping[str, int], norm: float = 0.0) -> float:
    """Cosine of the article's places (each once) with the story's place counts; `norm`: the
    story's, when its state has it cached (`add_member`)."""
    if not entities or not story:
        return 0.0
    dot = sum(map(story.get, entities, repeat(0)))
    if not dot:
        return 0.0
    norm = norm or math.sqrt(sum([c * c for c in story.values()]))
    return dot / (math.sqrt(len(entities)) * norm)


def _numbers(numbers: Sequence[str], story: Mapping[str, int]) -> float:
    if not numbers or not story:
        return 0.0
    shared = sum(map(story.__contains__, numbers))  # True counts 1
    return shared / (len(numbers) + len(story) - shared)


def _rare(
    query: Query, body: Mapping[str, float] | Centroid, title: Mapping[str, float] | Centroid
) -> float:
    """The share of the query's body weight (its heaviest terms) whose terms are in the
    story's body or title centroid: the weights of those summed in the query's order, in C."""
    if not query.total:
        return 0.0
    if type(body) is Centroid:
        body = body.slots
    if type(title) is Centroid:
        title = title.slots
    terms = query.body_terms
    found = map(or_, map(body.__contains__, terms), map(title.__contains__, terms))
    return sum(compress(query.body_weights, found), 0.0) / query.total


def compare(
    vectors: Vectors,
    features: StoryFeatures,
    story: Mapping[str, Any],
    at: float,
    query: Query | None = None,
) -> Similarity:
    """An article against a story (its centroids, places, numbers, age); `query`: the article's
    heaviest terms (`Query.of`), when the caller has them already."""
    norms = story["norms"]
    title, lead = vectors["title"], vectors["lead"]
    return Similarity(
        _dot(title, story["title"]) / norms["title"],
        _dot(lead, story["lead"]) / norms["lead"],
        _dot(vectors["body"], story["body"]) / norms["body"],
        _places(features.entities, story["entities"], story.get("entities_norm", 0.0)),
        _numbers(features.numbers, story["numbers"]),
        max(0.0, at - story["first_seen"]) / 3600.0,
        (_dot(title, story["lead"]) / norms["lead"] + _dot(lead, story["title"]) / norms["title"])
        / 2,
        _rare(query or Query.of(vectors, QUERY_TERMS), story["body"], story["title"]),
    )


def _z_to_probability(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def probability(
    vectors: Vectors,
    features: StoryFeatures,
    story: Mapping[str, Any],
    at: float,
    model: StoryModel,
    query: Query | None = None,
    lead_dot: float | None = None,
) -> float:
    """`compare(...).probability(model)`, bit for bit, without computing the features the
    model weighs 0 (the shipped model has no `cross` and no `rare`: 2 of the 5 dot products
    and the rare terms' loop): 0 × a finite feature adds exactly 0.0, so the sum, run in
    `Similarity.probability`'s order, is unchanged. `lead_dot`: the article's lead · the
    story's lead centroid, when the gate computed it already."""
    norms = story["norms"]
    title, lead = vectors["title"], vectors["lead"]
    z = (
        model.bias
        + model.title * (_dot(title, story["title"]) / norms["title"])
        + model.lead
        * ((_dot(lead, story["lead"]) if lead_dot is None else lead_dot) / norms["lead"])
        + model.body * (_dot(vectors["body"], story["body"]) / norms["body"])
        + model.places
        * _places(features.entities, story["entities"], story.get("entities_norm", 0.0))
        + model.numbers * _numbers(features.numbers, story["numbers"])
        + model.age_hours * (max(0.0, at - story["first_seen"]) / 3600.0)
    )
    if model.cross:
        cross = (
            _dot(title, story["lead"]) / norms["lead"] + _dot(lead, story["title"]) / norms["title"]
        )
        z += model.cross * (cross / 2)
    if model.rare:
        rare = _rare(query or Query.of(vectors, QUERY_TERMS), story["body"], story["title"])
        z += model.rare * rare
    return _z_to_probability(z)


def compare_first(
    vectors: Vectors,
    features: StoryFeatures,
    story: Mapping[str, Any],
    at: float,
    query: Query | None = None,
) -> Similarity:
    """An article against the story's first article (what the model was trained on)."""
    return compare(vectors, features, opener(story), at, query)


_UNIT_NORMS = {"title": 1.0, "lead": 1.0, "body": 1.0}


def opener(story: Mapping[str, Any]) -> dict[str, Any]:
    """The story's first article seen as a story (what `compare_first` and the anchor compare
    with): its unit vectors (norms 1.0: a division by 1.0 is exact, so the features are those
    of the plain dot products), its places and numbers counted once, the story's age."""
    first = story.get("first")
    if type(first) is First:
        first = first.value()
    elif not first:
        first = _first_of(story)
    return {
        "title": first["title"],
        "lead": first["lead"],
        "body": first["body"],
        "norms": _UNIT_NORMS,
        "entities": dict.fromkeys(first["entities"], 1),
        "numbers": dict.fromkeys(first["numbers"], 1),
        "first_seen": story["first_seen"],
    }


def new_story(at: float) -> dict[str, Any]:
    return {
        "title": {},
        "lead": {},
        "body": {},
        "norms": {"title": 1.0, "lead": 1.0, "body": 1.0},
        "entities": {},
        "numbers": {},
        "size": 0,
        "articles": [],
        "sources": [],
        "copies": [],
        "first_seen": at,
        "last_seen": at,
    }


def _counted(counts: Mapping[str, int], items: Sequence[str], cap: int) -> dict[str, int]:
    out = dict(counts)
    for item in items:
        out[item] = out.get(item, 0) + 1
    if len(out) > cap:
        out = dict(heapq.nlargest(cap, out.items(), key=lambda kv: (kv[1], kv[0])))
    return out


# The weights a unit vector rounded to 4 decimals can have, one float object each: the anchor
# copies of all stories share them (k / 10000 is the double nearest k·10⁻⁴, as round(w, 4) is,
# so each is equal to the weight it stands for; a float object per weight took 24 bytes).
_FOURTHS = {k / 10000: k / 10000 for k in range(10001)}


def _first_of(story: Mapping[str, Any]) -> dict[str, Any]:
    """What the anchor compares with: the story's first article (rounded: it is stored). Taken
    from a one-article story's own state when a second article (or a revision) comes."""
    out: dict[str, Any] = {}
    for name in FIELDS:  # {t: _FOURTHS.get(r, r) for r = round(w, 4)}, in C
        centroid = story[name]
        rounded = list(map(round, centroid.values(), repeat(4)))
        out[name] = dict(zip(centroid.keys(), map(_FOURTHS.get, rounded, rounded), strict=True))
    return {
        **out,
        "entities": list(story["entities"]),
        "numbers": list(story["numbers"]),
    }


def _merged(
    centroid: Mapping[str, float], vector: Mapping[str, float], cap: int
) -> tuple[dict[str, float], float]:
    """A dict centroid (title, lead) with the article's unit vector added, cut to its `cap`
    heaviest terms, and its norm."""
    out = dict(centroid)
    get = out.get
    for t, w in vector.items():
        out[t] = get(t, 0.0) + w
    if len(out) > cap:
        out = dict(_heaviest(out, cap))
    ws = out.values()
    return out, math.sqrt(sum(map(mul, ws, ws))) or 1.0


def _merged_packed(
    centroid: Mapping[str, float] | Centroid, vector: Mapping[str, float], cap: int
) -> tuple[Centroid, float]:
    """`_merged` of a `Centroid`: its terms and weights, then the article's added in its order
    (a term already there weighs old + w, a new one w = 0.0 + w, appended as a dict would
    append it), the same doubles in the same order as the dict's."""
    if type(centroid) is Centroid:
        slots, weights = dict(centroid.slots), centroid.weights[:]
    else:  # a state read back from the table and not made compact
        slots = dict(zip(centroid, range(len(centroid)), strict=True))
        weights = array("d", centroid.values())
    get = slots.get
    for t, w in vector.items():
        pos = get(t)
        if pos is None:
            slots[t] = len(weights)
            weights.append(w)
        else:
            weights[pos] += w
    if len(weights) <= cap:
        return Centroid(slots, weights), math.sqrt(sum(map(mul, weights, weights))) or 1.0
    kept = sorted(zip(weights, slots, strict=True), reverse=True)[:cap]  # as `_heaviest`
    ws = [w for w, _ in kept]
    terms = dict(zip([t for _, t in kept], range(cap), strict=True))
    return Centroid(terms, array("d", ws), True), math.sqrt(sum(map(mul, ws, ws))) or 1.0


def add_member(story: dict[str, Any], vectors: Vectors, features: StoryFeatures, at: float) -> None:
    """Fold one article into a story's centroids, places and numbers (in place).

    A story's first article is only copied aside (`first`, for the anchor) once a second one
    comes: most stories never get one, and until then the centroid is that article."""
    if "first" not in story and story["size"]:
        story["first"] = First.of(_first_of(story))
    norms = {}
    for name in FIELDS:
        vector = vectors[name]
        if not story["size"]:  # a new story: the article's own unit vector (copied)
            story[name] = Centroid.of(vector) if name in PACKED else dict(vector)
            norms[name] = 1.0
        elif name in PACKED:
            story[name], norms[name] = _merged_packed(story[name], vector, CENTROID_TERMS[name])
        else:
            story[name], norms[name] = _merged(story[name], vector, CENTROID_TERMS[name])
    story["norms"] = norms
    story["entities"] = _counted(story["entities"], features.entities, MAX_STORY_ENTITIES)
    story["entities_norm"] = math.sqrt(sum([c * c for c in story["entities"].values()]))
    story["numbers"] = _counted(story["numbers"], features.numbers, MAX_STORY_NUMBERS)
    story["size"] = story["size"] + 1
    story["last_seen"] = max(story["last_seen"], at)


@dataclass(frozen=True, slots=True)
class Query:
    """An article's heaviest body terms and half as many title terms, with their weights: what a
    new story is listed under in the index, what the `rare` feature and the gate weigh, what
    the "heaviest" lookup reads; and all its terms in that order, which the "listed" lookup
    walks for the heaviest ones a live story is listed under."""

    body: list[tuple[str, float]]
    title: list[tuple[str, float]]
    # every body and title term, heaviest first (`_heaviest`'s order): what the index walks
    # for the heaviest terms some live story is listed under (`StoryIndex.lookup`)
    ranked_body: list[tuple[str, float]] = field(repr=False, compare=False)
    ranked_title: list[tuple[str, float]] = field(repr=False, compare=False)
    # the body's terms and weights apart, and the weights' sum: what `_rare` reads for every
    # compared story, made once per article
    body_terms: list[str] = field(init=False, repr=False, compare=False)
    body_weights: list[float] = field(init=False, repr=False, compare=False)
    total: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = [w for _, w in self.body]
        object.__setattr__(self, "body_terms", [t for t, _ in self.body])
        object.__setattr__(self, "body_weights", weights)
        object.__setattr__(self, "total", sum(weights, 0.0))  # summed in order, as `_rare` did

    @classmethod
    def of(cls, vectors: Vectors, n: int) -> Query:
        # one sort per field (an article vector has at most ARTICLE_TERMS terms), sliced twice
        body = _heaviest(vectors["body"], len(vectors["body"]))
        title = _heaviest(vectors["title"], len(vectors["title"]))
        return cls(body[:n], title[: max(1, n // 2)], body, title)

    def terms(self) -> list[str]:
        """The terms looked up, each once: the body's, then the title's others."""
        body = [t for t, _ in self.body]
        return body + [t for t, _ in self.title if t not in body]


def index_terms(story: Mapping[str, Any], n: int) -> list[str]:
    """The terms a story is found by: its heaviest body terms, then those of its half as many
    heaviest title terms the body's do not include (a story of one article: its query's
    `terms`)."""
    body = [t for t, _ in _heaviest(story["body"], n)]
    terms = set(body)
    return body + [t for t, _ in _heaviest(story["title"], max(1, n // 2)) if t not in terms]


def story_id_for(article_id: str) -> str:
    """A story is named after the article that opened it: deterministic across replays."""
    return "st-" + hashlib.sha256(article_id.encode()).hexdigest()[:24]


def _ranked(
    sids: list[str],
    shared: Mapping[str, float],
    seen: Mapping[str, float],
    horizon: float,
    limit: int,
) -> list[str]:
    """The first `limit` live stories of `sids` by score (`shared`), then the most recently
    active, then the larger id: the closed ones dropped first (offline, where nothing calls
    `forget`, they are most of the postings), then three stable sorts; all in C."""
    live = list(compress(sids, map(horizon.__le__, map(seen.__getitem__, sids))))
    live.sort(reverse=True)
    live.sort(key=seen.__getitem__, reverse=True)
    live.sort(key=shared.__getitem__, reverse=True)
    return live[:limit]


@dataclass
class StoryIndex:
    """term → {story id: when the story was last listed under it}: which live stories have
    the term among their heaviest. (A posting held the term's weight in the story too, a tuple
    and a float object per posting, ~80 bytes; nothing read it: `candidates` counts terms.)"""

    postings: dict[str, dict[str, float]] = field(default_factory=dict)
    # article id → its live story, so a later revision of an article finds the story it is in
    # even when its new text shares no heavy term with it. Bounded by the live stories'
    # listed articles; forgotten with the story.
    members: dict[str, str] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)  # story id → last_seen

    def joined(self, sid: str, article_id: str, at: float) -> None:
        self.members[article_id] = sid
        self.seen[sid] = max(at, self.seen.get(sid, at))

    def add(self, sid: str, terms: Sequence[str], at: float) -> None:
        """List the story under each term (`index_terms`)."""
        postings = self.postings
        self.seen[sid] = max(at, self.seen.get(sid, at))  # what `candidates` ranks by
        for t in terms:
            posting = postings.get(t)
            if posting is None:
                posting = postings[t] = {}
            else:
                posting.pop(sid, None)  # re-inserted: dicts keep the most recent last
            posting[sid] = at  # one float object for all the story's postings
            if len(posting) > MAX_POSTINGS:
                del posting[next(iter(posting))]

    def lookup(self, query: Query, horizon: float, n: int) -> list[tuple[str, float]]:
        """The terms the article looks up, with its weights: its `n` heaviest body terms and
        `n // 2` heaviest title terms that a live story is listed under (a term's most
        recently listed story is live), a term of both once at its larger weight. An article's
        heaviest terms are its rarest, often in no earlier article at all (a name spelt its own
        way, an inflected verb): looking those up finds nothing, and two rewrites' heaviest
        terms seldom meet, while the names they share are a little further down (round
        twelve: 10 of the 12 labelled pairs the index missed shared no looked-up term with
        their story)."""
        postings, seen = self.postings, self.seen
        out: dict[str, float] = {}
        for ranked, limit in (
            (query.ranked_body, n),
            (query.ranked_title, max(1, n // 2)),
        ):
            found = 0
            for t, w in ranked:
                posting = postings.get(t)
                if posting is None or seen[next(reversed(posting))] < horizon:
                    continue
                if w > out.get(t, 0.0):
                    out[t] = w
                found += 1
                if found == limit:
                    break
        return list(out.items())

    def candidates(
        self, vectors: Vectors, horizon: float, params: StoryParams, query: Query | None = None
    ) -> list[str]:
        """The live stories the article most likely reports, at most `params.max_candidates`:
        `listed_candidates` (`params.lookup` "listed", the default), or, with "heaviest" (the
        release before), those sharing the most of the article's heaviest terms (its query),
        ranked by how many query terms list them, then the most recently active, then by id
        (so replays and a rebuilt index agree).

        The shared terms are counted in C (`Counter` over the postings' keys) and ranked by
        three stable sorts in C: counting ~150 postings costs a quarter of the weighted Python
        loop this replaced, and the count puts the story an exhaustive comparison would pick
        first more often than the weighted dot product did (ANT articles 14,001-17,000 on a
        ~10,000-story index: 60% against 48%)."""
        query = query or Query.of(vectors, params.index_terms)
        if params.lookup == "listed":
            return self.listed_candidates(query, horizon, params)
        postings, seen = self.postings, self.seen
        found = [postings[t] for t in query.terms() if t in postings]
        if not found or params.max_candidates < 1:
            return []
        shared = Counter(chain.from_iterable(found))
        limit = params.max_candidates
        # Only stories sharing at least as many terms as the limit-th most are ranked (most
        # share one term: sorting them all cost more than counting); the same result unless
        # closed stories leave fewer than `limit` of them, then all are ranked.
        least = sorted(shared.values(), reverse=True)[limit - 1] if len(shared) > limit else 1
        if least > 1:
            out = _ranked(
                [s for s, n in shared.items() if n >= least], shared, seen, horizon, limit
            )
            if len(out) == limit:
                return out
        return _ranked(list(shared), shared, seen, horizon, limit)

    def listed_candidates(self, query: Query, horizon: float, params: StoryParams) -> list[str]:
        """`candidates` with `params.lookup` "listed": the live stories that hold the most of
        the article's weight over its looked-up terms (`lookup`), ranked by the sum of the
        article's weights of the terms that list them, then the most recently active, then by
        id. Each story's sum is added up in the terms' order, whatever the postings' order, so
        replays and a rebuilt index agree. By weight, not by how many terms a story shares:
        the looked-up terms are no longer the rarest alone, and a common term should not
        count as much as a shared name (counted instead, the labelled days' B-cubed F1 fell
        0.8 points below the release before; round twelve, bench/dedup_eval.py)."""
        postings = self.postings
        terms = self.lookup(query, horizon, params.index_terms)
        limit = params.max_candidates
        if not terms or limit < 1:
            return []
        scores: dict[str, float] = {}
        get = scores.get
        for t, w in terms:
            posting = postings[t]
            # scores[sid] += w for each story listed under t, in C (a story is listed once)
            scores.update(
                zip(posting, map(add, map(get, posting, repeat(0.0)), repeat(w)), strict=True)
            )
        if len(scores) > limit:  # only those scoring at least the limit-th best are sorted
            least = sorted(scores.values(), reverse=True)[limit - 1]
            out = _ranked(
                [s for s, x in scores.items() if x >= least], scores, self.seen, horizon, limit
            )
            if len(out) == limit:
                return out
        return _ranked(list(scores), scores, self.seen, horizon, limit)

    def forget(self, horizon: float) -> int:
        """Drop postings of stories quiet since before `horizon`; returns how many went."""
        dropped = 0
        for t in list(self.postings):
            posting = self.postings[t]
            for sid in [s for s, seen in posting.items() if seen < horizon]:
                del posting[sid]
                dropped += 1
            if not posting:
                del self.postings[t]
        gone = {sid for sid, seen in self.seen.items() if seen < horizon}
        if gone:
            self.members = {a: s for a, s in self.members.items() if s not in gone}
            self.seen = {s: seen for s, seen in self.seen.items() if s not in gone}
        return dropped

    @classmethod
    def build(cls, stories: Mapping[str, Any], params: StoryParams, horizon: float) -> StoryIndex:
        """The index rebuilt from the live stories' centroids (after a restart or a rebalance),
        in the order the stories were last seen, as the live index has it."""
        index = cls()
        live = [
            (s["last_seen"], sid, s)
            for sid, s in stories.items()
            if s and s["last_seen"] >= horizon
        ]
        for seen, sid, story in sorted(live):
            if type(story["body"]) is dict:  # read back from the table: made compact once
                compact(story)
            index.add(sid, index_terms(story, params.index_terms), seen)
            for article_id in story["articles"]:
                index.joined(sid, article_id, seen)
        return index


@dataclass(frozen=True, slots=True)
class Assignment:
    story_id: str
    is_new: bool  # this article opened the story
    similarity: float  # to the story's centroid before it joined (1.0 for a new story)
    copy: bool = False  # the same text from the same outlet again: not news
    size: int = 1  # articles in the story, this one included
    sources: tuple[str, ...] = ()  # the first MAX_STORY_SOURCES outlets, in reporting order
    revised: bool = False  # a later revision of an article already in this story
    # distinct outlets: len(sources) up to the cap, counted past it (`outlets`); 0: not given
    outlets: int = 0


def _joined(
    story: Mapping[str, Any],
    sid: str,
    is_new: bool,
    score: float,
    copy: bool,
    *,
    revised: bool = False,
) -> Assignment:
    return Assignment(
        sid,
        is_new,
        round(score, 4),
        copy,
        int(story["size"]),
        tuple(story["sources"]),
        revised,
        outlets(story),
    )


def _revise(
    story: Mapping[str, Any],
    sid: str,
    article_id: str,
    revision: int,
    features: StoryFeatures,
    at: float,
    *,
    stories: MutableMapping[str, Any],
    index: StoryIndex,
    df: DocFreq,
    params: StoryParams,
) -> Assignment:
    """A later revision of a member (a one-line «عاجل» grown into a full article): the story
    keeps the article and learns its fuller text (centroids, places, numbers), so later reports
    of the event find it; its size, articles and sources are unchanged. A revision folded in
    before (a replay) changes nothing."""
    revisions = story.get("revisions", {})
    if revisions.get(article_id, 1) >= revision:
        return _joined(story, sid, False, 1.0, False)
    df.add(features.terms())
    revised = dict(story)
    size = revised["size"]
    add_member(revised, article_vectors(features, df), features, at)
    revised["size"] = size  # the same article, not one more
    listed = set(revised["articles"])  # bounded like them
    revised["revisions"] = {
        **{a: r for a, r in revisions.items() if a in listed},
        article_id: revision,
    }
    stories[sid] = revised
    index.add(sid, index_terms(revised, params.index_terms), revised["last_seen"])
    return _joined(revised, sid, False, 1.0, False, revised=True)


def scored(
    vectors: Vectors,
    features: StoryFeatures,
    story: Mapping[str, Any],
    at: float,
    params: StoryParams,
    query: Query,
) -> float | None:
    """The model's probability that the article reports the story's event, or None when the
    gate skips the story: it shares almost nothing of the article's lead and of its heaviest
    terms (`query`: `Query.of(vectors, params.index_terms)`). The lead's dot product first:
    the comparison needs it anyway, and only a story sharing little of the lead needs the rare
    terms' share to be judged."""
    lead_dot = None
    if params.gate:
        lead_dot = _dot(vectors["lead"], story["lead"])
        if (
            lead_dot < GATE_LEAD * story["norms"]["lead"]
            and _rare(query, story["body"], story["title"]) < GATE_RARE
        ):
            return None  # not worth the full comparison
    rare_query = query if params.index_terms == QUERY_TERMS else None
    return probability(vectors, features, story, at, params.model, rare_query, lead_dot)


def anchored(
    p: float,
    vectors: Vectors,
    features: StoryFeatures,
    story: Mapping[str, Any],
    at: float,
    params: StoryParams,
    query: Query,
) -> bool:
    """Whether the article (probability `p` against the story) is also a plausible report of
    the story's first article, so that a story that grew does not drift from its event."""
    if not params.anchor:
        return True
    if "first" not in story:  # a one-article story is its first article: p is that comparison
        return p >= params.anchor
    rare_query = query if params.index_terms == QUERY_TERMS else None
    first = probability(vectors, features, opener(story), at, params.model, rare_query)
    return first >= params.anchor


def assign_story(
    article_id: str,
    source: str,
    features: StoryFeatures,
    at: float,
    *,
    stories: MutableMapping[str, Any],
    index: StoryIndex,
    df: DocFreq,
    params: StoryParams,
    revision: int = 1,
) -> Assignment:
    """Find the live story this article belongs to, or open one; record the article in it.

    `stories`: story id → state (`new_story`, `add_member`). Re-assigning an article already in
    a story returns that story and changes nothing; a later `revision` of it (raw-article v2)
    returns that story with `revised` set, after folding the new text in (`_revise`). A
    revision whose story has closed is clustered like a new article. A same-outlet copy of a
    member (same fingerprint) is not news: the story is returned with `copy` set, unchanged.
    """
    horizon = at - params.window_seconds
    own = story_id_for(article_id)
    sid, home = own, stories.get(own)
    if not (home and article_id in home["articles"]):  # it may have joined another story
        sid = index.members.get(article_id, own)
        home = stories.get(sid)
    if home and article_id in home["articles"]:
        if revision == 1:
            return _joined(home, sid, False, 1.0, False)
        return _revise(
            home,
            sid,
            article_id,
            revision,
            features,
            at,
            stories=stories,
            index=index,
            df=df,
            params=params,
        )
    vectors = article_vectors(features, df, df.add_weighed(features.terms()))
    best: tuple[float, str] | None = None
    query = Query.of(vectors, params.index_terms)
    key = copy_key(source, features.fingerprint)
    for sid in index.candidates(vectors, horizon, params, query):
        story = stories.get(sid)
        if not story or story["last_seen"] < horizon:
            continue
        if article_id in story["articles"]:  # `index.members` finds these first
            return _joined(story, sid, False, 1.0, False)
        p = scored(vectors, features, story, at, params, query)
        if p is None or p < params.threshold or (best is not None and (p, sid) <= best):
            continue
        if (
            p < params.outlet_threshold
            and reported_by(story, source)
            and key not in _copies(story["copies"])  # a copy of its own is still found
        ):
            continue
        if not anchored(p, vectors, features, story, at, params, query):
            continue
        best = (p, sid)
    return record(
        best,
        article_id,
        source,
        key,
        vectors,
        features,
        at,
        query,
        stories=stories,
        index=index,
        params=params,
    )


def record(
    chosen: tuple[float, str] | None,
    article_id: str,
    source: str,
    key: tuple[str, int],
    vectors: Vectors,
    features: StoryFeatures,
    at: float,
    query: Query,
    *,
    stories: MutableMapping[str, Any],
    index: StoryIndex,
    params: StoryParams,
) -> Assignment:
    """Record the article in the story `assign_story` chose (`chosen`: its similarity and id),
    or in a story of its own when none passed. A same-outlet copy of a member (`key` among the
    story's copies) is returned with `copy` set and changes nothing. Shared with the variants
    of `bench/story_variants.py`, which choose the story differently."""
    if chosen is None:
        sid, score, is_new = story_id_for(article_id), 1.0, True
        story = new_story(at)
    else:
        score, sid = chosen
        story, is_new = dict(stories[sid]), False
        story["copies"] = _copies(story["copies"])
        if key in story["copies"]:
            return _joined(story, sid, False, score, True)
    add_member(story, vectors, features, at)
    listed = [*story["articles"], article_id]
    if len(listed) > MAX_LISTED_ARTICLES:
        # the articles falling off the list leave the index's members too: a replay of one
        # is not found in the story anyway (it is no longer listed), so `members` stays
        # bounded by the listed articles of the live stories, as a rebuilt index has it
        for gone in listed[:-MAX_LISTED_ARTICLES]:
            if index.members.get(gone) == sid:
                del index.members[gone]
        listed = listed[-MAX_LISTED_ARTICLES:]
    story["articles"] = listed
    if not reported_by(story, source):
        _add_outlet(story, source)
    story["copies"] = _with_copy(_copies(story["copies"]), key)
    stories[sid] = story  # re-assigned, not mutated: a changelog table sees the change
    terms = query.terms() if is_new else index_terms(story, params.index_terms)
    index.add(sid, terms, story["last_seen"])
    index.joined(sid, article_id, story["last_seen"])
    return _joined(story, sid, is_new, score, False)


def reported_by(story: Mapping[str, Any], source: str) -> bool:
    """Whether the outlet has an article in the story already: among its listed `sources`, or,
    past MAX_STORY_SOURCES of them, among its copy pairs (its last MAX_COPIES articles). The
    rule both the outlet threshold and the outlet count (`_add_outlet`) follow, the trend
    stage's "new outlet" too. So the count is exact up to the cap, and past it may count an
    outlet twice only if more than MAX_COPIES articles came between two of its reports (an
    upper bound, never lower than the true count)."""
    listed = story["sources"]
    if source in listed:
        return True
    if len(listed) < MAX_STORY_SOURCES:
        return False
    copies = story["copies"]
    if type(copies) is Copies:
        return source in copies.sources
    return any(s == source for s, _ in copies)


def outlets(story: Mapping[str, Any]) -> int:
    """The distinct outlets that reported the story: exact up to MAX_STORY_SOURCES (the length
    of its `sources`), counted past it by `_add_outlet` (the state has `outlets` only then)."""
    return int(story.get("outlets") or len(story["sources"]))


def _add_outlet(story: dict[str, Any], source: str) -> None:
    """An outlet that had not reported the story (`reported_by`, before its copy pair is
    added) did: listed while fewer than MAX_STORY_SOURCES are; past that, counted in
    `outlets`."""
    listed = story["sources"]
    if len(listed) < MAX_STORY_SOURCES:
        story["sources"] = [*listed, source]
    else:
        story["outlets"] = outlets(story) + 1


def copy_key(source: str, fingerprint: str) -> tuple[str, int]:
    """What a story remembers of a member to spot its outlet filing the same text again: the
    outlet and a 63-bit digest of the text's fingerprint (a tuple of a shared outlet string and
    an int: ~90 bytes in memory where a list of two strings took ~160, and no object for the
    garbage collector to follow). Two texts of one outlet taken for a copy need a 63-bit
    collision among a story's last MAX_COPIES pairs."""
    digest = hashlib.blake2b(fingerprint.encode(), digest_size=8).digest()
    return source, int.from_bytes(digest, "big") >> 1


# A story's copies are held as a list of `copy_key` pairs while short, as `Copies` from this
# many on: ~100 bytes a pair as a tuple and an int, 16 as `Copies`, which costs ~150 bytes
# more of its own (most stories have one article: their one pair stays a tuple).
COPIES_PACKED_FROM = 8
_DIGEST = struct.Struct("=q")


@final
class Copies:
    """A story's copy pairs (`copy_key`), oldest first, packed: the outlets (interned strings,
    shared) in a tuple and the digests in one bytes object, 8 bytes each. The same pairs in
    the same order as the list of tuples it stands for: `in`, iteration, `==` and the table's
    JSON (`__json__`: a list of [outlet, digest]) are the list's. Read-only: `appended` makes
    a new one (the table's changelog sees a story re-assigned, never mutated)."""

    __slots__ = ("digests", "sources")

    def __init__(self, sources: tuple[str, ...], digests: bytes) -> None:
        self.sources = sources
        self.digests = digests

    @classmethod
    def of(cls, pairs: Sequence[tuple[str, int]]) -> Copies:
        return cls(tuple([s for s, _ in pairs]), b"".join([_DIGEST.pack(f) for _, f in pairs]))

    def appended(self, key: tuple[str, int], cap: int = MAX_COPIES) -> Copies:
        """These pairs and `key` after them, the last `cap` of them."""
        keep = cap - 1
        if len(self.sources) > keep:
            return Copies(
                (*self.sources[len(self.sources) - keep :], key[0]),
                self.digests[8 * (len(self.sources) - keep) :] + _DIGEST.pack(key[1]),
            )
        return Copies((*self.sources, key[0]), self.digests + _DIGEST.pack(key[1]))

    def __contains__(self, key: object) -> bool:
        if not (isinstance(key, tuple) and len(key) == 2 and type(key[1]) is int):
            return False
        if not -(1 << 63) <= key[1] < 1 << 63:  # no pair holds it (`copy_key`: 63 bits)
            return False
        source, digest, data = key[0], _DIGEST.pack(key[1]), self.digests
        at = data.find(digest)
        while at >= 0:  # a match at a pair's boundary, of the same outlet
            if at % 8 == 0 and self.sources[at // 8] == source:
                return True
            at = data.find(digest, at + 1)
        return False

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return zip(self.sources, memoryview(self.digests).cast("q").tolist(), strict=True)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.sources[i], _DIGEST.unpack_from(self.digests, 8 * (i % len(self.sources)))[0]

    def __json__(self) -> list[tuple[str, int]]:
        return list(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Copies):
            return self.sources == other.sources and self.digests == other.digests
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Copies({list(self)!r})"


def _copies(copies: Sequence[Any] | Copies) -> Sequence[Any] | Copies:
    """A story's copies as `copy_key` pairs: those of a state read back from the table (JSON
    lists) or written by an earlier release (the fingerprint itself) are converted once, when
    the story is next updated; packed (`Copies`) from COPIES_PACKED_FROM pairs on."""
    if type(copies) is Copies:
        return copies
    if copies and type(copies[-1]) is not tuple:
        copies = [(s, f) if isinstance(f, int) else copy_key(s, f) for s, f in copies]
    if len(copies) >= COPIES_PACKED_FROM:
        return Copies.of(copies[-MAX_COPIES:])
    return copies


def _with_copy(copies: Sequence[Any] | Copies, key: tuple[str, int]) -> Sequence[Any] | Copies:
    """A story's copies (`_copies`) with the article's pair after them, the last MAX_COPIES."""
    if type(copies) is Copies:
        return copies.appended(key)
    listed = [*copies, key][-MAX_COPIES:]
    return listed if len(listed) < COPIES_PACKED_FROM else Copies.of(listed)


def expired_keys(table: Mapping[K, Any], field: str, horizon: float) -> list[K]:
    """Keys whose entry's `field` timestamp is older than the horizon (to delete)."""
    return [k for k, v in table.items() if v and v.get(field, 0) < horizon]


# ------------------------------------------------------------------ alert lifecycle
def escalate(severity: str, sources: int, escalate_at: int) -> str:
    """One level up once `escalate_at` distinct sources report the story (0 disables)."""
    if escalate_at <= 0 or sources < escalate_at:
        return severity
    return raised(severity)


def _union(first: Sequence[str], more: Sequence[str]) -> list[str]:
    out = list(first)
    out.extend(x for x in more if x not in out)
    return out


# An alert's `names` by its (regions, topics): an article's alerts (~5 an article at 10,000
# rules) mostly carry the same codes, and names_of looks each code up anew. Bounded: cleared
# when full (the combinations are few; a miss costs one names_of).
_NAMES: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, dict[str, Any]]] = {}
NAMES_CAP = 4096


def _names(regions: Sequence[str], topics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`names_of(regions, topics)`, fresh dicts at every level as names_of gives them (a
    message's owner may change its copy), from a memo."""
    key = (tuple(regions), tuple(topics))
    known = _NAMES.get(key)
    if known is None:
        if len(_NAMES) >= NAMES_CAP:
            _NAMES.clear()
        known = _NAMES[key] = names_of(regions, topics)
    return {
        "regions": {code: dict(name) for code, name in known["regions"].items()},
        "topics": {code: dict(name) for code, name in known["topics"].items()},
    }


def _article_ref(hit: Mapping[str, Any], revision: int) -> dict[str, Any]:
    article = dict(hit["article"])
    if revision > 1:  # absent means 1: first versions look as they did before revisions
        article["revision"] = revision
    return article


def story_alert(
    hit: Mapping[str, Any],
    story_id: str,
    previous: Mapping[str, Any] | None,
    *,
    now: str,
    escalate_at: int,
    revision: int = 1,
    aid: str | None = None,
) -> dict[str, Any] | None:
    """The alert after an article-level hit (schema alert.v1) joins a story.

    No previous alert: status "new", revision 1. Otherwise "updated", with the article and its
    source added, or, for a later `revision` of an article the alert already lists, that
    article's entry replaced in place (its new title; `revision` on the entry). None when the
    alert already has this article at this revision or a later one (a re-publish or a replay):
    that must look like nothing happened, not like a new source. `aid`: the alert's id if the
    caller has it already (`alert_id` of the hit's rule, its version and the story).
    """
    article = _article_ref(hit, revision)
    listed = [] if previous is None else previous["articles"]
    at = next((i for i, a in enumerate(listed) if a["id"] == article["id"]), None)
    if at is not None and listed[at].get("revision", 1) >= revision:
        return None
    if previous is None:
        articles, sources = [article], [article["source"]]
        regions, topics = list(hit["regions"]), list(hit["topics"])
        created, number, status = now, 1, "new"
    else:
        if at is None:
            articles = [*listed, article][-MAX_LISTED_ARTICLES:]
            # the first MAX_STORY_SOURCES outlets (what escalation counts)
            sources = _union(previous["sources"], [article["source"]])[:MAX_STORY_SOURCES]
        else:  # a revision: same article, same source
            articles, sources = [*listed[:at], article, *listed[at + 1 :]], previous["sources"]
        regions = _union(previous["regions"], hit["regions"])
        topics = _union(previous["topics"], hit["topics"])
        created, number, status = previous["created_at"], previous["revision"] + 1, "updated"
    # the hit's fields in its order, less these two (added again below, at the end)
    alert = dict(hit)
    alert.pop("schema_version", None)
    alert.pop("id", None)
    severity = escalate(hit["severity"], len(sources), escalate_at)
    alert.update(
        schema_version=alerts.SCHEMA_VERSION,
        id=aid if aid is not None else alert_id(hit["rule"], hit["rule_version"], story_id),
        story_id=story_id,
        status=status,
        revision=number,
        rule_severity=hit["severity"],
        severity=severity,
        escalated=severity != hit["severity"],
        sources=sources,
        articles=articles,
        regions=regions,
        topics=topics,
        names=_names(regions, topics),
        created_at=created,
        updated_at=now,
        alerted_at=now,
    )
    return alert


@dataclass
class Clusterer:
    """The story state of one stream in one object: what `rasid stories` and the benchmarks run.
    The worker passes the same pieces to `assign_story` itself (the stories are a table)."""

    params: StoryParams = field(default_factory=StoryParams)
    stories: MutableMapping[str, Any] = field(default_factory=dict)
    index: StoryIndex = field(default_factory=StoryIndex)
    df: DocFreq = field(default_factory=DocFreq)

    def add(
        self, article_id: str, source: str, features: StoryFeatures, at: float, revision: int = 1
    ) -> Assignment:
        return assign_story(
            article_id,
            source,
            features,
            at,
            stories=self.stories,
            index=self.index,
            df=self.df,
            params=self.params,
            revision=revision,
        )
