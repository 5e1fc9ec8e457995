"""The exception tree and the dead-letter reasons (a fixed set: they label a metric)."""

from __future__ import annotations

from enum import StrEnum


class DeadLetterReason(StrEnum):
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    EMPTY_BODY = "empty_body"
    TOO_LARGE = "too_large"
    UNPARSEABLE = "unparseable"  # valid message, but no article could be recovered from it
    INVALID_TIME = "invalid_time"  # a schema-valid time no calendar arithmetic can handle
    TOO_SLOW = "too_slow"  # its stages took longer than RASID_ARTICLE_DEADLINE_SECONDS
    PROCESSING_ERROR = "processing_error"  # a bug or an unexpected failure in Rasid itself


class Stage(StrEnum):
    PARSE = "parse"
    ENRICH = "enrich"
    MATCH = "match"
    ALERT = "alert"
    STORY = "story"  # story assignment (its failures are dead-lettered as "alert")
    TREND = "trend"  # burst detection, in the story agent (its failures too: "alert")


class RasidError(Exception):
    """Base of Rasid's own exceptions."""


class BadInput(RasidError):
    """A message that must go to the dead-letter topic, with a reason from the fixed set."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SchemaViolation(RasidError):
    """An outgoing message does not match its schema: a bug, never the input's fault."""


class UsageError(RasidError):
    """A command was given a bad argument or value (`rasid` exits 2, in one line)."""


class CommandFailed(RasidError):
    """A command could not do its work: broker unreachable, file unreadable… (`rasid` exits 1,
    in one line)."""
