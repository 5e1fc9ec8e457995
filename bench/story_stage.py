"""Cost of story clustering per article with many live stories (streams/stories/cluster.py).

    .venv/bin/python bench/story_stage.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--live 14000] [--measure 5000] [--window-hours H] [--candidates K] [--ranks N]
        [--base /tmp/rasid-head [--features 1000]]

    # the whole corpus with the worker's 48-hour window, against another checkout:
    .venv/bin/python bench/story_stage.py --base /tmp/rasid-head --live 0 --measure 40000 \
        --window-hours 48

ANT articles (parsed and enriched by the worker's code, cached in .cache/bench) are fed in
publication order, with a story window of ten years so that no story ever closes: the first
--live articles open or join stories, then the next --measure articles are timed, each against
every story opened before it (the live ones of a far busier stream than ANT's ~130 a day).
Prints the CPU time per article (assign only: document frequencies, vectors, candidates,
scoring, centroid update, index): over the whole timed run, and the median of its 500-article
chunks (the machine is shared: a chunk that ran beside a busy neighbour costs more CPU time,
the median is the steadier figure), the candidates looked at per article (before the gate
that skips the hopeless ones), the number of live
stories, and the size of a story's state as the worker's table stores it (JSON bytes: mean,
max). --candidates K compares K stories per article instead of StoryParams' default; --ranks N
then follows the timed run with N more articles and reports what the candidate step does for
each (`candidate_stats`: stories sharing a query term, candidates returned, past the gate, and
where the story an exhaustive comparison would pick ranks). Skips cleanly when the corpus is
absent.

With --base DIR (a checkout of another version, e.g. /tmp/rasid-head), that version's
streams/stories/cluster.py runs beside this one in the same process on the same inputs, the
timed chunks interleaved (so both see the same load of a shared machine), and every
assignment of the two is compared: it prints both figures, their ratio, the number of
assignments that differ and of story states (as the table stores them) that differ, and
whether the index postings and document frequencies are the same (an earlier version's
story copies, which named the fingerprint itself, compared as this version's digests; its
postings' weights, which this version no longer keeps, left out). With
--features N, also the hot stage's `story_features` of both (DIR's
streams/stories/features.py) on N ANT articles just enriched by the worker's pipeline (tokens
memoised as in the hot stage; each article's features checked equal, dict order included).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, cached_inputs

from streams.stories import cluster as this_cluster
from streams.stories import features as this_features
from streams.stories.cluster import Clusterer, StoryParams, article_vectors

WINDOW = 10 * 365 * 86400.0  # no story closes


def load_module(path: Path, name: str) -> ModuleType:
    """A module of another checkout (its own copy, beside this tree's)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _outcome(a: Any) -> tuple[Any, ...]:
    return (a.story_id, a.is_new, a.similarity, a.copy, a.size, a.sources, a.revised)


def _state_bytes(story: Any) -> bytes:
    """A story's state as the table stores it, its copies as this tree keeps them (an earlier
    version's (outlet, fingerprint) pairs converted, as this tree converts a state it reads)."""
    if story is None:
        return b"null"
    state = {**story, "copies": this_cluster._copies(story["copies"])}
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS, default=_json)


def _json(value: Any) -> Any:
    """A packed centroid or `first` of either version (each has its own classes) as its dict
    (a `First`'s `__json__` is its raw JSON, which OPT_SORT_KEYS would leave unsorted)."""
    if type(value).__name__ == "First":
        return value.value()
    as_json = getattr(value, "__json__", None)
    if as_json is None:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return as_json()


def _postings(postings: dict[str, dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """term → [(story, when listed)] in the posting's order (an earlier version kept a
    (when, weight) pair per posting)."""
    return {
        t: [(sid, v[0] if isinstance(v, tuple) else v) for sid, v in posting.items()]
        for t, posting in postings.items()
    }


def compare_assign(
    base: Path, inputs: list[Any], live: int, measure: int, window: float
) -> dict[str, Any]:
    """Base's cluster.py and this one, chunks of 250 timed articles interleaved (CPU time);
    then their story states (as the table stores them), index postings and document
    frequencies compared."""
    other = load_module(base / "streams" / "stories" / "cluster.py", "base_cluster")
    runs = {
        "base": other.Clusterer(other.StoryParams(window_seconds=window)),
        "this": this_cluster.Clusterer(this_cluster.StoryParams(window_seconds=window)),
    }
    times: dict[str, list[float]] = {"base": [], "this": []}
    differ = 0
    warm, timed = inputs[:live], inputs[live : live + measure]
    for k in range(0, live + len(timed), 250):
        chunk = (warm + timed)[k : k + 250]
        out = {}
        for name in ("base", "this") if (k // 250) % 2 else ("this", "base"):
            began = time.process_time()
            out[name] = [
                _outcome(runs[name].add(i.article_id, i.source, i.features, i.at)) for i in chunk
            ]
            if k >= live:
                times[name].append((time.process_time() - began) / len(chunk))
        differ += sum(a != b for a, b in zip(out["base"], out["this"], strict=True))
    base_ms, this_ms = (1000 * statistics.median(times[n]) for n in ("base", "this"))
    a, b = runs["base"], runs["this"]
    states = sum(
        _state_bytes(a.stories[sid]) != _state_bytes(b.stories.get(sid)) for sid in a.stories
    )
    return {
        "assign_base_ms_median_chunk": round(base_ms, 3),
        "assign_this_ms_median_chunk": round(this_ms, 3),
        "assign_ratio": round(base_ms / this_ms, 2),
        "assignments_compared": len(inputs[: live + measure]),
        "assignments_differing": differ,
        "story_states_differing": states + abs(len(a.stories) - len(b.stories)),
        "same_index_and_docfreq": _postings(a.index.postings) == _postings(b.index.postings)
        and a.df.counts == b.df.counts,
    }


def compare_features(base: Path, corpus: Path, limit: int) -> dict[str, Any]:
    """Base's story_features and this one, after the worker's enrich and match of each article
    (the hot stage's order), interleaved article by article (CPU thread time); best of 3."""
    import orjson as json

    from bench.pipeline import read_articles
    from streams.errors import BadInput
    from streams.settings import Settings
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    other = load_module(base / "streams" / "stories" / "features.py", "base_features")
    pipe, now = Pipeline.load(Settings()), utcnow()
    items = []
    for article in read_articles(corpus, limit):
        try:
            items.append(pipe.parse(json.dumps(article), now))
        except BadInput:
            continue
    functions = {"base": other.story_features, "this": this_features.story_features}
    best: dict[str, float] = {}
    differ = 0
    clock = time.thread_time
    for rounds in range(4):  # the first pass fills the memos (warm, as bench/stages.py)
        spent = dict.fromkeys(functions, 0.0)
        for n, (raw, parsed) in enumerate(items):
            made = {}
            for name in ("base", "this") if n % 2 else ("this", "base"):
                enriched = pipe.enrich(raw, parsed, now)
                pipe.match(enriched)
                places = this_features.places_of(enriched)
                began = clock()
                made[name] = functions[name](enriched["title"], enriched["body"], places)
                spent[name] += clock() - began
            a, b = (made[k].as_message() for k in ("base", "this"))
            differ += json.dumps(a) != json.dumps(b)
        if rounds:
            best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
    base_ms, this_ms = (1000 * best[n] / max(1, len(items)) for n in ("base", "this"))
    return {
        "features_articles": len(items),
        "features_base_ms": round(base_ms, 3),
        "features_this_ms": round(this_ms, 3),
        "features_ratio": round(base_ms / this_ms, 2),
        "features_differing": differ,
    }


def candidate_stats(c: Clusterer, items: list[Any]) -> dict[str, Any]:
    """What the candidate step does per article, measured on `items` fed after the live ones:
    the stories sharing a query term (all of them, unranked), the candidates the index returns
    (at most `max_candidates`), how many of those pass the gate, how many are fully compared,
    and where the story an exhaustive comparison would pick (the most probable of ALL stories
    sharing a term that passes the threshold and the anchor) ranks in the index's order: rank
    1 is first; "missed" is past `max_candidates`, i.e. a join the cap costs."""
    params = c.params
    every = dataclasses.replace(params, max_candidates=1 << 30)
    sharing = returned = gated = ranks_missed = joins = 0
    ranks: dict[str, int] = {}
    for item in items:
        vectors = this_cluster.article_vectors(item.features, c.df)
        query = this_cluster.Query.of(vectors, params.index_terms)
        horizon = item.at - params.window_seconds
        ranked = c.index.candidates(vectors, horizon, every, query)
        sharing += len(ranked)
        best: tuple[float, int] | None = None
        for rank, sid in enumerate(ranked):
            story = c.stories[sid]
            p = this_cluster.scored(vectors, item.features, story, item.at, params, query)
            if rank < params.max_candidates:
                returned += 1
                gated += p is not None
            if p is None:  # the gate's verdict, exhaustive or not
                p = this_cluster.probability(vectors, item.features, story, item.at, params.model)
            if (
                p >= params.threshold
                and (best is None or p > best[0])
                and this_cluster.anchored(p, vectors, item.features, story, item.at, params, query)
            ):
                best = (p, rank)
        if best is not None:
            joins += 1
            if best[1] >= params.max_candidates:
                ranks_missed += 1
            else:
                ranks[str(best[1] + 1)] = ranks.get(str(best[1] + 1), 0) + 1
        c.add(item.article_id, item.source, item.features, item.at)
    n = max(1, len(items))
    return {
        "articles": len(items),
        "stories_sharing_a_term": round(sharing / n, 1),
        "candidates_returned": round(returned / n, 2),
        "candidates_past_gate": round(gated / n, 2),
        "exhaustive_joins": joins,
        "exhaustive_pick_rank": dict(sorted(ranks.items(), key=lambda kv: int(kv[0]))),
        "exhaustive_pick_missed": ranks_missed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--live", type=int, default=14_000, help="articles fed before timing")
    ap.add_argument("--measure", type=int, default=5_000, help="articles timed")
    ap.add_argument(
        "--window-hours",
        type=float,
        default=WINDOW / 3600,
        help="story window (default: none closes)",
    )
    ap.add_argument("--base", type=Path, help="another checkout to compare with, interleaved")
    ap.add_argument("--features", type=int, default=0, help="with --base: articles for features")
    ap.add_argument(
        "--ranks",
        type=int,
        default=0,
        help="after the timed run: candidate statistics over the next N articles",
    )
    ap.add_argument("--candidates", type=int, help="stories compared per article (max_candidates)")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    inputs = sorted(cached_inputs(corpus), key=lambda i: (i.at, i.article_id))
    if args.base:
        window = args.window_hours * 3600.0
        figures = compare_assign(args.base, inputs, args.live, args.measure, window)
        if args.features:
            figures.update(compare_features(args.base, corpus, args.features))
        print(orjson.dumps(figures).decode())
        return 0
    warm, timed = inputs[: args.live], inputs[args.live : args.live + args.measure]
    params = StoryParams(window_seconds=args.window_hours * 3600.0)
    if args.candidates:
        params = dataclasses.replace(params, max_candidates=args.candidates)
    c = Clusterer(params)
    for item in warm:
        c.add(item.article_id, item.source, item.features, item.at)
    live_before = len(c.stories)
    chunks = []
    scored = 0
    started = time.process_time()
    for at in range(0, len(timed), 500):
        begun = time.process_time()
        for item in timed[at : at + 500]:
            c.add(item.article_id, item.source, item.features, item.at)
        chunks.append((time.process_time() - begun) / len(timed[at : at + 500]))
    elapsed = time.process_time() - started
    horizon = timed[-1].at - c.params.window_seconds if timed else 0.0
    for item in timed[:500]:  # how many candidate stories an article looks at
        scored += len(c.index.candidates(article_vectors(item.features, c.df), horizon, c.params))
    sizes = [len(orjson.dumps(s, default=this_cluster.state_json)) for s in c.stories.values()]
    more = inputs[args.live + args.measure : args.live + args.measure + args.ranks]
    ranks = {"candidate_stats": candidate_stats(c, more)} if more else {}
    print(
        orjson.dumps(
            {
                "max_candidates": c.params.max_candidates,
                "live_stories_before": live_before,
                "live_stories_after": len(c.stories),
                "articles_timed": len(timed),
                "cpu_ms_per_article": round(1000 * elapsed / max(1, len(timed)), 3),
                "cpu_ms_per_article_median_chunk": round(1000 * statistics.median(chunks), 3)
                if chunks
                else 0.0,
                "candidates_per_article": round(scored / max(1, min(500, len(timed))), 1),
                "story_state_bytes_mean": round(statistics.mean(sizes)),
                "story_state_bytes_max": max(sizes),
                "index_terms": len(c.index.postings),
                "df_terms": len(c.df.counts),
                **ranks,
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
