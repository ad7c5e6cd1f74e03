"""Corrections after issue (更正): the office amends or withdraws a finding already sent.

A finding on an issued problem list may turn out wrong (a figure misread, a department that
was not responsible). The office (编办) alone may correct it, with a reason, in one
transaction: the finding's text (修改问题) or its withdrawal (撤销问题), its rectification item
(the amended deadline, a working day; or closed as withdrawn, 已撤销), a history event on the
item, an audit row under the acting user, and a correction notice (更正通知) to the department's
contacts through the outbox. The notice's key is the item's history event, so re-running a
correction that is already in place changes nothing and sends nothing twice.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from bihuan.core.access import Actor, Permission, Target
from bihuan.core.links import item_link
from bihuan.core.outbox import NewMessage
from bihuan.core.rectification import Transition, amend, withdraw
from bihuan.core.workdays import WorkCalendar
from bihuan.errors import NotFound, UserError
from bihuan.repositories.findings import FindingRef
from bihuan.repositories.rectification import MOVE_ENTITY, LoadedItem
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import FindingStatus, NotificationKind, RectificationAction, RectificationStatus
from notifications.render import render
from notifications.tags import contact_tags

TITLE_MAX = 300  # Finding.title
REASON_MAX = 300  # Finding.dropped_reason keeps a withdrawal's reason


class AmendFinding(BaseModel):
    """修改问题: a new text and/or a new deadline for an issued finding, and why."""

    jurisdiction: str
    finding_id: int
    reason: str
    title: str | None = None
    deadline: date | None = None


class WithdrawFinding(BaseModel):
    """撤销问题: an issued finding withdrawn, and why."""

    jurisdiction: str
    finding_id: int
    reason: str


class CorrectionResult(BaseModel):
    """What a correction did (`bihuan problems amend|withdraw --json`)."""

    finding_id: int
    item_id: int
    department: str
    action: RectificationAction
    action_label: str
    changed: bool  # False: the finding was already as asked (a re-run); nothing written
    title: str
    deadline: date
    status: RectificationStatus
    status_label: str
    notices: int = 0
    changes: dict[str, str] = Field(default_factory=dict)


def amend_finding(
    uow: UnitOfWork, cmd: AmendFinding, actor: Actor, as_of: date
) -> CorrectionResult:
    """Amend an issued finding's text and/or its item's deadline (see the module docstring)."""
    jur_id = _require(uow, cmd.jurisdiction, cmd.finding_id, actor, "amend")
    if cmd.title is None and cmd.deadline is None:
        raise UserError(
            f"finding {cmd.finding_id}: say what changes (--title TEXT and/or --deadline DATE)"
        )
    ref, loaded = _issued(uow, jur_id, cmd.finding_id, "amend")
    if ref.status is FindingStatus.WITHDRAWN:
        raise UserError(f"finding {ref.id} was withdrawn; a withdrawn finding cannot be amended")
    title = (cmd.title or "").strip() or ref.title
    if len(title) > TITLE_MAX:
        raise UserError(f"finding {ref.id}: the text is limited to {TITLE_MAX} characters")
    reason = _reason(cmd.reason, ref.id)
    deadline = cmd.deadline or loaded.state.deadline
    if title == ref.title and deadline == loaded.state.deadline:
        return _result(ref, loaded, RectificationAction.AMEND, changed=False)
    transition = amend(
        loaded.state,
        actor=actor.display_name or actor.login,
        as_of=as_of,
        reason=reason,
        deadline=deadline,
        cal=WorkCalendar.from_policy(uow.policy.calendar),
    )
    changes = dict(transition.event.details)
    if title != ref.title:
        changes.update(old_title=ref.title, new_title=title)
        uow.findings.retitle(ref.id, title)
    parts = [f"问题表述 “{ref.title}” → “{title}”"] if title != ref.title else []
    if "new_deadline" in changes:
        parts.append(f"整改期限 {changes['old_deadline']} → {changes['new_deadline']}")
    notices = _store(uow, actor, ref, loaded, transition, f"{reason} ({'; '.join(parts)})", title)
    out = _result(ref, loaded, RectificationAction.AMEND, changed=True, transition=transition)
    return out.model_copy(update={"title": title, "notices": notices, "changes": changes})


def withdraw_finding(
    uow: UnitOfWork, cmd: WithdrawFinding, actor: Actor, as_of: date
) -> CorrectionResult:
    """Withdraw an issued finding: its item closes as withdrawn (see the module docstring)."""
    jur_id = _require(uow, cmd.jurisdiction, cmd.finding_id, actor, "withdraw")
    ref, loaded = _issued(uow, jur_id, cmd.finding_id, "withdraw")
    if ref.status is FindingStatus.WITHDRAWN:
        return _result(ref, loaded, RectificationAction.WITHDRAW, changed=False)
    reason = _reason(cmd.reason, ref.id)
    transition = withdraw(
        loaded.state, actor=actor.display_name or actor.login, as_of=as_of, reason=reason
    )
    uow.findings.withdraw(ref.id, reason)
    notices = _store(uow, actor, ref, loaded, transition, reason, ref.title)
    out = _result(ref, loaded, RectificationAction.WITHDRAW, changed=True, transition=transition)
    return out.model_copy(update={"notices": notices})


# ------------------------------------------------------------------ its steps


def _require(uow: UnitOfWork, jurisdiction: str, finding_id: int, actor: Actor, verb: str) -> int:
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.AMEND_FINDINGS,
        Target(jurisdiction_id=jur.id, what=f"finding {finding_id}"),
        action=f"{verb} finding {finding_id}",
    )
    return jur.id


def _issued(
    uow: UnitOfWork, jurisdiction_id: int, finding_id: int, verb: str
) -> tuple[FindingRef, LoadedItem]:
    """The finding and its item, if it was issued; else a clear error naming what to do."""
    ref = uow.findings.finding_ref(jurisdiction_id, finding_id)
    if ref is None:
        raise NotFound(f"no finding {finding_id}; see `bihuan findings --year YEAR`")
    if ref.status is FindingStatus.PROPOSED:
        raise UserError(
            f"finding {finding_id} awaits approval (it was not issued): change it in the "
            f"approval instead (`bihuan problems approve --year {ref.year} --phase "
            f"{ref.phase.value} --drop {finding_id}:REASON` or `--deadline "
            f"{finding_id}:YYYY-MM-DD`)"
        )
    if ref.status is FindingStatus.DROPPED or ref.item_id is None:
        raise UserError(f"finding {finding_id} was dropped at approval; there is nothing to {verb}")
    loaded = uow.rectification.load(jurisdiction_id, ref.item_id)
    assert loaded is not None, "an item of the jurisdiction's finding"
    return ref, loaded


def _reason(text: str, finding_id: int) -> str:
    reason = " ".join(text.split())
    if len(reason) < 2:
        raise UserError(f"finding {finding_id}: give the reason for the correction (--reason)")
    if len(reason) > REASON_MAX:
        raise UserError(f"finding {finding_id}: the reason is limited to {REASON_MAX} characters")
    return reason


def _store(
    uow: UnitOfWork,
    actor: Actor,
    ref: FindingRef,
    loaded: LoadedItem,
    transition: Transition,
    history: str,
    title: str,
) -> int:
    """The item's new state and history event, the audit row and the correction notices."""
    new, ev = transition.item, transition.event
    if not uow.rectification.save(new, seen_version=loaded.state.version):
        raise UserError(f"item {new.id} was changed by someone else just now; try again")
    seq = uow.rectification.add_event(
        item_id=new.id,
        from_status=ev.from_status,
        to_status=ev.to_status,
        actor=ev.actor,
        on_date=ev.on_date,
        reason=f"{ev.action.label}: {history}"[:1000],
        evidence=[],
    )
    details = {
        "item": new.id,
        "seq": seq,
        "department": loaded.department_code,
        "reason": ev.reason,
        "on_date": ev.on_date,
        "from": ev.from_status.value,
        "to": ev.to_status.value,
        **ev.details,
        **({"old_title": ref.title, "new_title": title} if title != ref.title else {}),
    }
    action = "finding_withdrawn" if ev.action is RectificationAction.WITHDRAW else "finding_amended"
    uow.audit.record(
        actor,
        action=action,
        entity="finding",
        key=str(ref.id),
        jurisdiction_id=loaded.jurisdiction_id,
        details=details,
    )
    uow.audit.record(
        actor,
        action=f"rectify_{ev.action.value}",
        entity=MOVE_ENTITY,
        key=str(new.id),
        jurisdiction_id=loaded.jurisdiction_id,
        details=details,
    )
    withdrawn = ev.action is RectificationAction.WITHDRAW
    ctx = {
        "withdrawn": withdrawn,
        "department": loaded.department_name,
        "year": ref.year,
        "phase_label": ref.phase.label,
        "number": new.id,
        "issued_on": loaded.state.issued_on,
        "old_title": ref.title,
        "new_title": title,
        "old_deadline": loaded.state.deadline,
        "new_deadline": new.deadline,
        "reason": ev.reason,
        "actor": ev.actor,
        "on_date": ev.on_date,
        "office": uow.policy.office_name(loaded.jurisdiction_code),
        "link": "" if withdrawn else item_link(uow.settings.base_url, new.id),
    }
    subject = " ".join(render("correction_notice.subject.txt", ctx).split())
    body = render("correction_notice.txt", ctx)
    return sum(
        uow.notifications.enqueue(
            NewMessage(
                jurisdiction_id=loaded.jurisdiction_id,
                # an item event's notice, like the office's decisions: listed on its page
                key=f"item:{new.id}:event:{seq}:{tag}",
                department_id=loaded.department_id,
                recipient_tag=tag,
                kind=NotificationKind.CORRECTION.value,
                subject=subject,
                body=body,
                business_date=ev.on_date,
            )
        )
        for tag in contact_tags(loaded.department_code, loaded.notify_tags)
    )


def _result(
    ref: FindingRef,
    loaded: LoadedItem,
    action: RectificationAction,
    *,
    changed: bool,
    transition: Transition | None = None,
) -> CorrectionResult:
    item = transition.item if transition is not None else loaded.state
    return CorrectionResult(
        finding_id=ref.id,
        item_id=item.id,
        department=loaded.department_code,
        action=action,
        action_label=action.label,
        changed=changed,
        title=ref.title,
        deadline=item.deadline,
        status=item.status,
        status_label=item.status.label,
        changes={},
    )
