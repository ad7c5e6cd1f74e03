"""Findings and problem lists (问题, 问题清单): raise them, approve and send them, list them.

Nothing reaches a department before an office (编办) user approves, for every department of
the phase at once or for the departments it names (the others' lists stay drafts). The
approval, in one transaction: the decision is checked (a deadline set by hand must be a working
day on or after the day of approval), the dropped findings are dropped with their reasons, the
others approved, each becomes a rectification item (整改事项) with a deadline in Chinese working
days counted from the day of approval (the issue date) and its first history event, every
decided department's problem list is rendered and written to the outbox (the dispatcher sends
it) and marked sent, and every drop, deadline change and the approval itself (naming the
departments decided) are in the audit log under the approving user.

`preview_problem_lists` renders the drafts exactly as they would be sent (the outbox message's
templates). `submit_approval` is the portal's door: when a paused issue-problem-lists run waits
for the decision (a real Prefect server), the decision resumes that run, with the signed-in
user as the approver, instead of being applied behind its back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from bihuan.core.access import (
    Actor,
    Permission,
    Target,
    listing,
    visible_department,
    visible_section,
)
from bihuan.core.findings import FindingDraft, derive_findings
from bihuan.core.links import absolute, item_path, problem_list_link, problem_list_path
from bihuan.core.outbox import NewMessage
from bihuan.core.problem_lists import (
    Decision,
    PlannedItem,
    Proposed,
    by_department,
    decision_problems,
    plan_items,
    reply_deadline,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.errors import NotFound, PermissionDenied, UserError
from bihuan.repositories.findings import FindingView, Notice, PhaseRef
from bihuan.services import identity
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import (
    FindingCategory,
    FindingStatus,
    NotificationKind,
    PhaseKind,
    ProblemListStatus,
    RectificationStatus,
    Severity,
)
from notifications.render import FindingLine, ProblemListContext, render, render_problem_list
from notifications.tags import contact_tags

# The findings shown in the approval form and its artifact; `bihuan findings` lists them all.
SHOWN = 300


# ------------------------------------------------------------------ typed results and commands


class FindingRow(BaseModel):
    """One finding, as `bihuan findings --json` and the portal show it."""

    id: int
    department: str
    department_name: str
    phase: PhaseKind
    phase_label: str
    key: str
    category: FindingCategory
    category_label: str
    severity: Severity
    severity_label: str
    source: str
    title: str
    status: FindingStatus
    status_label: str
    dropped_reason: str
    carried_from_id: int | None
    supervising_section: str
    evidence: dict[str, Any]


class RaiseResult(BaseModel):
    """What raising a phase's findings did, and what now awaits approval."""

    jurisdiction: str
    year: int
    phase: PhaseKind
    phase_label: str
    as_of: date
    office: str  # who signs the documents
    new_findings: int
    drafts: int  # draft problem lists (one per department with findings awaiting approval)
    pending: int  # findings awaiting approval
    shown: list[FindingRow]  # the first SHOWN of them, for the approval form


class DropFinding(BaseModel):
    finding_id: int = Field(description="Finding id (问题编号) as listed above")
    reason: str = Field(min_length=2, description="Why it is dropped (剔除理由)")


class DeadlineChange(BaseModel):
    finding_id: int = Field(description="Finding id (问题编号)")
    deadline: date = Field(description="New rectification deadline (整改期限)")


class ApprovalDecision(BaseModel):
    """The coordinator's decision on a phase's draft problem lists (问题清单审核): what the
    command line's options, the portal's form, the API's body and the Prefect form carry."""

    year: int = Field(ge=1900, le=2999, description="Cycle year (年度)")
    phase: PhaseKind = Field(description="mid-year (年中) or year-end (年底)")
    approve: bool = Field(default=True, description="Approve and send (同意下发); false: reject")
    departments: list[str] = Field(
        default_factory=list,
        description="Only these departments' lists (部门代码); empty: every department",
    )
    drop: list[DropFinding] = Field(default_factory=list, description="Findings to drop (剔除)")
    deadlines: list[DeadlineChange] = Field(
        default_factory=list, description="Deadlines to change (调整整改期限)"
    )


class ApproveLists(ApprovalDecision):
    """A decision for one jurisdiction: the use case's command."""

    jurisdiction: str


class ApprovalResult(BaseModel):
    jurisdiction: str
    year: int
    phase: PhaseKind
    phase_label: str
    as_of: date
    office: str
    approved: bool  # False: the coordinator rejected the drafts (nothing sent)
    approved_by: str  # the approving user's login
    approver_name: str
    pending: int  # findings that awaited approval
    approved_lists: int
    items_created: int
    dropped: int
    deadline_changes: int
    by_department: dict[str, int]  # department code -> items
    departments: list[str] = []  # the departments decided (every one with a draft when all)
    all_departments: bool = True  # the decision named no department: the whole phase
    still_pending: int = 0  # findings of other departments still awaiting approval


class PreviewLine(BaseModel):
    """One finding of a draft problem list, with the deadline it gets if approved as it is."""

    finding_id: int
    title: str
    category: FindingCategory
    category_label: str
    severity: Severity
    severity_label: str
    deadline: date
    supervising_section: str


class ListPreview(BaseModel):
    """A department's draft problem list as the department will receive it."""

    department: str
    department_name: str
    recipients: list[str]  # the apprise tags the list goes to
    findings: list[PreviewLine]
    reply_deadline: date
    subject: str
    html: str  # notifications/templates/problem_list.html
    text: str  # notifications/templates/problem_list.txt: the outbox message's body


class PhasePreview(BaseModel):
    """`bihuan problems preview --json`: the phase's drafts, rendered as of a day of approval."""

    jurisdiction: str
    year: int
    phase: PhaseKind
    phase_label: str
    as_of: date  # the day of approval the deadlines are counted from
    office: str
    pending: int  # findings awaiting approval in the whole phase
    drafts: int  # departments with findings awaiting approval
    lists: list[ListPreview]


class ApprovalOutcome(BaseModel):
    """What the portal's (and the API's) approval did: applied it, or resumed the paused
    issue-problem-lists run that waited for it (the run then applies it)."""

    resumed: bool
    flow_run_id: str | None = None
    approver: str
    result: ApprovalResult | None = None  # when applied here


class PendingPhase(BaseModel):
    """A phase whose findings await approval."""

    year: int
    phase: PhaseKind
    phase_label: str
    departments: int
    findings: int


class ApprovalRuns(Protocol):
    """The flow runs that wait for an approval (the Prefect adapter: flows/problems.py)."""

    def waiting(self, jurisdiction: str, year: int, phase: PhaseKind) -> str | None:
        """The id of the paused issue-problem-lists run of the phase, if one waits."""
        ...

    def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None:
        """Resume it with the form's input (the flow's ProblemListApproval)."""
        ...


class ProblemListRow(BaseModel):
    """One problem list, as `bihuan problems list --json` shows it."""

    department: str
    department_name: str
    phase: PhaseKind
    phase_label: str
    status: ProblemListStatus
    status_label: str
    issued_on: date | None
    approved_by: str
    findings: int
    items: int


# ------------------------------------------------------------------ raising findings


def raise_findings(
    uow: UnitOfWork, jurisdiction: str, year: int, phase: PhaseKind, actor: Actor, as_of: date
) -> RaiseResult:
    """The phase's findings by the rules of config [findings], each at most once (natural key),
    and a draft problem list per department with findings awaiting approval."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id),
        action=f"raise the {year} {phase.value} findings of {jurisdiction}",
    )
    ref = _phase(uow, jur.id, jurisdiction, year, phase)
    facts = uow.findings.facts(ref)
    if not facts:
        raise UserError(f"no scores for {year} {phase.value}; run `bihuan assess` first")
    skip = uow.findings.open_subjects(ref)
    office = uow.policy.office_name(jurisdiction)
    drafts: list[tuple[int, FindingDraft]] = [
        (dept_id, draft)
        for dept_id, fact in facts.items()
        for draft in derive_findings(
            fact,
            phase=phase.value,
            rules=uow.policy.findings,
            office=office,
            open_subjects=skip.get(dept_id, frozenset()),
        )
    ]
    new = uow.findings.add_findings(ref, drafts)
    lists = uow.findings.draft_lists(ref)
    pending = uow.findings.count_pending(ref)
    uow.audit.record(
        actor,
        action="findings_raised",
        entity="phase",
        key=f"{year}/{phase.value}",
        jurisdiction_id=jur.id,
        details={"new": new, "drafts": lists, "pending": pending, "as_of": as_of},
    )
    shown = uow.findings.views(
        cycle_id=ref.cycle_id, phase=phase, status=FindingStatus.PROPOSED, limit=SHOWN
    )
    return RaiseResult(
        jurisdiction=jurisdiction,
        year=year,
        phase=phase,
        phase_label=phase.label,
        as_of=as_of,
        office=office,
        new_findings=new,
        drafts=lists,
        pending=pending,
        shown=[_row(uow, v) for v in shown],
    )


def approval_request(raised: RaiseResult, problem: str = "") -> str:
    """The approval form's description (markdown): the findings awaiting approval, and what was
    wrong with the last submission, if anything."""
    return render(
        "approval_request.md",
        {
            "year": raised.year,
            "phase": raised.phase,
            "total": raised.pending,
            "findings": raised.shown,
            "office": raised.office,
            "problem": problem,
        },
    )


def approval_report(result: ApprovalResult) -> str:
    """What an approval did (markdown), for the flow run's artifact."""
    return render("problem_lists_issued.md", result.model_dump())


# ------------------------------------------------------------------ reading findings


def list_findings(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int,
    phase: PhaseKind | None = None,
    department: str | None = None,
    *,
    status: FindingStatus | None = None,
) -> list[FindingRow]:
    """A year's findings; a department user sees only its own, a section user those its
    section supervises."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    dept_id = uow.departments.require_code(jur.id, department).id if department else None
    own = visible_department(actor)
    target = (
        Target(jurisdiction_id=jur.id, department_id=dept_id, what=f"the findings of {department}")
        if dept_id is not None and own is not None
        else listing(jur.id)
    )
    require(
        uow,
        actor,
        Permission.READ_CYCLE,
        target,
        action=f"list the {year} findings" + (f" of {department}" if department else ""),
    )
    cycle_id = uow.findings.cycle_id(jur.id, year)
    if cycle_id is None:
        raise UserError(
            f"no {year} cycle for {jurisdiction!r}; import its ledger with "
            f"`bihuan import PATH --year {year}`"
        )
    section = visible_section(actor)
    views = uow.findings.views(
        cycle_id=cycle_id,
        phase=phase,
        status=status,
        department_id=own if own is not None else dept_id,
        section=section,
        section_categories=_categories_of(uow, section),
    )
    return [_row(uow, v) for v in views]


def pending_findings(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int, phase: PhaseKind
) -> list[FindingRow]:
    """The phase's findings awaiting approval (as the actor may see them)."""
    return list_findings(uow, actor, jurisdiction, year, phase, status=FindingStatus.PROPOSED)


def list_problem_lists(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int, phase: PhaseKind | None = None
) -> list[ProblemListRow]:
    """A year's problem lists and their approval state; a department user sees only its own,
    a section user those holding a finding its section supervises."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow, actor, Permission.READ_CYCLE, listing(jur.id), action=f"list the {year} problem lists"
    )
    cycle_id = uow.findings.cycle_id(jur.id, year)
    if cycle_id is None:
        return []
    section = visible_section(actor)
    return [
        ProblemListRow(
            department=v.department,
            department_name=v.department_name,
            phase=v.phase,
            phase_label=v.phase.label,
            status=v.status,
            status_label=v.status.label,
            issued_on=v.issued_on,
            approved_by=v.approved_by,
            findings=v.findings,
            items=v.items,
        )
        for v in uow.findings.lists(
            cycle_id=cycle_id,
            phase=phase,
            department_id=visible_department(actor),
            section=section,
            section_categories=_categories_of(uow, section),
        )
    ]


# ------------------------------------------------------------------ issued lists, as documents


class ProblemListLine(ProblemListRow):
    """A problem list in the portal's index: its year and, once issued, its page."""

    year: int
    path: str  # "" for a list not issued (a draft has no page of its own here)


class ProblemListIndex(BaseModel):
    """The problem lists of one year the user may see, and the years that have lists."""

    years: list[int]
    year: int | None
    rows: list[ProblemListLine]


class ListedFinding(BaseModel):
    """One problem of an issued list, with its rectification item as it stands today."""

    number: int  # 问题编号: its item's id (事项编号), as the list sent to the department says
    item_id: int | None
    path: str  # the item's page ("" without an item)
    title: str
    category: FindingCategory
    category_label: str
    severity: Severity
    severity_label: str
    section: str
    deadline: date | None  # the item's current deadline (extensions included)
    status: RectificationStatus | None
    status_label: str


class ProblemListDocument(BaseModel):
    """An issued problem list (问题清单) of one department and phase."""

    jurisdiction: str
    department: str
    department_name: str
    year: int
    phase: PhaseKind
    phase_label: str
    status: ProblemListStatus
    status_label: str
    issued_on: date
    approved_by: str
    office: str
    reply_deadline: date
    path: str
    link: str  # on BIHUAN_BASE_URL, "" when the installation has no address
    findings: list[ListedFinding]


def problem_list_index(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int | None = None
) -> ProblemListIndex:
    """The problem lists of `year` (default: the newest with lists) this user may see: a
    department user its own issued lists, a section user those holding an item it
    supervises, the other roles every list and its state."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action="list problem lists")
    years = uow.findings.list_years(jur.id)
    chosen = year if year is not None else (years[0] if years else None)
    rows = list_problem_lists(uow, actor, jurisdiction, chosen) if chosen is not None else []
    if visible_department(actor) is not None:
        rows = [r for r in rows if r.status is ProblemListStatus.SENT]
    return ProblemListIndex(
        years=years,
        year=chosen,
        rows=[
            ProblemListLine(
                **r.model_dump(),
                year=chosen or 0,
                path=problem_list_path(chosen or 0, r.phase.value, r.department)
                if r.status is ProblemListStatus.SENT
                else "",
            )
            for r in rows
        ],
    )


def problem_list_document(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int,
    phase: PhaseKind | str,
    department: str,
) -> ProblemListDocument:
    """One department's issued problem list of a year and phase, with each problem's item.
    A list that was not issued, does not exist, or is not the user's is NotFound alike (a
    section user's lists are those holding an item it supervises)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    what = f"read the {year} {phase} problem list of {department}"
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action=what)
    try:
        kind = PhaseKind(phase)
    except ValueError:
        raise NotFound(f"no phase {phase!r}; use mid-year or year-end") from None
    dept = uow.departments.require_code(jur.id, department)
    assert dept.id is not None
    if visible_department(actor) is not None:
        require(
            uow,
            actor,
            Permission.READ_CYCLE,
            Target(jurisdiction_id=jur.id, department_id=dept.id, what=f"department {department}"),
            action=what,
        )
    cycle_id = uow.findings.cycle_id(jur.id, year)
    section = visible_section(actor)
    lists = (
        uow.findings.lists(
            cycle_id=cycle_id,
            phase=kind,
            department_id=dept.id,
            section=section,
            section_categories=_categories_of(uow, section),
        )
        if cycle_id is not None
        else []
    )
    issued = [x for x in lists if x.status is ProblemListStatus.SENT and x.issued_on]
    if cycle_id is None or not issued:
        raise NotFound(f"no issued {year} {kind.value} problem list of {department}")
    the_list = issued[0]
    assert the_list.issued_on is not None
    items = {
        v.finding_id: v
        for v in uow.rectification.views(jur.id, department_id=dept.id, year=year, phase=kind.value)
    }
    findings = []
    for f in uow.findings.views(
        cycle_id=cycle_id, phase=kind, status=FindingStatus.APPROVED, department_id=dept.id
    ):
        item = items.get(f.id)
        status = RectificationStatus(item.status) if item else None
        findings.append(
            ListedFinding(
                number=item.id if item else f.id,
                item_id=item.id if item else None,
                path=item_path(item.id) if item else "",
                title=f.title,
                category=f.category,
                category_label=f.category.label,
                severity=f.severity,
                severity_label=f.severity.label,
                section=item.supervising_section if item else _row(uow, f).supervising_section,
                deadline=item.deadline if item else None,
                status=status,
                status_label=status.label if status else "",
            )
        )
    deadlines = [f.deadline for f in findings if f.deadline is not None]
    path = problem_list_path(year, kind.value, dept.code)
    return ProblemListDocument(
        jurisdiction=jurisdiction,
        department=dept.code,
        department_name=dept.name,
        year=year,
        phase=kind,
        phase_label=kind.label,
        status=the_list.status,
        status_label=the_list.status.label,
        issued_on=the_list.issued_on,
        approved_by=the_list.approved_by,
        office=uow.policy.office_name(jurisdiction),
        reply_deadline=max(deadlines, default=the_list.issued_on),
        path=path,
        link=absolute(uow.settings.base_url, path),
        findings=findings,
    )


def document_html(doc: ProblemListDocument) -> tuple[str, str]:
    """(subject, HTML) of an issued list as the department received it (the documents'
    template), with today's deadlines; pure."""
    subject, html, _text = render_problem_list(
        ProblemListContext(
            department=doc.department_name,
            year=doc.year,
            phase=doc.phase,
            findings=[
                FindingLine(
                    title=f.title,
                    category=f.category,
                    severity=f.severity,
                    evidence=f"问题编号 {f.number}",
                    deadline=f.deadline or doc.issued_on,
                    section=f.section,
                )
                for f in doc.findings
            ],
            reply_deadline=doc.reply_deadline,
            issued_on=doc.issued_on,
            office=doc.office,
            link=doc.link,
        )
    )
    return subject, html


# ------------------------------------------------------------------ approving


def approver(uow: UnitOfWork, login: str, jurisdiction: str) -> Actor:
    """The user named as approver where no password is asked (the Prefect approval form, a
    scripted run's `auto_approve`): an existing, active office (编办) user of the jurisdiction.
    Anything else is refused, and the refusal recorded."""
    jur = uow.jurisdictions.require(jurisdiction)
    action = f"approve the problem lists of {jurisdiction}"
    user = uow.users.by_login(login)
    if user is None or not user.active:
        reason = "there is no user with this login" if user is None else "the account is disabled"
        raise PermissionDenied(
            f"approver {login!r} may not {action}: {reason}; name the login of an active "
            "office (编办) user (see `bihuan users list`)",
            user_id=user.id if user else None,
            login=login,
            action=action,
            reason=reason,
            jurisdiction_id=jur.id,
        )
    actor = identity.actor_for(uow, login)
    require(uow, actor, Permission.APPROVE_LISTS, Target(jurisdiction_id=jur.id), action=action)
    return actor


def approve_problem_lists(
    uow: UnitOfWork, cmd: ApproveLists, actor: Actor, as_of: date
) -> ApprovalResult:
    """Approve (or reject) the phase's draft problem lists, or those of `cmd.departments`, in
    the steps the module docstring names; `as_of` is the day of approval (the issue date the
    deadlines are counted from). An invalid decision changes nothing."""
    ref, calendar = _approving(uow, cmd, actor)
    chosen = _chosen(uow, cmd, ref, as_of, calendar)
    result = _result(uow, cmd, actor, as_of, chosen)
    if not cmd.approve:
        _audit_phase(
            uow,
            actor,
            ref,
            "problem_lists_rejected",
            {"pending": len(chosen.pending), **chosen.audit()},
        )
        return result
    _drop(uow, actor, ref, chosen.decision)
    kept = [p for p in chosen.pending if p.id not in chosen.decision.drops]
    planned = plan_items(
        kept,
        as_of=as_of,
        overrides=chosen.decision.deadlines,
        days=uow.policy.deadlines,
        sections=uow.policy.findings.sections,
        calendar=calendar,
    )
    _approve(uow, actor, ref, planned)
    created = uow.findings.create_items(planned, actor=actor.display_name, as_of=as_of)
    groups = by_department(planned)
    workbooks = {} if uow.settings.base_url else _answer_workbooks(uow, cmd, actor, groups)
    uow.notifications.add_all(
        NewMessage(
            jurisdiction_id=ref.jurisdiction_id,
            key=n.key,
            department_id=n.department_id,
            recipient_tag=n.recipient_tag,
            kind=n.kind,
            subject=n.subject,
            body=n.body,
            business_date=as_of,
            attachment=workbooks.get(n.department_id, ""),
        )
        for n in _problem_list_notices(
            cmd,
            groups,
            result.office,
            as_of,
            base_url=uow.settings.base_url,
            numbers=uow.findings.item_numbers([p.finding.id for p in planned]),
            attached=bool(workbooks),
        )
    )
    uow.findings.mark_lists(
        ref,
        sent=list(groups),
        approver=actor.login,
        as_of=as_of,
        decided=None if chosen.everything else sorted(chosen.department_ids),
    )
    _audit_phase(
        uow,
        actor,
        ref,
        "problem_lists_approved",
        {
            "lists": len(groups),
            "items": created,
            "dropped": len(chosen.decision.drops),
            **chosen.audit(),
        },
    )
    return result.model_copy(
        update={
            "approved_lists": len(groups),
            "items_created": created,
            "dropped": len(chosen.decision.drops),
            "deadline_changes": sum(1 for p in planned if p.deadline_changed),
            "by_department": {items[0].finding.department: len(items) for items in groups.values()},
        }
    )


def submit_approval(
    uow: UnitOfWork,
    cmd: ApproveLists,
    actor: Actor,
    as_of: date,
    runs: ApprovalRuns | None,
) -> ApprovalOutcome:
    """The portal's approval: when a paused issue-problem-lists run of the phase waits for the
    decision, check the decision as the approval would and resume that run with it, the actor
    as the approver (the run applies it, and its audit rows name the actor); otherwise apply
    it here. `runs` is None where no Prefect server is configured (no run can wait)."""
    ref, calendar = _approving(uow, cmd, actor)  # refused before any flow run is looked up
    run_id = runs.waiting(cmd.jurisdiction, cmd.year, cmd.phase) if runs is not None else None
    if run_id is None:
        result = approve_problem_lists(uow, cmd, actor, as_of)
        return ApprovalOutcome(resumed=False, approver=actor.login, result=result)
    chosen = _chosen(uow, cmd, ref, as_of, calendar)
    runs.resume(run_id, run_input(cmd, actor.login, as_of))  # type: ignore[union-attr]
    _audit_phase(
        uow,
        actor,
        ref,
        "problem_lists_approval_resumed",
        {"flow_run_id": run_id, "approve": cmd.approve, **chosen.audit()},
    )
    return ApprovalOutcome(resumed=True, flow_run_id=run_id, approver=actor.login)


def run_input(cmd: ApprovalDecision, approver: str, approved_on: date) -> dict[str, Any]:
    """The approval form's input (flows/problems.py ProblemListApproval) for a decision."""
    return {
        "approver": approver,
        "approve": cmd.approve,
        "departments": list(cmd.departments),
        "drop": [d.model_dump(mode="json") for d in cmd.drop],
        "deadlines": [d.model_dump(mode="json") for d in cmd.deadlines],
        "approved_on": approved_on.isoformat(),
    }


class _Chosen:
    """The part of a phase a decision is about: its departments' pending findings."""

    def __init__(
        self,
        pending: list[Proposed],
        elsewhere: list[Proposed],
        decision: Decision,
        everything: bool,
    ) -> None:
        self.pending = pending
        self.elsewhere = elsewhere
        self.decision = decision
        self.everything = everything
        self.department_ids = {p.department_id for p in pending}
        self.codes = sorted({p.department for p in pending})

    def audit(self) -> dict[str, Any]:
        """Which departments the decision was about, for its audit row."""
        return {
            "departments": self.codes,
            "all": self.everything,
            "still_pending": len(self.elsewhere),
        }


def _approving(uow: UnitOfWork, cmd: ApproveLists, actor: Actor) -> tuple[PhaseRef, WorkCalendar]:
    jur = uow.jurisdictions.require(cmd.jurisdiction)
    assert jur.id is not None
    which = f" of {', '.join(cmd.departments)}" if cmd.departments else ""
    require(
        uow,
        actor,
        Permission.APPROVE_LISTS,
        Target(jurisdiction_id=jur.id, what=f"the {cmd.year} {cmd.phase.value} problem lists"),
        action=f"approve the {cmd.year} {cmd.phase.value} problem lists{which} of "
        f"{cmd.jurisdiction}",
    )
    ref = _phase(uow, jur.id, cmd.jurisdiction, cmd.year, cmd.phase)
    return ref, WorkCalendar.from_policy(uow.policy.calendar)


def _chosen(
    uow: UnitOfWork, cmd: ApproveLists, ref: PhaseRef, as_of: date, calendar: WorkCalendar
) -> _Chosen:
    """The findings the decision is about, the decision checked against them."""
    everything = not cmd.departments
    all_pending = uow.findings.proposed(ref)
    if not all_pending:
        raise UserError(
            f"nothing awaits approval in {cmd.year} {cmd.phase.value}; see "
            f"`bihuan problems list --year {cmd.year}`"
        )
    wanted = set(cmd.departments)
    drafts = sorted({p.department for p in all_pending})
    missing = sorted(wanted - set(drafts))
    if missing:
        raise UserError(
            f"the {cmd.year} {cmd.phase.value} approval was not applied: "
            + ", ".join(missing)
            + f" {'has' if len(missing) == 1 else 'have'} no draft problem list awaiting "
            f"approval (drafts: {', '.join(drafts)}); see `bihuan problems list --year {cmd.year}`"
        )
    pending = [p for p in all_pending if everything or p.department in wanted]
    elsewhere = [p for p in all_pending if not (everything or p.department in wanted)]
    decision = Decision(
        drops={d.finding_id: d.reason for d in cmd.drop},
        deadlines={d.finding_id: d.deadline for d in cmd.deadlines},
    )
    problems = decision_problems(
        (p.id for p in pending),
        decision,
        as_of,
        calendar=calendar,
        elsewhere={p.id: p.department for p in elsewhere},
    )
    if problems:
        raise UserError(
            f"the {cmd.year} {cmd.phase.value} approval was not applied:\n"
            + "\n".join(f"  {p}" for p in problems)
            + f"\nsee `bihuan findings --year {cmd.year} --phase {cmd.phase.value}`",
            zh="本次审核未执行：" + "；".join(p.zh for p in problems) + "。",
        )
    return _Chosen(pending, elsewhere, decision, everything)


def _drop(uow: UnitOfWork, actor: Actor, ref: PhaseRef, decision: Decision) -> None:
    uow.findings.drop(dict(decision.drops))
    for fid, reason in sorted(decision.drops.items()):
        uow.audit.record(
            actor,
            action="finding_dropped",
            entity="finding",
            key=str(fid),
            jurisdiction_id=ref.jurisdiction_id,
            details={"reason": reason},
        )


def _approve(uow: UnitOfWork, actor: Actor, ref: PhaseRef, planned: list[PlannedItem]) -> None:
    uow.findings.approve([p.finding.id for p in planned])
    for p in planned:
        if p.deadline_changed:
            uow.audit.record(
                actor,
                action="deadline_changed",
                entity="finding",
                key=str(p.finding.id),
                jurisdiction_id=ref.jurisdiction_id,
                details={"deadline": p.deadline},
            )


def _render_list(
    year: int,
    phase: PhaseKind,
    items: list[PlannedItem],
    office: str,
    as_of: date,
    *,
    link: str = "",
    numbers: dict[int, int] | None = None,
    attached: bool = False,
) -> tuple[str, str, str]:
    """One department's problem list: (subject, html, text), the text being the message (with
    the list's page in the portal, `link`, when the installation has an address). Each
    problem carries its number (问题编号): its rectification item's id once issued
    (`numbers`, finding id -> item id), which is the finding's own id unless an older
    installation's item held it already; the finding's id in a preview."""
    numbers = numbers or {}
    return render_problem_list(
        ProblemListContext(
            department=items[0].finding.department_name,
            year=year,
            phase=phase,
            findings=[
                FindingLine(
                    title=i.finding.title,
                    category=i.finding.category,
                    severity=i.finding.severity,
                    evidence=f"问题编号 {numbers.get(i.finding.id, i.finding.id)}",
                    deadline=i.deadline,
                    section=i.section.name,
                    provisional=i.provisional,
                )
                for i in items
            ],
            reply_deadline=reply_deadline(items),
            issued_on=as_of,
            office=office,
            link=link,
            attached=attached,
        )
    )


ATTACHMENTS = "attachments"  # under var/: files sent with messages


def _answer_workbooks(
    uow: UnitOfWork, cmd: ApproveLists, actor: Actor, groups: dict[int, list[PlannedItem]]
) -> dict[int, str]:
    """Without a portal address (BIHUAN_BASE_URL) the problem list carries the way to answer:
    each decided department's rectification workbook (整改台账) of all its open items, filled
    in as `bihuan rectify export` writes it, under var/attachments/; department id -> its
    path relative to var/. Written again, identically, when the approval is re-run."""
    from bihuan.rectify_excel import write_workbooks  # the Excel adapter; openpyxl is heavy
    from bihuan.services.rectification import ItemRow, export_rows

    var_dir = uow.settings.var_dir
    # one query for every department's open items (in each department's export order), not
    # one per department
    by_code: dict[str, list[ItemRow]] = defaultdict(list)
    for row in export_rows(uow, actor, cmd.jurisdiction):
        by_code[row.department].append(row)
    out: dict[int, str] = {}
    for dept_id, items in groups.items():
        code = items[0].finding.department
        rows = by_code.get(code, [])
        folder = (
            Path(ATTACHMENTS)
            / f"problem-list-{cmd.jurisdiction}-{cmd.year}-{cmd.phase.value}-{code}"
        )
        # one department's rows: one workbook (none when every item awaits the office)
        for path in write_workbooks(rows, var_dir / folder):
            out[dept_id] = str(path.relative_to(var_dir))
    return out


def _problem_list_notices(
    cmd: ApproveLists,
    groups: dict[int, list[PlannedItem]],
    office: str,
    as_of: date,
    *,
    base_url: str = "",
    numbers: dict[int, int] | None = None,
    attached: bool = False,
) -> list[Notice]:
    """Each department's problem list, rendered, for each of its contact tags, with a link to
    its page in the portal when the installation has an address (BIHUAN_BASE_URL)."""
    out: list[Notice] = []
    for dept_id, items in groups.items():
        first = items[0].finding
        subject, _html, text = _render_list(
            cmd.year,
            cmd.phase,
            items,
            office,
            as_of,
            link=problem_list_link(base_url, cmd.year, cmd.phase.value, first.department),
            numbers=numbers,
            attached=attached,
        )
        out += [
            Notice(
                key=f"problem-list:{cmd.jurisdiction}:{cmd.year}:{cmd.phase.value}:"
                f"{first.department}:{tag}",
                department_id=dept_id,
                recipient_tag=tag,
                kind=NotificationKind.PROBLEM_LIST.value,
                subject=subject,
                body=text,
            )
            for tag in contact_tags(first.department, first.notify_tags)
        ]
    return out


# ------------------------------------------------------------------ the preview


def awaiting_approval(uow: UnitOfWork, actor: Actor, jurisdiction: str) -> list[PendingPhase]:
    """The phases with draft problem lists awaiting approval, the latest first."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.APPROVE_LISTS,
        Target(jurisdiction_id=jur.id, what="the draft problem lists"),
        action="list the problem lists awaiting approval",
    )
    return [
        PendingPhase(year=year, phase=kind, phase_label=kind.label, departments=depts, findings=n)
        for year, kind, depts, n in uow.findings.pending_phases(jur.id)
    ]


def preview_problem_lists(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    as_of: date,
    departments: Sequence[str] = (),
) -> PhasePreview:
    """The phase's draft problem lists (or those of `departments`) rendered exactly as they
    would be sent if approved on `as_of` without changes: each finding with the deadline it
    would get, the subject, and the message's HTML and text. Changes nothing."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.APPROVE_LISTS,
        Target(jurisdiction_id=jur.id, what=f"the {year} {phase.value} draft problem lists"),
        action=f"preview the {year} {phase.value} problem lists",
    )
    ref = _phase(uow, jur.id, jurisdiction, year, phase)
    pending = uow.findings.proposed(ref)
    wanted = set(departments)
    missing = sorted(wanted - {p.department for p in pending})
    if missing:
        uow.departments.require_code(jur.id, missing[0])  # an unknown code says so
        raise NotFound(
            f"department {missing[0]} has no draft {year} {phase.value} problem list; see "
            f"`bihuan problems list --year {year}`"
        )
    planned = plan_items(
        [p for p in pending if not wanted or p.department in wanted],
        as_of=as_of,
        overrides={},
        days=uow.policy.deadlines,
        sections=uow.policy.findings.sections,
        calendar=WorkCalendar.from_policy(uow.policy.calendar),
    )
    office = uow.policy.office_name(jurisdiction)
    lists = []
    for items in by_department(planned).values():
        first = items[0].finding
        # as the approval will send it: the portal's link, or the workbook attached
        base_url = uow.settings.base_url
        subject, html, text = _render_list(
            year,
            phase,
            items,
            office,
            as_of,
            link=problem_list_link(base_url, year, phase.value, first.department),
            attached=not base_url,
        )
        lists.append(
            ListPreview(
                department=first.department,
                department_name=first.department_name,
                recipients=contact_tags(first.department, first.notify_tags),
                findings=[
                    PreviewLine(
                        finding_id=i.finding.id,
                        title=i.finding.title,
                        category=i.finding.category,
                        category_label=i.finding.category.label,
                        severity=i.finding.severity,
                        severity_label=i.finding.severity.label,
                        deadline=i.deadline,
                        supervising_section=i.section.name,
                    )
                    for i in items
                ],
                reply_deadline=reply_deadline(items),
                subject=subject,
                html=html,
                text=text,
            )
        )
    return PhasePreview(
        jurisdiction=jurisdiction,
        year=year,
        phase=phase,
        phase_label=phase.label,
        as_of=as_of,
        office=office,
        pending=len(pending),
        drafts=len({p.department for p in pending}),
        lists=lists,
    )


# ------------------------------------------------------------------ helpers


def _phase(
    uow: UnitOfWork, jurisdiction_id: int, code: str, year: int, kind: PhaseKind
) -> PhaseRef:
    ref = uow.findings.phase(jurisdiction_id, year, kind)
    if ref is None:
        raise UserError(
            f"no {year} {kind.value} phase for {code!r}: import the {year} ledger "
            f"(`bihuan import PATH --year {year}`) and run `bihuan assess` first"
        )
    return ref


def _result(
    uow: UnitOfWork, cmd: ApproveLists, actor: Actor, as_of: date, chosen: _Chosen
) -> ApprovalResult:
    return ApprovalResult(
        jurisdiction=cmd.jurisdiction,
        year=cmd.year,
        phase=cmd.phase,
        phase_label=cmd.phase.label,
        as_of=as_of,
        office=uow.policy.office_name(cmd.jurisdiction),
        approved=cmd.approve,
        approved_by=actor.login,
        approver_name=actor.display_name,
        pending=len(chosen.pending),
        approved_lists=0,
        items_created=0,
        dropped=0,
        deadline_changes=0,
        by_department={},
        departments=chosen.codes,
        all_departments=chosen.everything,
        still_pending=len(chosen.elsewhere),
    )


def _audit_phase(
    uow: UnitOfWork, actor: Actor, ref: PhaseRef, action: str, details: dict[str, Any]
) -> None:
    uow.audit.record(
        actor,
        action=action,
        entity="phase",
        key=f"{ref.year}/{ref.kind.value}",
        jurisdiction_id=ref.jurisdiction_id,
        details=details,
    )


def _categories_of(uow: UnitOfWork, section: str | None) -> list[str]:
    """The finding categories a supervising section (督促科室) is configured for."""
    if section is None:
        return []
    return [cat for cat, s in uow.policy.findings.sections.items() if s.name == section]


def _row(uow: UnitOfWork, v: FindingView) -> FindingRow:
    section = v.item_section or uow.policy.findings.sections[v.category.value].name
    return FindingRow(
        id=v.id,
        department=v.department,
        department_name=v.department_name,
        phase=v.phase,
        phase_label=v.phase.label,
        key=v.key,
        category=v.category,
        category_label=v.category.label,
        severity=v.severity,
        severity_label=v.severity.label,
        source=v.source,
        title=v.title,
        status=v.status,
        status_label=v.status.label,
        dropped_reason=v.dropped_reason,
        carried_from_id=v.carried_from_id,
        supervising_section=section,
        evidence=v.evidence,
    )
