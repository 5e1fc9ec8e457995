"""Webhook policy, pure: signatures, delivery ids, backoff, retryable statuses, quiet hours,
throttling."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from streams.webhooks.policy import (
    QuietHours,
    Throttle,
    backoff,
    delivery_id,
    hold_until,
    retryable,
    sign,
    verify,
)
from tests.unit.api.test_access import _alert


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"alert":"\xd8\xae"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret-s3cret-s3cret", body) == "sha256=" + expected
    assert verify("s3cret-s3cret-s3cret", body, "sha256=" + expected)
    assert not verify("s3cret-s3cret-s3cret", body + b" ", "sha256=" + expected)


def test_delivery_id_is_stable_per_revision() -> None:
    assert delivery_id("s", "a", 1) == delivery_id("s", "a", 1)
    assert len({delivery_id("s", "a", 1), delivery_id("s", "a", 2), delivery_id("t", "a", 1)}) == 3


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]
)
def test_backoff_is_exponential_capped_and_jittered(attempt: int, ceiling: float) -> None:
    rng = random.Random(attempt)
    delays = [backoff(attempt, base=1.0, cap=60.0, rng=rng) for _ in range(300)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.8 * ceiling  # the whole range is used …
    assert len(set(delays)) > 250  # … and spread out (jitter)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(None, True), (500, True), (503, True), (429, True), (400, False), (404, False), (410, False)],
)
def test_retryable(status: int | None, retry: bool) -> None:
    assert retryable(status) is retry


BAGHDAD = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("window", "local", "active"),
    [
        ("22:00-07:00", time(23, 30), True),
        ("22:00-07:00", time(3, 0), True),
        ("22:00-07:00", time(7, 0), False),
        ("22:00-07:00", time(12, 0), False),
        ("13:00-14:00", time(13, 30), True),
        ("13:00-14:00", time(14, 30), False),
    ],
)
def test_quiet_hours(window: str, local: time, active: bool) -> None:
    quiet = QuietHours.parse(window, BAGHDAD)
    now = datetime(2024, 12, 1, local.hour, local.minute, tzinfo=BAGHDAD).astimezone(UTC)
    assert quiet.active(now) is active


def test_quiet_hours_hold_all_but_critical() -> None:
    quiet = QuietHours.parse("22:00-07:00", BAGHDAD)
    night = datetime(2024, 12, 1, 23, 30, tzinfo=BAGHDAD)
    until = hold_until(_alert(severity="high"), quiet, night)
    assert until == datetime(2024, 12, 2, 7, 0, tzinfo=BAGHDAD)
    assert hold_until(_alert(severity="critical"), quiet, night) is None  # bypass
    assert hold_until(_alert(), quiet, datetime(2024, 12, 1, 12, 0, tzinfo=BAGHDAD)) is None
    assert hold_until(_alert(), None, night) is None


def test_throttle_per_rule_and_story_lets_escalations_through() -> None:
    t = Throttle(600)
    assert t.allow(_alert(), 0)
    assert not t.allow(_alert(), 10)  # same rule and story, within 10 min
    assert t.allow(_alert(story_id="st-" + "1" * 24), 10)  # another story
    assert t.allow(_alert(rule="bombing-ied"), 10)  # another rule
    assert t.allow(_alert(severity="critical"), 20)  # escalated: news
    assert t.allow(_alert(), 700)  # the window passed
    assert Throttle(0).allow(_alert(), 0) and Throttle(0).allow(_alert(), 0)
