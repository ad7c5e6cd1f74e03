"""The transactional outbox on SQLite and PostgreSQL, with real SMTP and webhook servers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bihuan.db import get_engine, session_scope
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
from notifications.outbox import claim, dispatch, enqueue, resend
from tests.integration.mailserver import MailServer, Webhook

DAY = date(2026, 10, 12)  # a Monday
NINE = datetime(2026, 10, 12, 9, 0, tzinfo=BUSINESS_TZ)
BACKOFF = [1, 5, 30, 120]


@pytest.fixture
def org(db_url: str) -> tuple[str, int, int]:
    with session_scope(db_url) as s:
        j = Jurisdiction(code="juxian", name="莒县")
        s.add(j)
        s.flush()
        assert j.id is not None
        d = Department(
            jurisdiction_id=j.id, code="d01", name="县财政局", category=Category.ECONOMIC
        )
        s.add(d)
        s.flush()
        assert d.id is not None
        return db_url, j.id, d.id


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


def _enqueue(
    url: str, jid: int, did: int | None, n: int, tag: str = "d01", day: date = DAY
) -> None:
    with session_scope(url) as s:
        for i in range(n):
            assert enqueue(
                s,
                jurisdiction_id=jid,
                key=f"item-{i}:overdue-1:{tag}",
                department_id=did,
                recipient_tag=tag,
                kind="reminder",
                subject=f"【逾期催办】县财政局：整改事项{i}",
                body=f"整改事项{i}已逾期，请立即整改。",
                business_date=day,
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

    def __init__(
        self, *script: DeliveryResult, default: DeliveryResult | None = None, pause: float = 0
    ) -> None:
        self.script = list(script)
        self.default = default or DeliveryResult(True)
        self.pause = pause
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, tag: str, subject: str, body: str) -> DeliveryResult:
        time.sleep(self.pause)
        with self._lock:
            self.sent.append((tag, subject))
            return self.script.pop(0) if self.script else self.default


def test_enqueue_is_idempotent_and_rides_the_callers_transaction(org: tuple[str, int, int]) -> None:
    url, jid, did = org
    args = dict(
        jurisdiction_id=jid,
        key="item-7:due:d01",
        department_id=did,
        recipient_tag="d01",
        kind="reminder",
        subject="s",
        body="b",
        business_date=DAY,
    )
    with session_scope(url) as s:
        assert enqueue(s, **args) is True  # type: ignore[arg-type]
        assert enqueue(s, **args) is False  # type: ignore[arg-type]
    with session_scope(url) as s:
        assert enqueue(s, **args) is False  # type: ignore[arg-type]
    # The change that causes a message fails: the message goes with it.
    with pytest.raises(RuntimeError), session_scope(url) as s:
        enqueue(s, **{**args, "key": "item-8:due:d01"})  # type: ignore[arg-type]
        raise RuntimeError("the tracker died before its commit")
    rows = _rows(url)
    assert [r.idempotency_key for r in rows] == ["item-7:due:d01"]
    assert rows[0].status == NotificationStatus.PENDING and rows[0].next_attempt_at == datetime(
        2026, 10, 12, tzinfo=BUSINESS_TZ
    )


def test_smtp_delivers_each_message_exactly_once(
    org: tuple[str, int, int], mail: MailServer
) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 3, tag="d01")
    _enqueue(url, jid, did, 1, tag="d01-head")
    channels = Channels(
        "urls:\n"
        f'  - "{mail.url("caizheng@example.org")}":\n    - tag: d01\n'
        f'  - "{mail.url("head@example.org")}":\n    - tag: d01-head\n',
        rate_limit=0,
    )
    report = dispatch(url, sender=channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    assert (report.claimed, report.sent, report.problems) == (4, 4, [])
    again = dispatch(
        url, sender=channels, now=NINE + timedelta(days=1), max_attempts=5, backoff_minutes=BACKOFF
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


def test_three_day_smtp_outage_then_recovery_delivers_everything_once(
    org: tuple[str, int, int], mail: MailServer
) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 4)
    config = f'urls:\n  - "{mail.url("caizheng@example.org")}":\n    - tag: d01\n'
    mail.stop()
    for day in range(3):
        report = dispatch(
            url,
            sender=Channels(config, rate_limit=0),
            now=NINE + timedelta(days=day),
            max_attempts=5,
            backoff_minutes=BACKOFF,
        )
        assert (report.claimed, report.sent, report.retrying) == (4, 0, 4)
        assert all("127.0.0.1" in p["error"] for p in report.problems)
    rows = _rows(url)
    assert all(r.status == NotificationStatus.PENDING and r.attempts == 3 for r in rows)
    # backoff after the third failure is the third step (30 min) from the third day's run
    assert {r.next_attempt_at for r in rows} == {NINE + timedelta(days=2, minutes=30)}
    assert all(r.last_error and "SMTPPASSWORD42" not in r.last_error for r in rows)

    mail.start()  # same port
    report = dispatch(
        url,
        sender=Channels(config, rate_limit=0),
        now=NINE + timedelta(days=3),
        max_attempts=5,
        backoff_minutes=BACKOFF,
    )
    assert (report.sent, report.problems) == (4, [])
    dispatch(
        url,
        sender=Channels(config, rate_limit=0),
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


def test_no_channel_for_tag_is_recorded_as_failed_per_department(
    org: tuple[str, int, int], mail: MailServer
) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 1, tag="d01-head")
    channels = Channels(
        f'urls:\n  - "{mail.url("x@example.org")}":\n    - tag: d01\n', rate_limit=0
    )
    report = dispatch(url, sender=channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    assert (report.sent, report.failed) == (0, 1)
    [problem] = report.problems
    assert (
        problem["department_id"] == did
        and problem["tag"] == "d01-head"
        and problem["status"] == "failed"
    )
    assert "no channel configured for tag 'd01-head'" in problem["error"]
    [row] = _rows(url)
    assert row.status == NotificationStatus.FAILED and row.sent_at is None
    assert "no channel configured" in row.last_error
    assert [(a.ok, "no channel" in a.error) for a in _attempts(url)] == [(False, True)]
    assert mail.received == []


def test_dingtalk_errcode_is_recorded_as_failure_not_sent(
    org: tuple[str, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apprise.plugins.dingtalk import NotifyDingTalk

    url, jid, did = org
    hook = Webhook({"errcode": 310000, "errmsg": "keywords not in content"})
    try:
        monkeypatch.setattr(
            NotifyDingTalk,
            "notify_url",
            f"http://127.0.0.1:{hook.port}/robot/send?access_token={{token}}",
        )
        _enqueue(url, jid, did, 1, tag="section-jdjc")
        channels = Channels(
            'urls:\n  - "dingtalk://OUTBOXDTTOKEN99/":\n    - tag: section-jdjc\n', rate_limit=0
        )
        report = dispatch(url, sender=channels, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
    finally:
        hook.stop()
    assert len(hook.seen) == 1
    assert (report.sent, report.retrying) == (0, 1)
    [row] = _rows(url)
    assert row.status == NotificationStatus.PENDING and row.sent_at is None
    assert "errcode=310000" in row.last_error and "OUTBOXDTTOKEN99" not in row.last_error
    [attempt] = _attempts(url)
    assert not attempt.ok and "OUTBOXDTTOKEN99" not in attempt.error


def test_dead_letter_after_max_attempts_then_resend(org: tuple[str, int, int]) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 1)
    MASKER.add(["HUNTER2TOKEN"])
    failing = FakeSender(
        default=DeliveryResult(False, "refused by json://u:HUNTER2TOKEN@10.0.0.1/hook")
    )
    now = NINE
    statuses = []
    for _ in range(4):
        dispatch(url, sender=failing, now=now, max_attempts=3, backoff_minutes=[1, 5])
        [row] = _rows(url)
        statuses.append((str(row.status), row.attempts))
        now += timedelta(hours=1)
    assert statuses == [("pending", 1), ("pending", 2), ("dead", 3), ("dead", 3)]
    assert len(failing.sent) == 3
    assert "HUNTER2TOKEN" not in row.last_error and "***" in row.last_error
    assert all("HUNTER2TOKEN" not in a.error for a in _attempts(url))

    assert resend(url, status="failed") == 0
    assert resend(url, department="d02") == 0
    assert resend(url, department="d01", actor="王科长", now=now) == 1
    [row] = _rows(url)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    ok = FakeSender()
    report = dispatch(
        url, sender=ok, now=now + timedelta(days=1), max_attempts=3, backoff_minutes=[1, 5]
    )
    assert report.sent == 1 and len(ok.sent) == 1
    assert [(a.attempt_no, a.ok) for a in _attempts(url)] == [
        (1, False),
        (2, False),
        (3, False),
        (4, True),
    ]


def test_retry_backoff_follows_the_ladder_and_repeats_the_last_step(
    org: tuple[str, int, int],
) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 1)
    failing = FakeSender(default=DeliveryResult(False, "down"))
    now = NINE
    gaps = []
    for _ in range(5):
        report = dispatch(url, sender=failing, now=now, max_attempts=9, backoff_minutes=[1, 5, 30])
        assert report.claimed == 1
        [row] = _rows(url)
        gaps.append(row.next_attempt_at - now)
        # one second early: not due yet
        assert (
            dispatch(
                url,
                sender=failing,
                now=row.next_attempt_at - timedelta(seconds=1),
                max_attempts=9,
                backoff_minutes=[1, 5, 30],
            ).claimed
            == 0
        )
        now = row.next_attempt_at
    assert gaps == [timedelta(minutes=m) for m in (1, 5, 30, 30, 30)]


def test_claimed_but_never_recorded_is_sent_again_after_the_lease(
    org: tuple[str, int, int],
) -> None:
    """The dispatcher process dies between its claim and recording the outcome."""
    url, jid, did = org
    _enqueue(url, jid, did, 1)
    [row] = _rows(url)
    assert row.id is not None
    with session_scope(url) as s:
        assert claim(s, notification_id=row.id, seen_attempts=0, now=NINE, lease_minutes=15)
    with session_scope(url) as s:  # a second dispatcher that read the same row loses
        assert not claim(s, notification_id=row.id, seen_attempts=0, now=NINE, lease_minutes=15)
    sender = FakeSender()
    assert (
        dispatch(
            url,
            sender=sender,
            now=NINE + timedelta(minutes=14),
            max_attempts=5,
            backoff_minutes=BACKOFF,
        ).claimed
        == 0
    )
    report = dispatch(
        url,
        sender=sender,
        now=NINE + timedelta(minutes=15),
        max_attempts=5,
        backoff_minutes=BACKOFF,
    )
    assert report.sent == 1 and len(sender.sent) == 1
    [row] = _rows(url)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


def test_two_dispatchers_at_once_never_send_a_row_twice(org: tuple[str, int, int]) -> None:
    url, jid, did = org
    _enqueue(url, jid, did, 30)
    sender = FakeSender(pause=0.005)
    reports = []

    def run() -> None:
        reports.append(
            dispatch(url, sender=sender, now=NINE, max_attempts=5, backoff_minutes=BACKOFF)
        )

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(subject for _, subject in sender.sent)
    assert len(counts) == 30 and max(counts.values()) == 1
    assert sum(r.sent for r in reports) == 30
    assert all(r.status == NotificationStatus.SENT for r in _rows(url))
