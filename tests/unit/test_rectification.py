"""The rectification state machine: the whole table, role checks, required inputs, events."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from bihuan.core.rectification import (
    COORDINATOR_ONLY,
    DEPARTMENT_ACTIONS,
    TRANSITIONS,
    Action,
    ItemState,
    Level,
    Role,
    Status,
    TransitionError,
    allowed_actions,
    allowed_moves,
    apply,
)
from bihuan.core.workdays import WorkCalendar

S = Status
CAL = WorkCalendar()
ISSUED = date(2022, 9, 1)
DEADLINE = date(2022, 9, 28)
TODAY = date(2022, 9, 20)

# Inputs that satisfy every action's requirements, so the table alone decides.
FULL: dict[str, Any] = {
    "reason": "说明理由",
    "evidence": ["整改报告.pdf"],
    "explanation": "受上位政策限制",
    "alternative": "采取替代措施",
    "extend_by": 5,
    "cal": CAL,
}

EXPECTED = {
    (S.OPEN, Action.START): S.IN_PROGRESS,
    (S.REOPENED, Action.START): S.IN_PROGRESS,
    (S.OPEN, Action.REPORT_FIXED): S.REPORTED_FIXED,
    (S.IN_PROGRESS, Action.REPORT_FIXED): S.REPORTED_FIXED,
    (S.REOPENED, Action.REPORT_FIXED): S.REPORTED_FIXED,
    (S.REPORTED_FIXED, Action.VERIFY_ACCEPT): S.VERIFIED_CLOSED,
    (S.REPORTED_FIXED, Action.VERIFY_REJECT): S.REOPENED,
    (S.OPEN, Action.REQUEST_CANNOT_SOLVE): S.CANNOT_SOLVE_REQUESTED,
    (S.IN_PROGRESS, Action.REQUEST_CANNOT_SOLVE): S.CANNOT_SOLVE_REQUESTED,
    (S.REOPENED, Action.REQUEST_CANNOT_SOLVE): S.CANNOT_SOLVE_REQUESTED,
    (S.CANNOT_SOLVE_REQUESTED, Action.APPROVE_CANNOT_SOLVE): S.CANNOT_SOLVE,
    (S.CANNOT_SOLVE_REQUESTED, Action.DENY_CANNOT_SOLVE): S.IN_PROGRESS,
    (S.OPEN, Action.EXTEND): S.OPEN,
    (S.IN_PROGRESS, Action.EXTEND): S.IN_PROGRESS,
    (S.REOPENED, Action.EXTEND): S.REOPENED,
    (S.VERIFIED_CLOSED, Action.REOPEN): S.REOPENED,
    # an extension request and its refusal change no status (the grant is EXTEND)
    (S.OPEN, Action.REQUEST_EXTENSION): S.OPEN,
    (S.IN_PROGRESS, Action.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.REOPENED, Action.REQUEST_EXTENSION): S.REOPENED,
    (S.OPEN, Action.DECLINE_EXTENSION): S.OPEN,
    (S.IN_PROGRESS, Action.DECLINE_EXTENSION): S.IN_PROGRESS,
    (S.REOPENED, Action.DECLINE_EXTENSION): S.REOPENED,
}


def item(status: Status, **changes: Any) -> ItemState:
    return ItemState(id=7, status=status, issued_on=ISSUED, deadline=DEADLINE, **changes)


def ready(status: Status, action: Action) -> ItemState:
    """An item in `status` on which `action` can be made (declining needs a request pending)."""
    if action is Action.DECLINE_EXTENSION:
        return item(status, extension_request_days=5, extension_requested_on=TODAY)
    return item(status)


def test_the_table_is_the_one_in_the_brief() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("status", "action"), list(itertools.product(S, Action)))
def test_every_pair_is_accepted_exactly_when_the_table_has_it(
    status: Status, action: Action
) -> None:
    if (status, action) in EXPECTED:
        moved = apply(
            ready(status, action),
            action,
            actor="王科长",
            role=Role.COORDINATOR,
            as_of=TODAY,
            **FULL,
        )
        assert moved.item.status is EXPECTED[(status, action)]
        assert moved.event.from_status is status
        assert moved.event.to_status is EXPECTED[(status, action)]
        assert moved.item.version == 2
    else:
        with pytest.raises(TransitionError) as caught:
            apply(item(status), action, actor="王科长", role=Role.COORDINATOR, as_of=TODAY, **FULL)
        message = str(caught.value)
        assert f"'{status.value}' ({status.label})" in message
        allowed = [a.value for a in Action if (status, a) in EXPECTED]
        assert message.endswith("allowed: " + (", ".join(allowed) or "none (the item is closed)"))


def test_message_names_state_and_allowed_actions() -> None:
    with pytest.raises(TransitionError) as caught:
        apply(
            item(S.IN_PROGRESS),
            Action.VERIFY_ACCEPT,
            actor="王科长",
            role=Role.COORDINATOR,
            as_of=TODAY,
        )
    assert str(caught.value) == (
        "item 7: cannot verify_accept (验收销号) an item that is 'in_progress' (整改中); "
        "allowed: report_fixed, request_cannot_solve, extend, request_extension, "
        "decline_extension"
    )
    assert allowed_actions(S.CANNOT_SOLVE) == []


@pytest.mark.parametrize("action", sorted(COORDINATOR_ONLY))
def test_a_department_cannot_verify_approve_extend_or_reopen(action: Action) -> None:
    status = next(s for (s, a) in EXPECTED if a is action)
    with pytest.raises(TransitionError, match="only a coordinator"):
        apply(
            ready(status, action),
            action,
            actor="d01 联络人",
            role=Role.DEPARTMENT,
            as_of=TODAY,
            **FULL,
        )


@pytest.mark.parametrize("action", sorted(DEPARTMENT_ACTIONS))
def test_department_responses_set_last_response(action: Action) -> None:
    for role in Role:  # a coordinator may record a response on the department's behalf
        moved = apply(item(S.OPEN), action, actor="张三", role=role, as_of=TODAY, **FULL)
        assert moved.item.last_response_on == TODAY


def test_office_actions_do_not_count_as_a_response() -> None:
    moved = apply(
        item(S.REPORTED_FIXED, last_response_on=date(2022, 9, 5)),
        Action.VERIFY_REJECT,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=TODAY,
        reason="佐证材料不足",
    )
    assert moved.item.last_response_on == date(2022, 9, 5)


@pytest.mark.parametrize(
    ("status", "action", "missing", "needs"),
    [
        (S.IN_PROGRESS, Action.REPORT_FIXED, "evidence", "evidence"),
        (S.REPORTED_FIXED, Action.VERIFY_REJECT, "reason", "reason"),
        (S.CANNOT_SOLVE_REQUESTED, Action.DENY_CANNOT_SOLVE, "reason", "reason"),
        (S.VERIFIED_CLOSED, Action.REOPEN, "reason", "reason"),
        (S.OPEN, Action.REQUEST_CANNOT_SOLVE, "explanation", "政策解释"),
        (S.OPEN, Action.REQUEST_CANNOT_SOLVE, "alternative", "替代措施"),
        (S.OPEN, Action.EXTEND, "reason", "reason"),
        (S.OPEN, Action.EXTEND, "extend_by", "extend_by"),
    ],
)
def test_required_inputs(status: Status, action: Action, missing: str, needs: str) -> None:
    blank: Any = [" "] if missing == "evidence" else (None if missing == "extend_by" else "  ")
    inputs = {**FULL, missing: blank}
    with pytest.raises(TransitionError, match=needs):
        apply(item(status), action, actor="王科长", role=Role.COORDINATOR, as_of=TODAY, **inputs)


def test_extension_moves_deadline_in_working_days_and_is_counted() -> None:
    state = item(S.IN_PROGRESS, escalation_level=Level.HEAD, extensions=1)
    moved = apply(
        state,
        Action.EXTEND,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=date(2022, 9, 29),
        reason="涉及多部门协调",
        extend_by=5,
        cal=CAL,
    )
    # 2022-09-28 + 5 working days across National Day (Oct 8 and 9 worked in exchange)
    assert moved.item.deadline == date(2022, 10, 10)
    assert moved.item.extensions == 2
    assert moved.item.escalation_level is None
    assert moved.item.status is S.IN_PROGRESS
    assert moved.event.details["old_deadline"] == "2022-09-28"
    assert moved.event.details["new_deadline"] == "2022-10-10"
    assert moved.event.reason == "涉及多部门协调"


def test_extension_that_ends_in_the_past_is_refused_with_the_days_needed() -> None:
    with pytest.raises(TransitionError, match="extend by at least 4 working days"):
        apply(
            item(S.OPEN),
            Action.EXTEND,
            actor="王科长",
            role=Role.COORDINATOR,
            as_of=date(2022, 10, 9),  # 4 working days after Sep 28: Sep 29, 30, Oct 8, 9
            reason="延期",
            extend_by=1,
            cal=CAL,
        )


def test_close_and_reopen_track_closed_on() -> None:
    closed = apply(
        item(S.REPORTED_FIXED),
        Action.VERIFY_ACCEPT,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=TODAY,
    ).item
    assert closed.closed_on == TODAY
    reopened = apply(
        closed,
        Action.REOPEN,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=date(2023, 1, 10),
        reason="复查发现问题反弹",
    )
    assert reopened.item.closed_on is None
    assert reopened.item.status is S.REOPENED
    assert reopened.item.version == 3


def test_event_records_who_when_why_and_evidence() -> None:
    moved = apply(
        item(S.IN_PROGRESS),
        Action.REPORT_FIXED,
        actor=" d01 李四 ",
        role=Role.DEPARTMENT,
        as_of=TODAY,
        reason="已建立制度",
        evidence=["制度文件.pdf", "", "会议纪要.docx"],
    )
    event = moved.event
    assert (event.item_id, event.actor, event.role, event.on_date) == (
        7,
        "d01 李四",
        Role.DEPARTMENT,
        TODAY,
    )
    assert event.evidence == ("制度文件.pdf", "会议纪要.docx")
    assert event.action is Action.REPORT_FIXED


def test_cannot_solve_keeps_explanation_and_alternative() -> None:
    moved = apply(
        item(S.OPEN),
        Action.REQUEST_CANNOT_SOLVE,
        actor="d01",
        role=Role.DEPARTMENT,
        as_of=TODAY,
        explanation=" 编制总量受控 ",
        alternative="内部调剂",
    )
    assert (moved.item.explanation, moved.item.alternative) == ("编制总量受控", "内部调剂")


def test_empty_actor_and_date_before_issue_are_refused() -> None:
    with pytest.raises(TransitionError, match="actor"):
        apply(item(S.OPEN), Action.START, actor=" ", role=Role.DEPARTMENT, as_of=TODAY)
    with pytest.raises(TransitionError, match="before the item was issued"):
        apply(item(S.OPEN), Action.START, actor="d01", role=Role.DEPARTMENT, as_of=date(2022, 8, 1))


def test_transition_error_is_a_user_error() -> None:
    from bihuan.errors import UserError

    assert issubclass(TransitionError, UserError)


def test_core_vocabularies_mirror_models_enums() -> None:
    from models.enums import EscalationLevel, RectificationStatus

    assert [s.value for s in Status] == [s.value for s in RectificationStatus]
    assert [s.label for s in Status] == [s.label for s in RectificationStatus]
    assert [v.value for v in Level] == [v.value for v in EscalationLevel]
    # str enums: a models value finds its core transition and back
    assert TRANSITIONS[(RectificationStatus.OPEN, Action.START)] == RectificationStatus.IN_PROGRESS


def test_the_core_imports_no_database_or_delivery_library() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, bihuan.core.workdays, bihuan.core.rectification, bihuan.core.reminders; "
        "print(sorted(m for m in ('sqlmodel', 'sqlalchemy', 'prefect', 'apprise', 'models') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ extension requests (申请延期)


def test_a_department_asks_for_more_time_without_changing_the_status() -> None:
    moved = apply(
        item(S.IN_PROGRESS, escalation_level=Level.HEAD),
        Action.REQUEST_EXTENSION,
        actor="d01 联络人",
        role=Role.DEPARTMENT,
        as_of=TODAY,
        reason=" 需等待省级批复 ",
        extend_by=10,
    )
    new = moved.item
    assert new.status is S.IN_PROGRESS and new.deadline == DEADLINE
    assert (new.extension_request_days, new.extension_requested_on) == (10, TODAY)
    assert new.extension_request_reason == "需等待省级批复"
    assert new.last_response_on == TODAY  # a response: the department did answer
    assert new.escalation_level is Level.HEAD and new.extensions == 0
    assert moved.event.details == {"extend_by": "10"}
    assert Action.REQUEST_EXTENSION not in allowed_moves(new)
    assert Action.DECLINE_EXTENSION in allowed_moves(new)


def test_one_request_at_a_time_and_it_needs_days_and_a_reason() -> None:
    pending = item(S.OPEN, extension_request_days=5, extension_requested_on=TODAY)
    with pytest.raises(TransitionError, match="no extension request pending"):
        apply(
            pending,
            Action.REQUEST_EXTENSION,
            actor="d01",
            role=Role.DEPARTMENT,
            as_of=TODAY,
            reason="再延",
            extend_by=3,
        )
    with pytest.raises(TransitionError, match="reason"):
        apply(
            item(S.OPEN),
            Action.REQUEST_EXTENSION,
            actor="d01",
            role=Role.DEPARTMENT,
            as_of=TODAY,
            extend_by=3,
        )
    with pytest.raises(TransitionError, match="extend_by"):
        apply(
            item(S.OPEN),
            Action.REQUEST_EXTENSION,
            actor="d01",
            role=Role.DEPARTMENT,
            as_of=TODAY,
            reason="延",
            extend_by=0,
        )


def test_the_office_grants_a_request_with_extend() -> None:
    pending = item(
        S.OPEN,
        extension_request_days=10,
        extension_requested_on=TODAY,
        extension_request_reason="需等待省级批复",
    )
    moved = apply(
        pending,
        Action.EXTEND,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=TODAY,
        reason="同意延期",
        extend_by=8,
        cal=CAL,
    )
    new = moved.item
    assert new.extensions == 1 and new.deadline > DEADLINE
    assert (new.extension_request_days, new.extension_requested_on) == (None, None)
    assert new.extension_request_reason == ""
    assert moved.event.details["requested_days"] == "10"  # asked 10, granted 8


def test_the_office_declines_a_request_with_a_note() -> None:
    pending = item(S.IN_PROGRESS, extension_request_days=10, extension_requested_on=TODAY)
    with pytest.raises(TransitionError, match="only a coordinator"):
        apply(
            pending,
            Action.DECLINE_EXTENSION,
            actor="d01",
            role=Role.DEPARTMENT,
            as_of=TODAY,
            reason="x",
        )
    with pytest.raises(TransitionError, match="reason"):
        apply(pending, Action.DECLINE_EXTENSION, actor="王科长", role=Role.COORDINATOR, as_of=TODAY)
    moved = apply(
        pending,
        Action.DECLINE_EXTENSION,
        actor="王科长",
        role=Role.COORDINATOR,
        as_of=TODAY,
        reason="理由不充分",
    )
    assert moved.item.status is S.IN_PROGRESS and moved.item.deadline == DEADLINE
    assert moved.item.extension_request_days is None
    assert moved.item.last_response_on is None  # the office's decision is not a response
    assert moved.event.details == {"requested_days": "10"}
    with pytest.raises(TransitionError, match="a pending extension request"):
        apply(
            moved.item,
            Action.DECLINE_EXTENSION,
            actor="王科长",
            role=Role.COORDINATOR,
            as_of=TODAY,
            reason="再次",
        )


def test_a_request_lapses_when_the_item_leaves_the_working_statuses() -> None:
    pending = item(S.IN_PROGRESS, extension_request_days=10, extension_requested_on=TODAY)
    moved = apply(
        pending,
        Action.REPORT_FIXED,
        actor="d01",
        role=Role.DEPARTMENT,
        as_of=TODAY,
        evidence=["整改报告.pdf"],
    )
    assert moved.item.extension_request_days is None
    assert moved.event.details["extension_request_lapsed"] == "10"
    asked = apply(
        pending,
        Action.REQUEST_CANNOT_SOLVE,
        actor="d01",
        role=Role.DEPARTMENT,
        as_of=TODAY,
        explanation="省级事权",
        alternative="季度报送",
    )
    assert asked.item.extension_request_days is None  # no deadline left to move
    # a move that stays in the working statuses keeps the request
    started = apply(
        item(S.OPEN, extension_request_days=10),
        Action.START,
        actor="d01",
        role=Role.DEPARTMENT,
        as_of=TODAY,
    )
    assert started.item.extension_request_days == 10


@pytest.mark.parametrize("status", list(S))
def test_allowed_moves_offer_the_request_or_its_refusal_never_both(status: Status) -> None:
    free, pending = item(status), item(status, extension_request_days=3)
    assert Action.DECLINE_EXTENSION not in allowed_moves(free)
    assert Action.REQUEST_EXTENSION not in allowed_moves(pending)
    working = status in (S.OPEN, S.IN_PROGRESS, S.REOPENED)
    assert (Action.REQUEST_EXTENSION in allowed_moves(free)) is working
    assert (Action.DECLINE_EXTENSION in allowed_moves(pending)) is working
    for action in allowed_moves(free):  # every move offered is one apply accepts
        apply(free, action, actor="王科长", role=Role.COORDINATOR, as_of=TODAY, **FULL)


def test_every_refusal_has_a_chinese_reason_with_labels_only() -> None:
    """The department's workbook and portal show `zh` (issue 10.6): labels, never codes."""
    from tests.vocab_leaks import leaked_codes

    refusals = []
    for status, action in itertools.product(Status, Action):
        for role in Role:
            try:
                apply(item(status), action, actor="王科长", role=role, as_of=TODAY, cal=CAL)
            except TransitionError as exc:
                refusals.append(exc)
    assert len(refusals) > 50
    for exc in refusals:
        assert exc.zh != str(exc) and not leaked_codes(exc.zh), exc.zh
    closed = next(e for e in refusals if "已验收销号" in e.zh and "不能“报告整改完成”" in e.zh)
    assert "可以: “重新整改”" in closed.zh


@pytest.mark.parametrize(
    ("state", "action", "what"),
    [
        (item(S.REPORTED_FIXED, last_response_on=TODAY), Action.VERIFY_ACCEPT, "the report"),
        (item(S.REPORTED_FIXED, last_response_on=TODAY), Action.VERIFY_REJECT, "the report"),
        (
            item(S.CANNOT_SOLVE_REQUESTED, last_response_on=TODAY),
            Action.APPROVE_CANNOT_SOLVE,
            "the request",
        ),
        (
            item(S.OPEN, extension_request_days=5, extension_requested_on=TODAY),
            Action.DECLINE_EXTENSION,
            "the extension request",
        ),
        (
            item(S.OPEN, extension_request_days=5, extension_requested_on=TODAY),
            Action.EXTEND,
            "the extension request",
        ),
        (item(S.VERIFIED_CLOSED, closed_on=TODAY), Action.REOPEN, "the closing"),
    ],
    ids=lambda v: v.value if isinstance(v, Action) else "",
)
def test_a_decision_dated_before_what_it_decides_is_refused(
    state: ItemState, action: Action, what: str
) -> None:
    """Business dates move forward per item: a verification is not dated before the report."""
    before = date(2022, 9, 19)
    with pytest.raises(TransitionError, match=f"dated 2022-09-19 is before {what}") as refused:
        apply(state, action, actor="王科长", role=Role.COORDINATOR, as_of=before, **FULL)
    assert "date it 2022-09-20 or later" in str(refused.value)
    # the same day is fine
    apply(state, action, actor="王科长", role=Role.COORDINATOR, as_of=TODAY, **FULL)


def test_withdrawing_closes_any_item_once_and_amending_needs_a_working_day() -> None:
    from bihuan.core.rectification import amend, withdraw

    pending = item(S.IN_PROGRESS, extension_request_days=5, extension_requested_on=TODAY)
    gone = withdraw(pending, actor="王科长", as_of=TODAY, reason="问题不成立")
    assert (gone.item.status, gone.item.closed_on) == (S.WITHDRAWN, TODAY)
    assert gone.item.extension_request_days is None and gone.event.action is Action.WITHDRAW
    assert allowed_actions(S.WITHDRAWN) == []
    with pytest.raises(TransitionError, match="withdrawn already"):
        withdraw(gone.item, actor="王科长", as_of=TODAY, reason="问题不成立")
    with pytest.raises(TransitionError, match="needs a reason"):
        withdraw(pending, actor="王科长", as_of=TODAY, reason=" ")
    with pytest.raises(TransitionError, match="cannot amend"):
        amend(gone.item, actor="王科长", as_of=TODAY, reason="改", deadline=None, cal=CAL)
    with pytest.raises(TransitionError, match="the next working day is 2022-10-08"):
        amend(
            pending, actor="王科长", as_of=TODAY, reason="调整", deadline=date(2022, 10, 3), cal=CAL
        )
    moved = amend(
        item(S.OPEN, escalation_level=Level.HEAD),
        actor="王科长",
        as_of=TODAY,
        reason="调整期限",
        deadline=date(2022, 10, 8),  # a Saturday worked in exchange (调休)
        cal=CAL,
    )
    assert moved.item.deadline == date(2022, 10, 8) and moved.item.escalation_level is None
    assert moved.item.status is S.OPEN and moved.event.details["old_deadline"] == "2022-09-28"
