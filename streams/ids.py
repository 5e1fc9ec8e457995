"""Deterministic ids: the same article or alert always gets the same id, so replays and
re-publishing are harmless."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streams.text.arabic import normalize

# Query parameters that only track the reader; they never change which article a URL names.
# xtor, at_medium, at_campaign: AT Internet (Xiti), the analytics of many French and Arabic
# outlets (France 24, RFI, Monte Carlo Doualiya) tags its feed links with.
_TRACKING_PREFIXES = (
    "utm_", "fbclid", "gclid", "mc_", "yclid", "_ga", "ref", "cmp", "xtor", "at_medium",
    "at_campaign",
)  # fmt: skip


# AMP (Accelerated Mobile Pages) copies of an article: query flags, path markers, caches.
_AMP_QUERY = frozenset({"amp", "outputtype", "amp_js_v", "usqp", "amp_gsa"})
# https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a → https://www.example.com/a
_AMP_CACHE = re.compile(r"^/(?:[cvi]/)*(s/)?(.+)$")


def _un_amp_path(path: str) -> str:
    """/amp/news/1, /news/1/amp, /news/1.amp, /news/1.amp.html → /news/1 (or /news/1.html)."""
    path = re.sub(r"/amp(?=/|$)", "", path, flags=re.IGNORECASE)
    path = re.sub(r"\.amp(?=\.html?$|$)", "", path, flags=re.IGNORECASE)
    return path or "/"


def _from_amp_cache(url: str) -> str:
    """The publisher's URL behind a Google AMP cache / viewer URL, else the URL unchanged."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path
    if host.split(".", 1)[0] == "www" and ".google." in host and path.startswith("/amp/"):
        path = path[len("/amp") :]
    elif not host.endswith("cdn.ampproject.org"):
        return url
    m = _AMP_CACHE.match(path)
    if not m or "." not in m.group(2).split("/", 1)[0]:
        return url
    scheme = "https" if m.group(1) else "http"
    return f"{scheme}://{m.group(2)}" + (f"?{parts.query}" if parts.query else "")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no tracking parameters, sorted query, no
    trailing slash, no AMP variant (amp. host, /amp path marker, amp query flag, AMP cache):
    two spellings of one article's URL give one string."""
    parts = urlsplit(_from_amp_cache(url.strip()))
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _AMP_QUERY
    )
    host = (parts.hostname or "").lower().removeprefix("amp.")
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    path = _un_amp_path(parts.path).rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def _digest(*parts: str, length: int = 32) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def article_id(raw: Mapping[str, Any]) -> str:
    """The producer's id, else one derived from the canonical URL, else from the content."""
    given = raw.get("id")
    if isinstance(given, str) and given:
        return given
    url = raw.get("url")
    if isinstance(url, str) and url:
        return "url-" + _digest(canonical_url(url), length=24)
    # Normalised so that a re-encoded copy (diacritics, presentation forms) is the same article.
    body = " ".join(normalize(str(raw.get("body", ""))).split())
    return "sha-" + _digest(str(raw.get("source", "")), body, length=24)


def alert_id(rule_id: str, rule_version: int, article: str) -> str:
    """One alert per (rule, rule version, article)."""
    return _digest(rule_id, str(rule_version), article)
