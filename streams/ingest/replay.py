"""`rasid replay`: an archive of articles (JSON lines, gzip read directly) into the raw topic
at a given rate, with a progress bar, resumable from a checkpoint file.

Lines are either raw-article objects (they have `body`) or ANT-corpus records (id, source,
category, url, time, title, abstract, text), which are mapped to raw articles.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import IO, Any

import orjson

from streams.ingest.dedup import published_records, rfc3339
from streams.ingest.feeds import parse_time
from streams.validation import schema_errors


def gunzipped(raw: IO[bytes]) -> IO[bytes]:
    """A binary stream's bytes, gunzipped on the fly when they are gzip (by magic number, not
    name; a stream that cannot be peeked at is taken as it is)."""
    peek = getattr(raw, "peek", None)
    if peek is not None and peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def open_lines(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped on the fly when it is gzip."""
    return gunzipped(path.open("rb"))


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for every line, blank ones included (numbers stay stable)."""
    with open_lines(path) as stream:
        yield from enumerate(stream, 1)


def count_lines(path: Path) -> int:
    n = 0
    with open_lines(path) as stream:
        while chunk := stream.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def to_raw(record: dict[str, Any], *, tz: tzinfo) -> dict[str, Any] | None:
    """An archive record → a raw-article message, or None when it has no text."""
    if "body" in record:  # already a raw article
        return {"schema_version": 1, **record}
    body = record.get("text") or record.get("abstract")
    source = record.get("source")
    if not isinstance(body, str) or not body.strip() or not isinstance(source, str):
        return None
    message: dict[str, Any] = {
        "schema_version": 2,
        "source": source,
        "body": body,
        "content_type": "text/plain",
        "lang": "ar",
    }
    for field in ("id", "url", "title"):
        value = record.get(field)
        if isinstance(value, str) and value.strip():
            message[field] = value.strip()
    if "id" in message:
        message["revision"] = 1  # an archive holds each article once
    published = parse_time(record.get("time") if isinstance(record.get("time"), str) else None, tz)
    if published is not None:
        message["published_at"] = published.isoformat()
        # An archived page was "fetched" when it was published: relative dates in its text
        # («اليوم») then resolve against that day, not the day of the replay.
        message["fetched_at"] = published.isoformat()
    return message


def state_records(message: dict[str, Any], aid: str, *, now: float) -> list[tuple[str, bytes]]:
    """The ingest dedup records of a replayed article with a URL (its URL key, pointing at its
    id), so that `rasid ingest` does not publish it again. No text fingerprint: a replayed
    article is never revised by the ingester."""
    url = message.get("url")
    source = message.get("source")
    if not isinstance(url, str) or not url or not isinstance(source, str):
        return []
    revision = message.get("revision", 1)
    return published_records(
        article_id=aid,
        source=source,
        urls=[url],
        content_hash=None,
        at=rfc3339(now),
        revision=revision if isinstance(revision, int) and revision >= 1 else 1,
    )


@dataclass
class Checkpoint:
    """The last line number whose message the broker acknowledged (all earlier ones too)."""

    path: Path
    file: str
    line: int = 0
    published: int = 0
    done: bool = False

    @classmethod
    def default_path(cls, directory: Path, archive: Path, topic: str, sources: list[str]) -> Path:
        ident = "\x1f".join([str(archive.resolve()), topic, *sorted(sources)])
        digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
        return directory / f"{archive.name}.{digest}.json"

    @classmethod
    def load(cls, path: Path, archive: Path) -> Checkpoint:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return cls(path, str(archive.resolve()))
        return cls(
            path,
            str(archive.resolve()),
            line=int(data.get("line", 0)),
            published=int(data.get("published", 0)),
            done=bool(data.get("done", False)),
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {
            "file": self.file,
            "line": self.line,
            "published": self.published,
            "done": self.done,
            "saved_at": time.time(),
        }
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, self.path)  # atomic: a crash never leaves half a checkpoint


class Progress:
    """A one-line progress bar on stderr (a line every few seconds when not a terminal)."""

    def __init__(self, total: int | None, start: int = 0, stream: IO[str] = sys.stderr) -> None:
        self.total = total
        self.done = start
        self.first = start
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, n: int, force: bool = False) -> None:
        self.done = n
        now = time.monotonic()
        if not force and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = (self.done - self.first) / elapsed
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 30)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            text = (
                f"[{bar:<30}] {self.done}/{self.total} lines {frac:6.1%} "
                f"{rate:7.1f}/s eta {eta:5.0f}s"
            )
        else:
            text = f"{self.done} lines {rate:7.1f}/s"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.update(self.done, force=True)
        if self.tty:
            self.stream.write("\n")


def decode_line(line: bytes, *, tz: tzinfo, sources: set[str]) -> dict[str, Any] | str | None:
    """A line → a raw message; None to skip quietly (blank, other source); a string saying
    why a line is unusable."""
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"invalid JSON: {exc}"
    if not isinstance(record, dict):
        return "not a JSON object"
    if sources and record.get("source") not in sources:
        return None
    message = to_raw(record, tz=tz)
    if message is None:
        return "no text"
    errors = schema_errors("raw-article", message)
    if errors:
        return "; ".join(errors)[:300]
    return message
