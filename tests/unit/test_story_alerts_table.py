"""The story stage's table of alerts (streams/worker/story_stage.py): one record per story,
what it keeps of an alert, and the records of the previous release (one per alert id)."""

from __future__ import annotations

from typing import Any

from streams.ids import alert_id
from streams.stories.cluster import story_alert
from streams.worker import story_stage
from streams.worker.story_stage import (
    alert_state,
    alerts_of,
    alerts_record,
    expire_alerts,
    fold_legacy,
    store_alerts,
    stored_alert,
)

STORY = "story-1"


def _hit(rule: str, article: str, source: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": alert_id(rule, 1, article),
        "rule": rule,
        "rule_version": 1,
        "rule_title": rule,
        "severity": "high",
        "article": {
            "id": article,
            "source": source,
            "url": None,
            "title": "t",
            "published_at": None,
        },
        "regions": ["IQ"],
        "topics": ["security"],
        "explanation": {"regions": [], "topics": []},
        "matches": [],
        "published_at": None,
        "ingested_at": "2030-01-01T00:00:00+00:00",
        "alerted_at": "2030-01-01T00:00:00+00:00",
    }


def _alert(rule: str, *articles: tuple[str, str]) -> dict[str, Any]:
    """The alert of `rule` on STORY after these (article, source) reports, in order."""
    alert = None
    for i, (article, source) in enumerate(articles):
        now = f"2030-01-01T00:0{i}:00+00:00"
        alert = story_alert(_hit(rule, article, source), STORY, alert, now=now, escalate_at=3)
    assert alert is not None
    return alert


def test_the_kept_state_builds_the_same_next_revision_as_the_whole_alert() -> None:
    whole = _alert("r1", ("a1", "s1"), ("a2", "s2"))
    after = _hit("r1", "a3", "s3")
    now = "2030-01-01T00:09:00+00:00"
    from_whole = story_alert(after, STORY, whole, now=now, escalate_at=3)
    from_state = story_alert(after, STORY, alert_state(whole), now=now, escalate_at=3)
    assert from_whole is not None and from_whole["revision"] == 3
    assert from_state == from_whole
    # and a replay of an article it lists is recognised from the state alone
    replay = _hit("r1", "a2", "s2")
    assert story_alert(replay, STORY, alert_state(whole), now=now, escalate_at=3) is None


def test_records_of_the_previous_release_are_folded_into_their_story() -> None:
    one, two = _alert("r1", ("a1", "s1")), _alert("r2", ("a1", "s1"), ("a2", "s2"))
    newer = _alert("r1", ("a1", "s1"), ("a2", "s2"))  # r1 at revision 2, in the new record
    table: dict[str, Any] = {
        one["id"]: {"alert": one, "at": 10.0},
        two["id"]: {"alert": two, "at": 20.0},
        "junk": {"alert": {"id": "x"}, "at": 5.0},  # no story: dropped
        STORY: alerts_record({newer["id"]: {"alert": alert_state(newer), "at": 30.0}}),
    }
    assert fold_legacy(table) == 3
    assert list(table) == [STORY]
    record = table[STORY]
    assert record["v"] == 2 and record["at"] == 30.0
    alerts = alerts_of(record)
    assert set(alerts) == {one["id"], two["id"]}
    assert alerts[one["id"]] == {"alert": alert_state(newer), "at": 30.0}  # the later revision
    assert alerts[two["id"]] == {"alert": alert_state(two), "at": 20.0}
    assert fold_legacy(table) == 0  # nothing left to convert
    assert alerts_of(None) == {}


def test_expired_alerts_leave_their_story_record() -> None:
    old, fresh = _alert("r1", ("a1", "s1")), _alert("r2", ("a1", "s1"))
    table: dict[str, Any] = {
        STORY: alerts_record(
            {
                old["id"]: {"alert": alert_state(old), "at": 10.0},
                fresh["id"]: {"alert": alert_state(fresh), "at": 50.0},
            }
        ),
        "story-2": alerts_record({old["id"]: {"alert": alert_state(old), "at": 20.0}}),
    }
    assert expire_alerts(table, 30.0) == 2
    assert list(table) == [STORY]
    assert set(alerts_of(table[STORY])) == {fresh["id"]}
    assert expire_alerts(table, 30.0) == 0
    assert expire_alerts(table, 60.0) == 1 and table == {}


def test_a_story_past_the_record_bound_keeps_each_alert_in_a_record_of_its_own(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(story_stage, "RECORD_BYTES", 1000)  # two of these alerts, not three
    alerts = [_alert(f"r{i}", ("a1", "s1"), ("a2", "s2")) for i in range(4)]
    table: dict[str, Any] = {}
    for i, alert in enumerate(alerts[:2]):
        changed = {alert["id"]: {"alert": alert_state(alert), "at": 10.0 + i}}
        store_alerts(table, STORY, table.get(STORY), changed)
    assert list(table) == [STORY] and len(alerts_of(table[STORY])) == 2  # still one record
    store_alerts(
        table, STORY, table[STORY], {alerts[2]["id"]: {"alert": alert_state(alerts[2]), "at": 20.0}}
    )
    # past the bound: the story's record says so, and every alert has a record of its own
    assert table[STORY] == {"v": 2, "at": 20.0, "spilled": True}
    assert set(table) == {STORY, *(a["id"] for a in alerts[:3])}
    record = table[STORY]
    for alert in alerts[:3]:
        entry = stored_alert(table, record, alert["id"])
        assert entry is not None and entry["alert"] == alert_state(alert)
    assert stored_alert(table, record, alerts[3]["id"]) is None
    # an older release's record of another alert of the story joins it the same way
    table[alerts[3]["id"]] = {"alert": alerts[3], "at": 25.0}
    assert fold_legacy(table) == 1
    assert table[alerts[3]["id"]] == {
        "v": 2,
        "story": STORY,
        "alert": alert_state(alerts[3]),
        "at": 25.0,
    }
    assert table[STORY]["at"] == 25.0
    # expiry: the alerts one by one, the story's record with the last of them
    assert expire_alerts(table, 15.0) == 2
    assert set(table) == {STORY, alerts[2]["id"], alerts[3]["id"]}
    assert expire_alerts(table, 30.0) == 2 and table == {}
