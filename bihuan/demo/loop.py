"""The demo's closed loop: scripted department behaviour and a day-by-day run of the ledger.

Departments behave by their latent quality (bihuan/demo/generator.py), seeded: good ones start at
once and report fixed before the deadline (the office verifies a few days later), middling ones
report late, poor ones never answer (their reminders climb the escalation ladder to the office
leadership, and the re-check carries their items into the next year). Planted once per problem
list round: one department asks for an extension (延期), one item cannot be solved (无法解决, with a
policy explanation and an agreed alternative), one report is rejected at verification and fixed
again. `simulate` walks the working days, applying the actions due that day through the same
shell as `bihuan rectify`, then running the tracker and the dispatcher, so every reminder,
escalation and digest lands in var/outbox/.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bihuan.core.rectification import Action, Role
from bihuan.core.workdays import WorkCalendar
from bihuan.db import session_scope, table

COORDINATOR = "编办监督检查科"


@dataclass(frozen=True, order=True)
class Scripted:
    day: date
    item_id: int
    action: str
    role: str  # the capacity of the move (department / coordinator)
    actor: str  # who the script has acting, as the history would name them
    department: str = ""  # the item's department (its contact account makes department moves)
    reason: str = ""
    evidence: tuple[str, ...] = ()
    explanation: str = ""
    alternative: str = ""
    extend_by: int | None = None


@dataclass(frozen=True)
class IssuedItem:
    id: int
    department: str
    category: str
    issued_on: date
    deadline: date


@dataclass
class LoopStats:
    days: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    notices: int = 0
    digests: int = 0
    sent: int = 0
    failed: int = 0
    refused: list[str] = field(default_factory=list)


def temperament(quality: float, rng: random.Random) -> str:
    """How a department answers a problem list: on time, late, or never."""
    roll = rng.random()
    if quality < 0.15 or (quality < 0.4 and roll < 0.5):
        return "never"
    if quality < 0.6 and roll < 0.6:
        return "late"
    return "on_time" if roll < 0.9 else "late"


def script(
    items: Iterable[IssuedItem],
    quality: dict[str, float],
    cal: WorkCalendar,
    *,
    seed: int,
) -> list[Scripted]:
    """The scripted responses to one round of problem lists (pure, seeded)."""
    rng = random.Random(seed)
    out: list[Scripted] = []
    items = sorted(items, key=lambda i: (i.department, i.id))
    moods = {
        d: temperament(quality.get(d, 0.5), rng) for d in sorted({i.department for i in items})
    }
    planted = {"extension": False, "cannot_solve": False, "rejected": False}
    for item in items:
        mood = moods[item.department]
        contact = f"{item.department}联络人"
        if mood == "never":
            continue
        start = cal.add_workdays(item.issued_on, rng.randint(1, 3))
        out.append(
            Scripted(start, item.id, Action.START, Role.DEPARTMENT, contact, item.department)
        )
        if not planted["cannot_solve"] and item.category == "staffing":
            planted["cannot_solve"] = True
            ask = cal.add_workdays(start, 3)
            out.append(
                Scripted(
                    ask,
                    item.id,
                    Action.REQUEST_CANNOT_SOLVE,
                    Role.DEPARTMENT,
                    contact,
                    item.department,
                    explanation="该科室职能调整须待上级机构改革方案批复,县级无权先行调整。",
                    alternative="批复前由分管领导统筹,明确牵头科室和配合科室职责清单,按季度报编办备案。",
                )
            )
            out.append(
                Scripted(
                    cal.add_workdays(ask, 2),
                    item.id,
                    Action.APPROVE_CANNOT_SOLVE,
                    Role.COORDINATOR,
                    COORDINATOR,
                    reason="同意,按替代措施执行并纳入次年复查",
                )
            )
            continue
        deadline = item.deadline
        if not planted["extension"] and mood == "on_time":
            planted["extension"] = True
            out.append(
                Scripted(
                    cal.add_workdays(start, 1),
                    item.id,
                    Action.EXTEND,
                    Role.COORDINATOR,
                    COORDINATOR,
                    reason="部门申请:需跨年度预算调整,经审核同意延期10个工作日",
                    extend_by=10,
                )
            )
            deadline = cal.add_workdays(deadline, 10)
        offset = -rng.randint(1, 4) if mood == "on_time" else rng.randint(2, 8)
        fixed = max(cal.add_workdays(deadline, offset), cal.add_workdays(start, 1))
        evidence = (f"整改报告-{item.department}-{item.id}.pdf",)
        out.append(
            Scripted(
                fixed,
                item.id,
                Action.REPORT_FIXED,
                Role.DEPARTMENT,
                contact,
                item.department,
                evidence=evidence,
            )
        )
        check = cal.add_workdays(fixed, 2)
        if not planted["rejected"] and mood == "late":
            planted["rejected"] = True
            out.append(
                Scripted(
                    check,
                    item.id,
                    Action.VERIFY_REJECT,
                    Role.COORDINATOR,
                    COORDINATOR,
                    reason="佐证材料不足,未见制度文件正式印发,请补充后重新报送",
                )
            )
            again = cal.add_workdays(check, 3)
            out.append(
                Scripted(
                    again,
                    item.id,
                    Action.REPORT_FIXED,
                    Role.DEPARTMENT,
                    contact,
                    item.department,
                    evidence=(f"补充材料-{item.department}-{item.id}.pdf",),
                )
            )
            check = cal.add_workdays(again, 2)
        out.append(
            Scripted(
                check,
                item.id,
                Action.VERIFY_ACCEPT,
                Role.COORDINATOR,
                COORDINATOR,
                reason="经核查整改到位,予以销号",
            )
        )
    return sorted(out)


def issued_items(url: str, jurisdiction: str, issued_on: date) -> list[IssuedItem]:
    from models import Department, Finding, Jurisdiction, RectificationItem

    ri, f, d = table(RectificationItem), table(Finding), table(Department)
    j = table(Jurisdiction)
    with session_scope(url) as session:
        return [
            IssuedItem(row.id, row.code, row.category, row.issued_on, row.deadline)
            for row in session.execute(
                select(ri.c.id, d.c.code, f.c.category, ri.c.issued_on, ri.c.deadline)
                .join(f, f.c.id == ri.c.finding_id)
                .join(d, d.c.id == ri.c.department_id)
                .join(j, j.c.id == d.c.jurisdiction_id)
                .where(j.c.code == jurisdiction, ri.c.issued_on == issued_on)
            )
        ]


def simulate(
    ctx: Any,
    actions: list[Scripted],
    start: date,
    end: date,
    cal: WorkCalendar,
    stats: LoopStats,
    *,
    run_as: str,
    department_login: str | None = None,
    daily_until: date | None = None,
    every: int = 5,
) -> None:
    """Walk the working days from start to end: each day the departments' and the office's
    moves — a department's by its own contact account (`department_login`, e.g. "{code}lx",
    when it has one; else by the office user `run_as` on its behalf), the office's by `run_as`;
    the tracker and the dispatcher every working day until `daily_until`, then every
    `every`-th working day (the tracker is catch-up safe: a skipped day's steps fold into one
    notice per item). The demo does this to finish in two minutes; production runs it daily.
    The tracker and the dispatcher run as `run_as` (the office user), without Prefect."""
    from bihuan.services import identity, notifications, rectification, tracking
    from bihuan.services.uow import UnitOfWork
    from notifications.channels import Channels, demo_config
    from notifications.dispatcher import run_dispatch

    with UnitOfWork(ctx, readonly=True) as uow:
        office = identity.actor_for(uow, run_as)
        tags = notifications.recipient_tags(uow, office, ctx.jurisdiction)
        contacts = {}
        for a in actions:
            login = (department_login or "").format(code=a.department)
            if a.role == Role.DEPARTMENT and login and a.department not in contacts:
                known = uow.users.by_login(login) is not None
                contacts[a.department] = identity.actor_for(uow, login) if known else office
    # The demo's own local sink (var/outbox/), never the installation's apprise configuration:
    # the fake county's tags (d01, …) are every real county's tags too.
    channels = Channels(
        demo_config(tags, ctx.settings.outbox_dir), source="<the demo's local sink>", rate_limit=0
    )
    due: dict[date, list[Scripted]] = defaultdict(list)
    for a in actions:
        due[a.day].append(a)
    day = start
    sparse = 0
    while day <= end:
        if cal.is_workday(day):
            for a in due.pop(day, []):
                cmd = rectification.Act(
                    jurisdiction=ctx.jurisdiction,
                    item_id=a.item_id,
                    action=a.action,
                    reason=a.reason,
                    evidence_refs=a.evidence,
                    explanation=a.explanation,
                    alternative=a.alternative,
                    extend_by=a.extend_by,
                    capacity=Role(a.role),
                )
                try:
                    who = (
                        contacts.get(a.department, office) if a.role == Role.DEPARTMENT else office
                    )
                    with UnitOfWork(ctx) as uow:
                        rectification.act(uow, cmd, who, day)
                    stats.actions[str(a.action)] += 1
                except Exception as exc:  # a scripted move the state machine refuses is shown
                    stats.refused.append(f"{day} item {a.item_id} {a.action}: {exc}")
            if daily_until is not None and day > daily_until:
                sparse += 1
                if sparse % every:
                    day += timedelta(days=1)
                    continue
            stats.days += 1
            with UnitOfWork(ctx) as uow:
                summary = tracking.track(uow, office, ctx.jurisdiction, day)
            stats.notices += summary.notices
            stats.digests += summary.digests + summary.supplementary_digests
            report = run_dispatch(ctx, office, day, sender=channels)
            stats.sent += report.sent
            stats.failed += report.failed + report.dead
        else:
            # a response on a day off counts on the next working day
            moved = due.pop(day, [])
            if moved:
                due[cal.next_workday(day)].extend(moved)
        day += timedelta(days=1)
