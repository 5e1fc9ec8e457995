"""streams/worker/observe.py: bounded labels, latency observations, consumer lag, rule-set version."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from streams import metrics
from streams.settings import Settings
from streams.worker.observe import (
    NONE,
    OTHER,
    Observer,
    SourceLabels,
    consumer_lag,
    epoch,
    label_codes,
    region_codes,
    ruleset_version,
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    "configured,cap,seen,expected",
    [
        ((), 2, ["a", "b", "c", "a"], ["a", "b", OTHER, "a"]),
        (("x",), 0, ["x", "y", "x"], ["x", OTHER, "x"]),
        (("x",), 1, ["y", "z", "x", "y"], ["y", OTHER, "x", "y"]),
        ((), 5, ["", OTHER], [OTHER, OTHER]),
    ],
)
def test_source_labels_are_bounded(
    configured: tuple[str, ...], cap: int, seen: list[str], expected: list[str]
) -> None:
    labels = SourceLabels(configured, cap)
    assert [labels(s) for s in seen] == expected


def test_region_codes_come_from_the_gazetteer() -> None:
    codes = region_codes()
    assert {"IQ", "SY", "LB", "EG"} <= codes
    assert 100 < len(codes) < 260
    assert all(len(code) == 2 and code.isupper() for code in codes)


@pytest.mark.parametrize(
    "labels,allowed,expected",
    [
        ([{"code": "IQ"}, {"code": "SY"}], frozenset({"IQ", "SY"}), ["IQ", "SY"]),
        ([{"code": "IQ"}, {"code": "XX"}], frozenset({"IQ"}), ["IQ", OTHER]),
        ([{"code": "XX"}, {"code": "YY"}], frozenset({"IQ"}), [OTHER]),
        ([], frozenset({"IQ"}), [NONE]),
    ],
)
def test_label_codes(
    labels: list[dict[str, Any]], allowed: frozenset[str], expected: list[str]
) -> None:
    assert label_codes(labels, allowed) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1970-01-01T00:01:00+00:00", 60.0),
        ("1970-01-01T00:01:00Z", 60.0),
        ("1970-01-01T03:01:00+03:00", 60.0),
        ("yesterday", None),
        (None, None),
    ],
)
def test_epoch(text: str | None, expected: float | None) -> None:
    assert epoch(text) == expected


def test_consumer_lag_uses_committed_else_earliest() -> None:
    end = {"p0": 100, "p1": 50, "p2": 7}
    committed: dict[str, int | None] = {"p0": 90, "p1": None, "p2": 9}
    earliest = {"p1": 20}
    # p2: committed ahead of a stale end offset is never negative lag.
    assert consumer_lag(end, committed, earliest) == {"p0": 10, "p1": 30, "p2": 0}


def test_ruleset_version_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 3\nrules: []\n", encoding="utf-8")
    first = ruleset_version(path)
    assert first.startswith("3-") and len(first) == 10
    path.write_text("version: 3\nrules: [] # edited\n", encoding="utf-8")
    assert ruleset_version(path) not in {first, "unknown"}
    assert ruleset_version(tmp_path / "missing.yaml") == "unknown"


def _enriched(**extra: Any) -> dict[str, Any]:
    return {
        "id": "a1",
        "source": "obs-src",
        "regions": [{"code": "IQ"}, {"code": "ZZ"}],
        "topics": [{"code": "security"}],
        "published_at": "2026-01-01T00:00:00+00:00",
        "ingested_at": "2026-01-01T00:10:00+00:00",
        **extra,
    }


def test_article_enriched_counts_labels_and_latencies() -> None:
    observer = Observer()
    observer.configure(Settings(source_intervals={"obs-src": 900.0}), now=1000.0)
    assert value("rasid_source_expected_interval_seconds", source="obs-src") == 900.0
    assert value("rasid_source_last_article_timestamp_seconds", source="obs-src") == 1000.0

    before = {
        "articles": value("rasid_articles_total", source="obs-src"),
        "iq": value("rasid_article_regions_total", region="IQ"),
        "other": value("rasid_article_regions_total", region=OTHER),
        "security": value("rasid_article_topics_total", topic="security"),
        "none": value("rasid_article_topics_total", topic=NONE),
        "age": value("rasid_published_to_ingested_seconds_count"),
        "age_sum": value("rasid_published_to_ingested_seconds_sum"),
        "wait_le_1": value("rasid_raw_wait_seconds_bucket", le="1.0"),
        "wait": value("rasid_raw_wait_seconds_count"),
    }
    ingested = epoch("2026-01-01T00:10:00+00:00")
    assert ingested is not None
    message = SimpleNamespace(topic="t", partition=0, offset=5, timestamp=ingested - 0.5)
    observer.article_enriched(_enriched(), message, now=2000.0)
    observer.article_enriched(_enriched(topics=[], published_at=None), None, now=3000.0)

    assert value("rasid_articles_total", source="obs-src") == before["articles"] + 2
    assert value("rasid_article_regions_total", region="IQ") == before["iq"] + 2
    assert value("rasid_article_regions_total", region=OTHER) == before["other"] + 2
    assert value("rasid_article_topics_total", topic="security") == before["security"] + 1
    assert value("rasid_article_topics_total", topic=NONE) == before["none"] + 1
    assert value("rasid_source_last_article_timestamp_seconds", source="obs-src") == 3000.0
    # Only the first article has both timestamps: ten minutes old when ingested.
    assert value("rasid_published_to_ingested_seconds_count") == before["age"] + 1
    assert value("rasid_published_to_ingested_seconds_sum") == pytest.approx(
        before["age_sum"] + 600.0
    )
    # Half a second in Kafka: inside the 1 s bucket.
    assert value("rasid_raw_wait_seconds_count") == before["wait"] + 1
    assert value("rasid_raw_wait_seconds_bucket", le="1.0") == before["wait_le_1"] + 1


def test_alert_sent_observes_end_to_end_latency() -> None:
    observer = Observer()
    ingested = epoch("2026-01-01T00:10:00+00:00")
    assert ingested is not None
    count = value("rasid_ingested_to_alerted_seconds_count")
    le_005 = value("rasid_ingested_to_alerted_seconds_bucket", le="0.005")
    le_01 = value("rasid_ingested_to_alerted_seconds_bucket", le="0.01")
    le_600 = value("rasid_ingested_to_alerted_seconds_bucket", le="600.0")
    observer.alert_sent({"ingested_at": "2026-01-01T00:10:00+00:00"}, now=ingested + 0.007)
    observer.alert_sent({"ingested_at": "2026-01-01T00:10:00+00:00"}, now=ingested + 599)
    observer.alert_sent({"ingested_at": None}, now=ingested)
    assert value("rasid_ingested_to_alerted_seconds_count") == count + 2
    # 7 ms lands between the 5 ms and 10 ms buckets: the histogram resolves it.
    assert value("rasid_ingested_to_alerted_seconds_bucket", le="0.005") == le_005
    assert value("rasid_ingested_to_alerted_seconds_bucket", le="0.01") == le_01 + 1
    assert value("rasid_ingested_to_alerted_seconds_bucket", le="600.0") == le_600 + 2


def test_set_ruleset_keeps_one_version() -> None:
    metrics.set_ruleset(4, "1-aaaa")
    metrics.set_ruleset(5, "2-bbbb")
    assert value("rasid_rules_loaded") == 5
    assert value("rasid_ruleset_info", version="2-bbbb") == 1
    assert REGISTRY.get_sample_value("rasid_ruleset_info", {"version": "1-aaaa"}) is None
