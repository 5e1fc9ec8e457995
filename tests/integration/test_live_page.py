"""The live page in a real headless browser (Debian's chromium through chromedriver and
Selenium): an article published to Kafka appears on the open page, without a reload, with its
severity, source, regions and the matched phrase highlighted; a screenshot is saved under
test-output/ (git-ignored) and the test's tmp dir."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Env, Worker
from tests.integration.subscribers import EGYPT, IRAQ, Api, article, create_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
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
    "--lang=ar",
    "--window-size=412,915",  # a phone
]


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
    # An explicit driver path: Selenium Manager never looks for (or downloads) a browser.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_alert_appears_live_on_the_page(env: Env, api: Api, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    token = create_key(env, "page")
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    # The key goes in the fragment (never sent to the server); the page keeps it locally.
    for _ in range(60):  # a new key is usable once the API has read it from its topic
        browser.get(f"{api.url}/#key={token}")
        try:
            WebDriverWait(browser, 10).until(
                lambda d: d.find_element(By.ID, "status").get_attribute("class") == "live"
            )
            break
        except Exception:
            continue
    assert browser.execute_script("return document.documentElement.dir") == "rtl"
    assert browser.execute_script("return document.documentElement.lang") == "ar"
    browser.execute_script("window.__loadedOnce = true")  # gone if the page reloads

    aid, raw = article(EGYPT, source="almasry")
    asyncio.run(env.produce([raw]))
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'article[data-article="{aid}"]'))
    assert browser.execute_script("return window.__loadedOnce === true")  # no reload
    assert card.find_element(By.CSS_SELECTOR, "mark").text == "خط أحمر"
    assert card.find_element(By.CSS_SELECTOR, ".sev").text == "عالية"
    assert card.find_element(By.CSS_SELECTOR, ".source").text == "almasry"
    regions = [e.text for e in card.find_elements(By.CSS_SELECTOR, ".tag.region")]
    assert "EG" in regions
    assert card.find_element(By.CSS_SELECTOR, "time").get_attribute("datetime")
    # newest first
    first = browser.find_element(By.CSS_SELECTOR, "#alerts article")
    assert first.get_attribute("data-article") == aid

    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    shot = tmp_path / "live-page.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, out / "live-page.png")

    # Filter by region: only Iraqi alerts now; a new Iraqi one still arrives live.
    browser.find_element(By.ID, "f-region").send_keys("IQ")
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'article[data-article="{aid}"]'))
    wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("class") == "live")
    iraq_id, iraq_raw = article(IRAQ)
    asyncio.run(env.produce([iraq_raw]))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'article[data-article="{iraq_id}"]'))
    for c in browser.find_elements(By.CSS_SELECTOR, "#alerts article"):
        assert "IQ" in [e.text for e in c.find_elements(By.CSS_SELECTOR, ".tag.region")]
    browser.save_screenshot(str(out / "live-page-filtered.png"))
