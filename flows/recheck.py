"""recheck: the next-year re-check (次年复查) of last year's rectification items.

At the start of year Y, every rectification item of year Y-1 is decided by the pure table in
bihuan/core/recheck.py against year Y's results:

- indicator findings (履职指标未达标) look at Y's indicator with the same code: it passes when its
  score in the latest assessed phase of Y (year-end if assessed, else mid-year; from
  DepartmentAssessment.breakdown['indicators']) is at least ``findings.indicator_fail_below``
  and it was submitted. Before Y's first assessment (the January run) there is no result, and a
  verified item stays closed on the strength of last year's verification;
- other categories (staffing, satisfaction, 12345 hotline, chain shortfalls, missing
  submissions) have no indicator: a verified item stays closed, and if the problem is back, Y's
  assessment raises it again as a new finding by the normal rules (config [findings]). Only the
  office's verification matters here: an item never verified is carried whatever its category;
- "cannot be solved" items (无法解决, with a policy explanation and an agreed alternative) are
  never reopened unless the alternative LAPSED. Lapsed means: a coordinator recorded it with
  ``mark_alternative_lapsed`` (CLI ``bihuan alternative-lapsed ITEM --reason ...``), which appends
  an ``alternative_lapsed`` row to the audit log for the item. The item row itself is untouched.

Carried (unfixed) and recurring items become a new Finding in year Y: category carried_over,
key ``carried:<Y-1>:<old key>``, title with its lineage, ``carried_from_id`` = last year's
finding, severity high, status proposed, phase mid-year, so it lands on Y's mid-year problem
list and counts in Y's score (``scoring.carried_penalty`` points off the ledger component per
carried item, see bihuan/core/scoring.py). Last year's rows are never rewritten: every decision
is an audit row (action ``recheck:<Y>``, entity the old item); a carried item also gets a
history event (status unchanged) pointing at the new finding, so its ledger reads to the end.
Re-running creates nothing new: findings upsert on their natural key, and an item that already
has a ``recheck:<Y>`` audit row with the same outcome is not recorded again. Run it in January
(carries what was not fixed) and again after Y's mid-year assessment, before the problem lists
are issued (finds verified items whose indicator fails again); re-assess the phase afterwards so
the carried-item deduction is in the scores (``bihuan assess`` is idempotent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlmodel import Session
from sqlmodel import select as sm_select

from bihuan.app import AppContext
from bihuan.core.recheck import OUTCOME_LABELS, PriorItem, RecheckDecision
from bihuan.core.recheck import recheck as decide_all
from bihuan.db import audit, get_jurisdiction, session_scope, table, upsert
from bihuan.errors import UserError
from bihuan.policy import Policy
from flows.common import artifact_key, flow_context, resolve_as_of
from models import (
    AuditLog,
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    FindingCategory,
    FindingStatus,
    Phase,
    PhaseKind,
    RectificationEvent,
    RectificationItem,
    Severity,
    utc_now,
)

ACTOR = "次年复查"
LAPSED = "alternative_lapsed"
TITLE_MAX = 300  # models.loop.Finding.title


@dataclass
class RecheckSummary:
    year: int
    as_of: date
    prior_items: int = 0
    new_findings: int = 0
    recorded: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Prior:
    """Last year's item with what the shell needs beyond the core's PriorItem."""

    item: PriorItem
    finding_id: int
    department_id: int
    category: str
    status: str


def recheck_action(year: int) -> str:
    return f"recheck:{year}"


# ------------------------------------------------------------------ loading


def get_or_create_cycle(session: Session, jurisdiction_id: int, year: int) -> Cycle:
    """Year Y's cycle; created if the January run comes before Y's ledger import (the importer
    finds it by the same natural key and fills it)."""
    cycle = session.exec(
        sm_select(Cycle).where(Cycle.jurisdiction_id == jurisdiction_id, Cycle.year == year)
    ).first()
    if cycle is not None:
        return cycle
    cycle = Cycle(jurisdiction_id=jurisdiction_id, year=year)
    session.add(cycle)
    session.flush()
    return cycle


def lapsed_items(session: Session, jurisdiction_id: int) -> set[int]:
    """Items whose agreed alternative a coordinator recorded as lapsed (audit rows)."""
    a = table(AuditLog)
    return {
        int(key)
        for key in session.execute(
            select(a.c.entity_key).where(
                a.c.jurisdiction_id == jurisdiction_id,
                a.c.action == LAPSED,
                a.c.entity == "rectificationitem",
            )
        ).scalars()
    }


def load_prior_items(session: Session, jurisdiction_id: int, prior_year: int) -> list[Prior]:
    """Year Y-1's rectification items with their findings, in one query."""
    ri, f, c, d = table(RectificationItem), table(Finding), table(Cycle), table(Department)
    lapsed = lapsed_items(session, jurisdiction_id)
    out = []
    for row in session.execute(
        select(
            ri.c.id,
            ri.c.status,
            ri.c.department_id,
            f.c.id.label("finding_id"),
            f.c.key,
            f.c.category,
            f.c.title,
            f.c.evidence,
            d.c.code,
        )
        .join(f, f.c.id == ri.c.finding_id)
        .join(c, c.c.id == f.c.cycle_id)
        .join(d, d.c.id == ri.c.department_id)
        .where(c.c.jurisdiction_id == jurisdiction_id, c.c.year == prior_year)
        .order_by(ri.c.id)
    ):
        evidence = row.evidence or {}
        indicator = evidence.get("indicator") if row.category == "indicator" else None
        out.append(
            Prior(
                item=PriorItem(
                    item_id=row.id,
                    year=prior_year,
                    finding_key=row.key,
                    department_code=row.code,
                    status=row.status,
                    title=row.title,
                    indicator_code=indicator,
                    alternative_valid=row.id not in lapsed,
                ),
                finding_id=row.finding_id,
                department_id=row.department_id,
                category=row.category,
                status=row.status,
            )
        )
    return out


def indicator_results(session: Session, cycle_id: int, fail_below: float) -> dict[str, bool]:
    """Indicator code → passed, from the latest assessed phase of the cycle (year-end first)."""
    ph, da = table(Phase), table(DepartmentAssessment)
    latest: dict[str, tuple[int, bool]] = {}
    order = {PhaseKind.MID_YEAR.value: 0, PhaseKind.YEAR_END.value: 1}
    for kind, breakdown in session.execute(
        select(ph.c.kind, da.c.breakdown)
        .join(da, da.c.phase_id == ph.c.id)
        .where(ph.c.cycle_id == cycle_id)
    ):
        rank = order.get(kind, 0)
        for ind in (breakdown or {}).get("indicators", []):
            passed = not ind.get("missing") and float(ind["score"]) >= fail_below
            seen = latest.get(ind["code"])
            if seen is None or rank >= seen[0]:
                latest[ind["code"]] = (rank, passed)
    return {code: passed for code, (_rank, passed) in latest.items()}


# ------------------------------------------------------------------ storing


def _title(prior: Prior, decision: RecheckDecision, year: int) -> str:
    lead = "上年度问题复发" if decision.outcome == "recurring" else "上年度问题未整改到位"
    text = f"【{lead}】{prior.item.title}（{decision.lineage}，原整改事项{prior.item.item_id}）"
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def apply_recheck(
    session: Session,
    ctx: AppContext,
    year: int,
    *,
    as_of: date,
    policy: Policy,
) -> RecheckSummary:
    """Decide and store the re-check of year-1's items into `year`, in the caller's transaction."""
    jur = get_jurisdiction(session, ctx.jurisdiction)
    if jur is None or jur.id is None:
        raise UserError(
            f"no jurisdiction {ctx.jurisdiction!r} in the database; load one with `bihuan import`"
        )
    summary = RecheckSummary(year=year, as_of=as_of)
    priors = load_prior_items(session, jur.id, year - 1)
    summary.prior_items = len(priors)
    if not priors:
        return summary
    cycle = get_or_create_cycle(session, jur.id, year)
    assert cycle.id is not None
    results = indicator_results(session, cycle.id, policy.findings.indicator_fail_below)
    decisions = decide_all([p.item for p in priors], results)
    by_id = {p.item.item_id: p for p in priors}

    carried = [(by_id[d.item_id], d) for d in decisions if d.carried]
    f = table(Finding)
    before = session.execute(
        select(func.count()).select_from(f).where(f.c.cycle_id == cycle.id)
    ).scalar_one()
    now = utc_now()
    upsert(
        session,
        Finding,
        [
            {
                "cycle_id": cycle.id,
                "phase_kind": PhaseKind.MID_YEAR.value,
                "department_id": p.department_id,
                "key": d.new_finding_key,
                "category": FindingCategory.CARRIED_OVER.value,
                "severity": Severity.HIGH.value,
                "source": "次年复查",
                "title": _title(p, d, year),
                "evidence": {
                    "lineage": d.lineage,
                    "prior_key": p.item.finding_key,
                    "prior_item_id": p.item.item_id,
                    "prior_status": p.status,
                    "outcome": d.outcome,
                    "reason": d.reason,
                    **({"indicator": p.item.indicator_code} if p.item.indicator_code else {}),
                    "measures": "上年度问题未整改到位,作为本年度监管评估重点内容,限期彻底整改。",
                },
                "status": FindingStatus.PROPOSED.value,
                "carried_from_id": p.finding_id,
                "created_at": now,
            }
            for p, d in carried
        ],
        keys=["cycle_id", "department_id", "key"],
    )
    after = session.execute(
        select(func.count()).select_from(f).where(f.c.cycle_id == cycle.id)
    ).scalar_one()
    summary.new_findings = after - before
    new_ids = dict(
        session.execute(
            select(f.c.key, f.c.id).where(
                f.c.cycle_id == cycle.id,
                f.c.key.in_([d.new_finding_key for _p, d in carried]),
            )
        ).all()
    )

    a = table(AuditLog)
    # one audit row per item and outcome: a run after this year's assessment may find that a
    # verified item's indicator fails again (recurring) where the January run had no data yet
    done = {
        (key, (details or {}).get("outcome"))
        for key, details in session.execute(
            select(a.c.entity_key, a.c.details).where(
                a.c.jurisdiction_id == jur.id,
                a.c.action == recheck_action(year),
                a.c.entity == "rectificationitem",
            )
        )
    }
    ev = table(RectificationEvent)
    last_seq = dict(
        session.execute(
            select(ev.c.item_id, func.max(ev.c.seq))
            .where(ev.c.item_id.in_([p.item.item_id for p, _d in carried]))
            .group_by(ev.c.item_id)
        ).all()
    )
    events = []
    for d in decisions:
        p = by_id[d.item_id]
        summary.counts[d.outcome] = summary.counts.get(d.outcome, 0) + 1
        new_id = new_ids.get(d.new_finding_key) if d.new_finding_key else None
        summary.decisions.append(
            {
                "item": d.item_id,
                "department": d.department_code,
                "category": p.category,
                "status": p.status,
                "outcome": d.outcome,
                "outcome_label": OUTCOME_LABELS[d.outcome],
                "new_finding": new_id,
                "reason": d.reason,
            }
        )
        if (str(d.item_id), d.outcome) in done:
            continue
        summary.recorded += 1
        audit(
            session,
            actor=ACTOR,
            action=recheck_action(year),
            entity="rectificationitem",
            entity_key=str(d.item_id),
            jurisdiction_id=jur.id,
            details={
                "outcome": d.outcome,
                "reason": d.reason,
                "finding_key": p.item.finding_key,
                "indicator": p.item.indicator_code,
                "indicator_passed": results.get(p.item.indicator_code)
                if p.item.indicator_code
                else None,
                "new_finding_id": new_id,
                "as_of": as_of,
            },
        )
        if d.carried:
            events.append(
                {
                    "item_id": d.item_id,
                    "seq": int(last_seq.get(d.item_id) or 0) + 1,
                    "from_status": p.status,
                    "to_status": p.status,
                    "actor": ACTOR,
                    "on_date": as_of,
                    "reason": f"{year}年次年复查：{OUTCOME_LABELS[d.outcome]}，"
                    f"纳入{year}年问题{new_id}（{d.reason}）",
                    "evidence": [],
                    "at": now,
                }
            )
    upsert(session, RectificationEvent, events, keys=["item_id", "seq"])
    return summary


def mark_alternative_lapsed(
    session: Session,
    ctx: AppContext,
    item_id: int,
    *,
    actor: str,
    reason: str,
    as_of: date,
) -> bool:
    """Record that a cannot-solve item's agreed alternative (替代措施) lapsed; False if already.

    The next re-check then carries the item into the new year.
    """
    jur = get_jurisdiction(session, ctx.jurisdiction)
    if jur is None or jur.id is None:
        raise UserError(f"no jurisdiction {ctx.jurisdiction!r} in the database")
    ri, d = table(RectificationItem), table(Department)
    row = session.execute(
        select(ri.c.id, ri.c.status)
        .join(d, d.c.id == ri.c.department_id)
        .where(ri.c.id == item_id, d.c.jurisdiction_id == jur.id)
    ).first()
    if row is None:
        raise UserError(f"no rectification item {item_id} in {ctx.jurisdiction!r}")
    if row.status != "cannot_solve":
        raise UserError(
            f"item {item_id} is {row.status}, not cannot_solve: only an agreed alternative of a "
            "cannot-be-solved item can lapse"
        )
    if len(reason.strip()) < 2:
        raise UserError("--reason: say why the agreed alternative no longer holds")
    if item_id in lapsed_items(session, jur.id):
        return False
    audit(
        session,
        actor=actor,
        action=LAPSED,
        entity="rectificationitem",
        entity_key=str(item_id),
        jurisdiction_id=jur.id,
        details={"reason": reason, "as_of": as_of},
    )
    return True


# ------------------------------------------------------------------ the flow


@task(name="recheck-items", cache_policy=NO_CACHE)
def recheck_task(year: int, as_of: date) -> RecheckSummary:
    ctx = flow_context()
    with session_scope(ctx.db_url) as session:
        return apply_recheck(session, ctx, year, as_of=as_of, policy=ctx.policy)


def _markdown(summary: RecheckSummary) -> str:
    lines = [
        f"# {summary.year}年次年复查 (re-check of {summary.year - 1} items)",
        "",
        f"- 复查日期 (as of): {summary.as_of}",
        f"- {summary.year - 1}年整改事项: {summary.prior_items} 项; 新增延续问题: "
        f"{summary.new_findings} 项",
    ]
    for outcome, n in sorted(summary.counts.items()):
        lines.append(f"- {OUTCOME_LABELS[outcome]}: {n} 项")
    return "\n".join(lines) + "\n"


@flow(name="recheck", flow_run_name="recheck-{year}")
def recheck(year: int, as_of: date | None = None) -> RecheckSummary:
    """Re-check last year's rectification items (次年复查): keep verified ones closed, carry what
    was not fixed (or came back) into this year's problem list, never reopen a cannot-solve item
    whose agreed alternative still holds."""
    day = resolve_as_of(as_of)
    summary = recheck_task(year, day)
    if summary.decisions:
        create_table_artifact(
            key=artifact_key("recheck", year),
            table=summary.decisions,
            description=f"{year}年次年复查 decisions on {summary.year - 1} rectification items",
        )
    create_markdown_artifact(
        key=artifact_key("recheck-summary", year),
        markdown=_markdown(summary),
        description=f"{year} re-check summary",
    )
    return summary
