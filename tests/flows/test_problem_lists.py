"""Findings, problem lists, approval and rectification items on the small hand-built county."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from flows.cycle import annual_cycle
from flows.problems import issue_problem_lists
from models import PhaseKind
from tests.flows.small_county import write_small_county
from tests.users import office

MID = PhaseKind.MID_YEAR


@pytest.fixture
def assessed(tmp_path: Path, db_url: str, use_db: Any) -> str:
    use_db(db_url)
    import_path(
        db_url, write_small_county(tmp_path / "c"), year=2022, jurisdiction="juxian", actor="t"
    )
    annual_cycle(
        jurisdiction="juxian",
        run_as=office(db_url).login,
        year=2022,
        phase=MID,
        as_of=date(2022, 7, 1),
        seed=7,
    )
    return db_url


def rows(url: str, sql: str) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_findings_follow_the_rules_and_never_duplicate(assessed: str) -> None:
    first = issue_problem_lists(
        year=2022, phase=MID, as_of=date(2022, 7, 4), wait_for_approval=False
    )
    assert first.awaiting_approval and first.items_created == 0
    found = {
        (d, k)
        for d, k in rows(
            assessed,
            "SELECT d.code, f.key FROM finding f JOIN department d ON d.id = f.department_id",
        )
    }
    assert found == {
        ("A01", "mid-year:staffing:real_name"),  # one problem: 入编出编不及时
        ("A02", "mid-year:chain:CT1"),  # 60 % delivered, below 80 %: responsible for the shortfall
        ("A02", "mid-year:satisfaction"),  # towns rated 3/5 → 50 < 70
        ("B01", "mid-year:submission"),  # nothing submitted in the window
    }
    # nothing is sent before approval
    assert rows(assessed, "SELECT count(*) FROM notification")[0][0] == 0
    again = issue_problem_lists(
        year=2022, phase=MID, as_of=date(2022, 7, 4), wait_for_approval=False
    )
    assert again.new_findings == 0
    assert rows(assessed, "SELECT count(*) FROM finding")[0][0] == 4


def test_auto_approval_creates_items_with_working_day_deadlines_and_outbox_rows(
    assessed: str,
) -> None:
    done = issue_problem_lists(year=2022, phase=MID, as_of=date(2022, 9, 28), auto_approve="王主任")
    assert done.approved_by == "王主任" and done.items_created == 4 and done.approved_lists == 3
    deadlines = dict(
        rows(
            assessed,
            "SELECT f.key, r.deadline FROM rectificationitem r JOIN finding f ON f.id = r.finding_id",
        )
    )
    # high severity: 10 working days from 2022-09-28 across National Day (Oct 1–7 off,
    # Sat Oct 8 and Sun Oct 9 worked in exchange): Sep 29, 30, Oct 8, 9, 10, 11, 12, 13, 14, 17
    assert str(deadlines["mid-year:submission"]) == "2022-10-17"
    sent = rows(
        assessed, "SELECT recipient_tag, kind, subject FROM notification ORDER BY recipient_tag"
    )
    assert [(t, k) for t, k, _ in sent] == [
        ("a01", "problem_list"),
        ("a02", "problem_list"),
        ("b01", "problem_list"),
    ]
    assert all("问题清单" in s for _, _, s in sent)
    audit = rows(
        assessed, "SELECT actor, action FROM auditlog WHERE action = 'problem_lists_approved'"
    )
    assert audit == [("王主任", "problem_lists_approved")]
    # re-running after approval changes nothing
    again = issue_problem_lists(
        year=2022, phase=MID, as_of=date(2022, 9, 29), auto_approve="王主任"
    )
    assert again.items_created == 0
    assert rows(assessed, "SELECT count(*) FROM notification")[0][0] == 3
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 4


def test_cli_issue_then_approve_with_a_drop_and_a_deadline_change(
    assessed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from bihuan.cli import _register_commands, app

    monkeypatch.setenv("BIHUAN_JURISDICTION", "juxian")
    _register_commands()
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "problems",
            "issue",
            "--year",
            "2022",
            "--phase",
            "mid-year",
            "--as-of",
            "2022-07-04",
            "--db",
            assessed,
        ],
    )
    assert out.exit_code == 0, out.output
    assert "awaiting approval" in out.output
    listed = runner.invoke(app, ["findings", "--year", "2022", "--json", "--db", assessed])
    found = {f["key"]: f for f in json.loads(listed.stdout)}
    drop_id = found["mid-year:satisfaction"]["id"]
    move_id = found["mid-year:chain:CT1"]["id"]
    bad = runner.invoke(
        app,
        [
            "problems",
            "approve",
            "--year",
            "2022",
            "--phase",
            "mid-year",
            "--approver",
            "王主任",
            "--drop",
            "9999:no such",
            "--db",
            assessed,
        ],
    )
    assert bad.exit_code == 1 and "9999" in bad.output
    assert "findings --year 2022 --phase mid-year" in " ".join(bad.output.split())  # a real command
    unknown = runner.invoke(
        app,
        [
            "scores",
            "--year",
            "2022",
            "--phase",
            "mid-year",
            "--department",
            "ZZZ",
            "--as",
            "office",
            "--db",
            assessed,
        ],
    )
    assert unknown.exit_code == 1 and "no department 'ZZZ'" in unknown.output
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 0
    ok = runner.invoke(
        app,
        [
            "problems",
            "approve",
            "--year",
            "2022",
            "--phase",
            "mid-year",
            "--approver",
            "王主任",
            "--drop",
            f"{drop_id}:town ratings were incomplete",
            "--deadline",
            f"{move_id}:2022-08-31",
            "--as-of",
            "2022-07-05",
            "--db",
            assessed,
        ],
    )
    assert ok.exit_code == 0, ok.output
    items = dict(
        rows(
            assessed,
            "SELECT f.key, r.deadline FROM rectificationitem r JOIN finding f ON f.id = r.finding_id",
        )
    )
    assert "mid-year:satisfaction" not in items and str(items["mid-year:chain:CT1"]) == "2022-08-31"
    actions = {a for (a,) in rows(assessed, "SELECT action FROM auditlog WHERE actor = '王主任'")}
    assert {"finding_dropped", "deadline_changed", "problem_lists_approved"} <= actions
