"""The web page (`audiogen serve`, then http://127.0.0.1:8000/), driven in a real headless
Chromium through Selenium: a sentence becomes a beat in the player, a hit toggled in the grid
comes back in the re-rendered MIDI file, and a soloed stem silences the others.

Set AUDIOGEN_PAGE_SCREENSHOT=docs/page.png to keep a picture of the page (README shows it)."""

from __future__ import annotations

import io
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from audiogen.midi import read_midi
from audiogen.server.app import create_app

WAIT_S = 300  # for a beat (the machine may be busy, and the first loads the models)
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    BROWSER is None or DRIVER is None,
    reason="the page tests need Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver; ./install.sh --dev installs them)",
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, serving) -> Iterator[str]:
    """The server on a free port of 127.0.0.1, in this process."""
    with serving(create_app(tmp_path_factory.mktemp("serve"), workers=1, max_queue=8)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER or ""
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    flags = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
             "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1100")  # fmt: skip
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    yield driver
    driver.quit()


def _until(browser: webdriver.Chrome, script: str) -> object:
    """Wait until ``script`` (a JS expression on the page) is truthy; its value."""
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.1).until(
        lambda b: b.execute_script(f"return {script}")
    )


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return answer.read()


@pytest.fixture(scope="module")
def generated(url: str, browser: webdriver.Chrome) -> dict:
    """A beat asked for on the page with a sentence, bars and kit, once shown in the player."""
    browser.get(url + "/")
    _until(browser, "document.querySelectorAll('#genre option').length > 1")
    browser.find_element(By.ID, "prompt").send_keys("a bouncy house beat")
    browser.find_element(By.ID, "bars").send_keys("1")
    browser.find_element(By.ID, "seed").send_keys("5")  # the same beat each run
    Select(browser.find_element(By.ID, "kit")).select_by_value("acoustic")
    browser.find_element(By.ID, "generate").click()
    _until(browser, "window.audiogen.ready")
    return browser.execute_script("return window.audiogen.job")


def test_a_sentence_becomes_a_beat_in_the_player(browser, generated):
    assert generated["status"] == "done"
    assert generated["request"]["prompt"]["text"] == "a bouncy house beat"
    assert generated["request"]["plan"]["genre"] == "house"
    assert generated["request"]["plan"]["bars"] == 1 and generated["request"]["render"]["seed"] == 5
    info = sf.info(io.BytesIO(_get(generated["files"]["mix.wav"])))
    heard = browser.execute_script("return window.audiogen.player.duration")
    assert heard == pytest.approx(info.duration, abs=1e-3)
    stems = browser.execute_script("return window.audiogen.player.stems")
    assert {"kick", "snare"} <= set(stems)
    assert "Generate: done." in browser.find_element(By.ID, "status").text


def test_a_hit_added_in_the_grid_is_in_the_rerendered_midi(browser, generated, tmp_path):
    velocity = browser.find_element(By.ID, "velocity")
    velocity.clear()
    velocity.send_keys("77")
    cell = browser.find_element(
        By.CSS_SELECTOR, '[role="gridcell"][data-instrument="kick"][aria-selected="false"]'
    )
    added = (int(cell.get_attribute("data-tick")), "kick", 77)
    # with the keyboard, as a person without a mouse does it: focus the cell, press Space
    browser.execute_script("arguments[0].focus()", cell)
    cell.send_keys(Keys.SPACE)
    assert cell.get_attribute("aria-selected") == "true"
    browser.find_element(By.ID, "rerender").click()
    _until(browser, "window.audiogen.takes.length === 2 && window.audiogen.ready")
    edited = browser.execute_script("return window.audiogen.job")
    assert edited["kind"] == "render" and edited["id"] != generated["id"]
    before, after = tmp_path / "before.mid", tmp_path / "after.mid"
    before.write_bytes(_get(generated["files"]["beat.mid"]))
    after.write_bytes(_get(edited["files"]["beat.mid"]))
    old = {(h.tick, h.instrument, h.velocity): h.offset_ms for h in read_midi(before).hits}
    new = {(h.tick, h.instrument, h.velocity): h.offset_ms for h in read_midi(after).hits}
    assert set(new) - set(old) == {added}
    assert {key: new[key] for key in old} == pytest.approx(old)  # the rest as it was
    assert len(browser.find_elements(By.CSS_SELECTOR, "#takes li")) == 2


def test_vary_makes_a_take_from_the_one_shown(browser, generated):
    shown = browser.execute_script("return window.audiogen.job")
    takes = browser.execute_script("return window.audiogen.takes.length")
    browser.execute_script(
        "const a = document.getElementById('amount'); a.value = '0.3';"
        "a.dispatchEvent(new Event('input'))"
    )
    browser.find_element(By.ID, "vary").click()
    _until(browser, f"window.audiogen.takes.length === {takes + 1} && window.audiogen.ready")
    varied = browser.execute_script("return window.audiogen.job")
    assert varied["kind"] == "vary" and varied["request"]["source"] == shown["id"]
    assert varied["request"]["vary"]["amount"] == 0.3
    assert varied["request"]["render"]["kit"] == shown["request"]["render"]["kit"]
    assert browser.execute_script("return window.audiogen.grid.score.bars") == 1


def test_a_soloed_stem_silences_the_others(browser, generated):
    gains = browser.execute_script("return window.audiogen.player.gainValues()")
    assert gains["mix"] == 1 and not any(v for name, v in gains.items() if name != "mix")
    solo = browser.find_element(By.CSS_SELECTOR, 'button[aria-label="Solo snare"]')
    solo.send_keys(Keys.ENTER)
    gains = browser.execute_script("return window.audiogen.player.gainValues()")
    assert gains["snare"] == 1
    assert {name: v for name, v in gains.items() if name != "snare"} == dict.fromkeys(
        set(gains) - {"snare"}, 0
    )
    assert solo.get_attribute("aria-pressed") == "true"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors
    picture = os.environ.get("AUDIOGEN_PAGE_SCREENSHOT")
    if picture:
        browser.set_window_size(1280, 1400)  # the whole grid
        browser.find_element(By.ID, "play").click()
        time.sleep(0.6)  # the playhead on its way
        Path(picture).write_bytes(browser.get_screenshot_as_png())


def test_the_page_asks_for_the_token_and_sends_it(browser, tmp_path, serving):
    with serving(create_app(tmp_path, workers=1, token="s3cret")) as url:
        assert b"<form" in _get(url + "/") and _get(url + "/static/page.js")  # the page: open
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(url + "/v1/kits")
        assert refused.value.code == 401
        browser.get(url + "/")
        _until(browser, "!document.getElementById('access').hidden")
        assert "needs its token" in browser.find_element(By.ID, "status").text
        browser.find_element(By.ID, "token").send_keys("s3cret", Keys.ENTER)
        _until(browser, "document.querySelectorAll('#kit option').length > 1")
        assert not browser.find_element(By.ID, "access").is_displayed()
        browser.find_element(By.ID, "bars").send_keys("1")
        Select(browser.find_element(By.ID, "kit")).select_by_value("acoustic")
        browser.find_element(By.ID, "generate").click()
        _until(browser, "window.audiogen.ready")
        job = browser.execute_script("return window.audiogen.job")
        assert job["status"] == "done"
        assert browser.execute_script("return window.audiogen.player.duration") > 0
        # a download link cannot carry the token: the page fetches the file with it and saves it
        saved = browser.execute_async_script(
            """const done = arguments[0];
            HTMLAnchorElement.prototype.click = async function () {
              const blob = await (await fetch(this.href)).blob();
              done([this.download, blob.size]);
            };
            const link = document.querySelector('#downloads a[download$="beat.mid"]');
            link.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true}));"""
        )
        request = urllib.request.Request(
            job["files"]["beat.mid"], headers={"Authorization": "Bearer s3cret"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            midi = answer.read()
        assert saved == [f"{job['id']}-beat.mid", len(midi)]
