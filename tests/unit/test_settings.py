from __future__ import annotations

from datetime import timedelta

import pytest

from streams.settings import Settings


def test_defaults() -> None:
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.web_port == 6066
    assert s.topics == (
        "rasid.articles.raw",
        "rasid.articles.enriched",
        "rasid.alerts",
        "rasid.deadletter",
    )
    assert s.topic_partitions == 6


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_KAFKA_BOOTSTRAP", "broker:29092")
    monkeypatch.setenv("RASID_WEB_PORT", "7000")
    monkeypatch.setenv("RASID_SOURCE_UTC_OFFSETS", '{"bbc": "+00:00", "irna": "+03:30"}')
    s = Settings()
    assert s.kafka_bootstrap == "broker:29092"
    assert s.web_port == 7000
    assert s.tz_for_source("bbc").utcoffset(None) == timedelta(0)
    assert s.tz_for_source("irna").utcoffset(None) == timedelta(hours=3, minutes=30)
    assert s.tz_for_source("baghdadtoday").utcoffset(None) == timedelta(hours=3)


def test_bad_offset_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_DEFAULT_UTC_OFFSET", "+ab:cd")
    with pytest.raises(ValueError):
        Settings()
