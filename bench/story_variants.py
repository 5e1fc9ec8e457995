"""Story levers tried in rounds thirteen and fifteen of issue 14 and not shipped, kept so they
can be re-run.

    .venv/bin/python bench/story_variants.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--variants NAME...] [--jobs 2] [--grid]

Each variant clusters the whole corpus in publication order as bench/dedup_eval.py does (the
worker's `assign_story` with the packaged model and join settings) with one thing changed, and
is scored the same way (labelled pairs, held-out pairs, labelled days). `head` is the worker's
own code, the control. The variants (docs/subscribers.md, "Round thirteen"):

- `prefer-joint`, `prefer-product`: of the stories an article passes (threshold, outlet
  threshold, anchor), join the one with the largest log-odds against the story's centroids
  plus those against its first article, or the largest product of the two probabilities,
  instead of the most probable against the centroids (`joint_score`);
- `prefer-outlet`: the most probable in log-odds, less 1 for a story the article's own outlet
  has already reported;
- `keys-spelling`: the index lists a story, and an article looks it up, under a long term's
  `spelling_key` (its first letter and its letters but the long vowels), so two
  transliterations of one name meet; `keys-fallback`: under the term and, apart, its spelling
  key, which an article looks up only for a term no live story is listed under;
- `outlet-hours-N`: the outlet threshold applies only while the outlet's last article in the
  story is at most N hours old (kept beside the stories here; shipped, it would be story state);
- `own-below-X`: it applies only when the article's probability against one of its outlet's own
  articles in the story (each as a one-article story) reaches X: a blocked article unlike its
  outlet's earlier one is more often a report of the event, one like it a sibling piece
  (`own_best`; the members' features kept beside the stories here).

- `terms-spelling`: every story term (title, lead, body) replaced by its `spelling_key`, so the
  similarities see two spellings of a name, and inflections that differ in long vowels only,
  as one term (the shipped weights); `terms-spelling-retrained`, the six retrained on them
  (compare with `place-control`);
- `place-miss`: the model retrained (bench/train_story_model.py's `examples` and `fit`, on the
  training pairs) on the six features and `place_miss` (`place_miss`: 1 when the article and the
  story both name places and the article's first place is not among the story's), the term
  added to the log-odds of the worker's `probability`; `place-control`, the six retrained the
  same way without it (the shipped model was trained on the place features of before issue 15).

Round fifteen, decisions that can be revised (docs/subscribers.md, "Round fifteen"); each
scored on the stories at the end of the stream (a merged story's articles in the story it went
into), with the number of merges (`merges`) and detachments (`detached`):

- `merge-join-X`: the other stories an article passes (threshold, outlet rule, anchor) with
  probability >= X are merged with the one it joins: the younger (later first article) into
  the older, whose id survives (`merged_state`: centroids and counts added up);
- `merge-centroid-X`: after a story grew, it is compared, as the younger story's centroids
  against the older story (`story_vectors`, `story_features_of`) and the younger's first
  article against the older's (the anchor), with the live stories its heaviest terms find in
  the index; merged at X;
- `recluster-Hh-X`: every 50 articles (`-everyN`: N) the last H hours of articles are
  clustered again, in order, with the stream's document frequencies then (`FrozenDocFreq`)
  and join threshold X, and the online stories the second pass puts together are merged;
- `detach-X`: after an article joins, each member but the opener whose probability against the
  rest of the story (`without`) is below X leaves for a story of its own (`rebuilt`);
- `-disjoint`: only stories no outlet reported both of; `-smallN`: only when the smaller of
  the two (linked: the smaller group) has at most N articles;
- `link-…`: the same decision, but the stories are only *linked* (one story for subscribers,
  the younger an alias of the older) and keep their own state, so later joins are the
  worker's: what a merge gains without its order effects.

`--grid` chooses among all the variants run (and settings) by folds of days, as one grid.
One JSON line per variant. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, HERE, NEGATIVE, POSITIVE, cached_inputs, pair_figures, score

from streams.stories import cluster as c
from streams.stories.cluster import Assignment, Clusterer, Query, StoryIndex, StoryParams
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures
from streams.stories.offline import StoryInput

_LONG_VOWELS = str.maketrans("", "", "اويى")
SPELLING_MIN = 5  # shorter terms are keyed as they are: too few letters to drop any
_ODDS_EDGE = 1e-12  # a probability of exactly 0 or 1 (z is clamped at ±50) gets finite log-odds


@lru_cache(maxsize=1 << 16)
def spelling_key(term: str) -> str:
    """A long term's first letter and its later letters but the long vowels («اتلتيكو» and
    «اتليتكو» → «اتلتك»); a term shorter than SPELLING_MIN, or one that would keep fewer than
    3 letters, as it is."""
    if len(term) < SPELLING_MIN:
        return term
    key = term[0] + term[1:].translate(_LONG_VOWELS)
    return key if len(key) >= 3 else term


def log_odds(p: float) -> float:
    q = min(max(p, _ODDS_EDGE), 1.0 - _ODDS_EDGE)
    return math.log(q / (1.0 - q))


def joint_score(p: float, first: float, prefer: str, own: bool = False) -> float:
    """How strongly an article that passes a story belongs to it, by `prefer`: "joint", the
    log-odds against the story's centroids plus those against its first article; "product",
    the product of the two probabilities; "outlet", the log-odds against the centroids less 1
    for a story of the article's own outlet; otherwise ("centroid", the worker's) `p`."""
    if prefer == "joint":
        return log_odds(p) + log_odds(first)
    if prefer == "product":
        return p * first
    if prefer == "outlet":
        return log_odds(p) - (1.0 if own else 0.0)
    return p


def index_keys(terms: Sequence[str], keys: str) -> list[str]:
    """What a story is listed under for its index terms: "spelling", their spelling keys (each
    once); "fallback", the terms and, apart (marked "~"), the spelling keys that differ;
    otherwise the terms."""
    if keys == "spelling":
        return list(dict.fromkeys(map(spelling_key, terms)))
    if keys == "fallback":
        marked = ("~" + k for t in terms if (k := spelling_key(t)) != t)
        return [*terms, *dict.fromkeys(marked)]
    return list(terms)


@dataclass
class SpellingIndex(StoryIndex):
    """`StoryIndex` keyed by `index_keys`: what `assign_story` and `StoryIndex.build` list a
    story under is mapped in `add`, what the "listed" lookup walks in `lookup`."""

    keys: str = "spelling"

    def add(self, sid: str, terms: Sequence[str], at: float) -> None:
        super().add(sid, index_keys(terms, self.keys), at)

    def lookup(self, query: Query, horizon: float, n: int) -> list[tuple[str, float]]:
        """`StoryIndex.lookup` over the keys: a term's spelling key ("spelling"), or the term
        and, when no live story is listed under it, its marked key ("fallback"); a key found
        twice in one field counts once."""
        postings, seen = self.postings, self.seen

        def live(key: str) -> bool:
            posting = postings.get(key)
            return posting is not None and seen[next(reversed(posting))] >= horizon

        out: dict[str, float] = {}
        for ranked, limit in ((query.ranked_body, n), (query.ranked_title, max(1, n // 2))):
            found, keyed = 0, set()
            for t, w in ranked:
                key = spelling_key(t) if self.keys == "spelling" else t
                if not live(key):
                    if self.keys != "fallback" or (k := spelling_key(t)) == t:
                        continue
                    key = "~" + k
                    if not live(key):
                        continue
                if key in keyed:
                    continue
                keyed.add(key)
                if w > out.get(key, 0.0):
                    out[key] = w
                found += 1
                if found == limit:
                    break
        return list(out.items())


def place_miss(entities: Sequence[str], story: Mapping[str, int]) -> float:
    """1.0 when the article and the story both name places and the article's first place (of
    the region it is most about: where its event is, more often than not) is not among the
    story's, else 0.0."""
    return 1.0 if entities and story and entities[0] not in story else 0.0


def spelled(features: StoryFeatures) -> StoryFeatures:
    """The features with every term replaced by its `spelling_key` (the counts of terms with one
    key added up, in order of first occurrence): the `terms-spelling` variants."""

    def keyed(counts: Mapping[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for t, n in counts.items():
            k = spelling_key(t)
            out[k] = out.get(k, 0) + n
        return out

    f = features
    return StoryFeatures(
        keyed(f.title), keyed(f.lead), keyed(f.body), f.numbers, f.entities, f.fingerprint
    )


def inputs_of(corpus: Path, terms: str) -> list[StoryInput]:
    """The corpus's story inputs (bench/dedup_eval.py's cache), their terms `spelled` when
    `terms` is "spelling"."""
    inputs = cached_inputs(corpus)
    if terms != "spelling":
        return inputs
    return [replace(i, features=spelled(i.features)) for i in inputs]


def retrained(corpus: Path, with_place: bool, terms: str = "") -> tuple[c.StoryModel, float]:
    """The six features' model retrained on the training pairs, and `place_miss`'s weight (0.0
    without it), as bench/train_story_model.py fits them (the same examples, L2, Newton), on
    the inputs of `inputs_of(corpus, terms)`."""
    import train_story_model
    from train_story_model import examples, fit

    inputs = inputs_of(corpus, terms)
    vars(train_story_model)["cached_inputs"] = lambda corpus: inputs  # what `examples` reads
    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    names = ("title", "lead", "body", "places", "numbers", "age_hours")
    xs, ys, _ = examples(corpus, pairs, names)
    if with_place:
        by_id = {i.article_id: i for i in inputs}
        misses = []
        for pair in pairs:  # in `examples`' order: the labelled same/different-event pairs
            if pair["label"] != POSITIVE and pair["label"] not in NEGATIVE:
                continue
            a, b = sorted((by_id[pair["a"]], by_id[pair["b"]]), key=lambda i: (i.at, i.article_id))
            misses.append(place_miss(b.features.entities, dict.fromkeys(a.features.entities, 1)))
        xs = [[*x, m] for x, m in zip(xs, misses, strict=True)]
    w = [round(x, 4) for x in fit(xs, ys)]  # as the script writes them
    return c.StoryModel(w[0], *w[1:7]), (w[7] if with_place else 0.0)


def with_place_miss(weight: float) -> None:
    """`c.probability` (what `scored` and the anchor call) with `weight` × `place_miss` added to
    its log-odds."""
    base = c.probability

    def probability(
        vectors: c.Vectors,
        features: StoryFeatures,
        story: Mapping[str, Any],
        at: float,
        model: c.StoryModel,
        query: Query | None = None,
        lead_dot: float | None = None,
    ) -> float:
        p = base(vectors, features, story, at, model, query, lead_dot)
        miss = place_miss(features.entities, story["entities"])
        return c._z_to_probability(log_odds(p) + weight * miss) if miss else p

    c.probability = probability


@dataclass(frozen=True)
class Variant:
    name: str
    prefer: str = "centroid"
    keys: str = "terms"
    outlet_hours: float = 0.0
    # the outlet threshold applies only when the article's probability against one of its
    # outlet's own articles in the story (as a one-article story) reaches this (0: always)
    own_below: float = 0.0
    place: str = ""  # "control" or "miss": the retrained model, without or with place_miss
    terms: str = ""  # "spelling": every story term replaced by its spelling key
    # round fifteen, decisions revised: "join" merges the other stories an article passes
    # (p >= merge_at) into the oldest; "centroid" merges a story, after it grew, with a live
    # story found through the index whose probability against it reaches merge_at; "window"
    # re-clusters the last window_hours of articles every window_every articles with the
    # stream's document frequencies then (join threshold merge_at) and merges the stories the
    # second pass puts together
    merge: str = ""
    merge_at: float = 0.0
    window_hours: float = 0.0
    window_every: int = 0
    # merge only stories no outlet reported both of (an outlet's two stories on one topic are
    # more often two events than one), and only when the smaller of the two (linked: the
    # smaller group) has at most this many articles (0: any): a small story joining a big one
    # is a missed rewrite more often than two big stories are one event
    merge_disjoint: bool = False
    merge_young_max: int = 0
    # link instead of merge: the two stories are one for subscribers (the younger an alias of
    # the older) but keep their own state, so later joins are the worker's (no order effects)
    link: bool = False
    # the anchor of a story-to-story merge (`merge-centroid`): the younger's first article
    # against the older's first article (0: the join's anchor)
    merge_anchor: float = 0.0
    # a member (not the opener) whose probability against the rest of its story falls below
    # this after a later member joined leaves it for a story of its own (0: never)
    detach: float = 0.0


VARIANTS = {
    v.name: v
    for v in (
        Variant("head"),
        Variant("prefer-joint", prefer="joint"),
        Variant("prefer-product", prefer="product"),
        Variant("prefer-outlet", prefer="outlet"),
        Variant("keys-spelling", keys="spelling"),
        Variant("keys-fallback", keys="fallback"),
        *(Variant(f"outlet-hours-{h}", outlet_hours=float(h)) for h in (12, 18, 24, 30, 36, 48)),
        *(Variant(f"own-below-{x}", own_below=x) for x in (0.3, 0.4, 0.5, 0.6, 0.7)),
        Variant("terms-spelling", terms="spelling"),
        Variant("terms-spelling-retrained", terms="spelling", place="control"),
        Variant("terms-spelling-place-miss", terms="spelling", place="miss"),
        Variant("place-control", place="control"),
        Variant("place-miss", place="miss"),
        *(Variant(f"merge-join-{x}", merge="join", merge_at=x) for x in (0.5, 0.7, 0.9)),
        *(Variant(f"merge-centroid-{x}", merge="centroid", merge_at=x) for x in (0.7, 0.8, 0.9)),
        *(
            Variant(f"recluster-{h}h-{x}", merge="window", merge_at=x, window_hours=h)
            for h in (6, 24)
            for x in (0.5, 0.7, 0.9)
        ),
        *(Variant(f"detach-{x}", detach=x) for x in (0.3, 0.4, 0.5, 0.6)),
        *(
            Variant(f"link-join-{x}", merge="join", merge_at=x, link=True)
            for x in (0.5, 0.6, 0.7, 0.8, 0.9)
        ),
        *(
            Variant(f"link-centroid-{x}", merge="centroid", merge_at=x, link=True)
            for x in (0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)
        ),
        *(
            Variant(
                f"link-centroid-{x}-disjoint",
                merge="centroid",
                merge_at=x,
                link=True,
                merge_disjoint=True,
            )
            for x in (0.9, 0.95)
        ),
        *(
            Variant(
                f"link-centroid-{x}-small{n}",
                merge="centroid",
                merge_at=x,
                link=True,
                merge_young_max=n,
            )
            for x in (0.9, 0.95)
            for n in (1, 2, 4)
        ),
        *(
            Variant(
                f"link-centroid-{x}-anchor{a}",
                merge="centroid",
                merge_at=x,
                link=True,
                merge_anchor=a,
            )
            for x in (0.9, 0.95)
            for a in (0.5, 0.8)
        ),
        *(
            Variant(
                f"link-join-{x}-small{n}", merge="join", merge_at=x, link=True, merge_young_max=n
            )
            for x in (0.7, 0.9)
            for n in (1, 2, 4)
        ),
        *(
            Variant(
                f"link-recluster-{h}h-{x}-every{n}",
                merge="window",
                merge_at=x,
                window_hours=h,
                window_every=n,
                link=True,
            )
            for h in (6, 24)
            for x in (0.7, 0.9)
            for n in (200,)
        ),
        *(
            Variant(
                f"link-recluster-{h}h-{x}", merge="window", merge_at=x, window_hours=h, link=True
            )
            for h in (6, 24)
            for x in (0.5, 0.6, 0.7, 0.8, 0.9)
        ),
        *(
            Variant(f"merge-join-{x}-disjoint", merge="join", merge_at=x, merge_disjoint=True)
            for x in (0.5, 0.7, 0.9)
        ),
        *(
            Variant(
                f"merge-centroid-{x}-disjoint", merge="centroid", merge_at=x, merge_disjoint=True
            )
            for x in (0.8, 0.9)
        ),
        *(
            Variant(
                f"recluster-{h}h-{x}-disjoint",
                merge="window",
                merge_at=x,
                window_hours=h,
                merge_disjoint=True,
            )
            for h in (6, 24)
            for x in (0.5, 0.7, 0.9)
        ),
        *(
            Variant(
                f"recluster-{h}h-{x}-small{n}",
                merge="window",
                merge_at=x,
                window_hours=h,
                merge_disjoint=True,
                merge_young_max=n,
            )
            for h in (6, 24)
            for x in (0.7, 0.9)
            for n in (1, 2)
        ),
    )
}


@dataclass
class VariantClusterer(Clusterer):
    """`Clusterer` whose `add` joins by the variant's rule (`assign`) when it changes the choice
    or the outlet threshold; `assign_story` otherwise (and for an article already in a story)."""

    variant: Variant = field(default_factory=lambda: VARIANTS["head"])
    # story id → outlet → when its last article in the story came (`outlet-hours-N`)
    outlet_seen: dict[str, dict[str, float]] = field(default_factory=dict)
    # article id → (outlet, features, time) of every article added (`own-below-X`, `detach`)
    seen: dict[str, tuple[str, StoryFeatures, float]] = field(default_factory=dict)
    # round fifteen: a merged (younger) story id → the story it went into; how many merges
    # and detachments; the articles of the recent window, in order (`recluster-…`)
    aliases: dict[str, str] = field(default_factory=dict)
    merges: int = 0
    detached: int = 0
    recent: list[StoryInput] = field(default_factory=list)
    added: int = 0
    story_at: dict[str, str] = field(default_factory=dict)  # article id → its story when added
    groups: dict[str, list[str]] = field(default_factory=dict)  # linked: root → its stories

    def add(
        self, article_id: str, source: str, features: StoryFeatures, at: float, revision: int = 1
    ) -> Assignment:
        variant = self.variant
        plain = variant.prefer == "centroid" and not (
            variant.outlet_hours or variant.own_below or variant.merge or variant.detach
        )
        if plain or self._known(article_id):
            return super().add(article_id, source, features, at, revision)
        passing: list[tuple[float, str]] = []
        out = assign(
            article_id,
            source,
            features,
            at,
            stories=self.stories,
            index=self.index,
            df=self.df,
            params=self.params,
            variant=self.variant,
            outlet_seen=self.outlet_seen,
            members=self.seen,
            passing=passing,
        )
        if not out.copy:
            self.outlet_seen.setdefault(out.story_id, {})[source] = at
            self.seen[article_id] = (source, features, at)
            self.story_at[article_id] = out.story_id
            self.revise(out, passing, StoryInput(article_id, source, at, features, revision))
        return out

    def resolve(self, sid: str) -> str:
        """The story a (possibly merged) story id now is."""
        while sid in self.aliases:
            sid = self.aliases[sid]
        return sid

    def revise(self, out: Assignment, passing: list[tuple[float, str]], item: StoryInput) -> None:
        """The variant's revision of earlier decisions after `out` (round fifteen)."""
        v = self.variant
        if v.merge == "join":
            for p, sid in passing:
                if p >= v.merge_at:
                    self.merge(out.story_id, sid)
        elif v.merge == "centroid" and not out.is_new:
            self.merge_near(out.story_id if v.link else self.resolve(out.story_id), item.at)
        elif v.merge == "window":
            self.recent.append(item)
            self.added += 1
            if self.added % (v.window_every or 50) == 0:
                self.recluster(item.at)
        if v.detach and not out.is_new:
            self.detach_members(self.resolve(out.story_id))

    def merge(self, a: str, b: str) -> str:
        """Merge two live stories: the younger (later first article, then larger id) goes into
        the older, whose id survives; the younger's id becomes an alias of it."""
        a, b = self.resolve(a), self.resolve(b)
        if a == b or a not in self.stories or b not in self.stories:
            return a
        (_, older), (_, younger) = sorted(
            ((self.stories[a]["first_seen"], a), (self.stories[b]["first_seen"], b))
        )
        smaller = 0
        if self.variant.link:  # the linked groups' sizes
            sizes = [sum(self.stories[s]["size"] for s in self.groups.get(r, [r])) for r in (a, b)]
            smaller = min(sizes)
        if not mergeable(self.stories[older], self.stories[younger], self.variant, smaller):
            return a
        if self.variant.link:  # one story for subscribers; each keeps its state
            self.aliases[younger] = older
            self.groups[older] = [
                *self.groups.pop(older, [older]),
                *self.groups.pop(younger, [younger]),
            ]
            self.merges += 1
            return older
        state = merged_state(self.stories[older], self.stories[younger])
        index = self.index
        assert isinstance(index, MergeIndex)
        index.drop(younger)
        del self.stories[younger]
        self.stories[older] = state
        for article_id in state["articles"]:
            index.members[article_id] = older
        index.add(older, c.index_terms(state, self.params.index_terms), state["last_seen"])
        self.aliases[younger] = older
        self.merges += 1
        return older

    def merge_near(self, sid: str, at: float) -> None:
        """`merge-centroid`: the story (after it grew) against the live stories its heaviest
        terms find, each pair compared as the younger story (its centroids as an article's
        vectors) against the older; merged at `merge_at` and when the younger's first article
        is a plausible report of the older's (the anchor)."""
        params, story = self.params, self.stories[sid]
        horizon = at - params.window_seconds
        vectors = story_vectors(story)
        query = Query.of(vectors, params.index_terms)
        for other in self.index.candidates(vectors, horizon, params, query):
            if other == sid or other not in self.stories or sid not in self.stories:
                continue
            if self.resolve(other) == self.resolve(sid):
                continue
            if self.story_probability(sid, other) >= self.variant.merge_at:
                merged = self.merge(sid, other)
                sid = sid if self.variant.link else merged

    def story_probability(self, a: str, b: str) -> float:
        """The younger story's centroids (as an article) against the older story, or 0.0 when
        the younger's first article fails the anchor against the older's first article."""
        sa, sb = self.stories[a], self.stories[b]
        young, old = (sa, sb) if (sa["first_seen"], a) > (sb["first_seen"], b) else (sb, sa)
        model, at = self.params.model, young["first_seen"]
        p = c.probability(story_vectors(young), story_features_of(young), old, at, model)
        if p < self.variant.merge_at:
            return p
        first = c.opener(young)
        anchor = c.probability(
            story_vectors(first), story_features_of(first), c.opener(old), at, model
        )
        return p if anchor >= (self.variant.merge_anchor or self.params.anchor) else 0.0

    def recluster(self, now: float) -> None:
        """`recluster-…`: the last `window_hours` of articles clustered again, in order, with
        the stream's document frequencies now (not counted again) and join threshold
        `merge_at`; online stories whose articles the second pass puts together are merged."""
        v = self.variant
        start = now - v.window_hours * 3600.0
        self.recent = [i for i in self.recent if i.at >= start]
        second = Clusterer(replace(self.params, threshold=v.merge_at), df=FrozenDocFreq(self.df))
        groups: dict[str, list[str]] = {}
        for i in self.recent:
            a = second.add(i.article_id, i.source, i.features, i.at, i.revision)
            if not a.copy:
                groups.setdefault(a.story_id, []).append(i.article_id)
        for ids in groups.values():
            online = {self.resolve(self.story_at[a]) for a in ids if a in self.story_at}
            live = sorted(s for s in online if s in self.stories)
            for other in live[1:]:
                self.merge(live[0], other)

    def detach_members(self, sid: str) -> None:
        """`detach-X`: each member but the opener whose probability against the rest of the
        story (the centroids less its own vectors, weighed with today's document frequencies)
        is below X leaves for a story of its own."""
        story = self.stories.get(sid)
        if story is None or story["size"] < 3:
            return
        params, opener_sid = self.params, sid
        gone = []
        for article_id in story["articles"]:
            known = self.seen.get(article_id)
            if known is None or c.story_id_for(article_id) == opener_sid:
                continue
            _, features, at = known
            vectors = c.article_vectors(features, self.df)
            rest = without(story, vectors, features)
            if c.probability(vectors, features, rest, at, params.model) < self.variant.detach:
                gone.append(article_id)
        if not gone:
            return
        kept = [a for a in story["articles"] if a not in gone]
        self.stories[sid] = rebuilt(story, kept, self.seen, self.df)
        index = self.index
        for article_id in gone:
            source, features, at = self.seen[article_id]
            own = c.story_id_for(article_id)
            alone = c.new_story(at)
            c.add_member(alone, c.article_vectors(features, self.df), features, at)
            alone.update(
                articles=[article_id],
                sources=[source],
                copies=[c.copy_key(source, features.fingerprint)],
            )
            self.stories[own] = alone
            index.add(own, c.index_terms(alone, params.index_terms), at)
            index.joined(own, article_id, at)
            self.story_at[article_id] = own
            self.detached += 1
        index.add(sid, c.index_terms(self.stories[sid], params.index_terms), story["last_seen"])

    def _known(self, article_id: str) -> bool:
        sid = self.index.members.get(article_id, c.story_id_for(article_id))
        story = self.stories.get(sid)
        return bool(story and article_id in story["articles"])


def assign(
    article_id: str,
    source: str,
    features: StoryFeatures,
    at: float,
    *,
    stories: MutableMapping[str, Any],
    index: StoryIndex,
    df: DocFreq,
    params: StoryParams,
    variant: Variant,
    outlet_seen: dict[str, dict[str, float]],
    members: Mapping[str, tuple[str, StoryFeatures, float]] | None = None,
    passing: list[tuple[float, str]] | None = None,
) -> Assignment:
    """`assign_story` for an article in no story yet, the passing story chosen by
    `variant.prefer` and the outlet threshold limited by `variant.outlet_hours`; `passing`,
    when given, gets (probability, story id) of every story the article passes."""
    horizon = at - params.window_seconds
    vectors = c.article_vectors(features, df, df.add_weighed(features.terms()))
    query = Query.of(vectors, params.index_terms)
    key = c.copy_key(source, features.fingerprint)
    best: tuple[float, str] | None = None
    score = 1.0
    for sid in index.candidates(vectors, horizon, params, query):
        story = stories.get(sid)
        if not story or story["last_seen"] < horizon:
            continue
        p = c.scored(vectors, features, story, at, params, query)
        if p is None or p < params.threshold:
            continue
        reported = c.reported_by(story, source)
        last = outlet_seen.get(sid, {}).get(source, story["last_seen"])
        if (
            p < params.outlet_threshold
            and reported
            and key not in c._copies(story["copies"])
            and (not variant.outlet_hours or at - last <= variant.outlet_hours * 3600.0)
            and (
                not variant.own_below
                or own_best(vectors, features, at, story, source, members or {}, df, params)
                >= variant.own_below
            )
        ):
            continue
        first = p
        if "first" in story:
            first = c.probability(vectors, features, c.opener(story), at, params.model, query)
        if params.anchor and first < params.anchor:
            continue
        ranked = (joint_score(p, first, variant.prefer, reported), sid)
        if passing is not None:
            passing.append((p, sid))
        if best is None or ranked > best:
            best, score = ranked, p
    return c.record(
        None if best is None else (score, best[1]),
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


def own_best(
    vectors: c.Vectors,
    features: StoryFeatures,
    at: float,
    story: Mapping[str, Any],
    source: str,
    members: Mapping[str, tuple[str, StoryFeatures, float]],
    df: DocFreq,
    params: StoryParams,
) -> float:
    """The article's highest probability against one of its outlet's own listed articles in
    the story, each as a story of its own (as bench/train_story_model.py pairs them); 1.0 when
    none is known (the outlet threshold then applies as in the worker)."""
    best = None
    for article_id in story["articles"]:
        known = members.get(article_id)
        if known is None or known[0] != source:
            continue
        pair = c.new_story(known[2])
        c.add_member(pair, c.article_vectors(known[1], df), known[1], known[2])
        p = c.probability(vectors, features, pair, at, params.model)
        best = p if best is None else max(best, p)
    return 1.0 if best is None else best


def mergeable(
    older: Mapping[str, Any], younger: Mapping[str, Any], variant: Variant, smaller: int = 0
) -> bool:
    """Whether the variant's guards let two stories merge: no outlet in both
    (`merge_disjoint`); the smaller of the two no larger than `merge_young_max` (`smaller`:
    its size when it is not the younger story's own, e.g. linked groups)."""
    size = smaller or min(older["size"], younger["size"])
    if variant.merge_young_max and size > variant.merge_young_max:
        return False
    return not (variant.merge_disjoint and set(older["sources"]) & set(younger["sources"]))


@dataclass
class MergeIndex(StoryIndex):
    """`StoryIndex` that remembers every term a story was listed under, so a story merged
    into another leaves all its postings (`drop`)."""

    listed: dict[str, set[str]] = field(default_factory=dict)

    def add(self, sid: str, terms: Sequence[str], at: float) -> None:
        super().add(sid, terms, at)
        self.listed.setdefault(sid, set()).update(terms)

    def drop(self, sid: str) -> None:
        for t in self.listed.pop(sid, ()):
            posting = self.postings.get(t)
            if posting is not None:
                posting.pop(sid, None)
                if not posting:
                    del self.postings[t]
        self.seen.pop(sid, None)


class FrozenDocFreq(DocFreq):
    """A stream's document frequencies read, not counted: the second pass of `recluster-…`
    weighs the window's articles with the counts the stream has now (each already counted)."""

    def __init__(self, live: DocFreq) -> None:
        super().__init__(live.horizon, live.max_terms)
        self.counts, self.docs = live.counts, live.docs

    def add(self, terms: Iterable[str]) -> None:
        return None

    def add_weighed(self, terms: Collection[str]) -> dict[str, float]:
        base, get = 1.0 + math.log(self.docs + 1), self.counts.get
        return {t: base - math.log(get(t, 0) + 1) for t in terms}


def _summed(a: Mapping[str, int], b: Mapping[str, int], cap: int) -> dict[str, int]:
    """Two stories' counts (places, numbers) added up, cut to the `cap` largest as
    `add_member` cuts them."""
    out = dict(a)
    for k, n in b.items():
        out[k] = out.get(k, 0) + n
    if len(out) > cap:
        out = dict(heapq.nlargest(cap, out.items(), key=lambda kv: (kv[1], kv[0])))
    return out


def merged_state(older: Mapping[str, Any], younger: Mapping[str, Any]) -> dict[str, Any]:
    """One story of two: the centroids added up (each is a sum of its members' unit vectors)
    and cut as `add_member` cuts them, places and numbers added up, the older's first article
    kept for the anchor, the articles, outlets and copies of both (the older's first), the
    earlier first and the later last time."""
    story = dict(older)
    if "first" not in story:
        story["first"] = c._first_of(older)
    norms = {}
    for name in c.FIELDS:
        cap = c.CENTROID_TERMS[name]
        if name in c.PACKED:
            story[name], norms[name] = c._merged_packed(older[name], younger[name], cap)
        else:
            story[name], norms[name] = c._merged(older[name], dict(younger[name].items()), cap)
    story["norms"] = norms
    story["entities"] = _summed(older["entities"], younger["entities"], c.MAX_STORY_ENTITIES)
    story["entities_norm"] = math.sqrt(sum([n * n for n in story["entities"].values()]))
    story["numbers"] = _summed(older["numbers"], younger["numbers"], c.MAX_STORY_NUMBERS)
    story["size"] = older["size"] + younger["size"]
    story["articles"] = [*older["articles"], *younger["articles"]][-c.MAX_LISTED_ARTICLES :]
    sources = list(older["sources"])
    for source in younger["sources"]:
        if source not in sources and len(sources) < c.MAX_STORY_SOURCES:
            sources.append(source)
    story["sources"] = sources
    copies = [*c._copies(older["copies"]), *c._copies(younger["copies"])]
    story["copies"] = copies[-c.MAX_COPIES :]
    story["first_seen"] = min(older["first_seen"], younger["first_seen"])
    story["last_seen"] = max(older["last_seen"], younger["last_seen"])
    if "revisions" in older or "revisions" in younger:
        story["revisions"] = {**younger.get("revisions", {}), **older.get("revisions", {})}
    return story


def story_vectors(story: Mapping[str, Any]) -> c.Vectors:
    """A story's centroids as an article's unit vectors (its heaviest ARTICLE_TERMS terms per
    field), so it can be compared with another story as an article is."""
    out: c.Vectors = {}
    for name in c.FIELDS:
        top = c._heaviest(story[name], c.ARTICLE_TERMS[name])
        norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
        out[name] = {t: w / norm for t, w in top}
    return out


def story_features_of(story: Mapping[str, Any]) -> StoryFeatures:
    """What `probability` reads of an article's features, from a story: its places and
    numbers, the most counted first."""

    def ordered(counts: Mapping[str, int]) -> tuple[str, ...]:
        return tuple(k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    return StoryFeatures({}, {}, {}, ordered(story["numbers"]), ordered(story["entities"]), "")


def without(
    story: Mapping[str, Any], vectors: c.Vectors, features: StoryFeatures
) -> dict[str, Any]:
    """The story less one member (its vectors subtracted from the centroids, weights at or
    below 0 dropped; its places and numbers counted once less): what `detach-X` compares the
    member with."""
    rest: dict[str, Any] = {"first_seen": story["first_seen"]}
    norms = {}
    for name in c.FIELDS:
        centroid = dict(story[name].items())
        for t, w in vectors[name].items():
            if t in centroid:
                centroid[t] -= w
        centroid = {t: w for t, w in centroid.items() if w > 1e-9}
        rest[name] = centroid
        norms[name] = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
    rest["norms"] = norms

    def less(counts: Mapping[str, int], items: Sequence[str]) -> dict[str, int]:
        out = dict(counts)
        for k in items:
            if out.get(k, 0) > 1:
                out[k] -= 1
            else:
                out.pop(k, None)
        return out

    rest["entities"] = less(story["entities"], features.entities)
    rest["entities_norm"] = math.sqrt(sum([n * n for n in rest["entities"].values()]))
    rest["numbers"] = less(story["numbers"], features.numbers)
    return rest


def rebuilt(
    story: Mapping[str, Any],
    kept: Sequence[str],
    members: Mapping[str, tuple[str, StoryFeatures, float]],
    df: DocFreq,
) -> dict[str, Any]:
    """The story made again from the members it keeps, in order (their vectors weighed with
    today's document frequencies), with their outlets and copy pairs."""
    out = c.new_story(story["first_seen"])
    sources: list[str] = []
    copies = []
    for article_id in kept:
        source, features, at = members[article_id]
        c.add_member(out, c.article_vectors(features, df), features, at)
        if source not in sources:
            sources.append(source)
        copies.append(c.copy_key(source, features.fingerprint))
    out["articles"], out["sources"], out["copies"] = list(kept), sources, copies
    out["first_seen"] = story["first_seen"]
    return out


def cluster(
    inputs: list[StoryInput], variant: Variant, params: StoryParams | None = None
) -> Iterator[tuple[str, str]]:
    """(article id, story id) in publication order, as `cluster_in_order` gives them."""
    index: StoryIndex = StoryIndex()
    if variant.keys != "terms":
        index = SpellingIndex(keys=variant.keys)
    elif variant.merge or variant.detach:
        index = MergeIndex()
    clusterer = VariantClusterer(params or StoryParams(), index=index, variant=variant)
    for _, item in sorted(enumerate(inputs), key=lambda x: (x[1].at, x[0])):
        a = clusterer.add(item.article_id, item.source, item.features, item.at, item.revision)
        yield item.article_id, a.story_id


def clustered(
    inputs: list[StoryInput], variant: Variant, params: StoryParams | None = None
) -> tuple[dict[str, str], dict[str, int]]:
    """Each article's story at the end of the stream (a merged story's articles in the story
    it went into, a detached member in its own), and the merges and detachments made."""
    index: StoryIndex = StoryIndex()
    if variant.keys != "terms":
        index = SpellingIndex(keys=variant.keys)
    elif variant.merge or variant.detach:
        index = MergeIndex()
    clusterer = VariantClusterer(params or StoryParams(), index=index, variant=variant)
    story_of = {}
    for _, item in sorted(enumerate(inputs), key=lambda x: (x[1].at, x[0])):
        a = clusterer.add(item.article_id, item.source, item.features, item.at, item.revision)
        story_of[item.article_id] = a.story_id
    story_of.update(clusterer.story_at)  # detached members' own stories
    resolved = {a: clusterer.resolve(s) for a, s in story_of.items()}
    return resolved, {"merges": clusterer.merges, "detached": clusterer.detached}


def _run(job: tuple[str, str, float | None, float | None]) -> dict[str, Any]:
    corpus, name, threshold, outlet = job
    variant, params = VARIANTS[name], StoryParams()
    if variant.place:  # this process's scoring changed: one variant per process (`main`)
        model, weight = retrained(Path(corpus), variant.place == "miss", variant.terms)
        params = StoryParams(model=model)
        if weight:
            with_place_miss(weight)
    if threshold is not None:
        params = replace(params, threshold=threshold)
    if outlet is not None:
        params = replace(params, outlet_threshold=outlet)
    story_of, revised = clustered(inputs_of(Path(corpus), variant.terms), variant, params)
    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    heldout = orjson.loads((HERE / "data" / "story_pairs_heldout.json").read_bytes())["pairs"]
    days = orjson.loads((HERE / "data" / "dedup_labels.json").read_bytes())
    figures = score(story_of, pairs, days)
    figures["heldout_pairs"] = pair_figures(story_of, heldout)
    grouped = [
        (
            p["label"],
            story_of.get(p["a"]) is not None and story_of.get(p["a"]) == story_of.get(p["b"]),
        )
        for p in pairs
    ]
    return {
        "variant": name,
        "threshold": params.threshold,
        "outlet_threshold": params.outlet_threshold,
        "stories": len(set(story_of.values())),
        **revised,
        **figures,
        "grouped": grouped,
    }


def folds(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """bench/story_folds.py's choice over one variant's settings: for each fold of the training
    pairs' days the setting with the best F1 on the other folds, scored on its own."""
    from story_folds import choose, counts, prf

    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    days = [str(p["day"]) for p in pairs]
    grid = [r["grouped"] for r in rows]
    fold_of = {d: i % k for i, d in enumerate(sorted(set(days)))}
    total, chosen = [0, 0, 0], []
    for f in range(k):
        at, _ = choose(grid, days, {d for d, n in fold_of.items() if n != f})
        tp, fp, fn = counts([x for x, d in zip(grid[at], days, strict=True) if fold_of[d] == f])
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        chosen.append([rows[at]["variant"], rows[at]["threshold"], rows[at]["outlet_threshold"]])
    best, (p, r, f1) = choose(grid, days, set(days))
    op, orr, of1 = prf(*total)
    return {
        "variant": ",".join(dict.fromkeys(r["variant"] for r in rows)),
        "in_sample_best": [
            rows[best]["variant"],
            rows[best]["threshold"],
            rows[best]["outlet_threshold"],
        ],
        "in_sample_p_r_f1": [round(p, 3), round(r, 3), round(f1, 3)],
        "out_of_fold_p_r_f1": [round(op, 3), round(orr, 3), round(of1, 3)],
        "chosen": chosen,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[],
        help="join thresholds to try with each variant (default: the packaged one); with more"
        " than one setting, the folds of days choose among them as bench/story_folds.py does",
    )
    ap.add_argument("--outlet-thresholds", type=float, nargs="+", default=[])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument(
        "--grid",
        action="store_true",
        help="choose among all the variants run (each at each setting) by folds of days, as one"
        " grid (e.g. head and a family of merge thresholds)",
    )
    ap.add_argument("--jobs", type=int, default=1, help="variants clustered at once")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    cached_inputs(corpus)  # parsed once here, read from the cache by the jobs
    jobs = [
        (str(corpus), name, t, o)
        for name in args.variants
        for t in args.thresholds or [None]
        for o in args.outlet_thresholds or [None]
    ]
    rows: dict[str, list[dict[str, Any]]] = {}
    # a fresh process per job: `place-miss` patches the module's scoring
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), max_tasks_per_child=1) as pool:
        for out in pool.map(_run, jobs):
            rows.setdefault(out["variant"], []).append(out)
            print(
                orjson.dumps({k: v for k, v in out.items() if k != "grouped"}).decode(), flush=True
            )
    if args.grid:
        everything = [r for listed in rows.values() for r in listed]
        print(orjson.dumps(folds(everything, args.folds)).decode(), flush=True)
        return 0
    for listed in rows.values():
        if len(listed) > 1:
            print(orjson.dumps(folds(listed, args.folds)).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
