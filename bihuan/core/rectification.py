"""The state machine of a rectification item (整改台账): an explicit table, role checks, events.

Every move is looked up in :data:`TRANSITIONS` (``(status, action) -> status``); anything not in
it is refused with a :class:`TransitionError` that names the current status and the actions that
are allowed from it. :func:`apply` is pure: it returns the new item state and the event to append
to the history (``RectificationEvent``) and the audit log; the shell stores both in one
transaction and guards against concurrent edits with ``version``.

Roles: the department (部门) responds (start, report fixed, ask for "cannot be solved" or for
more time); the coordinator (编办) may also record a response on a department's behalf, e.g.
from a paper report, and alone verifies, approves, extends and reopens. A department response
sets ``last_response_on``, which the reminder planner reads to stop escalating.

An extension request (申请延期) changes no status, like a progress note: it is recorded on the
item (``extension_request_days`` and why), at most one at a time, and waits for the office,
which grants it (extend, by the days it chooses) or declines it (decline_extension, with a
note). A request lapses when the item leaves the working statuses (reported fixed, cannot be
solved asked for): there is no deadline left to move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from bihuan.core.problem_lists import not_a_workday
from bihuan.core.workdays import WorkCalendar
from bihuan.errors import UserError
from bihuan.vocab import Capacity, EscalationLevel, RectificationAction, RectificationStatus

# The vocabulary's enums under the names the state machine reads best with.
Status = RectificationStatus
Level = EscalationLevel
Action = RectificationAction
Role = Capacity
S = Status
STATUS_LABELS: dict[Status, str] = {m: m.label for m in Status}
ACTION_LABELS: dict[Action, str] = {m: m.label for m in Action}


# Statuses in which the department still owes work; an extension only makes sense there.
_WORKING = (S.OPEN, S.IN_PROGRESS, S.REOPENED)

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.OPEN, Action.START): S.IN_PROGRESS,
    (S.REOPENED, Action.START): S.IN_PROGRESS,
    **{(s, Action.REPORT_FIXED): S.REPORTED_FIXED for s in _WORKING},
    (S.REPORTED_FIXED, Action.VERIFY_ACCEPT): S.VERIFIED_CLOSED,
    (S.REPORTED_FIXED, Action.VERIFY_REJECT): S.REOPENED,
    **{(s, Action.REQUEST_CANNOT_SOLVE): S.CANNOT_SOLVE_REQUESTED for s in _WORKING},
    (S.CANNOT_SOLVE_REQUESTED, Action.APPROVE_CANNOT_SOLVE): S.CANNOT_SOLVE,
    (S.CANNOT_SOLVE_REQUESTED, Action.DENY_CANNOT_SOLVE): S.IN_PROGRESS,
    **{(s, Action.EXTEND): s for s in _WORKING},
    (S.VERIFIED_CLOSED, Action.REOPEN): S.REOPENED,
    **{(s, Action.REQUEST_EXTENSION): s for s in _WORKING},
    **{(s, Action.DECLINE_EXTENSION): s for s in _WORKING},
}

# Actions that are the department's response (they stop escalation); the rest are the office's.
DEPARTMENT_ACTIONS = frozenset(
    {Action.START, Action.REPORT_FIXED, Action.REQUEST_CANNOT_SOLVE, Action.REQUEST_EXTENSION}
)
# The office's corrections of the finding itself (amend, withdraw): not moves of the table.
CORRECTIONS = frozenset({Action.AMEND, Action.WITHDRAW})
COORDINATOR_ONLY = frozenset(Action) - DEPARTMENT_ACTIONS - CORRECTIONS

CLOSED = frozenset({S.VERIFIED_CLOSED, S.CANNOT_SOLVE, S.WITHDRAWN})


class TransitionError(UserError):
    """A move the table or the rules do not allow; the message says what is allowed instead.
    `zh` says the same in Chinese, with labels only, for a department (its workbook, the
    portal)."""

    def __init__(self, message: str, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh or message


def allowed_actions(status: Status) -> list[Action]:
    """Actions the table allows from ``status``, in declaration order."""
    return [a for a in Action if (status, a) in TRANSITIONS]


def allowed_moves(item: ItemState) -> list[Action]:
    """Actions :func:`apply` accepts on ``item``: the table's, less the extension request that
    cannot be made (one is pending) or declined (none is)."""
    pending = item.extension_request_days is not None
    return [
        a
        for a in allowed_actions(item.status)
        if not (a is Action.REQUEST_EXTENSION and pending)
        and not (a is Action.DECLINE_EXTENSION and not pending)
    ]


@dataclass(frozen=True, slots=True)
class ItemState:
    """The fields of a rectification item that the state machine reads and writes."""

    id: int
    status: Status
    issued_on: date
    deadline: date
    last_response_on: date | None = None
    escalation_level: Level | None = None
    extensions: int = 0
    explanation: str = ""
    alternative: str = ""
    closed_on: date | None = None
    version: int = 1
    # a pending extension request (申请延期): working days asked for, when, and why
    extension_request_days: int | None = None
    extension_requested_on: date | None = None
    extension_request_reason: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One history record: from, to, who, when, why (and what was shown as evidence)."""

    item_id: int
    action: Action
    from_status: Status
    to_status: Status
    actor: str
    role: Role
    on_date: date
    reason: str = ""
    evidence: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    item: ItemState
    event: Event


def _describe(status: Status) -> str:
    return f"'{status.value}' ({status.label})"


# The office's decisions and the date of what each decides: business dates only move forward
# per item, so a verification is never dated before the report it verifies.
_DECIDES: dict[Action, tuple[str, str]] = {
    Action.VERIFY_ACCEPT: ("last_response_on", "the report it verifies"),
    Action.VERIFY_REJECT: ("last_response_on", "the report it verifies"),
    Action.APPROVE_CANNOT_SOLVE: ("last_response_on", "the request it decides"),
    Action.DENY_CANNOT_SOLVE: ("last_response_on", "the request it decides"),
    Action.DECLINE_EXTENSION: ("extension_requested_on", "the extension request it declines"),
    Action.REOPEN: ("closed_on", "the closing it reopens"),
}


def _not_before_what_it_decides(item: ItemState, action: Action, as_of: date) -> None:
    field_name, what = _DECIDES.get(action, ("", ""))
    earlier: date | None = getattr(item, field_name) if field_name else None
    if action is Action.EXTEND and item.extension_requested_on is not None:
        earlier, what = item.extension_requested_on, "the extension request it grants"
    if earlier is not None and as_of < earlier:
        raise TransitionError(
            f"item {item.id}: {action.value} ({action.label}) dated {as_of} is before "
            f"{what} ({earlier}); date it {earlier} or later"
        )


def apply(
    item: ItemState,
    action: Action,
    *,
    actor: str,
    role: Role,
    as_of: date,
    reason: str = "",
    evidence: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
) -> Transition:
    """Apply ``action`` to ``item`` on ``as_of``; raise TransitionError when it is not allowed.

    Required inputs per action: report_fixed needs ``evidence``; verify_reject, deny_cannot_solve
    and reopen need ``reason`` (the note the department will read); request_cannot_solve needs
    ``explanation`` (the policy explanation, 政策解释) and ``alternative`` (the agreed
    alternative, 替代措施); extend needs ``reason``, ``extend_by`` working days and ``cal``, and
    moves the deadline that many working days past the current one (granting a pending
    extension request, whatever the days asked for); request_extension needs ``reason`` and
    ``extend_by`` (the working days asked for) and no request pending; decline_extension
    needs a pending request and ``reason``.
    """
    action = Action(action)
    target = TRANSITIONS.get((item.status, action))
    if target is None:
        allowed = ", ".join(allowed_actions(item.status)) or "none (the item is closed)"
        moves = "、".join(f"“{a.label}”" for a in allowed_actions(item.status))
        raise TransitionError(
            f"item {item.id}: cannot {action.value} ({action.label}) an item that is "
            f"{_describe(item.status)}; allowed: {allowed}",
            zh=f"整改事项{item.id}当前为“{item.status.label}”, 不能“{action.label}”; "
            + (f"可以: {moves}" if moves else "该事项已办结"),
        )
    if role is not Role.COORDINATOR and action in COORDINATOR_ONLY:
        raise TransitionError(
            f"item {item.id}: a department cannot {action.value} ({action.label}); "
            "only a coordinator of the office (编办) may",
            zh=f"“{action.label}”只能由编办办理",
        )
    if not actor.strip():
        raise TransitionError(f"item {item.id}: say who acts (actor is empty)", zh="请注明经办人")
    if as_of < item.issued_on:
        raise TransitionError(
            f"item {item.id}: {as_of} is before the item was issued on {item.issued_on}",
            zh=f"日期{as_of}早于整改事项{item.id}的下发日期{item.issued_on}",
        )
    _not_before_what_it_decides(item, action, as_of)
    reason = reason.strip()
    evidence = tuple(e for e in evidence if e.strip())

    def need(ok: bool, what: str, zh: str) -> None:
        if not ok:
            raise TransitionError(
                f"item {item.id}: {action.value} ({action.label}) needs {what}",
                zh=f"“{action.label}”需要{zh}",
            )

    changes: dict[str, object] = {"status": target, "version": item.version + 1}
    details: dict[str, str] = {}
    if action in DEPARTMENT_ACTIONS:
        changes["last_response_on"] = as_of
    if action is Action.REPORT_FIXED:
        need(
            bool(evidence),
            "evidence (at least one file or document reference)",
            "佐证材料(至少一个文件或文件名)",
        )
    elif action in (Action.VERIFY_REJECT, Action.DENY_CANNOT_SOLVE, Action.REOPEN):
        need(bool(reason), "a note saying why (reason)", "说明理由")
    elif action is Action.REQUEST_CANNOT_SOLVE:
        need(bool(explanation.strip()), "a policy explanation (政策解释)", "政策解释")
        need(bool(alternative.strip()), "an agreed alternative measure (替代措施)", "替代措施")
        changes["explanation"] = explanation.strip()
        changes["alternative"] = alternative.strip()
    elif action is Action.EXTEND:
        need(bool(reason), "a reason for the extension", "延期理由")
        need(
            extend_by is not None and extend_by >= 1,
            "extend_by: at least 1 working day",
            "至少延期1个工作日",
        )
        if cal is None:
            raise ValueError("extend needs the working-day calendar (cal=)")
        assert extend_by is not None
        new_deadline = cal.add_workdays(item.deadline, extend_by)
        if new_deadline < as_of:
            short = cal.workdays_between(new_deadline, as_of)
            raise TransitionError(
                f"item {item.id}: extending by {extend_by} working days gives {new_deadline}, "
                f"already past on {as_of}; extend by at least {extend_by + short} working days",
                zh=f"延期{extend_by}个工作日后为{new_deadline}, 在{as_of}已经过期; "
                f"请至少延期{extend_by + short}个工作日",
            )
        changes["deadline"] = new_deadline
        changes["extensions"] = item.extensions + 1
        # A new deadline starts a new reminder round with a fresh escalation ladder.
        changes["escalation_level"] = None
        details = {
            "old_deadline": item.deadline.isoformat(),
            "new_deadline": new_deadline.isoformat(),
            "extend_by": str(extend_by),
            "extension_no": str(item.extensions + 1),
        }
    elif action is Action.REQUEST_EXTENSION:
        need(
            item.extension_request_days is None,
            "no extension request pending (one is)",
            "没有待审核的延期申请(已有一项在审核中)",
        )
        need(bool(reason), "a reason for the extension (延期理由)", "延期理由")
        need(
            extend_by is not None and extend_by >= 1,
            "extend_by: at least 1 working day",
            "至少延期1个工作日",
        )
        assert extend_by is not None
        changes["extension_request_days"] = extend_by
        changes["extension_requested_on"] = as_of
        changes["extension_request_reason"] = reason
        details = {"extend_by": str(extend_by)}
    elif action is Action.DECLINE_EXTENSION:
        need(
            item.extension_request_days is not None,
            "a pending extension request (none is)",
            "一项待审核的延期申请(目前没有)",
        )
        need(bool(reason), "a note saying why (reason)", "说明理由")
        details = {"requested_days": str(item.extension_request_days)}
    if item.extension_request_days is not None and (
        action in (Action.EXTEND, Action.DECLINE_EXTENSION) or target not in _WORKING
    ):
        # granted, declined, or moot (no deadline left to move): the request is settled
        changes.update(
            extension_request_days=None, extension_requested_on=None, extension_request_reason=""
        )
        if action is Action.EXTEND:
            details["requested_days"] = str(item.extension_request_days)
        elif action is not Action.DECLINE_EXTENSION:
            details["extension_request_lapsed"] = str(item.extension_request_days)
    if target in CLOSED:
        changes["closed_on"] = as_of
    elif item.closed_on is not None:
        changes["closed_on"] = None

    new_item = replace(item, **changes)  # type: ignore[arg-type]
    event = Event(
        item_id=item.id,
        action=action,
        from_status=item.status,
        to_status=target,
        actor=actor.strip(),
        role=role,
        on_date=as_of,
        reason=reason,
        evidence=evidence,
        details=details,
    )
    return Transition(new_item, event)


# ------------------------------------------------------------------ corrections after issue


def withdraw(item: ItemState, *, actor: str, as_of: date, reason: str) -> Transition:
    """The office withdraws the item's finding after issue (撤销问题): the item closes as
    withdrawn, whatever its status, with no extension request left pending."""
    if item.status is S.WITHDRAWN:
        raise TransitionError(f"item {item.id}: the finding was withdrawn already")
    _correction_checks(item, Action.WITHDRAW, actor=actor, as_of=as_of, reason=reason)
    new = replace(
        item,
        status=S.WITHDRAWN,
        closed_on=as_of,
        escalation_level=None,
        extension_request_days=None,
        extension_requested_on=None,
        extension_request_reason="",
        version=item.version + 1,
    )
    event = Event(
        item_id=item.id,
        action=Action.WITHDRAW,
        from_status=item.status,
        to_status=S.WITHDRAWN,
        actor=actor.strip(),
        role=Role.COORDINATOR,
        on_date=as_of,
        reason=reason.strip(),
    )
    return Transition(new, event)


def amend(
    item: ItemState,
    *,
    actor: str,
    as_of: date,
    reason: str,
    deadline: date | None,
    cal: WorkCalendar,
) -> Transition:
    """The office amends the item's finding after issue (修改问题): its status stays; a new
    deadline (a working day, not before `as_of`) starts a new reminder round."""
    if item.status in CLOSED:
        raise TransitionError(
            f"item {item.id}: cannot amend a finding whose item is {_describe(item.status)}"
            + ("" if item.status is S.WITHDRAWN else "; reopen it first (reopen)")
        )
    _correction_checks(item, Action.AMEND, actor=actor, as_of=as_of, reason=reason)
    details: dict[str, str] = {}
    changes: dict[str, object] = {"version": item.version + 1}
    if deadline is not None and deadline != item.deadline:
        if deadline < as_of:
            raise TransitionError(
                f"item {item.id}: deadline {deadline} is before the day of the amendment {as_of}"
            )
        problem = not_a_workday(item.id, deadline, cal)
        if problem:
            raise TransitionError(
                problem.replace("finding ", "item ", 1),
                zh=problem.zh.replace("问题", "整改事项", 1),
            )
        changes.update(deadline=deadline, escalation_level=None)
        details = {"old_deadline": item.deadline.isoformat(), "new_deadline": deadline.isoformat()}
    event = Event(
        item_id=item.id,
        action=Action.AMEND,
        from_status=item.status,
        to_status=item.status,
        actor=actor.strip(),
        role=Role.COORDINATOR,
        on_date=as_of,
        reason=reason.strip(),
        details=details,
    )
    return Transition(replace(item, **changes), event)  # type: ignore[arg-type]


def _correction_checks(
    item: ItemState, action: Action, *, actor: str, as_of: date, reason: str
) -> None:
    if not actor.strip():
        raise TransitionError(f"item {item.id}: say who acts (actor is empty)")
    if as_of < item.issued_on:
        raise TransitionError(
            f"item {item.id}: {as_of} is before the item was issued on {item.issued_on}"
        )
    if len(reason.strip()) < 2:
        raise TransitionError(f"item {item.id}: {action.value} ({action.label}) needs a reason")
