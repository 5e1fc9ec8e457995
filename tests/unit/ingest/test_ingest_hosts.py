"""Where the ingester may go: the sites the operator named and public addresses only
(streams/ingest/policy.py HostPolicy, streams/ingest/http.py PublicResolver)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from streams import metrics
from streams.cli.ingest import allowed
from streams.ingest.http import Fetcher, FetcherConfig
from streams.ingest.policy import HostPolicy, non_public, site_of
from streams.ingest.service import Ingester
from streams.ingest.sources import parse_sources
from streams.settings import Settings
from tests.ingest_fixture_server import FixtureServer
from tests.unit.ingest.localweb import MemorySink, MemoryStore

UA = "RasidBot/0.1 (test)"


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    with FixtureServer().running() as s:
        yield s


def fetcher(policy: HostPolicy) -> Fetcher:
    return Fetcher(
        FetcherConfig(
            user_agent=UA, timeout=2.0, connect_timeout=1.0, host_interval=0.0, policy=policy
        )
    )


@pytest.mark.parametrize(
    ("value", "site"),
    [
        ("https://www.Example.com:8443/a?b", "example.com"),
        ("https://news.example.com/", "news.example.com"),
        ("example.com.", "example.com"),
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("WWW.alsumaria.tv", "alsumaria.tv"),
    ],
)
def test_site_of(value: str, site: str) -> None:
    assert site_of(value) == site


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # CGNAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_non_public_addresses(address: str, refused: bool) -> None:
    assert non_public(address) is refused


POLICY = HostPolicy.of(["https://www.alsumaria.tv/feed", "baghdadtoday.news", "cdn.example.net"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://www.alsumaria.tv/news/1", None),
        ("https://alsumaria.tv/news/1", None),  # www. or not: one site
        ("https://m.alsumaria.tv/news/1", None),  # a subdomain
        ("http://baghdadtoday.news:8080/1", None),
        ("https://cdn.example.net/a.jpg", None),
        ("https://example.net/", "not an allowed site"),  # the parent of an allowed host
        ("https://alsumaria.tv.evil.com/", "not an allowed site"),
        ("https://evilalsumaria.tv/", "not an allowed site"),
        ("http://169.254.169.254/latest/meta-data/", "non-public address"),
        ("http://[::1]:80/", "non-public address"),
        ("http://10.0.0.5/", "non-public address"),
        ("file:///etc/passwd", "no host"),
    ],
)
def test_host_policy(url: str, reason: str | None) -> None:
    refusal = POLICY.refusal(url)
    assert (refusal is None) if reason is None else (reason in (refusal or ""))


def test_private_addresses_only_when_allowed() -> None:
    policy = HostPolicy.of(["10.0.0.5"], allow_private=True)
    assert policy.refusal("http://10.0.0.5/feed") is None
    assert "non-public" in (HostPolicy.of(["10.0.0.5"]).refusal("http://10.0.0.5/feed") or "")


def test_the_cli_allows_what_the_sources_file_and_settings_name() -> None:
    doc = yaml.safe_load(
        """
schema_version: 1
sources:
  - {name: a, feeds: ["https://a.example.com/rss"], hosts: [feeds.feedburner.com]}
  - {name: b, listings: [{url: "https://www.b.example.org/news"}]}
  - {name: c, telegram: [somechannel]}
  - {name: d, home: "https://d.example.info/", sitemaps: [robots]}
  - {name: disabled, enabled: false, feeds: ["https://disabled.example/rss"]}
"""
    )
    settings = Settings(ingest_allowed_hosts="images.cdn.example , other.example")
    policy = allowed(parse_sources(doc), settings)
    for url in (
        "https://a.example.com/article/1",
        "https://feeds.feedburner.com/x",
        "https://b.example.org/1",
        "https://t.me/s/somechannel",
        "https://d.example.info/sitemap.xml",
        "https://images.cdn.example/p.jpg",
        "https://other.example/",
    ):
        assert policy.refusal(url) is None, url
    for url in ("https://disabled.example/rss", "https://example.com/", "https://cdn.example/"):
        assert policy.refusal(url) is not None, url
    assert not policy.allow_private
    assert allowed([], Settings(ingest_allow_private_addresses=True)).allow_private


async def test_a_redirect_to_another_site_is_not_followed(server: FixtureServer) -> None:
    port = server.base.rsplit(":", 1)[1]
    elsewhere = f"http://localhost:{port}/news/1004.html"  # same server, another site name
    async with fetcher(HostPolicy.of(["127.0.0.1"], allow_private=True)) as f:
        moved = await f.get(f"{server.base}/go/out?to={elsewhere}")
        direct = await f.get(elsewhere)
    assert moved.outcome == "not_allowed" and "localhost" in moved.detail
    assert direct.outcome == "not_allowed"
    assert server.hits("/news/1004.html") == []


async def test_a_name_resolving_to_loopback_is_refused(server: FixtureServer) -> None:
    port = server.base.rsplit(":", 1)[1]
    asked = len(server.requests)
    async with fetcher(HostPolicy.of(["localhost"])) as f:
        by_name = await f.get(f"http://localhost:{port}/news/1004.html")
    async with fetcher(HostPolicy.of(["127.0.0.1"])) as f:
        literal = await f.get(f"{server.base}/news/1004.html")
    assert by_name.outcome == "not_allowed" and "non-public" in by_name.detail
    assert literal.outcome == "not_allowed" and "non-public" in literal.detail
    assert len(server.requests) == asked  # nothing reached the server, robots.txt neither
    # the same name with private addresses allowed is fetched: the refusal was the address
    async with fetcher(HostPolicy.of(["localhost"], allow_private=True)) as f:
        assert (await f.get(f"http://localhost:{port}/news/1004.html")).ok


def failures(source: str, status: str) -> float:
    value: Any = metrics.INGEST_SOURCE_FAILURES.labels(source=source, status=status)._value
    return float(value.get())


async def test_a_feed_on_a_site_not_allowed_is_counted_not_fetched(server: FixtureServer) -> None:
    port = server.base.rsplit(":", 1)[1]
    doc = yaml.safe_load(
        f'schema_version: 1\nsources: [{{name: offsite, feeds: ["http://localhost:{port}/feeds/rss2.xml"]}}]'
    )
    before = failures("offsite", "not_allowed")
    store, sink = MemoryStore(), MemorySink()
    async with fetcher(HostPolicy.of(["127.0.0.1"], allow_private=True)) as f:
        report = await Ingester(parse_sources(doc), f, store, sink).run_once()
    assert report.errors == 1 and sink.messages == []
    assert report.statuses["not_allowed"] == 1
    assert failures("offsite", "not_allowed") == before + 1
