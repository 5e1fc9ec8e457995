"""`rasid …`: the worker, and the small tools around it (publish, classify, tail, topics)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from streams.cli import broker
from streams.cli import ingest as ingest_cli
from streams.cli import rules as rules_cli
from streams.cli import subscribers as subscribers_cli
from streams.cli import trends as trends_cli
from streams.cli.options import add_jsonl
from streams.errors import BadInput, CommandFailed, DeadLetterReason, RasidError, UsageError
from streams.kafka.partitions import wait_for_partitions
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
    from streams.kafka.admin import ensure_topics, update_changelog_configs
    from streams.logs import setup_logging
    from streams.worker import heap
    from streams.worker.app import create_app

    heap.cap_arenas()  # before any thread (asyncio's resolver, faust's consumer) allocates
    setup_logging(settings.log_level)
    asyncio.run(ensure_topics(settings))
    asyncio.run(update_changelog_configs(settings))
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
def _read_bytes(name: str) -> bytes:
    """A file's bytes, or stdin's for '-'."""
    if name != "-":
        return Path(name).read_bytes()
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream standing in for stdin
        return sys.stdin.read().encode("utf-8")
    data: bytes = buffer.read()
    return data


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"


async def _publish(records: list[tuple[bytes | None, bytes]], settings: Settings) -> None:
    """Send (key, value) records to the raw topic, values exactly as given; wait for the acks."""
    from aiokafka import AIOKafkaProducer

    from streams.kafka.admin import ensure_topics

    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=8_388_608
    )
    try:
        await producer.start()
        for key, value in records:
            await producer.send_and_wait(settings.topic_raw, value, key=key)
    finally:
        await producer.stop()


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from streams.ids import article_id

    if args.raw and (args.source or args.url or args.content_type):
        raise UsageError(
            "--raw publishes a file's bytes as they are: --source, --url and --content-type "
            "do not apply"
        )
    if args.key is not None and not args.raw:
        raise UsageError("--key only applies with --raw (raw articles are keyed by their id)")
    if args.paths.count("-") > 1:
        raise UsageError("'-' (stdin) can be given once")
    records: list[tuple[bytes | None, bytes]] = []
    lines: list[dict[str, Any]] = []
    for name in args.paths:
        data = _read_bytes(name)
        if args.raw:
            key = args.key.encode("utf-8") if args.key is not None else None
            records.append((key, data))
            lines.append({"published": name, "key": args.key, "bytes": len(data)})
            continue
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = "stdin" if name == "-" else name
            raise CommandFailed(
                f"{shown}: {_not_utf8(data, exc)}; to publish its bytes as they are, use --raw"
            ) from None
        path = Path(name)
        message = raw_message(
            body,
            source=args.source or _source_from_path(path),
            url=args.url,
            content_type=_content_type_for(path, args.content_type),
        )
        aid = article_id(message)
        records.append((aid.encode(), orjson.dumps(message)))
        lines.append({"published": name, "id": aid})
    broker.require(settings)
    asyncio.run(_publish(records, settings))
    for line in lines:
        print(orjson.dumps({**line, "topic": settings.topic_raw}).decode())
    return 0


# ---------------------------------------------------------------- classify
def _jsonl_lines(name: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a JSON-lines file or stdin; gzip is read directly."""
    from streams.ingest.replay import gunzipped, iter_lines

    if name != "-":
        yield from iter_lines(Path(name))
        return
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream standing in for stdin
        for n, text in enumerate(sys.stdin, 1):
            yield n, text.encode("utf-8")
        return
    yield from enumerate(gunzipped(buffer), 1)


def _is_ant(record: dict[str, Any]) -> bool:
    return "text" in record or "abstract" in record


def _classify_inputs(
    args: argparse.Namespace, settings: Settings
) -> Iterator[tuple[str, bytes | BadInput]]:
    if args.jsonl:
        # As `rasid replay` reads an archive: ANT records are mapped to raw articles (to_raw),
        # raw articles pass. A line that is neither goes to the pipeline as it is, which says
        # what is wrong with it (invalid_json, schema_violation…).
        from streams.ingest.replay import to_raw

        tz = settings.tz_for_source("")
        for n, line in _jsonl_lines(args.jsonl):
            if not line.strip():
                continue
            name = f"{args.jsonl}:{n}"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield name, line
                continue
            message = to_raw(record, tz=tz) if isinstance(record, dict) else None
            if message is not None:
                yield name, orjson.dumps(message)
            elif isinstance(record, dict) and "body" not in record and _is_ant(record):
                yield name, BadInput(DeadLetterReason.EMPTY_BODY, "an ANT record without text")
            else:
                yield name, line
        return
    for name in args.paths or ["-"]:
        path = Path(name)
        data = _read_bytes(name)
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield name, BadInput(DeadLetterReason.INVALID_UTF8, _not_utf8(data, exc))
            continue
        source = args.source or (_source_from_path(path) if name != "-" else "stdin")
        message = raw_message(
            body,
            source=source,
            url=args.url,
            content_type=_content_type_for(path, args.content_type),
        )
        yield name, orjson.dumps(message)


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker.pipeline import Pipeline

    if args.jsonl and args.paths:
        raise UsageError("give PATH... or --jsonl FILE, not both")
    pipe = Pipeline.load(settings)
    failures = 0
    for name, value in _classify_inputs(args, settings):
        try:
            if isinstance(value, BadInput):
                raise value
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


# ---------------------------------------------------------------- stories
def cmd_stories(args: argparse.Namespace, settings: Settings) -> int:
    """The worker's story clustering, offline: one JSON line per article, in publication order."""
    from streams.stories.cluster import StoryParams
    from streams.stories.offline import cluster_in_order, story_input
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    pipe = Pipeline.load(settings)
    inputs = []
    args.paths = []
    for name, value in _classify_inputs(args, settings):
        try:
            if isinstance(value, BadInput):
                raise value
            enriched = pipe.enriched(value, utcnow())
        except BadInput as exc:
            error = {"input": name, "error": exc.reason.value, "detail": exc.detail}
            print(orjson.dumps(error).decode())
            continue
        inputs.append(story_input(enriched, published=True))
    params = StoryParams.from_settings(settings, args.threshold)
    for line in cluster_in_order(inputs, params):
        print(orjson.dumps(line).decode())
    return 0


# ---------------------------------------------------------------- tail
async def _tail(topic: str, args: argparse.Namespace, settings: Settings) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    seen = 0
    try:
        await consumer.start()
        tps = await wait_for_partitions(consumer, topic, timeout=0.0)
        if not tps:
            raise CommandFailed(f"topic {topic} does not exist")
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
    if args.max is not None and args.max < 0:
        raise UsageError(f"--max must be 0 or more, got {args.max}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be more than 0 seconds, got {args.timeout}")
    topic = (
        getattr(settings, TOPIC_ALIASES[args.topic]) if args.topic in TOPIC_ALIASES else args.topic
    )
    broker.require(settings)
    return asyncio.run(_tail(topic, args, settings))


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import ensure_topics

    broker.require(settings)
    created = asyncio.run(ensure_topics(settings))
    print(orjson.dumps({"created": created, "topics": list(settings.topics)}).decode())
    return 0


def _probability(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rasid",
        description=__doc__,
        epilog="exit status: 0 success, 1 failure, 2 usage error (errors: one line on stderr)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("worker", help="run the stream worker (faust)").set_defaults(func=cmd_worker)

    p = sub.add_parser("publish", help="publish files as raw articles")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files ('-' for stdin)")
    p.add_argument("--source", help="outlet name (default: file name up to the first '-')")
    p.add_argument("--url")
    p.add_argument("--content-type", choices=["text/plain", "text/html"])
    p.add_argument(
        "--raw",
        action="store_true",
        help="send each file's bytes as they are as the message (e.g. a dead letter's value)",
    )
    p.add_argument("--key", help="with --raw: the message key (default: none)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("classify", help="parse, classify and match offline (no broker)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    add_jsonl(p, required=False)
    p.add_argument("--source")
    p.add_argument("--url")
    p.add_argument("--content-type", choices=["text/plain", "text/html"])
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "stories", help="cluster articles into stories offline, as the worker does (no broker)"
    )
    add_jsonl(p, required=True)
    p.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        help="min. probability to join a story (default RASID_STORY_THRESHOLD or the model's)",
    )
    p.set_defaults(func=cmd_stories)

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
    trends_cli.register(sub)  # rasid trends
    return parser


# ---------------------------------------------------------------- errors
# Long-running services: their logs (the Kafka client's included) are JSON lines on stderr,
# and they wait for the broker instead of failing at once.
SERVICES = frozenset(
    {
        cmd_worker,
        ingest_cli.cmd_ingest,
        subscribers_cli.cmd_api,
        subscribers_cli.cmd_webhooks,
    }
)
# Failures with a message of their own: one line, exit 1. Anything else is a bug.
EXPECTED: tuple[type[BaseException], ...] = (RasidError, ValueError, OSError, EOFError)


def _is_service(args: argparse.Namespace) -> bool:
    return args.func in SERVICES and not getattr(args, "once", False)


def _debug(settings: Settings) -> bool:
    return settings.log_level.strip().upper() == "DEBUG"


@contextlib.contextmanager
def _quiet_client_logs(quiet: bool) -> Iterator[None]:
    """A one-shot command reports a failure itself, in one line: the Kafka client's own
    connection logs (and asyncio's complaints about the clients it left) would add more."""
    if not quiet:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("aiokafka", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        gc.collect()  # finalizers of unclosed clients log through asyncio: run them now
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _secrets(args: argparse.Namespace) -> list[str]:
    values = [getattr(args, name, None) for name in ("secret", "token")]
    return [v for v in values if isinstance(v, str) and len(v) >= 4]


def _one_line(exc: BaseException, args: argparse.Namespace | None = None) -> str:
    """The message of an exception on one line, without the secrets given on the command
    line."""
    from aiokafka.errors import KafkaError
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):  # the settings: name the variables, never the values
        problems = [
            f"RASID_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        text = "invalid settings: " + "; ".join(problems)
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, KafkaError) and not str(exc).startswith(type(exc).__name__):
        text = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, EXPECTED) and str(exc):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in _secrets(args) if args is not None else []:
        text = text.replace(secret, "…")
    return " ".join(text.split())


def _error(text: str) -> None:
    print(f"rasid: error: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`rasid …`. Exit 0 on success, 2 for a usage error (bad arguments or values), 1 for a
    failure; an error is one line on stderr, never a traceback (RASID_LOG_LEVEL=DEBUG shows
    the traceback of an unexpected one)."""
    from aiokafka.errors import KafkaError
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)  # exits 2 itself on a bad command line
    try:
        settings = get_settings()
    except ValidationError as exc:
        _error(_one_line(exc))
        return 2
    try:
        with _quiet_client_logs(not _debug(settings) and not _is_service(args)):
            return int(args.func(args, settings))
    except UsageError as exc:
        _error(_one_line(exc, args))
        return 2
    except (*EXPECTED, KafkaError) as exc:
        _error(_one_line(exc, args))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _debug(settings):
            traceback.print_exc()
        _error(f"unexpected {_one_line(exc, args)} (RASID_LOG_LEVEL=DEBUG shows where)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
