"""The tracker and notification use cases on SQLite and PostgreSQL, without Prefect.

Who may run them (office only; a listing is scoped to the department of a department user),
that a refused call changes nothing, that the audit rows name the real user, and the tracker's
exactly-once promises under a second run, a supplementary digest and two trackers at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bihuan.core.access import Actor
from bihuan.core.outbox import NewMessage, start_of
from bihuan.db import get_engine, session_scope
from bihuan.errors import PermissionDenied
from bihuan.services import identity, notifications, tracking
from bihuan.services.notifications import Resend
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import NotificationStatus, UserRole
from models import Category, Department, Jurisdiction
from notifications.channels import MASKER, DeliveryResult
from tests.integration.rectify_items import make_items, table_by_name
from tests.users import TODAY, app_for, make_user, office

DAY = date(2022, 9, 1)  # two months after the problem lists of 2022-07-04: every item overdue
NOW = start_of(DAY) + timedelta(hours=9)


class Sender:
    """Delivers to every tag but `broken` ones (a configuration error: no channel)."""

    def __init__(self, *broken: str, raises: bool = False) -> None:
        self.broken = set(broken)
        self.raises = raises
        self.sent: list[str] = []

    closed_channels: list[str] = []  # noqa: RUF012 - never written

    def batch(self, limits: Any) -> Any:
        return contextlib.nullcontext(self)

    def deliver(self, message: Any) -> DeliveryResult:
        tag = message.tag
        if self.raises:
            raise ConnectionError("refused by json://u:SENDERSECRET42@10.0.0.1/hook")
        if tag in self.broken:
            return DeliveryResult(False, f"no channel configured for tag {tag!r}", permanent=True)
        self.sent.append(tag)
        return DeliveryResult(True)

    def mask(self, text: str) -> str:
        return MASKER.mask(text)


@dataclass(frozen=True)
class County:
    url: str
    items: dict[str, int]
    office: Actor

    def uow(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(app_for(self.url), readonly=readonly)

    @property
    def jurisdiction_id(self) -> int:
        return int(rows(self.url, "SELECT id FROM jurisdiction WHERE code = 'juxian'")[0][0])


@pytest.fixture
def county(db_url: str, tmp_path: Path) -> County:
    items = make_items(db_url, tmp_path)
    return County(db_url, items, office(db_url))


def track(c: County, actor: Actor, day: date = DAY) -> tracking.TrackSummary:
    with c.uow() as uow:
        return tracking.track(uow, actor, "juxian", day)


def dispatch(c: County, actor: Actor, sender: Sender, jurisdiction: str = "juxian") -> Any:
    app = app_for(c.url, jurisdiction)
    return notifications.dispatch(
        lambda: UnitOfWork(app), sender, lambda: NOW, actor=actor, jurisdiction=jurisdiction
    )


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the use cases of this slice may write, except the refusals' own audit rows."""
    out = {}
    with get_engine(url).connect() as conn:
        for name in ("notification", "notificationattempt", "rectificationitem", "jobstate"):
            t = table_by_name(name)
            out[name] = [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
        a = table_by_name("auditlog")
        out["auditlog"] = [
            tuple(r)
            for r in conn.execute(select(a).where(a.c.action != "access_denied").order_by(a.c.id))
        ]
    return out


def audit_rows(url: str, action: str) -> list[tuple[int | None, str]]:
    return [
        (r.user_id, r.actor)
        for r in rows(url, "SELECT * FROM auditlog WHERE action = :a", a=action)
    ]


# ------------------------------------------------------------------ the tracker


def test_tracker_writes_once_audits_the_user_and_skips_days_off(county: County) -> None:
    c = county
    assert not track(c, c.office, date(2022, 9, 3)).working_day  # a Saturday
    assert rows(c.url, "SELECT count(*) FROM jobstate") == [(0,)]

    first = track(c, c.office)
    assert first.active_items == 4 and first.notices == 4
    assert sorted(r.item for r in first.rows) == sorted(c.items.values())
    assert first.markers == sum(len(r.recipients) for r in first.rows)
    assert first.digests == len({t for r in first.rows for t in r.recipients})
    assert all(r.level is not None and r.level_label for r in first.rows)
    assert audit_rows(c.url, "track_rectifications") == [(c.office.user_id, c.office.login)]
    assert rows(c.url, "SELECT value FROM jobstate") == [(DAY.isoformat(),)]

    before = snapshot(c.url)["notification"]
    again = track(c, c.office)
    assert (again.notices, again.digests, again.supplementary_digests) == (0, 0, 0)
    assert snapshot(c.url)["notification"] == before
    assert again.warnings == []
    # an older day never moves the last run back, and says so
    older = track(c, c.office, DAY - timedelta(days=1))
    assert rows(c.url, "SELECT value FROM jobstate") == [(DAY.isoformat(),)]
    assert len(older.warnings) == 1
    assert f"before the last run on {DAY}" in older.warnings[0]


def test_something_new_later_the_same_day_goes_out_in_a_supplementary_digest(
    county: County,
) -> None:
    c = county
    track(c, c.office)
    item = c.items["central:CT1"]  # an A02 item
    # as if the item had started a new round since the morning (its steps and level reset);
    # an escalation is always announced, so the same day's second run has a notice for it
    with session_scope(c.url) as s:
        s.execute(
            text("DELETE FROM notification WHERE idempotency_key LIKE :k"), {"k": f"item:{item}:%"}
        )
        s.execute(
            text("UPDATE rectificationitem SET escalation_level = NULL WHERE id = :i"), {"i": item}
        )
    later = track(c, c.office)
    assert [r.item for r in later.rows] == [item]
    assert later.digests == 0 and later.supplementary_digests == len(later.rows[0].recipients)

    def a02_digests() -> set[str]:
        keys = [k for (k,) in rows(c.url, "SELECT idempotency_key FROM notification")]
        return {k for k in keys if k.startswith("digest:") and k.split(":")[3] == "a02"}

    key = f"digest:{c.jurisdiction_id}:{DAY}:a02"
    assert a02_digests() == {key, f"{key}:2"}
    assert track(c, c.office).notices == 0  # and a third run finds nothing new
    assert a02_digests() == {key, f"{key}:2"}


@pytest.mark.reliability
def test_two_trackers_at_once_write_each_notice_once(county: County) -> None:
    c = county
    results: list[tracking.TrackSummary] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(track(c, c.office))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(r.notices for r in results) == [0, 4]
    assert sum(r.supplementary_digests for r in results) == 0
    keys = Counter(k for (k,) in rows(c.url, "SELECT idempotency_key FROM notification"))
    assert max(keys.values()) == 1


# ------------------------------------------------------------------ dispatch, listing, resend


def test_two_counties_sharing_a_tag_each_get_their_own_digest_of_the_day(
    county: County, tmp_path: Path
) -> None:
    # A province-wide installation: both counties have departments A01, A02, B01 (same tags)
    # and the same leadership tag. Each county's digest of the day is its own, not the other's
    # "supplement", and a second run of either sends nothing more.
    c = county
    make_items(c.url, tmp_path, "linyi")
    first, second = track(c, c.office), _track_in(c.url, "linyi")
    assert first.digests == second.digests > 0
    assert first.supplementary_digests == second.supplementary_digests == 0
    keys = [k for (k,) in rows(c.url, "SELECT idempotency_key FROM notification")]
    juxian, linyi = (
        rows(c.url, "SELECT id FROM jurisdiction WHERE code = :c", c=code)[0][0]
        for code in ("juxian", "linyi")
    )
    a02 = sorted(k for k in keys if k.startswith("digest:") and k.endswith(":a02"))
    assert a02 == sorted([f"digest:{juxian}:{DAY}:a02", f"digest:{linyi}:{DAY}:a02"])
    assert track(c, c.office).notices == _track_in(c.url, "linyi").notices == 0


def _track_in(url: str, jurisdiction: str) -> tracking.TrackSummary:
    app = app_for(url, jurisdiction)
    with UnitOfWork(app) as uow:
        actor = identity.actor_for(uow, f"office-{jurisdiction}")
        return tracking.track(uow, actor, jurisdiction, DAY)


def test_dispatch_sends_once_reports_failures_and_keeps_to_its_jurisdiction(
    county: County,
) -> None:
    c = county
    with session_scope(c.url) as s:
        other = Jurisdiction(code="other", name="另一县")
        s.add(other)
        s.flush()
        assert other.id is not None
        dept = Department(
            jurisdiction_id=other.id, code="X01", name="外县局", category=Category.ECONOMIC
        )
        s.add(dept)
        s.flush()
        other_id, dept_id = other.id, dept.id
    with c.uow() as uow:
        uow.notifications.enqueue(
            NewMessage(other_id, "other:1", dept_id, "x01", "digest", "s", "b", DAY)
        )
    track(c, c.office)
    sender = Sender("a01")
    report = dispatch(c, c.office, sender)
    assert report.claimed == report.sent + report.failed and report.failed >= 1
    assert "x01" not in sender.sent  # another jurisdiction's outbox is not ours to send
    assert [(f.department, f.config_errors) for f in report.failures] == [("A01", report.failed)]
    assert audit_rows(c.url, "notifications_dispatched") == [(c.office.user_id, c.office.login)]
    assert dispatch(c, c.office, sender).claimed == 0  # nothing sent twice
    assert rows(c.url, "SELECT status FROM notification WHERE idempotency_key = 'other:1'") == [
        ("pending",)
    ]


def test_a_sender_that_raises_is_a_failed_attempt_with_its_secret_masked(county: County) -> None:
    c = county
    MASKER.add(["SENDERSECRET42"])
    track(c, c.office)
    report = dispatch(c, c.office, Sender(raises=True))
    assert report.claimed and report.retrying == report.claimed
    assert all("SENDERSECRET42" not in p.error and "***" in p.error for p in report.problems)
    stored = rows(c.url, "SELECT error FROM notificationattempt")
    assert stored and all("SENDERSECRET42" not in e for (e,) in stored)


def test_listing_is_scoped_to_the_department_and_shows_no_body(county: County) -> None:
    c = county
    track(c, c.office)
    a01 = make_user(c.url, "A01lx", UserRole.DEPARTMENT, department="A01")
    with c.uow(readonly=True) as uow:
        everything = notifications.list_notifications(uow, c.office, "juxian", limit=None)
        own = notifications.list_notifications(uow, a01, "juxian", limit=None)
        page = notifications.list_notifications(uow, c.office, "juxian", limit=3)
        digests = notifications.list_notifications(
            uow, a01, "juxian", kind="digest", department="A01"
        )
    departments = {r.department for r in everything.rows}
    assert {"A01", "A02", "B01", None} <= departments  # None: section and leadership digests
    assert own.rows and {r.department for r in own.rows} == {"A01"}
    assert own.total == len(own.rows) < everything.total
    assert len(page.rows) == 3 and page.total == everything.total
    assert page.rows == everything.rows[:3]  # newest first
    assert digests.rows and all(r.kind == "digest" for r in digests.rows)
    assert "body" not in everything.rows[0].model_dump()
    assert everything.rows[0].status_label and everything.rows[0].kind_label


def test_resend_requeues_failed_rows_and_audits_the_user(county: County) -> None:
    c = county
    track(c, c.office)
    failed = dispatch(c, c.office, Sender("b01")).failed
    assert failed
    with c.uow() as uow:
        result = notifications.resend(
            uow, c.office, "juxian", Resend(status=NotificationStatus.FAILED, department="B01"), NOW
        )
    assert result.count == failed
    assert audit_rows(c.url, "notifications_resent") == [(c.office.user_id, c.office.login)]
    assert dispatch(c, c.office, Sender()).sent == failed


def test_recipient_tags_cover_every_department_section_and_the_leadership(county: County) -> None:
    with county.uow(readonly=True) as uow:
        tags = notifications.recipient_tags(uow, county.office, "juxian")
    assert {"a01", "a01-head", "b01-head", "leadership", "section-ops"} <= set(tags)


# ------------------------------------------------------------------ refusals


def _disabled_office(url: str) -> Actor:
    actor = make_user(url, "office2", UserRole.OFFICE)
    with UnitOfWork(app_for(url)) as uow:
        identity.set_active(uow, "office2", False, identity.actor_for(uow, "admin"), TODAY)
    return actor


ACTORS: dict[str, Callable[[str], Actor]] = {
    "department user": lambda url: make_user(url, "A01lx", UserRole.DEPARTMENT, department="A01"),
    "leader": lambda url: make_user(url, "lead", UserRole.LEADER),
    "disabled office user": _disabled_office,
}


def _resend(c: County, actor: Actor) -> Any:
    [(b01_digest,)] = rows(
        c.url,
        "SELECT id FROM notification WHERE idempotency_key = :k",
        k=f"digest:{c.jurisdiction_id}:{DAY}:b01",
    )
    with c.uow() as uow:
        return notifications.resend(uow, actor, "juxian", Resend(ids=[b01_digest]), NOW)


def _list_b01(c: County, actor: Actor) -> Any:
    with c.uow(readonly=True) as uow:
        return notifications.list_notifications(uow, actor, "juxian", department="B01")


def _tags(c: County, actor: Actor) -> Any:
    with c.uow(readonly=True) as uow:
        return notifications.recipient_tags(uow, actor, "juxian")


USE_CASES: dict[str, Callable[[County, Actor], Any]] = {
    "track": lambda c, a: track(c, a, DAY + timedelta(days=1)),
    "dispatch": lambda c, a: dispatch(c, a, Sender()),
    "resend B01's digest": _resend,
    "list B01's notifications": _list_b01,
    "recipient tags": _tags,
}


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_refused_actors_change_nothing_and_the_refusal_is_recorded(
    county: County, who: str
) -> None:
    c = county
    track(c, c.office)
    dispatch(c, c.office, Sender("b01"))  # something failed, for resend to have work
    actor = ACTORS[who](c.url)
    before = snapshot(c.url)
    for name, call in USE_CASES.items():
        if who == "department user" and name == "list B01's notifications":
            match = "is not of department A01"
        else:
            match = "disabled" if who.startswith("disabled") else "role"
        with pytest.raises(PermissionDenied, match=match):
            call(c, actor)
        assert snapshot(c.url) == before, name
    refusals = rows(c.url, "SELECT user_id FROM auditlog WHERE action = 'access_denied'")
    assert refusals == [(actor.user_id,)] * len(USE_CASES)


def test_a_department_user_lists_its_own_notifications(county: County) -> None:
    track(county, county.office)
    a01 = make_user(county.url, "A01lx", UserRole.DEPARTMENT, department="A01")
    with county.uow(readonly=True) as uow:
        page = notifications.list_notifications(uow, a01, "juxian", department="A01")
    assert page.rows and {r.department for r in page.rows} == {"A01"}
