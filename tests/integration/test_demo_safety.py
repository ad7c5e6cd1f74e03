"""`bihuan demo` never harms a real installation: it wipes its database only when that is new,
empty or holds the demo county alone, on SQLite as on PostgreSQL (issue 10.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bihuan.backup import contents
from bihuan.cli import _register_commands, app
from bihuan.ingest.load import import_path
from bihuan.vocab import UserRole
from tests.users import make_user

from .workbooks import YEAR, good_rows, write_xlsx

_register_commands()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


def county(url: str, tmp_path: Path) -> None:
    """A county's own installation: its ledger and its office user."""
    make_user(url, "zhangsan", UserRole.OFFICE)
    import_path(
        url,
        write_xlsx(tmp_path / "x.xlsx", good_rows()),
        year=YEAR,
        jurisdiction="juxian",
        actor="zhangsan",
    )


def test_the_demo_refuses_a_countys_database_and_leaves_it_as_it_was(
    db_url: str, tmp_path: Path
) -> None:
    county(db_url, tmp_path)
    before = contents(db_url)
    result = runner.invoke(app, ["demo", "--db", db_url, "--departments", "6"])
    assert result.exit_code == 1, result.output
    assert "holds more than the demo county" in result.output
    assert "juxian was not made by the demo" in result.output and "zhangsan" in result.output
    assert contents(db_url) == before


def test_the_demo_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"PK\\x03\\x04 a workbook someone saved as .db")
    result = runner.invoke(app, ["demo", "--db", str(path), "--departments", "6"])
    assert result.exit_code == 1 and "is not a SQLite database" in result.output
    assert path.read_bytes().startswith(b"PK")
