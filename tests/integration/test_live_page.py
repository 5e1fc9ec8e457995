"""The analyst console in a real headless browser (Debian's chromium through chromedriver and
Selenium), against the real broker, worker and `rasid api`: articles published to Kafka become
one card per story that a second outlet's report updates in place (two outlets, «مصدران»),
with the rule's Arabic title, Arabic region names, the article's publication time as an Arabic
date, the matched phrase highlighted; filters are choices kept in the URL; the detail view
explains the alert and links only http(s) URLs; the map places markers and the timeline counts
alerts per hour. Screenshots at phone (412×915), laptop (1440×900) and wall (3840×2160) sizes
go to test-output/ (git-ignored) and the test's tmp dir; no script error and no Content
Security Policy violation may reach the browser's console."""

from __future__ import annotations

import asyncio
import base64
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Env, Worker
from tests.integration.subscribers import EGYPT, IRAQ, Api, article, create_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--lang=ar",
    "--window-size=1440,900",
]
# The browser runs in Baghdad's time zone (UTC+3 all year): dates must be the article's
# publication time in the viewer's zone, written in Arabic.
BROWSER_TZ = "Asia/Baghdad"
BAGHDAD = timezone(timedelta(hours=3))
MONTHS = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
]
SIZES = {"phone": (412, 915), "laptop": (1440, 900), "wall": (3840, 2160)}
SYRIA = "قال مسؤول في دمشق اليوم إن الطريق الدولي بين حلب وحمص خط أحمر ({tag})، وإن أي هجوم على إدلب سيقابل برد عسكري."


@pytest.fixture(scope="module")
def api(env: Env, worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env.rasid("topics")
    server = Api(env, tmp_path_factory.mktemp("page-api") / "api.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium / chromium-driver not installed (scripts/bootstrap installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never looks for (or downloads) a browser.
    service = webdriver.ChromeService(CHROMEDRIVER, env={"TZ": BROWSER_TZ})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


NILE = (
    "أعلن محافظ أسوان اليوم أن حصة مصر من مياه النيل خط أحمر ({tag})، وأن لجنة فنية ستزور "
    "السدود الجنوبية لمراجعة منسوب بحيرة ناصر خلال الأسبوع المقبل."
)


def _raw(aid: str, source: str, title: str, body: str, published: datetime, url: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "id": aid,
            "source": source,
            "title": title,
            "body": body,
            "url": url,
            "published_at": published.isoformat().replace("+00:00", "Z"),
        }
    )


def _arabic(at: datetime) -> tuple[str, str]:
    """(«14 مارس», «12:05 م») of a time in Baghdad, as Arabic dates read."""
    local = at.astimezone(BAGHDAD)
    hour = local.hour % 12 or 12
    return (
        f"{local.day} {MONTHS[local.month - 1]}",
        f"{hour}:{local.minute:02d} {'ص' if local.hour < 12 else 'م'}",
    )


def _plain(text: str) -> str:
    """Text without bidi marks, and with the narrow spaces ICU may use as plain spaces."""
    for mark in ("\u200f", "\u200e", "\u061c"):
        text = text.replace(mark, "")
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def _resize(browser: Any, name: str) -> None:
    width, height = SIZES[name]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700},
    )
    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(1.0)  # layout, the map's markers and the timeline follow the new size
    assert browser.execute_script("return [innerWidth, innerHeight]") == [width, height]


def _screenshot(browser: Any, name: str, tmp_path: Path, scale: float = 1.0) -> Path:
    """The viewport as a PNG in the tmp dir and test-output/; scale < 1 for a smaller copy
    (the wall's for the docs)."""
    width, height = browser.execute_script("return [innerWidth, innerHeight]")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": scale},
        },
    )
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    OUT.mkdir(exist_ok=True)
    shutil.copy(path, OUT / path.name)
    return path


def _errors(browser: Any) -> list[str]:
    """Script errors and CSP violations the page logged since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_console_is_served_with_security_headers(api: Api) -> None:
    with urllib.request.urlopen(f"{api.url}/", timeout=10) as resp:
        page = resp.read().decode()
        headers = resp.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in page and "<style>" not in page and " style=" not in page
    with urllib.request.urlopen(f"{api.url}/static/console.js", timeout=10) as resp:
        assert "javascript" in resp.headers["Content-Type"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def _open(browser: Any, api: Api, token: str, path: str = "/") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # The key goes in the fragment (never sent to the server); the page keeps it locally.
    for _ in range(60):  # a new key is usable once the API has read it from its topic
        browser.get(f"{api.url}{path}#key={token}")
        try:
            WebDriverWait(browser, 10).until(
                lambda d: "live" in d.find_element(By.ID, "status").get_attribute("class")
            )
            return
        except Exception:
            continue
    raise AssertionError("the console never went live")


def test_the_console_groups_a_story_filters_and_explains(
    env: Env, api: Api, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    token = create_key(env, "console")
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    _resize(browser, "laptop")
    _open(browser, api, token)
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    assert browser.execute_script("return document.documentElement.lang") == "ar"
    browser.execute_script("window.__loadedOnce = true")  # gone if the page reloads

    # One story, first from one outlet …
    # Its own wording: earlier tests of the session publish EGYPT articles from other outlets,
    # and a story this close to theirs would join them (more than one outlet from the start).
    body = NILE.format(tag=" ".join(uuid.uuid4().hex[:8] for _ in range(40)))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first_at, second_at = now - timedelta(hours=2, minutes=7), now - timedelta(minutes=43)
    first, second = f"page-{uuid.uuid4().hex[:10]}", f"page-{uuid.uuid4().hex[:10]}"
    first_raw = _raw(first, "almasry", "محافظ أسوان: حصة مصر من مياه النيل خط أحمر", body, first_at,
                     "https://www.example.org/news/1")  # fmt: skip
    asyncio.run(env.produce([first_raw]))
    selector = f'article.story[data-articles~="{first}"]'
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, selector))
    assert browser.execute_script("return window.__loadedOnce === true")  # live, no reload
    assert card.find_element(By.CSS_SELECTOR, "mark").text == "خط أحمر"
    assert card.find_element(By.CSS_SELECTOR, ".sev").text == "عالية"
    assert card.find_element(By.CSS_SELECTOR, ".count-sources").text == "مصدر واحد"
    # Arabic names (alert.v3 `names`), the code kept in data-code; the rule's Arabic title
    regions = {
        e.get_attribute("data-code"): e.text
        for e in card.find_elements(By.CSS_SELECTOR, ".tag.region")
    }
    assert regions.get("EG") == "مصر"
    assert card.find_element(By.CSS_SELECTOR, ".rule").text == "إعلان خط أحمر"
    # the article's publication time (not when it was processed), as an Arabic date
    when = card.find_element(By.CSS_SELECTOR, "time.when")
    day, clock = _arabic(first_at)
    assert day in _plain(when.text) and clock in _plain(when.text), when.text
    assert browser.execute_script("return getComputedStyle(arguments[0]).direction", when) == "rtl"
    assert browser.execute_script("return document.title").startswith("(")  # unread counter

    # … then the same story from a second outlet, whose URL is a javascript: one: the same
    # card, now with two outlets, each with its headline and time, the bad URL not a link.
    second_raw = _raw(second, "youm7", "لجنة فنية تراجع منسوب بحيرة ناصر وحصة مصر من النيل",
                      body.replace("اليوم", "اليوم الثلاثاء"), second_at,
                      "javascript:alert(document.domain)")  # fmt: skip
    asyncio.run(env.produce([second_raw]))
    card = wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'{selector}[data-articles~="{second}"]')
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, selector)) == 1  # one card per story
    assert card.find_element(By.CSS_SELECTOR, ".count-sources").text == "مصدران"
    outlets = card.find_elements(By.CSS_SELECTOR, ".outlet")
    assert [o.get_attribute("data-article") for o in outlets] == [first, second]
    assert [o.find_element(By.CSS_SELECTOR, ".source").text for o in outlets] == [
        "almasry",
        "youm7",
    ]
    assert outlets[0].find_element(By.CSS_SELECTOR, "a.headline").get_attribute("href") == (
        "https://www.example.org/news/1"
    )
    assert not outlets[1].find_elements(By.CSS_SELECTOR, "a")  # javascript: is text
    day2, clock2 = _arabic(second_at)
    assert clock in _plain(outlets[0].find_element(By.CSS_SELECTOR, "time").text)
    assert clock2 in _plain(outlets[1].find_element(By.CSS_SELECTOR, "time").text)
    assert day2 in _plain(card.find_element(By.CSS_SELECTOR, "time.when").text)
    assert not browser.find_elements(By.CSS_SELECTOR, 'a[href^="javascript"], a[href^="data"]')

    # An Iraqi story (Baghdad, Basra, Mosul) and a Syrian one: cards of their own, markers.
    iraq_id, iraq_raw = article(IRAQ, source="shafaq")
    syria_id, syria_raw = article(SYRIA, source="enabbaladi")
    asyncio.run(env.produce([iraq_raw, syria_raw]))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'article[data-articles~="{syria_id}"]'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'article[data-articles~="{iraq_id}"]'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#map .marker[data-code="IQ"]'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#map .marker[data-code="EG"]'))
    iraq_marks = browser.find_elements(By.CSS_SELECTOR, '#map .marker[data-code="IQ"]')
    assert any(m.get_attribute("data-exact") == "1" for m in iraq_marks)  # a city, not only IQ
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#map .marker .label")]
    assert "بغداد" in labels or "البصرة" in labels or "الموصل" in labels, labels
    # alerts per hour: 24 bars; this hour holds the two new alerts (the update is no new one)
    bars = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.bar")
    assert len(bars) == 24
    assert sum(int(b.get_attribute("data-count")) for b in bars) >= 2

    # The detail view: why it alerted, every article, links http(s) only.
    story_id = card.get_attribute("data-story")
    card.find_element(By.CSS_SELECTOR, "button.open").click()  # opening it marks it read
    dialog = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "dialog#detail[open]"))
    assert "خط أحمر" in [m.text for m in dialog.find_elements(By.CSS_SELECTOR, ".match mark")]
    assert dialog.find_element(By.CSS_SELECTOR, ".rule").text == "إعلان خط أحمر"
    egypt = dialog.find_element(By.CSS_SELECTOR, '.evidence.regions li[data-code="EG"]')
    assert "أسوان" in [q.text for q in egypt.find_elements(By.CSS_SELECTOR, "q")]
    listed = dialog.find_elements(By.CSS_SELECTOR, ".articles .outlet")
    assert [o.get_attribute("data-article") for o in listed] == [first, second]
    hrefs = [a.get_attribute("href") for a in dialog.find_elements(By.CSS_SELECTOR, "a")]
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    assert f"#story={story_id}" in browser.current_url  # shareable
    _screenshot(browser, "console-detail", tmp_path)
    browser.find_element(By.ID, "detail-close").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog#detail[open]"))

    # Screenshots at the three sizes (the wall's also at half size, for the docs).
    for name in ("phone", "laptop", "wall"):
        _resize(browser, name)
        assert browser.find_elements(By.CSS_SELECTOR, selector)
        _screenshot(browser, f"console-{name}", tmp_path)
    _screenshot(browser, "console-wall-half", tmp_path, scale=0.5)
    _resize(browser, "laptop")

    # Themes: the system's (light here), dark on demand, kept in the browser.
    def background() -> str:
        return str(browser.execute_script("return getComputedStyle(document.body).backgroundColor"))

    light = background()
    browser.find_element(By.ID, "theme-toggle").click()
    assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
    assert background() != light
    assert "dark" in browser.execute_script("return localStorage.getItem('rasid-prefs')")
    _screenshot(browser, "console-laptop-dark", tmp_path)
    browser.find_element(By.ID, "theme-toggle").click()  # light
    browser.find_element(By.ID, "theme-toggle").click()  # the system's again
    assert background() == light

    # Filter by region through the choices (Arabic names): only Iraqi stories, in the URL too,
    # and a new Iraqi one still arrives live while a new Egyptian one does not.
    region = Select(browser.find_element(By.ID, "f-region"))
    assert {o.get_attribute("value"): o.text for o in region.options}.get("IQ") == "العراق"
    region.select_by_value("IQ")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, selector))
    wait.until(lambda d: "live" in d.find_element(By.ID, "status").get_attribute("class"))
    assert "region=IQ" in browser.current_url
    late_egypt, late_egypt_raw = article(EGYPT, source="almasry")
    late_iraq, late_iraq_raw = article(IRAQ)
    asyncio.run(env.produce([late_egypt_raw, late_iraq_raw]))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'article[data-articles~="{late_iraq}"]'))
    time.sleep(3)
    assert not browser.find_elements(By.CSS_SELECTOR, f'article[data-articles~="{late_egypt}"]')
    for c in browser.find_elements(By.CSS_SELECTOR, "#stories article.story"):
        tags = c.find_elements(By.CSS_SELECTOR, ".tag.region")
        assert "IQ" in [e.get_attribute("data-code") for e in tags]
    # the map shows the filtered view: Iraq, and only countries the listed stories name
    marked = {
        m.get_attribute("data-code") for m in browser.find_elements(By.CSS_SELECTOR, "#map .marker")
    }
    assert "IQ" in marked and marked <= set(_codes(browser)), marked

    # A shared view opens with its filters; acknowledging a story lowers the counter.
    _open(browser, api, token, "/?region=IQ")
    assert (
        Select(browser.find_element(By.ID, "f-region")).first_selected_option.get_attribute("value")
        == "IQ"
    )
    iraq_card = wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'article[data-articles~="{late_iraq}"]')
    )
    before = browser.execute_script("return document.title")
    iraq_card.find_element(By.CSS_SELECTOR, "button.ack").click()
    wait.until(lambda d: d.execute_script("return document.title") != before)
    assert not _errors(browser)


def _codes(browser: Any) -> list[str]:
    """Every region code on the listed cards (a story about Iraq may name other countries)."""
    from selenium.webdriver.common.by import By

    return [
        e.get_attribute("data-code")
        for e in browser.find_elements(By.CSS_SELECTOR, "#stories .tag.region")
    ]


def test_the_consoles_arabic_and_link_checks_in_the_browser(api: Api, browser: Any) -> None:
    """The console's own module, as the browser runs it: links, plurals, dates."""
    browser.get(f"{api.url}/")
    result = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import("/static/arabic.js").then(m => done({
          links: ["https://a.example/x", "http://b.example/", "javascript:alert(1)",
                  " javascript:alert(1)", "java\\tscript:alert(1)", "JAVASCRIPT:x",
                  "data:text/html,<b>x</b>", "vbscript:x", "/relative", "//host/x", ""]
                 .map(m.safeHref),
          sources: [0, 1, 2, 3, 10, 11, 99, 100].map(n => m.plural(n, m.COUNTS.sources)),
          date: m.dateTime("2025-03-14T09:05:00Z", {timeZone: "Asia/Baghdad"}),
        }), e => done({error: String(e)}));
        """
    )
    assert "error" not in result, result
    assert result["links"] == ["https://a.example/x", "http://b.example/"] + [None] * 9
    assert result["sources"] == [
        "لا مصادر",
        "مصدر واحد",
        "مصدران",
        "3 مصادر",
        "10 مصادر",
        "11 مصدرًا",
        "99 مصدرًا",
        "100 مصدر",
    ]
    assert _plain(result["date"]) == "14 مارس 2025 في 12:05 م"
