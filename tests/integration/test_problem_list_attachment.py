"""The problem list reaches a department with the way to answer: without a portal address, its
rectification workbook (整改台账) of its open items is attached, and arrives by mail (a real SMTP
server on loopback) as an .xlsx that opens; with an address, a link and no attachment."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bihuan.core.outbox import start_of
from bihuan.db import get_engine
from bihuan.services import notifications
from bihuan.services.uow import UnitOfWork
from bihuan.settings import get_settings, reset_settings
from notifications.channels import Channels
from tests.integration.mailserver import MailServer
from tests.integration.rectify_items import ISSUED_ON, REPO_CONFIG, make_items, table_by_name
from tests.users import app_for, office


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


def _lists(url: str) -> list[tuple[str, str, str]]:
    n = table_by_name("notification")
    with get_engine(url).connect() as conn:
        return [
            (r.recipient_tag, r.body, r.attachment)
            for r in conn.execute(
                select(n).where(n.c.kind == "problem_list").order_by(n.c.recipient_tag)
            )
        ]


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str | None) -> None:
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    if base is None:
        monkeypatch.delenv("BIHUAN_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("BIHUAN_BASE_URL", base)
    reset_settings()


def test_without_a_portal_the_workbook_is_attached_and_arrives_by_mail(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: MailServer
) -> None:
    _home(tmp_path, monkeypatch, None)
    items = make_items(db_url, tmp_path)
    lists = _lists(db_url)
    assert [tag for tag, _b, _a in lists] == ["a01", "a02", "b01"]
    for _tag, body, attachment in lists:
        assert attachment.startswith("attachments/problem-list-juxian-2022-mid-year-")
        assert (get_settings().var_dir / attachment).is_file()
        assert "附件为本部门整改台账（Excel）" in body

    urls = [f'  - "{mail.url(f"{tag}@example.org")}":\n    - tag: {tag}' for tag, _b, _a in lists]
    channels = Channels("version: 1\nurls:\n" + "\n".join(urls) + "\n", rate_limit=0)
    report = notifications.dispatch(
        lambda: UnitOfWork(app_for(db_url)),
        channels,
        lambda: start_of(ISSUED_ON) + timedelta(hours=9),
        actor=office(db_url),
        jurisdiction="juxian",
    )
    assert report.sent == 3, report
    got = next(m for m in mail.received if m.rcpt_tos == ["a02@example.org"])
    assert "问题清单" in got.subject and "附件为本部门整改台账" in got.text
    [part] = list(got.message.iter_attachments())
    assert part.get_filename().startswith("整改台账-A02-") and part.get_filename().endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(part.get_content()))
    sheet = book.worksheets[0]
    assert sheet.cell(1, 1).value == "事项编号"
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert numbers == {items["central:CT1"], items["satisfaction:low"]}
    # the list's 问题编号 are the workbook's 事项编号
    assert all(f"问题编号 {n}" in got.text for n in numbers)


def test_with_a_portal_the_list_links_to_its_page_and_attaches_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _home(tmp_path, monkeypatch, "https://bihuan.example.gov.cn")
    make_items(db_url, tmp_path)
    lists = _lists(db_url)
    assert lists and all(attachment == "" for _t, _b, attachment in lists)
    assert all(
        "https://bihuan.example.gov.cn/problem-lists/2022/mid-year/" in b for _t, b, _a in lists
    )
    assert not (get_settings().var_dir / "attachments").exists()


def test_a_department_without_a_channel_is_mailed_at_its_contact_email_through_the_office_account(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: MailServer
) -> None:
    """No apprise entry per department: the office's SMTP account (tag office-smtp) mails a
    department contact at its contact_email; one without an address stays a configuration
    failure, never counted as sent."""
    _home(tmp_path, monkeypatch, None)
    make_items(db_url, tmp_path)
    with get_engine(db_url).begin() as conn:
        d = table_by_name("department")
        conn.execute(
            d.update().where(d.c.code == "A01").values(contact_email="lxr-a01@example.org")
        )
    account = mail.url("office-copy@example.org")  # its own To is not where departments' go
    channels = Channels(
        f'version: 1\nurls:\n  - "{account}":\n    - tag: office-smtp\n', rate_limit=0
    )
    report = notifications.dispatch(
        lambda: UnitOfWork(app_for(db_url)),
        channels,
        lambda: start_of(ISSUED_ON) + timedelta(hours=9),
        actor=office(db_url),
        jurisdiction="juxian",
    )
    assert [m.rcpt_tos for m in mail.received] == [["lxr-a01@example.org"]]
    got = mail.received[0]
    assert "问题清单" in got.subject and mail.logins == ["bihuan"]
    assert len(list(got.message.iter_attachments())) == 1  # its workbook too
    assert report.sent == 1 and report.failed == 2
    n = table_by_name("notification")
    with get_engine(db_url).connect() as conn:
        failed = dict(
            conn.execute(select(n.c.recipient_tag, n.c.last_error).where(n.c.status != "sent"))
            .tuples()
            .all()
        )
    assert set(failed) == {"a02", "b01"}
    assert all("no channel configured for tag" in e for e in failed.values())


def test_the_office_account_must_be_one_mail_url() -> None:
    from bihuan.errors import ConfigError

    with pytest.raises(ConfigError, match="office-smtp"):
        Channels(
            'version: 1\nurls:\n  - "json://127.0.0.1:9/hook":\n    - tag: office-smtp\n',
            rate_limit=0,
        )
