"""The web console in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) against a real
cgr-engine; every page the tests visit is saved as a screenshot under the pytest tmp dir, listed at the end."""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, require_binary, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: users of the listener's basic auth: "ops" holds both action roles, "viewer" none
USERS = {"ops": "ops-secret", "viewer": "viewer-secret"}
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1366,1000")

SCREENSHOTS: list[Path] = []

ENGINE_CONFIG: dict[str, Any] = {
    "general": {"log_level": 6},
    "rals": {"enabled": True},
    "schedulers": {"enabled": True},
    "apiers": {"enabled": True},
    "attributes": {"enabled": True},
    "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
    "stats": {"enabled": True, "store_interval": "-1"},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                 "chargers_conns": ["*internal"]},
}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS:
        terminalreporter.section("web console screenshots")
        for path in SCREENSHOTS:
            terminalreporter.write_line(str(path))


class Console:
    """A real engine with the console on, its HTTP address, and JSON-RPC to it."""

    def __init__(self, engine: EngineProcess, http_port: int) -> None:
        self.engine = engine
        self.base = f"http://127.0.0.1:{http_port}"
        self.url = self.base + "/console"

    def call(self, method: str, arg: Any) -> Any:
        return self.engine.call(method, arg)


@pytest.fixture(scope="package")
def console(tmp_path_factory) -> Console:
    tmp = tmp_path_factory.mktemp("console-engine")
    port, http = free_port(), free_port()
    overrides = storage_overrides(tmp, port, http)
    overrides.update(ENGINE_CONFIG)
    overrides["http"] = {
        "use_basic_auth": True,
        "auth_users": {user: base64.b64encode(pw.encode()).decode() for user, pw in USERS.items()},
        "console": {"enabled": True, "refresh_interval": "200ms",
                    "action_users": {"*force_disconnect": ["ops"], "*add_balance": ["ops"]}},
    }
    eng = EngineProcess(make_config_dir(tmp / "cfg", overrides=overrides), port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "tutorial"))}) == "OK"
        yield Console(eng, http)
    finally:
        eng.kill()


@pytest.fixture(scope="package")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


class Browser:
    """One headless Chromium; ``as_user`` sends that user's basic auth with every request."""

    def __init__(self, driver: Any, console: Console, shots: Path) -> None:
        self.driver = driver
        self.console = console
        self.shots = shots

    def as_user(self, user: str) -> Browser:
        token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
        return self

    def open(self, page: str) -> Browser:
        self.driver.get(f"{self.console.url}/{page}")
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete")
        return self

    def wait(self, condition: Callable[[Any], Any], timeout: float = 5.0, what: str = "") -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition, what)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{len(SCREENSHOTS) + 1:02d}-{name}.png"
        width, height = self.js("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {  # the whole page, not only the viewport
            "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        SCREENSHOTS.append(path)
        return path


@pytest.fixture(scope="package")
def browser(console, screenshot_dir, tmp_path_factory):
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            require_binary(Path(binary).name)  # skips, or fails under CI=true (.ci/run installs both)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        yield Browser(driver, console, screenshot_dir)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05) -> Any:
    """``check()``'s first truthy result within ``timeout`` seconds; the last falsy one otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
