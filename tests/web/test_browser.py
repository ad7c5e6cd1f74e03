"""A real browser against a real server: Debian's chromium driven by Playwright, at a desktop
width and at a phone's 390×844, against `bihuan web` run by uvicorn in a subprocess.

Skips where chromium is missing (apt-get install chromium); fails instead under
BIHUAN_TEST_ALL_OPTIONAL=1, as CI runs it. Screenshots go to var/test-artifacts/web/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bihuan.vocab import UserRole
from tests.conftest import REPO
from tests.optional import require_chromium
from tests.web.conftest import PASSWORD, add_user

ARTIFACTS = REPO / "var" / "test-artifacts" / "web"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(county: str, tmp_path: Path) -> Iterator[str]:
    """`bihuan web` on a free loopback port, over a copy of the test county."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bihuan.cli import main; main()",
            "web",
            "--db",
            county,
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail(
                        "the server did not start:\n" + (tmp_path / "server.log").read_text()
                    )
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def chromium() -> Iterator[object]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_a_department_contact_signs_in_changes_the_password_and_signs_out(
    chromium: object, server: str, county: str, viewport: str
) -> None:
    # (chromium first: on a machine without it the test skips before a server starts)
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect

    assert isinstance(chromium, Browser)
    login = f"d01-{viewport}"
    add_user(county, login, UserRole.DEPARTMENT, department="D01", name="张联络", must_change=True)
    shots = ARTIFACTS / viewport
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")  # type: ignore[arg-type]
    page: Page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if isinstance(m, ConsoleMessage) and m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    def shot(step: str) -> None:
        page.screenshot(path=str(shots / f"{step}.png"), full_page=True)

    page.goto(server + "/")
    expect(page).to_have_url(server + "/login")
    shot("1-sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    expect(page).to_have_url(server + "/account/password")
    expect(page.locator(".notice")).to_contain_text("首次登录")
    shot("2-first-login-password")
    # every page leads back to the form until the password is changed
    page.goto(server + "/departments/D01")
    expect(page).to_have_url(server + "/account/password")

    page.fill("#current", PASSWORD)
    page.fill("#new", "my-own-secret-9")
    page.fill("#repeat", "my-own-secret-9")
    page.click("main button:has-text('修改密码')")
    expect(page).to_have_url(server + "/?done=password")
    expect(page.locator(".notice")).to_have_text("密码已修改。")
    expect(page.locator("h1")).to_have_text("张联络，您好")
    expect(page.locator("ul.links")).to_contain_text("本部门整改事项")
    shot("3-home")

    page.click("text=本部门履职台账")
    expect(page).to_have_url(server + "/departments/D01")
    expect(page.locator("h1")).to_have_text("县发展和改革局")
    expect(page.locator("table tbody tr")).to_have_count(13)
    shot("4-ledger")
    if viewport == "phone":
        # nothing wider than the screen, the table shown as cards, big tap targets
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator("table.cards thead").is_hidden()
        box = page.locator("header button:has-text('退出')").bounding_box()
        assert box is not None and box["height"] >= 44

    # another department's ledger is not there for this user
    assert not problems, problems
    response = page.goto(server + "/departments/D02")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("未找到")
    problems.clear()  # the console's note of that 404
    page.go_back()

    page.click("header button:has-text('退出')")
    expect(page).to_have_url(server + "/login?bye=1")
    expect(page.locator(".notice")).to_have_text("您已安全退出。")
    shot("5-signed-out")
    page.goto(server + "/")
    expect(page).to_have_url(server + "/login")

    # the API documentation renders under the strict CSP, from the package's own files
    page.goto(server + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("闭环 bihuan API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    shot("6-api-docs")
    context.close()
    assert not problems, problems
