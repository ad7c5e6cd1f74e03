"""`bihuan calendar show / check / import-notice` through the real Typer app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import bihuan.commands.calendar as calendar_command
from bihuan.cli import _register_commands, app
from bihuan.errors import ConfigError
from bihuan.policy import Policy

_register_commands()
runner = CliRunner()

REPO = Path(__file__).resolve().parents[2]
NOTICES = REPO / "tests" / "fixtures" / "notices"

# Not a published notice: a made-up 2027 arrangement in the published form, to import.
NOTICE_2027 = """\
国务院办公厅关于2027年部分节假日安排的通知

一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月5日（农历除夕、周五）至12日（农历正月初七、周五）放假调休，共8天。2月20日（周六）、2月21日（周日）上班。
三、清明节：4月3日（周六）至5日（周一）放假，共3天。
四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。4月25日（周日）、5月8日（周六）上班。
五、端午节：6月9日（周三）放假，共1天。
六、中秋节：9月15日（周三）放假，共1天。
七、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。
"""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(autouse=True)
def _an_admin(sqlite_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Importing a notice changes the policy: an admin's action, recorded in the database."""
    from bihuan.settings import reset_settings
    from bihuan.vocab import UserRole
    from tests.users import make_user

    make_user(sqlite_db, "root", UserRole.ADMIN)
    make_user(sqlite_db, "wang", UserRole.OFFICE)
    monkeypatch.setenv("BIHUAN_DATABASE_URL", sqlite_db)
    monkeypatch.setenv("BIHUAN_USER", "root")
    reset_settings()
    return sqlite_db


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "policy.toml"
    path.parent.mkdir()
    shutil.copy(REPO / "config" / "policy.toml", path)
    return path


@pytest.fixture
def notice_2027(tmp_path: Path) -> Path:
    path = tmp_path / "2027.txt"
    path.write_text(NOTICE_2027, encoding="utf-8")
    return path


def run(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["calendar", *args], input=input)


@pytest.mark.parametrize("command", [[], ["show"], ["check"], ["import-notice"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_show_a_provisional_year(policy: Path) -> None:
    result = run("show", "--year", "2027", "--config", str(policy), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provisional"] is True and data["source"] == "provisional"
    assert data["official_until"] == "2026-12-31"
    assert data["workdays_in_year"] == 254
    assert [d["date"] for d in data["days"] if d["name"] == "春节"] == [
        "2027-02-05",
        "2027-02-06",
        "2027-02-07",
        "2027-02-08",
    ]
    assert all(d["provisional"] and d["kind"] == "holiday" for d in data["days"])
    table = run("show", "--year", "2027", "--config", str(policy))
    assert table.exit_code == 0
    assert "暂定" in table.output and "端午节" in table.output


def test_show_a_package_year(policy: Path) -> None:
    result = run("show", "--year", "2026", "--config", str(policy), "--json")
    data = json.loads(result.stdout)
    assert data["provisional"] is False and data["source"] == "package"
    days = {d["date"]: d for d in data["days"]}
    assert days["2026-02-14"] == {
        "date": "2026-02-14",
        "weekday": "周六",
        "kind": "workday",
        "name": "春节",
        "festival": "spring_festival",
        "source": "package",
        "provisional": False,
    }


def test_show_an_unknown_year_with_provisional_off(policy: Path) -> None:
    text = policy.read_text(encoding="utf-8").replace("provisional = true", "provisional = false")
    policy.write_text(text, encoding="utf-8")
    result = run("show", "--year", "2027", "--config", str(policy))
    assert result.exit_code == 2
    assert "no working-day calendar for 2027" in result.output
    assert "Traceback" not in result.output


def test_check_warns_near_the_end_of_coverage(policy: Path) -> None:
    result = run("check", "--as-of", "2026-12-03", "--config", str(policy), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["official_until"] == "2026-12-31" and data["days_left"] == 28
    assert data["warn_days_before_end"] == 60
    assert "import-notice" in data["warning"] and "2027" in data["warning"]
    assert {"year": 2027, "source": "provisional"} in data["years"]
    assert data["package_years"] == [2004, 2026] and data["configured_years"] == []
    text = run("check", "--as-of", "2026-12-03", "--config", str(policy))
    assert text.exit_code == 0
    assert "warning" in text.stderr and "28 days" in text.stderr
    calm = run("check", "--as-of", "2026-06-01", "--config", str(policy), "--json")
    assert json.loads(calm.stdout)["warning"] is None


def test_import_writes_the_year_and_keeps_the_rest(policy: Path, notice_2027: Path) -> None:
    before = policy.read_bytes()
    result = run("import-notice", str(notice_2027), "--config", str(policy), "--yes")
    assert result.exit_code == 0, result.output
    assert "国庆节" in result.output and "2027-10-01–10-07 (7)" in result.output
    after = policy.read_bytes()
    start = after.index(b"[calendar.years.2027]")
    end = after.index(b"]\n", after.index(b"workdays = [", start)) + 2
    assert after[:start].rstrip(b"\n") + b"\n" + after[end:] == before
    shown = json.loads(run("show", "--year", "2027", "--config", str(policy), "--json").stdout)
    assert shown["source"] == "config" and shown["provisional"] is False
    assert {d["date"] for d in shown["days"] if d["kind"] == "workday"} == {
        "2027-02-20",
        "2027-02-21",
        "2027-04-25",
        "2027-05-08",
        "2027-09-26",
        "2027-10-09",
    }
    check = json.loads(
        run("check", "--as-of", "2026-12-03", "--config", str(policy), "--json").stdout
    )
    assert check["official_until"] == "2027-12-31" and check["warning"] is None
    # importing the same notice again changes nothing
    again = run("import-notice", str(notice_2027), "--config", str(policy), "--yes")
    assert again.exit_code == 0 and "nothing to write" in again.output
    assert policy.read_bytes() == after


def test_import_replaces_an_earlier_import(policy: Path, notice_2027: Path, tmp_path: Path) -> None:
    run("import-notice", str(notice_2027), "--config", str(policy), "--yes")
    corrected = tmp_path / "corrected.txt"
    corrected.write_text(NOTICE_2027.replace("9月26日（周日）、", ""), encoding="utf-8")
    result = run("import-notice", str(corrected), "--config", str(policy), "--yes")
    assert result.exit_code == 0, result.output
    text = policy.read_text(encoding="utf-8")
    assert text.count("[calendar.years.2027]") == 1 and "2027-09-26" not in text


def test_import_asks_first(policy: Path, notice_2027: Path) -> None:
    before = policy.read_bytes()
    refused = run("import-notice", str(notice_2027), "--config", str(policy), input="n\n")
    assert refused.exit_code == 1 and "nothing written" in refused.output
    assert policy.read_bytes() == before
    accepted = run("import-notice", str(notice_2027), "--config", str(policy), input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert b"[calendar.years.2027]" in policy.read_bytes()


def test_import_uses_the_installation_config_by_default(
    policy: Path, notice_2027: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bihuan.settings import reset_settings

    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(policy.parent))
    reset_settings()
    result = run("import-notice", str(notice_2027), "--yes")
    assert result.exit_code == 0, result.output
    assert b"[calendar.years.2027]" in policy.read_bytes()


def test_a_bad_notice_names_the_line_and_writes_nothing(policy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(NOTICE_2027.replace("2月20日（周六）", "2月20日（周日）"), encoding="utf-8")
    before = policy.read_bytes()
    result = run("import-notice", str(bad), "--config", str(policy), "--yes")
    assert result.exit_code == 1
    assert "bad.txt: line 4: 2月20日 is a 周六 in 2027, but the notice says 周日" in result.output
    assert "Traceback" not in result.output
    assert policy.read_bytes() == before
    missing = run("import-notice", str(tmp_path / "none.txt"), "--config", str(policy))
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_a_gbk_notice_and_the_year_option(policy: Path, tmp_path: Path) -> None:
    gbk = tmp_path / "notice-gbk.txt"
    body = NOTICE_2027.split("\n", 2)[2]  # without the title
    gbk.write_bytes(body.encode("gb18030"))
    no_year = run("import-notice", str(gbk), "--config", str(policy), "--yes")
    assert no_year.exit_code == 1 and "give --year" in no_year.output
    result = run("import-notice", str(gbk), "--year", "2027", "--config", str(policy), "--yes")
    assert result.exit_code == 0, result.output


def test_a_broken_policy_is_not_touched(policy: Path, notice_2027: Path) -> None:
    policy.write_text(policy.read_text(encoding="utf-8") + "\n[board]\ngreen = -1\n", "utf-8")
    before = policy.read_bytes()
    result = run("import-notice", str(notice_2027), "--config", str(policy), "--yes")
    assert result.exit_code == 2 and "bad policy configuration" in result.output
    assert policy.read_bytes() == before


def test_a_failed_reload_restores_the_old_file(
    policy: Path, notice_2027: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is re-read after writing; should that fail (a disk or editor race), the old
    bytes go back. Forced here by failing the second validation of the new text."""
    validate = calendar_command._validate
    calls: list[int] = []

    def flaky(path: Path, text: str) -> Policy:
        calls.append(1)
        if len(calls) == 3:  # old file, new text in memory, then the re-read file
            raise ConfigError(f"{path}: simulated failure")
        return validate(path, text)

    monkeypatch.setattr(calendar_command, "_validate", flaky)
    before = policy.read_bytes()
    result = run("import-notice", str(notice_2027), "--config", str(policy), "--yes")
    assert result.exit_code == 2
    assert "simulated failure" in result.output and "was restored" in result.output
    assert policy.read_bytes() == before


def test_importing_a_package_year_and_the_first_package_year(policy: Path) -> None:
    # 2004 is shown without knowing 2003
    first = run("show", "--year", "2004", "--config", str(policy), "--json")
    assert first.exit_code == 0, first.output
    result = run("import-notice", str(NOTICES / "2026.txt"), "--config", str(policy), "--yes")
    assert result.exit_code == 0, result.output
    assert "chinese_calendar already covers 2026" in result.stderr
    shown = json.loads(run("show", "--year", "2026", "--config", str(policy), "--json").stdout)
    assert shown["source"] == "config"
    # the names of a configured year are inferred, and agree with the package's
    package = {
        (d["date"], d["name"], d["kind"])
        for d in json.loads(
            run(
                "show", "--year", "2026", "--config", str(REPO / "config" / "policy.toml"), "--json"
            ).stdout
        )["days"]
    }
    assert {(d["date"], d["name"], d["kind"]) for d in shown["days"]} == package


def test_only_an_admin_imports_and_the_import_is_audited(
    policy: Path, notice_2027: Path, _an_admin: str
) -> None:
    from sqlalchemy import text

    from bihuan.db import get_engine

    before = policy.read_bytes()
    refused = runner.invoke(
        app,
        [
            "calendar",
            "import-notice",
            str(notice_2027),
            "--config",
            str(policy),
            "--yes",
            "--as",
            "wang",
        ],
    )
    assert refused.exit_code == 3 and "may not import a holiday notice" in refused.output
    assert policy.read_bytes() == before
    assert run("import-notice", str(notice_2027), "--config", str(policy), "--yes").exit_code == 0
    with get_engine(_an_admin).connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, entity_key FROM auditlog WHERE entity = 'policy'")
        ).all()
    assert [tuple(r) for r in rows] == [("root", "calendar_notice_imported", "calendar.years.2027")]
