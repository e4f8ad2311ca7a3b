"""End to end: the real server (`xlmr-ner-serve` in a subprocess on
127.0.0.1) and its page driven in headless Chromium through Selenium: type
multilingual text, click, check the highlighted entities and the direction of
the Arabic text; a screenshot goes to the test's tmp_path (or
$XLMR_NER_TEST_ARTIFACTS)."""
import os
from pathlib import Path

import pytest

from helpers.serve import (  # noqa: F401 (artifacts_dir, served_pipeline: fixtures)
    EMOJI_ENTITIES,
    EMOJI_TEXT,
    EXAMPLE_ENTITIES,
    EXAMPLE_TEXT,
    artifacts_dir,
    needs_serve_extra,
    post_json,
    running_server,
    served_pipeline,
)

needs_serve_extra()
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); .ci/run installs them",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MAX_CHARS = 2000
TYPED = ["ru", "ar", "hi", "zh"]


@pytest.fixture(scope="module")
def server(served_pipeline, tmp_path_factory):
    with running_server(served_pipeline, tmp_path_factory.mktemp("browser"), "--max-chars", str(MAX_CHARS)) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    # Never let Selenium Manager look for a driver or browser on the network.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1300", "--lang=en"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def run_and_wait(driver):
    driver.find_element(By.ID, "run").click()
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))


def page_entities(driver):
    """Per rendered text: its text and its marks' (entity text, label)."""
    return driver.execute_script(
        """return [...document.querySelectorAll('#results .entities')].map((block) => ({
               text: block.textContent,
               dir: getComputedStyle(block).direction,
               ents: [...block.querySelectorAll('mark.entity')].map((m) => [m.firstChild.textContent, m.dataset.label]),
           }));"""
    )


def test_page_finds_and_draws_entities(server, browser, artifacts_dir):
    browser.get(server.url + "/")
    assert "named entities" in browser.title
    buttons = {b.get_attribute("data-lang") for b in browser.find_elements(By.CSS_SELECTOR, "#examples button")}
    assert {"zh", "ar", "ru", "hi"} <= buttons
    assert "labels: LOC, ORG, PER" in browser.find_element(By.ID, "about").text
    # The meta's "</script><script>…" stayed text.
    assert browser.execute_script("return window.pwned") is None

    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys("\n".join(EXAMPLE_TEXT[lang] for lang in TYPED))
    run_and_wait(browser)
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done"
    rendered = page_entities(browser)
    assert [block["ents"] for block in rendered] == [[list(e) for e in EXAMPLE_ENTITIES[lang]] for lang in TYPED]
    # The mark's label sits inside it, after the entity text, as in displaCy.
    assert [block["text"].replace("PER", "").replace("LOC", "").replace("ORG", "") for block in rendered] == [EXAMPLE_TEXT[lang] for lang in TYPED]
    assert [block["dir"] for block in rendered] == ["ltr", "rtl", "ltr", "ltr"]
    # The page shows what the API says.
    _, api = post_json(server.url + "/ner", {"texts": [EXAMPLE_TEXT[lang] for lang in TYPED]})
    assert [block["ents"] for block in rendered] == [[[e["text"], e["label"]] for e in r["entities"]] for r in api["results"]]
    n = sum(len(EXAMPLE_ENTITIES[lang]) for lang in TYPED)
    assert browser.find_element(By.ID, "status").text.startswith(f"{n} entities in 4 texts")

    # Right to left on screen: the Arabic text's first entity (the person) is
    # drawn to the right of the second (the city), on the same line.
    arabic = browser.find_elements(By.CSS_SELECTOR, "#results .entities")[1]
    person, city, _ = arabic.find_elements(By.CSS_SELECTOR, "mark.entity")
    assert person.location["y"] == city.location["y"]
    assert person.location["x"] > city.location["x"] + city.size["width"]
    assert browser.execute_script("return getComputedStyle(arguments[0]).direction", arabic) == "rtl"
    # Colours of displaCy's entity style.
    colors = [m.value_of_css_property("background-color") for m in (person, city)]
    assert colors == ["rgba(170, 156, 252, 1)", "rgba(255, 149, 97, 1)"]

    # Emoji (two UTF-16 units each, which ChromeDriver cannot type): the
    # page turns the API's code-point offsets into the right substrings.
    browser.execute_script("arguments[0].value = arguments[1]", box, EMOJI_TEXT + "\n" + box.get_attribute("value"))
    run_and_wait(browser)
    rendered = page_entities(browser)
    assert rendered[0]["ents"] == [list(e) for e in EMOJI_ENTITIES]
    assert [block["ents"] for block in rendered[1:]] == [[list(e) for e in EXAMPLE_ENTITIES[lang]] for lang in TYPED]
    screenshot = artifacts_dir / "serve_page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"\nscreenshot: {screenshot}")


def test_example_button_and_errors(server, browser):
    browser.get(server.url + "/")
    browser.find_element(By.CSS_SELECTOR, '#examples button[data-lang="zh"]').click()
    assert browser.find_element(By.ID, "text").get_attribute("value") == EXAMPLE_TEXT["zh"]
    run_and_wait(browser)
    (block,) = page_entities(browser)
    assert block["ents"] == [list(e) for e in EXAMPLE_ENTITIES["zh"]] and block["dir"] == "ltr"

    # The server's limit comes back as a readable message, no results.
    box = browser.find_element(By.ID, "text")
    browser.execute_script("arguments[0].value = arguments[1]", box, "a" * (MAX_CHARS + 1))
    run_and_wait(browser)
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed()
    assert error.text == f'"texts"[0] has {MAX_CHARS + 1} characters, over the limit of {MAX_CHARS}'
    assert page_entities(browser) == []
    # Nothing typed: said so, nothing sent.
    box.clear()
    run_and_wait(browser)
    assert "Type or paste some text first" in browser.find_element(By.ID, "error").text


def test_log_file_records_the_requests(server, browser):
    browser.get(server.url + "/")
    log = server.log_file.read_text(encoding="utf-8")
    assert '"GET / HTTP/1.1" 200' in log and '"POST /ner HTTP/1.1" 200' in log and '"POST /ner HTTP/1.1" 422' in log
