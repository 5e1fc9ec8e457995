"""What has been published: canonical URLs and content hashes, as records of a compacted
Kafka topic (rasid.ingest.state), plus each feed's conditional-GET validators.

Keys: `u:<hash of canonical URL>`, `h:<content hash>` (value: which article), and
`v:<feed URL>` (value: ETag / Last-Modified). The latest value per key wins, as in the
compacted topic, so replaying the topic from the start rebuilds the same state in any process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from streams import resources
from streams.ids import canonical_url

SCHEMA_PATH = resources.schema("ingest-state.v1.json")


@cache
def _validator() -> Draft202012Validator:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def record_errors(value: bytes) -> list[str]:
    """Problems of a state record's value against schemas/ingest-state.v1.json."""
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


@dataclass
class DedupState:
    urls: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    validators: dict[str, Validators] = field(default_factory=dict)

    def apply(self, key: str, value: bytes | None) -> None:
        """Fold one state record in (a None value is a tombstone: forget the key)."""
        kind, _, rest = key.partition(":")
        if kind == "u":
            (self.urls.add if value is not None else self.urls.discard)(key)
        elif kind == "h":
            (self.hashes.add if value is not None else self.hashes.discard)(key)
        elif kind == "v":
            if value is None:
                self.validators.pop(rest, None)
                return
            try:
                data = orjson.loads(value)
            except orjson.JSONDecodeError:
                return
            if isinstance(data, dict):
                self.validators[rest] = Validators(data.get("etag"), data.get("last_modified"))

    def seen_url(self, url: str) -> bool:
        return url_key(url) in self.urls

    def seen_content(self, content_hash: str) -> bool:
        return hash_key(content_hash) in self.hashes

    def validators_for(self, feed_url: str) -> Validators:
        return self.validators.get(feed_url, Validators())


def published_records(
    *, article_id: str, source: str, urls: list[str], content_hash: str | None, at: str
) -> list[tuple[str, bytes]]:
    """The state records that say an article was published: every URL it was seen under,
    and its content hash."""
    value: dict[str, Any] = {
        "schema_version": 1,
        "id": article_id,
        "source": source,
        "url": urls[0],
        "at": at,
    }
    body = orjson.dumps(value)
    keys = list(dict.fromkeys(url_key(u) for u in urls))
    if content_hash is not None:
        keys.append(hash_key(content_hash))
    return [(k, body) for k in keys]


def seen_records(*, urls: list[str], source: str, reason: str, at: str) -> list[tuple[str, bytes]]:
    """Records for URLs that turned out to be duplicates: remembered so they are not fetched
    again."""
    body = orjson.dumps({"schema_version": 1, "source": source, "duplicate": reason, "at": at})
    return [(k, body) for k in dict.fromkeys(url_key(u) for u in urls)]


def validators_record(feed_url: str, validators: Validators) -> tuple[str, bytes]:
    value = {
        "schema_version": 1,
        "etag": validators.etag,
        "last_modified": validators.last_modified,
    }
    return validators_key(feed_url), orjson.dumps(value)
