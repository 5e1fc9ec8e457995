"""Feed discovery: a home page's `<link rel="alternate" type="application/rss+xml" href=…>`
(and Atom / RSS 1.0) → absolute feed URLs on the outlet's own site, or on hosts the operator
listed. Pure: no I/O."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
MAX_FEEDS = 10
MAX_URL = 2048


def site_of(url: str) -> str:
    """The host a URL belongs to, lower-case, without a leading `www.`."""
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def same_site(url: str, other: str, extra_hosts: Iterable[str] = ()) -> bool:
    """`url` is on `other`'s site (www. or not), or on one of `extra_hosts`."""
    host = site_of(url)
    return bool(host) and (
        host == site_of(other) or host in {h.lower().removeprefix("www.") for h in extra_hosts}
    )


def discover_feeds(
    html: str,
    *,
    page_url: str,
    site: str | None = None,
    extra_hosts: Iterable[str] = (),
    limit: int = MAX_FEEDS,
) -> list[str]:
    """Feed URLs a page advertises, absolute, in page order, without repeats; feeds not on
    `site`'s site (default: the page's) are dropped unless their host is in `extra_hosts`.
    Bad markup → []."""
    lxml_html = importlib.import_module("lxml.html")  # untyped library: keep it Any
    try:
        tree = lxml_html.document_fromstring(html)
    except Exception:  # lxml raises several types on empty or hostile input
        return []
    hosts = tuple(extra_hosts)
    base = page_url
    for href in tree.xpath("//base/@href"):  # <base href> changes what relative links mean
        base = urljoin(page_url, str(href).strip())
        break
    found: list[str] = []
    for link in tree.xpath("//link[@href][@rel][@type]"):
        rels = {r.lower() for r in str(link.get("rel")).split()}
        kind = str(link.get("type")).split(";", 1)[0].strip().lower()
        if "alternate" not in rels or kind not in FEED_TYPES:
            continue
        url = urljoin(base, str(link.get("href")).strip()).split("#", 1)[0]
        if len(url) > MAX_URL or urlsplit(url).scheme not in {"http", "https"}:
            continue
        if not same_site(url, site or page_url, hosts) or url in found:
            continue
        found.append(url)
        if len(found) >= limit:
            break
    return found
