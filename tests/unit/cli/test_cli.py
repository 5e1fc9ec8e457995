"""`rasid classify` is the offline twin of the worker: same parse, classify and match."""

from __future__ import annotations

import io
from datetime import datetime

import orjson
import pytest

from streams.cli.main import main
from tests.conftest import SAMPLE


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
