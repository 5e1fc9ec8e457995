"""Public Telegram channels: the web preview's markup → posts → raw-article messages, and the
revision a post's text would get (streams/ingest/telegram.py, pollers.telegram_revision)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.ingest import telegram
from streams.ingest.dedup import DedupState, published_records, text_fingerprint
from streams.ingest.extract import content_hash
from streams.ingest.pollers import telegram_revision
from streams.ingest.telegram import title_of
from streams.validation import schema_errors

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "ingest" / "telegram"
PAGE = (FIXTURE / "akhbar_iraq_test.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page() -> telegram.TelegramPage:
    return telegram.parse_channel_page(PAGE)


def post(page: telegram.TelegramPage, number: int) -> telegram.TelegramPost:
    return next(p for p in page.posts if p.number == number)


def test_the_service_message_is_skipped_and_the_rest_kept_in_order(
    page: telegram.TelegramPage,
) -> None:
    assert [p.number for p in page.posts] == [1202, 1203, 1204, 1205, 1206, 1207]
    assert page.skipped == 1  # 1201: "channel photo updated"
    assert {p.channel for p in page.posts} == {"akhbar_iraq_test"}


# number, expected fields (every field a post has)
CASES: list[tuple[int, dict[str, Any]]] = [
    (
        1202,
        {
            "text": "🔴 عاجل | انفجار يهز منطقة الكرادة وسط بغداد وأنباء عن سقوط ضحايا\n\n"
            "المصادر الأمنية: فرق الدفاع المدني تتوجه إلى موقع الانفجار",
            "title": "🔴 عاجل | انفجار يهز منطقة الكرادة وسط بغداد وأنباء عن سقوط ضحايا",
            "published_at": datetime(2024, 12, 1, 6, 2, 41, tzinfo=UTC),
            "views": 15_300,
            "forwarded_from": None,
            "media": (),
            "edited": False,
            "has_words": True,
        },
    ),
    (
        1203,
        {
            "text": "بيان: القوات الأمنية تفرض طوقاً حول موقع الحادث في الكرادة وتدعو المواطنين "
            "إلى الابتعاد عن المنطقة.\nالتفاصيل: example.invalid/news/991",
            "views": 1_200,
            "forwarded_from": telegram.ForwardedFrom(
                "وزارة الداخلية (تجريبي)", "https://t.me/wizarat_demo/877"
            ),
            "media": (),
            "edited": False,
        },
    ),
    (
        1204,
        {
            "text": "صورة من موقع الانفجار في الكرادة\nالدخان يتصاعد من المبنى المستهدف",
            "title": "صورة من موقع الانفجار في الكرادة",
            "views": 987,
            "forwarded_from": telegram.ForwardedFrom("مراسل ميداني", None),  # hidden account
            "media": ("https://cdn4.cdn-telegram.org/file/photo-1204-demo.jpg",),
        },
    ),
    (
        1205,
        {
            "text": "محدث | ارتفاع حصيلة انفجار الكرادة إلى 4 قتلى و11 جريحاً بحسب مصدر طبي",
            "views": 1_000_000,
            "edited": True,
            "media": ("https://cdn4.cdn-telegram.org/file/video-1205-demo.mp4",),
            "published_at": datetime(2024, 12, 1, 6, 31, 12, tzinfo=UTC),
        },
    ),
    (
        1206,
        {
            "text": "📸",
            "title": "📸",
            "has_words": False,  # an emoji and a photo: nothing to publish
            "views": 2_400,
            "media": ("https://cdn4.cdn-telegram.org/file/photo-1206-demo.jpg",),
        },
    ),
    (
        1207,
        {
            # the quoted text of the post it replies to is not part of it
            "text": "نص البيان الرسمي لقيادة عمليات بغداد بشأن انفجار الكرادة",
            "views": 3_100,
            "media": ("https://t.me/akhbar_iraq_test/1207",),  # the document's link
            "edited": False,
        },
    ),
]


@pytest.mark.parametrize(("number", "expected"), CASES)
def test_post_fields(page: telegram.TelegramPage, number: int, expected: dict[str, Any]) -> None:
    found = post(page, number)
    assert {k: getattr(found, k) for k in expected} == expected
    assert found.article_id == f"telegram:akhbar_iraq_test/{number}"
    assert found.url == f"https://t.me/akhbar_iraq_test/{number}"


@pytest.mark.parametrize(
    ("html", "before"),
    [
        (PAGE, 1201),
        ('<html><head><link rel="prev" href="/s/abcd?before=77"></head></html>', 77),
        ('<html><body><a class="tme_messages_more js-messages_more" data-before="55"></a>', 55),
        ('<html><head><link rel="prev" href="/s/abcd?before=x"></head></html>', None),
        ("<html><body><p>no paging</p></body></html>", None),
    ],
)
def test_paging_link(html: str, before: int | None) -> None:
    assert telegram.parse_channel_page(html).before == before


@pytest.mark.parametrize(
    ("text", "views"),
    [
        ("987", 987),
        ("1.2K", 1_200),
        ("15.3K", 15_300),
        ("1M", 1_000_000),
        ("2.5m", 2_500_000),
        ("1,5K", 1_500),
        (" 12 ", 12),
        ("", None),
        ("lots", None),
        ("1.2.3K", None),
        (None, None),
    ],
)
def test_parse_views(text: str | None, views: int | None) -> None:
    assert telegram.parse_views(text) == views


def wrap(inner: str, data_post: str = "abcd_news/5", cls: str = "tgme_widget_message") -> str:
    return (
        f'<div class="tgme_widget_message_wrap"><div class="{cls}" data-post="{data_post}">'
        f"{inner}</div></div>"
    )


TEXT = '<div class="tgme_widget_message_text">نص الخبر</div>'


@pytest.mark.parametrize(
    ("html", "numbers", "skipped"),
    [
        (wrap(TEXT), [5], 0),
        (wrap(TEXT, data_post="abcd_news/x"), [], 1),  # not a post number
        (wrap(TEXT, data_post="1bad/5"), [], 1),  # not a channel name
        (wrap(TEXT, data_post="abcd_news"), [], 1),
        (wrap(TEXT, cls="tgme_widget_message service_message"), [], 1),
        (wrap("", data_post="abcd_news/6") + wrap(TEXT), [6, 5], 0),  # no text: kept, no words
        ("", [], 0),  # empty document
        ("<<<>>>\x00", [], 0),  # garbage
    ],
)
def test_skip_cases(html: str, numbers: list[int], skipped: int) -> None:
    page = telegram.parse_channel_page(html)
    assert [p.number for p in page.posts] == numbers
    assert page.skipped == skipped


def test_everything_is_bounded() -> None:
    many = "".join(wrap(TEXT, data_post=f"abcd_news/{n}") for n in range(1, 300))
    assert len(telegram.parse_channel_page(many, max_posts=50).posts) == 50
    long = wrap(f'<div class="tgme_widget_message_text">{"كلمة " * 10_000}</div>')
    (found,) = telegram.parse_channel_page(long).posts
    assert len(found.text) == telegram.MAX_TEXT
    assert found.title is not None and len(found.title) <= telegram.MAX_TITLE + 1
    assert found.title.endswith("…") and not found.title.endswith(" …")
    photos = "".join(
        f'<a class="tgme_widget_message_photo_wrap" style="background-image:url(\'https://c.example/{n}.jpg\')"></a>'
        for n in range(40)
    )
    (found,) = telegram.parse_channel_page(wrap(photos + TEXT)).posts
    assert len(found.media) == telegram.MAX_MEDIA
    # only http(s) links, made absolute
    odd = (
        '<a class="tgme_widget_message_photo_wrap" style="background-image:url(\'javascript:x\')"></a>'
        '<a class="tgme_widget_message_photo_wrap" style="background-image:url(\'//c.example/a.jpg\')"></a>'
    )
    (found,) = telegram.parse_channel_page(wrap(odd + TEXT)).posts
    assert found.media == ("https://c.example/a.jpg",)


def test_edited_marker_by_class_too() -> None:
    html = wrap(
        TEXT + '<span class="tgme_widget_message_meta"><span class="tgme_widget_message_edited">'
        "edited</span></span>"
    )
    assert telegram.parse_channel_page(html).posts[0].edited
    # "edited" inside the text is not the marker
    html = wrap('<div class="tgme_widget_message_text">edited</div>')
    assert not telegram.parse_channel_page(html).posts[0].edited


def test_a_post_becomes_a_valid_raw_article(page: telegram.TelegramPage) -> None:
    message = telegram.raw_message(
        post(page, 1203),
        source="tg",
        lang="ar",
        fetched_at="2024-12-01T07:00:00+00:00",
        revision=1,
    )
    assert schema_errors("raw-article", message) == []
    assert message["id"] == "telegram:akhbar_iraq_test/1203"
    assert message["schema_version"] == 2 and message["revision"] == 1
    assert message["url"] == "https://t.me/akhbar_iraq_test/1203"
    assert message["title"].startswith("بيان: القوات الأمنية")
    assert message["body"].endswith("example.invalid/news/991")
    assert message["published_at"] == "2024-12-01T06:10:05+00:00"
    assert message["telegram"] == {
        "views": 1200,
        "media": [],
        "forwarded_from": {
            "name": "وزارة الداخلية (تجريبي)",
            "url": "https://t.me/wizarat_demo/877",
        },
    }
    edited = telegram.raw_message(
        post(page, 1205), source="tg", lang="ar", fetched_at="2024-12-01T07:00:00+00:00", revision=3
    )
    assert edited["revision"] == 3 and edited["telegram"]["edited"] is True
    assert schema_errors("raw-article", edited) == []


def test_channel_url() -> None:
    assert telegram.channel_url("https://t.me", "abcd") == "https://t.me/s/abcd"
    assert telegram.channel_url("http://127.0.0.1:81/", "abcd", 9) == (
        "http://127.0.0.1:81/s/abcd?before=9"
    )


URL = "https://t.me/abcd_news/5"
AT = 1_733_040_000.0  # 2024-12-01T08:00:00Z
HOUR = 3600.0


def state_after(history: list[tuple[str, int]], age_hours: float = 1.0) -> DedupState:
    """The dedup state after publishing these (text, revision) of the post, the first
    `age_hours` before AT."""
    state = DedupState(clock=lambda: AT)
    first_at = datetime.fromtimestamp(AT - age_hours * HOUR, UTC).isoformat()
    for text, revision in history:
        for key, value in published_records(
            article_id="telegram:abcd_news/5",
            source="tg",
            urls=[URL],
            content_hash=content_hash("tg", text),
            at=first_at,
            revision=revision,
            first_at=first_at,
            fp=text_fingerprint(title_of(text), text),
        ):
            state.apply(key, value)
    return state


@pytest.mark.parametrize(
    ("history", "text", "edited", "age_hours", "expected"),
    [
        ([], "نص", False, 1, 1),  # never published
        ([], "نص", True, 1, 1),  # first sight of an edited post: its first version for us
        ([("نص", 1)], "نص", True, 1, None),  # unchanged
        ([("نص", 1)], "نص جديد", False, 1, None),  # changed, but Telegram says not edited
        ([("نص", 1)], "نص جديد", True, 1, 2),
        ([("نص", 1), ("نص جديد", 2)], "نص أحدث", True, 1, 3),
        ([("نص", 1), ("نص جديد", 2)], "نص", True, 1, None),  # edited back to a known text
        ([("نص", 1)], "نـصّ", True, 1, None),  # only spelling (tatweel, shadda) changed
        ([("نص", 1)], "نص جديد", True, 49, None),  # past the revision window
        ([("نص", 1), ("نص جديد", 2), ("نص أحدث", 3)], "نص رابع", True, 1, None),  # max 3
    ],
)
def test_telegram_revision(
    history: list[tuple[str, int]],
    text: str,
    edited: bool,
    age_hours: float,
    expected: int | None,
) -> None:
    state = state_after(history, age_hours)
    found = telegram.TelegramPost("abcd_news", 5, text, None, edited=edited)
    decided = telegram_revision(
        state,
        found,
        fp=text_fingerprint(found.title, text),
        digest=content_hash("tg", text),
        now=AT,
        window=48 * HOUR,
        max_revisions=3,
    )
    assert (decided[0] if decided else None) == expected
    if decided is not None and expected and expected > 1:
        assert decided[1] is not None and decided[1].revision == expected - 1
