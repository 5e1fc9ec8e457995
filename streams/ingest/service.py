"""The ingester: poll each source's feeds and listing pages, fetch each new item's page,
drop what was already published (by URL, then by content), publish the rest; publish a URL
seen before again, as the next revision of its article, when its title or text changed.

It talks to the outside through three small interfaces (a Fetcher, a state store and a sink),
so the decisions here run the same against Kafka and against in-memory stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from streams import metrics
from streams.ids import article_id as derive_article_id
from streams.ids import canonical_url
from streams.ingest.dedup import (
    REVISION_WINDOW_SECONDS,
    DedupState,
    Published,
    Validators,
    backoff_record,
    entry_fingerprint,
    host_rest_record,
    published_records,
    seen_records,
    text_fingerprint,
    url_key,
    validators_record,
)
from streams.ingest.extract import (
    MIN_DEDUP_CHARS,
    content_hash,
    decode_page,
    extract,
    is_placeholder,
    is_thin,
    slim_html,
    text_size,
)
from streams.ingest.feeds import FeedError, FeedItem, parse_feed, parse_listing
from streams.ingest.http import Fetcher, FetchResult
from streams.ingest.policy import TRANSIENT_STATUSES, Backoff, host_of
from streams.ingest.pollers import MoreSources, more_urls, poll_more
from streams.ingest.sources import Listing, Source
from streams.validation import check_outgoing

log = logging.getLogger(__name__)

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# Page failures that will not heal by retrying at the next poll (408 and 429 are "timeout" and
# "rate_limited": transient, like 5xx).
_PERMANENT = frozenset({"client_error", "robots_disallowed", "too_large", "not_allowed"})
_CHECKED_MAX = 100_000  # feed entries already compared with their page (in memory)


class StateStore(Protocol):
    state: DedupState

    async def put(self, records: Sequence[tuple[str, bytes | None]]) -> None: ...


class Sink(Protocol):
    async def publish(self, message: dict[str, Any]) -> str: ...


class Stopped(Exception):
    """SIGTERM/SIGINT arrived while a fetch was in flight: the fetch was abandoned."""


@dataclass
class PollReport:
    new: int = 0
    duplicates: int = 0
    errors: int = 0
    skipped: int = 0  # items with no text to publish
    retry: int = 0  # items whose page failed for now and that have no summary to fall back on
    revisions: int = 0  # articles published again as a later revision
    # What each fetch got: the HTTP status ("200", "304", "429") or, without an answer, the
    # outcome ("timeout", "network_error", "robots_disallowed", "rate_limited").
    statuses: Counter[str] = field(default_factory=Counter)

    def add(self, other: PollReport) -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.errors += other.errors
        self.skipped += other.skipped
        self.retry += other.retry
        self.revisions += other.revisions
        self.statuses.update(other.statuses)

    def summary(self) -> dict[str, Any]:
        """The counts as JSON-ready values (what `--once` prints and the poll log carries)."""
        return {
            "new": self.new,
            "revisions": self.revisions,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "skipped": self.skipped,
            "retry": self.retry,
            "statuses": dict(sorted(self.statuses.items())),
        }


def _lang(value: str | None, default: str) -> str:
    if not value:
        return default
    head, _, rest = value.strip().replace("_", "-").partition("-")
    head = head.lower()
    if not head.isalpha() or not 2 <= len(head) <= 3:
        return default
    return f"{head}-{rest}" if rest and rest.isalnum() else head


def _status_key(result: FetchResult) -> str:
    return str(result.status) if result.status is not None else result.outcome


def _failure_status(result: FetchResult, outcome: str) -> str:
    """The fixed label of a failure for rasid_ingest_source_failures_total."""
    if outcome == "unparseable":
        return outcome
    if result.status is not None and result.status >= 400:
        code = str(result.status)
        return code if code in metrics.INGEST_FAILURE_STATUSES else f"{result.status // 100}xx"
    if outcome == "rate_limited":
        return "host_resting"  # not asked: the host rests after an earlier Retry-After
    return outcome if outcome in metrics.INGEST_FAILURE_STATUSES else "network_error"


def _transient(result: FetchResult) -> bool:
    return result.outcome not in _PERMANENT or result.status in TRANSIENT_STATUSES


@dataclass
class _Page:
    """What an item's page (or its feed summary) gives to publish."""

    urls: list[str]
    text: str | None = None
    title: str | None = None
    lang: str = "ar"
    html: str | None = None  # sent as text/html only when `text` is what the worker reads
    failed: FetchResult | None = None
    final: str | None = None  # where the item's URL redirected


@dataclass
class Ingester:
    sources: list[Source]
    fetcher: Fetcher
    store: StateStore
    sink: Sink
    max_html_bytes: int = 800_000
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    more: MoreSources = field(default_factory=MoreSources)  # Telegram, sitemaps, discovery
    # Revisions (RASID_INGEST_MAX_REVISIONS, RASID_INGEST_REVISION_WINDOW_HOURS) and pages
    # failing for now (RASID_INGEST_PAGE_MAX_ATTEMPTS).
    max_revisions: int = 20
    revision_window: float = REVISION_WINDOW_SECONDS
    page_max_attempts: int = 8
    wall: Callable[[], float] = time.time  # unix time: what state records hold
    last_reports: dict[str, PollReport] = field(default_factory=dict)  # per source
    _stop: asyncio.Event | None = None
    _inflight: set[str] = field(default_factory=set)  # URL keys being processed right now
    _checked: set[tuple[str, str]] = field(default_factory=set)  # (URL key, entry fingerprint)
    _restored: bool = False

    # ------------------------------------------------------------------ fetch + count
    async def _fetch(
        self, source: Source, kind: str, url: str, *, validators: Validators | None = None
    ) -> FetchResult:
        accept = PAGE_ACCEPT if kind in {"page", "listing"} else FEED_ACCEPT
        result = await self._stoppable(self.fetcher.get(url, validators=validators, accept=accept))
        if (
            result.outcome not in {"robots_disallowed", "rate_limited", "not_allowed"}
            or result.status
        ):
            metrics.INGEST_FETCH_SECONDS.labels(source=source.name, kind=kind).observe(
                result.seconds
            )
        if result.rest is not None:  # a 429/503: the host rests, across a restart too
            until = self.wall() + result.rest
            await self.store.put([host_rest_record(host_of(result.final_url), until)])
        return result

    async def _stoppable(self, fetch: Coroutine[Any, Any, FetchResult]) -> FetchResult:
        """Await a fetch, abandoning it (Stopped) as soon as a stop is asked for: a poll stuck
        on a slow outlet must not hold up a SIGTERM."""
        if self._stop is None:
            return await fetch
        if self._stop.is_set():
            fetch.close()
            raise Stopped
        task: asyncio.Future[FetchResult] = asyncio.ensure_future(fetch)
        stopper: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            raise Stopped
        return task.result()

    def _count(
        self, source: Source, kind: str, result: FetchResult, report: PollReport, outcome: str = ""
    ) -> None:
        outcome = outcome or result.outcome
        metrics.INGEST_FETCHES.labels(source=source.name, kind=kind, outcome=outcome).inc()
        report.statuses[_status_key(result)] += 1
        if outcome not in {"ok", "not_modified"}:
            status = _failure_status(result, outcome)
            metrics.INGEST_SOURCE_FAILURES.labels(source=source.name, status=status).inc()

    async def _failed(self, url: str, retry_after: float | None = None) -> float:
        """A failed fetch of a feed, listing or page: back off (persisted, so a restart does
        not hammer a failing outlet or forget a Retry-After)."""
        wait = self.backoff.failure(url, self.clock(), retry_after)
        failures = self.backoff.failures(url)
        await self.store.put([backoff_record(url, failures, self.wall() + wait)])
        return wait

    async def _fetch_failed(self, source: Source, url: str, result: FetchResult) -> None:
        """Back off from a URL whose fetch failed, and say so."""
        wait = await self._failed(url, result.retry_after)
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

    async def _succeeded(self, url: str) -> None:
        if self.backoff.success(url) or url in self.store.state.backoffs:
            await self.store.put([backoff_record(url, None)])

    def restore(self) -> None:
        """Take back the backoffs and host rests of the state topic (once, at start)."""
        if self._restored:
            return
        self._restored = True
        now, wall = self.clock(), self.wall()
        for url, (failures, until) in self.store.state.backoffs.items():
            self.backoff.restore(url, failures, now + max(0.0, until - wall))
        rest_host = getattr(self.fetcher, "rest_host", None)
        for host, until in self.store.state.host_rest.items():
            if until > wall and rest_host is not None:
                rest_host(host, until - wall)

    # ------------------------------------------------------------------ one feed / listing
    async def poll_source(self, source: Source) -> PollReport:
        report = PollReport()
        for url in source.feeds:
            report.add(await self._poll(source, "feed", url, None))
        for listing in source.listings:
            report.add(await self._poll(source, "listing", listing.url, listing))
        report.add(await poll_more(self, source))  # Telegram, sitemaps, discovered feeds
        self._set_failing(source)
        return report

    def _set_failing(self, source: Source) -> None:
        """The gauge of consecutive failures: the worst of the source's own URLs (feeds,
        listings, Telegram channels, sitemaps, the home page, feeds found on it)."""
        urls = [*source.feeds, *(listing.url for listing in source.listings)]
        urls += more_urls(self, source)
        worst = max((self.backoff.failures(u) for u in urls), default=0)
        metrics.INGEST_SOURCE_FAILING.labels(source=source.name).set(worst)

    async def _poll(
        self, source: Source, kind: str, url: str, listing: Listing | None
    ) -> PollReport:
        report = PollReport()
        if not self.backoff.ready(url, self.clock()):
            return report
        validators = self.store.state.validators_for(url)
        result = await self._fetch(source, kind, url, validators=validators)
        if result.outcome == "not_modified":
            self._count(source, kind, result, report)
            await self._succeeded(url)
            metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
            return report
        if not result.ok:
            self._count(source, kind, result, report)
            await self._fetch_failed(source, url, result)
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
            self._count(source, kind, result, report, "unparseable")
            await self._failed(url)
            log.warning(
                "unparseable feed",
                extra={"source": source.name, "url": url, "detail": str(exc)[:300]},
            )
            report.errors += 1
            return report
        self._count(source, kind, result, report)
        await self._succeeded(url)
        # One item per canonical URL (the first, fullest entry wins); feeds list the newest
        # first, so publish in reverse: the order the outlet wrote them.
        unique: dict[str, FeedItem] = {}
        for item in items:
            unique.setdefault(url_key(item.url), item)
        for item in reversed(list(unique.values())):
            if self.store.state.seen_url(item.url) and not self._revision_due(item):
                continue
            report.add(await self.process_item(source, item))
        metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
        # Validators last: a crash half-way refetches the whole feed instead of losing items.
        # An item left to retry (its page failed for now) must not be hidden behind a 304.
        fresh = result.validators if not report.retry else Validators()
        if fresh != validators:
            await self.store.put([validators_record(url, fresh)])
        return report

    # ------------------------------------------------------------------ revisions
    @staticmethod
    def _entry_fp(item: FeedItem) -> str:
        updated = item.updated.isoformat() if item.updated else None
        return entry_fingerprint(item.title, item.summary, updated)

    def _revisable(self, entry: Published | None) -> Published | None:
        if entry is None or not entry.revisable(
            self.wall(), window=self.revision_window, max_revisions=self.max_revisions
        ):
            return None
        return entry

    def _revision_due(self, item: FeedItem) -> bool:
        """A published URL is looked at again only when its feed entry changed (title,
        summary or updated time) since it was last compared, and it may still be revised."""
        key = url_key(item.url)
        entry = self._revisable(self.store.state.published.get(key))
        if entry is None or entry.ff is None:
            return False  # never revisable, or written by version 1 (nothing to compare)
        ff = self._entry_fp(item)
        return ff != entry.ff and (key, ff) not in self._checked

    def _mark_checked(self, item: FeedItem) -> None:
        if len(self._checked) >= _CHECKED_MAX:
            self._checked.clear()
        self._checked.add((url_key(item.url), self._entry_fp(item)))

    # ------------------------------------------------------------------ one item
    @contextlib.contextmanager
    def _claim(self, keys: list[str]) -> Iterator[bool]:
        """Hold URL keys while an item is processed: the same URL listed by two sources (or
        two feeds) polled at the same time is fetched and published once."""
        if any(k in self._inflight for k in keys):
            yield False
            return
        self._inflight.update(keys)
        try:
            yield True
        finally:
            self._inflight.difference_update(keys)

    def _plausible_canonical(self, source: Source, item_url: str, canonical: str | None) -> bool:
        """A canonical link naming one of the source's feeds or listing pages, or failing the
        listing's link pattern that the item's URL matches, is a template error (extract.py
        already refuses the home page and the sections above the page)."""
        if canonical is None:
            return False
        canon = canonical_url(canonical)
        pages = [*source.feeds, *(listing.url for listing in source.listings)]
        if any(canonical_url(p) == canon for p in pages):
            return False
        for listing in source.listings:
            pattern = listing.link_pattern
            if pattern is not None and pattern.search(item_url) and not pattern.search(canonical):
                return False
        return True

    async def process_item(self, source: Source, item: FeedItem) -> PollReport:
        report = PollReport()
        with self._claim([url_key(item.url)]) as mine:
            if not mine:  # another source of this process has the same URL in hand
                return report
            await self._process(source, item, report)
        return report

    async def _read_page(self, source: Source, item: FeedItem, report: PollReport) -> _Page:
        page = _Page(urls=[item.url], title=item.title, lang=_lang(item.lang, source.language))
        if not source.fetch_pages:
            return page
        result = await self._fetch(source, "page", item.url)
        self._count(source, "page", result, report)
        if not result.ok:
            page.failed = result
            return page
        await self._succeeded(item.url)
        html, _ = decode_page(result.content, result.content_type)
        found = extract(html, url=result.final_url, default_lang=source.language)
        canonical = found.canonical
        if not self._plausible_canonical(source, item.url, canonical):
            canonical = None
        page.final = result.final_url
        page.urls += [u for u in (result.final_url, canonical) if u and u not in page.urls]
        page.text, page.lang = found.text, found.lang
        page.title = page.title or found.title
        # The worker re-reads the page itself: send it only when its reading is ours.
        page.html = html if found.method == "page" else None
        return page

    async def _process(self, source: Source, item: FeedItem, report: PollReport) -> None:
        state = self.store.state
        now = datetime.fromtimestamp(self.wall(), UTC).isoformat()
        revisiting = state.seen_url(item.url)
        if source.fetch_pages and not self.backoff.ready(item.url, self.clock()):
            report.retry += 1  # its page failed lately: not asked again before its backoff
            return
        page = await self._read_page(source, item, report)
        if page.failed is not None:
            await self._page_failed(source, item, page.failed, report, now, revisiting)
            return
        if revisiting:  # compared now: not again in this process until the entry changes
            self._mark_checked(item)
        text, html = page.text, page.html
        # The feed's summary when the page gave nothing, only a placeholder or less.
        summary = item.summary if not is_placeholder(item.summary) else None
        if summary and (text is None or (is_thin(text) and text_size(summary) > text_size(text))):
            text, html = summary, None
        if text is None or not text.strip():
            if not revisiting:
                log.info("no text", extra={"source": source.name, "url": item.url})
                report.skipped += 1
            return
        fp = text_fingerprint(page.title, text)
        ff = self._entry_fp(item)
        # A revision only of an article published under this very URL (or where it
        # redirects): a canonical link alone is too often a template's, not the article's.
        prior = self._revisable(state.published_for([item.url, page.final or item.url]))
        if prior is None and revisiting:
            return  # no longer revisable
        own = url_key(item.url)  # already held by process_item
        others = list(dict.fromkeys(k for k in map(url_key, page.urls[1:]) if k != own))
        with self._claim(others) as mine:
            if not mine or (
                prior is None and any(state.seen_url(u) for u in page.urls[1:])
            ):  # the same article under another URL (final, canonical) is published
                await self.store.put(
                    seen_records(urls=page.urls, source=source.name, reason="url", at=now)
                )
                metrics.INGEST_DUPLICATES.labels(source=source.name, reason="url").inc()
                report.duplicates += 1
                return
            if prior is not None and prior.fp == fp:  # re-listed, text unchanged
                if not revisiting:  # a new URL redirecting to it: the same article
                    metrics.INGEST_DUPLICATES.labels(source=source.name, reason="url").inc()
                    report.duplicates += 1
                if prior.ff != ff or not revisiting:  # compare again only if it changes again
                    await self._remember(source, prior, page.urls, fp, ff, now)
                return
            digest = content_hash(source.name, text) if text_size(text) >= MIN_DEDUP_CHARS else None
            if digest is not None and state.seen_content(digest):
                if prior is not None:  # its text is one already published: nothing new
                    await self._remember(source, prior, page.urls, prior.fp, ff, now)
                    if not revisiting:
                        metrics.INGEST_DUPLICATES.labels(source=source.name, reason="content").inc()
                        report.duplicates += 1
                    return
                await self.store.put(
                    seen_records(urls=page.urls, source=source.name, reason="content", at=now)
                )
                metrics.INGEST_DUPLICATES.labels(source=source.name, reason="content").inc()
                report.duplicates += 1
                return
            revision = prior.revision + 1 if prior is not None else 1
            message = self.raw_message(
                source,
                item,
                page.urls,
                html,
                text,
                page.title,
                page.lang,
                now,
                article_id=prior.id if prior is not None else None,
                revision=revision,
            )
            aid = await self.sink.publish(message)
            await self.store.put(
                published_records(
                    article_id=aid,
                    source=source.name,
                    urls=page.urls,
                    content_hash=digest,
                    at=now,
                    revision=revision,
                    first_at=_rfc3339(prior.first_at) if prior is not None else now,
                    fp=fp,
                    ff=ff,
                )
            )
        if prior is not None:
            metrics.INGEST_REVISIONS.labels(source=source.name).inc()
            report.revisions += 1
            log.info(
                "revision published",
                extra={"source": source.name, "article_id": aid, "revision": revision},
            )
        else:
            metrics.INGEST_ARTICLES.labels(source=source.name).inc()
            report.new += 1

    async def _remember(
        self, source: Source, prior: Published, urls: list[str], fp: str, ff: str, now: str
    ) -> None:
        """Update a published URL's record with the feed entry just compared (no publish)."""
        await self.store.put(
            published_records(
                article_id=prior.id,
                source=source.name,
                urls=urls,
                content_hash=None,
                at=now,
                revision=prior.revision,
                first_at=_rfc3339(prior.first_at),
                fp=fp,
                ff=ff,
            )
        )

    async def _page_failed(
        self,
        source: Source,
        item: FeedItem,
        result: FetchResult,
        report: PollReport,
        now: str,
        revisiting: bool,
    ) -> None:
        log.info(
            "page not fetched",
            extra={"source": source.name, "url": item.url, "outcome": result.outcome},
        )
        transient = _transient(result)
        if revisiting:  # a revision check: try again later only if it may heal
            if transient and self.backoff.failures(item.url) + 1 < self.page_max_attempts:
                await self._failed(item.url, result.retry_after)
                report.retry += 1
            else:
                self._mark_checked(item)
                await self._succeeded(item.url)
            return
        if item.summary is not None and not is_placeholder(item.summary):
            # The feed's summary stands in (published by the caller's path below).
            await self._publish_summary(source, item, report, now)
            return
        report.errors += 1
        if transient and self.backoff.failures(item.url) + 1 < self.page_max_attempts:
            # Timeout, 408/429/5xx, network: ask again at a later poll, backing off.
            await self._failed(item.url, result.retry_after)
            report.retry += 1
            return
        if transient:
            log.warning(
                "page given up",
                extra={"source": source.name, "url": item.url, "outcome": result.outcome},
            )
        await self._succeeded(item.url)
        await self.store.put(
            seen_records(urls=[item.url], source=source.name, reason=result.outcome, at=now)
        )

    async def _publish_summary(
        self, source: Source, item: FeedItem, report: PollReport, now: str
    ) -> None:
        """The page could not be had: publish the feed's own text for the item."""
        assert item.summary is not None
        lang = _lang(item.lang, source.language)
        digest = (
            content_hash(source.name, item.summary)
            if text_size(item.summary) >= MIN_DEDUP_CHARS
            else None
        )
        if digest is not None and self.store.state.seen_content(digest):
            await self.store.put(
                seen_records(urls=[item.url], source=source.name, reason="content", at=now)
            )
            metrics.INGEST_DUPLICATES.labels(source=source.name, reason="content").inc()
            report.duplicates += 1
            return
        message = self.raw_message(
            source, item, [item.url], None, item.summary, item.title, lang, now
        )
        aid = await self.sink.publish(message)
        await self.store.put(
            published_records(
                article_id=aid,
                source=source.name,
                urls=[item.url],
                content_hash=digest,
                at=now,
                fp=text_fingerprint(item.title, item.summary),
                ff=self._entry_fp(item),
            )
        )
        metrics.INGEST_ARTICLES.labels(source=source.name).inc()
        report.new += 1

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
        *,
        article_id: str | None = None,
        revision: int = 1,
    ) -> dict[str, Any]:
        """The raw-article message (schema v2: an `id` and a `revision`, 1 for the first
        publication). The page goes as HTML when it fits (the worker's parser reads datelines,
        sections and structured dates from it); else the extracted text."""
        body, content_type = text, "text/plain"
        if html is not None:
            slim = slim_html(html)
            if len(slim.encode("utf-8")) <= self.max_html_bytes:
                body, content_type = slim, "text/html"
        message: dict[str, Any] = {
            "schema_version": 2,
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
        # The id the worker would derive from the URL, fixed at the first publication so a
        # revision keeps it even if the article's canonical URL changed since.
        message["id"] = article_id or derive_article_id(message)
        message["revision"] = revision
        check_outgoing("raw-article", message)
        return message

    # ------------------------------------------------------------------ loops
    async def run_once(self, stop: asyncio.Event | None = None) -> PollReport:
        """Poll every source once, concurrently (per-host limits still apply); the report of
        each source is kept in `last_reports`."""
        self._stop = stop
        self.restore()
        total = PollReport()
        reports = await asyncio.gather(*(self._safe_poll(s) for s in self.sources))
        for source, report in zip(self.sources, reports, strict=True):
            self.last_reports[source.name] = report
            total.add(report)
        return total

    async def _safe_poll(self, source: Source) -> PollReport:
        self.store.state.prune()
        try:
            return await self.poll_source(source)
        except Stopped:  # the rest of this poll is left for the next run
            return PollReport(retry=1)
        except Exception:  # one outlet's failure (or a broker hiccup) must not stop the rest
            log.exception("poll failed", extra={"source": source.name})
            return PollReport(errors=1)

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self.restore()

        async def loop(source: Source) -> None:
            while not stop.is_set():
                started = self.clock()
                report = await self._safe_poll(source)
                self.last_reports[source.name] = report
                # A heartbeat per poll: a quiet source is visibly polled, a stuck one is not.
                log.info(
                    "polled",
                    extra={
                        "source": source.name,
                        "seconds": round(self.clock() - started, 2),
                        **report.summary(),
                    },
                )
                wait = max(1.0, source.interval_seconds - (self.clock() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

        await asyncio.gather(*(loop(s) for s in self.sources))

    async def run_until_stopped(self, stop: asyncio.Event, grace: float) -> bool:
        """`run` until `stop` is set, then give the polls at most `grace` seconds to finish
        what they are doing (fetches in flight are abandoned at once; a publish and its state
        write are not cut apart unless the broker itself hangs). False if it had to cancel."""
        task = asyncio.ensure_future(self.run(stop))
        stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            task.result()
            return True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
            return True
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.warning("ingest stopped by cancelling its polls", extra={"grace": grace})
            return False


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
