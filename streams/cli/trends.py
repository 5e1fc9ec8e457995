"""`rasid trends --jsonl FILE`: burst detection over an archive, offline (docs/trends.md)."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from streams.cli.options import add_jsonl
from streams.errors import BadInput
from streams.settings import Settings


def cmd_trends(args: argparse.Namespace, settings: Settings) -> int:
    """Classify, cluster and detect as the worker does, in event-time order: one JSON line per
    trend record (trend.v2, validated), then with --stats one line of counts."""
    from streams.cli.main import _classify_inputs
    from streams.stories.cluster import StoryParams
    from streams.times import utcnow
    from streams.trends.detector import TrendDetector
    from streams.trends.offline import TrendInput, detect_in_order, shuffled_times, trend_input
    from streams.validation import check_outgoing
    from streams.worker.pipeline import Pipeline

    pipe = Pipeline.load(settings)
    inputs: list[TrendInput] = []
    errors = 0
    args.paths = []
    for name, value in _classify_inputs(args, settings):
        try:
            if isinstance(value, BadInput):
                raise value
            enriched = pipe.enriched(value, utcnow())
            hits = pipe.match(enriched)
        except BadInput as exc:
            errors += 1
            error = {"input": name, "error": exc.reason.value, "detail": exc.detail}
            print(orjson.dumps(error).decode())
            continue
        inputs.append(trend_input(enriched, [hit.rule_id for hit in hits]))
    if args.shuffle_time is not None:
        inputs = shuffled_times(inputs, args.shuffle_time)
    story_params = StoryParams.from_settings(settings)
    detector = TrendDetector()
    for record in detect_in_order(inputs, detector, story_params):
        check_outgoing("trend", record)
        print(orjson.dumps(record).decode())
    if args.stats:
        stats: dict[str, Any] = {"articles": len(inputs), "errors": errors, **detector.stats()}
        print(orjson.dumps({"stats": stats}).decode())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "trends", help="burst detection over an archive, as the worker does (no broker)"
    )
    add_jsonl(p, required=True)
    p.add_argument(
        "--shuffle-time",
        metavar="SEED",
        type=int,
        default=None,
        help="control run: shuffle the event times among the articles first (seeded)",
    )
    p.add_argument("--stats", action="store_true", help="end with a line of counts")
    p.set_defaults(func=cmd_trends)
