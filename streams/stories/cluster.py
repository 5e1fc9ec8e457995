"""Stories: the articles of many outlets about one event, and the alert lifecycle over a story.

Pure code, no faust. Online single-pass clustering as media monitors do it (Miranda et al.,
"Multilingual Clustering of Streaming News", EMNLP 2018; EMM NewsBrief): every article becomes
TF-IDF sub-vectors for its title, lead and body (streams/stories/features.py gives the terms,
streams/stories/docfreq.py the document frequencies learned from the stream); it is compared
with the centroids of the live stories, and with their places and numbers, and how long each
story has been quiet; a logistic model (streams/data/story_model.json, trained on labelled pairs
by bench/train_story_model.py) turns these into the probability that the article reports the
story's event. It joins the most probable story if that reaches the threshold, or opens one.

Candidates come from an inverted index (a story's heaviest terms → the story), so the work per
article depends on how many stories share its heaviest terms, not on how many stories are live.
The worker keeps story → state in a changelog-backed table and the index in memory (rebuilt
from the stories with `StoryIndex.build`), and passes both in; `Clusterer` bundles dicts.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import orjson

from streams import alerts
from streams.classify.names import names_of
from streams.ids import alert_id
from streams.resources import data_file
from streams.severity import raised
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures

K = TypeVar("K")
MAX_LISTED_ARTICLES = 200  # an alert (and a story) lists at most this many articles
MAX_COPIES = 200  # (source, fingerprint) pairs a story remembers to spot same-outlet copies
MAX_POSTINGS = 100  # stories per index term: the most recently active ones
MAX_STORY_NUMBERS = 40
MAX_STORY_ENTITIES = 40
FIELDS = ("title", "lead", "body")
ARTICLE_TERMS = {"title": 20, "lead": 40, "body": 60}  # heaviest terms kept per vector
CENTROID_TERMS = {"title": 40, "lead": 80, "body": 100}
Vectors = dict[str, dict[str, float]]


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

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StoryModel:
        w = data["weights"]
        return cls(
            float(data["bias"]),
            *(float(w[k]) for k in ("title", "lead", "body", "places", "numbers", "age_hours")),
        )


@lru_cache(maxsize=1)
def packaged_model() -> tuple[StoryModel, float, float]:
    """The shipped model, its join threshold and its anchor (streams/data/story_model.json)."""
    data = orjson.loads(data_file("story_model.json").read_bytes())
    join = data["join"]
    return StoryModel.from_mapping(data), float(join["threshold"]), float(join["anchor"])


def _default_model() -> StoryModel:
    return packaged_model()[0]


@dataclass(frozen=True, slots=True)
class StoryParams:
    # Defaults = the worker's (settings.py) and the packaged model's.
    window_seconds: float = 48 * 3600.0  # a story quiet this long is closed
    threshold: float = field(default_factory=lambda: packaged_model()[1])  # min. probability
    model: StoryModel = field(default_factory=_default_model)
    index_terms: int = 8  # a story's heaviest body terms (and half as many title terms) indexed
    max_candidates: int = 12  # stories scored per article (the most weight shared)
    # min. probability against the story's first article too (0: not checked), so a story
    # that grew does not drift away from the event it reports
    anchor: float = field(default_factory=lambda: packaged_model()[2])


@dataclass(frozen=True, slots=True)
class Similarity:
    """How an article compares with a story: what the model weighs."""

    title: float
    lead: float
    body: float
    places: float  # 0 when either names no place
    numbers: float  # Jaccard of the numbers both give
    age_hours: float  # since the story's first article: an event is reported within hours

    def probability(self, model: StoryModel) -> float:
        z = (
            model.bias
            + model.title * self.title
            + model.lead * self.lead
            + model.body * self.body
            + model.places * self.places
            + model.numbers * self.numbers
            + model.age_hours * self.age_hours
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _heaviest(weights: Mapping[str, float], n: int) -> list[tuple[str, float]]:
    """The n heaviest (term, weight) pairs; ties go to the larger term, so replays agree."""
    return [
        (t, w) for w, t in heapq.nlargest(n, zip(weights.values(), weights.keys(), strict=True))
    ]


_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 64)]  # sublinear tf, 1 + ln(count)


def article_vectors(features: StoryFeatures, df: DocFreq) -> Vectors:
    """Unit-length TF-IDF vectors of the title, lead and body over their heaviest terms
    (`DocFreq.idf` inlined, once per distinct term: this runs for ~150 terms per article)."""
    log, tf, get = math.log, _TF, df.counts.get
    base = 1.0 + log(df.docs + 1)
    body = features.body
    idf = {t: base - log(get(t, 0) + 1) for t in body}
    out: Vectors = {}
    for name in FIELDS:
        counts: Mapping[str, int] = body if name == "body" else getattr(features, name)
        weighted = [
            (
                (tf[c] if c < 64 else 1.0 + log(c))
                * (idf[t] if t in idf else base - log(get(t, 0) + 1)),
                t,
            )
            for t, c in counts.items()
            if c > 0
        ]
        top = heapq.nlargest(ARTICLE_TERMS[name], weighted)  # ties: the larger term
        norm = math.sqrt(sum([w * w for w, _ in top])) or 1.0
        out[name] = {t: w / norm for w, t in top}
    return out


def _dot(vector: Mapping[str, float], centroid: Mapping[str, float]) -> float:
    # the shared terms are few: intersect the key sets in C, then multiply only those
    return sum([vector[t] * centroid[t] for t in vector.keys() & centroid.keys()])


def _places(entities: Sequence[str], story: Mapping[str, int]) -> float:
    if not entities or not story:
        return 0.0
    dot = sum(story.get(e, 0) for e in entities)
    return dot / (math.sqrt(len(entities)) * math.sqrt(sum(c * c for c in story.values())))


def _numbers(numbers: Sequence[str], story: Mapping[str, int]) -> float:
    if not numbers or not story:
        return 0.0
    shared = sum(1 for n in numbers if n in story)
    return shared / (len(numbers) + len(story) - shared)


def compare(
    vectors: Vectors, features: StoryFeatures, story: Mapping[str, Any], at: float
) -> Similarity:
    norms = story["norms"]
    return Similarity(
        _dot(vectors["title"], story["title"]) / norms["title"],
        _dot(vectors["lead"], story["lead"]) / norms["lead"],
        _dot(vectors["body"], story["body"]) / norms["body"],
        _places(features.entities, story["entities"]),
        _numbers(features.numbers, story["numbers"]),
        max(0.0, at - story["first_seen"]) / 3600.0,
    )


def compare_first(
    vectors: Vectors, features: StoryFeatures, story: Mapping[str, Any], at: float
) -> Similarity:
    """An article against the story's first article (what the model was trained on)."""
    first = story["first"]
    return Similarity(
        _dot(vectors["title"], first["title"]),
        _dot(vectors["lead"], first["lead"]),
        _dot(vectors["body"], first["body"]),
        _places(features.entities, dict.fromkeys(first["entities"], 1)),
        _numbers(features.numbers, dict.fromkeys(first["numbers"], 1)),
        max(0.0, at - story["first_seen"]) / 3600.0,
    )


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


def add_member(story: dict[str, Any], vectors: Vectors, features: StoryFeatures, at: float) -> None:
    """Fold one article into a story's centroids, places and numbers (in place)."""
    norms = {}
    for name in FIELDS:
        centroid = dict(story[name])
        for t, w in vectors[name].items():
            centroid[t] = centroid.get(t, 0.0) + w
        if len(centroid) > CENTROID_TERMS[name]:
            centroid = dict(_heaviest(centroid, CENTROID_TERMS[name]))
        story[name] = centroid
        norms[name] = math.sqrt(sum([w * w for w in centroid.values()])) or 1.0
    story["norms"] = norms
    if "first" not in story:
        story["first"] = {
            **{name: {t: round(w, 4) for t, w in vectors[name].items()} for name in FIELDS},
            "entities": list(features.entities),
            "numbers": list(features.numbers),
        }
    story["entities"] = _counted(story["entities"], features.entities, MAX_STORY_ENTITIES)
    story["numbers"] = _counted(story["numbers"], features.numbers, MAX_STORY_NUMBERS)
    story["size"] = story["size"] + 1
    story["last_seen"] = max(story["last_seen"], at)


def index_terms(story: Mapping[str, Any], n: int) -> list[str]:
    """The terms a story is found by: its heaviest body terms and half as many title terms."""
    terms = [t for t, _ in _heaviest(story["body"], n)]
    terms += [t for t, _ in _heaviest(story["title"], max(1, n // 2)) if t not in terms]
    return terms


def story_id_for(article_id: str) -> str:
    """A story is named after the article that opened it: deterministic across replays."""
    return "st-" + hashlib.sha256(article_id.encode()).hexdigest()[:24]


@dataclass
class StoryIndex:
    """term → {story id: last_seen}: which live stories have the term among their heaviest."""

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
        for t in terms:
            posting = self.postings.setdefault(t, {})
            posting.pop(sid, None)  # re-inserted: dicts keep the most recent last
            posting[sid] = at
            if len(posting) > MAX_POSTINGS:
                del posting[next(iter(posting))]

    def candidates(self, vectors: Vectors, horizon: float, params: StoryParams) -> list[str]:
        """Stories sharing the article's heaviest terms, most shared weight first."""
        query = _heaviest(vectors["body"], params.index_terms)
        query += _heaviest(vectors["title"], max(1, params.index_terms // 2))
        shared: dict[str, float] = {}
        for t, w in query:
            for sid, seen in self.postings.get(t, {}).items():
                if seen >= horizon:
                    shared[sid] = shared.get(sid, 0.0) + w
        return [sid for sid, _ in _heaviest(shared, params.max_candidates)]

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
    sources: tuple[str, ...] = ()
    revised: bool = False  # a later revision of an article already in this story


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
    df.add(features.terms())
    vectors = article_vectors(features, df)
    best: tuple[float, str] | None = None
    for sid in index.candidates(vectors, horizon, params):
        story = stories.get(sid)
        if not story or story["last_seen"] < horizon:
            continue
        if article_id in story["articles"]:  # `index.members` finds these first
            return _joined(story, sid, False, 1.0, False)
        p = compare(vectors, features, story, at).probability(params.model)
        if p < params.threshold or (best is not None and (p, sid) <= best):
            continue
        if (
            params.anchor
            and compare_first(vectors, features, story, at).probability(params.model)
            < params.anchor
        ):
            continue
        best = (p, sid)
    copy_key = [source, features.fingerprint]
    if best is None:
        sid, score, is_new = own, 1.0, True
        story = new_story(at)
    else:
        score, sid = best
        story, is_new = dict(stories[sid]), False
        if copy_key in story["copies"]:
            return _joined(story, sid, False, score, True)
    add_member(story, vectors, features, at)
    story["articles"] = [*story["articles"], article_id][-MAX_LISTED_ARTICLES:]
    if source not in story["sources"]:
        story["sources"] = [*story["sources"], source]
    story["copies"] = [*story["copies"], copy_key][-MAX_COPIES:]
    stories[sid] = story  # re-assigned, not mutated: a changelog table sees the change
    index.add(sid, index_terms(story, params.index_terms), story["last_seen"])
    index.joined(sid, article_id, story["last_seen"])
    return _joined(story, sid, is_new, score, False)


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
) -> dict[str, Any] | None:
    """The alert after an article-level hit (schema alert.v1) joins a story.

    No previous alert: status "new", revision 1. Otherwise "updated", with the article and its
    source added, or, for a later `revision` of an article the alert already lists, that
    article's entry replaced in place (its new title; `revision` on the entry). None when the
    alert already has this article at this revision or a later one (a re-publish or a replay):
    that must look like nothing happened, not like a new source.
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
            sources = _union(previous["sources"], [article["source"]])
        else:  # a revision: same article, same source
            articles, sources = [*listed[:at], article, *listed[at + 1 :]], previous["sources"]
        regions = _union(previous["regions"], hit["regions"])
        topics = _union(previous["topics"], hit["topics"])
        created, number, status = previous["created_at"], previous["revision"] + 1, "updated"
    alert = {k: v for k, v in hit.items() if k not in ("schema_version", "id")}
    severity = escalate(hit["severity"], len(sources), escalate_at)
    alert.update(
        schema_version=alerts.SCHEMA_VERSION,
        id=alert_id(hit["rule"], hit["rule_version"], story_id),
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
        names=names_of(regions, topics),
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
