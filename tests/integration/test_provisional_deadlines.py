"""A deadline counted on the provisional 2027 (暂定) turning official (issue 10.3), on SQLite and
PostgreSQL: the tracker marks it, shows it in the ledger, re-counts it once the year's notice is
in the policy, audits the move and tells the department exactly once; and it warns the office,
once, before the calendar's official coverage ends."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bihuan.app import AppContext
from bihuan.core.holidays import statutory_holidays
from bihuan.db import get_engine
from bihuan.policy import CalendarYear
from bihuan.services import rectification, rectification_views, tracking
from bihuan.services.uow import UnitOfWork
from tests.integration.rectify_items import make_items
from tests.users import app_for, office

ISSUED, DEADLINE = date(2026, 12, 28), date(2027, 1, 12)  # 10 working days by the rule


def with_2027(app: AppContext) -> AppContext:
    """The same installation after `bihuan calendar import-notice` for 2027: 4–5 January off,
    Saturday 9 January worked (调休)."""
    policy = app.policy
    notice = CalendarYear(
        holidays=sorted({*statutory_holidays(2027), date(2027, 1, 4), date(2027, 1, 5)}),
        workdays=[date(2027, 1, 9)],
    )
    calendar = policy.calendar.model_copy(update={"years": {**policy.calendar.years, 2027: notice}})
    app.__dict__["policy"] = policy.model_copy(update={"calendar": calendar})
    return app


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def test_a_provisional_2027_deadline_turning_official(db_url: str, tmp_path: Path) -> None:
    items = make_items(db_url, tmp_path)
    item = next(iter(items.values()))
    with get_engine(db_url).begin() as conn:
        conn.execute(
            text("UPDATE rectificationitem SET issued_on = :i, deadline = :d WHERE id = :id"),
            {"i": ISSUED, "d": DEADLINE, "id": item},
        )
    actor = office(db_url)

    def track(app: AppContext, day: date) -> tracking.TrackSummary:
        with UnitOfWork(app) as uow:
            return tracking.track(uow, actor, "juxian", day)

    def ledger(app: AppContext) -> rectification.ItemRow:
        with UnitOfWork(app, readonly=True) as uow:
            (row,) = [r for r in rectification.list_items(uow, actor, "juxian") if r.id == item]
            return row

    provisional = app_for(db_url)
    first = track(provisional, date(2026, 12, 29))
    assert first.deadlines_moved == 0 and first.calendar_warning
    assert ledger(provisional).deadline_provisional and ledger(provisional).deadline == DEADLINE
    assert track(provisional, date(2026, 12, 30)).calendar_warning is False  # told once

    official = with_2027(app_for(db_url))
    moved = track(official, date(2026, 12, 31))
    assert (moved.deadlines_recounted, moved.deadlines_moved) == (1, 1)
    row = ledger(official)
    assert row.deadline == date(2027, 1, 13) and not row.deadline_provisional
    (audit,) = rows(db_url, "SELECT * FROM auditlog WHERE action = 'recount_deadline'")
    assert audit.user_id == actor.user_id and audit.entity_key == str(item)
    with UnitOfWork(official, readonly=True) as uow:
        timeline = rectification_views.item_timeline(uow, actor, "juxian", item)
    titles = [e.title for e in timeline.entries]
    assert "2027年节假日安排正式确定，整改期限按正式日历重新计算：2027-01-12 → 2027-01-13" in titles
    notices = rows(
        db_url, "SELECT * FROM notification WHERE idempotency_key LIKE 'deadline-recount:%'"
    )
    assert len(notices) == 1 and notices[0].kind == "rectification_notice"
    assert "2027年1月13日" in notices[0].body and "暂定" in notices[0].body
    # the next coverage end is a year away: no second warning; and nothing moves twice
    again = track(official, date(2027, 1, 6))
    assert again.deadlines_moved == 0 and not again.calendar_warning
    assert (
        len(
            rows(
                db_url,
                "SELECT id FROM notification WHERE idempotency_key LIKE 'deadline-recount:%'",
            )
        )
        == 1
    )
    warnings = rows(
        db_url, "SELECT id FROM notification WHERE idempotency_key LIKE 'calendar-ending:%'"
    )
    assert len(warnings) == 1
