#!/usr/bin/env python3
"""CPU cost of `classify_topics` alone, this tree against another (e.g. HEAD), interleaved.

Usage: .venv/bin/python bench/topics_speed.py [--base /tmp/rasid-head] [--limit N]
           [--warmup N] [--rounds R] [--passes P] [--paired | --pieces] [ANT] [ASND]

Each round runs one worker process per tree, alternating (base, this tree, base, …), so both
see the same machine load. A worker imports `streams` from its tree, parses the first
--warmup + --limit ANT articles and as many ASND posts (../shared/data; skipped if absent),
and runs the first --warmup of each through the whole enrich step, untimed, as a running
worker would have (memos filled with the common words). Then, per fresh article: its regions
are located untimed (the title and body tokens and the shared automaton scan are then in
hand, as in `enrich`), and `classify_topics` alone is timed in CPU time (thread time):

- cold: the first pass over the --limit fresh articles (words never seen before are paid);
- warm: the best of --passes further passes over the same articles.

Prints milliseconds per ANT article and per ASND post; asserts nothing.

With --paired, one process instead: the base tree's `topic_model.py` and `topics.py` are
loaded beside this tree's (under other module names; everything else, parsing, tokens and
the phrase index, is this tree's), and each fresh article goes through both, in alternating
order, timed separately: the fairest comparison of the topic code alone on a loaded machine
(both see the same load, caches and article at the same moment). Their labels are compared
too (a difference is printed).

With --pieces, one process, this tree only: where `classify_topics` spends its time in situ
(issue 13, round eight: the topic model's `guess` costs 1.3–1.6× in the loop what it costs alone,
its memos pushed out of the CPU cache by the regions' work in between). The pieces (the lexicon
scores, the model's `guess`, `Guess.words`, `first_topic`, the evidence, `clean`, `tokenize`)
are wrapped with thread-time counters (inclusive), each wrapper adding ~1–1.5 µs a call, and
printed in µs per item, cold and warm.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from corpora import ANT as DEFAULT_ANT  # noqa: E402
from corpora import ASND as DEFAULT_ASND  # noqa: E402
from corpora import ant_raw as read_ant  # noqa: E402
from corpora import asnd_raw as read_asnd  # noqa: E402


def parse_all(pipe: Any, raws: list[dict[str, Any]], now: Any) -> list[Any]:
    """(raw, parsed article) of every item that parses (with whichever `streams` is loaded)."""
    from streams.errors import BadInput

    parsed = []
    for raw in raws:
        try:
            parsed.append(pipe.parse(json.dumps(raw).encode(), now))
        except BadInput:
            continue
    return parsed


def warmed(
    pipe: Any,
    ant: Path,
    asnd: Path,
    warmup: int,
    limit: int,
    now: Any,
    also: Callable[[Any], None] | None = None,
) -> Iterator[tuple[str, list[Any]]]:
    """Per corpus (ANT, ASND): its first `warmup` items enriched untimed (and given to `also`),
    then the next `limit` parsed articles, fresh, to time."""
    for corpus, raws in (
        ("ANT", read_ant(ant, warmup + limit)),
        ("ASND", read_asnd(asnd, warmup + limit)),
    ):
        parsed = parse_all(pipe, raws, now)
        for raw_msg, article in parsed[:warmup]:
            pipe.enrich(raw_msg, article, now)
            if also is not None:
                also(article)
        yield corpus, [a for _, a in parsed[warmup:]]


def worker(root: str, ant: Path, asnd: Path, warmup: int, limit: int, passes: int) -> None:
    sys.path.insert(0, root)
    import streams
    from streams.classify.places import locate
    from streams.classify.topics import classify_topics
    from streams.settings import Settings
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    if not str(Path(streams.__file__).resolve()).startswith(str(Path(root).resolve())):
        raise SystemExit(f"streams imported from {streams.__file__}, not from {root}")
    pipe = Pipeline.load(Settings())
    now = utcnow()
    clock = time.thread_time
    result: dict[str, float] = {}
    for corpus, fresh in warmed(pipe, ant, asnd, warmup, limit, now):
        timings: list[float] = []
        for _ in range(1 + passes):
            spent = 0.0
            for a in fresh:
                locate(a.title, a.body, dateline=a.dateline)  # tokens and scan, as in enrich
                t0 = clock()
                classify_topics(a.title, a.body, section=a.section)
                spent += clock() - t0
            timings.append(spent / max(1, len(fresh)) * 1000)
        result[f"{corpus} cold"] = timings[0]
        result[f"{corpus} warm"] = min(timings[1:])
        result[f"{corpus} n"] = len(fresh)
    print(json.dumps(result))


def _load(name: str, path: Path, source: str) -> ModuleType:
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)  # the base tree's own code
    return module


def paired(base: str, ant: Path, asnd: Path, warmup: int, limit: int, passes: int) -> None:
    sys.path.insert(0, str(ROOT))
    from streams.classify import topics as this
    from streams.classify.places import locate
    from streams.settings import Settings
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    where = Path(base) / "streams" / "classify"
    _load("streams.classify._base_topic_model", where / "topic_model.py",
          (where / "topic_model.py").read_text("utf-8"))  # fmt: skip
    source = (
        (where / "topics.py")
        .read_text("utf-8")
        .replace(
            "from streams.classify.topic_model import",
            "from streams.classify._base_topic_model import",
        )
    )
    other = _load("streams.classify._base_topics", where / "topics.py", source)
    pipe = Pipeline.load(Settings())
    now = utcnow()
    clock = time.thread_time
    print(f"paired, in one process: base {base} (topic code only) against this tree")

    def warm_other(article: Any) -> None:
        other.classify_topics(article.title, article.body, section=article.section)

    for corpus, fresh in warmed(pipe, ant, asnd, warmup, limit, now, warm_other):
        differ = 0
        for n in range(1 + passes):
            spent = {"base": 0.0, "this tree": 0.0}
            for k, a in enumerate(fresh):
                locate(a.title, a.body, dateline=a.dateline)  # tokens and scan, as in enrich
                runs = [("base", other), ("this tree", this)]
                labels = []
                for name, module in runs if k % 2 else runs[::-1]:
                    t0 = clock()
                    labels.append(module.classify_topics(a.title, a.body, section=a.section))
                    spent[name] += clock() - t0
                differ += n == 0 and labels[0] != labels[1]
            base_ms, this_ms = (spent[k] / max(1, len(fresh)) * 1000 for k in spent)
            print(
                f"  {corpus} {'cold' if n == 0 else 'warm'} ({len(fresh)}): classify_topics CPU "
                f"ms per item: base {base_ms:.4f}, this tree {this_ms:.4f} "
                f"({this_ms / base_ms:.2f}×)",
                flush=True,
            )
        print(f"  {corpus}: {differ} items with different labels")


_PIECES = (
    "lexicon_scores",
    "_fields",  # round nine: the fields cleaned and tokenised once, then scored (`_scores`)
    "_scores",
    "first_topic",
    "_evidence",
    "_word_evidence",
    "genre_mark",
    "clean",
    "tokenize",
)


def pieces(ant: Path, asnd: Path, warmup: int, limit: int, passes: int) -> None:
    sys.path.insert(0, str(ROOT))
    from streams.classify import topic_model, topics
    from streams.classify.places import locate
    from streams.settings import Settings
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    clock = time.thread_time
    spent: dict[str, float] = {}

    def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return f(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + clock() - t0

        return wrapper

    for name in _PIECES:  # module functions, called by classify_topics through its globals
        if hasattr(topics, name):
            setattr(topics, name, timed(name, getattr(topics, name)))
    model_class = topic_model.TopicModel
    setattr(model_class, "guess", timed("guess", model_class.guess))  # noqa: B010
    setattr(topic_model.Guess, "words", timed("Guess.words", topic_model.Guess.words))  # noqa: B010
    pipe = Pipeline.load(Settings())
    now = utcnow()
    print("in situ, this tree: CPU µs per item (inclusive; wrappers add ~1-1.5 µs a call)")
    for corpus, fresh in warmed(pipe, ant, asnd, warmup, limit, now):
        for n in range(1 + passes):
            spent.clear()
            total = 0.0
            for a in fresh:
                locate(a.title, a.body, dateline=a.dateline)  # tokens and scan, as in enrich
                t0 = clock()
                topics.classify_topics(a.title, a.body, section=a.section)
                total += clock() - t0
            per = 1e6 / max(1, len(fresh))
            parts = ", ".join(f"{k} {v * per:.1f}" for k, v in sorted(spent.items()))
            print(
                f"  {corpus} {'cold' if n == 0 else 'warm'} ({len(fresh)}): classify_topics "
                f"{total * per:.1f}; {parts}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ant", nargs="?", type=Path, default=DEFAULT_ANT)
    parser.add_argument("asnd", nargs="?", type=Path, default=DEFAULT_ASND)
    parser.add_argument("--base", default="/tmp/rasid-head", help="the tree to compare with")
    parser.add_argument("--limit", type=int, default=1500, help="fresh articles timed")
    parser.add_argument("--warmup", type=int, default=2000, help="articles enriched first")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--passes", type=int, default=3, help="warm passes (best kept)")
    parser.add_argument("--paired", action="store_true", help="both in one process (above)")
    parser.add_argument("--pieces", action="store_true", help="in situ pieces, this tree")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.ant.exists() and args.asnd.exists()):
        print(f"skipped: {args.ant} or {args.asnd} not found")
        return 0
    if args.worker:
        worker(args.worker, args.ant, args.asnd, args.warmup, args.limit, args.passes)
        return 0
    if args.pieces:
        pieces(args.ant, args.asnd, args.warmup, args.limit, args.passes)
        return 0
    if args.paired:
        paired(args.base, args.ant, args.asnd, args.warmup, args.limit, args.passes)
        return 0
    trees = {"base": args.base, "this tree": str(ROOT)}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name, root in trees.items():
            cmd = [sys.executable, __file__, "--worker", root, str(args.ant), str(args.asnd),
                   "--warmup", str(args.warmup), "--limit", str(args.limit),
                   "--passes", str(args.passes)]  # fmt: skip
            out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            figures[name].append(got)
            print(
                f"round {r + 1}, {name:9} ({root}): classify_topics CPU ms per item: "
                f"ANT cold {got['ANT cold']:.4f}, warm {got['ANT warm']:.4f} "
                f"({got['ANT n']:.0f} articles); ASND cold {got['ASND cold']:.4f}, "
                f"warm {got['ASND warm']:.4f} ({got['ASND n']:.0f} posts)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
