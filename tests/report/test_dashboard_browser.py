"""The dashboard in a real headless Chromium, driven by Selenium: plots, feed, agent inspector, escaping.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Skipped only when
they are missing outside CI; in CI (``CI=true``) their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _browser_missing() -> str | None:
    if not Path(CHROMEDRIVER).is_file() or not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "Debian's chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def server(social_run: Path) -> Iterator[str]:
    import uvicorn

    from populace.report.dashboard import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(social_run), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "dashboard server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary is not None
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_dashboard_renders_plots_feed_and_agent_with_agent_text_inert(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, 20)
    driver.get(server)  # type: ignore[attr-defined]

    # progress and plots: one chart per recorded metric, each with a drawn line
    wait.until(lambda d: "5 / 5 steps" in d.find_element(By.ID, "progress").text)
    charts = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plots svg.chart polyline.series"))
    titles = {c.get_attribute("data-title") for c in driver.find_elements(By.CSS_SELECTOR, "#plots svg.chart")}
    assert titles == {"posts", "variance"} and len(charts) == 2
    assert all(len(c.get_attribute("points").split()) == 5 for c in charts)

    # the feed at the last step: every post, the malicious one shown as its literal text
    posts = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#feed-list .post"))
    assert len(posts) == 5
    contents = [p.text for p in driver.find_elements(By.CSS_SELECTOR, "#feed-list .post > .content")]
    assert "<script>window.__pwned = 1</script>" in "\n".join(contents)
    assert driver.execute_script("return window.__pwned === undefined")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, "#feed-list script, #feed-list img, #feed-list b")
    shared = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#feed-list .post > .shared")]
    assert shared == ["Hello, town!", "Hello, town!"]  # the repost and the repost of the repost quote the original
    comment = driver.find_element(By.CSS_SELECTOR, "#feed-list .comment .content")
    assert comment.text == "Welcome <b>neighbour</b>"

    # click an agent: persona, and its decision's prompt and response (escaped too)
    button = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#agents button[data-agent="2"]'))
    button.click()
    wait.until(lambda d: d.find_element(By.ID, "inspector").get_attribute("data-agent") == "2")
    inspector = wait.until(lambda d: d.find_element(By.ID, "inspector") if "Agent 2" in d.find_element(
        By.ID, "inspector").text else False)
    assert "gender" in inspector.text and "education" in inspector.text
    inspector.find_element(By.CSS_SELECTOR, "details.decision summary").click()
    prompts = [p.text for p in inspector.find_elements(By.CSS_SELECTOR, "details.decision pre")]
    assert prompts[0] == "You are agent 2. Write a post." and "<script>" in prompts[1]
    assert driver.execute_script("return window.__pwned === undefined")  # type: ignore[attr-defined]

    # any agent by id, even one that never acted
    driver.find_element(By.ID, "agent-id").send_keys("11")
    driver.find_element(By.CSS_SELECTOR, "#agent-form button").click()
    wait.until(lambda d: "Agent 11" in d.find_element(By.ID, "inspector").text)

    # the step slider: back to step 0 shows the two first posts only
    driver.execute_script(  # type: ignore[attr-defined]
        "const s = document.getElementById('slider'); s.value = 0; s.dispatchEvent(new Event('input'));")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed-list .post")) == 2)
    assert driver.find_element(By.ID, "step-label").text == "0"

    ARTIFACTS.mkdir(exist_ok=True)
    driver.execute_script(  # type: ignore[attr-defined]
        "const s = document.getElementById('slider'); s.value = 4; s.dispatchEvent(new Event('input'));")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed-list .post")) == 5)
    assert driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))  # type: ignore[attr-defined]
