"""The broker check of the one-shot commands (publish, tail, topics, rules, keys…): they fail
within seconds, in one line, when the broker cannot be reached. The services (worker, api,
webhooks, ingest) wait for it instead: they are often started together with it."""

from __future__ import annotations

import asyncio

from streams.errors import CommandFailed
from streams.settings import Settings

ATTEMPTS = 3  # a broker that refuses connections: about 2 s
TIMEOUT_SECONDS = 10.0  # a host that does not answer at all


async def _probe(bootstrap: str, attempts: int) -> None:
    from streams.kafka.admin import started_admin

    admin = await started_admin(bootstrap, attempts=attempts, request_timeout_ms=5000)
    await admin.close()


async def check(
    settings: Settings, *, attempts: int | None = None, timeout: float | None = None
) -> None:
    """Raise CommandFailed unless the broker of RASID_KAFKA_BOOTSTRAP answers (within
    ATTEMPTS connection attempts and TIMEOUT_SECONDS)."""
    from aiokafka.errors import KafkaError

    try:
        await asyncio.wait_for(
            _probe(settings.kafka_bootstrap, attempts or ATTEMPTS), timeout or TIMEOUT_SECONDS
        )
    except (KafkaError, OSError) as exc:  # TimeoutError is an OSError
        raise CommandFailed(
            f"cannot reach the Kafka broker at {settings.kafka_bootstrap} (RASID_KAFKA_BOOTSTRAP)"
        ) from exc


def require(settings: Settings) -> None:
    """`check`, from outside an event loop."""
    asyncio.run(check(settings))
