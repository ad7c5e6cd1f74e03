"""Links in messages: problem lists, reminders, digests and the office's notices carry the page of
the list or item on BIHUAN_BASE_URL, and no link at all without one; an item's reminders and
notices are listed for whoever may see the item (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bihuan.core.rectification import Action
from bihuan.db import get_engine
from bihuan.services import notifications, rectification, tracking
from bihuan.services.rectification import ItemNotFound
from bihuan.services.uow import UnitOfWork
from bihuan.settings import reset_settings
from bihuan.vocab import UserRole
from tests.integration.rectify_items import REPO_CONFIG, make_items, table_by_name
from tests.users import app_for, make_user, office

BASE = "https://bihuan.example.gov.cn"
DAY = date(2022, 9, 1)  # every mid-year item of 2022-07-04 is overdue


def _setup(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str | None
) -> dict[str, int]:
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    if base is None:
        monkeypatch.delenv("BIHUAN_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("BIHUAN_BASE_URL", base + "/")  # a trailing slash is dropped
    reset_settings()
    items = make_items(url, tmp_path)
    with UnitOfWork(app_for(url)) as uow:
        tracking.track(uow, office(url), "juxian", DAY)
    return items


def _bodies(url: str, kind: str) -> list[tuple[str, str]]:
    n = table_by_name("notification")
    with get_engine(url).connect() as conn:
        return [
            (r.idempotency_key, r.body)
            for r in conn.execute(select(n).where(n.c.kind == kind).order_by(n.c.id))
        ]


def test_every_message_links_to_its_page(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _setup(db_url, tmp_path, monkeypatch, BASE)
    staffing = items["staffing:real_name"]
    lists = _bodies(db_url, "problem_list")
    assert lists and all(
        f"在线查看问题清单、逐项报送整改情况：{BASE}/problem-lists/2022/mid-year/" in body
        for _key, body in lists
    )
    a01 = next(body for key, body in lists if ":A01:" in key)
    assert f"{BASE}/problem-lists/2022/mid-year/A01\n" in a01
    markers = _bodies(db_url, "reminder")
    assert markers
    for key, body in markers:
        item_id = int(key.split(":")[1])
        assert f"查看并答复：{BASE}/items/{item_id}\n" in body
    digests = _bodies(db_url, "digest")
    assert digests and all("查看：" + BASE + "/items/" in body for _k, body in digests)
    a01_digest = next(body for key, body in digests if key.endswith(":a01"))
    assert f"查看：{BASE}/items/{staffing}\n" in a01_digest

    with UnitOfWork(app_for(db_url)) as uow:
        rectification.act(
            uow,
            rectification.Act(
                jurisdiction="juxian", item_id=staffing, action=Action.EXTEND,
                reason="等待批复", extend_by=30,
            ),
            office(db_url),
            DAY,
        )  # fmt: skip
    (_key, notice), *_ = _bodies(db_url, "rectification_notice")
    assert f"查看详情：{BASE}/items/{staffing}\n" in notice


def test_without_an_address_no_message_carries_a_link(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(db_url, tmp_path, monkeypatch, None)
    for kind in ("problem_list", "reminder", "digest"):
        bodies = _bodies(db_url, kind)
        assert bodies, kind
        for _key, body in bodies:
            assert "http" not in body and "查看" not in body and "在线" not in body, body


def test_an_items_reminders_and_notices_are_listed_for_whoever_may_see_it(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _setup(db_url, tmp_path, monkeypatch, BASE)
    staffing = items["staffing:real_name"]
    a01 = make_user(db_url, "A01lx", UserRole.DEPARTMENT, department="A01")
    a02 = make_user(db_url, "A02lx", UserRole.DEPARTMENT, department="A02")
    with UnitOfWork(app_for(db_url)) as uow:
        rectification.act(
            uow,
            rectification.Act(
                jurisdiction="juxian", item_id=staffing, action=Action.EXTEND,
                reason="等待批复", extend_by=30,
            ),
            office(db_url),
            DAY,
        )  # fmt: skip

    def listed(actor: Any, item_id: int = staffing) -> list[notifications.ItemNotice]:
        with UnitOfWork(app_for(db_url), readonly=True) as uow:
            return notifications.item_notices(uow, actor, "juxian", item_id)

    found = listed(a01)
    reminders = [n for n in found if n.kind == "reminder"]
    assert len(reminders) == 1  # one run: one notice, its most advanced step
    (reminder,) = reminders
    assert reminder.step.startswith("escalate-") or reminder.step.startswith("overdue-")
    assert reminder.step_label.startswith(("升级提醒", "逾期"))
    assert "a01" in reminder.recipients
    assert reminder.delivery == "pending"  # the day's digest is not sent yet
    assert reminder.delivery_label == "已并入每日汇总，待发送"
    (notice,) = [n for n in found if n.kind == "rectification_notice"]
    assert notice.step == "" and "整改期限已延长" in notice.subject and notice.delivery == "pending"
    assert [n.business_date for n in found] == sorted(n.business_date for n in found)
    assert listed(office(db_url)) == found
    with pytest.raises(ItemNotFound):
        listed(a02)
    with pytest.raises(ItemNotFound):
        listed(a01, 999_999)
