"""Story levers tried in round thirteen of issue 14 and not shipped, kept so they can be re-run.

    .venv/bin/python bench/story_variants.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--variants NAME...] [--jobs 2]

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

One JSON line per variant. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
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
    )
}


@dataclass
class VariantClusterer(Clusterer):
    """`Clusterer` whose `add` joins by the variant's rule (`assign`) when it changes the choice
    or the outlet threshold; `assign_story` otherwise (and for an article already in a story)."""

    variant: Variant = field(default_factory=lambda: VARIANTS["head"])
    # story id → outlet → when its last article in the story came (`outlet-hours-N`)
    outlet_seen: dict[str, dict[str, float]] = field(default_factory=dict)
    # article id → (outlet, features, time) of every article added (`own-below-X`)
    seen: dict[str, tuple[str, StoryFeatures, float]] = field(default_factory=dict)

    def add(
        self, article_id: str, source: str, features: StoryFeatures, at: float, revision: int = 1
    ) -> Assignment:
        variant = self.variant
        plain = variant.prefer == "centroid" and not (variant.outlet_hours or variant.own_below)
        if plain or self._known(article_id):
            return super().add(article_id, source, features, at, revision)
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
        )
        if not out.copy:
            self.outlet_seen.setdefault(out.story_id, {})[source] = at
            self.seen[article_id] = (source, features, at)
        return out

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
) -> Assignment:
    """`assign_story` for an article in no story yet, the passing story chosen by
    `variant.prefer` and the outlet threshold limited by `variant.outlet_hours`."""
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


def cluster(
    inputs: list[StoryInput], variant: Variant, params: StoryParams | None = None
) -> Iterator[tuple[str, str]]:
    """(article id, story id) in publication order, as `cluster_in_order` gives them."""
    index = SpellingIndex(keys=variant.keys) if variant.keys != "terms" else StoryIndex()
    clusterer = VariantClusterer(params or StoryParams(), index=index, variant=variant)
    for _, item in sorted(enumerate(inputs), key=lambda x: (x[1].at, x[0])):
        a = clusterer.add(item.article_id, item.source, item.features, item.at, item.revision)
        yield item.article_id, a.story_id


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
    story_of = dict(cluster(inputs_of(Path(corpus), variant.terms), variant, params))
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
        chosen.append([rows[at]["threshold"], rows[at]["outlet_threshold"]])
    best, (p, r, f1) = choose(grid, days, set(days))
    op, orr, of1 = prf(*total)
    return {
        "variant": rows[0]["variant"],
        "in_sample_best": [rows[best]["threshold"], rows[best]["outlet_threshold"]],
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
    for listed in rows.values():
        if len(listed) > 1:
            print(orjson.dumps(folds(listed, args.folds)).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
