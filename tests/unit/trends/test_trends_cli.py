"""`rasid trends --jsonl`: the worker's classification and story clustering, then the burst
detector, offline, on a synthetic archive (made-up words, no corpus text)."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli.main import main
from streams.validation import schema_errors

LETTERS = "بتثجحخدذرزسشصضطظعغفقكلمنهي"
START = datetime(2018, 3, 1, tzinfo=UTC)
BURST = START + timedelta(days=9, hours=10)


# Other places and topics, one article an hour each: no key is most of the stream, so that
# shuffling the times spreads the burst's times over many keys.
# The topic phrases are plain enough that the topic model's prior for politics (filler words
# tell it nothing) does not put politics first on them too.
OTHERS = [
    ("القاهرة", "مباراة كرة القدم"),
    ("باريس", "ارتفاع أسعار الأسهم في البورصة"),
    ("واشنطن", "الانتخابات والبرلمان"),
    ("موسكو", "شركة التكنولوجيا تطلق هاتفا ذكيا وتطبيقات الإنترنت"),
    ("طوكيو", "معرض الفنون والسينما والمسرح"),
    ("برلين", "افتتاح مستشفى لعلاج المرضى"),
]


def _article(
    rng: random.Random,
    aid: str,
    when: datetime,
    source: str,
    about: tuple[str, str] = ("بغداد", "هجوم مسلح أسفر عن قتلى وجرحى"),
) -> dict[str, str]:
    """An ANT-like record on one place and topic, in made-up words of its own (a story of its
    own)."""
    place, topic = about
    words = ["".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 7))) for _ in range(40)]
    return {
        "id": aid,
        "source": source,
        "time": when.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "title": " ".join(words[:4]) + f" في {place}",
        "text": " ".join(words[4:24]) + f" {topic} في {place}. " + " ".join(words[24:]),
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(7)
    records: list[Any] = []
    for h in range(9 * 24 + 10):  # up to the burst
        hour = START + timedelta(hours=h)
        records.append(_article(rng, f"bg{h}", hour + timedelta(minutes=rng.randint(0, 59)), "a"))
        for k, about in enumerate(OTHERS):
            when = hour + timedelta(minutes=rng.randint(0, 59))
            records.append(_article(rng, f"o{h}-{k}", when, "b", about))
    burst = [
        _article(rng, f"burst{j}", BURST + timedelta(seconds=40 * j), "abc"[j % 3])
        for j in range(12)
    ]
    records += burst
    records.append({**burst[0], "id": "burst0-again"})  # a copy: the same outlet, same text
    records.append({"id": "x", "source": "a"})  # neither an ANT record nor a raw article
    rng.shuffle(records)  # file order is not publication order
    path = tmp_path_factory.mktemp("trends") / "archive.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(r) for r in records)))
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["trends", *args, "--stats"]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_trends_finds_the_burst_and_says_why(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--jsonl", str(archive))
    errors = [line for line in out if "error" in line]
    (stats,) = [line["stats"] for line in out if "stats" in line]
    records = [line for line in out if "id" in line and "key" in line]
    assert [e["error"] for e in errors] == ["schema_violation"]
    assert stats["articles"] == (9 * 24 + 10) * (1 + len(OTHERS)) + 12 + 1
    assert records and all(schema_errors("trend", r) == [] for r in records)
    iraq = {"IQ|security", "IQ|*", "*|security", "rule:iraq-governorate-attack"}
    assert {r["key"] for r in records} <= iraq
    assert "IQ|security" in {r["key"] for r in records}
    for r in records:
        assert r["detected_at"] >= BURST.isoformat()
        assert r["new_stories"] <= 12  # the copy is not a story of its own
        top = r["top_stories"][0]
        assert top["headline"].endswith("في بغداد")
        assert r["count"] > 2 * r["expected"]
    assert stats["records"]["elevated"] >= 1
    assert _run(capsys, "--jsonl", str(archive)) == out  # the same input, the same output


def test_shuffled_times_destroy_the_burst(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--jsonl", str(archive), "--shuffle-time", "1")
    (stats,) = [line["stats"] for line in out if "stats" in line]
    assert stats["key_days"] > 0  # judged
    records = [line for line in out if "key" in line]
    # The burst is gone: nothing about Iraq, security or its rule. The control keeps the
    # burst's 12 timestamps (8 minutes) and hands them to random articles, so a key that holds
    # ~40% of this small stream (politics: the stock-market and hospital lines are politics
    # first too) may draw most of them: at most one elevated record, never more.
    assert not [r["key"] for r in records if "IQ" in r["key"] or "security" in r["key"]]
    assert not [r["key"] for r in records if r["key"].startswith("rule:")]
    assert [r["level"] for r in records] in ([], ["elevated"])
