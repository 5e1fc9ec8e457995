from __future__ import annotations

import pytest

from streams.ids import alert_id, article_id, canonical_url


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Example.COM/news/1/", "https://example.com/news/1"),
        ("https://example.com/news/1?utm_source=x&utm_medium=y", "https://example.com/news/1"),
        ("https://example.com/n?b=2&a=1", "https://example.com/n?a=1&b=2"),
        ("https://example.com/n#comments", "https://example.com/n"),
        ("https://example.com:443/n?fbclid=abc", "https://example.com/n"),
        # AMP variants of one article
        ("https://example.com/news/1/amp/", "https://example.com/news/1"),
        ("https://example.com/amp/news/1", "https://example.com/news/1"),
        ("https://example.com/news/1.amp", "https://example.com/news/1"),
        ("https://example.com/news/1.amp.html", "https://example.com/news/1.html"),
        ("https://amp.example.com/news/1", "https://example.com/news/1"),
        ("https://example.com/news/1?amp=1", "https://example.com/news/1"),
        ("https://example.com/news/1?outputType=amp&id=3", "https://example.com/news/1?id=3"),
        (
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/1",
            "https://www.example.com/news/1",
        ),
        ("https://www.google.com/amp/s/www.example.com/news/1", "https://www.example.com/news/1"),
    ],
)
def test_canonical_url_folds_spellings(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


def test_canonical_url_keeps_meaningful_query() -> None:
    assert canonical_url("https://e.com/n?id=1") != canonical_url("https://e.com/n?id=2")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/campaign/1",  # "amp" inside a word is not an AMP marker
        "https://example.com/news/amplifier",
        "https://example.com/samp/1",
        "https://example.com/news/1.ample",
    ],
)
def test_canonical_url_leaves_non_amp_urls(url: str) -> None:
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    ("raw", "expected_prefix"),
    [
        ({"id": "given-7", "source": "s", "body": "b"}, "given-7"),
        ({"source": "s", "body": "b", "url": "https://e.com/a"}, "url-"),
        ({"source": "s", "body": "b"}, "sha-"),
    ],
)
def test_article_id_sources(raw: dict[str, str], expected_prefix: str) -> None:
    assert article_id(raw).startswith(expected_prefix)


def test_article_id_is_stable_across_encodings() -> None:
    plain = {"source": "s", "body": "منطقة السيدة زينب خط احمر"}
    marked = {"source": "s", "body": "منطقةُ السيدة زينب خطٌّ  أحمر"}
    assert article_id(plain) == article_id(marked)
    assert article_id(plain) != article_id({"source": "other", "body": plain["body"]})
    tracked = {"source": "s", "body": "x", "url": "https://e.com/a?utm_source=t"}
    assert article_id(tracked) == article_id({"source": "s", "body": "y", "url": "https://e.com/a"})


def test_alert_id_is_deterministic_per_rule_version_and_article() -> None:
    assert alert_id("red-line", 1, "a") == alert_id("red-line", 1, "a")
    assert (
        len(
            {
                alert_id("red-line", 1, "a"),
                alert_id("red-line", 2, "a"),
                alert_id("red-line", 1, "b"),
                alert_id("other", 1, "a"),
            }
        )
        == 4
    )
    assert len(alert_id("r", 1, "a")) == 32
