"""Findings, problem lists, approval and rectification items on the small hand-built county."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.errors import PermissionDenied
from bihuan.ingest.load import import_path
from bihuan.vocab import PhaseKind, UserRole
from flows.cycle import annual_cycle
from flows.problems import check_approver, issue_problem_lists
from tests.flows.small_county import write_small_county
from tests.users import make_user, office

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


def issue(**kw: Any) -> Any:
    return issue_problem_lists(jurisdiction="juxian", run_as="office", year=2022, phase=MID, **kw)


def rows(url: str, sql: str) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_findings_follow_the_rules_and_never_duplicate(assessed: str) -> None:
    first = issue(as_of=date(2022, 7, 4), wait_for_approval=False)
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
    again = issue(as_of=date(2022, 7, 4), wait_for_approval=False)
    assert again.new_findings == 0
    assert rows(assessed, "SELECT count(*) FROM finding")[0][0] == 4


def test_auto_approval_creates_items_with_working_day_deadlines_and_outbox_rows(
    assessed: str,
) -> None:
    done = issue(as_of=date(2022, 9, 28), auto_approve="office")
    assert done.approved_by == "office" and done.items_created == 4 and done.approved_lists == 3
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
        assessed,
        "SELECT a.actor, u.display_name FROM auditlog a JOIN useraccount u ON u.id = a.user_id "
        "WHERE action = 'problem_lists_approved'",
    )
    assert audit == [("office", "编办王主任")]
    # re-running after approval changes nothing
    again = issue(as_of=date(2022, 9, 29), auto_approve="office")
    assert again.items_created == 0
    assert rows(assessed, "SELECT count(*) FROM notification")[0][0] == 3
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 4


def test_auto_approval_by_someone_not_of_the_office_is_refused_and_changes_nothing(
    assessed: str,
) -> None:
    make_user(assessed, "a02lx", UserRole.DEPARTMENT, department="A02")
    for login in ("a02lx", "王主任"):  # a department user; a name that is no login
        with pytest.raises(PermissionDenied, match=login):
            issue(as_of=date(2022, 9, 28), auto_approve=login)
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 0
    assert rows(assessed, "SELECT count(*) FROM notification")[0][0] == 0
    assert rows(assessed, "SELECT DISTINCT status FROM finding") == [("proposed",)]
    refused = rows(assessed, "SELECT actor FROM auditlog WHERE action = 'access_denied'")
    assert sorted(a for (a,) in refused) == ["a02lx", "王主任"]
    # the form's check says why, and records it too
    assert "no user with this login" in check_approver.fn("juxian", "李科长")
    assert check_approver.fn("juxian", "office") == ""
    assert rows(assessed, "SELECT count(*) FROM auditlog WHERE action = 'access_denied'")[0][0] == 3


def test_a_run_as_someone_not_of_the_office_is_refused(assessed: str) -> None:
    make_user(assessed, "lead", UserRole.LEADER)
    with pytest.raises(PermissionDenied, match="lead"):
        issue_problem_lists(
            jurisdiction="juxian", run_as="lead", year=2022, phase=MID, as_of=date(2022, 7, 4)
        )
    assert rows(assessed, "SELECT count(*) FROM finding")[0][0] == 0


def test_cli_issue_then_approve_with_a_drop_and_a_deadline_change(
    assessed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from bihuan.cli import _register_commands, app

    monkeypatch.setenv("BIHUAN_JURISDICTION", "juxian")
    make_user(assessed, "a02lx", UserRole.DEPARTMENT, department="A02")
    _register_commands()
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, [*args, "--db", assessed])

    year_phase = ["--year", "2022", "--phase", "mid-year"]
    out = cli("problems", "issue", *year_phase, "--as-of", "2022-07-04", "--as", "office")
    assert out.exit_code == 0, out.output
    assert "awaiting approval" in out.output and "--as LOGIN" in " ".join(out.output.split())
    listed = cli("findings", "--year", "2022", "--json", "--as", "office")
    found = {f["key"]: f for f in json.loads(listed.stdout)}
    assert found["mid-year:submission"]["severity_label"] == "严重"
    drop_id = found["mid-year:satisfaction"]["id"]
    move_id = found["mid-year:chain:CT1"]["id"]
    own = cli("findings", "--year", "2022", "--json", "--as", "a02lx")
    assert {f["department"] for f in json.loads(own.stdout)} == {"A02"}
    bad = cli("problems", "approve", *year_phase, "--approver", "office", "--drop", "9999:no such")
    assert bad.exit_code == 1 and "9999" in bad.output
    assert "findings --year 2022 --phase mid-year" in " ".join(bad.output.split())  # a real command
    # a department user may not approve: exit 3, nothing changes, the refusal is recorded
    refused = cli("problems", "approve", *year_phase, "--as", "a02lx", "--as-of", "2022-07-05")
    assert refused.exit_code == 3 and "a02lx" in refused.output
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 0
    assert rows(assessed, "SELECT actor FROM auditlog WHERE action = 'access_denied'") == [
        ("a02lx",)
    ]
    # a deadline set by hand on a Saturday: refused with the next working day, nothing changes
    saturday = cli(
        "problems", "approve", *year_phase, "--approver", "office", "--as-of", "2022-07-05",
        "--deadline", f"{move_id}:2022-08-27",
    )  # fmt: skip
    assert saturday.exit_code == 1, saturday.output
    said = " ".join(saturday.output.split())
    assert "2022-08-27 (星期六) is not a working day" in said
    assert "the next working day is 2022-08-29 (星期一)" in said
    assert rows(assessed, "SELECT count(*) FROM rectificationitem")[0][0] == 0
    nobody = cli("problems", "approve", *year_phase, "--approver", "王主任")
    assert nobody.exit_code != 0 and "王主任" in nobody.output
    ok = cli(
        "problems",
        "approve",
        *year_phase,
        "--approver",
        "office",
        "--drop",
        f"{drop_id}:town ratings were incomplete",
        "--deadline",
        f"{move_id}:2022-08-31",
        "--as-of",
        "2022-07-05",
    )
    assert ok.exit_code == 0, ok.output
    assert "approved by office (编办王主任)" in ok.output
    items = dict(
        rows(
            assessed,
            "SELECT f.key, r.deadline FROM rectificationitem r JOIN finding f ON f.id = r.finding_id",
        )
    )
    assert "mid-year:satisfaction" not in items and str(items["mid-year:chain:CT1"]) == "2022-08-31"
    actions = {a for (a,) in rows(assessed, "SELECT action FROM auditlog WHERE actor = 'office'")}
    assert {"finding_dropped", "deadline_changed", "problem_lists_approved"} <= actions
    lists = cli("problems", "list", "--year", "2022", "--json", "--as", "a02lx")
    assert lists.exit_code == 0, lists.output
    assert [(r["department"], r["status_label"]) for r in json.loads(lists.stdout)] == [
        ("A02", "已发送")
    ]
    # corrections after issue (修改/撤销问题): the office's alone, with a reason
    day = ["--as-of", "2022-07-06"]
    refused = cli("problems", "withdraw", str(move_id), "--reason", "不成立", "--as", "a02lx", *day)
    assert refused.exit_code == 3, refused.output
    dropped = cli(
        "problems", "withdraw", str(drop_id), "--reason", "不成立", "--as", "office", *day
    )
    assert dropped.exit_code == 1 and "dropped at approval" in " ".join(dropped.output.split())
    moved = cli(
        "problems", "amend", str(move_id), "--reason", "期限有误", "--deadline", "2022-09-03",
        "--as", "office", *day,
    )  # fmt: skip
    assert moved.exit_code == 1
    assert "the next working day is 2022-09-05" in " ".join(moved.output.split())
    amended = cli(
        "problems", "amend", str(move_id), "--reason", "期限有误", "--deadline", "2022-09-05",
        "--as", "office", "--json", *day,
    )  # fmt: skip
    assert amended.exit_code == 0, amended.output
    assert json.loads(amended.stdout)["deadline"] == "2022-09-05"
    gone = cli("problems", "withdraw", str(move_id), "--reason", "不成立", "--as", "office", *day)
    assert gone.exit_code == 0 and "已撤销" in gone.output
    again = cli("problems", "withdraw", str(move_id), "--reason", "不成立", "--as", "office", *day)
    assert again.exit_code == 0 and "nothing changed" in " ".join(again.output.split())
    assert rows(assessed, "SELECT count(*) FROM notification WHERE kind = 'correction'") == [(2,)]


def test_cli_preview_writes_each_list_then_approves_one_department_at_a_time(
    assessed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from bihuan.cli import _register_commands, app

    monkeypatch.setenv("BIHUAN_JURISDICTION", "juxian")
    _register_commands()
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, [*args, "--db", assessed])

    year_phase = ["--year", "2022", "--phase", "mid-year"]
    assert issue(as_of=date(2022, 7, 4), wait_for_approval=False).awaiting_approval
    out = tmp_path / "preview"
    shown = cli(
        "problems",
        "preview",
        *year_phase,
        "--out",
        str(out),
        "--as-of",
        "2022-09-28",
        "--as",
        "office",
    )
    assert shown.exit_code == 0, shown.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"{d}-2022-mid-year.{ext}" for d in ("A01", "A02", "B01") for ext in ("html", "txt")
    ]
    assert "4 findings in 3 lists" in " ".join(shown.output.split())
    b01 = (out / "B01-2022-mid-year.html").read_text(encoding="utf-8")
    assert "问题清单" in b01 and "2022年10月17日" in b01  # 10 working days from Sep 28
    one = cli(
        "problems",
        "preview",
        *year_phase,
        "--out",
        str(tmp_path / "one"),
        "--department",
        "A02",
        "--json",
        "--as-of",
        "2022-09-28",
        "--as",
        "office",
    )
    assert one.exit_code == 0, one.output
    data = json.loads(one.stdout)
    assert [p["department"] for p in data["lists"]] == ["A02"] and "html" not in data["lists"][0]
    assert rows(assessed, "SELECT count(*) FROM notification")[0][0] == 0  # nothing sent
    saturday = cli(
        "problems",
        "approve",
        *year_phase,
        "--as",
        "office",
        "--department",
        "A02",
        "--deadline",
        f"{data['lists'][0]['findings'][0]['finding_id']}:2022-10-15",
        "--as-of",
        "2022-09-28",
    )
    assert saturday.exit_code == 1 and "2022-10-17" in saturday.output
    ok = cli(
        "problems",
        "approve",
        *year_phase,
        "--as",
        "office",
        "--department",
        "A02",
        "--as-of",
        "2022-09-28",
    )
    assert ok.exit_code == 0, ok.output
    assert "of A02: 1 lists sent" in ok.output and "2 findings of other departments" in ok.output
    lists = json.loads(cli("problems", "list", "--year", "2022", "--json", "--as", "office").stdout)
    assert {r["department"]: r["status"] for r in lists} == {
        "A01": "draft",
        "A02": "sent",
        "B01": "draft",
    }
