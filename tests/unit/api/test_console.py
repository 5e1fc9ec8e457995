"""What `rasid api` serves the analyst console (streams/api/server.py), on aiohttp's test
client without a broker: security headers on every response, the static files and nothing
beside them, GET /names, GET /places, and the `until` filter."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.api.server import FEED, MAX_PLACES, build_app
from streams.classify import names
from streams.filters import AlertFilter
from streams.resources import static_path
from tests.unit.api.test_feed import record
from tests.unit.api.test_server import app_of, keyed_app, settings

PAGE_CSP = "script-src 'self'"


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app_of())) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "status", "html"),
    [
        ("GET", "/", 200, True),
        ("GET", "/static/console.js", 200, False),
        ("GET", "/static/vendor/countries-50m.json", 200, False),
        ("GET", "/alerts", 200, False),
        ("GET", "/names", 200, False),
        ("GET", "/openapi.json", 200, False),
        ("GET", "/nowhere", 404, False),
        ("POST", "/alerts", 405, False),
        ("GET", "/alerts?limit=0", 400, False),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: TestClient[Any, Any], method: str, path: str, status: int, html: bool
) -> None:
    resp = await client.request(method, path)
    assert resp.status == status
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    if html:
        assert PAGE_CSP in csp and "connect-src 'self'" in csp and "style-src 'self'" in csp
    else:
        assert csp.startswith("default-src 'none'") and "script-src" not in csp


async def test_the_stream_carries_the_headers_too(client: TestClient[Any, Any]) -> None:
    async with client.get("/alerts/stream") as resp:
        assert resp.status == 200
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("path", "type_"),
    [
        ("/static/console.js", "text/javascript"),
        ("/static/arabic.js", "text/javascript"),
        ("/static/console.css", "text/css"),
        ("/static/vendor/d3-geo.min.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_have_their_types_and_are_revalidated(
    client: TestClient[Any, Any], path: str, type_: str
) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type in {type_, type_.replace("text/", "application/")}
    assert resp.headers["Cache-Control"] == "no-cache"
    etag = resp.headers["ETag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/vendor/../../server.py",
        "/static/",
        "/static/vendor/",
    ],
)
async def test_nothing_outside_the_static_files_is_served(
    client: TestClient[Any, Any], path: str
) -> None:
    resp = await client.get(path)
    assert resp.status in {403, 404}
    assert b"import" not in await resp.read()


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if any(k.startswith("on") for k in a) or "style" in a:
            self.inline.append(f"{tag} {a}")  # event handler or style attribute: CSP blocks
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            if a.get("src"):
                self.refs.append(a["src"] or "")
            else:
                self.inline.append("<script> without src")
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"] or "")


def test_the_page_has_no_inline_code_and_names_only_served_files() -> None:
    parser = _Refs()
    page = (static_path() / "index.html").read_text("utf-8")
    parser.feed(page)
    assert parser.inline == []
    assert parser.refs, "the page loads its scripts and styles"
    for ref in parser.refs:
        assert ref.startswith("/static/"), ref  # same origin, no CDN
        assert (static_path() / ref.removeprefix("/static/")).is_file(), ref
    # every module the console imports is a file of its own directory
    for module in static_path().glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', module.read_text("utf-8")):
            assert (static_path() / imported).is_file(), (module.name, imported)
        # text goes in as text: markup from an alert could never run
        code = module.read_text("utf-8")
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", code)
        assert not re.search(r"\beval\(|new Function\(", code), module.name


async def test_names_serve_every_region_topic_and_outlet(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/names")
    assert resp.status == 200
    assert "max-age" in resp.headers["Cache-Control"]
    body = await resp.json()
    assert body["regions"]["IQ"] == {"ar": "العراق", "en": "Iraq"}
    assert body["regions"] == names.table()["region"]
    assert body["topics"] == names.table()["topic"]
    assert body["sources"]["shafaq"] == "شفق نيوز"  # titles of the packaged sources file


async def test_places_answer_each_place_asked(client: TestClient[Any, Any]) -> None:
    at = ["IQ:ببغداد", "EG:مصر", "LY:طرابلس", "ZZ:مكان"]
    resp = await client.get("/places", params=[("at", a) for a in at])
    assert resp.status == 200
    assert resp.headers["Cache-Control"].startswith("private")
    body = await resp.json()
    assert "GeoNames" in body["attribution"]
    places = body["places"]
    assert list(places) == at
    assert places["IQ:ببغداد"]["exact"] is True and places["IQ:ببغداد"]["label"] == "بغداد"
    assert places["EG:مصر"]["exact"] is False and places["EG:مصر"]["name"] == "EG"
    assert 32 < places["LY:طرابلس"]["lat"] < 33.5 and 12.5 < places["LY:طرابلس"]["lon"] < 14
    assert places["ZZ:مكان"] is None


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("at", "بغداد")],  # no code
        [("at", "iq:بغداد")],
        [("at", "IRQ:بغداد")],
        [("at", "IQ:")],
        [("at", "IQ:   ")],
        [("at", "IQ:" + "ب" * 101)],
        [("at", "IQ:بغداد")] * (MAX_PLACES + 1),
    ],
)
async def test_bad_place_queries_are_400(
    client: TestClient[Any, Any], params: list[tuple[str, str]]
) -> None:
    resp = await client.get("/places", params=params)
    assert resp.status == 400
    assert list(await resp.json()) == ["error"]


async def test_places_need_a_key_when_keys_are_required() -> None:
    app, token = keyed_app()
    async with TestClient(TestServer(app)) as c:
        assert (await c.get("/places", params={"at": "IQ:بغداد"})).status == 401
        ok = await c.get(
            "/places", params={"at": "IQ:بغداد"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status == 200
        assert (await c.get("/names")).status == 200  # public: names of codes, no alerts
        assert (await c.get("/")).status == 200


def _alert(updated_at: str) -> dict[str, Any]:
    return {"id": "a" * 32, "severity": "high", "regions": [], "updated_at": updated_at}


@pytest.mark.parametrize(
    ("params", "updated_at", "expected"),
    [
        ({"until": "2026-03-14T10:00:00Z"}, "2026-03-14T09:59:59+00:00", True),
        ({"until": "2026-03-14T10:00:00Z"}, "2026-03-14T10:00:00+00:00", True),
        ({"until": "2026-03-14T10:00:00Z"}, "2026-03-14T10:00:01+00:00", False),
        ({"until": "2026-03-14T13:00:00+03:00"}, "2026-03-14T10:00:00Z", True),
        (
            {"since": "2026-03-14T09:00:00Z", "until": "2026-03-14T09:59:59.999Z"},
            "2026-03-14T09:30:00Z",
            True,
        ),
        (
            {"since": "2026-03-14T09:00:00Z", "until": "2026-03-14T09:59:59.999Z"},
            "2026-03-14T10:00:00Z",
            False,
        ),
    ],
)
def test_until_bounds_the_time_range(
    params: dict[str, str], updated_at: str, expected: bool
) -> None:
    assert AlertFilter.from_params(params).matches(_alert(updated_at)) is expected


async def test_until_pages_back_through_alerts() -> None:
    """The console's «older» pages after it dropped stories: alerts updated up to a time."""
    app = build_app(settings(), readers=False)
    feed = app[FEED]
    feed._start(0, 0, 0)
    for minute in range(6):
        feed.add(record(0, minute, updated_at=f"2026-03-14T09:0{minute}:00Z"))
    feed.ready.set()
    async with TestClient(TestServer(app)) as c:
        older = await (await c.get("/alerts", params={"until": "2026-03-14T09:03:00Z"})).json()
        assert [a["updated_at"][11:16] for a in older["alerts"]] == [
            "09:03",
            "09:02",
            "09:01",
            "09:00",
        ]
        hour = {"since": "2026-03-14T09:02:00Z", "until": "2026-03-14T09:04:00Z", "limit": "2"}
        page = await (await c.get("/alerts", params=hour)).json()
        assert [a["updated_at"][14:16] for a in page["alerts"]] == ["04", "03"]
        rest = await (await c.get("/alerts", params={**hour, "cursor": page["next_cursor"]})).json()
        assert [a["updated_at"][14:16] for a in rest["alerts"]] == ["02"]
        assert rest["next_cursor"] is None
        bad = await c.get("/alerts", params={"until": "yesterday"})
        assert bad.status == 400
        assert "until" in (await bad.json())["error"]


def test_the_openapi_document_describes_names_places_and_until() -> None:
    from streams.api.openapi import openapi

    doc = openapi()
    assert {"/names", "/places"} <= set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/alerts"]["get"]["parameters"]}
    assert "until" in params
    place = doc["components"]["schemas"]["Place"]
    assert set(place["required"]) == {"lat", "lon", "exact", "name", "label"}
    # the document is valid JSON all the way down (what the committed copy holds)
    assert orjson.loads(orjson.dumps(doc)) == doc
