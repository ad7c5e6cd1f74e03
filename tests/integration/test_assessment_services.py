"""The assessment use cases on real SQLite and PostgreSQL, without Prefect: collection, submit,
the draw, scoring by batches, the scores and their explanation; who may do what, and that a
refused action changes nothing while a done one is audited under the real user."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.core.access import Actor
from bihuan.db import get_engine
from bihuan.errors import PermissionDenied
from bihuan.ingest.load import import_path
from bihuan.services import assessment, identity, ledger
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Method, PhaseKind, QualitativeLevel, UserRole
from tests.flows.small_county import write_small_county
from tests.users import TODAY, app_for, make_user, office

MID = PhaseKind.MID_YEAR
DAY = date(2022, 7, 1)
J = "juxian"

_register_commands()
runner = CliRunner()


@pytest.fixture
def county(db_url: str, tmp_path: Path) -> str:
    import_path(db_url, write_small_county(tmp_path / "c"), year=2022, jurisdiction=J, actor="t")
    return db_url


@pytest.fixture
def users(county: str) -> dict[str, Actor]:
    """One user per role the rules care about, and a disabled office user."""
    made = {
        "office": office(county),
        "leader": make_user(county, "lead", UserRole.LEADER),
        "auditor": make_user(county, "aud", UserRole.AUDITOR),
        "A01": make_user(county, "A01lx", UserRole.DEPARTMENT, department="A01"),
        "B01": make_user(county, "B01lx", UserRole.DEPARTMENT, department="B01"),
        "disabled": make_user(county, "gone", UserRole.OFFICE),
    }
    with UnitOfWork(app_for(county)) as uow:
        admin = identity.actor_for(uow, "admin")
        identity.set_active(uow, "gone", False, admin, TODAY)
        made["admin"] = admin
    return made


def uow_for(url: str, *, readonly: bool = False) -> UnitOfWork:
    return UnitOfWork(app_for(url), readonly=readonly)


# ------------------------------------------------------------------ the whole phase, by hand


def run_phase(url: str, actor: Actor, *, seed: int = 7, batch_size: int = 2) -> Any:
    """What the assess flow does, step by step, without Prefect (small batches, so that the
    county's three departments take two of them)."""
    with uow_for(url) as uow:
        collected = assessment.open_and_collect(uow, J, 2022, MID, actor, DAY)
    with uow_for(url) as uow:
        drawn = assessment.make_or_load_draw(uow, J, 2022, MID, actor, seed=seed)
    with uow_for(url, readonly=True) as uow:
        plan = assessment.plan_assessment(uow, J, 2022, MID, actor, batch_size=batch_size)
    batches = []
    for batch in plan.batches:
        with uow_for(url, readonly=True) as uow:
            scores = assessment.score_batch(uow, J, 2022, MID, batch.department_ids, actor)
        with uow_for(url) as uow:
            batches.append(assessment.store_scores(uow, J, 2022, MID, scores, actor, DAY))
    result = assessment.summarise(
        J, 2022, MID, DAY, draw=drawn, chains=plan.chains, batches=batches
    )
    with uow_for(url) as uow:
        assessment.finish_assessment(uow, J, 2022, MID, actor, DAY, changed=result.changed)
    return collected, drawn, plan, result


def test_the_services_score_the_small_county_as_computed_by_hand(
    county: str, users: dict[str, Actor]
) -> None:
    collected, drawn, plan, result = run_phase(county, users["office"])
    assert collected.missing == ["B01"] and collected.submitted == 2 and collected.closed is True
    assert [len(b.department_ids) for b in plan.batches] == [2, 1]  # ids only
    # each batch assesses its own departments' chains: B01 is a link of none
    assert {r.code: r.central_tasks is not None for r in result.scores} == {
        "A01": True,
        "A02": True,
        "B01": False,
    }
    totals = {r.code: r.total for r in result.scores}
    assert totals["A01"] == pytest.approx(99.25)
    assert totals["B01"] == pytest.approx(15 / 0.7)
    assert [r.rank for r in result.scores] == [1, 2, 3]
    assert result.changed == 3 and result.onsite == drawn.departments
    assert plan.chains[0].score == pytest.approx(260 / 3)
    assert plan.chains[0].responsible == ["A02"]
    # a second run changes nothing and never redraws
    again = run_phase(county, users["office"], seed=99)
    assert again[1].new is False and again[1].seed == 7 and again[3].changed == 0


def test_audit_rows_name_the_real_user(county: str, users: dict[str, Actor]) -> None:
    run_phase(county, users["office"])
    with uow_for(county) as uow:
        ledger.submit(uow, submission("B01-S1-01"), users["B01"], DAY)
    rows = audit_rows(county)
    by_action = {action: (login, user_id) for login, user_id, action in rows}
    for action in ("phase_opened", "submission_missing", "onsite_draw", "assess"):
        assert by_action[action] == ("office", users["office"].user_id), action
    assert by_action["submit"] == ("B01lx", users["B01"].user_id)


def test_a_department_submits_only_its_own_indicators(county: str, users: dict[str, Actor]) -> None:
    with uow_for(county) as uow:
        done = ledger.submit(uow, submission("B01-S1-01"), users["B01"], DAY)
    assert done.department == "B01" and done.level == QualitativeLevel.IMPLEMENTED
    assert done.method_label and done.kind_label == "定性"
    with uow_for(county) as uow:  # the office may submit for any department
        ledger.submit(uow, submission("A01-S1-01", value=120.0), users["office"], DAY)
    assert submitted(county, "A01-S1-01") == (120.0, None)


def test_scores_are_scoped_by_the_reader(county: str, users: dict[str, Actor]) -> None:
    run_phase(county, users["office"])
    with uow_for(county, readonly=True) as uow:
        for who in ("office", "leader", "auditor", "admin"):
            rows = assessment.list_scores(uow, users[who], J, 2022, MID)
            assert [r.code for r in rows] == ["A01", "A02", "B01"], who
        own = assessment.list_scores(uow, users["A01"], J, 2022, MID)
        assert [(r.code, r.rank) for r in own] == [("A01", None)]
        why = assessment.score_explanation(uow, users["A01"], J, 2022, MID, "A01")
    assert why.score.total == pytest.approx(99.25)
    assert "总分 99.3 分" in why.text
    assert why.breakdown.code == "A01"
    # stored as numbers and codes; the rules and labels are rendered for the reader
    assert why.breakdown.indicators and all(i.rule for i in why.breakdown.indicators)
    assert why.breakdown.component("ledger").label == "主责主业履职成效"
    assert why.breakdown.total_display == "99.3"
    with pytest.raises(PermissionDenied, match="not of department A01"), uow_for(county) as uow:
        assessment.score_explanation(uow, users["A01"], J, 2022, MID, "A02")
    with pytest.raises(PermissionDenied, match="not of department A01"), uow_for(county) as uow:
        assessment.list_scores(uow, users["A01"], J, 2022, MID, department="B01")


# ------------------------------------------------------------------ refusals change nothing

Case = Callable[[UnitOfWork, Actor], Any]


def submission(code: str, *, value: float | None = None) -> ledger.Submit:
    return ledger.Submit(
        jurisdiction=J,
        year=2022,
        phase=MID,
        indicator=code,
        value=value,
        level=None if value is not None else QualitativeLevel.IMPLEMENTED,
        method=Method.ON_SITE,
        on=DAY,
    )


def _score(uow: UnitOfWork, actor: Actor) -> Any:
    ids = [d.id for d in uow.departments.views(uow.jurisdictions.require(J).id or 0)]
    return assessment.score_batch(uow, J, 2022, MID, ids, actor)


def _store(uow: UnitOfWork, actor: Actor) -> Any:
    with uow_for(uow.app.db_url, readonly=True) as reader:
        scores = _score(reader, identity.actor_for(reader, "office"))
    return assessment.store_scores(uow, J, 2022, MID, scores, actor, DAY)


CASES: dict[str, Case] = {
    "collect": lambda uow, a: assessment.open_and_collect(uow, J, 2022, MID, a, date(2022, 8, 1)),
    "submit": lambda uow, a: ledger.submit(uow, submission("B01-S1-01"), a, DAY),
    "draw": lambda uow, a: assessment.make_or_load_draw(uow, J, 2022, MID, a, seed=3),
    "score": _score,
    "store": _store,
    "finish": lambda uow, a: assessment.finish_assessment(uow, J, 2022, MID, a, DAY, changed=1),
}
# (use case, who tries it, why it is refused)
REFUSALS = [
    *[(case, "A01", "department") for case in CASES],  # A01 acting on B01 / on the whole phase
    *[(case, "leader", "leader role") for case in CASES],
    *[(case, "disabled", "disabled") for case in CASES],
]


@pytest.mark.parametrize(("case", "who", "why"), REFUSALS, ids=[f"{c}-{w}" for c, w, _ in REFUSALS])
def test_refused_actions_change_nothing(
    county: str, users: dict[str, Actor], case: str, who: str, why: str
) -> None:
    with uow_for(county) as uow:  # a phase with everything in it, so there is something to lose
        assessment.open_and_collect(uow, J, 2022, MID, users["office"], DAY)
    before = snapshot(county)
    with pytest.raises(PermissionDenied, match=why), uow_for(county) as uow:
        CASES[case](uow, users[who])
    assert snapshot(county) == before
    refusals = [r for r in audit_rows(county, everything=True) if r[2] == "access_denied"]
    assert refusals[-1][:2] == (users[who].login, users[who].user_id)


def test_cli_scores_explain_and_refuse(county: str, users: dict[str, Actor]) -> None:
    run_phase(county, users["office"])
    base = ["--year", "2022", "--phase", "mid-year", "--db", county]
    why = runner.invoke(app, ["scores", *base, "--department", "A01", "--as", "A01lx"])
    assert why.exit_code == 0, why.output
    assert "县发展和改革局(A01)总分" in why.output
    listed = runner.invoke(app, ["scores", *base, "--as", "A01lx", "--json"])
    assert listed.exit_code == 0 and '"code": "A02"' not in listed.output
    table = runner.invoke(app, ["scores", *base, "--as", "lead"])
    assert table.exit_code == 0 and "A02" in table.output
    before = snapshot(county)
    refused = runner.invoke(
        app,
        ["submit", *base, "--indicator", "B01-S1-01", "--level", "implemented", "--as", "A01lx"],
    )
    assert refused.exit_code == 3 and "not of department A01" in refused.output
    assert snapshot(county) == before
    ok = runner.invoke(
        app,
        ["submit", *base, "--indicator", "B01-S1-01", "--level", "implemented", "--as", "B01lx"],
    )
    assert ok.exit_code == 0 and "B01-S1-01 (B01)" in ok.output


# ------------------------------------------------------------------ helpers

TABLES = (
    "phase",
    "submissionrequest",
    "submission",
    "indicatorhistory",
    "onsitedraw",
    "onsiteassignment",
    "departmentassessment",
)


def snapshot(url: str) -> dict[str, Any]:
    """Every row of the tables the use cases change, and the audit log without refusals."""
    with get_engine(url).connect() as conn:
        state: dict[str, Any] = {
            name: sorted(
                tuple(str(v) for v in row) for row in conn.execute(text(f"SELECT * FROM {name}"))
            )
            for name in TABLES
        }
    state["audit"] = audit_rows(url)
    return state


def audit_rows(url: str, *, everything: bool = False) -> list[tuple[str, int | None, str]]:
    where = "" if everything else "WHERE action <> 'access_denied'"
    with get_engine(url).connect() as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                text(f"SELECT actor, user_id, action FROM auditlog {where} ORDER BY id")
            )
        ]


def submitted(url: str, code: str) -> tuple[float | None, str | None]:
    with get_engine(url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT s.value, s.level FROM submission s JOIN indicator i ON i.id = s.indicator_id "
                "WHERE i.code = :c"
            ),
            {"c": code},
        ).one()
    return row[0], row[1]


def _stored_rows(url: str) -> dict[str, tuple[str, str, Any]]:
    """code -> (breakdown as stored text, breakdown_hash, computed_at) of the phase's scores."""
    with get_engine(url).connect() as conn:
        return {
            code: (raw, digest, at)
            for code, raw, digest, at in conn.execute(
                text(
                    "SELECT d.code, CAST(a.breakdown AS TEXT), a.breakdown_hash, a.computed_at "
                    "FROM departmentassessment a JOIN department d ON d.id = a.department_id"
                )
            )
        }


def test_scores_are_stored_compactly_and_a_rerun_compares_hashes(
    county: str, users: dict[str, Actor]
) -> None:
    run_phase(county, users["office"])
    first = _stored_rows(county)
    assert set(first) == {"A01", "A02", "B01"}
    for code, (raw, digest, _) in first.items():
        assert digest == hashlib.sha256(raw.encode()).hexdigest(), code  # the text as hashed
        assert "得分" not in raw and "归责" not in raw and '"rule"' not in raw  # no prose
        assert '"missing":false' not in raw  # values at their defaults are left out

    # one department's input changes: only its row is written again
    with get_engine(county).begin() as conn:
        conn.execute(text("UPDATE indicator SET weight = 3 WHERE code = 'A01-S1-01'"))
    assert run_phase(county, users["office"])[3].changed == 1
    second = _stored_rows(county)
    assert second["A01"][1] != first["A01"][1] and second["A01"][2] != first["A01"][2]
    assert {c: second[c] for c in ("A02", "B01")} == {c: first[c] for c in ("A02", "B01")}

    # a score stored before migration 0012 (no hash) is rewritten once, then left alone
    with get_engine(county).begin() as conn:
        conn.execute(text("UPDATE departmentassessment SET breakdown_hash = ''"))
    assert run_phase(county, users["office"])[3].changed == 3
    assert run_phase(county, users["office"])[3].changed == 0


# ------------------------------------------------------------------ mid-year like with like


def _cumulative_county(folder: Path, same_period: object) -> Path:
    """The small county with A01-S1-01 (重点项目投资额, 万元) left to the unit rule, so it is
    cumulative: its mid-year 50 is half a year's investment, against 100 for the whole of 2021."""
    import csv

    from tests.flows.small_county import SHEETS

    sheets = {key: [list(r) for r in rows] for key, rows in SHEETS.items()}
    header = sheets["indicators"][0]
    header.append("same_period_value")
    for row in sheets["indicators"][1:]:
        row.append("")
        if row[0] == "A01-S1-01":
            row[header.index("cumulative")] = ""
            row[-1] = same_period
    for row in sheets["submissions"][1:]:
        if row[:2] == ["年中", "A01-S1-01"]:
            row[2] = 50
    folder.mkdir(parents=True, exist_ok=True)
    for key, rows in sheets.items():
        with (folder / f"{key}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return folder


def test_mid_year_compares_a_cumulative_indicator_only_with_its_same_period_value(
    db_url: str, tmp_path: Path
) -> None:
    from bihuan.services import problems

    import_path(
        db_url, _cumulative_county(tmp_path / "a", ""), year=2022, jurisdiction=J, actor="t"
    )
    actor = office(db_url)

    def keys() -> set[str]:
        run_phase(db_url, actor)
        with uow_for(db_url) as uow:
            problems.raise_findings(uow, J, 2022, MID, actor, DAY)
        with uow_for(db_url, readonly=True) as uow:
            found = problems.list_findings(uow, actor, J, 2022, MID)
        return {f.key for f in found}

    # no 同期值: 50 is not failed against last year's full 100 (it would score 0)
    assert "mid-year:indicator:A01-S1-01" not in keys()
    with uow_for(db_url, readonly=True) as uow:
        why = assessment.score_explanation(uow, actor, J, 2022, MID, "A01")
    [line] = [i for i in why.breakdown.indicators if i.code == "A01-S1-01"]
    assert not line.compared and line.score == 80 and "不与全年数值比较" in why.text
    # the corrected ledger gives last June's 80: −37.5 %, trend 5, a finding
    import_path(
        db_url, _cumulative_county(tmp_path / "b", 80), year=2022, jurisdiction=J, actor="t"
    )
    assert "mid-year:indicator:A01-S1-01" in keys()
