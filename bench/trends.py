"""Cost of burst detection per article (streams/trends/detector.py), detector only.

    .venv/bin/python bench/trends.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--repeat 5] [--shuffle-time SEED] [--records FILE] [--synthetic-rules N:K] [--worker BATCH]

ANT articles are parsed, enriched and matched by the worker's code (cached in .cache/bench:
delete it after changing the classifiers), clustered into stories in publication order as
`rasid trends` does, and turned into the detector's input (streams/trends/offline.py
`events_of`). Only then is the clock started: the whole event list is fed to a fresh detector
--repeat times, and the fastest run is reported (CPU time, the machine is shared) as ms per
article and µs per (article, key), with the records it gave (--records: written as JSON lines,
to check that a faster detector gives the same output byte for byte). Classification and clustering are
not counted: their costs are bench/pipeline.py's and bench/story_stage.py's.
Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import inspect
import math
import pickle
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.errors import BadInput
from streams.ingest.replay import to_raw
from streams.settings import Settings
from streams.stories import features as features_module
from streams.stories.cluster import Clusterer, StoryParams
from streams.times import utcnow
from streams.trends import offline as offline_module
from streams.trends.detector import TrendDetector, TrendEvent
from streams.trends.offline import TrendInput, events_of, shuffled_times, trend_input
from streams.worker.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
Fed = list[tuple[float, list[tuple[TrendEvent, tuple[str, ...]]]]]


def load_inputs(corpus: Path, settings: Settings) -> list[TrendInput]:
    pipe = Pipeline.load(settings)
    tz = settings.tz_for_source("")
    out = []
    with gzip.open(corpus, "rb") as fh:
        for line in fh:
            raw = to_raw(orjson.loads(line), tz=tz)
            if raw is None:
                continue
            try:
                enriched = pipe.enriched(orjson.dumps(raw), utcnow())
                hits = pipe.match(enriched)
            except BadInput:
                continue
            out.append(trend_input(enriched, [hit.rule_id for hit in hits]))
    return out


def cached_inputs(corpus: Path, settings: Settings) -> list[TrendInput]:
    """`load_inputs`, kept in .cache/bench keyed by the corpus file and the input code."""
    stat = corpus.stat()
    code = hashlib.sha256(  # the code that makes the inputs, not the rest of offline.py
        Path(features_module.__file__).read_bytes()
        + inspect.getsource(offline_module.trend_input).encode()
        + inspect.getsource(offline_module.event_time).encode()
    ).hexdigest()[:12]
    path = HERE.parent / ".cache" / "bench" / f"trend-inputs-{corpus.name}-{stat.st_size}-{code}"
    if path.exists():
        loaded: list[TrendInput] = pickle.loads(path.read_bytes())
        return loaded
    inputs = load_inputs(corpus, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(inputs))
    return inputs


def with_rules(inputs: list[TrendInput], n: int, per_article: float) -> list[TrendInput]:
    """Each article with Poisson(`per_article`) more rule hits of `n` ids (seeded): the rule
    keys' cost without compiling and matching a large pack."""
    rng = random.Random(17)
    out = []
    for item in inputs:
        hits, k = [], 0
        limit, product = math.exp(-per_article), rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        hits = [f"gen{rng.randrange(n)}" for _ in range(k)]
        out.append(dataclasses.replace(item, rules=tuple(dict.fromkeys((*item.rules, *hits)))))
    return out


def detector_input(inputs: list[TrendInput], settings: Settings) -> Fed:
    """Cluster in event-time order; what the detector is fed, article by article."""
    clusterer = Clusterer(StoryParams.from_settings(settings))
    outlets: dict[str, int] = {}
    rule_sources: dict[tuple[str, str], list[str]] = {}
    fed: Fed = []
    for _, item in sorted(enumerate(inputs), key=lambda kv: (kv[1].story.at, kv[0])):
        s = item.story
        a = clusterer.add(s.article_id, s.source, s.features, s.at)
        new_outlet = not a.is_new and len(a.sources) > outlets.get(a.story_id, 0)
        outlets[a.story_id] = len(a.sources)
        fed.append((s.at, events_of(item, a, new_outlet, rule_sources)))
    return fed


def run(fed: Fed) -> tuple[float, TrendDetector, list[dict[str, Any]]]:
    detector = TrendDetector()
    records: list[dict[str, Any]] = []
    started = time.process_time()
    for at, events in fed:
        detector.advance(at)
        for event, keys in events:
            records += detector.observe_keys(event, keys)
    return time.process_time() - started, detector, records


def run_worker(fed: Fed, batch: int) -> tuple[float, int, int]:
    """As the worker's trend stage runs it: the replay guard (streams/worker/trend_stage.py
    `detect`) and, every `batch` articles (one candidate message), the changed keys serialised
    for the table (`take_changes`). Returns (CPU seconds, records, state bytes written)."""
    from streams.worker.trend_stage import detect

    detector = TrendDetector()
    records = written = 0
    started = time.process_time()
    for i, (at, events) in enumerate(fed, 1):
        records += len(detect(detector, at, events))
        if i % batch == 0:
            written += sum(len(v) for _, v in detector.take_changes() if v is not None)
    return time.process_time() - started, records, written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shuffle-time", type=int, default=None, metavar="SEED")
    ap.add_argument("--records", metavar="FILE", help="write the records as JSON lines")
    ap.add_argument(
        "--synthetic-rules",
        metavar="N:K",
        help="add K rule hits per article drawn from N rule ids (seeded): the rule keys of a "
        "large pack (bench/rules_scale.py's 10,000 rules alert ~5.5 an article)",
    )
    ap.add_argument(
        "--worker",
        type=int,
        default=0,
        metavar="BATCH",
        help="also time the worker's stage: replay guard and state writes every BATCH articles",
    )
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    settings = Settings()
    inputs = cached_inputs(corpus, settings)
    if args.shuffle_time is not None:
        inputs = shuffled_times(inputs, args.shuffle_time)
    if args.synthetic_rules:
        n, k = (float(x) for x in args.synthetic_rules.split(":"))
        inputs = with_rules(inputs, int(n), k)
    fed = detector_input(inputs, settings)
    key_events = sum(len(keys) for _, events in fed for _, keys in events)
    times = []
    for _ in range(max(1, args.repeat)):
        elapsed, detector, records = run(fed)
        times.append(elapsed)
    best = min(times)
    worker: dict[str, Any] = {}
    if args.worker:
        runs = [run_worker(fed, args.worker) for _ in range(max(1, args.repeat))]
        cpu, count, written = min(runs)
        worker = {
            "worker_batch": args.worker,
            "worker_ms_per_article": round(1000 * cpu / len(fed), 4),
            "worker_records": count,
            "worker_state_bytes_per_article": round(written / len(fed)),
        }
    if args.records:
        with open(args.records, "wb") as out:
            out.writelines(orjson.dumps(r) + b"\n" for r in records)
    state = detector.to_state()
    sizes = [len(v) for v in state.values()]
    print(
        orjson.dumps(
            {
                "articles": len(fed),
                "key_events": key_events,
                "ms_per_article": round(1000 * best / len(fed), 4),
                "ms_per_article_median": round(1000 * statistics.median(times) / len(fed), 4),
                "us_per_key_event": round(1e6 * best / max(1, key_events), 2),
                "trend_records": len(records),
                **detector.stats(),
                "state_bytes_per_key_mean": round(statistics.mean(sizes)),
                "state_bytes_per_key_max": max(sizes),
                # the final state, hashed: a faster detector must leave the same bytes
                "state_sha256": hashlib.sha256(
                    b"".join(k.encode() + b"\0" + state[k] for k in sorted(state))
                ).hexdigest()[:16],
                **worker,
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
