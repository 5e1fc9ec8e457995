"""The foundation, end to end on the real broker: a raw Arabic article in, an explainable alert
out; re-publishing is harmless; bad input is dead-lettered and the worker keeps going."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from streams.validation import schema_errors
from tests.conftest import SAMPLE
from tests.integration.conftest import Env, Worker

pytestmark = pytest.mark.integration

BAGHDAD = timezone(timedelta(hours=3))
TITLE = "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها"


def _published_ids(out: bytes) -> list[str]:
    return [orjson.loads(line)["id"] for line in out.splitlines()]


def _red_line(alerts: list[dict], article_id: str) -> list[dict]:
    return [a for a in alerts if a["rule"] == "red-line" and a["article"]["id"] == article_id]


async def test_sample_article_raises_one_red_line_alert(env: Env, worker: Worker) -> None:
    (article_id,) = _published_ids(env.rasid("publish", str(SAMPLE)))
    alerts = await env.read_all("alerts", expect=1)
    red = _red_line(alerts, article_id)
    assert len(red) == 1, alerts
    alert = red[0]
    assert schema_errors("alert", alert) == []
    assert {"SY", "IQ"} <= set(alert["regions"])
    assert "KW" not in alert["regions"]
    assert "security" in alert["topics"]
    assert alert["article"]["title"] == TITLE
    published = datetime.fromisoformat(alert["published_at"])
    assert published == datetime(2024, 12, 1, 10, 39, tzinfo=BAGHDAD)
    assert alert["severity"] == "high"
    # Explainable: every match points at the original text it quotes.
    assert any(m["text"] == "خط احمر" for m in alert["matches"])
    enriched = await env.read_all("enriched", expect=1)
    article = next(e for e in enriched if e["id"] == article_id)
    assert schema_errors("enriched-article", article) == []
    for m in alert["matches"]:
        assert article[m["field"]][m["start"] : m["end"]] == m["text"]


async def test_republishing_does_not_alert_twice(env: Env, worker: Worker) -> None:
    (first,) = _published_ids(env.rasid("publish", str(SAMPLE)))
    (second,) = _published_ids(env.rasid("publish", str(SAMPLE)))
    assert first == second  # the article id is derived from the content
    enriched = await env.read_all("enriched", expect=3)
    assert sum(e["id"] == first for e in enriched) >= 3  # all three copies were processed
    alerts = await env.read_all("alerts", expect=1)
    assert len(_red_line(alerts, first)) == 1
    # An alert id repeats only as a story update (next revision), never as the same message.
    assert len({(a["id"], a["revision"]) for a in alerts}) == len(alerts)
    assert all(a["status"] == "new" for a in _red_line(alerts, first))


GARBAGE = [
    (b"this is not json", "invalid_json"),
    (b'{"source": "x", "body": 42}', "schema_violation"),
    (b'["a", "list"]', "schema_violation"),
    (b'{"source": "x"}', "schema_violation"),
    (b'{"source": "x", "body": "   \\n "}', "empty_body"),
    (b'{"source": "x", "body": "\xff\xfe bad utf-8"}', "invalid_utf8"),
]


async def test_bad_input_goes_to_deadletter_and_worker_continues(env: Env, worker: Worker) -> None:
    await env.produce([value for value, _ in GARBAGE])
    oversized = orjson.dumps({"source": "x", "body": "خط احمر " * 50_000})
    await env.produce([oversized])
    # A valid article after the garbage must still be processed.
    follow_up = {
        "schema_version": 1,
        "id": "follow-up-1",
        "source": "testwire",
        "title": "البرلمان العراقي: الحدود خط أحمر",
        "body": "قال نائب في البرلمان العراقي في بغداد إن أمن الحدود مع سوريا خط أحمر لا يمكن تجاوزه.",
    }
    await env.produce([orjson.dumps(follow_up)])
    letters = await env.read_all("deadletter", expect=len(GARBAGE) + 1)
    by_value = {base64.b64decode(d["value_b64"]): d for d in letters}
    for value, reason in GARBAGE:
        assert value in by_value, f"{value!r} not dead-lettered"
        letter = by_value[value]
        assert letter["reason"] == reason, letter
        assert letter["source_topic"] == env.topics["raw"]
        assert letter["offset"] >= 0
        assert schema_errors("deadletter", letter) == []
    assert by_value[oversized]["reason"] == "too_large"
    alerts = await env.read_all("alerts", expect=2)
    assert any(a["article"]["id"] == "follow-up-1" and a["rule"] == "red-line" for a in alerts)
    assert worker.alive


def test_librdkafka_client_reads_alerts(env: Env, worker: Worker) -> None:
    """Subscribers use librdkafka clients too (confluent-kafka here)."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": env.bootstrap,
            "group.id": f"{env.prefix}-librdkafka",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    env.rasid("publish", str(SAMPLE))
    consumer.subscribe([env.topics["alerts"]])
    try:
        alert = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            alert = orjson.loads(msg.value())
            break
    finally:
        consumer.close()
    assert alert is not None, "librdkafka consumer read no alert"
    assert msg.key().decode() == alert["id"]
    assert schema_errors("alert", alert) == []


async def test_topics_are_created_with_configured_partitions(env: Env, worker: Worker) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(env.topics.values()))
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == {name: 3 for name in env.topics.values()}


def test_worker_serves_health_and_metrics(env: Env, worker: Worker) -> None:
    import urllib.request

    base = f"http://127.0.0.1:{env.web_port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
        assert orjson.loads(resp.read()) == {"status": "ok"}
    with urllib.request.urlopen(f"{base}/readyz", timeout=5) as resp:
        assert orjson.loads(resp.read())["ready"] is True
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'rasid_stage_in_total{stage="parse"}' in text
    assert "rasid_deadletters_total" in text
    assert "faust_messages_received" in text


def _listening(port: int) -> set[str]:
    """Local IPv4 addresses with a listening TCP socket on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def test_worker_starts_quietly_on_its_host(env: Env, worker: Worker) -> None:
    """A normal start logs no error-level line, and the web port listens on RASID_WEB_HOST
    (127.0.0.1 here), not on every interface."""
    lines = [orjson.loads(line) for line in worker.start_log.splitlines() if line.startswith("{")]
    assert lines, worker.start_log[-2000:]
    loud = [line for line in lines if line["level"] in {"error", "critical"}]
    assert loud == [], loud
    assert _listening(env.web_port) == {"127.0.0.1"}
