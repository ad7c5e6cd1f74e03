"""The transactional outbox on SQLite and PostgreSQL, with real SMTP and webhook servers.

The dispatcher is the use case `bihuan.services.notifications.dispatch`, run as an office user
without Prefect; messages are written through the repository (`uow.notifications.enqueue`), in
the caller's unit of work.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bihuan.core.access import Actor
from bihuan.core.outbox import Clock, NewMessage, Outgoing, SendLimits
from bihuan.db import get_engine, session_scope
from bihuan.errors import UserError
from bihuan.repositories.notifications import DueRef
from bihuan.services import notifications
from bihuan.services.notifications import DispatchReport, Resend
from bihuan.services.uow import UnitOfWork
from models import (
    BUSINESS_TZ,
    Category,
    Department,
    Jurisdiction,
    Notification,
    NotificationAttempt,
)
from models.enums import NotificationStatus
from notifications.channels import MASKER, Channels, DeliveryResult
from tests.integration.mailserver import MailServer, Webhook
from tests.users import app_for, office

DAY = date(2026, 10, 12)  # a Monday
NINE = datetime(2026, 10, 12, 9, 0, tzinfo=BUSINESS_TZ)
BACKOFF = [1, 5, 30, 120]
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Org:
    url: str
    jid: int
    did: int
    office: Actor


def _jurisdiction(url: str, code: str, department: str) -> tuple[int, int]:
    with session_scope(url) as s:
        j = Jurisdiction(code=code, name=code)
        s.add(j)
        s.flush()
        assert j.id is not None
        d = Department(
            jurisdiction_id=j.id, code=department, name="县财政局", category=Category.ECONOMIC
        )
        s.add(d)
        s.flush()
        assert d.id is not None
        return j.id, d.id


@pytest.fixture
def org(db_url: str) -> Org:
    jid, did = _jurisdiction(db_url, "juxian", "d01")
    return Org(db_url, jid, did, office(db_url))


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


def dispatch(
    org: Org,
    sender: Any,
    now: datetime | Clock,
    *,
    max_attempts: int = 5,
    backoff_minutes: Sequence[int] = BACKOFF,
    jurisdiction: str = "juxian",
    **options: Any,
) -> DispatchReport:
    """One dispatcher run; `now` is a clock, or a fixed time (a clock that stands still)."""
    app = app_for(org.url, jurisdiction)
    clock: Clock = now if callable(now) else (lambda: now)  # type: ignore[assignment,return-value]
    return notifications.dispatch(
        lambda: UnitOfWork(app),
        sender,
        clock,
        actor=org.office,
        jurisdiction=jurisdiction,
        max_attempts=max_attempts,
        backoff_minutes=backoff_minutes,
        **options,
    )


def resend(org: Org, now: datetime = NINE, **cmd: Any) -> int:
    with UnitOfWork(app_for(org.url)) as uow:
        return notifications.resend(uow, org.office, "juxian", Resend(**cmd), now).count


def _enqueue(org: Org, n: int, tag: str = "d01", day: date = DAY, jid: int | None = None) -> None:
    with UnitOfWork(app_for(org.url)) as uow:
        for i in range(n):
            assert uow.notifications.enqueue(
                NewMessage(
                    jurisdiction_id=jid or org.jid,
                    key=f"item-{i}:overdue-1:{tag}",
                    department_id=org.did,
                    recipient_tag=tag,
                    kind="reminder",
                    subject=f"【逾期催办】县财政局：整改事项{i}",
                    body=f"整改事项{i}已逾期，请立即整改。",
                    business_date=day,
                )
            )


def _rows(url: str) -> list[Notification]:
    with Session(get_engine(url)) as s:
        return list(s.exec(select(Notification).order_by(Notification.id)).all())  # type: ignore[arg-type]


def _attempts(url: str) -> list[NotificationAttempt]:
    with Session(get_engine(url)) as s:
        stmt = select(NotificationAttempt).order_by(
            NotificationAttempt.notification_id, NotificationAttempt.attempt_no
        )  # type: ignore[arg-type]
        return list(s.exec(stmt).all())


class FakeSender:
    """Answers from a script of results, then `default`; records what it was asked to send."""

    closed_channels: list[str] = []  # noqa: RUF012 - never written

    def __init__(
        self, *script: DeliveryResult, default: DeliveryResult | None = None, pause: float = 0
    ) -> None:
        self.script = list(script)
        self.default = default or DeliveryResult(True)
        self.pause = pause
        self.sent: list[tuple[str, str]] = []
        self.messages: list[Outgoing] = []
        self._lock = threading.Lock()

    def batch(self, limits: SendLimits) -> contextlib.nullcontext[FakeSender]:
        return contextlib.nullcontext(self)

    def deliver(self, message: Outgoing) -> DeliveryResult:
        time.sleep(self.pause)
        with self._lock:
            self.sent.append((message.tag, message.subject))
            self.messages.append(message)
            return self.script.pop(0) if self.script else self.default

    def mask(self, text: str) -> str:
        return MASKER.mask(text)


def test_enqueue_is_idempotent_and_rides_the_callers_transaction(org: Org) -> None:
    url = org.url
    app = app_for(url)
    message = NewMessage(
        jurisdiction_id=org.jid,
        key="item-7:due:d01",
        department_id=org.did,
        recipient_tag="d01",
        kind="reminder",
        subject="s",
        body="b",
        business_date=DAY,
    )
    with UnitOfWork(app) as uow:
        assert uow.notifications.enqueue(message) is True
        assert uow.notifications.enqueue(message) is False
    with UnitOfWork(app) as uow:
        assert uow.notifications.enqueue(message) is False
    # The change that causes a message fails: the message goes with it.
    with pytest.raises(RuntimeError), UnitOfWork(app) as uow:
        uow.notifications.enqueue(replace(message, key="item-8:due:d01"))
        raise RuntimeError("the tracker died before its commit")
    rows = _rows(url)
    assert [r.idempotency_key for r in rows] == ["item-7:due:d01"]
    assert rows[0].status == NotificationStatus.PENDING and rows[0].next_attempt_at == datetime(
        2026, 10, 12, tzinfo=BUSINESS_TZ
    )


def test_smtp_delivers_each_message_exactly_once(org: Org, mail: MailServer) -> None:
    url = org.url
    _enqueue(org, 3, tag="d01")
    _enqueue(org, 1, tag="d01-head")
    channels = Channels(
        "urls:\n"
        f'  - "{mail.url("caizheng@example.org")}":\n    - tag: d01\n'
        f'  - "{mail.url("head@example.org")}":\n    - tag: d01-head\n',
        rate_limit=0,
    )
    report = dispatch(org, channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    assert (report.claimed, report.sent, report.problems) == (4, 4, [])
    again = dispatch(
        org, channels, now=NINE + timedelta(days=1), max_attempts=5, backoff_minutes=BACKOFF
    )
    assert again.claimed == 0
    assert len(mail.received) == 4
    by_rcpt = Counter(r.rcpt_tos[0] for r in mail.received)
    assert by_rcpt == {"caizheng@example.org": 3, "head@example.org": 1}
    pairs = Counter((r.rcpt_tos[0], r.subject) for r in mail.received)
    assert len(pairs) == 4 and max(pairs.values()) == 1  # no duplicate
    subjects = [s for _, s in pairs]
    assert "【逾期催办】县财政局：整改事项0" in subjects
    assert any("整改事项2已逾期，请立即整改。" in r.text for r in mail.received)
    rows = _rows(url)
    assert all(
        r.status == NotificationStatus.SENT and r.sent_at == NINE and r.attempts == 1 for r in rows
    )
    assert [(a.attempt_no, a.ok) for a in _attempts(url)] == [(1, True)] * 4


@pytest.mark.reliability
def test_three_day_smtp_outage_then_recovery_delivers_everything_once(
    org: Org, mail: MailServer
) -> None:
    url = org.url
    _enqueue(org, 4)
    config = f'urls:\n  - "{mail.url("caizheng@example.org")}":\n    - tag: d01\n'
    mail.stop()
    for day in range(3):
        report = dispatch(
            org,
            Channels(config, rate_limit=0),
            now=NINE + timedelta(days=day),
            max_attempts=5,
            backoff_minutes=BACKOFF,
            limits=SendLimits(breaker_failures=10),  # every row tried (the breaker: below)
        )
        assert (report.claimed, report.sent, report.retrying) == (4, 0, 4)
        assert all("127.0.0.1" in p.error for p in report.problems)
    rows = _rows(url)
    assert all(r.status == NotificationStatus.PENDING and r.attempts == 3 for r in rows)
    # backoff after the third failure is the third step (30 min) from the third day's run
    assert {r.next_attempt_at for r in rows} == {NINE + timedelta(days=2, minutes=30)}
    assert all(r.last_error and "SMTPPASSWORD42" not in r.last_error for r in rows)

    mail.start()  # same port
    report = dispatch(
        org,
        Channels(config, rate_limit=0),
        now=NINE + timedelta(days=3),
        max_attempts=5,
        backoff_minutes=BACKOFF,
    )
    assert (report.sent, report.problems) == (4, [])
    dispatch(
        org,
        Channels(config, rate_limit=0),
        now=NINE + timedelta(days=4),
        max_attempts=5,
        backoff_minutes=BACKOFF,
    )
    assert sorted(r.subject for r in mail.received) == [
        f"【逾期催办】县财政局：整改事项{i}" for i in range(4)
    ]
    attempts = _attempts(url)
    assert len(attempts) == 16
    assert [a.ok for a in attempts if a.attempt_no == 4] == [True] * 4
    assert not any(a.ok for a in attempts if a.attempt_no < 4)


@pytest.mark.reliability
def test_no_channel_for_tag_is_recorded_as_failed_per_department(
    org: Org, mail: MailServer
) -> None:
    url = org.url
    _enqueue(org, 1, tag="d01-head")
    channels = Channels(
        f'urls:\n  - "{mail.url("x@example.org")}":\n    - tag: d01\n', rate_limit=0
    )
    report = dispatch(org, channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    assert (report.sent, report.failed) == (0, 1)
    [problem] = report.problems
    assert (problem.department, problem.tag, problem.status) == (
        "d01",
        "d01-head",
        NotificationStatus.FAILED,
    )
    assert "no channel configured for tag 'd01-head'" in problem.error
    [failures] = report.failures
    assert (failures.department, failures.config_errors, failures.tags) == ("d01", 1, ["d01-head"])
    [row] = _rows(url)
    assert row.status == NotificationStatus.FAILED and row.sent_at is None
    assert "no channel configured" in row.last_error
    assert [(a.ok, "no channel" in a.error) for a in _attempts(url)] == [(False, True)]
    assert mail.received == []


@pytest.mark.reliability
def test_dingtalk_errcode_is_recorded_as_failure_not_sent(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apprise.plugins.dingtalk import NotifyDingTalk

    url = org.url
    hook = Webhook({"errcode": 310000, "errmsg": "keywords not in content"})
    try:
        monkeypatch.setattr(
            NotifyDingTalk,
            "notify_url",
            f"http://127.0.0.1:{hook.port}/robot/send?access_token={{token}}",
        )
        _enqueue(org, 1, tag="section-jdjc")
        channels = Channels(
            'urls:\n  - "dingtalk://OUTBOXDTTOKEN99/":\n    - tag: section-jdjc\n', rate_limit=0
        )
        report = dispatch(org, channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    finally:
        hook.stop()
    assert len(hook.seen) == 1
    assert (report.sent, report.retrying) == (0, 1)
    [row] = _rows(url)
    assert row.status == NotificationStatus.PENDING and row.sent_at is None
    assert "errcode=310000" in row.last_error and "OUTBOXDTTOKEN99" not in row.last_error
    [attempt] = _attempts(url)
    assert not attempt.ok and "OUTBOXDTTOKEN99" not in attempt.error


def test_dead_letter_after_max_attempts_then_resend(org: Org) -> None:
    url = org.url
    _enqueue(org, 1)
    MASKER.add(["HUNTER2TOKEN"])
    failing = FakeSender(
        default=DeliveryResult(False, "refused by json://u:HUNTER2TOKEN@10.0.0.1/hook")
    )
    now = NINE
    statuses = []
    for _ in range(4):
        dispatch(org, failing, now=now, max_attempts=3, backoff_minutes=[1, 5])
        [row] = _rows(url)
        statuses.append((str(row.status), row.attempts))
        now += timedelta(hours=1)
    assert statuses == [("pending", 1), ("pending", 2), ("dead", 3), ("dead", 3)]
    assert len(failing.sent) == 3
    assert "HUNTER2TOKEN" not in row.last_error and "***" in row.last_error
    assert all("HUNTER2TOKEN" not in a.error for a in _attempts(url))

    assert resend(org, status="failed") == 0
    with pytest.raises(UserError, match="no department 'd02'"):
        resend(org, department="d02")
    assert resend(org, department="d01", now=now) == 1
    [row] = _rows(url)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    ok = FakeSender()
    report = dispatch(org, ok, now=now + timedelta(days=1), max_attempts=3, backoff_minutes=[1, 5])
    assert report.sent == 1 and len(ok.sent) == 1
    assert [(a.attempt_no, a.ok) for a in _attempts(url)] == [
        (1, False),
        (2, False),
        (3, False),
        (4, True),
    ]


def test_retry_backoff_follows_the_ladder_and_repeats_the_last_step(
    org: Org,
) -> None:
    url = org.url
    _enqueue(org, 1)
    failing = FakeSender(default=DeliveryResult(False, "down"))
    now = NINE
    gaps = []
    for _ in range(5):
        report = dispatch(org, failing, now=now, max_attempts=9, backoff_minutes=[1, 5, 30])
        assert report.claimed == 1
        [row] = _rows(url)
        gaps.append(row.next_attempt_at - now)
        # one second early: not due yet
        assert (
            dispatch(
                org,
                failing,
                now=row.next_attempt_at - timedelta(seconds=1),
                max_attempts=9,
                backoff_minutes=[1, 5, 30],
            ).claimed
            == 0
        )
        now = row.next_attempt_at
    assert gaps == [timedelta(minutes=m) for m in (1, 5, 30, 30, 30)]


@pytest.mark.reliability
def test_claimed_but_never_recorded_is_sent_again_after_the_lease(
    org: tuple[str, int, int],
) -> None:
    """The dispatcher process dies between its claim and recording the outcome."""
    url = org.url
    _enqueue(org, 1)
    [row] = _rows(url)
    assert row.id is not None
    with UnitOfWork(app_for(url)) as uow:
        claimed = uow.notifications.claim(DueRef(row.id, 0), now=NINE, lease=LEASE)
        assert claimed is not None and claimed.attempt == 1 and claimed.department_code == "d01"
    with UnitOfWork(app_for(url)) as uow:  # a second dispatcher that read the same row loses
        assert uow.notifications.claim(DueRef(row.id, 0), now=NINE, lease=LEASE) is None
    sender = FakeSender()
    assert (
        dispatch(
            org,
            sender,
            now=NINE + timedelta(minutes=14),
            max_attempts=5,
            backoff_minutes=BACKOFF,
        ).claimed
        == 0
    )
    report = dispatch(
        org,
        sender,
        now=NINE + timedelta(minutes=15),
        max_attempts=5,
        backoff_minutes=BACKOFF,
    )
    assert report.sent == 1 and len(sender.sent) == 1
    [row] = _rows(url)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


@pytest.mark.reliability
def test_two_dispatchers_at_once_never_send_a_row_twice(org: Org) -> None:
    url = org.url
    _enqueue(org, 30)
    sender = FakeSender(pause=0.005)
    reports = []

    def run() -> None:
        reports.append(dispatch(org, sender, now=NINE, max_attempts=5, backoff_minutes=BACKOFF))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(subject for _, subject in sender.sent)
    assert len(counts) == 30 and max(counts.values()) == 1
    assert sum(r.sent for r in reports) == 30
    assert all(r.status == NotificationStatus.SENT for r in _rows(url))


# ------------------------------------------------------------------ the command line


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    from typer.testing import CliRunner

    from bihuan.cli import _register_commands, app

    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    _register_commands()
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.mark.reliability
def test_a_future_as_of_does_not_send_tomorrows_messages_today(
    org: Org, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decided: clamp. `--as-of` after today runs on the real clock, so a message due tomorrow
    stays pending until tomorrow; the command says so."""
    from bihuan.clock import business_today
    from bihuan.settings import reset_settings
    from notifications.channels import demo_config

    config = tmp_path / "apprise.yml"
    config.write_text(demo_config(["d01"], tmp_path / "outbox"), encoding="utf-8")
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(config))
    reset_settings()
    tomorrow = business_today() + timedelta(days=1)
    _enqueue(org, 1, day=DAY)
    with UnitOfWork(app_for(org.url)) as uow:
        uow.notifications.enqueue(
            NewMessage(
                jurisdiction_id=org.jid, key="tomorrow", department_id=org.did,
                recipient_tag="d01", kind="digest", subject="明日汇总", body="明天的",
                business_date=tomorrow,
            )
        )  # fmt: skip
    result = cli(
        "dispatch", "--as-of", tomorrow.isoformat(), "--db", org.url, "--as", org.office.login,
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 1
    assert "after today" in result.stderr
    status = {r.idempotency_key: r.status for r in _rows(org.url)}
    assert status["tomorrow"] == NotificationStatus.PENDING
    assert [p.read_text(encoding="utf-8") for p in (tmp_path / "outbox").iterdir()] == [
        "主题：【逾期催办】县财政局：整改事项0\n\n整改事项0已逾期，请立即整改。\n\n"
        f"通知编号 N-{min(r.id for r in _rows(org.url))}（编号相同的通知为同一通知的重发，"
        "请以先收到的为准）"
    ]


def test_listing_is_bounded_and_never_loads_a_body(org: Org, cli: Any) -> None:
    from sqlalchemy import event

    _enqueue(org, 205)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine(org.url)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with UnitOfWork(app_for(org.url), readonly=True) as uow:
            page = notifications.list_notifications(uow, org.office, "juxian")
        result = cli("notifications", "--db", org.url, "--as", org.office.login, "--json")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (len(page.rows), page.total, page.limit) == (200, 205, 200)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 200
    assert "showing the newest 200 of 205" in result.stderr
    reads = [s for s in statements if "FROM notification" in s]
    assert reads and not any(re.search(r"\bbody\b", s) for s in reads), reads
