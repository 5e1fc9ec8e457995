"""`rasid classify` is the offline twin of the worker: same parse, classify and match."""

from __future__ import annotations

import gzip
import io
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from streams.cli.main import main
from streams.settings import get_settings
from tests.conftest import FIXTURES, SAMPLE


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["classify", *args]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_classify_file(capsys: pytest.CaptureFixture[str]) -> None:
    (out,) = _run(capsys, str(SAMPLE))
    assert out["source"] == "baghdadtoday"
    assert out["title"] == (
        "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها"
    )
    assert out["section"] == "أمن"
    assert out["dateline"] == "بغداد"
    assert datetime.fromisoformat(str(out["published_at"])).isoformat() == (
        "2024-12-01T10:39:00+03:00"
    )
    assert "تيك توك" not in str(out["body"])
    regions = [r["code"] for r in out["regions"]]  # type: ignore[attr-defined]
    assert regions[:2] == ["SY", "IQ"]
    assert "security" in [t["code"] for t in out["topics"]]  # type: ignore[attr-defined]
    red = [m for m in out["matches"] if m["rule"] == "red-line"]  # type: ignore[attr-defined]
    assert red
    for m in red:
        assert str(out[m["field"]])[m["start"] : m["end"]] == m["text"]


def test_classify_jsonl_keeps_ids_and_reports_bad_lines(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        {"id": "a-1", "source": "wire", "body": "قال مسؤول في دمشق إن المنطقة خط أحمر."},
        {"id": "a-2", "source": "wire", "body": "فاز المنتخب العراقي في مباراة كرة القدم."},
        {"source": "wire"},
    ]
    stdin = io.StringIO("\n".join(orjson.dumps(x).decode() for x in lines) + "\n")
    monkeypatch.setattr("sys.stdin", stdin)
    out = _run(capsys, "--jsonl", "-")
    assert [o.get("id") for o in out[:2]] == ["a-1", "a-2"]
    assert [a["rule"] for a in out[0]["alerts"]] == ["red-line"]  # type: ignore[index]
    assert out[1]["alerts"] == []
    assert out[2]["error"] == "schema_violation"


# ---------------------------------------------------------------- classify --jsonl (ANT)
REPLAY_SAMPLE = FIXTURES / "ingest" / "replay-sample.jsonl.gz"


def _sample_lines() -> list[tuple[int, dict[str, object] | None]]:
    """(line number, record or None when not JSON) of the sample's non-blank lines."""
    out: list[tuple[int, dict[str, object] | None]] = []
    for n, line in enumerate(gzip.decompress(REPLAY_SAMPLE.read_bytes()).splitlines(), 1):
        if line.strip():
            try:
                out.append((n, orjson.loads(line)))
            except orjson.JSONDecodeError:
                out.append((n, None))
    return out


@pytest.mark.parametrize("via", ["file", "stdin", "plain file"])
def test_classify_jsonl_reads_ant_records_like_replay(
    via: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.ingest.replay import to_raw

    name = str(REPLAY_SAMPLE)
    if via == "stdin":  # gzip on stdin too
        stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(REPLAY_SAMPLE.read_bytes())))
        monkeypatch.setattr("sys.stdin", stdin)
        name = "-"
    elif via == "plain file":
        plain = tmp_path / "archive.jsonl"
        plain.write_bytes(gzip.decompress(REPLAY_SAMPLE.read_bytes()))
        name = str(plain)
    out = _run(capsys, "--jsonl", name)
    lines = _sample_lines()
    assert len(out) == len(lines) == 12  # one JSON object per non-blank line
    for (n, record), o in zip(lines, out, strict=True):
        if record is None:
            assert o == {"input": f"{name}:{n}", "error": "invalid_json", "detail": o["detail"]}
        elif record.get("id") == "TEST-notext":
            assert o["input"] == f"{name}:{n}" and o["error"] == "empty_body"
        else:  # mapped as replay maps it: same id, source, title, publication time
            raw = to_raw(record, tz=get_settings().tz_for_source(""))
            assert raw is not None
            assert o["source"] == raw["source"]
            assert o["title"] == raw.get("title", o["title"])
            if "id" in raw:
                assert o["id"] == raw["id"]
            if "published_at" in raw:
                assert datetime.fromisoformat(str(o["published_at"])) == datetime.fromisoformat(
                    raw["published_at"]
                )
    by_id = {o.get("id"): o for o in out}
    assert str(by_id["TEST-alsumaria-1"]["published_at"]).startswith("2024-12-01T11:00:00")
    assert (
        by_id["TEST-shafaq-3"]["body"] == "أعلنت قيادة شرطة كركوك اعتقال ثلاثة مطلوبين بتهم مختلفة."
    )


# ---------------------------------------------------------------- publish
class FakeProducer:
    """Stands in for aiokafka's producer: records what publish sends."""

    sent: ClassVar[list[tuple[str, bytes, bytes | None]]] = []

    def __init__(self, **config: object) -> None:
        self.config = config

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes, bytes | None]]:
    async def no_op(settings: object, **kwargs: object) -> list[str]:
        return []

    monkeypatch.setattr("aiokafka.AIOKafkaProducer", FakeProducer)
    monkeypatch.setattr("streams.kafka.admin.ensure_topics", no_op)
    monkeypatch.setattr("streams.cli.broker.check", no_op)
    FakeProducer.sent = []
    return FakeProducer.sent


RAW_VALUES = {
    "not UTF-8": b"\xff\xfe\x00 caf\xe9 \x80",
    "JSON with a trailing newline": b'{"source": "s", "body": "\xd9\x86\xd8\xb5"}\n',
    "JSON with a byte-order mark": b'\xef\xbb\xbf{"source": "s", "body": "x"}',
    "invalid JSON": b'{"source": "s", "body": ',
    "empty": b"",
    "gzip": gzip.compress(b'{"source": "s", "body": "x"}'),
}


@pytest.mark.parametrize("key", [None, "url-0123abcd"])
@pytest.mark.parametrize("label", list(RAW_VALUES))
def test_publish_raw_sends_the_bytes_as_they_are(
    label: str,
    key: str | None,
    producer: list[tuple[str, bytes, bytes | None]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "dead-letter.bin"
    path.write_bytes(RAW_VALUES[label])
    argv = ["publish", "--raw", str(path)] + (["--key", key] if key else [])
    assert main(argv) == 0
    topic = get_settings().topic_raw
    assert producer == [(topic, RAW_VALUES[label], key.encode() if key else None)]
    (line,) = capsys.readouterr().out.splitlines()
    assert orjson.loads(line) == {
        "published": str(path),
        "key": key,
        "bytes": len(RAW_VALUES[label]),
        "topic": topic,
    }


def test_publish_raw_from_stdin(
    producer: list[tuple[str, bytes, bytes | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    value = b"\x00\xff raw \r\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(value))))
    assert main(["publish", "--raw", "-"]) == 0
    assert [v for _, v, _ in producer] == [value]


def test_publish_wraps_text_in_a_raw_article(
    producer: list[tuple[str, bytes, bytes | None]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(SAMPLE)]) == 0
    ((_, value, key),) = producer
    message = orjson.loads(value)
    assert message["source"] == "baghdadtoday" and message["body"] == SAMPLE.read_text("utf-8")
    assert key is not None and orjson.loads(capsys.readouterr().out)["id"] == key.decode()


# ---------------------------------------------------------------- stories --jsonl
def test_stories_jsonl_clusters_in_publication_order_with_the_worker_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.stories.test_stories import OTHER, OTHER_TITLE, REWRITE, REWRITE_TITLE, STORY
    from tests.unit.stories.test_stories import TITLE as STORY_TITLE

    def ant(aid: str, source: str, time: str, title: str, text: str) -> dict[str, str]:
        return {"id": aid, "source": source, "time": time, "title": title, "text": text}

    records = [  # file order is not publication order
        ant("b", "cnn", "Wed, 09 May 2018 10:30:00 GMT", REWRITE_TITLE, REWRITE),
        ant("a", "bbc", "Wed, 09 May 2018 09:00:00 GMT", STORY_TITLE, STORY),
        ant("c", "sky", "Wed, 09 May 2018 11:00:00 GMT", OTHER_TITLE, OTHER),
        ant("d", "bbc", "Wed, 09 May 2018 12:00:00 GMT", STORY_TITLE, STORY),  # bbc again
        {"id": "e", "source": "sky"},  # neither an ANT record nor a raw article
    ]
    path = tmp_path / "ant.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(r) for r in records)))
    assert main(["stories", "--jsonl", str(path)]) == 0
    out = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (out[0]["input"], out[0]["error"]) == (f"{path}:5", "schema_violation")
    by_id = {o["id"]: o for o in out[1:]}
    assert [o["id"] for o in out[1:]] == ["a", "b", "c", "d"]
    assert by_id["a"]["is_new"] and not by_id["b"]["is_new"] and by_id["c"]["is_new"]
    assert by_id["a"]["story_id"] == by_id["b"]["story_id"] == by_id["d"]["story_id"]
    assert by_id["c"]["story_id"] != by_id["a"]["story_id"]
    assert (by_id["b"]["size"], by_id["b"]["sources"]) == (2, ["bbc", "cnn"])
    assert by_id["d"]["copy"] and by_id["d"]["size"] == 2  # same outlet, same text: not news
    assert 0 < by_id["b"]["similarity"] <= 1
    assert main(["stories", "--jsonl", str(path)]) == 0  # deterministic
    assert [orjson.loads(line) for line in capsys.readouterr().out.splitlines()] == out
