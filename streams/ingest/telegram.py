"""Public Telegram channels through their web preview (https://t.me/s/<channel>): the page's
HTML → its posts (text, date, views, forwarded-from, media links, edited flag) and the link to
older posts; a post → a raw-article message.

Pure: no I/O. The preview's markup (one `div.tgme_widget_message[data-post]` per post, inside a
`div.tgme_widget_message_wrap`) is read with lxml, never with regular expressions over HTML.
Everything is bounded: posts per page, text, title, media links, URL lengths.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")  # Telegram usernames: 5–32 in practice
MAX_POSTS = 100  # a preview page holds ~20
MAX_TEXT = 10_000  # Telegram caps a message at 4,096 characters (captions at 1,024)
MAX_TITLE = 300
MAX_MEDIA = 10
MAX_URL = 2048
MAX_NAME = 256
PREVIEW_BASE = "https://t.me"  # post URLs are always the public ones, whatever was fetched

_VIEWS = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([KMB]?)$", re.IGNORECASE)
_MULTIPLIER = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
# Inside a style attribute (not HTML): background-image:url('…')
_CSS_URL = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@dataclass(frozen=True, slots=True)
class ForwardedFrom:
    name: str
    url: str | None = None  # None when the original author hides their account


@dataclass(frozen=True, slots=True)
class TelegramPost:
    channel: str  # as the page spells it
    number: int
    text: str  # "" for a post with no words (media or emoji only)
    published_at: datetime | None
    views: int | None = None
    forwarded_from: ForwardedFrom | None = None
    media: tuple[str, ...] = ()
    edited: bool = False

    @property
    def article_id(self) -> str:
        # Usernames are case-insensitive: one post, one id, however the file spells it.
        return f"telegram:{self.channel.lower()}/{self.number}"

    @property
    def url(self) -> str:
        return f"{PREVIEW_BASE}/{self.channel}/{self.number}"

    @property
    def has_words(self) -> bool:
        """Anything to monitor: at least one letter or digit (an emoji alone is not)."""
        return any(ch.isalnum() for ch in self.text)

    @property
    def title(self) -> str | None:
        return title_of(self.text)


@dataclass(frozen=True, slots=True)
class TelegramPage:
    posts: tuple[TelegramPost, ...]  # in page order: oldest first, as the preview shows them
    before: int | None  # ?before=N gives the posts older than these; None: no older page
    skipped: int = 0  # service messages and malformed posts


def channel_url(base: str, channel: str, before: int | None = None) -> str:
    """The preview page of a channel (base: RASID_INGEST_TELEGRAM_BASE)."""
    url = f"{base.rstrip('/')}/s/{channel}"
    return f"{url}?before={before}" if before is not None else url


def parse_views(value: str | None) -> int | None:
    """'987' → 987, '1.2K' → 1200, '15.3K' → 15300, '1M' → 1000000; anything else → None."""
    if not value:
        return None
    m = _VIEWS.match(value.strip())
    if not m:
        return None
    try:
        number = Decimal(m.group(1).replace(",", "."))
    except InvalidOperation:
        return None
    return int(number * _MULTIPLIER[m.group(2).upper()])


def title_of(text: str) -> str | None:
    """The first non-empty line, cut at a word boundary to MAX_TITLE characters."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) <= MAX_TITLE:
            return line
        cut = line[:MAX_TITLE].rsplit(" ", 1)[0] or line[:MAX_TITLE]
        return cut.rstrip() + "…"
    return None


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _first(node: Any, xpath: str) -> Any | None:
    found = node.xpath(xpath)
    return found[0] if found else None


def _clean(value: str) -> str:
    return " ".join(value.split())


def _text(node: Any) -> str:
    """A message's text: <br> are line breaks, inline markup (links, bold, emoji wrappers)
    keeps its words; spaces collapsed per line, at most one blank line in a row."""
    for br in node.iter("br"):
        br.tail = "\n" + (br.tail or "")
    lines = [_clean(line) for line in str(node.text_content()).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()[:MAX_TEXT]


def _absolute(url: str | None, base: str) -> str | None:
    if not url:
        return None
    url = urljoin(base, url.strip())  # //telegram.org/… → https://telegram.org/…
    if len(url) > MAX_URL or urlsplit(url).scheme not in {"http", "https"}:
        return None
    return url


def _time(node: Any) -> datetime | None:
    stamp = _first(node, f".//a[{_has_class('tgme_widget_message_date')}]/time/@datetime")
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(str(stamp).strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _edited(node: Any) -> bool:
    if _first(node, f".//*[{_has_class('tgme_widget_message_edited')}]") is not None:
        return True
    # The preview writes "edited" as bare text in the meta span, before the date link.
    for meta in node.xpath(f".//span[{_has_class('tgme_widget_message_meta')}]"):
        if "edited" in " ".join(str(t) for t in meta.xpath("text()")).lower():
            return True
    return False


def _forwarded(node: Any, base: str) -> ForwardedFrom | None:
    box = _first(node, f".//div[{_has_class('tgme_widget_message_forwarded_from')}]")
    if box is None:
        return None
    name_node = _first(box, f".//*[{_has_class('tgme_widget_message_forwarded_from_name')}]")
    if name_node is None:
        return None
    name = _clean(str(name_node.text_content()))[:MAX_NAME]
    url = _absolute(name_node.get("href"), base) if name_node.tag == "a" else None
    return ForwardedFrom(name, url) if name else None


def _media(node: Any, base: str) -> tuple[str, ...]:
    found: list[str | None] = []
    for wrap in node.xpath(f".//a[{_has_class('tgme_widget_message_photo_wrap')}]"):
        m = _CSS_URL.search(wrap.get("style") or "")
        found.append(_absolute(m.group(1), base) if m else None)
    for video in node.xpath(".//video"):
        found.append(_absolute(video.get("src"), base))
    for player in node.xpath(f".//a[{_has_class('tgme_widget_message_video_player')}]"):
        if not player.xpath(".//video[@src]"):  # a video too large to inline: the post link
            found.append(_absolute(player.get("href"), base))
    for doc in node.xpath(f".//a[{_has_class('tgme_widget_message_document_wrap')}]"):
        found.append(_absolute(doc.get("href"), base))
    return tuple(dict.fromkeys(u for u in found if u))[:MAX_MEDIA]


def _post(node: Any, base: str) -> TelegramPost | None:
    channel, _, number = (node.get("data-post") or "").partition("/")
    if not CHANNEL.match(channel) or not number.isdigit() or len(number) > 12:
        return None
    # The message's own text, not the quoted text of the post it replies to.
    text_node = _first(
        node,
        f".//div[{_has_class('tgme_widget_message_text')}]"
        f"[not(ancestor::*[{_has_class('tgme_widget_message_reply')}])]",
    )
    return TelegramPost(
        channel=channel,
        number=int(number),
        text=_text(text_node) if text_node is not None else "",
        published_at=_time(node),
        views=parse_views(
            str(node.xpath(f"string(.//span[{_has_class('tgme_widget_message_views')}])"))
        ),
        forwarded_from=_forwarded(node, base),
        media=_media(node, base),
        edited=_edited(node),
    )


def _before(tree: Any) -> int | None:
    """Where older posts start: <link rel="prev" href="/s/<channel>?before=N">, else the
    'load more' element's data-before."""
    for href in tree.xpath("//link[@rel='prev']/@href"):
        values = parse_qs(urlsplit(str(href)).query).get("before") or []
        if values and values[0].isdigit():
            return int(values[0])
    for value in tree.xpath(f"//a[{_has_class('tme_messages_more')}]/@data-before"):
        if str(value).isdigit():
            return int(value)
    return None


def parse_channel_page(
    html: str, *, base: str = PREVIEW_BASE, max_posts: int = MAX_POSTS
) -> TelegramPage:
    """The preview page's posts (service messages and malformed entries skipped, counted).
    Never raises on bad markup: an unreadable page has no posts."""
    lxml_html = importlib.import_module("lxml.html")  # untyped library: keep it Any
    try:
        tree = lxml_html.document_fromstring(html)
    except Exception:  # lxml raises several types on empty or hostile input
        return TelegramPage((), None, 0)
    posts: list[TelegramPost] = []
    skipped = 0
    for node in tree.xpath(f"//div[{_has_class('tgme_widget_message')}][@data-post]"):
        if len(posts) >= max_posts:
            break
        if "service_message" in (node.get("class") or "").split():
            skipped += 1
            continue
        post = _post(node, base)
        if post is None:
            skipped += 1
            continue
        posts.append(post)
    return TelegramPage(tuple(posts), _before(tree), skipped)


def raw_message(
    post: TelegramPost, *, source: str, lang: str, fetched_at: str, revision: int
) -> dict[str, Any]:
    """The raw-article message (schemas/raw-article.v2.json) of a post with words. Views,
    forwarded-from and media ride along under `telegram` (extra properties are kept)."""
    extra: dict[str, Any] = {"views": post.views, "media": list(post.media)}
    if post.forwarded_from is not None:
        extra["forwarded_from"] = {
            "name": post.forwarded_from.name,
            "url": post.forwarded_from.url,
        }
    if post.edited:
        extra["edited"] = True
    message: dict[str, Any] = {
        "schema_version": 2,
        "id": post.article_id,
        "revision": revision,
        "source": source,
        "url": post.url,
        "body": post.text,
        "content_type": "text/plain",
        "fetched_at": fetched_at,
        "lang": lang,
        "telegram": extra,
    }
    if post.title:
        message["title"] = post.title
    if post.published_at is not None:
        message["published_at"] = post.published_at.isoformat()
    return message
