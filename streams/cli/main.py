"""`rasid …`: the worker, and the small tools around it (publish, classify, tail, topics)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from streams.cli import ingest as ingest_cli
from streams.cli import rules as rules_cli
from streams.cli import subscribers as subscribers_cli
from streams.settings import Settings, get_settings

TOPIC_ALIASES = {
    "raw": "topic_raw",
    "enriched": "topic_enriched",
    "alerts": "topic_alerts",
    "deadletter": "topic_deadletter",
}


def _source_from_path(path: Path) -> str:
    """baghdadtoday-2024-12-01-sayyida-zaynab.txt → baghdadtoday."""
    return path.stem.split("-", 1)[0] or "file"


def raw_message(
    body: str, *, source: str, url: str | None, content_type: str | None, title: str | None = None
) -> dict[str, Any]:
    from streams.times import utcnow

    message: dict[str, Any] = {
        "schema_version": 1,
        "source": source,
        "body": body,
        "content_type": content_type or "text/plain",
        "fetched_at": utcnow().isoformat(),
    }
    if url:
        message["url"] = url
    if title:
        message["title"] = title
    return message


def _content_type_for(path: Path, given: str | None) -> str:
    if given:
        return given
    return "text/html" if path.suffix.lower() in {".html", ".htm"} else "text/plain"


# ---------------------------------------------------------------- worker
def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import ensure_topics
    from streams.logs import setup_logging
    from streams.worker.app import create_app

    setup_logging(settings.log_level)
    asyncio.run(ensure_topics(settings))
    rasid = create_app(settings, live_rules=True)
    from streams.worker.shutdown import RasidWorker

    # Our JSON log handler stays in place: faust/mode would install their own text format.
    # SIGTERM: finish the in-flight message, commit, exit 0 within the bound (shutdown.py).
    worker = RasidWorker(
        rasid.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        override_logging=False,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
    worker.execute_from_commandline()
    return 0


# ---------------------------------------------------------------- publish
async def _publish(messages: list[dict[str, Any]], settings: Settings) -> list[str]:
    from aiokafka import AIOKafkaProducer

    from streams.ids import article_id
    from streams.kafka.admin import ensure_topics

    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=8_388_608
    )
    await producer.start()
    ids = []
    try:
        for message in messages:
            aid = article_id(message)
            await producer.send_and_wait(
                settings.topic_raw, orjson.dumps(message), key=aid.encode()
            )
            ids.append(aid)
    finally:
        await producer.stop()
    return ids


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    messages = []
    for name in args.paths:
        path = Path(name)
        body = sys.stdin.read() if name == "-" else path.read_text(encoding="utf-8")
        messages.append(
            raw_message(
                body,
                source=args.source or _source_from_path(path),
                url=args.url,
                content_type=_content_type_for(path, args.content_type),
            )
        )
    for name, aid in zip(args.paths, asyncio.run(_publish(messages, settings)), strict=True):
        print(orjson.dumps({"published": name, "id": aid, "topic": settings.topic_raw}).decode())
    return 0


# ---------------------------------------------------------------- classify
def _classify_inputs(args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    if args.jsonl:
        stream: TextIO = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")  # noqa: SIM115
        with stream:
            for n, line in enumerate(stream, 1):
                if line.strip():
                    yield f"{args.jsonl}:{n}", line.encode("utf-8")
        return
    for name in args.paths or ["-"]:
        path = Path(name)
        body = sys.stdin.read() if name == "-" else path.read_text(encoding="utf-8")
        source = args.source or (_source_from_path(path) if name != "-" else "stdin")
        message = raw_message(
            body,
            source=source,
            url=args.url,
            content_type=_content_type_for(path, args.content_type),
        )
        yield name, orjson.dumps(message)


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from streams.errors import BadInput
    from streams.worker.pipeline import Pipeline

    pipe = Pipeline.load(settings)
    failures = 0
    for name, value in _classify_inputs(args):
        try:
            enriched, alerts = pipe.classify(value)
        except BadInput as exc:
            failures += 1
            error = {"input": name, "error": exc.reason.value, "detail": exc.detail}
            print(orjson.dumps(error).decode())
            continue
        out: dict[str, Any] = {
            "id": enriched["id"],
            "source": enriched["source"],
            "title": enriched["title"],
            "section": enriched["section"],
            "published_at": enriched["published_at"],
            "dateline": enriched["dateline"],
            "body": enriched["body"],
            "regions": enriched["regions"],
            "topics": enriched["topics"],
            "matches": [
                {
                    "rule": a["rule"],
                    "rule_version": a["rule_version"],
                    "severity": a["severity"],
                    **m,
                }
                for a in alerts
                for m in a["matches"]
            ],
            "alerts": [
                {"id": a["id"], "rule": a["rule"], "severity": a["severity"]} for a in alerts
            ],
        }
        print(orjson.dumps(out).decode())
    return 1 if failures and not args.jsonl else 0


# ---------------------------------------------------------------- tail
async def _tail(topic: str, args: argparse.Namespace, settings: Settings) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    seen = 0
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            print(f"topic {topic} does not exist", file=sys.stderr)
            return 1
        consumer.assign(tps)
        if args.from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        while args.max is None or seen < args.max:
            batch = await consumer.getmany(timeout_ms=int(args.timeout * 1000))
            if not batch:
                break  # idle for --timeout seconds
            for records in batch.values():
                for record in records:
                    value = record.value or b""
                    try:
                        line = orjson.dumps(orjson.loads(value)).decode()
                    except orjson.JSONDecodeError:
                        line = orjson.dumps(
                            {"value_b64": base64.b64encode(value).decode()}
                        ).decode()
                    print(line, flush=True)
                    seen += 1
                    if args.max is not None and seen >= args.max:
                        return 0
    finally:
        await consumer.stop()
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    topic = (
        getattr(settings, TOPIC_ALIASES[args.topic]) if args.topic in TOPIC_ALIASES else args.topic
    )
    return asyncio.run(_tail(topic, args, settings))


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import ensure_topics

    created = asyncio.run(ensure_topics(settings))
    print(orjson.dumps({"created": created, "topics": list(settings.topics)}).decode())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rasid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("worker", help="run the stream worker (faust)").set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish files as raw articles")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files ('-' for stdin)")
    p.add_argument("--source", help="outlet name (default: file name up to the first '-')")
    p.add_argument("--url")
    p.add_argument("--content-type", choices=["text/plain", "text/html"])
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("classify", help="parse, classify and match offline (no broker)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--jsonl", metavar="FILE", help="raw-article objects, one per line ('-': stdin)")
    p.add_argument("--source")
    p.add_argument("--url")
    p.add_argument("--content-type", choices=["text/plain", "text/html"])
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("tail", help="print a topic's messages as JSON lines")
    p.add_argument(
        "--topic",
        default="alerts",
        help="alerts | raw | enriched | deadletter | a topic name (default alerts)",
    )
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--max", type=int, default=None, help="stop after N messages")
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="stop after S seconds with no new message (default 10)",
    )
    p.set_defaults(func=cmd_tail)

    sub.add_parser("topics", help="create the pipeline topics").set_defaults(func=cmd_topics)
    ingest_cli.register(sub)  # rasid ingest, rasid replay
    rules_cli.register(sub)  # rasid rules validate|push|delete|list|backtest
    subscribers_cli.register(sub)  # rasid api, keys, subscriptions, webhooks
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args, get_settings()))


if __name__ == "__main__":
    sys.exit(main())
