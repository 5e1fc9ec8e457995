"""The ingester: poll each source's feeds and listing pages, fetch each new item's page,
drop what was already published (by URL, then by content), publish the rest.

It talks to the outside through three small interfaces (a Fetcher, a state store and a sink),
so the decisions here run the same against Kafka and against in-memory stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from streams import metrics
from streams.ids import canonical_url
from streams.ingest.dedup import (
    DedupState,
    Validators,
    published_records,
    seen_records,
    url_key,
    validators_record,
)
from streams.ingest.extract import content_hash, decode_page, extract, slim_html
from streams.ingest.feeds import FeedError, FeedItem, parse_feed, parse_listing
from streams.ingest.http import Fetcher, FetchResult
from streams.ingest.policy import Backoff
from streams.ingest.sources import Listing, Source
from streams.validation import check_outgoing

log = logging.getLogger(__name__)

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# Page failures that will not heal by retrying at the next poll.
_PERMANENT = frozenset({"client_error", "robots_disallowed", "too_large"})


class StateStore(Protocol):
    state: DedupState

    async def put(self, records: list[tuple[str, bytes]]) -> None: ...


class Sink(Protocol):
    async def publish(self, message: dict[str, Any]) -> str: ...


@dataclass
class PollReport:
    new: int = 0
    duplicates: int = 0
    errors: int = 0
    skipped: int = 0  # items with no text to publish
    retry: int = 0  # items whose page failed for now and that have no summary to fall back on

    def add(self, other: PollReport) -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.errors += other.errors
        self.skipped += other.skipped
        self.retry += other.retry


def _lang(value: str | None, default: str) -> str:
    if not value:
        return default
    head, _, rest = value.strip().replace("_", "-").partition("-")
    head = head.lower()
    if not head.isalpha() or not 2 <= len(head) <= 3:
        return default
    return f"{head}-{rest}" if rest and rest.isalnum() else head


@dataclass
class Ingester:
    sources: list[Source]
    fetcher: Fetcher
    store: StateStore
    sink: Sink
    max_html_bytes: int = 800_000
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------ fetch + count
    async def _fetch(
        self, source: Source, kind: str, url: str, *, validators: Validators | None = None
    ) -> FetchResult:
        accept = PAGE_ACCEPT if kind in {"page", "listing"} else FEED_ACCEPT
        result = await self.fetcher.get(url, validators=validators, accept=accept)
        if result.outcome != "robots_disallowed":
            metrics.INGEST_FETCH_SECONDS.labels(source=source.name, kind=kind).observe(
                result.seconds
            )
        return result

    def _count(self, source: Source, kind: str, outcome: str) -> None:
        metrics.INGEST_FETCHES.labels(source=source.name, kind=kind, outcome=outcome).inc()

    # ------------------------------------------------------------------ one feed / listing
    async def poll_source(self, source: Source) -> PollReport:
        report = PollReport()
        for url in source.feeds:
            report.add(await self._poll(source, "feed", url, None))
        for listing in source.listings:
            report.add(await self._poll(source, "listing", listing.url, listing))
        return report

    async def _poll(
        self, source: Source, kind: str, url: str, listing: Listing | None
    ) -> PollReport:
        report = PollReport()
        if not self.backoff.ready(url, self.clock()):
            return report
        validators = self.store.state.validators_for(url)
        result = await self._fetch(source, kind, url, validators=validators)
        if result.outcome == "not_modified":
            self._count(source, kind, "not_modified")
            self.backoff.success(url)
            metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
            return report
        if not result.ok:
            self._count(source, kind, result.outcome)
            wait = self.backoff.failure(url, self.clock(), result.retry_after)
            log.warning(
                "fetch failed",
                extra={
                    "source": source.name,
                    "url": url,
                    "outcome": result.outcome,
                    "detail": result.detail,
                    "retry_in": round(wait, 1),
                },
            )
            report.errors += 1
            return report
        try:
            if listing is None:
                items = parse_feed(
                    result.content,
                    url=result.final_url,
                    tz=source.tz,
                    content_type=result.content_type,
                )
            else:
                html, _ = decode_page(result.content, result.content_type)
                items = parse_listing(html, listing=Listing(result.final_url, listing.link_pattern))
        except FeedError as exc:
            self._count(source, kind, "unparseable")
            self.backoff.failure(url, self.clock())
            log.warning(
                "unparseable feed",
                extra={"source": source.name, "url": url, "detail": str(exc)[:300]},
            )
            report.errors += 1
            return report
        self._count(source, kind, "ok")
        self.backoff.success(url)
        # One item per canonical URL (the first, fullest entry wins); feeds list the newest
        # first, so publish in reverse: the order the outlet wrote them.
        unique: dict[str, FeedItem] = {}
        for item in items:
            unique.setdefault(url_key(item.url), item)
        for item in reversed(list(unique.values())):
            if self.store.state.seen_url(item.url):
                continue
            report.add(await self.process_item(source, item))
        metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
        # Validators last: a crash half-way refetches the whole feed instead of losing items.
        # An item left to retry (its page failed for now) must not be hidden behind a 304.
        fresh = result.validators if not report.retry else Validators()
        if fresh != validators:
            await self.store.put([validators_record(url, fresh)])
        return report

    # ------------------------------------------------------------------ one item
    async def process_item(self, source: Source, item: FeedItem) -> PollReport:
        report = PollReport()
        now = datetime.now(UTC).isoformat()
        urls = [item.url]
        html: str | None = None
        text: str | None = None
        title = item.title
        lang = _lang(item.lang, source.language)
        if source.fetch_pages:
            page = await self._fetch(source, "page", item.url)
            self._count(source, "page", page.outcome)
            if page.ok:
                html, _ = decode_page(page.content, page.content_type)
                found = extract(html, url=page.final_url, default_lang=source.language)
                urls += [u for u in (page.final_url, found.canonical) if u and u not in urls]
                if any(self.store.state.seen_url(u) for u in urls[1:]):
                    await self.store.put(
                        seen_records(urls=urls, source=source.name, reason="url", at=now)
                    )
                    metrics.INGEST_DUPLICATES.labels(source=source.name, reason="url").inc()
                    report.duplicates += 1
                    return report
                text = found.text
                title = title or found.title
                lang = found.lang
                if text is None:
                    html = None  # nothing the worker could read either: use the summary
            else:
                log.info(
                    "page not fetched",
                    extra={"source": source.name, "url": item.url, "outcome": page.outcome},
                )
                if item.summary is None:
                    report.errors += 1
                    if page.outcome not in _PERMANENT:
                        report.retry += 1  # timeout, 5xx, network: ask again next poll
                    else:  # never coming: stop asking
                        await self.store.put(
                            seen_records(urls=urls, source=source.name, reason=page.outcome, at=now)
                        )
                    return report
        if text is None:
            text = item.summary
        if text is None or not text.strip():
            report.skipped += 1
            return report
        digest = content_hash(source.name, text)
        if self.store.state.seen_content(digest):
            await self.store.put(
                seen_records(urls=urls, source=source.name, reason="content", at=now)
            )
            metrics.INGEST_DUPLICATES.labels(source=source.name, reason="content").inc()
            report.duplicates += 1
            return report
        message = self.raw_message(source, item, urls, html, text, title, lang, now)
        aid = await self.sink.publish(message)
        await self.store.put(
            published_records(
                article_id=aid, source=source.name, urls=urls, content_hash=digest, at=now
            )
        )
        metrics.INGEST_ARTICLES.labels(source=source.name).inc()
        report.new += 1
        return report

    def raw_message(
        self,
        source: Source,
        item: FeedItem,
        urls: list[str],
        html: str | None,
        text: str,
        title: str | None,
        lang: str,
        fetched_at: str,
    ) -> dict[str, Any]:
        """The raw-article message. The page goes as HTML when it fits (the worker's parser
        reads datelines, sections and structured dates from it); else the extracted text."""
        body, content_type = text, "text/plain"
        if html is not None:
            slim = slim_html(html)
            if len(slim.encode("utf-8")) <= self.max_html_bytes:
                body, content_type = slim, "text/html"
        message: dict[str, Any] = {
            "schema_version": 1,
            "source": source.name,
            "url": canonical_url(urls[-1] if len(urls) > 1 else urls[0]),
            "body": body,
            "content_type": content_type,
            "fetched_at": fetched_at,
            "lang": lang,
        }
        if title:
            message["title"] = title[:2000]
        if item.published_at is not None:
            message["published_at"] = item.published_at.isoformat()
        check_outgoing("raw-article", message)
        return message

    # ------------------------------------------------------------------ loops
    async def run_once(self) -> PollReport:
        """Poll every source once, concurrently (per-host limits still apply)."""
        total = PollReport()
        for report in await asyncio.gather(*(self._safe_poll(s) for s in self.sources)):
            total.add(report)
        return total

    async def _safe_poll(self, source: Source) -> PollReport:
        try:
            return await self.poll_source(source)
        except Exception:  # one outlet's failure (or a broker hiccup) must not stop the rest
            log.exception("poll failed", extra={"source": source.name})
            return PollReport(errors=1)

    async def run(self, stop: asyncio.Event) -> None:
        async def loop(source: Source) -> None:
            while not stop.is_set():
                started = self.clock()
                report = await self._safe_poll(source)
                if report.new or report.errors:
                    log.info("polled", extra={"source": source.name, **vars(report)})
                wait = max(1.0, source.interval_seconds - (self.clock() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

        await asyncio.gather(*(loop(s) for s in self.sources))
