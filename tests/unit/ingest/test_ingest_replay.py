"""rasid replay, the pure parts: archive lines → raw articles, gzip, checkpoints, progress."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from streams.ingest.replay import Checkpoint, Progress, count_lines, decode_line, iter_lines, to_raw
from streams.validation import schema_errors

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "ingest" / "replay-sample.jsonl.gz"
BAGHDAD = timezone(timedelta(hours=3))

ANT = {
    "id": "AL-culture-1-20180218",
    "source": "alarabia",
    "category": "culture",
    "url": "http://www.alarabiya.net/ar/culture/2018/02/18/x.html",
    "time": "Sun, 18 Feb 2018 21:35:43 +0400",
    "title": "عنوان",
    "abstract": "ملخص",
    "text": "النص الكامل للخبر.",
}


def test_ant_record_to_raw_article() -> None:
    raw = to_raw(ANT, tz=BAGHDAD)
    assert raw == {
        "schema_version": 2,  # with a revision: an archive holds each article once
        "revision": 1,
        "id": "AL-culture-1-20180218",
        "source": "alarabia",
        "url": "http://www.alarabiya.net/ar/culture/2018/02/18/x.html",
        "title": "عنوان",
        "body": "النص الكامل للخبر.",
        "content_type": "text/plain",
        "lang": "ar",
        "published_at": "2018-02-18T21:35:43+04:00",
        "fetched_at": "2018-02-18T21:35:43+04:00",
    }
    assert schema_errors("raw-article", raw) == []


def test_ant_fallbacks() -> None:
    no_text = to_raw({**ANT, "text": ""}, tz=UTC)
    assert no_text is not None and no_text["body"] == "ملخص"  # the abstract stands in
    assert to_raw({**ANT, "text": "", "abstract": ""}, tz=UTC) is None
    odd_time = to_raw({**ANT, "time": "قبل ساعة"}, tz=UTC)
    assert odd_time is not None and "published_at" not in odd_time
    naive = to_raw({**ANT, "time": "2018-02-18 21:35:43"}, tz=BAGHDAD)
    assert naive is not None and naive["published_at"] == "2018-02-18T21:35:43+03:00"


def test_raw_article_lines_pass_through() -> None:
    raw = {"source": "s", "body": "b", "url": "https://e.com/1"}
    assert to_raw(raw, tz=UTC) == {"schema_version": 1, **raw}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"\n", None),
        (b"   \n", None),
        (b'{"source": "other", "text": "x"}\n', None),  # filtered out by --source
        (b'{"id": 1', "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"source": "s", "text": ""}', "no text"),
        (b'{"source": "s", "body": "b", "lang": "Arabic"}', "lang"),  # schema violation
    ],
)
def test_decode_line_skips(line: bytes, expected: str | None) -> None:
    result = decode_line(line, tz=UTC, sources={"s"})
    if expected is None:
        assert result is None
    else:
        assert isinstance(result, str) and expected in result


def test_sample_archive() -> None:
    assert count_lines(SAMPLE) == 13
    numbered = list(iter_lines(SAMPLE))
    assert [n for n, _ in numbered] == list(range(1, 14))
    decoded = [decode_line(line, tz=UTC, sources=set()) for _, line in numbered]
    messages = [d for d in decoded if isinstance(d, dict)]
    problems = [d for d in decoded if isinstance(d, str)]
    assert len(messages) == 10 and len(problems) == 2
    only = [decode_line(line, tz=UTC, sources={"shafaq"}) for _, line in numbered]
    assert {m["source"] for m in only if isinstance(m, dict)} == {"shafaq"}


def test_plain_and_gzip_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "a.jsonl"  # not gzip despite any name: detected by magic number
    plain.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    misnamed = tmp_path / "b.jsonl"
    misnamed.write_bytes(SAMPLE.read_bytes())
    assert list(iter_lines(plain)) == list(iter_lines(misnamed)) == list(iter_lines(SAMPLE))


def test_checkpoint_round_trip_and_paths(tmp_path: Path) -> None:
    path = Checkpoint.default_path(tmp_path, SAMPLE, "rasid.articles.raw", [])
    assert path != Checkpoint.default_path(tmp_path, SAMPLE, "other.topic", [])
    assert path != Checkpoint.default_path(tmp_path, SAMPLE, "rasid.articles.raw", ["shafaq"])
    fresh = Checkpoint.load(path, SAMPLE)
    assert (fresh.line, fresh.published, fresh.done) == (0, 0, False)
    fresh.line, fresh.published = 7, 5
    fresh.save()
    again = Checkpoint.load(path, SAMPLE)
    assert (again.line, again.published, again.done) == (7, 5, False)
    path.write_text("{not json")  # a damaged checkpoint starts over rather than crashing
    assert Checkpoint.load(path, SAMPLE).line == 0


def test_progress_bar_lines() -> None:
    out = io.StringIO()
    bar = Progress(total=10, start=2, stream=out)
    bar.update(5, force=True)
    bar.close()
    text = out.getvalue()
    assert "5/10 lines" in text and "50.0%" in text
