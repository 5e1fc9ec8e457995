"""Alert schema v3 (issue 15: names a person reads): the story stage writes `names` and
`rule_title_en`; the API and the webhooks read a version 2 alert of the previous release as
version 3 (streams/alerts.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from streams.alerts import upgrade
from streams.api.feed import entry_of
from streams.classify.names import name
from streams.ids import alert_id
from streams.rules import RuleSet
from streams.rules.hits import build_alert
from streams.settings import Settings
from streams.stories.cluster import story_alert, story_id_for
from streams.validation import schema_errors
from streams.webhooks.policy import delivery_id
from streams.webhooks.service import Dispatcher, SubscriptionQueue

NOW = "2024-12-01T10:00:01+00:00"
RULE = {
    "id": "red-line",
    "version": 2,
    "title": "إعلان خط أحمر",
    "title_en": "Red line declaration",
    "severity": "high",
    "phrases": ["خط احمر"],
}
LABEL = {"score": 0.5, "evidence": []}


def _enriched(article: str, regions: list[str], topics: list[str]) -> dict[str, Any]:
    return {
        "id": article,
        "source": "s1",
        "url": None,
        "title": "عنوان",
        "body": "قال إن المدينة خط احمر",
        "lang": "ar",
        "breaking": False,
        "published_at": None,
        "ingested_at": "2024-12-01T10:00:00+00:00",
        "regions": [{"code": c, "name": name("region", c), **LABEL} for c in regions],
        "topics": [{"code": c, "name": name("topic", c), **LABEL} for c in topics],
    }


def _hit(rule: dict[str, Any], article: str, regions: list[str], topics: list[str]) -> Any:
    enriched = _enriched(article, regions, topics)
    (hit,) = RuleSet.from_dicts([rule]).match({"body": enriched["body"]})
    message = build_alert(enriched, hit, now=datetime(2024, 12, 1, 10, tzinfo=UTC))
    assert schema_errors("alert-hit", message) == []
    return message


def _as_v2(alert: dict[str, Any]) -> dict[str, Any]:
    """What the previous release wrote for the same alert."""
    old = {k: v for k, v in alert.items() if k not in ("names", "rule_title_en")}
    old["schema_version"] = 2
    old["rule_title"] = "Red line declaration (خط أحمر)"
    assert schema_errors("alert-v2", old) == []
    return old


def test_a_hit_carries_the_english_title_only_when_the_rule_has_one() -> None:
    hit = _hit(RULE, "a1", ["IQ"], ["security"])
    assert (hit["rule_title"], hit["rule_title_en"]) == ("إعلان خط أحمر", "Red line declaration")
    plain = _hit({k: v for k, v in RULE.items() if k != "title_en"}, "a1", ["IQ"], [])
    assert "rule_title_en" not in plain


def test_a_story_alert_is_v3_with_names_of_its_regions_and_topics() -> None:
    sid = story_id_for("a1")
    first = story_alert(_hit(RULE, "a1", ["IQ"], ["security"]), sid, None, now=NOW, escalate_at=3)
    assert first is not None
    assert schema_errors("alert", first) == []
    assert first["schema_version"] == 3
    assert (first["rule_title"], first["rule_title_en"]) == (
        "إعلان خط أحمر",
        "Red line declaration",
    )
    assert first["names"] == {
        "regions": {"IQ": {"ar": "العراق", "en": "Iraq"}},
        "topics": {"security": {"ar": "أمن", "en": "Security"}},
    }
    second = story_alert(_hit(RULE, "a2", ["SY"], ["politics"]), sid, first, now=NOW, escalate_at=3)
    assert second is not None and schema_errors("alert", second) == []
    # names follow the merged regions and topics: exactly those codes
    assert list(second["names"]["regions"]) == second["regions"] == ["IQ", "SY"]
    assert list(second["names"]["topics"]) == second["topics"] == ["security", "politics"]
    assert second["names"]["regions"]["SY"] == {"ar": "سوريا", "en": "Syria"}


def test_an_update_of_a_v2_alert_from_the_previous_release_is_v3() -> None:
    sid = story_id_for("a1")
    first = story_alert(_hit(RULE, "a1", ["IQ"], ["security"]), sid, None, now=NOW, escalate_at=3)
    assert first is not None
    second = story_alert(_hit(RULE, "a2", ["LB"], []), sid, _as_v2(first), now=NOW, escalate_at=3)
    assert second is not None and schema_errors("alert", second) == []
    assert (second["schema_version"], second["revision"]) == (3, 2)
    assert set(second["names"]["regions"]) == {"IQ", "LB"}


def test_a_v3_alert_allows_an_article_revision_and_requires_names() -> None:
    sid = story_id_for("a1")
    alert = story_alert(_hit(RULE, "a1", ["IQ"], []), sid, None, now=NOW, escalate_at=3)
    assert alert is not None
    revised = copy.deepcopy(alert)
    revised["articles"][0]["revision"] = 2
    revised["article"]["revision"] = 2
    assert schema_errors("alert", revised) == []
    revised["articles"][0]["revision"] = 0
    assert schema_errors("alert", revised)
    nameless = {k: v for k, v in alert.items() if k != "names"}
    assert any("'names' is a required property" in e for e in schema_errors("alert", nameless))
    bad_code = {**alert, "names": {"regions": {"iraq": name("region", "IQ")}, "topics": {}}}
    assert schema_errors("alert", bad_code)
    assert schema_errors(
        "alert", {**alert, "names": {"regions": {"IQ": {"ar": "العراق"}}, "topics": {}}}
    )


def test_upgrade_adds_names_to_a_v2_alert_and_keeps_the_rest() -> None:
    sid = story_id_for("a1")
    alert = story_alert(
        _hit(RULE, "a1", ["IQ", "SY"], ["security"]), sid, None, now=NOW, escalate_at=3
    )
    assert alert is not None
    old = _as_v2(alert)
    new = upgrade(old)
    assert schema_errors("alert", new) == []
    assert new["schema_version"] == 3 and new["names"] == alert["names"]
    assert new["rule_title"] == old["rule_title"] and "rule_title_en" not in new
    assert {k: v for k, v in new.items() if k not in ("schema_version", "names")} == {
        k: v for k, v in old.items() if k != "schema_version"
    }
    assert old["schema_version"] == 2 and "names" not in old  # the input is not changed
    assert upgrade(alert) is alert  # v3: as it is


@pytest.mark.parametrize(
    "message",
    [
        {"id": "x", "schema_version": 1, "regions": ["IQ"], "topics": []},  # not a v2 alert
        {"id": "x", "schema_version": 2, "regions": "IQ", "topics": []},  # malformed
        {"id": "x", "schema_version": 2, "regions": ["IQ"]},
        {"id": "x"},
    ],
)
def test_upgrade_leaves_what_it_cannot_upgrade_alone(message: dict[str, Any]) -> None:
    assert upgrade(message) is message


def _v2_alert() -> dict[str, Any]:
    sid = story_id_for("a9")
    alert = story_alert(_hit(RULE, "a9", ["IQ"], ["security"]), sid, None, now=NOW, escalate_at=3)
    assert alert is not None and alert["id"] == alert_id("red-line", 2, sid)
    return _as_v2(alert)


def test_the_api_serves_a_v2_alert_as_v3() -> None:
    record = SimpleNamespace(partition=0, offset=7, timestamp=1, value=orjson.dumps(_v2_alert()))
    entry = entry_of(record)
    assert entry is not None
    assert entry.alert["schema_version"] == 3 and schema_errors("alert", entry.alert) == []
    assert orjson.loads(entry.data) == entry.alert  # what the stream and /alerts send


def test_webhooks_deliver_a_v2_alert_as_v3() -> None:
    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1"))
    queue = SubscriptionQueue({"id": "aaaaaaaaaaaa", "filters": {"regions": ["IQ"]}}, d)
    d.subscriptions[queue.id] = queue
    old = _v2_alert()
    d.on_alert(0, 0, orjson.dumps(old))
    (delivery,) = queue.heap
    sent = delivery.payload["alert"]
    assert sent["schema_version"] == 3 and schema_errors("alert", sent) == []
    assert sent["names"]["regions"] == {"IQ": {"ar": "العراق", "en": "Iraq"}}
    # the receiver's idempotency key is what the v2 message would have had
    assert delivery.id == delivery_id(queue.id, old["id"], old["revision"])
