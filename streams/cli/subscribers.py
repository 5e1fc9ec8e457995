"""`rasid api`, `rasid keys create|list|revoke`, `rasid subscriptions add|list|remove`,
`rasid webhooks` (docs/subscribers.md)."""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import orjson

from streams.cli import broker
from streams.errors import CommandFailed, UsageError
from streams.settings import Settings
from streams.severity import SEVERITIES
from streams.trends.detector import LEVELS

# ---------------------------------------------------------------- compacted topics


async def read_compacted(settings: Settings, topic: str) -> dict[str, dict[str, Any]]:
    """A compacted topic read whole: key → last value (tombstones remove the key)."""
    from aiokafka import AIOKafkaConsumer

    from streams.kafka.partitions import wait_for_partitions

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    out: dict[str, dict[str, Any]] = {}
    try:
        await consumer.start()
        tps = await wait_for_partitions(consumer, topic, timeout=5.0)
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    key = (r.key or b"").decode()
                    if r.value is None:
                        out.pop(key, None)
                    else:
                        out[key] = orjson.loads(r.value)
    finally:
        await consumer.stop()
    return out


async def write_record(
    settings: Settings, topic: str, key: str, value: dict[str, Any] | None
) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.kafka import names as topics

    await topics.ensure(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        await producer.start()
        body = orjson.dumps(value) if value is not None else None
        await producer.send_and_wait(topic, body, key=key.encode())
    finally:
        await producer.stop()


def _now() -> str:
    from streams.times import utcnow

    return utcnow().isoformat()


def _print(value: Any) -> None:
    print(orjson.dumps(value).decode(), flush=True)


# ---------------------------------------------------------------- api
def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from streams.api.server import serve
    from streams.logs import setup_logging

    setup_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0


# ---------------------------------------------------------------- keys
def _upper(values: list[str] | None) -> list[str]:
    return sorted(
        {v.strip().upper() for item in values or [] for v in item.split(",") if v.strip()}
    )


def _plain(values: list[str] | None) -> list[str]:
    return sorted({v.strip() for item in values or [] for v in item.split(",") if v.strip()})


def _regions(values: list[str] | None) -> list[str]:
    """--region values: ISO 3166 alpha-2 codes (IQ, SY…), repeated or comma-separated."""
    codes = _upper(values)
    bad = [c for c in codes if not re.fullmatch(r"[A-Z]{2}", c)]
    if bad:
        raise UsageError(
            f"--region {', '.join(bad)}: regions are two-letter ISO 3166 codes, e.g. IQ, SY"
        )
    return codes


def _http_url(url: str, allow_private: bool) -> str:
    """The webhook URL: http or https, a host, no credentials, and no address deliveries may
    not reach (policy.url_problem; and, if the host resolves now, none of its addresses).
    Not echoed in errors: a webhook URL often carries a token."""
    import ipaddress
    import socket

    from streams.webhooks.policy import address_allowed, url_problem

    problem = url_problem(url, allow_private=allow_private)
    if problem is not None:
        raise UsageError(problem)
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []  # not resolvable now: the dispatcher checks again before every delivery
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address_allowed(address, allow_private=allow_private):
            raise UsageError(
                "the webhook URL's host resolves to a loopback, private, link-local or reserved "
                "address (RASID_WEBHOOK_ALLOW_PRIVATE=true allows private receivers)"
            )
    return url


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from streams.api.access import ApiKey, hash_token, new_token
    from streams.kafka import names as topics
    from streams.validation import check_outgoing

    topic = topics.apikeys(settings)
    if args.keys_command == "create":
        if not args.name.strip():
            raise UsageError("the key needs a name")
        regions = _regions(args.region)
        key_id, token = new_token()
        key = ApiKey(
            id=key_id,
            name=args.name,
            token_hash=hash_token(token),
            regions=frozenset(regions),
            topics=frozenset(_plain(args.topic)),
            created_at=_now(),
        )
        record = key.record()
        check_outgoing("apikey", record)
        broker.require(settings)
        asyncio.run(write_record(settings, topic, key_id, record))
        shown = {k: v for k, v in record.items() if k != "token_sha256"}
        # The only time the token is shown: it is stored hashed.
        _print({**shown, "token": token})
        return 0
    broker.require(settings)
    records = asyncio.run(read_compacted(settings, topic))
    if args.keys_command == "list":
        for record in records.values():
            _print({k: v for k, v in record.items() if k != "token_sha256"})
        return 0
    if args.id not in records:  # revoke
        raise CommandFailed(f"no key {args.id} on {topic}")
    asyncio.run(write_record(settings, topic, args.id, None))
    _print({"revoked": args.id})
    return 0


# ---------------------------------------------------------------- subscriptions
def _check_quiet_hours(window: str, utc_offset: str) -> None:
    """--quiet-hours HH:MM-HH:MM and --quiet-utc-offset, as the webhooks service reads them."""
    from streams.settings import _parse_utc_offset
    from streams.webhooks.policy import QuietHours

    if not re.fullmatch(r"[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]", window):
        raise UsageError(f"--quiet-hours {window}: expected HH:MM-HH:MM, e.g. 22:00-07:00")
    try:
        QuietHours.parse(window, _parse_utc_offset(utc_offset))
    except ValueError as exc:
        raise UsageError(f"--quiet-hours {window} --quiet-utc-offset {utc_offset}: {exc}") from None


def cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka import names as topics
    from streams.validation import check_outgoing

    topic = topics.subscriptions(settings)
    if args.sub_command == "add":
        url = _http_url(args.url, settings.webhook_allow_private)
        if args.secret is not None and len(args.secret) < 16:
            raise UsageError("--secret must be at least 16 characters")  # never echoed
        if args.throttle < 0:
            raise UsageError(f"--throttle must be 0 or more seconds, got {args.throttle}")
        if args.digest_minutes < 0:
            raise UsageError(f"--digest-minutes must be 0 or more, got {args.digest_minutes}")
        regions = _regions(args.region)
        kinds = _plain(args.kind) or ["alerts"]
        if not set(kinds) <= {"alerts", "trends"}:
            raise UsageError("--kind must be alerts, trends or both")
        quiet = None
        if args.quiet_hours:
            quiet = {"window": args.quiet_hours, "utc_offset": args.quiet_utc_offset}
            _check_quiet_hours(args.quiet_hours, args.quiet_utc_offset)  # fail now, not later
        sub_id = secrets.token_hex(6)
        record = {
            "schema_version": 2,
            "id": sub_id,
            "name": args.name,
            "url": url,
            "secret": args.secret or secrets.token_urlsafe(32),
            # --region, --topic and --rule select trends too; --severity alerts, --level trends
            "kinds": kinds,
            "filters": {
                "regions": regions,
                "topics": _plain(args.topic),
                "rules": _plain(args.rule),
                "min_severity": args.severity,
            },
            "trend_filters": {
                "regions": regions,
                "topics": _plain(args.topic),
                "rules": _plain(args.rule),
                "min_level": args.level,
            },
            "throttle_seconds": args.throttle,
            "quiet_hours": quiet,
            "digest_minutes": args.digest_minutes,
            "created_at": _now(),
        }
        check_outgoing("subscription", record)
        broker.require(settings)
        asyncio.run(write_record(settings, topic, sub_id, record))
        _print(record)  # the secret is shown here: the receiver needs it to check signatures
        return 0
    broker.require(settings)
    records = asyncio.run(read_compacted(settings, topic))
    if args.sub_command == "list":
        from streams.webhooks.policy import mask_url

        for record in records.values():
            _print({**record, "secret": "…", "url": mask_url(record["url"])})
        return 0
    if args.id not in records:  # remove
        raise CommandFailed(f"no subscription {args.id} on {topic}")
    asyncio.run(write_record(settings, topic, args.id, None))
    _print({"removed": args.id})
    return 0


# ---------------------------------------------------------------- webhooks
def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from streams.logs import setup_logging
    from streams.webhooks.service import serve

    setup_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0


def register(sub: Any) -> None:
    sub.add_parser(
        "api", help="serve the subscriber API: /alerts, /alerts/stream (SSE), the live page"
    ).set_defaults(func=cmd_api)

    p = sub.add_parser("keys", help="API keys: create NAME | list | revoke ID")
    keys = p.add_subparsers(dest="keys_command", required=True)
    c = keys.add_parser("create", help="create a key; prints its token once")
    c.add_argument("name")
    c.add_argument("--region", action="append", help="scope: ISO code(s); repeat or comma-separate")
    c.add_argument("--topic", action="append", help="scope: topic code(s)")
    keys.add_parser("list", help="list keys (never their tokens)")
    r = keys.add_parser("revoke", help="revoke a key by id")
    r.add_argument("id")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("subscriptions", help="webhook subscriptions: add URL | list | remove ID")
    subs = p.add_subparsers(dest="sub_command", required=True)
    a = subs.add_parser("add", help="add a webhook subscription; prints it with its secret")
    a.add_argument("url")
    a.add_argument("--name")
    a.add_argument("--secret", help="HMAC secret (default: a random one, printed)")
    a.add_argument("--region", action="append")
    a.add_argument("--topic", action="append")
    a.add_argument("--rule", action="append")
    a.add_argument("--severity", choices=SEVERITIES)
    a.add_argument(
        "--kind",
        action="append",
        help="alerts (default), trends, or both (repeat or comma-separate): what is delivered",
    )
    a.add_argument("--level", choices=LEVELS, help="minimum level of the trends delivered")
    a.add_argument("--throttle", type=float, default=0.0, help="seconds per rule and story")
    a.add_argument("--quiet-hours", help="e.g. 22:00-07:00 (critical alerts still go)")
    a.add_argument("--quiet-utc-offset", default="+03:00", help="time zone of --quiet-hours")
    a.add_argument("--digest-minutes", type=int, default=0, help="one POST every N minutes")
    subs.add_parser("list", help="list subscriptions (secrets hidden)")
    rm = subs.add_parser("remove", help="remove a subscription by id")
    rm.add_argument("id")
    p.set_defaults(func=cmd_subscriptions)

    sub.add_parser(
        "webhooks", help="deliver alerts to the webhook subscriptions (signed, retried)"
    ).set_defaults(func=cmd_webhooks)
