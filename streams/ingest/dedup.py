"""What has been published: canonical URLs and content hashes, as records of a compacted
Kafka topic (rasid.ingest.state), plus each feed's conditional-GET validators, the retry
backoff of failing URLs and the hosts resting after a Retry-After.

Keys: `u:<hash of canonical URL>`, `h:<content hash>` (value: which article), `v:<feed URL>`
(value: ETag / Last-Modified), `b:<URL>` (failures, retry time) and `r:<scheme://host>` (rest
until). The latest value per key wins, as in the compacted topic, so replaying the topic from
the start rebuilds the same state in any process.

Revisions: a published URL's record also holds the article id, its latest revision, when
revision 1 was published, a hash of its title and text (`fp`) and of the feed entry that led
to it (`ff`); a changed feed entry makes the ingester look at the page again, and a changed
text is published as the next revision of the same id. Records written by version 1 have
none of these and are never revised.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from streams import resources
from streams.ids import canonical_url

STATE_VERSION = 2
SCHEMA_PATH = resources.schema("ingest-state.v2.json")
# Revisions are only looked for this long after an article's first publication (the default
# of RASID_INGEST_REVISION_WINDOW_HOURS); older records keep only their URL key in memory.
REVISION_WINDOW_SECONDS = 48 * 3600.0


@cache
def _validator() -> Draft202012Validator:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def record_errors(value: bytes) -> list[str]:
    """Problems of a state record's value against schemas/ingest-state.v2.json (what this
    version writes; version 1 records are read, never written)."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [f"invalid JSON: {exc}"]
    return [e.message for e in _validator().iter_errors(data)]


def url_key(url: str) -> str:
    """The dedup key of a URL: its canonical form, with http and https folded together."""
    canon = canonical_url(url)
    if canon.startswith("http://"):
        canon = "https://" + canon[len("http://") :]
    return "u:" + hashlib.sha256(canon.encode()).hexdigest()[:32]


def hash_key(content_hash: str) -> str:
    return "h:" + content_hash


def validators_key(feed_url: str) -> str:
    return "v:" + feed_url


def backoff_key(url: str) -> str:
    return "b:" + url


def host_key(host: str) -> str:
    return "r:" + host


# "منذ 5 دقائق", "قبل ساعتين", "3 hours ago": an age that changes by itself on a page's byline,
# not a change of the article.
_RELATIVE_AGE = re.compile(
    r"(?:منذ|قبل)\s+(?:\d+\s*)?(?:ثانية|ثوان[يٍ]?|دقيقة|دقيقتين|دقائق|ساعة|ساعتين|ساعات|يوم|يومين|أيام)"
    r"|\b\d+\s+(?:seconds?|minutes?|mins?|hours?|days?)\s+ago\b",
    re.IGNORECASE,
)


def text_fingerprint(title: str | None, text: str) -> str:
    """Hash of what an article says: title and extracted text with whitespace collapsed and
    relative ages («منذ 5 دقائق») dropped, so re-wrapped lines and a ticking byline are no
    change (chrome around the article never reaches the extracted text)."""
    parts = (
        " ".join(_RELATIVE_AGE.sub(" ", title or "").split()),
        " ".join(_RELATIVE_AGE.sub(" ", text).split()),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def entry_fingerprint(*parts: str | None) -> str:
    """Hash of a feed entry as listed (title, summary, updated time): when it changes, the
    page is fetched again to look for a revision."""
    joined = "\x1f".join(" ".join((p or "").split()) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class Published:
    """What a URL's record says about the article published under it (version 2 records)."""

    id: str
    source: str
    url: str
    revision: int
    first_at: float  # unix time of revision 1
    fp: str  # text_fingerprint of the latest revision
    ff: str | None  # entry_fingerprint of the feed entry last seen for it

    def revisable(self, now: float, *, window: float, max_revisions: int) -> bool:
        return self.revision < max_revisions and now - self.first_at <= window


@dataclass
class DedupState:
    urls: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    validators: dict[str, Validators] = field(default_factory=dict)
    # URL key → the article published under it, only while it may still get a revision.
    published: dict[str, Published] = field(default_factory=dict)
    backoffs: dict[str, tuple[int, float]] = field(default_factory=dict)  # URL → (n, until)
    host_rest: dict[str, float] = field(default_factory=dict)  # scheme://host → until
    revision_window: float = REVISION_WINDOW_SECONDS
    clock: Callable[[], float] = time.time

    def apply(self, key: str, value: bytes | None) -> None:
        """Fold one state record in (a None value is a tombstone: forget the key)."""
        kind, _, rest = key.partition(":")
        if kind == "u":
            if value is None:
                self.urls.discard(key)
                self.published.pop(key, None)
                return
            self.urls.add(key)
            entry = self._published(_load(value))
            if entry is not None and self.clock() - entry.first_at <= self.revision_window:
                self.published[key] = entry
            else:
                self.published.pop(key, None)
        elif kind == "h":
            (self.hashes.add if value is not None else self.hashes.discard)(key)
        elif kind == "v":
            data = _load(value)
            if data is None:
                self.validators.pop(rest, None)
            else:
                self.validators[rest] = Validators(data.get("etag"), data.get("last_modified"))
        elif kind == "b":
            data = _load(value)
            until = _epoch(data.get("until")) if data else None
            failures = data.get("failures") if data else None
            if isinstance(failures, int) and failures > 0 and until is not None:
                self.backoffs[rest] = (failures, until)
            else:
                self.backoffs.pop(rest, None)
        elif kind == "r":
            data = _load(value)
            until = _epoch(data.get("rest_until")) if data else None
            if until is None:
                self.host_rest.pop(rest, None)
            else:
                self.host_rest[rest] = until

    @staticmethod
    def _published(data: dict[str, Any] | None) -> Published | None:
        if data is None or not isinstance(data.get("fp"), str) or not data.get("id"):
            return None  # a duplicate marker, or a version 1 record: nothing to revise
        first_at = _epoch(data.get("first_at")) or _epoch(data.get("at"))
        revision = data.get("revision", 1)
        if first_at is None or not isinstance(revision, int):
            return None
        ff = data.get("ff")
        return Published(
            id=str(data["id"]),
            source=str(data.get("source", "")),
            url=str(data.get("url", "")),
            revision=revision,
            first_at=first_at,
            fp=data["fp"],
            ff=ff if isinstance(ff, str) else None,
        )

    def seen_url(self, url: str) -> bool:
        return url_key(url) in self.urls

    def seen_content(self, content_hash: str) -> bool:
        return hash_key(content_hash) in self.hashes

    def validators_for(self, feed_url: str) -> Validators:
        return self.validators.get(feed_url, Validators())

    def published_for(self, urls: Iterable[str]) -> Published | None:
        """The revisable article published under any of these URLs (the latest revision)."""
        found = [self.published.get(url_key(u)) for u in urls]
        entries = [e for e in found if e is not None]
        return max(entries, key=lambda e: e.revision) if entries else None

    def prune(self) -> int:
        """Forget revision data past the window (the URL keys stay); returns how many."""
        horizon = self.clock() - self.revision_window
        old = [k for k, e in self.published.items() if e.first_at < horizon]
        for key in old:
            del self.published[key]
        return len(old)


def _load(value: bytes | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def published_records(
    *,
    article_id: str,
    source: str,
    urls: list[str],
    content_hash: str | None,
    at: str,
    revision: int = 1,
    first_at: str | None = None,
    fp: str | None = None,
    ff: str | None = None,
) -> list[tuple[str, bytes]]:
    """The state records that say an article (revision) was published: every URL it was seen
    under, and its content hash (None: too short to dedup by content)."""
    value: dict[str, Any] = {
        "schema_version": STATE_VERSION,
        "id": article_id,
        "source": source,
        "url": urls[0],
        "at": at,
        "revision": revision,
        "first_at": first_at or at,
    }
    if fp is not None:
        value["fp"] = fp
    if ff is not None:
        value["ff"] = ff
    body = orjson.dumps(value)
    keys = list(dict.fromkeys(url_key(u) for u in urls))
    records: list[tuple[str, bytes]] = [(k, body) for k in keys]
    if content_hash is not None:
        records.append((hash_key(content_hash), body))
    return records


def seen_records(*, urls: list[str], source: str, reason: str, at: str) -> list[tuple[str, bytes]]:
    """Records for URLs that turned out to be duplicates: remembered so they are not fetched
    again."""
    body = orjson.dumps(
        {"schema_version": STATE_VERSION, "source": source, "duplicate": reason, "at": at}
    )
    return [(k, body) for k in dict.fromkeys(url_key(u) for u in urls)]


def validators_record(feed_url: str, validators: Validators) -> tuple[str, bytes]:
    value = {
        "schema_version": STATE_VERSION,
        "etag": validators.etag,
        "last_modified": validators.last_modified,
    }
    return validators_key(feed_url), orjson.dumps(value)


def backoff_record(url: str, failures: int | None, until: float = 0.0) -> tuple[str, bytes | None]:
    """A URL's retry backoff (`until`: unix time); failures None clears it (a tombstone)."""
    if not failures:
        return backoff_key(url), None
    value = {"schema_version": STATE_VERSION, "failures": failures, "until": rfc3339(until)}
    return backoff_key(url), orjson.dumps(value)


def host_rest_record(host: str, until: float) -> tuple[str, bytes]:
    value = {"schema_version": STATE_VERSION, "rest_until": rfc3339(until)}
    return host_key(host), orjson.dumps(value)
