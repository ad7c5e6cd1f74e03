"""The loop in a real browser: a reminder's link to the answer and back to the office.

The tracker runs and the dispatcher sends its digests to the local sink (var/outbox/, the demo's
channel configuration, written as `flows.dispatch.ensure_channels_config` writes it); the link in
the department's digest is opened in Debian's chromium (Playwright) against `bihuan web` in a
subprocess: the department contact signs in from it, uploads evidence and reports the item fixed;
the office signs in, downloads the evidence from the verification queue with one click and
verifies the item; the item is closed and its timeline shows both moves with who and when. At
1280 px and at a phone's 390×844; screenshots in var/test-artifacts/web/loop-<viewport>/.

Skips where chromium is missing (fails under BIHUAN_TEST_ALL_OPTIONAL=1, as CI runs it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bihuan.app import app_context
from bihuan.core.workdays import WorkCalendar
from bihuan.services import identity, notifications, tracking
from bihuan.services.uow import UnitOfWork
from bihuan.settings import get_settings, reset_settings
from tests.conftest import REPO
from tests.web.conftest import PASSWORD
from tests.web.items import ITEM, YEAR, business_today
from tests.web.test_browser import ARTIFACTS, VIEWPORTS, _free_port, chromium

TITLE = "节能审查办结超时"  # the item the contact answers (tests/web/items.py: ITEM["browser"])
EVIDENCE = b"%PDF-1.4\n% acceptance report, uploaded from the browser\n%%EOF\n"

__all__ = ["chromium"]  # the foundation's fixture: chromium before the server (skips early)


@dataclass
class Installation:
    base: str
    home: Path
    env: dict[str, str]


@pytest.fixture
def installation(county: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Installation:
    """An installation folder of its own (var/: outbox, evidence) whose address is the port
    its portal will listen on, so the links in messages lead there."""
    port = _free_port()
    home = tmp_path / "home"
    env = {
        "BIHUAN_HOME": str(home),
        "BIHUAN_CONFIG_DIR": str(REPO / "config"),
        "BIHUAN_DATABASE_URL": county,
        "BIHUAN_BASE_URL": f"http://127.0.0.1:{port}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return Installation(base=env["BIHUAN_BASE_URL"], home=home, env=env)


@pytest.fixture
def server(installation: Installation, tmp_path: Path) -> Iterator[str]:
    """`bihuan web` of that installation, on its port."""
    port = installation.base.rsplit(":", 1)[1]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bihuan.cli import main; main()", "web", "--port", port],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **installation.env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(installation.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail(
                        "the server did not start:\n" + (tmp_path / "server.log").read_text()
                    )
                time.sleep(0.2)
        yield installation.base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def reminders_to_the_outbox(installation: Installation) -> Path:
    """The tracker on the last working day, then the dispatcher through the demo's channels
    (every recipient to the local sink): the outbox folder the messages landed in."""
    from flows.dispatch import ensure_channels_config
    from notifications.channels import load_channels
    from notifications.dispatcher import dispatch_clock_for

    settings = get_settings()
    app = app_context(None, "juxian")
    cal = WorkCalendar.from_policy(app.policy.calendar)
    today = business_today()
    day = today if cal.is_workday(today) else cal.add_workdays(today, -1)
    with UnitOfWork(app) as uow:
        office = identity.actor_for(uow, "office")
        summary = tracking.track(uow, office, "juxian", day)
    assert summary.notices > 0 and summary.digests > 0
    assert ensure_channels_config("juxian", "office") is not None
    report = notifications.dispatch(
        lambda: UnitOfWork(app),
        load_channels(settings),
        dispatch_clock_for(day),
        actor=office,
        jurisdiction="juxian",
    )
    assert report.sent == report.claimed > 0 and report.failed == report.dead == 0
    return settings.outbox_dir


def link_in_the_outbox(outbox: Path, base: str) -> tuple[Path, str]:
    """The department contact's digest and the link of the item titled TITLE in it."""
    for message in sorted(outbox.glob("*-d01-*.txt")):
        lines = message.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if TITLE in line:
                for following in lines[i + 1 : i + 6]:
                    found = re.search(r"查看[^：]*：(\S+)", following)
                    if found:
                        assert found.group(1).startswith(base + "/items/")
                        return message, found.group(1)
    pytest.fail(f"no link to {TITLE!r} in the d01 messages of {outbox}")


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_from_a_reminders_link_to_the_item_closed_by_the_office(
    chromium: object, installation: Installation, server: str, viewport: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect

    assert isinstance(chromium, Browser)
    item = ITEM["browser"]
    outbox = reminders_to_the_outbox(installation)
    message, link = link_in_the_outbox(outbox, server)
    assert link == f"{server}/items/{item}"
    assert message.is_relative_to(installation.home / "var" / "outbox")

    shots = ARTIFACTS / f"loop-{viewport}"
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(
        viewport=VIEWPORTS[viewport], locale="zh-CN", accept_downloads=True
    )  # type: ignore[arg-type]
    page: Page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if isinstance(m, ConsoleMessage) and m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    step = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{next(step)}-{name}.png"), full_page=True)
        if viewport == "phone":  # nothing wider than the phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name

    def sign_in(login: str) -> None:
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("main button:has-text('登录')")

    # the department contact: from the link in the message, one sign-in, the item
    page.goto(link)
    expect(page).to_have_url(f"{server}/login?next=/items/{item}")
    shot("link-asks-to-sign-in")
    sign_in("D01lx")
    expect(page).to_have_url(link)
    expect(page.locator("h1")).to_have_text(f"整改事项 {item}")
    expect(page.locator("p.lead")).to_have_text(TITLE)
    expect(page.locator("table.facts")).to_contain_text("已逾期")
    expect(page.locator("ol.timeline")).to_contain_text("逾期")  # the reminder it came from
    shot("item-from-the-link")

    evidence = tmp_path / "验收报告.pdf"
    evidence.write_bytes(EVIDENCE)
    page.click("#report-fixed summary")
    page.fill("#fixed-note", "已完成节能审查积压件清理，建立办结时限台账。")
    page.set_input_files("#fixed-files", str(evidence))
    shot("reporting-fixed-with-evidence")
    page.click("#report-fixed button[type=submit]")
    expect(page).to_have_url(f"{link}?done=report_fixed")
    expect(page.locator(".notice")).to_contain_text("已报告整改完成，等待验收。")
    expect(page.locator("table.facts")).to_contain_text("已报整改完成")
    expect(page.locator("ul.files")).to_contain_text("验收报告.pdf")
    shot("reported-fixed")
    page.click("header button:has-text('退出')")
    expect(page).to_have_url(f"{server}/login?bye=1")

    # the office: the queue, the evidence one click away, the verification
    page.goto(server + "/")
    sign_in("office")
    page.click("ul.links a:has-text('整改验收')")
    expect(page).to_have_url(f"{server}/verification")
    card = page.locator(f"#item-{item}")
    expect(card).to_contain_text(TITLE)
    expect(card).to_contain_text("已完成节能审查积压件清理")
    shot("verification-queue")
    with page.expect_download() as download:
        card.locator("a:has-text('验收报告.pdf')").click()
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == EVIDENCE and download.value.suggested_filename == "验收报告.pdf"
    card.locator("textarea").fill("经核查，整改到位，予以销号。")
    card.locator("button:has-text('验收通过')").click()
    expect(page).to_have_url(f"{server}/verification?done=verify_accept")
    expect(page.locator(".notice")).to_have_text("已验收销号。")
    expect(page.locator(f"#item-{item}")).to_have_count(0)
    shot("verified")

    # the item is closed, and its timeline shows both moves with who and when
    page.goto(f"{server}/items/{item}/timeline")
    entries = page.locator("ol.timeline li.tl-move")
    reported = entries.filter(has_text="报告整改完成")
    verified = entries.filter(has_text="验收销号")
    expect(reported).to_contain_text("D01lx")
    expect(reported).to_contain_text("以部门名义")
    expect(reported).to_contain_text("验收报告.pdf")
    expect(verified).to_contain_text("office")
    expect(verified).to_contain_text("已报整改完成 → 已验收销号")
    expect(verified).to_contain_text("经核查，整改到位，予以销号。")
    for entry in (reported, verified):
        expect(entry.locator(".tl-when")).to_contain_text(
            re.compile(r"记录于 \d{4}-\d\d-\d\d \d\d:\d\d")
        )
    expect(page.locator("body")).to_contain_text("当前状态：已验收销号")
    shot("timeline")

    # the office's other pages of the loop, readable at this width too
    for name, path in (
        ("overdue", "/overdue"),
        ("requests", "/requests"),
        ("items", "/items"),
        ("department-ledger", "/departments/D01/rectifications"),
        ("problem-list", f"/problem-lists/{YEAR}/year-end/D01"),
    ):
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
        shot(name)
    context.close()
    assert not problems, problems
