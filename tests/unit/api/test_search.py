"""`GET /alerts?q=…` (streams/api/search.py): what the search looks in, Arabic spelling folded
as the matcher folds it, bounded, and paging through search results with the cursor."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.api import search as search_module
from streams.api.search import MAX_QUERY, AlertSearch
from streams.api.server import FEED, build_app
from tests.unit.api.test_feed import record
from tests.unit.api.test_server import settings

ALERT: dict[str, Any] = {
    "rule_title": "إعلان خط أحمر",
    "rule_title_en": "Red line declaration",
    "article": {"id": "a1", "title": "وزير الخارجية: أمن مصر المائي مسألة وجود"},
    "articles": [
        {"id": "a0", "title": "سد النهضة يهدد حصة مصر من مياه النيل"},
        {"id": "a1", "title": "وزير الخارجية: أمن مصر المائي مسألة وجود"},
    ],
    "matches": [
        {"term": "خط احمر", "text": "خطوطاً حمراء", "snippet": "قال إن ذلك يبقى بلا أثر"},
    ],
    "regions": ["EG"],
}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("إعلان", True),  # rule title (Arabic)
        ("اعلان خط", True),  # … hamza folded
        ("red LINE", True),  # rule title (English), any case
        ("declaration", True),
        ("سد النهضة", True),  # an earlier article's headline
        ("الخارجيه", True),  # the latest headline, ta marbuta folded
        ("أمن مصر", True),
        ("خطوطا حمراء", True),  # the text matched, tanwin dropped
        ("خطـوطاً", True),  # tatweel in the query
        ("  خط   احمر  ", True),  # the rule's phrase; spaces collapsed
        ("بلا أثر", False),  # snippets are not searched (only what matched in them)
        ("EG", False),  # region codes are filters, not search
        ("العراق", False),
        ("redline", False),
    ],
)
def test_search_looks_in_titles_headlines_and_matched_phrases(q: str, expected: bool) -> None:
    search = AlertSearch.parse(q)
    assert search is not None
    assert search.matches(ALERT) is expected


@pytest.mark.parametrize("q", [None, "", "   ", "\u0640\u064b"])  # nothing, spaces, marks only
def test_an_empty_search_is_no_search(q: str | None) -> None:
    assert AlertSearch.parse(q) is None


def test_a_search_is_bounded() -> None:
    assert AlertSearch.parse("ا" * MAX_QUERY) is not None
    with pytest.raises(ValueError, match="at most 200"):
        AlertSearch.parse("ا" * (MAX_QUERY + 1))


def test_odd_alerts_do_not_break_the_search() -> None:
    search = AlertSearch.parse("خط")
    assert search is not None
    odd: list[dict[str, Any]] = [
        {},
        {"rule_title": None, "article": None, "articles": None, "matches": None},
        {"articles": ["not an object", {"title": None}], "matches": [{"term": 3}]},
    ]
    assert [search.matches(alert) for alert in odd] == [False, False, False]


async def test_alerts_search_pages_through_what_the_api_holds() -> None:
    """Every third alert's headline holds «الأحمر»: a search finds them all, newest first, in
    pages of two with the cursor, and the rest never."""
    app = build_app(settings(), readers=False)
    feed = app[FEED]
    feed._start(0, 0, 0)
    for n in range(12):
        title = f"خبر رقم {n} عن البحر الأحمر" if n % 3 == 0 else f"خبر رقم {n} عن الطقس"
        feed.add(record(0, n, article={"id": f"x{n}", "title": title}, rule_title="طقس"))
    feed.ready.set()
    async with TestClient(TestServer(app)) as c:
        got: list[str] = []
        params = {"q": "الاحمر", "limit": "2"}
        cursor = None
        for _ in range(5):
            page = await (
                await c.get("/alerts", params={**params, **({"cursor": cursor} if cursor else {})})
            ).json()
            got += [a["article"]["id"] for a in page["alerts"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert got == ["x9", "x6", "x3", "x0"]
        everything = await (await c.get("/alerts", params={"q": "  ", "limit": "50"})).json()
        assert len(everything["alerts"]) == 12  # a blank search is no search
        none = await (await c.get("/alerts", params={"q": "البحر الميت"})).json()
        assert none["alerts"] == [] and none["next_cursor"] is None
        bad = await c.get("/alerts", params={"q": "ب" * (MAX_QUERY + 1)})
        assert bad.status == 400
        assert "q must be" in (await bad.json())["error"]


def test_the_normalised_text_cache_is_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "_CACHE", {})
    monkeypatch.setattr(search_module, "CACHE_SIZE", 3)
    search = AlertSearch.parse("الأحمر")
    assert search is not None
    alerts = [
        {
            **ALERT,
            "id": f"{n:032x}",
            "revision": 1,
            "rule_title": f"البحر الأحمر {n}" if n % 2 else "طقس",
        }
        for n in range(6)
    ]
    for _ in range(2):  # uncached, then (for the last three) from the cache
        assert [search.matches(a) for a in alerts] == [False, True] * 3
    assert len(search_module._CACHE) == 3
