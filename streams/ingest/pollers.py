"""Polling of the source kinds beyond feeds and listing pages, for the Ingester (service.py):
public Telegram channels (their web preview), sitemaps and news sitemaps, and feeds discovered
on a home page. The parsing is in telegram.py, sitemaps.py and discovery.py (pure); this is
the wiring, through the ingester's own fetch, count, backoff and state helpers.

Sitemap entries and discovered feeds take the ingester's paths (process_item, _poll), so they
are fetched, deduplicated, revised and published exactly like feed items. A Telegram post is
published as it is (the post is the article) under a stable id, once; when Telegram marks it
edited and its text changed, as the next revision (the dedup state's per-URL revision record).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from streams import metrics
from streams.ingest import telegram
from streams.ingest.dedup import (
    DedupState,
    Published,
    Validators,
    published_records,
    seen_records,
    text_fingerprint,
    url_key,
    validators_record,
)
from streams.ingest.discovery import discover_feeds
from streams.ingest.extract import content_hash, decode_page
from streams.ingest.http import FetchResult
from streams.ingest.sitemaps import (
    MAX_DEPTH,
    SitemapError,
    parse_sitemap,
    recent_children,
    recent_entries,
)
from streams.ingest.sources import Source
from streams.validation import check_outgoing

if TYPE_CHECKING:
    from streams.ingest.service import Ingester, PollReport

log = logging.getLogger(__name__)

MAX_SITEMAPS = 20  # per source, per poll (listed plus robots.txt's)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MoreSources:
    """Settings and in-memory caches of the extra kinds (one per Ingester)."""

    telegram_base: str = telegram.PREVIEW_BASE  # RASID_INGEST_TELEGRAM_BASE
    max_age: timedelta = timedelta(hours=48)  # RASID_INGEST_MAX_AGE_HOURS
    telegram_pages: int = 3  # preview pages read per poll when every post on one is new
    children_per_index: int = 5  # child sitemaps read per index and poll
    entries_per_sitemap: int = 200
    refresh_seconds: float = 6 * 3600.0  # how long discovered feed lists are trusted
    # The clock post and sitemap-entry ages are judged by (tests pin it; state records keep
    # the ingester's own `wall` clock).
    now: Callable[[], datetime] = _now
    _discovered: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)


def _report() -> PollReport:
    from streams.ingest.service import PollReport  # service imports this module

    return PollReport()


def _at(ing: Ingester) -> str:
    return datetime.fromtimestamp(ing.wall(), UTC).isoformat()


async def _get(
    ing: Ingester,
    source: Source,
    kind: str,
    url: str,
    report: PollReport,
    validators: Validators | None = None,
) -> FetchResult:
    """Fetch through the ingester (stop handling, host rests, fetch-time metric) and count."""
    result = await ing._fetch(source, kind, url, validators=validators)
    ing._count(source, kind, result, report)
    return result


async def poll_more(ing: Ingester, source: Source) -> PollReport:
    """One poll of a source's Telegram channels, sitemaps and discovered feeds."""
    report = _report()
    for channel in source.telegram:
        report.add(await poll_telegram(ing, source, channel))
    if source.sitemaps or source.sitemaps_from_robots:
        report.add(await poll_sitemaps(ing, source))
    if source.discover and source.home:
        known = {url_key(u) for u in source.feeds}
        for url in await discovered_feeds(ing, source, report):
            if url_key(url) not in known:
                report.add(await ing._poll(source, "feed", url, None))
    return report


def more_urls(ing: Ingester, source: Source) -> list[str]:
    """The URLs of the extra kinds whose failures back off (for the failing-source gauge):
    each channel's preview page, the sitemaps named in the file, the home page, and the feeds
    last found on it."""
    urls = [telegram.channel_url(ing.more.telegram_base, ch) for ch in source.telegram]
    urls += source.sitemaps
    if source.home and (source.discover or source.sitemaps_from_robots):
        urls.append(source.home)
    cached = ing.more._discovered.get(source.name)
    return urls + list(cached[1] if cached else ())


# ---------------------------------------------------------------------- Telegram
def telegram_revision(
    state: DedupState,
    post: telegram.TelegramPost,
    *,
    fp: str,
    digest: str,
    now: float,
    window: float,
    max_revisions: int,
) -> tuple[int, Published | None] | None:
    """Which revision publishing this post's text would be, and the record of the previous
    one: 1 for a post never published; the next number for a post Telegram marks edited whose
    text (`fp`, `digest`) is new, while the dedup state may still revise it (within `window`
    of its first publication, fewer than `max_revisions`); None: nothing to publish."""
    if not state.seen_url(post.url):
        return 1, None
    prior = state.published_for([post.url])
    if prior is None or not prior.revisable(now, window=window, max_revisions=max_revisions):
        return None  # published long ago (or by an older version): not revised
    if prior.fp == fp or not post.edited or state.seen_content(digest):
        return None  # unchanged, changed only in how we read it, or back to a known text
    return prior.revision + 1, prior


async def poll_telegram(ing: Ingester, source: Source, channel: str) -> PollReport:
    """Read the channel's preview page (and older pages while every post on one is new and
    recent, so a burst between two polls is not lost), then publish what is new or edited,
    oldest first."""
    more = ing.more
    report = _report()
    first = telegram.channel_url(more.telegram_base, channel)
    if not ing.backoff.ready(first, ing.clock()):
        return report
    oldest_wanted = more.now() - more.max_age
    posts: dict[int, telegram.TelegramPost] = {}
    before: int | None = None
    for page_no in range(more.telegram_pages):
        url = telegram.channel_url(more.telegram_base, channel, before)
        result = await _get(ing, source, "telegram", url, report)
        if not result.ok and page_no == 0:
            await ing._fetch_failed(source, first, result)
            report.errors += 1
            return report
        if not result.ok:  # an older page: publish what the newer ones gave
            log.info("older posts not read", extra={"source": source.name, "url": url})
            break
        html, _ = decode_page(result.content, result.content_type)
        page = telegram.parse_channel_page(html)
        mine = [p for p in page.posts if p.channel.lower() == channel.lower()]
        for post in mine:
            posts.setdefault(post.number, post)
        if (
            not mine
            or page.before is None
            or page.before > min(p.number for p in mine)  # must move back, never loop
            or any(ing.store.state.seen_url(p.url) for p in mine)
            or any(p.published_at is None or p.published_at < oldest_wanted for p in mine)
        ):
            break
        before = page.before
    await ing._succeeded(first)
    for number in sorted(posts):
        report.add(await publish_post(ing, source, posts[number]))
    metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
    return report


async def publish_post(ing: Ingester, source: Source, post: telegram.TelegramPost) -> PollReport:
    report = _report()
    state = ing.store.state
    if not post.has_words:  # a photo or an emoji alone: nothing to monitor
        report.skipped += 1
        return report
    at = _at(ing)
    digest = content_hash(source.name, post.text)
    fp = text_fingerprint(post.title, post.text)
    if not state.seen_url(post.url):
        if post.published_at is not None and post.published_at < ing.more.now() - ing.more.max_age:
            report.skipped += 1  # too old to be news; not remembered, it stays too old
            return report
        if state.seen_content(digest):  # the channel posted the same text again
            await ing.store.put(
                seen_records(urls=[post.url], source=source.name, reason="content", at=at)
            )
            metrics.INGEST_DUPLICATES.labels(source=source.name, reason="content").inc()
            report.duplicates += 1
            return report
    decided = telegram_revision(
        state,
        post,
        fp=fp,
        digest=digest,
        now=ing.wall(),
        window=ing.revision_window,
        max_revisions=ing.max_revisions,
    )
    if decided is None:
        return report
    revision, prior = decided
    message = telegram.raw_message(
        post, source=source.name, lang=source.language, fetched_at=at, revision=revision
    )
    check_outgoing("raw-article", message)
    aid = await ing.sink.publish(message)
    first_at = datetime.fromtimestamp(prior.first_at, UTC).isoformat() if prior else at
    await ing.store.put(
        published_records(
            article_id=aid,
            source=source.name,
            urls=[post.url],
            content_hash=digest,
            at=at,
            revision=revision,
            first_at=first_at,
            fp=fp,
        )
    )
    if prior is not None:
        metrics.INGEST_REVISIONS.labels(source=source.name).inc()
        report.revisions += 1
    else:
        metrics.INGEST_ARTICLES.labels(source=source.name).inc()
        report.new += 1
    return report


# ---------------------------------------------------------------------- sitemaps
async def sitemap_urls(ing: Ingester, source: Source) -> list[str]:
    """The source's sitemaps: those listed, and with `sitemaps: robots` those the home page's
    robots.txt names (through the fetcher's cached robots rules), else <home>/sitemap.xml."""
    urls = list(source.sitemaps)
    if source.sitemaps_from_robots and source.home:
        rules = await ing.fetcher.robots(source.home)
        if not rules.unreachable:  # unreachable: ask again at the next poll
            named = rules.sitemaps
            home = source.home.split("://", 1)
            root = f"{home[0]}://{home[1].split('/', 1)[0]}"
            urls += named or [f"{root}/sitemap.xml"]
    return list(dict.fromkeys(urls))[:MAX_SITEMAPS]


async def poll_sitemaps(ing: Ingester, source: Source) -> PollReport:
    report = _report()
    for url in await sitemap_urls(ing, source):
        report.add(await _poll_sitemap(ing, source, url, depth=0))
    return report


async def _poll_sitemap(ing: Ingester, source: Source, url: str, depth: int) -> PollReport:
    more = ing.more
    report = _report()
    if not ing.backoff.ready(url, ing.clock()):
        return report
    validators = ing.store.state.validators_for(url)
    result = await ing._fetch(source, "sitemap", url, validators=validators)
    if result.outcome == "not_modified":
        ing._count(source, "sitemap", result, report)
        await ing._succeeded(url)
        metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
        return report
    if not result.ok:
        ing._count(source, "sitemap", result, report)
        await ing._fetch_failed(source, url, result)
        report.errors += 1
        return report
    try:
        sitemap = parse_sitemap(
            result.content,
            url=result.final_url,
            site=source.home or url,
            tz=source.tz,
            max_bytes=ing.fetcher.config.max_bytes,
        )
    except SitemapError as exc:
        ing._count(source, "sitemap", result, report, "unparseable")
        await ing._failed(url)
        log.warning(
            "unparseable sitemap",
            extra={"source": source.name, "url": url, "detail": str(exc)[:300]},
        )
        report.errors += 1
        return report
    ing._count(source, "sitemap", result, report)
    await ing._succeeded(url)
    now = more.now()
    if sitemap.kind == "index":
        # No validators kept for an index: a 304 on it must not hide its children's news.
        if depth < MAX_DEPTH:
            children = recent_children(
                sitemap.children, now=now, max_age=more.max_age, limit=more.children_per_index
            )
            for child in children:
                report.add(await _poll_sitemap(ing, source, child, depth + 1))
        return report
    entries = recent_entries(
        sitemap.entries, now=now, max_age=more.max_age, limit=more.entries_per_sitemap
    )
    for entry in entries:
        item = entry.to_item()
        # As feed items: a known URL is looked at again only when its entry changed.
        if ing.store.state.seen_url(item.url) and not ing._revision_due(item):
            continue
        report.add(await ing.process_item(source, item))
    metrics.INGEST_LAST_SUCCESS.labels(source=source.name).set(time.time())
    # As for feeds: validators last, and none while an entry waits for a retry.
    fresh = result.validators if not report.retry else Validators()
    if fresh != validators:
        await ing.store.put([validators_record(url, fresh)])
    return report


# ---------------------------------------------------------------------- feed discovery
async def discovered_feeds(ing: Ingester, source: Source, report: PollReport) -> list[str]:
    """The feeds the source's home page advertises, read again every `refresh_seconds`; the
    last good list stands while the home page fails."""
    more = ing.more
    assert source.home is not None
    cached = more._discovered.get(source.name)
    now = ing.clock()
    if cached is not None and now - cached[0] < more.refresh_seconds:
        return list(cached[1])
    if not ing.backoff.ready(source.home, now):
        return list(cached[1]) if cached else []
    result = await _get(ing, source, "home", source.home, report)
    if not result.ok:
        await ing._fetch_failed(source, source.home, result)
        return list(cached[1]) if cached else []
    await ing._succeeded(source.home)
    html, _ = decode_page(result.content, result.content_type)
    feeds = discover_feeds(
        html, page_url=result.final_url, site=source.home, extra_hosts=source.discover_hosts
    )
    more._discovered[source.name] = (now, tuple(feeds))
    if not feeds:
        log.warning("no feed on the home page", extra={"source": source.name, "url": source.home})
    return feeds
