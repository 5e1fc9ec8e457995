"""Agent tier: the real agents in faust's test_context (no broker). Sends to other topics are
captured, so these tests check what each agent emits for what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import pytest

from streams.settings import Settings
from streams.stories.cluster import story_id_for
from streams.stories.features import story_features
from streams.validation import schema_errors
from streams.worker import story_stage
from streams.worker.app import create_app
from streams.worker.context import WorkerContext
from tests.conftest import SAMPLE


class Capture:
    """Stands in for Topic.send: records (topic, key, value) and returns a resolved future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, Any]]] = []

    def install(self, rasid: WorkerContext) -> Any:
        capture = self

        async def fake_send(topic: Any, *, key: bytes, value: bytes) -> asyncio.Future[None]:
            capture.sent.append((topic.get_topic_name(), key, orjson.loads(value)))
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut

        return patch.object(type(rasid.topics.raw), "send", fake_send)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [value for name, _, value in self.sent if name == topic]

    def candidates(self) -> list[dict[str, Any]]:
        """The story candidates sent, in order: the items of the hot stage's batch messages
        (story-candidate v4, one per batch of raw articles), each a v3 candidate."""
        batches = self.on("rasid.alerts.stories")
        assert all(schema_errors("story-candidates", b) == [] for b in batches)
        return [c for batch in batches for c in batch["candidates"]]


@pytest.fixture
async def rasid(tmp_path: Path) -> AsyncIterator[WorkerContext]:
    settings = Settings(data_dir=tmp_path, web_port=16066)
    yield create_app(settings)


def _raw(body: str, **extra: Any) -> bytes:
    return orjson.dumps({"schema_version": 1, "source": "baghdadtoday", "body": body, **extra})


async def test_article_agent_enriches_and_forwards_the_sample(rasid: WorkerContext) -> None:
    """One raw message, one pass: the enriched article for other readers and the story
    candidate, sent together."""
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            event = await ctx.put(_raw(SAMPLE.read_text(encoding="utf-8")))
            assert ctx.results[0].startswith("alerts:"), ctx.results
    (enriched,) = capture.on("rasid.articles.enriched")
    (candidate,) = capture.candidates()
    assert candidate["article_id"] == enriched["id"]
    assert ctx.results[0] == f"alerts:{len(candidate['hits'])}"
    assert schema_errors("enriched-article", enriched) == []
    assert enriched["title"].startswith("الفصائل تعلق على أحداث سوريا")
    assert {"SY", "IQ"} <= {r["code"] for r in enriched["regions"]}
    assert event is not None
    assert capture.on("rasid.deadletter") == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'{"source": "s", "body": ""}', "empty_body"),
        (b'{"source": 5, "body": "x"}', "schema_violation"),
        (b'{"source": "s", "body": "\xc3\x28"}', "invalid_utf8"),
    ],
)
async def test_article_agent_dead_letters_bad_input_and_goes_on(
    rasid: WorkerContext, value: bytes, reason: str
) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            await ctx.put(value)
            await ctx.put(_raw("قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر."))
            assert ctx.results == {0: reason, 1: "alerts:0"}
    (letter,) = capture.on("rasid.deadletter")
    assert letter["reason"] == reason
    assert schema_errors("deadletter", letter) == []
    assert len(capture.on("rasid.articles.enriched")) == 1


async def test_processing_bug_is_dead_lettered_not_raised(rasid: WorkerContext) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with (
        capture.install(rasid),
        patch.object(rasid.pipeline, "enrich", side_effect=RuntimeError("boom")),
    ):
        async with agent.test_context() as ctx:
            await ctx.put(_raw("نص"))
            assert ctx.results[0] == "processing_error"
    (letter,) = capture.on("rasid.deadletter")
    assert letter["stage"] == "enrich"
    assert "boom" in letter["detail"]


async def test_article_agent_forwards_each_article_once_to_the_story_stage(
    rasid: WorkerContext,
) -> None:
    raw = _raw(SAMPLE.read_text(encoding="utf-8"))
    enriched, _ = rasid.pipeline.classify(raw)
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            await ctx.put(raw, key=enriched["id"].encode())
            await ctx.put(raw, key=enriched["id"].encode())
            first, second = ctx.results[0], ctx.results[1]
    assert len(capture.on("rasid.articles.enriched")) == 2  # written again: other readers
    assert capture.on("rasid.alerts") == []  # alerts come from the story stage only
    # every article goes to the story stage (stories know their size before any alert) ...
    candidate, again = capture.candidates()
    for message in (candidate, again):
        assert schema_errors("story-candidate", message) == []
        assert message["article_id"] == enriched["id"]
    assert any(h["rule"] == "red-line" for h in candidate["hits"])
    assert candidate["features"] == again["features"] and candidate["features"]["body"]
    assert first == f"alerts:{len(candidate['hits'])}"
    # ... but its hits only once: the same article again has every hit already forwarded
    assert (second, again["hits"]) == ("alerts:0", [])


async def _sample_candidate(rasid: WorkerContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sample article through the article agent: its enriched form and story candidate."""
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.articles"].test_context() as ctx:
            await ctx.put(_raw(SAMPLE.read_text(encoding="utf-8")))
    (enriched,) = capture.on("rasid.articles.enriched")
    (candidate,) = capture.candidates()
    return enriched, candidate


def _other_story(candidate: dict[str, Any], article_id: str, source: str) -> dict[str, Any]:
    """An unrelated article (a football match) from another outlet, with the same hits."""
    features = story_features(
        "المغرب يفوز على جنوب أفريقيا وديا",
        "فاز المنتخب المغربي على نظيره الجنوب أفريقي في مباراة ودية أقيمت على ملعب محمد الخامس.",
    )
    return {**_copy(candidate, article_id, source), "features": features.as_message()}


def _copy(candidate: dict[str, Any], article_id: str, source: str) -> dict[str, Any]:
    """The same story from another outlet: same features, another article and source."""
    hits = [
        {**h, "article": {**h["article"], "id": article_id, "source": source}}
        for h in candidate["hits"]
    ]
    return {**candidate, "article_id": article_id, "source": source, "hits": hits}


async def test_story_agent_opens_then_updates_one_alert_per_rule(rasid: WorkerContext) -> None:
    enriched, candidate = await _sample_candidate(rasid)
    capture = Capture()
    rules = {h["rule"] for h in candidate["hits"]}
    feed = [
        candidate,
        candidate,  # forwarded again after a crash: nothing new
        _copy(candidate, "copy-2", "outlet2"),
        _copy(candidate, "copy-3", "outlet3"),
    ]
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            for message in feed:
                await ctx.put(orjson.dumps(message), key=message["article_id"].encode())
            results = [ctx.results[i] for i in range(len(feed))]
    n = len(rules)
    assert results == [f"alerts:{n}", "alerts:0", f"alerts:{n}", f"alerts:{n}"]
    alerts = capture.on("rasid.alerts")
    for alert in alerts:
        assert schema_errors("alert", alert) == []
    red = [a for a in alerts if a["rule"] == "red-line"]
    assert [(a["status"], a["revision"]) for a in red] == [
        ("new", 1),
        ("updated", 2),
        ("updated", 3),
    ]
    assert len({a["id"] for a in red}) == 1  # one alert id for the story
    assert red[-1]["sources"] == ["baghdadtoday", "outlet2", "outlet3"]
    assert [a["id"] for a in red[-1]["articles"]] == [enriched["id"], "copy-2", "copy-3"]
    assert (red[0]["severity"], red[-1]["severity"]) == ("high", "critical")  # 3 sources
    assert len({(a["id"], a["revision"]) for a in alerts}) == len(alerts)


async def test_story_alerts_of_the_previous_release_are_converted_and_updated(
    rasid: WorkerContext,
) -> None:
    """The previous release kept one story-alerts record per alert id ({"alert", "at"}); after a
    restart on such a changelog the story's alerts are updated (not opened again), replays stay
    silent, and the old records are replaced by the story's one record."""
    enriched, candidate = await _sample_candidate(rasid)
    capture = Capture()
    stage = rasid.stories
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(candidate), key=b"first")
            first = capture.on("rasid.alerts")
            (story_id,) = list(stage.alerts)
            # what the previous release had written instead: one record per alert, whole alerts
            at = stage.alerts[story_id]["at"]
            stage.alerts.data.pop(story_id)
            for alert in first:
                stage.alerts.data[alert["id"]] = {"alert": alert, "at": at}
            stage.stale = True  # as after a partition assignment (the table recovered)
            for message in [candidate, _copy(candidate, "copy-2", "outlet2")]:
                await ctx.put(orjson.dumps(message), key=message["article_id"].encode())
            results = [ctx.results[i] for i in range(3)]
    n = len({h["rule"] for h in candidate["hits"]})
    assert results == [f"alerts:{n}", "alerts:0", f"alerts:{n}"]  # the replay: nothing
    updated = capture.on("rasid.alerts")[n:]
    assert {a["id"] for a in updated} == {a["id"] for a in first}
    assert {(a["status"], a["revision"]) for a in updated} == {("updated", 2)}
    assert all(a["created_at"] == candidate["at"] for a in updated)  # from the old record
    assert all([r["id"] for r in a["articles"]] == [enriched["id"], "copy-2"] for a in updated)
    assert list(stage.alerts) == [story_id]  # the old records are gone
    assert set(story_stage.alerts_of(stage.alerts[story_id])) == {a["id"] for a in first}


async def test_story_agent_rebuilds_its_index_after_partitions_are_assigned(
    rasid: WorkerContext,
) -> None:
    """The index and the document frequencies live in memory: a worker that restarts or takes
    the story partition over rebuilds them from the tables, so a later copy still joins."""
    _, candidate = await _sample_candidate(rasid)
    capture = Capture()
    stage = rasid.stories
    copy = _copy(candidate, "copy-2", "outlet2")
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(candidate), key=candidate["article_id"].encode())
            assert stage.index.postings and not stage.stale and stage.df.docs == 1
            stage.last_snapshot = 0.0  # as if the snapshot interval had passed
            await ctx.put(orjson.dumps(_other_story(candidate, "x", "o")), key=b"x")
            assert stage.docfreq["df-00"]["docs"] == 2  # the snapshot, written by the agent
            await rasid.app.on_partitions_assigned.send(set())
            assert stage.stale and not stage.index.postings  # what a new owner starts with
            await ctx.put(orjson.dumps(copy), key=b"copy-2")
    red = [a for a in capture.on("rasid.alerts") if a["rule"] == "red-line"]
    assert [(a["status"], a["revision"]) for a in red if a["story_id"] == red[0]["story_id"]] == [
        ("new", 1),
        ("updated", 2),
    ]
    assert len(stage.stories) == 2 and stage.df.docs == 3  # restored from the snapshot, + 1


async def test_story_agent_clusters_every_article_and_ignores_same_outlet_copies(
    rasid: WorkerContext,
) -> None:
    _, candidate = await _sample_candidate(rasid)
    capture = Capture()
    stage = rasid.stories
    quiet = {**_copy(candidate, "quiet-1", "outlet2"), "hits": []}  # fired no rule
    # the first outlet files the same text again under another section (another id)
    refiled = _copy(candidate, "refiled", candidate["source"])
    later = _copy(candidate, "later", "outlet3")
    # refiled once more after the red-line rule changed: that rule has no alert on the story
    # at its new version yet, so the copy opens one; the other rules' alerts stay as they are
    bumped = _copy(candidate, "refiled-2", candidate["source"])
    bumped["hits"] = [
        {**h, "rule_version": h["rule_version"] + 1}
        for h in bumped["hits"]
        if h["rule"] == "red-line"
    ]
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            for message in (quiet, candidate, refiled, later, bumped):
                await ctx.put(orjson.dumps(message), key=message["article_id"].encode())
            results = [ctx.results[i] for i in range(5)]
    n = len({h["rule"] for h in candidate["hits"]})
    assert results == ["alerts:0", f"alerts:{n}", "alerts:0", f"alerts:{n}", "alerts:1"]
    (story,) = stage.stories.values()
    assert story["articles"] == ["quiet-1", candidate["article_id"], "later"]
    red = [a for a in capture.on("rasid.alerts") if a["rule"] == "red-line"]
    # the alert opens with the first alerting article, already knowing the quiet one's story
    assert [(a["status"], a["revision"], a["rule_version"]) for a in red] == [
        ("new", 1, red[0]["rule_version"]),
        ("updated", 2, red[0]["rule_version"]),
        ("new", 1, red[0]["rule_version"] + 1),
    ]
    assert {a["story_id"] for a in red} == {story_id_for("quiet-1")}


V3_ONLY = ("schema_version", "revision", "event_at", "title", "regions", "topics")


async def test_story_agent_still_reads_version_2_candidates(rasid: WorkerContext) -> None:
    """A candidate from a worker of the previous release (a rolling upgrade): revision 1."""
    _, candidate = await _sample_candidate(rasid)
    old = {k: v for k, v in candidate.items() if k not in V3_ONLY}
    old.update(schema_version=2)
    assert schema_errors("story-candidate-v2", old) == []
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(old), key=b"old")
            assert ctx.results[0] == f"alerts:{len({h['rule'] for h in old['hits']})}"
    alerts = capture.on("rasid.alerts")
    assert {a["status"] for a in alerts} == {"new"}
    assert all("revision" not in a["articles"][0] for a in alerts)  # revision 1
    assert {a["story_id"] for a in alerts} == {story_id_for(candidate["article_id"])}


async def test_story_agent_still_reads_version_1_candidates(rasid: WorkerContext) -> None:
    """A candidate from a worker two releases back keeps its alerts: its MinHash signature is
    not comparable, so it opens a story of its own."""
    _, candidate = await _sample_candidate(rasid)
    old = {k: v for k, v in candidate.items() if k not in ("features", *V3_ONLY)}
    old.update(schema_version=1, signature_params="s1-b64-r2", signature=[1, 2, 3])
    assert schema_errors("story-candidate-v1", old) == []
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(old), key=b"old")
            assert ctx.results[0] == f"alerts:{len({h['rule'] for h in old['hits']})}"
    assert {a["status"] for a in capture.on("rasid.alerts")} == {"new"}


async def test_story_agent_forgets_stories_older_than_the_window(rasid: WorkerContext) -> None:
    from datetime import UTC, datetime, timedelta

    _, candidate = await _sample_candidate(rasid)
    capture = Capture()
    stage = rasid.stories
    old_at = (datetime.now(UTC) - timedelta(hours=49)).isoformat()  # window: 48 h
    old = {**_copy(candidate, "old-1", "outlet1"), "at": old_at}
    fresh = _other_story(candidate, "new-1", "outlet2")
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(old), key=b"old-1")
            assert len(stage.stories) == 1 and len(stage.alerts) >= 1
            stage.last_prune = 0.0  # as if the prune interval had passed
            await ctx.put(orjson.dumps(fresh), key=b"new-1")
    # Only the fresh story is left: the old one, its postings and its alerts are gone.
    assert [s["articles"] for s in stage.stories.values()] == [["new-1"]]
    assert list(stage.alerts) == list(stage.stories)  # one record: the fresh story's alerts
    entries = [
        e for record in stage.alerts.values() for e in story_stage.alerts_of(record).values()
    ]
    assert entries and all(e["alert"]["articles"][-1]["id"] == "new-1" for e in entries)
    live = {sid for posting in stage.index.postings.values() for sid in posting}
    assert live == set(stage.stories)


async def test_story_stage_dead_letters_a_bad_candidate_and_goes_on(rasid: WorkerContext) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.stories"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            await ctx.put(b'{"schema_version": 1}')  # not a story candidate
            await ctx.put(b"{not json")
            assert list(ctx.results.values()) == ["schema_violation", "invalid_json"]
    letters = capture.on("rasid.deadletter")
    assert [letter["reason"] for letter in letters] == ["schema_violation", "invalid_json"]
    assert all(letter["stage"] == "alert" for letter in letters)
    assert all(schema_errors("deadletter", letter) == [] for letter in letters)
    assert capture.on("rasid.alerts") == []


async def test_a_revised_article_updates_its_story_and_alert_once_per_revision(
    rasid: WorkerContext,
) -> None:
    """A one-line «عاجل» (revision 1, no rule fires) grown into the full article (revision 2,
    same id): the article agent forwards the new revision's hits once, and the story stage
    keeps the article in the story its first version opened; revision 3 updates the alert
    in place (same article, same source), and a replayed revision changes nothing."""
    body = SAMPLE.read_text(encoding="utf-8")
    first = _raw("عاجل | مصدر أمني: اشتباكات قرب الحدود", id="bt-1")
    grown = _raw(body, id="bt-1", schema_version=2, revision=2)
    latest = _raw(body + "\nتحديث: ارتفاع عدد المصابين.", id="bt-1", schema_version=2, revision=3)
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.articles"].test_context() as ctx:
            for raw in (first, grown, grown, latest):
                await ctx.put(raw, key=b"bt-1")
            results = [ctx.results[i] for i in range(4)]
        candidates = capture.candidates()
        assert [(c["article_id"], c["revision"]) for c in candidates] == [
            ("bt-1", 1),
            ("bt-1", 2),
            ("bt-1", 2),
            ("bt-1", 3),
        ]
        n = len(candidates[1]["hits"])
        assert n > 0 and results == ["alerts:0", f"alerts:{n}", "alerts:0", f"alerts:{n}"]
        assert [e["revision"] for e in capture.on("rasid.articles.enriched")] == [1, 2, 2, 3]
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            for message in [*candidates, candidates[1]]:  # and revision 2 forwarded again
                await ctx.put(orjson.dumps(message), key=b"bt-1")
            stories = [ctx.results[i] for i in range(5)]
    assert stories == ["alerts:0", f"alerts:{n}", "alerts:0", f"alerts:{n}", "alerts:0"]
    red = [a for a in capture.on("rasid.alerts") if a["rule"] == "red-line"]
    assert [(a["status"], a["revision"], a["story_id"]) for a in red] == [
        ("new", 1, story_id_for("bt-1")),
        ("updated", 2, story_id_for("bt-1")),
    ]
    assert [[(x["id"], x["revision"]) for x in a["articles"]] for a in red] == [
        [("bt-1", 2)],
        [("bt-1", 3)],
    ]
    assert red[-1]["sources"] == ["baghdadtoday"]
    for alert in red:
        assert schema_errors("alert", alert) == []


def _unrelated(candidate: dict[str, Any], n: int, at: str) -> dict[str, Any]:
    """The n-th of a series of articles that share no word: each opens a story of its own."""
    letters = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"

    def word(k: int) -> str:  # a made-up word no other article of the series has
        x = n * 16 + k
        return letters[x % 27] + letters[(x // 27) % 27] + "ا" + letters[(x // 729) % 27] + "ي"

    features = story_features(
        " ".join(word(k) for k in range(4)), " ".join(word(k) for k in range(4, 16))
    )
    return {
        **candidate,
        "article_id": f"un-{n}",
        "source": f"outlet{n}",
        "at": at,
        "hits": [],
        "features": features.as_message(),
    }


async def test_story_stage_closes_the_least_recent_stories_beyond_its_capacity(
    rasid: WorkerContext,
) -> None:
    """Memory stays bounded whatever the rate: past max_live + 10% live stories, the least
    recently reported close (down to max_live - 10%), counted as closed for capacity."""
    from datetime import UTC, datetime, timedelta

    from streams import metrics

    _, candidate = await _sample_candidate(rasid)
    stage = rasid.stories
    stage.max_live = 10  # slack 1: closing starts above 11, down to 9
    closed = metrics.STORIES_CLOSED.labels(reason="capacity")
    before = closed._value.get()
    start = datetime.now(UTC) - timedelta(hours=1)
    feed = [_unrelated(candidate, n, (start + timedelta(minutes=n)).isoformat()) for n in range(13)]
    async with rasid.app.agents["rasid.stories"].test_context() as ctx:
        for n, item in enumerate(feed):
            await ctx.put(orjson.dumps(item), key=item["article_id"].encode())
            if n == 11:  # 12 stories: the 12th was processed after the check (11 live)
                assert len(stage.index.seen) == 12
    # before the 13th: 12 > 11, so the 3 least recent closed (9 left), then the 13th opened
    live = sorted(a for s in stage.stories.values() for a in s["articles"])
    assert live == sorted(f"un-{n}" for n in range(3, 13))
    assert len(stage.index.seen) == 10
    assert closed._value.get() - before == 3
    indexed = {sid for posting in stage.index.postings.values() for sid in posting}
    assert indexed == set(stage.stories)
    assert metrics.STORIES_LIVE._value.get() == 9  # as the last check saw it
