"""The next-year re-check (次年复查) of last year's rectification items, and lapsed alternatives.

At the start of year Y, every rectification item of year Y-1 is decided by the pure table in
bihuan/core/recheck.py against year Y's results:

- indicator findings (履职指标未达标) look at Y's indicator with the same code: it passes when its
  score in the latest assessed phase of Y (year-end if assessed, else mid-year; read through the
  typed `Breakdown`) is at least ``findings.indicator_fail_below`` and it was submitted. Before
  Y's first assessment (the January run) there is no result, and a verified item stays closed
  on the strength of last year's verification;
- other categories (staffing, satisfaction, 12345 hotline, chain shortfalls, missing
  submissions) have no indicator: a verified item stays closed, and if the problem is back, Y's
  assessment raises it again as a new finding by the normal rules (config [findings]). Only the
  office's verification matters here: an item never verified is carried whatever its category;
- "cannot be solved" items (无法解决, with a policy explanation and an agreed alternative) are
  never reopened unless the alternative LAPSED: an office user recorded it with
  `mark_alternative_lapsed` (CLI ``bihuan alternative-lapsed ITEM --reason ... --as LOGIN``),
  which appends an ``alternative_lapsed`` row to the audit log for the item. The item row itself
  is untouched.

Carried (unfixed) and recurring items become a new Finding in year Y: category carried_over,
key ``carried:<Y-1>:<old key>``, title with its lineage, ``carried_from_id`` = last year's
finding, severity high, status proposed, phase mid-year, so it lands on Y's mid-year problem
list and counts in Y's score (``scoring.carried_penalty`` points off the ledger component per
carried item). A carried item is linked to its new finding by (department, key): two
departments may hold findings with the same key. Last year's rows are never rewritten: every
decision is an audit row of the acting user (action ``recheck:<Y>``, entity the old item); a
carried item also gets a history event (status unchanged) pointing at the new finding, so its
ledger reads to the end. Re-running creates nothing new: findings upsert on their natural key,
and an item that already has a ``recheck:<Y>`` audit row with the same outcome is not recorded
again. Run it in January (carries what was not fixed) and again after Y's mid-year assessment,
before the problem lists are issued (finds verified items whose indicator fails again);
re-assess the phase afterwards so the carried-item deduction is in the scores.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from pydantic import BaseModel

from bihuan.clock import utc_now
from bihuan.core import recheck as core
from bihuan.core.access import Actor, Permission, Target
from bihuan.errors import UserError
from bihuan.repositories.recheck import (
    ITEM,
    LAPSED,
    CarriedFinding,
    HistoryNote,
    PriorRow,
    recheck_action,
)
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import FindingCategory, RecheckOutcome, RectificationStatus

TITLE_MAX = 300  # models.loop.Finding.title
MEASURES = "上年度问题未整改到位,作为本年度监管评估重点内容,限期彻底整改。"


class RecheckDecisionRow(BaseModel):
    """What the re-check decided about one of last year's items."""

    item: int
    department: str
    category: FindingCategory
    category_label: str
    status: RectificationStatus  # last year's status, unchanged
    status_label: str
    outcome: RecheckOutcome
    outcome_label: str
    new_finding: int | None  # this year's carried finding, when carried
    reason: str


class RecheckResult(BaseModel):
    """`bihuan recheck --json`: the decisions on last year's items and what was stored."""

    jurisdiction: str
    year: int
    as_of: date
    prior_items: int = 0
    new_findings: int = 0  # carried findings created by this run
    recorded: int = 0  # decisions new to the audit log (a re-run records none)
    counts: dict[str, int] = {}  # outcome → items
    decisions: list[RecheckDecisionRow] = []


class AlternativeLapsed(BaseModel):
    """`bihuan alternative-lapsed`: whether the lapse was recorded now or was already."""

    item: int
    department: str
    recorded: bool
    reason: str


# ------------------------------------------------------------------ the re-check


def recheck(
    uow: UnitOfWork, jurisdiction: str, year: int, actor: Actor, as_of: date
) -> RecheckResult:
    """Re-check year-1's rectification items into `year` (office), in the unit of work."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id, what=f"the {year} re-check of {jurisdiction}"),
        action=f"re-check the {year - 1} items into {year}",
    )
    result = RecheckResult(jurisdiction=jurisdiction, year=year, as_of=as_of)
    priors = uow.recheck.prior_items(jur.id, year - 1)
    result.prior_items = len(priors)
    if not priors:
        return result
    cycle_id = uow.recheck.ensure_cycle(jur.id, year)
    results = core.indicator_results(
        ((b.phase_kind, b.breakdown) for b in uow.recheck.breakdowns(cycle_id)),
        uow.policy.findings.indicator_fail_below,
    )
    decisions = core.recheck([_prior_item(p, year - 1) for p in priors], results)
    by_id = {p.item_id: p for p in priors}
    new_ids, result.new_findings = _store_carried(uow, cycle_id, decisions, by_id)
    result.recorded = _record(uow, actor, jur.id, year, as_of, decisions, by_id, new_ids, results)
    result.counts = dict(sorted(Counter(d.outcome for d in decisions).items()))
    result.decisions = [_row(d, by_id[d.item_id], new_ids) for d in decisions]
    return result


def _prior_item(p: PriorRow, year: int) -> core.PriorItem:
    return core.PriorItem(
        item_id=p.item_id,
        year=year,
        finding_key=p.finding_key,
        department_code=p.department_code,
        status=p.status,
        title=p.title,
        indicator_code=p.indicator_code,
        alternative_valid=not p.lapsed,
    )


def _title(prior: PriorRow, decision: core.RecheckDecision) -> str:
    lead = "上年度问题复发" if decision.outcome == "recurring" else "上年度问题未整改到位"
    text = f"【{lead}】{prior.title}（{decision.lineage}，原整改事项{prior.item_id}）"
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


NewIds = dict[int, int]  # last year's item id → this year's carried finding id


def _store_carried(
    uow: UnitOfWork,
    cycle_id: int,
    decisions: list[core.RecheckDecision],
    by_id: dict[int, PriorRow],
) -> tuple[NewIds, int]:
    """Upsert a finding per carried item; its id per item, and how many are new."""
    carried = [
        (by_id[d.item_id], d, d.new_finding_key)
        for d in decisions
        if d.carried and d.new_finding_key
    ]
    if not carried:
        return {}, 0
    before = uow.recheck.count_findings(cycle_id)
    uow.recheck.add_carried_findings(
        [
            CarriedFinding(
                cycle_id=cycle_id,
                department_id=p.department_id,
                key=key,
                title=_title(p, d),
                evidence={
                    "lineage": d.lineage,
                    "prior_key": p.finding_key,
                    "prior_item_id": p.item_id,
                    "prior_status": p.status,
                    "outcome": d.outcome,
                    "reason": d.reason,
                    **({"indicator": p.indicator_code} if p.indicator_code else {}),
                    "measures": MEASURES,
                },
                carried_from_id=p.finding_id,
            )
            for p, d, key in carried
        ],
        at=utc_now(),
    )
    created = uow.recheck.count_findings(cycle_id) - before
    ids = uow.recheck.finding_ids(cycle_id, [key for _p, _d, key in carried])
    # by (department, key), never by key alone: two departments may share a finding key
    return {p.item_id: ids[(p.department_id, key)] for p, _d, key in carried}, created


def _record(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction_id: int,
    year: int,
    as_of: date,
    decisions: list[core.RecheckDecision],
    by_id: dict[int, PriorRow],
    new_ids: NewIds,
    results: dict[str, bool],
) -> int:
    """One audit row per item and outcome (a July run may find a verified item's indicator
    failing again where January had no data), and a history note on each newly carried item.
    Returns how many decisions were new."""
    done = uow.recheck.recorded_outcomes(jurisdiction_id, year)
    fresh = [d for d in decisions if (d.item_id, d.outcome) not in done]
    for d in fresh:
        p = by_id[d.item_id]
        uow.audit.record(
            actor,
            action=recheck_action(year),
            entity=ITEM,
            key=str(d.item_id),
            jurisdiction_id=jurisdiction_id,
            details={
                "outcome": d.outcome,
                "reason": d.reason,
                "finding_key": p.finding_key,
                "indicator": p.indicator_code,
                "indicator_passed": results.get(p.indicator_code) if p.indicator_code else None,
                "new_finding_id": new_ids.get(d.item_id),
                "as_of": as_of,
            },
        )
    carried = [d for d in fresh if d.carried]
    last_seq = uow.recheck.last_event_seq([d.item_id for d in carried])
    uow.recheck.add_notes(
        [
            HistoryNote(
                item_id=d.item_id,
                seq=last_seq.get(d.item_id, 0) + 1,
                status=by_id[d.item_id].status,
                actor=actor.login,
                on_date=as_of,
                reason=f"{year}年次年复查：{RecheckOutcome(d.outcome).label}，"
                f"纳入{year}年问题{new_ids.get(d.item_id)}（{d.reason}）",
            )
            for d in carried
        ],
        at=utc_now(),
    )
    return len(fresh)


def _row(d: core.RecheckDecision, p: PriorRow, new_ids: NewIds) -> RecheckDecisionRow:
    category, status, outcome = (
        FindingCategory(p.category),
        RectificationStatus(p.status),
        RecheckOutcome(d.outcome),
    )
    return RecheckDecisionRow(
        item=d.item_id,
        department=d.department_code,
        category=category,
        category_label=category.label,
        status=status,
        status_label=status.label,
        outcome=outcome,
        outcome_label=outcome.label,
        new_finding=new_ids.get(d.item_id),
        reason=d.reason,
    )


# ------------------------------------------------------------------ lapsed alternatives


def mark_alternative_lapsed(
    uow: UnitOfWork, item_id: int, reason: str, actor: Actor, as_of: date
) -> AlternativeLapsed:
    """Record that a cannot-solve item's agreed alternative (替代措施) lapsed (office); the
    next re-check then carries the item into the new year. Recording it twice records once."""
    item = uow.recheck.item_scope(item_id)
    if item is None:
        raise UserError(f"no rectification item {item_id}; see `bihuan rectifications`")
    require(
        uow,
        actor,
        Permission.DECIDE,
        Target(
            jurisdiction_id=item.jurisdiction_id,
            department_id=item.department_id,
            section=item.supervising_section,
            what=f"item {item_id} of {item.department_code}",
        ),
        action=f"record the agreed alternative of item {item_id} as lapsed",
    )
    if item.status != RectificationStatus.CANNOT_SOLVE.value:
        raise UserError(
            f"item {item_id} is {item.status}, not cannot_solve: only an agreed alternative of a "
            "cannot-be-solved item can lapse"
        )
    if len(reason.strip()) < 2:
        raise UserError("--reason: say why the agreed alternative no longer holds")
    out = AlternativeLapsed(
        item=item_id, department=item.department_code, recorded=False, reason=reason.strip()
    )
    if item_id in uow.recheck.lapsed_items(item.jurisdiction_id):
        return out
    uow.audit.record(
        actor,
        action=LAPSED,
        entity=ITEM,
        key=str(item_id),
        jurisdiction_id=item.jurisdiction_id,
        details={"reason": out.reason, "as_of": as_of},
    )
    out.recorded = True
    return out
