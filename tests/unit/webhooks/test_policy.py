"""Webhook policy, pure: signatures, delivery ids, backoff, retryable statuses, quiet hours,
throttling."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from streams.webhooks.policy import (
    QuietHours,
    Throttle,
    address_allowed,
    backoff,
    delivery_id,
    hold_until,
    mask_url,
    parse_ip,
    retryable,
    sign,
    url_problem,
    verify,
)
from tests.unit.api.test_access import _alert


def test_signature_is_hmac_sha256_of_the_timestamp_and_the_body() -> None:
    body = b'{"alert":"\xd8\xae"}'
    secret = "s3cret-s3cret-s3cret"
    expected = hmac.new(secret.encode(), b"1733050000." + body, hashlib.sha256).hexdigest()
    header = sign(secret, body, 1733050000)
    assert header == f"t=1733050000,v1={expected}"
    assert verify(secret, body, header, now=1733050000)
    assert verify(secret, body, header, now=1733050000 + 299)  # within the tolerance
    assert not verify(secret, body + b" ", header, now=1733050000)  # another body
    assert not verify("another-secret-of-length", body, header, now=1733050000)


def test_a_replayed_request_is_refused() -> None:
    body, secret = b'{"type":"alert"}', "s3cret-s3cret-s3cret"
    header = sign(secret, body, 1733050000)
    assert not verify(secret, body, header, now=1733050000 + 301)  # captured, re-sent later
    assert not verify(secret, body, header, now=1733050000 - 301)
    assert verify(secret, body, header, now=1733050000 + 3600, tolerance=4000)
    # A new time cannot be put on an old signature …
    forged = header.replace("t=1733050000", "t=1733053600")
    assert not verify(secret, body, forged, now=1733053600)
    # … nor can the old body-only signature pass, nor junk.
    old = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for bad in (old, "", "t=,v1=", "v1=" + header.split("v1=")[1], f"t=1,t=2,{header}"):
        assert not verify(secret, body, bad, now=1733050000)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.org/rasid", "https://hooks.example.org/rasid"),
        (
            "https://hooks.example.org/h?token=abc123&x=1",
            "https://hooks.example.org/h?token=***&x=***",
        ),
        ("https://bob:hunter2@hooks.example.org/h", "https://***@hooks.example.org/h"),
        ("https://hooks.example.org/h#frag", "https://hooks.example.org/h"),
    ],
)
def test_listed_urls_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


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


# ---------------------------------------------------------------- where deliveries may go
@pytest.mark.parametrize(
    ("url", "refused_by_default", "refused_when_private_allowed"),
    [
        ("https://hooks.example.org/rasid", False, False),
        ("http://93.184.216.34:8080/hook", False, False),  # a global address
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/h", False, False),
        ("http://127.0.0.1:8080/hook", True, False),  # loopback
        ("http://127.1/hook", True, False),  # … shortened
        ("http://0x7f000001/hook", True, False),  # … one hex number
        ("http://2130706433/hook", True, False),  # … one decimal number
        ("http://0177.0.0.1/hook", True, False),  # … octal
        ("http://0x7f.0.0.1/hook", True, False),  # … hex parts
        ("http://017700000001/hook", True, False),  # … one octal number
        ("http://[::1]/hook", True, False),
        ("http://[::ffff:127.0.0.1]/hook", True, False),  # IPv4-mapped
        ("http://[64:ff9b::a9fe:a9fe]/hook", True, False),  # NAT64 of the metadata address
        ("http://localhost:8080/hook", True, False),
        ("http://api.localhost/hook", True, False),
        ("http://10.0.0.5/hook", True, False),  # private
        ("http://172.16.3.4/hook", True, False),
        ("http://192.168.1.1/hook", True, False),
        ("http://100.64.0.1/hook", True, False),  # carrier-grade NAT
        ("http://[fd00:ec2::254]/latest", True, False),  # unique local (AWS metadata, IPv6)
        ("http://169.254.169.254/latest/meta-data/", True, False),  # link-local: metadata
        ("http://0xa9fea9fe/latest/meta-data/", True, False),  # … in hex
        ("http://2852039166/latest/meta-data/", True, False),  # … in decimal
        ("http://[fe80::1]/hook", True, False),
        ("http://224.0.0.1/hook", True, False),  # multicast
        ("http://0.0.0.0/hook", True, True),  # unspecified: never
        ("http://[::]/hook", True, True),
        ("http:///hook", True, True),  # no host
        ("http://:8080/hook", True, True),
        ("https://alice:hunter2@hooks.example.org/h", True, True),  # credentials
        ("https://tok3n@hooks.example.org/h", True, True),
        ("https://hooks.example.org:0/h", True, True),
        ("https://hooks.example.org:99999/h", True, True),
        ("file:///etc/passwd", True, True),
        ("gopher://hooks.example.org/", True, True),
    ],
)
def test_webhook_url_policy(
    url: str, refused_by_default: bool, refused_when_private_allowed: bool
) -> None:
    problem = url_problem(url)
    assert (problem is not None) is refused_by_default, problem
    assert (url_problem(url, allow_private=True) is not None) is refused_when_private_allowed
    for message in (problem, url_problem(url, allow_private=True)):
        assert message is None or all(w not in message for w in ("alice", "hunter2", "tok3n"))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("example.org", None),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
        ("4294967296", None),  # 2^32: not an address
        ("08.0.0.1", None),  # not octal
        ("1e3", None),
    ],
)
def test_literal_addresses_in_every_form(host: str, address: str | None) -> None:
    parsed = parse_ip(host)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    ("address", "default", "private_allowed"),
    [
        ("93.184.216.34", True, True),
        ("127.0.0.1", False, True),
        ("10.1.2.3", False, True),
        ("169.254.169.254", False, True),
        ("::ffff:10.0.0.1", False, True),
        ("2002:7f00:1::", False, True),  # 6to4 of 127.0.0.1
        ("0.0.0.0", False, False),
        ("2606:4700::1111", True, True),
    ],
)
def test_resolved_addresses(address: str, default: bool, private_allowed: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert address_allowed(ip) is default
    assert address_allowed(ip, allow_private=True) is private_allowed
