"""The Excel round trip of the rectification ledger: export, fill with openpyxl, import."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from bihuan.cli import BihuanGroup
from bihuan.commands import rectify as rectify_commands
from bihuan.core.access import Actor
from bihuan.core.rectification import Action
from bihuan.db import get_engine, session_scope, table
from bihuan.errors import ConflictError, PermissionDenied
from bihuan.rectify_excel import (
    ImportResult,
    ResponsesConflict,
    ResponsesRejected,
    export_open_items,
    import_responses,
)
from bihuan.services import identity, rectification
from bihuan.services.rectification import Act
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from models import AuditLog, Finding
from tests.users import TODAY, app_for, make_user
from tests.vocab_leaks import leaked_codes

from .rectify_items import REPO_CONFIG, make_items, snapshot
from .test_rectify import audits, events, item_row

cli = typer.Typer(cls=BihuanGroup)  # the same error handling as the real `bihuan` app
rectify_commands.register(cli)
runner = CliRunner()
D = date(2022, 7, 11)
HEADERS = ["事项编号", "版本", "部门代码", "问题", "整改期限", "当前状态",
           "整改进展", "是否已整改完成", "佐证材料", "申请无法解决", "政策解释", "替代措施"]  # fmt: skip


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    from bihuan.settings import reset_settings

    reset_settings()


def staff(url: str) -> dict[str, Actor]:
    """The office (李科长), the contacts of A01, A02 and B01, a leader; the section users are
    made by the tests that need them (their section is the item's)."""
    return {
        "office": make_user(url, "likz", UserRole.OFFICE, name="李科长"),
        "a01": make_user(url, "A01lx", UserRole.DEPARTMENT, department="A01", name="张三"),
        "a02": make_user(url, "A02lx", UserRole.DEPARTMENT, department="A02", name="财政局联络员"),
        "b01": make_user(url, "B01lx", UserRole.DEPARTMENT, department="B01", name="教体局"),
        "leader": make_user(url, "lead", UserRole.LEADER),
    }


@pytest.fixture
def items(db_url: str, tmp_path: Path) -> dict[str, int]:
    return make_items(db_url, tmp_path)


@pytest.fixture
def people(db_url: str, items: dict[str, int]) -> dict[str, Actor]:
    return staff(db_url)


def export(url: str, actor: Actor, out: Path, **kw: Any) -> list[Path]:
    return export_open_items(app_for(url), actor, out, **kw)


def import_(url: str, path: Path, actor: Actor, as_of: date = D) -> ImportResult:
    return import_responses(app_for(url), path, actor=actor, as_of=as_of)


def act(url: str, actor: Actor, item_id: int, action: Action | str, **kw: Any) -> None:
    cmd = Act(jurisdiction="juxian", item_id=item_id, action=action, **kw)
    with UnitOfWork(app_for(url)) as uow:
        rectification.act(uow, cmd, actor, D)


def refusals(url: str) -> list[tuple[int | None, str]]:
    al = table(AuditLog)
    with get_engine(url).connect() as conn:
        return [
            (r.user_id, r.entity_key)
            for r in conn.execute(
                select(al).where(al.c.action == "access_denied").order_by(al.c.id)
            )
        ]


def sections(url: str) -> dict[int, str]:
    """The supervising section of every item."""
    with UnitOfWork(app_for(url), readonly=True) as uow:
        jur = uow.jurisdictions.require("juxian")
        assert jur.id is not None
        return {v.id: v.supervising_section for v in uow.rectification.views(jur.id)}


def fill(path: Path, answers: dict[int, dict[str, Any]]) -> None:
    """Fill rows as a department would in Excel: by item number, by Chinese column header."""
    wb = openpyxl.load_workbook(path)
    ws = wb["整改台账"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        answer = answers.get(row[0].value)  # type: ignore[arg-type]
        for col, value in (answer or {}).items():
            row[header.index(col)].value = value
    wb.save(path)


def by_code(paths: list[Path]) -> dict[str, Path]:
    return {p.name.split("-")[1]: p for p in paths}


def test_export_writes_one_workbook_per_department_with_its_open_items(
    sqlite_db: str, tmp_path: Path
) -> None:
    items = make_items(sqlite_db, tmp_path)
    p = staff(sqlite_db)
    act(sqlite_db, p["a02"], items["satisfaction:low"], Action.REPORT_FIXED, reason="已整改",
        evidence_refs=("满意度提升方案",))  # fmt: skip
    paths = export(sqlite_db, p["office"], tmp_path / "out", year=2022)
    assert [p.name for p in paths] == [
        "整改台账-A01-县发展和改革局.xlsx",
        "整改台账-A02-县财政局.xlsx",
        "整改台账-B01-县教育和体育局.xlsx",
    ]
    wb = openpyxl.load_workbook(paths[1])
    assert wb.sheetnames == ["整改台账", "说明"]
    rows = [[c.value for c in r] for r in wb["整改台账"].iter_rows()]
    assert rows[0] == HEADERS
    # A02's reported item waits for the office and is not exported; its open one is, at version 1
    assert len(rows) == 2 and rows[1][0] == items["central:CT1"]
    assert rows[1][1:4] == [1, "A02", "中心工作“招商引资”链条短板:本部门完成60%"]
    assert rows[1][5] == "待整改" and rows[1][6:] == [None, "否", None, "否", None, None]
    validations = wb["整改台账"].data_validations.dataValidation
    assert {str(v.sqref) for v in validations} == {"H2", "J2"}
    only = export(sqlite_db, p["office"], tmp_path / "b", department="B01")
    assert [p.name for p in only] == ["整改台账-B01-县教育和体育局.xlsx"]
    assert export(sqlite_db, p["office"], tmp_path / "c", year=2021) == []


def test_each_user_exports_what_it_may_see(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path
) -> None:
    """Scoped like the ledger listing: a department its own items, a section the items it
    supervises, the office (and the read-only roles) any department's or all."""

    def exported(who: Actor, **kw: Any) -> dict[str, list[int]]:
        out = tmp_path / f"{who.login}-{len(list(tmp_path.iterdir()))}"
        return {
            code: [
                r[0].value for r in openpyxl.load_workbook(path)["整改台账"].iter_rows(min_row=2)
            ]
            for code, path in by_code(export(db_url, who, out, **kw)).items()
        }

    assert exported(people["a02"]) == {"A02": [items["central:CT1"], items["satisfaction:low"]]}
    assert list(exported(people["office"])) == ["A01", "A02", "B01"]
    assert list(exported(people["leader"], department="B01")) == ["B01"]
    # a section user: only the items it supervises, one workbook per department
    supervised = sections(db_url)
    section = supervised[items["staffing:real_name"]]
    inspector = make_user(db_url, "jck", UserRole.SECTION, section=section, name="监督检查科")
    got = exported(inspector)
    assert sorted(i for ids in got.values() for i in ids) == sorted(
        i for i, s in supervised.items() if s == section
    )
    assert len(got) < 3 or len(set(supervised.values())) == 1  # not everything
    # a department asking for another department's workbook is refused (and it is recorded)
    before = snapshot(db_url, without_refusals=True)
    with pytest.raises(PermissionDenied, match="not of department A02"):
        export(db_url, people["a02"], tmp_path / "x", department="A01")
    assert snapshot(db_url, without_refusals=True) == before
    assert refusals(db_url)[-1][0] == people["a02"].user_id
    assert not (tmp_path / "x").exists()


def test_filled_workbook_is_applied_in_one_go(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path
) -> None:
    """A department user imports its own workbook: applied, audited under its user id."""
    chain, sat = items["central:CT1"], items["satisfaction:low"]
    a02 = by_code(export(db_url, people["a02"], tmp_path / "out"))["A02"]
    fill(
        a02,
        {
            chain: {"整改进展": "已向省里申请", "申请无法解决": "是",
                    "政策解释": "配套资金由省级统筹", "替代措施": "申请县级周转资金"},
            sat: {"整改进展": "开展满意度回访", "是否已整改完成": "是",
                  "佐证材料": "回访记录表；整改报告\n莒财发〔2022〕8号"},
        },
    )  # fmt: skip
    result = import_(db_url, a02, people["a02"])
    assert (result.applied, result.skipped) == (2, 0)
    assert result.by_action == {"request_cannot_solve": 1, "report_fixed": 1}
    assert {o.capacity.value for o in result.outcomes} == {"department"}
    assert item_row(db_url, chain)["status"] == "cannot_solve_requested"
    assert item_row(db_url, chain)["alternative"] == "申请县级周转资金"
    row = item_row(db_url, sat)
    assert row["status"] == "reported_fixed" and row["version"] == 2
    assert row["last_response_on"] == D
    ev = events(db_url, sat)[-1]
    assert ev["evidence"] == ["回访记录表", "整改报告", "莒财发〔2022〕8号"]
    assert ev["actor"] == "财政局联络员" and ev["reason"] == "开展满意度回访"
    (a,) = audits(db_url, sat)
    assert (a["user_id"], a["actor"]) == (people["a02"].user_id, "A02lx")
    assert a["details"]["source"] == {"file": a02.name, "sheet": "整改台账", "row": 3}
    assert a["details"]["role"] == "department"
    assert [x["user_id"] for x in audits(db_url, chain)] == [people["a02"].user_id]

    # the office imports B01's paper reply on its behalf: capacity department, the office's id;
    # a progress-only row starts the item; a blank row is left alone
    b01 = by_code(export(db_url, people["office"], tmp_path / "b"))["B01"]
    fill(b01, {items["submission:missing"]: {"整改进展": "已补报材料"}})
    res = import_(db_url, b01, people["office"])
    assert res.by_action == {"start": 1}
    assert item_row(db_url, items["submission:missing"])["status"] == "in_progress"
    (b,) = audits(db_url, items["submission:missing"])
    assert (b["user_id"], b["details"]["role"]) == (people["office"].user_id, "department")


def test_bad_workbook_lists_every_error_and_changes_nothing(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path
) -> None:
    """Imported by the office, which may see every item: another department's is named."""
    chain, sat = items["central:CT1"], items["satisfaction:low"]
    a02 = by_code(export(db_url, people["office"], tmp_path / "out"))["A02"]
    fill(
        a02,
        {
            chain: {"整改进展": "x", "是否已整改完成": "完成了"},
            sat: {"整改进展": "y", "是否已整改完成": "是", "申请无法解决": "否",
                  "政策解释": "说明"},
        },
    )  # fmt: skip
    wb = openpyxl.load_workbook(a02)
    ws = wb["整改台账"]
    ws.append([items["staffing:real_name"], 1, "A02", "", None, "", "借来的一行", "否", "", "否"])
    ws.append([9999, 1, "A02", "", None, "", "不存在的事项", "否", "", "否"])
    ws.append([chain, 1, "A02", "", None, "", "重复", "否", "", "否"])
    wb.save(a02)
    before = snapshot(db_url)
    with pytest.raises(ResponsesRejected) as exc:
        import_(db_url, a02, people["office"])
    got = {(i.row, i.column): i.message for i in exc.value.issues}
    assert set(got) == {
        (2, "是否已整改完成"),  # "完成了" is not 是/否
        (3, "佐证材料"),  # fixed without evidence
        (3, "政策解释"),  # explanation without asking for cannot-solve
        (4, "事项编号"),  # an item of A01 in A02's workbook
        (5, "事项编号"),  # unknown item
        (6, "事项编号"),  # the same item twice
    }, got
    assert "请填写 是 或 否" in got[(2, "是否已整改完成")]
    assert "属于 A01 (县发展和改革局), 不属于本台账的部门 A02" in got[(4, "事项编号")]
    assert "没有编号为 9999 的整改事项" in got[(5, "事项编号")]
    assert all(i.file == a02.name and i.sheet == "整改台账" for i in exc.value.issues)
    assert not isinstance(exc.value, ConflictError)
    assert snapshot(db_url) == before


def test_another_departments_item_reads_as_no_such_item_and_nothing_is_written(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path
) -> None:
    """A02's contact edits its own workbook to answer A01's item: refused like an unknown
    item (nothing about A01's item is revealed), every row refused, the refusal recorded."""
    theirs, mine = items["staffing:real_name"], items["central:CT1"]
    a02 = by_code(export(db_url, people["a02"], tmp_path / "out"))["A02"]
    fill(a02, {mine: {"整改进展": "已开始"}})
    wb = openpyxl.load_workbook(a02)
    ws = wb["整改台账"]
    ws.append([theirs, 1, "A02", "", None, "", "顺手改一下", "是", "某文件", "否"])
    ws.append([9999, 1, "A02", "", None, "", "不存在的事项", "否", "", "否"])
    wb.save(a02)
    before = snapshot(db_url, without_refusals=True)
    with pytest.raises(ResponsesRejected) as exc:
        import_(db_url, a02, people["a02"])
    got = {(i.row, i.column): i.message for i in exc.value.issues}
    assert set(got) == {(4, "事项编号"), (5, "事项编号")}, got
    assert got[(4, "事项编号")] == got[(5, "事项编号")].replace("9999", str(theirs))
    text = str(exc.value)
    for secret in ("A01", "县发展和改革局", "实名制", "入编出编"):
        assert secret not in text
    assert not isinstance(exc.value, PermissionDenied)  # a row problem, listed with the rest
    # nothing was written (not even the valid row), but the refusal is on record
    assert snapshot(db_url, without_refusals=True) == before
    assert item_row(db_url, mine)["version"] == 1
    (refused,) = refusals(db_url)
    assert refused[0] == people["a02"].user_id and f"item {theirs}" in refused[1]


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ("leader", "the leader role"),
        ("section", "the section role"),
        ("auditor", "the auditor role"),
        ("admin", "the admin role"),
        ("disabled", "disabled"),
    ],
)
def test_only_departments_and_the_office_import_workbooks(
    sqlite_db: str, tmp_path: Path, who: str, why: str
) -> None:
    items = make_items(sqlite_db, tmp_path)
    p = staff(sqlite_db)
    a02 = by_code(export(sqlite_db, p["a02"], tmp_path / "out"))["A02"]
    fill(a02, {items["central:CT1"]: {"整改进展": "已开始"}})
    actor = {
        "leader": lambda: p["leader"],
        "section": lambda: make_user(
            sqlite_db, "jck", UserRole.SECTION, section="监督检查科(实名制管理科)"
        ),
        "auditor": lambda: make_user(sqlite_db, "audit", UserRole.AUDITOR),
        "admin": lambda: make_user(sqlite_db, "root", UserRole.ADMIN),
        "disabled": lambda: make_user(sqlite_db, "oldA02", UserRole.DEPARTMENT, department="A02"),
    }[who]()
    if who == "disabled":
        with UnitOfWork(app_for(sqlite_db)) as uow:
            admin = identity.actor_for(uow, "admin")
            identity.set_active(uow, actor.login, False, admin, TODAY)
    before = snapshot(sqlite_db, without_refusals=True)
    with pytest.raises(PermissionDenied, match=why):
        import_(sqlite_db, a02, actor)
    assert snapshot(sqlite_db, without_refusals=True) == before
    assert refusals(sqlite_db)[-1] == (actor.user_id, "import a rectification workbook")


def test_cannot_solve_without_explanation_and_wrong_state_are_reported(
    sqlite_db: str, tmp_path: Path
) -> None:
    items = make_items(sqlite_db, tmp_path)
    a02_user = staff(sqlite_db)["a02"]
    a02 = by_code(export(sqlite_db, a02_user, tmp_path / "out"))["A02"]
    fill(a02, {items["central:CT1"]: {"申请无法解决": "是", "替代措施": "备选"}})
    with pytest.raises(ResponsesRejected) as exc:
        import_(sqlite_db, a02, a02_user)
    ((issue),) = exc.value.issues
    assert (issue.row, issue.column) == (2, "政策解释") and "请填写“政策解释”" in issue.message
    # a date before the item was issued is refused by the state machine, named on its row
    fill(a02, {items["central:CT1"]: {"政策解释": "省级事权"}})
    with pytest.raises(ResponsesRejected, match="早于整改事项") as exc:
        import_(sqlite_db, a02, a02_user, as_of=date(2022, 7, 1))
    ((issue),) = exc.value.issues
    assert (issue.row, issue.column) == (
        2,
        "当前状态",
    ) and "当前状态下不能这样填报" in issue.message
    # in Chinese for the department's contact: no English reason, no code (issue 10.6)
    assert "before" not in issue.message and not leaked_codes(issue.message)


def test_stale_version_in_the_workbook_is_a_conflict(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path
) -> None:
    chain = items["central:CT1"]
    a02 = by_code(export(db_url, people["a02"], tmp_path / "out"))["A02"]
    # after the export, the office extends the deadline (version 1 → 2)
    act(db_url, people["office"], chain, Action.EXTEND, reason="等待批复", extend_by=3)
    fill(a02, {chain: {"整改进展": "已开始"}, items["satisfaction:low"]: {"整改进展": "已开始"}})
    before = snapshot(db_url)
    with pytest.raises(ResponsesConflict) as exc:
        import_(db_url, a02, people["a02"])
    assert isinstance(exc.value, ConflictError)
    ((issue),) = exc.value.issues
    assert issue.column == "版本" and "导出时版本 1, 现为 2" in issue.message
    assert "请重新导出整改台账" in issue.message
    # all or nothing: the other, valid row was not applied either
    assert snapshot(db_url) == before


def test_a_file_that_is_not_a_workbook_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    make_items(sqlite_db, tmp_path)
    office = staff(sqlite_db)["office"]
    fake = tmp_path / "整改台账.xlsx"
    fake.write_text("事项编号,版本\n1,1\n", encoding="utf-8")
    with pytest.raises(ResponsesRejected, match="不是 Excel 工作簿"):
        import_(sqlite_db, fake, office)
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"  # type: ignore[union-attr]
    wb.save(other)
    with pytest.raises(ResponsesRejected, match="没有名为“整改台账”的工作表"):
        import_(sqlite_db, other, office)


def test_cli_export_and_import(sqlite_db: str, tmp_path: Path) -> None:
    items = make_items(sqlite_db, tmp_path)
    p = staff(sqlite_db)
    out = tmp_path / "out"
    r = runner.invoke(cli, ["rectify", "export", "--out", str(out), "--department", "B01",
                            "--as", "likz", "--db", sqlite_db])  # fmt: skip
    assert r.exit_code == 0, r.output
    (path,) = out.iterdir()
    fill(path, {items["submission:missing"]: {"是否已整改完成": "是"}})
    r = runner.invoke(cli, ["rectify", "import", str(path), "--as-of", "2022-07-11",
                            "--as", "B01lx", "--db", sqlite_db])  # fmt: skip
    assert r.exit_code == 1 and "1 error(s)" in r.output and "佐证材料" in r.output, r.output
    assert "nothing was applied" in r.output and "Traceback" not in r.output
    assert "但未填写佐证材料" in r.output  # the reason, in the department's language
    fill(path, {items["submission:missing"]: {"整改进展": "已补报", "佐证材料": "补报材料清单"}})
    # a leader may not import (exit 3, recorded); the department may
    r = runner.invoke(cli, ["rectify", "import", str(path), "--as-of", "2022-07-11",
                            "--as", "lead", "--db", sqlite_db])  # fmt: skip
    assert r.exit_code == 3 and "may not import a rectification workbook" in r.output, r.output
    assert refusals(sqlite_db) == [(p["leader"].user_id, "import a rectification workbook")]
    r = runner.invoke(cli, ["rectify", "import", str(path), "--as-of", "2022-07-11",
                            "--as", "B01lx", "--db", sqlite_db])  # fmt: skip
    assert r.exit_code == 0 and "1 row(s) applied" in r.output, r.output
    assert item_row(sqlite_db, items["submission:missing"])["status"] == "reported_fixed"
    (a,) = audits(sqlite_db, items["submission:missing"])
    assert a["user_id"] == p["b01"].user_id
    # a department user's export is its own department's workbook
    mine = tmp_path / "mine"
    r = runner.invoke(cli, ["rectify", "export", "--out", str(mine), "--as", "A02lx",
                            "--db", sqlite_db])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert [x.name for x in mine.iterdir()] == ["整改台账-A02-县财政局.xlsx"]


@pytest.mark.reliability
def test_exported_text_never_becomes_a_formula(sqlite_db: str, tmp_path: Path) -> None:
    items = make_items(sqlite_db, tmp_path)
    a02_user = staff(sqlite_db)["a02"]
    titles = {"central:CT1": '=HYPERLINK("http://x","y")', "satisfaction:low": "@SUM(A1)"}
    with session_scope(sqlite_db) as session:
        for key, title in titles.items():
            f = table(Finding)
            session.execute(update(f).where(f.c.key == key).values(title=title))
    a02 = by_code(export(sqlite_db, a02_user, tmp_path / "out"))["A02"]
    ws = openpyxl.load_workbook(a02)["整改台账"]
    cells = {row[0].value: row[3] for row in ws.iter_rows(min_row=2)}
    for key, title in titles.items():
        cell = cells[items[key]]
        assert (cell.data_type, cell.value) == ("s", title)
        assert cell.quotePrefix  # Excel keeps it text even when the cell is edited
    # and the round trip reads the titles as the text they are, not as formulas
    fill(a02, {items["central:CT1"]: {"整改进展": "已开始"}})
    result = import_(sqlite_db, a02, a02_user)
    assert result.applied == 1


def test_a_formula_in_the_filled_workbook_is_refused_naming_the_cell(
    sqlite_db: str, tmp_path: Path
) -> None:
    items = make_items(sqlite_db, tmp_path)
    a02_user = staff(sqlite_db)["a02"]
    a02 = by_code(export(sqlite_db, a02_user, tmp_path / "out"))["A02"]
    fill(a02, {items["central:CT1"]: {"整改进展": '=CONCAT("已","开始")'}})
    before = snapshot(sqlite_db)
    with pytest.raises(ResponsesRejected) as exc:
        import_(sqlite_db, a02, a02_user)
    ((issue),) = exc.value.issues
    assert (issue.row, issue.column) == (2, "整改进展")
    assert "单元格 G2 是公式" in issue.message and "不要使用公式" in issue.message
    assert snapshot(sqlite_db) == before


def test_codes_and_title_rows_follow_the_ledger_rules(sqlite_db: str, tmp_path: Path) -> None:
    """WPS round trips: a title row inserted above the header, the code typed full-width."""
    items = make_items(sqlite_db, tmp_path)
    office = staff(sqlite_db)["office"]
    a02 = by_code(export(sqlite_db, office, tmp_path / "out"))["A02"]
    fill(a02, {items["central:CT1"]: {"整改进展": "已开始", "部门代码": "Ａ02\u200b"}})
    wb = openpyxl.load_workbook(a02)
    ws = wb["整改台账"]
    ws.insert_rows(1)
    ws["A1"] = "县财政局整改台账 (2022年7月)"
    ws.append([items["satisfaction:low"], 1, "A02", "", None, "", "已回访", "完成了", "", "否"])
    wb.save(a02)
    with pytest.raises(ResponsesRejected) as exc:
        import_(sqlite_db, a02, office)
    ((issue),) = exc.value.issues  # the full-width code is A02: no "belongs to" error
    assert (issue.row, issue.column) == (5, "是否已整改完成")  # the row Excel shows
    wb = openpyxl.load_workbook(a02)
    wb["整改台账"].delete_rows(5)
    wb.save(a02)
    result = import_(sqlite_db, a02, office)
    assert result.applied == 1


def test_every_row_of_a_workbook_is_styled_like_the_first(tmp_path: Path) -> None:
    """The column's style is set on its first row and copied by id to the others: each row
    still reads wrapped and top-aligned, grey where read-only, dates as dates, and only the
    text cell that starts like a formula has the quote prefix."""
    from bihuan.rectify_excel import READ_ONLY, SHEET, write_workbooks
    from bihuan.services.rectification import ItemRow

    base = {
        "department": "A01", "department_name": "甲局", "year": 2025, "phase": "mid-year",
        "phase_label": "年中", "category": "indicator", "category_label": "指标",
        "severity": "low", "severity_label": "低", "status": "open",
        "status_label": "待整改", "issued_on": date(2025, 7, 2), "escalation_level": None,
        "escalation_level_label": "", "supervising_section": "", "extensions": 0,
        "last_response_on": None, "closed_on": None, "version": 1,
    }  # fmt: skip
    titles = ["台账不全", '=HYPERLINK("x")', "材料缺失"]
    rows = [
        ItemRow.model_validate({**base, "id": i, "title": t, "deadline": date(2025, 8, 1 + i)})
        for i, t in enumerate(titles, start=1)
    ]
    [path] = write_workbooks(rows, tmp_path)
    ws = openpyxl.load_workbook(path)[SHEET.zh]
    keys = [c.key for c in SHEET.columns]
    for row in ws.iter_rows(min_row=2, max_row=len(rows) + 1):
        for key, cell in zip(keys, row, strict=True):
            assert cell.alignment.wrap_text and cell.alignment.vertical == "top", cell.coordinate
            grey = cell.fill.fgColor.rgb == "00E7E6E6"
            assert grey == (key in READ_ONLY), cell.coordinate
            if key == "deadline":
                assert cell.number_format == "yyyy-mm-dd", cell.coordinate
            assert cell.quotePrefix == (key == "title" and cell.row == 3), cell.coordinate
