"""The analyst console in a real headless browser (Debian's chromium through chromedriver and
Selenium), against the real broker, worker and `rasid api`: articles published to Kafka become
one card per story that a second outlet's report updates in place (two outlets, «مصدران»),
with the rule's Arabic title, Arabic region names, the article's publication time as an Arabic
date, the matched phrase highlighted; filters are choices kept in the URL; the detail view
explains the alert and links only http(s) URLs; the map places markers and the timeline counts
alerts per hour. A search reaches stories the page never loaded (GET /alerts?q=) and pages on
under it; read marks stay across a reload; the CSV export is quoted, formula-safe and starts
with a BOM; notifications and sound are opt-in and only for high and critical (the page's
Notification and AudioContext recorded); the trends panel lists trend records published to
the deployment's trends topic, at load and live, and is hidden when GET /trends is a 404.
Screenshots at phone (412×915), laptop (1440×900) and wall (3840×2160) sizes go to
test-output/ (git-ignored) and the test's tmp dir (docs/img/console-*.png are copies of the
trends test's); no script error and no Content Security Policy violation may reach the
browser's console."""

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
    # a city, not only IQ (read in one go: the map redraws as the places come in)
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#map .marker[data-code="IQ"][data-exact="1"]')
    )
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#map .marker .label')].map(e => e.textContent)"
    )
    assert "بغداد" in labels or "البصرة" in labels or "الموصل" in labels, labels
    # alerts per hour: 24 bars; this hour holds the two new alerts (the update is no new one)
    bars = browser.execute_script(
        "return [...document.querySelectorAll('#timeline rect.bar')].map(b => b.dataset.count)"
    )
    assert len(bars) == 24
    assert sum(int(count) for count in bars) >= 2

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

    # The card at the three sizes (the docs' screenshots, with trends, are the trends test's).
    for name in ("phone", "laptop", "wall"):
        _resize(browser, name)
        assert browser.find_elements(By.CSS_SELECTOR, selector)
        _screenshot(browser, f"console-story-{name}", tmp_path)
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


# ---- search beyond the loaded page, paging, read marks, export (issue 17); notifications;
# the trends panel (issue 19)

TITLE = "راصد — لوحة المحلل"
# Five stories (different events: one story each), each with a red line; the first one's title
# is a spreadsheet formula with a comma and quotes (the export's checks).
STORIES = [
    (
        'وزير الدفاع: أمن الملاحة في البحر الأحمر {batch}, "عاجل"',
        "قال وزير الدفاع اليمني في عدن إن أمن الملاحة في البحر الأحمر خط أحمر، وإن القوات البحرية "
        "ستسيّر دوريات قرب مضيق باب المندب لحماية السفن التجارية وناقلات النفط. {tag}",
    ),
    (
        "نقابة المعلمين ترفض خفض الرواتب {batch}",
        "أعلنت نقابة المعلمين في عمّان أن رواتب المدرسين خط أحمر، ودعت إلى إضراب شامل في المدارس "
        "الحكومية الأسبوع المقبل إذا أقرّت الحكومة الموازنة الجديدة. {tag}",
    ),
    (
        "رئيس البرلمان اللبناني يحذر من تأجيل الانتخابات {batch}",
        "قال رئيس مجلس النواب في بيروت إن الدستور خط أحمر، وإن تأجيل الانتخابات البلدية مرة أخرى "
        "سيقابل برفض الكتل النيابية كافة. {tag}",
    ),
    (
        "اتحاد الكرة المغربي يشدد إجراءات الملاعب {batch}",
        "قال رئيس الجامعة الملكية المغربية لكرة القدم في الدار البيضاء إن سلامة الجماهير خط أحمر، "
        "وأعلن إغلاق مدرجات ملعب محمد الخامس حتى انتهاء أعمال الصيانة. {tag}",
    ),
    (
        "الخرطوم: مخزون القمح يكفي ثلاثة أشهر {batch}",
        "قال وزير الزراعة السوداني في الخرطوم إن مخزون القمح الاستراتيجي خط أحمر، وإن شحنات جديدة "
        "ستصل إلى ميناء بورتسودان خلال أيام لتغطية حاجة المخابز. {tag}",
    ),
]
# iraq-governorate-attack (severity low) and nothing higher
LOW = (
    "كمين لعناصر الشرطة قرب كركوك ({tag})، وقال مصدر في المحافظة إن الهجوم على نقطة للجيش في "
    "ديالى أسفر عن إصابات طفيفة."
)
# red-line (high), an event no other test reports: a new story, not an update of one
OIL = (
    "قال وزير النفط الكويتي في مدينة الكويت اليوم إن حصة البلاد في أوبك خط أحمر ({tag})، وإن أي "
    "خفض جديد للإنتاج لن يقبل قبل اجتماع الشهر المقبل."
)
# Before any page script: records every Notification constructed and every oscillator started
# (the sound), around the real ones, so the checks below can fail.
RECORDER = """
(() => {
  const rec = window.__rec = { notes: [], contexts: 0, oscillators: 0 };
  const Real = window.Notification;
  function Recorded(title, options) {
    rec.notes.push({ title: String(title), tag: options && options.tag, body: options && options.body });
    try { return new Real(title, options); } catch (e) { return { close() {} }; }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
  const RealAudio = window.AudioContext;
  window.AudioContext = class extends RealAudio {
    constructor(...args) { super(...args); rec.contexts += 1; }
    createOscillator() { rec.oscillators += 1; return super.createOscillator(); }
  };
})();
"""
# An API of the previous release: GET /trends is a 404.
NO_TRENDS = """
(() => {
  const real = window.fetch;
  window.fetch = (url, options) => String(url).startsWith("/trends")
    ? Promise.resolve(new Response('{"error": "not found"}', { status: 404 }))
    : real(url, options);
})();
"""


def _get(api: Api, token: str, path: str, **params: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.parse

    url = f"{api.url}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _until_api(
    api: Api, token: str, path: str, check: Any, timeout: float = 90, **params: str
) -> Any:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        status, body = _get(api, token, path, **params)
        if status == 200 and check(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"GET {path} {params}: never as expected; last {body}")


def _article_ids(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["id"] for alert in alerts for a in alert["articles"]}


def _type(browser: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element(By.ID, element_id)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    if text:
        box.send_keys(text)


def _cards(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, "#stories article.story"))


def _page_through(browser: Any, wait: Any, done: Any, clicks: int = 80) -> None:
    """Click «عرض المزيد» / «تحميل الأقدم» until `done()` or the button goes."""
    from selenium.webdriver.common.by import By

    for _ in range(clicks):
        if done():
            return
        more = browser.find_element(By.ID, "more")
        if not more.is_displayed():
            return
        more.click()
        wait.until(lambda d: d.find_element(By.ID, "more").get_attribute("disabled") is None)
    raise AssertionError("paging never ended")


def test_search_finds_beyond_the_loaded_page_and_pages_under_it(
    env: Env, api: Api, browser: Any, tmp_path: Path
) -> None:
    """With one alert a request (`?page=1`: the view loads three), a search finds a story the
    page never loaded (GET /alerts?q=, Arabic spelling folded), «عرض المزيد» pages through a
    search's results and then through everything; «تعليم الكل كمقروء» clears the counter and
    is kept; the CSV export quotes, guards formulas and starts with a BOM."""
    import csv
    import io

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    token = create_key(env, "search")
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    batch = uuid.uuid4().hex[:8]
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def story(i: int) -> tuple[str, bytes]:
        aid = f"sea-{batch}-{i}"
        title, body = STORIES[i]
        title = ("=" if i == 0 else "") + title.format(batch=batch)
        body = body.format(tag=" ".join(uuid.uuid4().hex[:8] for _ in range(40)))
        published = now - timedelta(minutes=30 - i)
        return aid, _raw(aid, "alarabiya", title, body, published, f"https://example.org/{aid}")

    # The oldest first, then four newer ones: the oldest is never in the first three alerts.
    first_id, first_raw = story(0)
    asyncio.run(env.produce([first_raw]))
    _until_api(api, token, "/alerts", lambda b: first_id in _article_ids(b["alerts"]), q=batch)
    rest = [story(i) for i in range(1, 5)]
    asyncio.run(env.produce([raw for _, raw in rest]))
    ids = {first_id} | {aid for aid, _ in rest}
    _until_api(api, token, "/alerts", lambda b: ids <= _article_ids(b["alerts"]), q=batch)
    newest = _get(api, token, "/alerts", limit="3")[1]["alerts"]
    assert first_id not in _article_ids(newest)

    _resize(browser, "laptop")
    _open(browser, api, token, "/?page=1")
    assert len(_cards(browser)) == 1  # one card a page
    first_sel = f'article.story[data-articles~="{first_id}"]'
    assert not browser.find_elements(By.CSS_SELECTOR, first_sel)

    # A search the API answers (no hamza in the query, «الأحمر» in the title).
    _type(browser, "f-q", f"البحر الاحمر {batch}")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, first_sel))
    assert len(_cards(browser)) == 1
    assert "q=" in browser.current_url and "page=1" in browser.current_url

    # Paging under a search: the five stories of the batch, one a page, then no more.
    _type(browser, "f-q", batch)
    wait.until(lambda d: len(_cards(d)) == 1 and not d.find_elements(By.CSS_SELECTOR, first_sel))
    _page_through(browser, wait, lambda: False, clicks=30)
    shown = {c.get_attribute("data-articles") for c in _cards(browser)}
    assert shown == ids, shown  # every one found, nothing else
    assert not browser.find_element(By.ID, "more").is_displayed()

    # Without the search: the newest first again, and paging back reaches the oldest.
    _type(browser, "f-q", "")
    wait.until(lambda d: "q=" not in d.current_url and len(_cards(d)) == 1)
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, first_sel))
    _page_through(browser, wait, lambda: bool(browser.find_elements(By.CSS_SELECTOR, first_sel)))
    card = browser.find_element(By.CSS_SELECTOR, first_sel)
    story_id, headline = (
        card.get_attribute("data-story"),
        card.find_element(By.CSS_SELECTOR, ".title").text,
    )

    # Read marks: all at once, kept in the browser across a reload.
    assert "unread" in card.get_attribute("class")
    assert browser.execute_script("return document.title").startswith("(")
    browser.find_element(By.ID, "ack-all").click()
    wait.until(lambda d: d.execute_script("return document.title") == TITLE)
    assert not browser.find_element(By.ID, "unread").is_displayed()
    assert not browser.find_elements(By.CSS_SELECTOR, "#stories article.story.unread")
    read = orjson.loads(browser.execute_script("return localStorage.getItem('rasid-read')"))
    assert story_id in read

    # CSV of the filtered view: the download the button makes.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.ID, "export").click()
    deadline = time.monotonic() + 30
    while not (files := list(downloads.glob("rasid-*.csv"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert files, list(downloads.iterdir())
    raw = files[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    text = raw[3:].decode()
    assert '""عاجل""' in text  # quotes doubled inside a quoted cell
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [
        "story_id",
        "severity",
        "status",
        "rules",
        "regions",
        "topics",
        "sources",
        "headline",
        "published_at",
        "updated_at",
        "urls",
    ]
    row = next(r for r in rows[1:] if r[0] == story_id)
    assert row[7] == "'" + headline  # a formula is shown, never run
    assert row[1] == "high" and row[10] == f"https://example.org/{first_id}"
    assert "إعلان خط أحمر" in row[3].split(" | ")

    _open(browser, api, token, "/?page=1")
    assert browser.execute_script("return document.title") == TITLE
    assert not _errors(browser)


def test_notifications_and_sound_are_opt_in_and_only_for_high_and_critical(
    env: Env, api: Api, browser: Any
) -> None:
    """Notification permission granted, the page's Notification and AudioContext recorded: off
    by default nothing is shown or played; switched on, a high story notifies and beeps once,
    a low one does neither. The API here answers GET /trends with 404 (an older release): no
    trends panel, and the rest works."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    token = create_key(env, "notify")
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": api.url, "permissions": ["notifications"]}
    )
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER + NO_TRENDS}
    )
    _open(browser, api, token)
    assert browser.execute_script("return Notification.permission") == "granted"
    assert not browser.find_element(By.ID, "trends-panel").is_displayed()
    for toggle in ("notify-toggle", "sound-toggle"):
        assert browser.find_element(By.ID, toggle).get_attribute("aria-pressed") == "false"

    def recorded() -> dict[str, Any]:
        return dict(browser.execute_script("return window.__rec"))

    def card_of(aid: str) -> Any:
        return wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, f'article.story[data-articles~="{aid}"]')
        )

    # Off by default: a high story shows nothing and plays nothing.
    quiet_id, quiet_raw = article(EGYPT, source="almasry")
    asyncio.run(env.produce([quiet_raw]))
    assert card_of(quiet_id).find_element(By.CSS_SELECTOR, ".sev").text == "عالية"
    time.sleep(1)
    assert recorded() == {"notes": [], "contexts": 0, "oscillators": 0}

    browser.find_element(By.ID, "notify-toggle").click()
    browser.find_element(By.ID, "sound-toggle").click()  # plays one beep to try it
    for toggle in ("notify-toggle", "sound-toggle"):
        assert browser.find_element(By.ID, toggle).get_attribute("aria-pressed") == "true"
    prefs = orjson.loads(browser.execute_script("return localStorage.getItem('rasid-prefs')"))
    assert prefs["notify"] is True and prefs["sound"] is True
    assert recorded()["contexts"] == 1 and recorded()["oscillators"] == 1
    browser.execute_script("window.__rec.oscillators = 0")

    # A low story: neither.
    low_id, low_raw = article(LOW, source="shafaq")
    asyncio.run(env.produce([low_raw]))
    assert card_of(low_id).find_element(By.CSS_SELECTOR, ".sev").text == "منخفضة"
    time.sleep(2)
    assert recorded()["notes"] == [] and recorded()["oscillators"] == 0

    # A high one: one notification for its story, one beep (a critical one beeps three times).
    high_id, high_raw = article(OIL, source="alqabas")
    asyncio.run(env.produce([high_raw]))
    high = card_of(high_id)
    assert high.find_element(By.CSS_SELECTOR, ".sev").text == "عالية"
    story_id = high.get_attribute("data-story")
    wait.until(lambda d: recorded()["notes"])
    time.sleep(1)
    notes = recorded()["notes"]
    assert [n["tag"] for n in notes] == [story_id], notes
    assert "عالية" in notes[0]["title"] and "قصة جديدة" in notes[0]["title"]
    assert recorded()["oscillators"] == 1
    assert not _errors(browser)


def _trend(
    level: str, at: datetime, *, headline: str, rule: str | None = None, count: float = 9.5
) -> dict[str, Any]:
    """A trend.v1 record: Iraq × security, or a rule's."""
    start = at - timedelta(hours=1)

    def iso(t: datetime) -> str:
        return t.isoformat().replace("+00:00", "Z")

    where: dict[str, Any] = (
        {"key": f"rule:{rule}", "kind": "rule", "rule": rule, "regions": [], "topics": []}
        if rule
        else {
            "key": "IQ|security",
            "kind": "region_topic",
            "region": "IQ",
            "topic": "security",
            "regions": ["IQ"],
            "topics": ["security"],
        }
    )
    return {
        "schema_version": 1,
        "id": uuid.uuid4().hex,
        **where,
        "level": level,
        "previous_level": None,
        "window": "1h",
        "window_seconds": 3600,
        "window_start": iso(start),
        "window_end": iso(at),
        "since": iso(start),
        "detected_at": iso(at),
        "count": count,
        "new_stories": 8,
        "new_outlets": 3,
        "expected": 1.25,
        "ratio": count / 1.25,
        "p_value": 1e-9,
        "p_day": 2e-8,
        "score": 7.7,
        "baseline": {
            "rate_per_hour": 1.25,
            "stream_factor": 1.0,
            "seasonal_factor": 1.0,
            "history_hours": 240.0,
            "half_life_hours": 168.0,
        },
        "top_stories": [
            {
                "story_id": "st-" + uuid.uuid4().hex[:24],
                "headline": headline,
                "size": 4,
                "reports": 3.5,
                "sources": ["shafaq", "alsumaria"],
                "first_seen": iso(start),
                "last_seen": iso(at),
            }
        ],
        "terms": [
            {"term": "كركوك", "count": 5, "window_share": 0.6, "baseline_share": 0.05, "ratio": 12},
            {"term": "تفجير", "count": 4, "window_share": 0.5, "baseline_share": 0.1, "ratio": 5},
        ],
    }


def _trend_view(browser: Any, trend_id: str) -> dict[str, Any] | None:
    """What the panel shows of a trend (read in one go: the panel may be redrawn meanwhile)."""
    view = browser.execute_script(
        """
        const li = document.querySelector(`#trends li.trend[data-trend="${arguments[0]}"]`);
        if (!li) return null;
        const text = sel => (li.querySelector(sel) || {}).textContent;
        return {level: text(".level"), key: text(".key"), window: text(".window"),
                count: text(".count"), headline: text(".trend-story .headline"),
                sources: text(".trend-story .sources"),
                terms: [...li.querySelectorAll(".terms .term")].map(e => e.textContent)};
        """,
        trend_id,
    )
    return dict(view) if view else None


async def _produce_to(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


def test_the_trends_panel_lists_bursts_in_arabic_and_live(
    env: Env, api: Api, browser: Any, tmp_path: Path
) -> None:
    """A trend record in the deployment's trends topic is in the panel when the page opens
    (GET /trends), another arrives live (`event: trend`), newest first: level, the key in
    Arabic, the window, the count against the usual, the top story's headline, the terms that
    grew. Then the docs' screenshots at phone, laptop and wall sizes."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from streams.kafka import names as topic_names
    from streams.settings import Settings
    from streams.validation import check_valid

    token = create_key(env, "trends")
    if _get(api, token, "/trends", limit="1")[0] == 404:
        pytest.skip("this API has no GET /trends (issue 19's endpoint, task B1, not there yet)")
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    topic = topic_names.trends(
        Settings(kafka_bootstrap=env.bootstrap, topic_alerts=env.topics["alerts"])
    )
    now = datetime.now(UTC).replace(microsecond=0)
    first = _trend("high", now - timedelta(minutes=5), headline="تفجير قرب مبنى المحافظة في كركوك")
    for record in (first,):
        check_valid("trend", record, "trend record")
    asyncio.run(_produce_to(env.bootstrap, topic, [orjson.dumps(first)]))
    _until_api(api, token, "/trends", lambda b: first["id"] in [t["id"] for t in b["trends"]])
    # a red-line alert in the view: the page knows the rule's Arabic title from the alerts
    iraq_id, iraq_raw = article(IRAQ, source="shafaq")
    asyncio.run(env.produce([iraq_raw]))

    _resize(browser, "laptop")
    _open(browser, api, token)
    browser.execute_script("window.__loadedOnce = true")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'article[data-articles~="{iraq_id}"]'))
    panel = browser.find_element(By.ID, "trends-panel")
    assert panel.is_displayed()
    item = wait.until(lambda d: _trend_view(d, first["id"]))
    assert item == {
        "level": "قوي",
        "key": "العراق · أمن",
        "window": "خلال ساعة",
        "count": "9.5 مقابل 1.3 متوقَّعًا",
        "headline": "تفجير قرب مبنى المحافظة في كركوك",
        "sources": "مصدران",
        "terms": ["كركوك", "تفجير"],
    }

    # Live: a rule's burst, extreme, comes over the stream and goes on top.
    second = _trend(
        "extreme", now, headline="بيانات متتالية عن خطوط حمراء", rule="red-line", count=14
    )
    check_valid("trend", second, "trend record")
    asyncio.run(_produce_to(env.bootstrap, topic, [orjson.dumps(second)]))
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#trends li.trend[data-trend="{second["id"]}"]')
    )
    assert browser.execute_script("return window.__loadedOnce === true")  # no reload
    listed = browser.execute_script(
        "return [...document.querySelectorAll('#trends li.trend')].map(e => e.dataset.trend)"
    )
    assert listed[:2] == [second["id"], first["id"]]
    item = _trend_view(browser, second["id"])
    assert item is not None
    assert item["level"] == "استثنائي" and item["key"] == "القاعدة: إعلان خط أحمر"

    # The view filtered to Syria: the Iraqi burst goes (and the rule's, which has no region).
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "f-region")).select_by_value("SY")
    wait.until(lambda d: "live" in d.find_element(By.ID, "status").get_attribute("class"))
    wait.until(
        lambda d: (
            not d.find_elements(By.CSS_SELECTOR, f'#trends li.trend[data-trend="{first["id"]}"]')
        )
    )
    Select(browser.find_element(By.ID, "f-region")).select_by_value("")
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#trends li.trend[data-trend="{first["id"]}"]')
    )

    # The docs' screenshots (docs/img/console-*.png are copies of these).
    for name in ("phone", "laptop", "wall"):
        _resize(browser, name)
        _screenshot(browser, f"console-{name}", tmp_path)
    _screenshot(browser, "console-wall-half", tmp_path, scale=0.5)
    _resize(browser, "laptop")
    assert not _errors(browser)
