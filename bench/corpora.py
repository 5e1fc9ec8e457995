"""The evaluation corpora as raw-article messages, read from ../shared/data (never copied into
the repo). No `streams` import: speed benches that load another tree's `streams` read their
inputs with this too."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ANT = SHARED / "ant" / "ant_multisource.jsonl.gz"  # 31,525 articles: title + body
ASND = SHARED / "asnd" / "asnd_train_dev.jsonl"  # 7,243 short posts: tweets, breaking lines


def ant_raw(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` ANT records as raw articles (title and body, plain text)."""
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(out) >= limit:
                break
            if line.strip():
                d = json.loads(line)
                raw = {"schema_version": 1, "id": d["id"], "source": d.get("source") or "ant",
                       "url": d.get("url"), "title": d.get("title") or None, "body": d["text"],
                       "content_type": "text/plain"}  # fmt: skip
                out.append({k: v for k, v in raw.items() if v is not None})
    return out


def asnd_raw(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` ASND posts as raw articles (no title: the post is the body)."""
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(out) >= limit:
                break
            if line.strip():
                d = json.loads(line)
                out.append({"schema_version": 1, "id": f"asnd-{d['id']}", "source": "asnd",
                            "body": d["text"], "content_type": "text/plain"})  # fmt: skip
    return out
