"""The OpenAPI 3.1 document of `rasid api`. Served at /openapi.json and committed as
schemas/openapi.v1.json (a unit test keeps the two equal: `python -m
streams.api.openapi > schemas/openapi.v1.json` regenerates the file)."""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

import orjson

from streams.severity import SEVERITIES
from streams.trends.detector import LEVELS
from streams.validation import SCHEMA_DIR

_FILTERS: list[dict[str, Any]] = [
    {
        "name": "region",
        "in": "query",
        "description": "ISO 3166 code(s), comma-separated or repeated: alerts with any of them.",
        "schema": {"type": "string"},
        "example": "IQ,SY",
    },
    {
        "name": "topic",
        "in": "query",
        "description": "Topic code(s), comma-separated or repeated: alerts with any of them.",
        "schema": {"type": "string"},
    },
    {
        "name": "severity",
        "in": "query",
        "description": "Minimum severity.",
        "schema": {"enum": list(SEVERITIES)},
    },
    {
        "name": "rule",
        "in": "query",
        "description": "Rule id(s), comma-separated or repeated.",
        "schema": {"type": "string"},
    },
    {
        "name": "since",
        "in": "query",
        "description": "Only alerts updated at or after this time (RFC 3339).",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "Only alerts updated at or before this time (RFC 3339).",
        "schema": {"type": "string", "format": "date-time"},
    },
]
_UNAUTHORIZED = {
    "description": "No API key, or an unknown or revoked one.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_TOO_MANY = {
    "description": "This key is over its request rate or its open streams (per key limits).",
    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_BAD_REQUEST = {
    "description": "A bad filter, limit, cursor or event id.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

# What every endpoint with a key and filters may answer besides 200.
_ERRORS = {"400": _BAD_REQUEST, "401": _UNAUTHORIZED, "429": _TOO_MANY}
_PAGING: list[dict[str, Any]] = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        "description": "Page size (default 50).",
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "next_cursor of the previous page.",
    },
]


ALERT_SCHEMA = "alert.v3.json"  # what the API serves: v2 alerts are upgraded on read


def _alert_schema() -> dict[str, Any]:
    schema = dict(orjson.loads((SCHEMA_DIR / ALERT_SCHEMA).read_bytes()))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    # Local $refs point into the schema's own $defs: re-root them under components.
    schema.pop("$defs", None)
    text = orjson.dumps(schema).decode().replace("#/$defs/", "#/components/schemas/Alert_")
    return dict(orjson.loads(text))


def _defs() -> dict[str, Any]:
    schema = orjson.loads((SCHEMA_DIR / ALERT_SCHEMA).read_bytes())
    text = orjson.dumps(schema.get("$defs", {})).decode()
    text = text.replace("#/$defs/", "#/components/schemas/Alert_")
    return {f"Alert_{k}": v for k, v in orjson.loads(text).items()}


TREND_SCHEMA = "trend.v2.json"  # what GET /trends and `event: trend` carry


def _trend_components() -> dict[str, Any]:
    """Trend (the record) and its $defs as Trend_<name>, local $refs re-rooted."""
    schema = dict(orjson.loads((SCHEMA_DIR / TREND_SCHEMA).read_bytes()))
    for name in ("$schema", "$id"):
        schema.pop(name, None)
    text = orjson.dumps(schema).decode().replace("#/$defs/", "#/components/schemas/Trend_")
    schema = dict(orjson.loads(text))
    defs = schema.pop("$defs", {})
    return {"Trend": schema, **{f"Trend_{k}": v for k, v in defs.items()}}


_TREND_FILTERS: list[dict[str, Any]] = [
    {
        "name": "region",
        "in": "query",
        "description": "ISO code(s) or a group (GULF), comma-separated or repeated: trends "
        "whose region or one of whose `regions` is one of them.",
        "schema": {"type": "string"},
        "example": "IQ,SY",
    },
    {
        "name": "topic",
        "in": "query",
        "description": "Topic code(s), comma-separated or repeated.",
        "schema": {"type": "string"},
    },
    {
        "name": "rule",
        "in": "query",
        "description": "Rule id(s): the trends of these rules (`kind: rule`).",
        "schema": {"type": "string"},
    },
    {
        "name": "level",
        "in": "query",
        "description": "Minimum level (elevated < high < extreme).",
        "schema": {"enum": list(LEVELS)},
    },
    {
        "name": "since",
        "in": "query",
        "description": "Only trends detected at or after this time (RFC 3339, on detected_at).",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "Only trends detected at or before this time (RFC 3339).",
        "schema": {"type": "string", "format": "date-time"},
    },
]


@cache
def openapi() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rasid alerts API",
            "version": "1.0.0",
            "description": (
                "Alerts of the Rasid Arabic news monitor, one per watch-list rule and story. "
                "Every endpoint except / and the health checks needs an API key (`rasid keys "
                "create NAME`), sent as `Authorization: Bearer <token>`. Browsers' "
                "EventSource cannot set headers: POST /alerts/stream/ticket with the header "
                "returns a one-use ticket, valid 60 s, for GET /alerts/stream?ticket=…. A key "
                "scoped to regions or topics only ever sees alerts with one of them."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:6068"}],
        "security": [{"bearer": []}],
        "paths": {
            "/alerts": {
                "get": {
                    "summary": "Recent alerts, newest first (the last revision of each).",
                    "parameters": [
                        *_FILTERS,
                        *_PAGING,
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": 200},
                            "description": (
                                "Search: alerts whose rule title (Arabic or English), "
                                "article headlines or matched phrases contain it, "
                                "case-insensitive, Arabic spelling folded (أحمر = احمر)."
                            ),
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of alerts.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/AlertPage"}
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/alerts/stream": {
                "get": {
                    "summary": "Live alerts as Server-Sent Events.",
                    "description": (
                        "Each alert message (new, and every story update) is an event named "
                        "`alert` whose data is the alert JSON and whose id is a stream position. "
                        "Reconnecting with `Last-Event-ID` (or `last_event_id`) resumes right "
                        "after that event: nothing missed, nothing repeated. Without it, the "
                        "stream starts with the next alert. A comment line is sent as a "
                        "heartbeat when the stream is idle. With `events=trends` (or "
                        "`alerts,trends`) trend records come as events named `trend` (data: "
                        "the Trend JSON, filtered by region, topic, rule, level, since, until "
                        "and the key's scope) without an id, so Last-Event-ID stays the last "
                        "alert's position; trends are not replayed on a resume (GET /trends "
                        "fills the gap)."
                    ),
                    "parameters": [
                        *_FILTERS,
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "last_event_id",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "As Last-Event-ID; e.g. the `position` of GET /alerts.",
                        },
                        {
                            "name": "ticket",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Instead of the Authorization header: a ticket of "
                            "POST /alerts/stream/ticket (one use).",
                        },
                        {
                            "name": "events",
                            "in": "query",
                            "schema": {"enum": ["alerts", "trends", "alerts,trends"]},
                            "description": "What the stream carries (default: alerts).",
                        },
                        {
                            "name": "level",
                            "in": "query",
                            "schema": {"enum": list(LEVELS)},
                            "description": "Minimum level of the trend events.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "An endless text/event-stream.",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_ERRORS,
                    },
                }
            },
            "/trends": {
                "get": {
                    "summary": "Recent trends (bursts of new stories), newest first.",
                    "description": (
                        "Trend records (schema trend.v2) as the worker's trend stage wrote "
                        "them: a region × topic, region, topic or rule whose new stories and "
                        "outlets in a window are far above its usual. A key scoped to regions "
                        "or topics sees only trends with one of its regions and one of its "
                        "topics (topic-only and rule trends have no regions, region-only and "
                        "rule trends no topics, as alerts without them)."
                    ),
                    "parameters": [
                        *_TREND_FILTERS,
                        *_PAGING,
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of trends.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/TrendPage"}
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/alerts/stream/ticket": {
                "post": {
                    "summary": "A one-use ticket for GET /alerts/stream (for EventSource).",
                    "description": (
                        "Needs the Authorization header. The ticket opens one stream of the "
                        "same key within `expires_in` seconds; reconnecting takes a new one."
                    ),
                    "responses": {
                        "200": {
                            "description": "The ticket.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["ticket", "expires_in"],
                                        "properties": {
                                            "ticket": {"type": "string"},
                                            "expires_in": {"type": "integer"},
                                        },
                                    }
                                }
                            },
                        },
                        "401": _UNAUTHORIZED,
                        "429": _TOO_MANY,
                    },
                }
            },
            "/names": {
                "get": {
                    "summary": "Names of region and topic codes (Arabic, English) and outlets.",
                    "description": "streams/data/names.yaml, and the titles of the sources "
                    "file (RASID_SOURCES_PATH): what the console shows instead of codes "
                    "(alerts carry the names of their own codes in `names`).",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Code → {ar, en}, per kind.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Names"}
                                }
                            },
                        }
                    },
                }
            },
            "/places": {
                "get": {
                    "summary": "Map positions of places named by alerts.",
                    "description": (
                        "Each `at` is a region code and a place as an alert gives it in "
                        "`explanation.regions[].found`, e.g. `IQ:ببغداد`. The place is read "
                        "as the region classifier reads it (normalisation, proclitics); its "
                        "coordinates come from GeoNames (CC-BY 4.0). A name without "
                        "coordinates, or a country-level one, gets the country's centre "
                        "(`exact: false`); null for a code Rasid has no place for."
                    ),
                    "parameters": [
                        {
                            "name": "at",
                            "in": "query",
                            "required": True,
                            "description": "CODE:name, repeated (1–100; names up to 100 chars).",
                            "schema": {"type": "string"},
                            "example": "IQ:ببغداد",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Each `at` value → its position, or null.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Places"}
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/": {
                "get": {
                    "summary": "The live console (HTML; asks for a key in the browser).",
                    "security": [],
                    "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "200 once alerts, keys and trends are loaded, else 503.",
                    "security": [],
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not"}},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Alert": _alert_schema(),
                **_defs(),
                **_trend_components(),
                "TrendPage": {
                    "type": "object",
                    "required": ["trends", "next_cursor"],
                    "properties": {
                        "trends": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Trend"},
                        },
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "AlertPage": {
                    "type": "object",
                    "required": ["alerts", "next_cursor", "position"],
                    "properties": {
                        "alerts": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Alert"},
                        },
                        "next_cursor": {"type": ["string", "null"]},
                        "position": {
                            "type": "string",
                            "description": "Stream position at the time of this page.",
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Names": {
                    "type": "object",
                    "required": ["regions", "topics", "sources"],
                    "properties": {
                        "sources": {
                            "type": "object",
                            "description": "Outlet id → its title in the sources file.",
                            "additionalProperties": {"type": "string"},
                        },
                        "regions": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Alert_name"},
                        },
                        "topics": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Alert_name"},
                        },
                    },
                },
                "Places": {
                    "type": "object",
                    "required": ["places", "attribution"],
                    "properties": {
                        "places": {
                            "type": "object",
                            "additionalProperties": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Place"},
                                    {"type": "null"},
                                ]
                            },
                        },
                        "attribution": {"type": "string"},
                    },
                },
                "Place": {
                    "type": "object",
                    "required": ["lat", "lon", "exact", "name", "label"],
                    "properties": {
                        "lat": {"type": "number"},
                        "lon": {"type": "number"},
                        "exact": {
                            "type": "boolean",
                            "description": "The place itself; false: its country's centre.",
                        },
                        "name": {
                            "type": "string",
                            "description": "The gazetteer's normalised name, or the country "
                            "code for a country centre.",
                        },
                        "label": {
                            "type": ["string", "null"],
                            "description": "The place's name as GeoNames writes it; null "
                            "for a country centre.",
                        },
                    },
                },
            },
        },
    }


def render() -> bytes:
    return orjson.dumps(openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    sys.stdout.buffer.write(render())
