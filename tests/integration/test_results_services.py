"""The re-check, results, board and report use cases against real SQLite and PostgreSQL, without
Prefect: who may run and read them, what they store, and the (department, key) link of a carried
item to its new finding.

A four-department county is written straight into the tables (the assessments, findings and
items the re-check and the results read), so these tests depend on no other stage's code.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from bihuan.core.access import Actor
from bihuan.core.breakdown import Breakdown, IndicatorLine
from bihuan.db import get_engine
from bihuan.errors import ConfigError, PermissionDenied, UserError
from bihuan.services import identity
from bihuan.services import recheck as recheck_service
from bihuan.services import results as results_service
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from models import (
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    Jurisdiction,
    Phase,
    RectificationItem,
)
from tests.users import TODAY, app_for, make_user, office

ROOT = Path(__file__).resolve().parents[2]
SECTION = "机关职能运行监管办公室"
SHARED_KEY = "year-end:staffing:real_name"  # D01 and D02 both have a finding with this key
# (code, name, category, 2022 score, 2023 score): with green = 1 and red = 1, D01 is green both
# years and D04 red both years (staffing freeze and a head talk in 2023)
DEPARTMENTS = [
    ("D01", "县发展和改革局", "economic", 90.0, 95.0),
    ("D02", "县财政局", "economic", 80.0, 75.0),
    ("D03", "县教育和体育局", "non_economic", 70.0, 85.0),
    ("D04", "县民政局", "non_economic", 40.0, 50.0),
]
# last year's items: department → (finding key, category, status, indicator)
ITEMS_2022 = {
    "D01": (SHARED_KEY, "staffing", "open", None),
    "D02": (SHARED_KEY, "staffing", "in_progress", None),
    "D03": ("mid-year:indicator:D03-01", "indicator", "verified_closed", "D03-01"),
    "D04": ("mid-year:indicator:D04-01", "indicator", "cannot_solve", "D04-01"),
}
JAN_2024 = date(2024, 1, 5)


@dataclass(frozen=True)
class County:
    url: str
    office: Actor
    items: dict[str, int]  # department code → its 2022 item id
    dept_ids: dict[str, int]
    policy: Path  # the test's copy of config/policy.toml

    def edit_policy(self, old: str, new: str) -> None:
        text = self.policy.read_text(encoding="utf-8")
        assert old in text, old
        self.policy.write_text(text.replace(old, new, 1), encoding="utf-8")


def _breakdown(code: str, score: float, indicator_score: float) -> dict[str, Any]:
    return Breakdown(
        code=code,
        total=score,
        indicators=[
            IndicatorLine(code=f"{code}-01", kind="qualitative", score=indicator_score),
        ],
    ).to_json()


def _write_county(url: str) -> tuple[dict[str, int], dict[str, int]]:
    with Session(get_engine(url)) as s:
        jur = Jurisdiction(code="juxian", name="莒县")
        s.add(jur)
        s.flush()
        assert jur.id is not None
        depts = {}
        for code, name, category, _s22, _s23 in DEPARTMENTS:
            d = Department(jurisdiction_id=jur.id, code=code, name=name, category=category)
            s.add(d)
            s.flush()
            depts[code] = d.id
        items: dict[str, int] = {}
        for year in (2022, 2023):
            cycle = Cycle(jurisdiction_id=jur.id, year=year)
            s.add(cycle)
            s.flush()
            for kind in ("mid-year", "year-end"):
                month = 6 if kind == "mid-year" else 12
                phase = Phase(
                    cycle_id=cycle.id,  # type: ignore[arg-type]
                    kind=kind,  # type: ignore[arg-type]
                    window_start=date(year, month, 1),
                    window_end=date(year, month, 30),
                )
                s.add(phase)
                s.flush()
                for code, _n, _c, s22, s23 in DEPARTMENTS:
                    score = s22 if year == 2022 else s23
                    # 2023: D03's indicator fails again (its verified 2022 item recurs)
                    ind = 0.0 if (year, code) == (2023, "D03") else score
                    s.add(
                        DepartmentAssessment(
                            phase_id=phase.id,  # type: ignore[arg-type]
                            department_id=depts[code],
                            total=score,
                            ledger=score,
                            breakdown=_breakdown(code, score, ind),
                            as_of=date(year, month, 30),
                        )
                    )
            if year == 2022:
                for code, (key, category, status, indicator) in ITEMS_2022.items():
                    f = Finding(
                        cycle_id=cycle.id,  # type: ignore[arg-type]
                        phase_kind="mid-year",  # type: ignore[arg-type]
                        department_id=depts[code],
                        key=key,
                        category=category,  # type: ignore[arg-type]
                        severity="medium",  # type: ignore[arg-type]
                        source="test",
                        title=f"{code}的问题",
                        evidence={"indicator": indicator} if indicator else {},
                        status="approved",  # type: ignore[arg-type]
                    )
                    s.add(f)
                    s.flush()
                    item = RectificationItem(
                        finding_id=f.id,  # type: ignore[arg-type]
                        department_id=depts[code],
                        supervising_section=SECTION,
                        issued_on=date(2022, 7, 4),
                        deadline=date(2022, 8, 1),
                        status=status,  # type: ignore[arg-type]
                        closed_on=date(2022, 7, 20)
                        if status in ("verified_closed", "cannot_solve")
                        else None,
                    )
                    s.add(item)
                    s.flush()
                    assert item.id is not None
                    items[code] = item.id
        s.commit()
    return items, depts


@pytest.fixture
def county(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> County:
    config = shutil.copytree(ROOT / "config", tmp_path / "config")
    policy = (config / "policy.toml").read_text(encoding="utf-8")
    assert 'green = "top 16%"\nred = "bottom 16%"' in policy
    (config / "policy.toml").write_text(
        policy.replace('green = "top 16%"\nred = "bottom 16%"', "green = 1\nred = 1"),
        encoding="utf-8",
    )
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(config))
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path))
    from bihuan.settings import reset_settings

    reset_settings()
    items, depts = _write_county(db_url)
    return County(db_url, office(db_url), items, depts, config / "policy.toml")


# A county of six departments (a real county's size, not Ju County's 62): the board's default
# 10 green and 10 red places do not fit it.
SIX = [
    ("W01", "五莲县发展和改革局", "economic", 91.2),
    ("W02", "五莲县财政局", "economic", 84.0),
    ("W03", "五莲县教育和体育局", "non_economic", 78.5),
    ("W04", "五莲县民政局", "non_economic", 70.0),
    ("W05", "五莲县司法局", "non_economic", 66.0),
    ("W06", "五莲县农业农村局", "economic", 33.15),
]


def write_six(url: str, phases: tuple[str, ...] = ("mid-year", "year-end")) -> None:
    """The six-department county 五莲县 (wulian) with 2026 scores in `phases`."""
    with Session(get_engine(url)) as s:
        jur = Jurisdiction(code="wulian", name="五莲县")
        s.add(jur)
        s.flush()
        assert jur.id is not None
        cycle = Cycle(jurisdiction_id=jur.id, year=2026)
        s.add(cycle)
        s.flush()
        for code, name, category, _score in SIX:
            s.add(Department(jurisdiction_id=jur.id, code=code, name=name, category=category))
        for kind in ("mid-year", "year-end"):
            month = 6 if kind == "mid-year" else 12
            s.add(
                Phase(
                    cycle_id=cycle.id,  # type: ignore[arg-type]
                    kind=kind,  # type: ignore[arg-type]
                    window_start=date(2026, month, 1),
                    window_end=date(2026, month, 30),
                )
            )
        s.commit()
    for kind in phases:
        score_six(url, kind)


def score_six(url: str, kind: str) -> None:
    """Store the six departments' 2026 scores of a phase, as the assessment would."""
    month = 6 if kind == "mid-year" else 12
    with Session(get_engine(url)) as s:
        (phase_id,) = s.execute(
            text(
                "SELECT p.id FROM phase p JOIN cycle c ON c.id = p.cycle_id JOIN jurisdiction j "
                "ON j.id = c.jurisdiction_id WHERE j.code = 'wulian' AND p.kind = :k"
            ),
            {"k": kind},
        ).one()
        ids = dict(
            s.execute(text("SELECT code, id FROM department WHERE code LIKE 'W%'")).tuples().all()
        )
        for code, _name, _category, score in SIX:
            s.add(
                DepartmentAssessment(
                    phase_id=phase_id,
                    department_id=ids[code],
                    total=score,
                    ledger=score,
                    breakdown=_breakdown(code, score, score),
                    as_of=date(2026, month, 30),
                )
            )
        s.commit()


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def run(url: str, fn: Callable[[UnitOfWork], Any], *, readonly: bool = False) -> Any:
    with UnitOfWork(app_for(url), readonly=readonly) as uow:
        return fn(uow)


def do_recheck(c: County, actor: Actor | None = None, on: date = date(2023, 7, 3)) -> Any:
    return run(
        c.url,
        lambda uow: recheck_service.recheck(uow, "juxian", 2023, actor or c.office, on),
    )


def do_results(c: County, year: int, actor: Actor | None = None, on: date = JAN_2024) -> Any:
    return run(
        c.url,
        lambda uow: results_service.compute_results(uow, "juxian", year, actor or c.office, on),
    )


# ------------------------------------------------------------------ the re-check


def test_recheck_links_each_carried_item_to_its_own_departments_finding(county: County) -> None:
    c = county
    result = do_recheck(c)
    outcomes = {d.department: d.outcome.value for d in result.decisions}
    assert outcomes == {
        "D01": "carried",
        "D02": "carried",
        "D03": "recurring",  # verified in 2022, its indicator fails again in 2023
        "D04": "stays_cannot_solve",
    }
    assert result.new_findings == 3 and result.recorded == 4
    assert result.counts == {"carried": 2, "recurring": 1, "stays_cannot_solve": 1}
    d01 = next(d for d in result.decisions if d.department == "D01")
    assert d01.outcome_label == "延续整改"  # Chinese labels travel beside the values
    assert d01.category_label == "机构编制执行问题" and d01.status_label == "待整改"

    # the two departments share the finding key: each item points at its own department's
    # new finding, in the result, the audit log and the item's history
    carried = {
        code: (fid, dept)
        for code, fid, dept in rows(
            c.url,
            "SELECT d.code, f.id, f.department_id FROM finding f JOIN department d ON "
            "d.id = f.department_id JOIN cycle c ON c.id = f.cycle_id "
            "WHERE c.year = 2023 AND f.category = 'carried_over'",
        )
    }
    assert set(carried) == {"D01", "D02", "D03"}
    for d in result.decisions:
        if d.department in ("D01", "D02", "D03"):
            assert d.new_finding == carried[d.department][0], d
    keys = rows(
        c.url,
        "SELECT d.code, f.key, f.carried_from_id FROM finding f JOIN department d ON "
        "d.id = f.department_id WHERE f.category = 'carried_over' ORDER BY d.code",
    )
    assert [k[1] for k in keys[:2]] == [f"carried:2022:{SHARED_KEY}"] * 2
    for code in ("D01", "D02"):
        ((details,),) = rows(
            c.url,
            "SELECT details FROM auditlog WHERE action = 'recheck:2023' AND entity_key = :k",
            k=str(c.items[code]),
        )
        details = details if isinstance(details, dict) else json.loads(details)
        assert details["new_finding_id"] == carried[code][0]
        ((actor, reason),) = rows(
            c.url,
            "SELECT actor, reason FROM rectificationevent WHERE item_id = :i",
            i=c.items[code],
        )
        assert actor == c.office.login
        assert f"纳入2023年问题{carried[code][0]}（" in reason and "2023年次年复查" in reason

    # every decision is audited under the real user
    users = rows(c.url, "SELECT DISTINCT user_id FROM auditlog WHERE action = 'recheck:2023'")
    assert users == [(c.office.user_id,)]
    # last year's rows keep their status
    assert {s for (s,) in rows(c.url, "SELECT status FROM rectificationitem")} == {
        "open",
        "in_progress",
        "verified_closed",
        "cannot_solve",
    }


def test_recheck_again_records_and_creates_nothing(county: County) -> None:
    do_recheck(county)
    before = snapshot(county.url)
    again = do_recheck(county)
    assert again.new_findings == 0 and again.recorded == 0 and len(again.decisions) == 4
    assert snapshot(county.url) == before


def test_recheck_without_last_year_items_is_empty(county: County) -> None:
    result = run(
        county.url,
        lambda uow: recheck_service.recheck(uow, "juxian", 2022, county.office, date(2022, 1, 10)),
    )
    assert result.prior_items == 0 and result.decisions == []


def test_a_lapsed_alternative_is_recorded_once_and_carried_next_time(county: County) -> None:
    c = county
    item = c.items["D04"]
    first = run(
        c.url,
        lambda uow: recheck_service.mark_alternative_lapsed(
            uow, item, "替代服务合同已终止", c.office, date(2023, 7, 1)
        ),
    )
    assert first.recorded and first.department == "D04"
    again = run(
        c.url,
        lambda uow: recheck_service.mark_alternative_lapsed(
            uow, item, "替代服务合同已终止", c.office, date(2023, 7, 2)
        ),
    )
    assert not again.recorded
    lapses = rows(c.url, "SELECT user_id FROM auditlog WHERE action = 'alternative_lapsed'")
    assert lapses == [(c.office.user_id,)]
    result = do_recheck(c)
    assert {d.department: d.outcome.value for d in result.decisions}["D04"] == "carried"
    with pytest.raises(UserError, match="not cannot_solve"):
        run(
            c.url,
            lambda uow: recheck_service.mark_alternative_lapsed(
                uow, c.items["D01"], "测试理由", c.office, date(2023, 7, 2)
            ),
        )
    with pytest.raises(UserError, match="no rectification item"):
        run(
            c.url,
            lambda uow: recheck_service.mark_alternative_lapsed(
                uow, 999_999, "测试理由", c.office, date(2023, 7, 2)
            ),
        )


# ------------------------------------------------------------------ results, board, report


def test_results_board_consequences_and_the_head_talk(county: County) -> None:
    c = county
    first = do_results(c, 2022, on=date(2023, 1, 5))
    assert [(r.code, r.colour.value) for r in first.board] == [
        ("D01", "green"),
        ("D02", "yellow"),
        ("D03", "yellow"),
        ("D04", "red"),
    ]
    assert not [q for q in first.consequences if q.kind == "head_talk"]  # no last year
    summary = do_results(c, 2023)
    assert [(r.code, r.colour.value) for r in summary.board] == [
        ("D01", "green"),
        ("D03", "yellow"),
        ("D02", "yellow"),
        ("D04", "red"),
    ]
    kinds = {(q.code, q.kind.value) for q in summary.consequences}
    assert {("D04", "staffing_freeze"), ("D04", "head_talk"), ("D01", "staffing_priority")} <= kinds
    talk = next(q for q in summary.consequences if q.kind == "head_talk")
    assert talk.due_on == date(2024, 1, 19)  # ten working days after Fri 2024-01-05
    assert summary.notices == 2
    d04 = next(r for r in summary.board if r.code == "D04")
    assert d04.colour_label == "红牌" and d04.category_label == "非经济部门"
    notices = rows(
        c.url,
        "SELECT recipient_tag, subject, body, idempotency_key FROM notification "
        "ORDER BY recipient_tag",
    )
    assert [n[0] for n in notices] == ["d04-head", "leadership"]
    subject, body = notices[0][1], notices[0][2]
    assert subject == "关于约谈县民政局主要负责人的通知"
    assert "2022年度、2023年度连续两年列入监管评估红榜" in body
    assert "2024年1月19日前" in body and "2024年原则上不考虑" in body
    assert "莒县县委编办" in body  # policy.office_name("juxian"), not a hard-coded 县委编办
    assert notices[0][3] == "head-talk:juxian:2023:D04:d04-head"
    audit = rows(c.url, "SELECT user_id FROM auditlog WHERE action = 'results'")
    assert audit == [(c.office.user_id,), (c.office.user_id,)]

    # a re-run later keeps the announced date and queues nothing new
    again = do_results(c, 2023, on=date(2024, 1, 10))
    assert again.notices == 0
    assert next(q for q in again.consequences if q.kind == "head_talk").due_on == date(2024, 1, 19)
    assert len(rows(c.url, "SELECT id FROM notification")) == 2


def test_a_year_without_its_points_is_refused_naming_the_key(county: County) -> None:
    c = county
    c.edit_policy("[points.2023]\neconomic = 20\nnon_economic = 60\n", "")
    before = snapshot(c.url)
    with pytest.raises(ConfigError) as refused:
        do_results(c, 2023)
    message = str(refused.value)
    assert "policy.toml: points.2023:" in message and "add a [points.2023] table" in message
    assert "economic = … and non_economic = …" in message
    assert snapshot(c.url) == before  # nothing stored: not 2022's points in 2023's place
    assert do_results(c, 2022, on=date(2023, 1, 5)).departments == 4


def test_the_board_on_a_six_department_county(county: County) -> None:
    c = county
    write_six(c.url)
    wulian = office(c.url, "wlbb", jurisdiction="wulian")

    def results() -> Any:
        return run(
            c.url,
            lambda uow: results_service.compute_results(
                uow, "wulian", 2026, wulian, date(2027, 1, 8)
            ),
        )

    # the default 10 green and 10 red places: refused for six departments, naming the keys
    c.edit_policy("green = 1\nred = 1", "green = 10\nred = 10")
    before = snapshot(c.url)
    with pytest.raises(ConfigError) as refused:
        results()
    message = str(refused.value)
    assert "policy.toml: board.green + board.red:" in message
    assert "10 green and 10 red places for 6 departments" in message and "overlap" in message
    assert snapshot(c.url) == before  # no board: not six green places, 33.15 included
    # three and three would leave no department yellow: refused as well
    c.edit_policy("green = 10\nred = 10", "green = 3\nred = 3")
    with pytest.raises(ConfigError, match="would leave no department yellow"):
        results()
    # shares of the county's size: 15 % of 6 is 0.9, one place each
    c.edit_policy("green = 3\nred = 3", 'green = "top 15%"\nred = "bottom 15%"')
    summary = results()
    assert [(r.code, r.colour.value) for r in summary.board] == [
        ("W01", "green"),
        ("W02", "yellow"),
        ("W03", "yellow"),
        ("W04", "yellow"),
        ("W05", "yellow"),
        ("W06", "red"),
    ]
    stored = rows(
        c.url,
        "SELECT d.code, b.colour FROM boardentry b JOIN department d ON d.id = b.department_id "
        "WHERE d.jurisdiction_id = (SELECT id FROM jurisdiction WHERE code = 'wulian') "
        "ORDER BY b.rank",
    )
    assert [colour for _code, colour in stored] == ["green", *["yellow"] * 4, "red"]
    leader = make_user(c.url, "wllead", UserRole.LEADER, jurisdiction="wulian")
    data = run(
        c.url,
        lambda uow: results_service.report_data(uow, leader, "wulian", 2026, date(2027, 1, 8)),
        readonly=True,
    )
    assert (data.green, data.red) == ("15%", "15%")


def test_the_tie_rule_is_stored_and_shown_in_board_json_and_the_report(
    county: County, tmp_path: Path
) -> None:
    from bihuan.cli import _register_commands, app
    from bihuan.report import render_report

    c = county
    write_six(c.url)
    c.edit_policy("green = 1\nred = 1", 'green = "top 15%"\nred = "bottom 15%"')
    with get_engine(c.url).begin() as conn:  # W04 ties W03 at 78.5; W03's ledger is higher
        conn.execute(
            text(
                "UPDATE departmentassessment SET total = 78.5 WHERE department_id = "
                "(SELECT id FROM department WHERE code = 'W04')"
            )
        )
    wulian = office(c.url, "wlbb", jurisdiction="wulian")
    run(
        c.url,
        lambda uow: results_service.compute_results(uow, "wulian", 2026, wulian, date(2027, 1, 8)),
    )
    stored = rows(
        c.url,
        "SELECT d.code, b.tie_rule FROM boardentry b JOIN department d ON d.id = b.department_id "
        "WHERE d.code LIKE 'W%' ORDER BY b.rank",
    )
    assert stored[2:4] == [("W03", None), ("W04", "ledger_score")]
    assert {code for code, rule in stored if rule} == {"W04"}

    note = "同分，按主责主业履职成效得分排序"
    board = run(
        c.url, lambda uow: results_service.board(uow, wulian, "wulian", 2026), readonly=True
    )
    w04 = next(r for r in board if r.code == "W04")
    assert w04.tie_rule == "ledger_score" and w04.tie_note == note
    assert w04.tie_rule_label == "主责主业履职成效得分"

    _register_commands()
    runner = CliRunner()
    args = ["board", "--year", "2026", "-j", "wulian", "--db", c.url, "--as", "wlbb"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    by_code = {r["code"]: r for r in json.loads(out.stdout)}
    assert by_code["W04"]["tie_rule"] == "ledger_score" and by_code["W04"]["tie_note"] == note
    assert by_code["W03"]["tie_note"] == ""
    out = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "同分规则" in out.output and note in out.output

    data = run(
        c.url,
        lambda uow: results_service.report_data(uow, wulian, "wulian", 2026, date(2027, 1, 8)),
        readonly=True,
    )
    assert next(r for r in data.board if r.code == "W04").tie_rule == "ledger_score"
    assert note in render_report(data)


def test_results_before_the_year_end_assessment_refuse_or_are_provisional(
    county: County,
) -> None:
    from bihuan.cli import _register_commands, app
    from bihuan.report import render_report, report_markdown

    c = county
    write_six(c.url, phases=("mid-year",))  # the year-end assessment has not run
    c.edit_policy("green = 1\nred = 1", 'green = "top 15%"\nred = "bottom 15%"')
    wulian = office(c.url, "wlbb", jurisdiction="wulian")

    def results(provisional: bool = False, on: date = date(2026, 7, 10)) -> Any:
        return run(
            c.url,
            lambda uow: results_service.compute_results(
                uow, "wulian", 2026, wulian, on, provisional=provisional
            ),
        )

    before = snapshot(c.url)
    with pytest.raises(UserError) as refused:
        results()
    message = str(refused.value)
    assert "the 2026 year-end assessment (年底评估) of 'wulian' has not run" in message
    assert "bihuan results --year 2026 --provisional" in message
    assert snapshot(c.url) == before

    summary = results(provisional=True)
    assert summary.provisional and summary.provisional_label == "暂定"
    assert all(r.provisional and r.provisional_label == "暂定" for r in summary.board)
    assert summary.notices == 0
    assert all(q.detail.startswith("（暂定）") for q in summary.consequences)
    assert not [q for q in summary.consequences if q.due_on is not None]
    assert rows(c.url, "SELECT id FROM notification") == []

    board = run(
        c.url, lambda uow: results_service.board(uow, wulian, "wulian", 2026), readonly=True
    )
    assert all(r.provisional and r.provisional_label == "暂定" for r in board)
    _register_commands()
    runner = CliRunner()
    args = ["board", "--year", "2026", "-j", "wulian", "--db", c.url, "--as", "wlbb"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    assert all(
        r["provisional"] and r["provisional_label"] == "暂定" for r in json.loads(out.stdout)
    )
    out = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert out.exit_code == 0 and "2026年度红黄绿榜（暂定 provisional）" in out.output
    data = run(
        c.url,
        lambda uow: results_service.report_data(uow, wulian, "wulian", 2026, date(2026, 7, 10)),
        readonly=True,
    )
    assert data.provisional
    assert "综合情况报告（暂定）</h1>" in render_report(data)
    assert report_markdown(data).startswith("# 五莲县2026年度部门履职监管评估综合情况（暂定）")

    # next year's consequences ("red two years running") do not rest on a provisional board
    def last_year(uow: Any) -> Any:
        jur = uow.jurisdictions.require("wulian")
        return results_service._stored_board(uow, jur.id, 2026)

    assert run(c.url, last_year, readonly=True) is None

    # the year-end assessment runs: --provisional is refused, the final board replaces it
    score_six(c.url, "year-end")
    with pytest.raises(UserError, match="has run: the results are final"):
        results(provisional=True, on=date(2027, 1, 8))
    final = results(on=date(2027, 1, 8))
    assert not final.provisional and final.provisional_label == ""
    assert not [q for q in final.consequences if "暂定" in q.detail]
    board = run(
        c.url, lambda uow: results_service.board(uow, wulian, "wulian", 2026), readonly=True
    )
    assert not any(r.provisional for r in board)


def test_a_consequence_the_board_no_longer_gives_is_withdrawn(county: County) -> None:
    c = county
    do_results(c, 2022, on=date(2023, 1, 5))
    do_results(c, 2023)
    with get_engine(c.url).begin() as conn:  # D04 re-assessed: no longer last
        conn.execute(
            text("UPDATE departmentassessment SET total = 99 WHERE department_id = :d"),
            {"d": c.dept_ids["D04"]},
        )
    again = do_results(c, 2023)
    assert again.withdrawn >= 2
    assert not {q.kind for q in again.consequences if q.code == "D04"} & {
        "head_talk",
        "staffing_freeze",
    }
    withdrawn = rows(
        c.url, "SELECT entity_key, user_id FROM auditlog WHERE action = 'consequence_withdrawn'"
    )
    assert ("2023/D04/head_talk", c.office.user_id) in withdrawn


def test_the_board_is_public_but_consequences_stay_with_their_department(county: County) -> None:
    c = county
    do_results(c, 2022, on=date(2023, 1, 5))
    do_results(c, 2023)
    d01 = make_user(c.url, "D01lx", UserRole.DEPARTMENT, department="D01")
    leader = make_user(c.url, "lead", UserRole.LEADER)
    seen = run(c.url, lambda uow: results_service.board(uow, d01, "juxian", 2023), readonly=True)
    assert [r.code for r in seen] == ["D01", "D03", "D02", "D04"]
    assert {q.code for r in seen for q in r.consequences} == {"D01"}
    full = run(c.url, lambda uow: results_service.board(uow, leader, "juxian", 2023), readonly=True)
    assert {q.kind.value for r in full if r.code == "D04" for q in r.consequences} == {
        "staffing_freeze",
        "head_talk",
        "assessment_points",
    }
    with pytest.raises(UserError, match="no 2021 cycle"):
        run(c.url, lambda uow: results_service.board(uow, leader, "juxian", 2021), readonly=True)


def test_report_data_for_a_leader(county: County, tmp_path: Path) -> None:
    from bihuan.report import recommendations, render_report, write_report

    c = county
    do_recheck(c)
    with pytest.raises(UserError, match="bihuan results --year 2023"):
        run(
            c.url,
            lambda uow: results_service.report_data(uow, c.office, "juxian", 2023, JAN_2024),
        )
    do_results(c, 2022, on=date(2023, 1, 5))
    do_results(c, 2023)
    leader = make_user(c.url, "lead", UserRole.LEADER)
    data = run(
        c.url,
        lambda uow: results_service.report_data(uow, leader, "juxian", 2023, JAN_2024),
        readonly=True,
    )
    assert data.county == "莒县" and data.office == "莒县县委编办"
    assert [p.kind for p in data.phases] == ["mid-year", "year-end"]
    # failed in the year-end: D03-01 (0) and D04-01 (50, below the threshold of 60)
    assert data.ledger.indicators == 0 and data.ledger.failed == 2
    assert data.recheck_outcomes == {"carried": 2, "recurring": 1, "stays_cannot_solve": 1}
    assert data.last_year_board is not None and data.codes_with("head_talk") == ["D04"]
    recs = recommendations(data)
    assert "县民政局连续两年列入红榜" in recs[0]
    assert any("上年度3项问题未整改到位或再次出现" in r for r in recs)
    html = render_report(data)
    assert "莒县县委编办" in html and "县民政局" in html
    out = write_report(data, tmp_path / "r" / "report.html")
    assert out.read_text(encoding="utf-8") == html


# ------------------------------------------------------------------ who may do it


def snapshot(url: str) -> dict[str, list[Any]]:
    """The rows the use cases change (refusals themselves are audited, so they are left out)."""
    tables = {
        "finding": "SELECT * FROM finding ORDER BY id",
        "rectificationitem": "SELECT * FROM rectificationitem ORDER BY id",
        "rectificationevent": "SELECT * FROM rectificationevent ORDER BY id",
        "boardentry": "SELECT * FROM boardentry ORDER BY id",
        "consequence": "SELECT * FROM consequence ORDER BY id",
        "notification": "SELECT * FROM notification ORDER BY id",
        "auditlog": "SELECT id, user_id, action, entity_key FROM auditlog "
        "WHERE action <> 'access_denied' ORDER BY id",
    }
    return {name: [tuple(r) for r in rows(url, sql)] for name, sql in tables.items()}


def _disabled(url: str) -> Actor:
    gone = make_user(url, "gone", UserRole.OFFICE)
    with UnitOfWork(app_for(url)) as uow:
        admin = identity.actor_for(uow, "admin")
        identity.set_active(uow, "gone", False, admin, TODAY)
    return gone


def _actor(c: County, who: str) -> Actor:
    if who == "department":
        return make_user(c.url, "D01lx", UserRole.DEPARTMENT, department="D01")
    if who == "leader":
        return make_user(c.url, "lead", UserRole.LEADER)
    if who == "section":
        return make_user(c.url, "ops", UserRole.SECTION, section=SECTION)
    return _disabled(c.url)


USE_CASES: dict[str, Callable[[UnitOfWork, Actor, County], Any]] = {
    "recheck": lambda uow, a, c: recheck_service.recheck(uow, "juxian", 2023, a, date(2023, 7, 3)),
    "results": lambda uow, a, c: results_service.compute_results(uow, "juxian", 2023, a, JAN_2024),
    # D01's user on D02's item: another department's object
    "alternative_lapsed": lambda uow, a, c: recheck_service.mark_alternative_lapsed(
        uow,
        c.items["D04"] if a.role != UserRole.DEPARTMENT else c.items["D02"],
        "理由充分",
        a,
        date(2023, 7, 1),
    ),
    "report_data": lambda uow, a, c: results_service.report_data(uow, a, "juxian", 2023, JAN_2024),
    "board": lambda uow, a, c: results_service.board(uow, a, "juxian", 2023),
}
REFUSED = [
    ("recheck", "department", "may not run_cycle"),
    ("recheck", "leader", "may not run_cycle"),
    ("recheck", "disabled", "disabled"),
    ("results", "department", "may not run_cycle"),
    ("results", "leader", "may not run_cycle"),
    ("results", "section", "may not run_cycle"),
    ("results", "disabled", "disabled"),
    ("alternative_lapsed", "department", "may not decide"),
    ("alternative_lapsed", "leader", "may not decide"),
    ("alternative_lapsed", "section", "may not decide"),
    ("alternative_lapsed", "disabled", "disabled"),
    ("report_data", "department", "may not read_results"),
    ("report_data", "section", "may not read_results"),
    ("report_data", "disabled", "disabled"),
    ("board", "disabled", "disabled"),
]


@pytest.mark.parametrize(("use_case", "who", "reason"), REFUSED)
def test_refused_and_nothing_changes(county: County, use_case: str, who: str, reason: str) -> None:
    c = county
    do_results(c, 2022, on=date(2023, 1, 5))
    do_results(c, 2023)  # so the reads have a board to refuse
    actor = _actor(c, who)
    before = snapshot(c.url)
    with pytest.raises(PermissionDenied, match=reason):
        run(c.url, lambda uow: USE_CASES[use_case](uow, actor, c))
    assert snapshot(c.url) == before
    refusals = rows(c.url, "SELECT user_id FROM auditlog WHERE action = 'access_denied'")
    assert refusals[-1] == (actor.user_id,)


def test_cli_board_and_report_run_as_the_user(county: County, tmp_path: Path) -> None:
    from bihuan.cli import _register_commands, app

    c = county
    do_results(c, 2022, on=date(2023, 1, 5))
    do_results(c, 2023)
    make_user(c.url, "D01lx", UserRole.DEPARTMENT, department="D01")
    _register_commands()
    runner = CliRunner()
    out = runner.invoke(app, ["board", "--year", "2023", "--json", "--db", c.url, "--as", "D01lx"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [r["code"] for r in data] == ["D01", "D03", "D02", "D04"]
    assert data[0]["colour_label"] == "绿牌" and data[3]["consequences"] == []
    report = tmp_path / "report.html"
    out = runner.invoke(
        app, ["report", "--year", "2023", "--out", str(report), "--db", c.url, "--as", "D01lx"]
    )
    assert out.exit_code == 3 and "may not read_results" in out.output
    assert not report.exists()
    out = runner.invoke(
        app,
        ["report", "--year", "2023", "--out", str(report), "--db", c.url, "--as", c.office.login],
    )
    assert out.exit_code == 0, out.output
    assert "莒县县委编办" in report.read_text(encoding="utf-8")
    out = runner.invoke(
        app,
        [
            "alternative-lapsed",
            str(c.items["D04"]),
            "--reason",
            "替代服务合同已终止",
            "--db",
            c.url,
            "--as",
            "D01lx",
        ],
    )
    assert out.exit_code == 3 and "D01lx" in out.output
