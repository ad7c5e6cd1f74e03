"""Items made by the real flows (assessment, problem lists with approval) answered and closed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import typer
from typer.testing import CliRunner

from bihuan.cli import BihuanGroup
from bihuan.commands import rectify as rectify_commands
from bihuan.ingest.load import import_path
from bihuan.vocab import UserRole
from flows.cycle import annual_cycle
from flows.problems import issue_problem_lists
from models import PhaseKind
from tests.flows.small_county import write_small_county
from tests.users import make_user, office

MID = PhaseKind.MID_YEAR
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
cli = typer.Typer(cls=BihuanGroup)  # the same error handling as the real `bihuan` app
rectify_commands.register(cli)
runner = CliRunner()


@pytest.fixture
def issued(tmp_path: Path, db_url: str, use_db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    use_db(db_url)
    import_path(
        db_url, write_small_county(tmp_path / "c"), year=2022, jurisdiction="juxian", actor="t"
    )
    boss = office(db_url).login
    annual_cycle(
        jurisdiction="juxian", run_as=boss, year=2022, phase=MID, as_of=date(2022, 7, 1), seed=7
    )
    summary = issue_problem_lists(
        jurisdiction="juxian",
        run_as=boss,
        year=2022,
        phase=MID,
        as_of=date(2022, 7, 4),
        auto_approve=boss,
        wait_for_approval=False,
    )
    assert summary.items_created == 4
    make_user(db_url, "likz", UserRole.OFFICE, name="李科长")
    make_user(db_url, "A01lx", UserRole.DEPARTMENT, department="A01", name="张三")
    make_user(db_url, "B01lx", UserRole.DEPARTMENT, department="B01", name="教体局联络人")
    return db_url


def cmd(*args: str) -> Any:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_items_from_the_flows_go_round_the_loop(issued: str, tmp_path: Path) -> None:
    listed = json.loads(cmd("rectifications", "--json", "--year", "2022", "--as", "likz").output)
    by_dept = {(r["department"], r["category"]): r for r in listed}
    assert {r["status"] for r in listed} == {"open"} and len(listed) == 4
    staffing = by_dept[("A01", "staffing")]
    missing = by_dept[("B01", "missing_submission")]
    assert missing["severity"] == "high" and missing["deadline"] == "2022-07-18"

    # B01 answers through the workbook (which it imports itself), A01 on the command line,
    # the office decides
    out = tmp_path / "out"
    cmd("rectify", "export", "--out", str(out), "--as", "B01lx")
    assert [p.name for p in out.iterdir()] == ["整改台账-B01-县教育和体育局.xlsx"]
    b01 = out / "整改台账-B01-县教育和体育局.xlsx"
    wb = openpyxl.load_workbook(b01)
    ws = wb["整改台账"]
    ws["G2"], ws["H2"], ws["I2"] = "已补报履职材料", "是", "补报材料清单"
    wb.save(b01)
    cmd("rectify", "import", str(b01), "--as-of", "2022-07-15", "--as", "B01lx")
    cmd("rectify", "verify", str(missing["id"]), "--accept", "--note", "材料齐全",
        "--as-of", "2022-07-18", "--as", "likz")  # fmt: skip
    proof = tmp_path / "入编登记表.pdf"
    proof.write_bytes(b"%PDF registration")
    cmd("rectify", "report", str(staffing["id"]), "--fixed", "--progress", "已补办",
        "--evidence", str(proof), "--as-of", "2022-07-20", "--version", "1",
        "--as", "A01lx")  # fmt: skip

    shown = json.loads(cmd("rectify", "show", str(missing["id"]), "--json", "--as", "B01lx").output)
    assert [h["action"] for h in shown["history"]] == ["issued", "report_fixed", "verify_accept"]
    # the history names people: the approver, the department's contact, the office's verifier
    assert [h["actor"] for h in shown["history"]] == ["编办王主任", "教体局联络人", "李科长"]
    closed = json.loads(
        cmd("rectifications", "--json", "--status", "verified_closed", "--as", "likz").output
    )
    assert [r["id"] for r in closed] == [missing["id"]]
    reported = json.loads(
        cmd("rectifications", "--json", "--status", "reported_fixed", "--as", "A01lx").output
    )
    assert [r["id"] for r in reported] == [staffing["id"]]
    stored = list((tmp_path / "home" / "var" / "evidence" / str(staffing["id"])).iterdir())
    assert len(stored) == 1 and stored[0].name.endswith("-入编登记表.pdf")
