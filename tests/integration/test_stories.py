"""Story grouping on the real broker: three outlets publish the same story → one alert id, opened
then updated twice (sources grow, severity escalates at three sources); a re-publish of one of
the copies changes nothing; a restarted worker still knows the story."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.validation import schema_errors
from tests.integration.conftest import Env, Worker, new_env

pytestmark = pytest.mark.integration

BODY = (
    "بغداد - قال قيادي في تحالف الفتح اليوم إن مدينة سامراء خط أحمر وإن الفصائل لن تسمح "
    "بالاقتراب منها، مضيفاً أن التعزيزات العسكرية وصلت إلى أطراف المدينة خلال الساعات الماضية "
    "وأن القوات الأمنية رفعت درجة الاستعداد القصوى تحسباً لأي هجوم على المراقد والمناطق المحيطة "
    "بها، فيما دعا أهالي المدينة إلى التزام الهدوء والتعاون مع الأجهزة الأمنية."
)
# Each outlet edits the copy a little, as they do.
COPIES = [
    ("story-a1", "outlet-one", "سامراء خط أحمر", BODY),
    (
        "story-a2",
        "outlet-two",
        "قيادي في الفتح: سامراء خط أحمر",
        BODY.replace("اليوم", "اليوم الثلاثاء").replace("خلال الساعات الماضية", ""),
    ),
    (
        "story-a3",
        "outlet-three",
        "الفصائل: سامراء خط أحمر ولن نسمح بالاقتراب منها",
        BODY.replace("فيما دعا أهالي المدينة", "ودعا أهالي سامراء"),
    ),
]


def _raw(aid: str, source: str, title: str, body: str) -> bytes:
    return orjson.dumps(
        {"schema_version": 1, "id": aid, "source": source, "title": title, "body": body}
    )


async def test_three_outlets_one_story_alert(env: Env, worker: Worker) -> None:
    ids = {aid for aid, *_ in COPIES}
    for copy in COPIES:  # one by one, so the order (and so the revisions) is known
        await env.produce([_raw(*copy)])
    alerts = await env.read_all("alerts", expect=3, timeout=90)
    story = [a for a in alerts if a["rule"] == "red-line" and a["article"]["id"] in ids]
    assert len(story) == 3, story
    for alert in story:
        assert schema_errors("alert", alert) == []
    story.sort(key=lambda a: a["revision"])
    assert len({a["id"] for a in story}) == 1
    assert len({a["story_id"] for a in story}) == 1
    assert [a["status"] for a in story] == ["new", "updated", "updated"]
    assert [a["revision"] for a in story] == [1, 2, 3]
    assert [a["article"]["id"] for a in story] == ["story-a1", "story-a2", "story-a3"]
    assert [len(a["sources"]) for a in story] == [1, 2, 3]
    assert story[-1]["sources"] == ["outlet-one", "outlet-two", "outlet-three"]
    assert [a["severity"] for a in story] == ["high", "high", "critical"]
    assert story[0]["created_at"] == story[-1]["created_at"]

    # A copy published again: neither a new alert nor an update.
    await env.produce([_raw(*COPIES[1])])
    again = await env.read_all("alerts", expect=len(alerts), timeout=60, settle=8)
    assert len([a for a in again if a["id"] == story[0]["id"]]) == 3
    assert worker.alive


async def test_a_restarted_worker_still_joins_the_story(env: Env, tmp_path: Path) -> None:
    """The story stage's index lives in memory: after a restart it is rebuilt from the
    stories table (restored from its changelog), so the next outlet's copy updates the alert
    instead of opening a second story."""
    own = new_env(env.bootstrap, tmp_path, name="restart")
    own.rasid("topics")
    worker = Worker(own, tmp_path / "worker.log")
    worker.start()
    try:
        await own.produce([_raw(*COPIES[0])])
        first = await own.read_all("alerts", expect=1, timeout=90)
        worker.stop()
        worker.start()
        await own.produce([_raw(*COPIES[1])])
        alerts = await own.read_all("alerts", expect=2 * len(first), timeout=90)
    finally:
        worker.stop()
    story = sorted((a for a in alerts if a["rule"] == "red-line"), key=lambda a: a["revision"])
    assert [(a["status"], a["revision"]) for a in story] == [("new", 1), ("updated", 2)]
    assert len({a["id"] for a in story}) == 1
    assert story[-1]["sources"] == ["outlet-one", "outlet-two"]
    assert "story index rebuilt" in worker.log_path.read_text(errors="replace")
