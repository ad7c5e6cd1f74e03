"""Departments and indicators through the use cases and the CLI, scoped by the acting user."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.errors import PermissionDenied
from bihuan.ingest.load import import_path
from bihuan.services import org
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from tests.users import app_for, make_user

from .workbooks import YEAR, good_rows, write_xlsx

_register_commands()
runner = CliRunner()


@pytest.fixture
def county(db_url: str, tmp_path: Path) -> str:
    import_path(
        db_url,
        write_xlsx(tmp_path / "x.xlsx", good_rows()),
        year=YEAR,
        jurisdiction="juxian",
        actor="t",
    )
    return db_url


def test_each_role_sees_its_departments(county: str) -> None:
    leader = make_user(county, "lead", UserRole.LEADER)
    d01 = make_user(county, "D01lx", UserRole.DEPARTMENT, department="D01")
    with UnitOfWork(app_for(county), readonly=True) as uow:
        assert [d.code for d in org.list_departments(uow, leader, "juxian")] == [
            "D01",
            "D02",
            "D03",
        ]
        assert [d.code for d in org.list_departments(uow, d01, "juxian")] == ["D01"]
        assert {i.department for i in org.list_indicators(uow, d01, "juxian", YEAR)} == {"D01"}
        rows = org.list_departments(uow, leader, "juxian")
    assert rows[0].category_label in ("经济部门", "非经济部门")


def test_department_user_asking_for_another_department_is_refused(county: str) -> None:
    d01 = make_user(county, "D01lx", UserRole.DEPARTMENT, department="D01")
    with (
        pytest.raises(PermissionDenied, match="is not of department D01"),
        UnitOfWork(app_for(county), readonly=True) as uow,
    ):
        org.list_indicators(uow, d01, "juxian", YEAR, department="D02")


def test_cli_departments_json_needs_a_user(county: str) -> None:
    make_user(county, "lead", UserRole.LEADER)
    result = runner.invoke(app, ["departments", "--json", "--db", county])
    assert result.exit_code == 1 and "who is acting" in result.output
    result = runner.invoke(app, ["departments", "--json", "--db", county, "--as", "lead"])
    assert result.exit_code == 0, result.output
    assert '"category_label": "经济部门"' in result.output


def test_listings_are_bounded_and_say_how_many_match(county: str) -> None:
    make_user(county, "lead", UserRole.LEADER)
    result = runner.invoke(
        app,
        [
            "indicators",
            "--year",
            str(YEAR),
            "--json",
            "--limit",
            "5",
            "--db",
            county,
            "--as",
            "lead",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count('"code"') == 5
    assert "showing 5 of 26 indicators" in result.stderr
