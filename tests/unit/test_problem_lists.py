"""The approval's pure core: checking a decision, planning items and deadlines, grouping lists."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.findings import DepartmentFacts, StaffingFact, derive_findings
from bihuan.core.problem_lists import (
    Decision,
    Proposed,
    by_department,
    decision_problems,
    plan_items,
    reply_deadline,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.policy import Deadlines, FindingRules
from bihuan.vocab import FindingCategory, Severity

CAL = WorkCalendar()
RULES = FindingRules()
AS_OF = date(2022, 9, 28)  # the day before the National Day holiday week


def proposed(fid: int, dept: str, category: str, severity: str) -> Proposed:
    return Proposed(
        id=fid,
        department_id=ord(dept[0]) * 100 + int(dept[1:]),
        department=dept,
        department_name=f"部门{dept}",
        notify_tags="",
        category=FindingCategory(category),
        severity=Severity(severity),
        title=f"问题{fid}",
        measures="整改",
    )


PENDING = [
    proposed(1, "B01", "missing_submission", "high"),
    proposed(2, "A01", "staffing", "medium"),
    proposed(3, "A01", "indicator", "low"),
]


@pytest.mark.parametrize(
    ("drops", "deadlines", "expected"),
    [
        ({}, {}, []),
        ({1: "补交"}, {2: date(2022, 12, 1)}, []),
        ({9: "x"}, {}, ["finding 9 is not awaiting approval"]),
        ({}, {8: date(2022, 12, 1)}, ["finding 8 is not awaiting approval"]),
        ({}, {2: date(2022, 9, 27)}, ["finding 2: deadline 2022-09-27 is before"]),
        ({2: "x"}, {2: date(2022, 12, 1)}, ["finding 2: it is both dropped"]),
    ],
    ids=["nothing", "valid", "unknown-drop", "unknown-deadline", "past", "both"],
)
def test_decision_problems(
    drops: dict[int, str], deadlines: dict[int, date], expected: list[str]
) -> None:
    found = decision_problems([p.id for p in PENDING], Decision(drops, deadlines), AS_OF)
    assert len(found) == len(expected)
    assert all(text.startswith(prefix) for text, prefix in zip(found, expected, strict=True))


def test_items_get_working_day_deadlines_by_severity_and_their_section() -> None:
    items = plan_items(
        PENDING,
        as_of=AS_OF,
        overrides={3: date(2022, 12, 30)},
        days=Deadlines(),
        sections=RULES.sections,
        calendar=CAL,
    )
    got = {i.finding.id: (i.deadline, i.section.name, i.deadline_changed) for i in items}
    assert got == {
        # 10 working days across National Day (Oct 8 and 9 worked in exchange)
        1: (date(2022, 10, 17), "机关职能运行监管办公室", False),
        2: (CAL.add_workdays(AS_OF, 20), "监督检查科(实名制管理科)", False),
        3: (date(2022, 12, 30), "机关职能运行监管办公室", True),
    }
    groups = by_department(items)
    assert [[i.finding.id for i in g] for g in groups.values()] == [[2, 3], [1]]  # A01, B01
    assert reply_deadline(groups[PENDING[1].department_id]) == date(2022, 12, 30)


@given(st.dates(min_value=date(2022, 1, 1), max_value=date(2025, 12, 1)))
def test_a_computed_deadline_is_a_working_day_after_the_day_of_approval(day: date) -> None:
    [item] = plan_items(
        PENDING[:1],
        as_of=day,
        overrides={},
        days=Deadlines(),
        sections=RULES.sections,
        calendar=CAL,
    )
    assert item.deadline > day and CAL.is_workday(item.deadline)


def test_the_measures_name_the_office_of_the_jurisdiction() -> None:
    facts = DepartmentFacts(code="A01", staffing=[StaffingFact("real_name", 1)])
    [draft] = derive_findings(facts, phase="mid-year", rules=RULES, office="莒县县委编办")
    assert draft.measures.endswith("整改情况报莒县县委编办。")


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        (date(2022, 10, 14), None),  # a Friday
        (date(2022, 10, 8), None),  # a Saturday worked in exchange for National Day (调休)
        (
            date(2022, 10, 15),
            "2022-10-15 (星期六) is not a working day; the next working day is 2022-10-17 (星期一)",
        ),
        (date(2022, 10, 16), "the next working day is 2022-10-17"),
        (date(2022, 10, 3), "the next working day is 2022-10-08 (星期六)"),  # National Day
    ],
    ids=["friday", "tiaoxiu-saturday", "saturday", "sunday", "holiday"],
)
def test_a_deadline_set_by_hand_must_be_a_working_day(deadline: date, expected: str | None) -> None:
    found = decision_problems(
        [p.id for p in PENDING], Decision({}, {2: deadline}), AS_OF, calendar=CAL
    )
    if expected is None:
        assert found == []
    else:
        [problem] = found
        assert problem.startswith("finding 2: deadline") and expected in problem


def test_a_finding_of_a_department_not_decided_is_named_as_such() -> None:
    found = decision_problems(
        [2, 3], Decision({1: "x"}, {}), AS_OF, calendar=CAL, elsewhere={1: "B01"}
    )
    assert found == ["finding 1 is of B01, which this decision does not approve"]


def test_a_deadline_in_a_year_the_calendar_does_not_know_is_refused() -> None:
    [problem] = decision_problems([2], Decision({}, {2: date(2150, 1, 5)}), AS_OF, calendar=CAL)
    assert "does not cover" in problem
