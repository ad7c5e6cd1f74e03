"""The issue's extra goals: the daily tracker over 1,000,000 open items, and SMTP dispatch cost.

1. Tracker sweep (整改跟踪): `plan_reminders` (the pure planner) over N synthetic ItemViews, and
   the bulk path of the use case `bihuan.services.tracking.track` (load items + markers, plan,
   store levels, markers and digests in one transaction; no Prefect) over N items written
   straight into a database.
2. Dispatch (通知发送): the same M messages sent to a loopback aiosmtpd server through our
   dispatcher (`bihuan.services.notifications.dispatch`: claim, apprise, record, one row at a
   time), through apprise alone (`Channels.send`, no database), and through a bare `smtplib`
   loop opening one connection per message as apprise does. Ratio = dispatcher ÷ bare loop
   (goal ≤ 1.5).
"""

from __future__ import annotations

import smtplib
import time
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from benchmarks.smtp import CountingSmtp
from bihuan.db import table

AS_OF = date(2025, 9, 1)  # a Monday (working day)
LAST_RUN = date(2025, 8, 29)  # the previous working day: a normal daily run, not a catch-up


def _deadline(i: int) -> date:
    # Deadlines spread over three months around as_of: some ahead, some due, some overdue.
    return AS_OF + timedelta(days=(i * 7919) % 90 - 45)


def tracker_pure(items: int) -> dict[str, Any]:
    """plan_reminders over `items` open items (views built beforehand, not timed)."""
    from bihuan.app import app_context
    from bihuan.core.rectification import Status
    from bihuan.core.reminders import ItemView, plan_reminders
    from bihuan.core.workdays import WorkCalendar

    policy = app_context().policy
    cal = WorkCalendar.from_policy(policy.calendar)
    views = [
        ItemView(
            id=i,
            department=f"d{i % 10_000:05d}",
            deadline=_deadline(i),
            status=Status.OPEN,
            issued_on=date(2025, 5, 6),
            section="section-ops",
        )
        for i in range(1, items + 1)
    ]
    started = time.perf_counter()
    planned = plan_reminders(
        views, as_of=AS_OF, last_run=LAST_RUN, cal=cal, ladder=policy.reminders
    )
    seconds = time.perf_counter() - started
    return {"items": items, "seconds": round(seconds, 3), "notices": len(planned)}


def _write_items(engine: Engine, items: int, departments: int) -> None:
    from models import Finding, JobState, RectificationItem, utc_now

    now = utc_now()
    chunk = 50_000
    with engine.begin() as conn:
        conn.execute(
            table(JobState).insert(),
            [{"jurisdiction_id": 1, "job": "track-rectifications", "value": LAST_RUN.isoformat(),
              "updated_at": now}],
        )  # fmt: skip
        for start in range(1, items + 1, chunk):
            ids = range(start, min(items + 1, start + chunk))
            conn.execute(
                table(Finding).insert(),
                [{"id": i, "cycle_id": 1, "phase_kind": "mid-year",
                  "department_id": i % departments + 1, "key": f"bench:{i}",
                  "category": "indicator", "severity": "medium", "source": "bench",
                  "title": f"重点工作任务{i}得分低于60分", "evidence": {}, "status": "approved",
                  "dropped_reason": "", "created_at": now} for i in ids],
            )  # fmt: skip
            conn.execute(
                table(RectificationItem).insert(),
                [{"id": i, "finding_id": i, "department_id": i % departments + 1,
                  "supervising_section": "机关职能运行监管办公室", "measures": "",
                  "issued_on": date(2025, 5, 6), "deadline": _deadline(i), "status": "open",
                  "escalation_level": None, "extensions": 0, "explanation": "", "alternative": "",
                  "version": 1, "updated_at": now} for i in ids],
            )  # fmt: skip


def tracker_flow_path(url: str, items: int, departments: int = 10_000) -> dict[str, Any]:
    """The tracker use case (our bulk load/plan/update path, without Prefect) over `items` items."""
    from benchmarks.harness import create_bench_office
    from benchmarks.synth import Size, load
    from bihuan.app import app_context
    from bihuan.db import get_engine
    from bihuan.services import identity, tracking
    from bihuan.services.uow import UnitOfWork

    engine = get_engine(url)
    app = app_context(url, "bench")
    load_started = time.perf_counter()
    load(engine, Size("tracker", departments), policy=app.policy, jurisdiction="bench")
    _write_items(engine, items, departments)
    office = create_bench_office(url, "bench")
    load_seconds = time.perf_counter() - load_started
    started = time.perf_counter()
    with UnitOfWork(app) as uow:
        summary = tracking.track(uow, identity.actor_for(uow, office), "bench", AS_OF)
    seconds = time.perf_counter() - started
    return {
        "items": items,
        "seconds": round(seconds, 2),
        "load_seconds": round(load_seconds, 1),
        "notices": summary.notices,
        "markers": summary.markers,
        "digests": summary.digests,
    }


def dispatch_comparison(url: str, workdir: Path, messages: int = 200) -> dict[str, Any]:
    """Our dispatcher vs apprise alone vs a bare smtplib loop, the same messages to loopback SMTP."""
    from benchmarks.harness import create_bench_office
    from benchmarks.smtp import write_config
    from bihuan.app import app_context
    from bihuan.db import get_engine
    from bihuan.services import identity, notifications
    from bihuan.services.uow import UnitOfWork
    from models import Notification, utc_now
    from notifications.channels import Channels

    tags = [f"r{i:05d}" for i in range(messages)]
    subject = "整改事项每日汇总"
    body = "贵单位今日有以下整改事项需要关注:\n" + "\n".join(
        f"{k}. 重点工作任务{k}得分低于60分, 整改期限 2025年9月{k % 28 + 1}日" for k in range(1, 9)
    )
    now = utc_now()
    with get_engine(url).begin() as conn:
        conn.execute(
            table(Notification).insert(),
            [{"jurisdiction_id": 1, "idempotency_key": f"bench:{t}", "department_id": None,
              "recipient_tag": t, "kind": "digest", "subject": subject, "body": body,
              "business_date": AS_OF, "status": "pending", "attempts": 0,
              "next_attempt_at": now - timedelta(minutes=1), "last_error": "",
              "created_at": now} for t in tags],
        )  # fmt: skip
    jurisdiction = "bench"  # benchmarks.synth.load's default
    app = app_context(url, jurisdiction)
    login = create_bench_office(url, jurisdiction)
    with UnitOfWork(app, readonly=True) as uow:
        office = identity.actor_for(uow, login)
    out: dict[str, Any] = {"messages": messages}
    with CountingSmtp() as smtp:
        config = write_config(workdir / "apprise-dispatch.yml", smtp, tags)
        channels = Channels.from_file(config)
        started = time.perf_counter()
        report = notifications.dispatch(
            lambda: UnitOfWork(app), channels, now, actor=office, jurisdiction=jurisdiction,
            max_attempts=5, backoff_minutes=[1],
        )  # fmt: skip
        out["dispatcher_seconds"] = round(time.perf_counter() - started, 3)
        out["dispatcher_sent"] = report.sent

        started = time.perf_counter()
        for t in tags:
            channels.send(t, subject, body)
        out["apprise_seconds"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        for t in tags:
            msg = EmailMessage()
            msg["Subject"], msg["From"], msg["To"] = (
                subject,
                "bihuan@bench.local",
                f"{t}@bench.local",
            )
            msg.set_content(body)
            with smtplib.SMTP("127.0.0.1", smtp.port, timeout=15) as conn:
                conn.send_message(msg)
        out["smtplib_seconds"] = round(time.perf_counter() - started, 3)
        out["received"] = smtp.received
    out["ratio"] = round(out["dispatcher_seconds"] / out["smtplib_seconds"], 2)
    out["apprise_ratio"] = round(out["apprise_seconds"] / out["smtplib_seconds"], 2)
    return out
