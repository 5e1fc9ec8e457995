"""The story stage's per-alert shortcuts give what the plain code gave: an alert's `names` from
a memo, its id passed in, the hits checked in one call, the counters' children looked up once,
one clock read and one parsed `ingested_at` for an article's alerts, the log line built only
when it is logged, and one table entry per alert shared by the pending and the stored state."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from streams.classify.names import names_of
from streams.ids import alert_id
from streams.settings import Settings
from streams.stories import cluster
from streams.stories.cluster import story_alert
from streams.stories.features import story_features
from streams.validation import all_valid, is_valid
from streams.worker import story_stage
from streams.worker.observe import Observer, epoch
from streams.worker.story_store import StoryStore
from tests.unit.test_story_alerts_table import _hit as table_hit  # shared

STORY = "st-" + "0" * 24
NOW = "2030-01-01T00:00:00+00:00"


def _hit(rule: str, article: str, source: str, **more: Any) -> dict[str, Any]:
    """test_story_alerts_table's hit, with one match and the given fields changed."""
    hit = table_hit(rule, article, source)
    hit.update(
        matches=[{"term": "x", "text": "x", "field": "title", "start": 0, "end": 1, "snippet": "x"}]
    )
    hit.update(more)
    return hit


@pytest.mark.parametrize(
    "regions,topics",
    [
        (["IQ"], ["security"]),
        ([], []),
        (["IQ", "SY", "XX"], ["politics", "no-such-topic"]),  # unknown codes: their own name
        (["IQ", "IQ"], []),
        (["SY", "IQ"], ["security", "politics"]),  # order kept
    ],
)
def test_names_from_the_memo_are_names_of(regions: list[str], topics: list[str]) -> None:
    first = cluster._names(regions, topics)
    assert orjson.dumps(first) == orjson.dumps(names_of(regions, topics))
    for inner in (*first["regions"].values(), *first["topics"].values()):
        inner["ar"] = "changed by its owner"  # a message's owner may change its copy
    first["regions"]["ZZ"] = {"ar": "x", "en": "x"}
    again = cluster._names(regions, topics)
    assert orjson.dumps(again) == orjson.dumps(names_of(regions, topics))


def test_the_names_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "NAMES_CAP", 2)
    monkeypatch.setattr(cluster, "_NAMES", {})
    cases = [(["IQ"], []), (["SY"], []), (["LB"], ["security"]), (["IQ"], [])]
    for regions, topics in cases:
        assert cluster._names(regions, topics) == names_of(regions, topics)
        assert len(cluster._NAMES) <= 2


# what story_alert adds to the hit's fields, in this order, after them (a field the hit has
# keeps its place)
ADDED = (
    "schema_version",
    "id",
    "story_id",
    "status",
    "revision",
    "rule_severity",
    "severity",
    "escalated",
    "sources",
    "articles",
    "regions",
    "topics",
    "names",
    "created_at",
    "updated_at",
    "alerted_at",
)


@pytest.mark.parametrize(
    "hits,revision",
    [
        ([_hit("r1", "a1", "s1")], 1),
        ([_hit("r1", "a1", "s1"), _hit("r1", "a2", "s2", regions=["SY"])], 1),
        ([_hit("r1", "a1", "s1"), _hit("r1", "a2", "s2"), _hit("r1", "a3", "s3")], 1),
        ([_hit("r1", "a1", "s1"), _hit("r1", "a1", "s1", topics=["politics"])], 2),
        ([_hit("r1", "a1", "s1", rule_title_en="Title")], 1),
    ],
)
def test_an_alert_with_its_id_passed_in_is_the_same_bytes(
    hits: list[dict[str, Any]], revision: int
) -> None:
    previous: dict[str, Any] | None = None
    for i, hit in enumerate(hits):
        rev = revision if i == len(hits) - 1 else 1
        aid = alert_id(hit["rule"], hit["rule_version"], STORY)
        plain = story_alert(hit, STORY, previous, now=NOW, escalate_at=3, revision=rev)
        given = story_alert(hit, STORY, previous, now=NOW, escalate_at=3, revision=rev, aid=aid)
        assert plain is not None and given is not None
        assert orjson.dumps(given) == orjson.dumps(plain)
        kept = [k for k in hit if k not in ("schema_version", "id")]
        assert list(given) == kept + [k for k in ADDED if k not in kept]
        assert given["id"] == aid
        assert orjson.dumps(given["names"]) == orjson.dumps(
            names_of(given["regions"], given["topics"])
        )
        assert is_valid("alert", given)
        previous = given


@pytest.mark.parametrize(
    "hits",
    [
        [],
        [_hit("r1", "a1", "s1")],
        [_hit("r1", "a1", "s1"), _hit("r2", "a1", "s1")],
        [_hit("r1", "a1", "s1"), {k: v for k, v in _hit("r2", "a1", "s1").items() if k != "rule"}],
        [_hit("r1", "a1", "s1", severity="extreme")],
        [_hit("r1", "a1", "s1", matches=[])],
        [_hit("r1", "a1", "s1"), "not an object"],
        [{"schema_version": 1}],
    ],
)
def test_all_valid_is_every_hit_valid(hits: list[Any]) -> None:
    assert all_valid("alert-hit", hits) == all(is_valid("alert-hit", h) for h in hits)


def _latency() -> tuple[float, float]:
    name = "rasid_ingested_to_alerted_seconds"
    return (
        REGISTRY.get_sample_value(f"{name}_count") or 0.0,
        REGISTRY.get_sample_value(f"{name}_sum") or 0.0,
    )


A, B = "2030-01-01T00:00:00+00:00", "2030-01-01T00:01:00+00:00"


@pytest.mark.parametrize(
    "ingested",
    [
        [A, A, A],
        [A, B, A, B],
        [A, None, A],
        ["not a time", A, "not a time"],
        [A, 12345, A],
        [B, "2030-01-01T01:01:00+01:00", B],  # the same instant written otherwise
    ],
)
def test_one_parsed_ingested_at_per_run_of_alerts(ingested: list[Any]) -> None:
    observer = Observer()
    now = epoch("2030-01-01T00:05:00+00:00")
    assert now is not None
    count, total = _latency()
    for text in ingested:
        observer.alert_sent({"ingested_at": text}, now=now)
    parsed = [epoch(t) if isinstance(t, str) else None for t in ingested]
    expected = [max(0.0, now - p) for p in parsed if p is not None]
    after_count, after_total = _latency()
    assert after_count - count == len(expected)
    assert after_total - total == pytest.approx(sum(expected))


class _Topic:
    """A stand-in for the alerts topic: every send acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, key: bytes, value: bytes) -> asyncio.Future[Any]:
        self.sent.append((key, value))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _candidate(article: str, source: str, rules: list[str]) -> dict[str, Any]:
    features = story_features("عنوان الخبر عن بغداد", "نص الخبر عن اجتماع في بغداد اليوم.")
    return {
        "schema_version": 3,
        "article_id": article,
        "revision": 1,
        "source": source,
        "at": NOW,
        "event_at": NOW,
        "title": "t",
        "regions": ["IQ"],
        "topics": ["security"],
        "features": features.as_message(),
        "hits": [_hit(rule, article, source) for rule in rules],
    }


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
@pytest.mark.parametrize(
    "feed",
    [
        # one story: the second article revises alerts not yet acknowledged (an early send)
        [("a1", "s1", ["r1", "r2"]), ("a2", "s2", ["r1", "r2"])],
        [("a1", "s1", ["r1"]), ("a2", "s2", ["r2"]), ("a3", "s3", ["r1", "r2"])],
        [("a1", "s1", []), ("a2", "s2", ["r1"])],
    ],
)
def test_a_batch_sends_counts_logs_and_stores_every_alert(
    feed: list[tuple[str, str, list[str]]], level: int, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings()
    stage = story_stage.StoryStage.of(
        settings, topic=None, stories=StoryStore({}), alerts={}, docfreq={}
    )
    stage.stale, stage.last_prune = False, float("inf")
    topic = _Topic()
    ctx: Any = SimpleNamespace(
        topics=SimpleNamespace(alerts=topic, deadletter=topic), trends=None, settings=settings
    )
    ctx.stories = stage
    cands = [_candidate(*item) for item in feed]
    value = orjson.dumps({"schema_version": 4, "candidates": cands})
    event: Any = SimpleNamespace(
        message=SimpleNamespace(value=value, topic="t", partition=0, offset=0, key=b"k")
    )
    rules = sorted({r for _, _, rs in feed for r in rs})
    before = {
        **{r: _count("rasid_alerts_total", rule=r, severity="high") for r in rules},
        **{s: _count("rasid_story_alerts_total", status=s) for s in ("new", "updated")},
    }
    caplog.set_level(level, logger="rasid.stories")
    outcome = asyncio.run(story_stage.process_message(ctx, stage, event))

    alerts = [orjson.loads(v) for _, v in topic.sent]
    assert outcome == f"alerts:{len(alerts)}"
    assert len(alerts) == sum(len(rs) for _, _, rs in feed)
    for rule in rules:
        mine = [a for a in alerts if a["rule"] == rule]
        assert [a["revision"] for a in mine] == list(range(1, len(mine) + 1))
        added = _count("rasid_alerts_total", rule=rule, severity="high") - before[rule]
        assert added == len(mine)
    for status in ("new", "updated"):
        added = _count("rasid_story_alerts_total", status=status) - before[status]
        assert added == sum(a["status"] == status for a in alerts)
    # the table holds each alert's last revision's state, as alert_state gives it
    last = {a["id"]: a for a in alerts}
    ((story, record),) = stage.alerts.items()
    assert {a["story_id"] for a in alerts} == {story}
    assert record == story_stage.alerts_record(
        {aid: {"alert": story_stage.alert_state(a), "at": epoch(NOW)} for aid, a in last.items()}
    )
    logged = [r for r in caplog.records if r.name == "rasid.stories" and r.msg == "alert"]
    if level == logging.INFO:
        assert [(r.alert_id, r.revision) for r in logged] == [  # type: ignore[attr-defined]
            (a["id"], a["revision"]) for a in alerts
        ]
    else:
        assert logged == []
