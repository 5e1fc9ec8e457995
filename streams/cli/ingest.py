"""`rasid ingest` and `rasid replay` (registered on the main parser by streams/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streams.cli import broker
from streams.errors import CommandFailed, UsageError
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.ingest.policy import HostPolicy
    from streams.ingest.sources import Source

log = logging.getLogger("streams.ingest")


class KafkaSink:
    """Raw articles to the raw topic, keyed by article id (as `rasid publish` does)."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def publish(self, message: dict[str, Any]) -> str:
        from streams.ids import article_id

        aid = article_id(message)
        await self.producer.send_and_wait(self.topic, orjson.dumps(message), key=aid.encode())
        return aid


async def _web(settings: Settings, ready: dict[str, bool]) -> Any:
    """/metrics, /healthz and /readyz of the ingest process."""
    from aiohttp import web

    from streams import health

    app = web.Application()
    health.add_routes(app, lambda: ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.ingest_web_port).start()
    return runner


def allowed(sources: Sequence[Source], settings: Settings) -> HostPolicy:
    """Where the ingester may go: the sites the operator named (sources file, Telegram base,
    RASID_INGEST_ALLOWED_HOSTS), and public addresses only unless told otherwise."""
    from streams.ingest.policy import HostPolicy

    extra = [h.strip() for h in settings.ingest_allowed_hosts.split(",") if h.strip()]
    named = [url for source in sources for url in source.urls()]
    if any(source.telegram for source in sources):
        named.append(settings.ingest_telegram_base)
    return HostPolicy.of([*named, *extra], allow_private=settings.ingest_allow_private_addresses)


async def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from aiokafka import AIOKafkaProducer

    from streams import metrics
    from streams.ingest.http import Fetcher, FetcherConfig
    from streams.ingest.policy import Backoff
    from streams.ingest.pollers import MoreSources
    from streams.ingest.service import Ingester
    from streams.ingest.sources import load_sources
    from streams.ingest.state import KafkaState
    from streams.kafka.admin import ensure_topics

    sources = load_sources(Path(args.sources) if args.sources else settings.sources_file)
    if args.source:
        unknown = set(args.source) - {s.name for s in sources}
        if unknown:
            raise UsageError(f"--source: no enabled source named {', '.join(sorted(unknown))}")
        sources = [s for s in sources if s.name in set(args.source)]
    if args.once:  # a one-shot run fails at once without a broker; the service waits for it
        await broker.check(settings)
    metrics.ingest_sources([s.name for s in sources])
    ready = {"state_loaded": False}
    runner = None if args.once or args.no_web else await _web(settings, ready)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_request_size=8_388_608,
        linger_ms=5,
    )
    await producer.start()
    store = KafkaState(settings, producer)
    try:
        await store.start()
        ready["state_loaded"] = True
        config = FetcherConfig(
            user_agent=settings.ingest_user_agent,
            connect_timeout=settings.ingest_connect_timeout,
            timeout=settings.ingest_timeout,
            host_concurrency=settings.ingest_host_concurrency,
            host_interval=settings.ingest_host_interval,
            max_bytes=settings.ingest_max_page_bytes,
            robots_ttl=settings.ingest_robots_ttl,
            policy=allowed(sources, settings),
        )
        async with Fetcher(config) as fetcher:
            ingester = Ingester(
                sources=sources,
                fetcher=fetcher,
                store=store,
                sink=KafkaSink(producer, settings.topic_raw),
                # Room for the JSON envelope under the worker's raw message limit.
                max_html_bytes=max(10_000, settings.max_body_bytes - 50_000),
                backoff=Backoff(settings.ingest_backoff_base, settings.ingest_backoff_max),
                max_revisions=settings.ingest_max_revisions,
                revision_window=settings.ingest_revision_window_hours * 3600.0,
                page_max_attempts=settings.ingest_page_max_attempts,
                more=MoreSources(
                    telegram_base=settings.ingest_telegram_base,
                    max_age=timedelta(hours=settings.ingest_max_age_hours),
                ),
            )
            log.info(
                "ingest started",
                extra={"sources": [s.name for s in sources], "state_records": store.records_loaded},
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            if args.once:
                report = await ingester.run_once(stop)
                per_source = {n: r.summary() for n, r in sorted(ingester.last_reports.items())}
                summary = {"sources": len(sources), **report.summary(), "per_source": per_source}
                print(orjson.dumps(summary).decode())
                return 130 if stop.is_set() else 0
            # SIGTERM: fetches in flight are abandoned, the run ends within the bound.
            clean = await ingester.run_until_stopped(stop, settings.ingest_shutdown_seconds)
            log.info("ingest stopped", extra={"clean": clean})
            return 0
    finally:
        await store.stop()
        await producer.stop()
        if runner is not None:
            await runner.cleanup()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from streams.logs import setup_logging

    setup_logging(settings.log_level)
    # A bad sources file (SourcesError, a ValueError) is one line and exit 1 (cli/main.py).
    return asyncio.run(_ingest(args, settings))


# ---------------------------------------------------------------- replay
async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from aiokafka import AIOKafkaProducer

    from streams.ids import article_id
    from streams.ingest.replay import (
        Checkpoint,
        Progress,
        count_lines,
        decode_line,
        iter_lines,
        state_records,
    )
    from streams.ingest.state import ensure_state_topic
    from streams.kafka.admin import ensure_topics

    archive = Path(args.jsonl)
    sources = list(args.source or [])
    path = (
        Path(args.checkpoint)
        if args.checkpoint
        else Checkpoint.default_path(
            settings.replay_checkpoint_dir, archive, settings.topic_raw, sources
        )
    )
    checkpoint = Checkpoint.load(path, archive)
    if args.from_start:
        checkpoint = Checkpoint(path, str(archive.resolve()))
    resumed_from = checkpoint.line
    tz = settings.tz_for_source("")
    wanted = set(sources)
    total = None if args.no_count else count_lines(archive)
    progress = Progress(total, start=checkpoint.line, stream=sys.stderr)
    await ensure_topics(settings)
    await ensure_state_topic(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_request_size=8_388_608,
        linger_ms=20,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    stop = asyncio.Event()
    caught: list[int] = []

    def interrupted(sig: int) -> None:
        caught.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted, int(sig))
    pending: list[Any] = []
    published = skipped = 0
    last_line = checkpoint.line

    async def flush() -> None:
        # Only lines the broker acknowledged go into the checkpoint.
        for future in pending:
            await future
        pending.clear()
        checkpoint.line = last_line
        checkpoint.save()

    started = time.monotonic()
    last_save = started
    try:
        for n, line in iter_lines(archive):
            if n <= checkpoint.line:
                continue
            if stop.is_set() or (args.max is not None and published >= args.max):
                break
            message = decode_line(line, tz=tz, sources=wanted)
            if isinstance(message, str):
                skipped += 1
                log.warning("line skipped", extra={"line": n, "reason": message})
            elif message is not None:
                if args.rate:
                    ahead = started + published / args.rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                aid = article_id(message)
                pending.append(
                    await producer.send(settings.topic_raw, orjson.dumps(message), key=aid.encode())
                )
                # The dedup state: `rasid ingest` will not publish these URLs again. Flushed
                # with the checkpoint, so a line it counts has its state written too.
                for key, value in state_records(message, aid, now=time.time()):
                    pending.append(
                        await producer.send(settings.topic_ingest_state, value, key=key.encode())
                    )
                published += 1
                checkpoint.published += 1
            last_line = n
            progress.update(n)
            if len(pending) >= 500 or time.monotonic() - last_save > 2.0:
                await flush()
                last_save = time.monotonic()
        else:
            checkpoint.done = True
        await flush()
    finally:
        progress.close()
        await producer.stop()
    print(
        orjson.dumps(
            {
                "published": published,
                "skipped": skipped,
                "resumed_from_line": resumed_from,
                "last_line": checkpoint.line,
                "done": checkpoint.done,
                "checkpoint": str(path),
                "topic": settings.topic_raw,
                "interrupted": bool(caught),
            }
        ).decode()
    )
    if caught and not checkpoint.done:  # stopped by a signal: say so, as the shell would
        return 128 + int(caught[0])
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.logs import setup_logging

    if args.rate < 0:
        raise UsageError(f"--rate must be 0 (no limit) or more, got {args.rate}")
    if not Path(args.jsonl).is_file():
        raise CommandFailed(f"{args.jsonl}: no such file")
    setup_logging(settings.log_level)
    broker.require(settings)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_replay(args, settings))
    return 130


def register(sub: Any) -> None:
    """Add `ingest` and `replay` to the `rasid` sub-command parser."""
    p = sub.add_parser("ingest", help="poll the configured feeds and pages into the raw topic")
    p.add_argument("--sources", metavar="PATH", help="sources file (default RASID_SOURCES_PATH)")
    p.add_argument("--source", action="append", metavar="NAME", help="only this source (repeat)")
    p.add_argument("--once", action="store_true", help="poll every source once, then exit")
    p.add_argument("--no-web", action="store_true", help="no /metrics web server")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("replay", help="publish an archive (JSON lines, .gz ok) to the raw topic")
    p.add_argument("--jsonl", required=True, metavar="FILE", help="ANT records or raw articles")
    p.add_argument("--rate", type=float, default=0.0, help="messages per second (0: no limit)")
    p.add_argument("--source", action="append", metavar="S", help="only lines of source S")
    p.add_argument("--checkpoint", metavar="PATH", help="checkpoint file (default: derived)")
    p.add_argument("--from-start", action="store_true", help="ignore the checkpoint")
    p.add_argument("--max", type=int, default=None, help="stop after N published messages")
    p.add_argument("--no-count", action="store_true", help="skip counting lines for the bar")
    p.set_defaults(func=cmd_replay)
