"""The alert message of rasid.alerts (schema alert.v3) as its readers see it. The API and the
webhooks pass every alert they read through `upgrade`, so one written by the previous release
(version 2) reaches subscribers as version 3. (The story stage needs no upgrade: an update
built on a version 2 alert of its table reads only fields both versions have, and is written
as version 3 by `stories.cluster.story_alert`.) Pure: no I/O."""

from __future__ import annotations

from typing import Any, TypeGuard

from streams.classify.names import names_of

SCHEMA_VERSION = 3  # 3: `names`, `rule_title_en`, articles' `revision`


def upgrade(alert: dict[str, Any]) -> dict[str, Any]:
    """A version 2 alert → version 3: `names` of its regions and topics added. Its title stays
    as the rule had it then (no `rule_title_en`: v2 never said which language it was in).
    Anything else (version 3, or a message that is no v2 alert) is returned as it is, the same
    object: what to do with a bad message is the reader's decision."""
    if alert.get("schema_version") != 2:
        return alert
    regions, topics = alert.get("regions"), alert.get("topics")
    if _codes(regions) and _codes(topics):
        return {**alert, "schema_version": SCHEMA_VERSION, "names": names_of(regions, topics)}
    return alert


def _codes(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
