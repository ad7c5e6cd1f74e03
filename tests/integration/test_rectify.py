"""The rectification ledger through `bihuan rectify ...` and its use cases, on real SQLite and
PostgreSQL databases: every action, refusals, optimistic locking, history, audit and evidence."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bihuan.cli import BihuanGroup
from bihuan.commands import rectify as rectify_commands
from bihuan.commands import users as users_commands
from bihuan.core.access import Actor
from bihuan.core.rectification import Action, Status, TransitionError
from bihuan.db import get_engine, table
from bihuan.errors import ConflictError, PermissionDenied, UserError
from bihuan.ingest.load import import_path
from bihuan.services import rectification
from bihuan.services.rectification import Act, ItemNotFound
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Capacity, UserRole
from models import AuditLog, Notification, RectificationEvent, RectificationItem
from tests.flows.small_county import write_small_county
from tests.users import app_for, make_user

from .rectify_items import REPO_CONFIG, make_items, snapshot

cli = typer.Typer(cls=BihuanGroup)  # the same error handling as the real `bihuan` app
rectify_commands.register(cli)
users_commands.register(cli)
runner = CliRunner()

STAFFING, CHAIN, SATISFACTION, MISSING = (
    "staffing:real_name",
    "central:CT1",
    "satisfaction:low",
    "submission:missing",
)
D = date(2022, 7, 11)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BIHUAN_HOME in tmp (so var/evidence lands there), the project's policy config."""
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    from bihuan.settings import reset_settings

    reset_settings()
    return tmp_path / "home"


@pytest.fixture
def items(db_url: str, tmp_path: Path, home: Path) -> dict[str, int]:
    return make_items(db_url, tmp_path)


@pytest.fixture
def people(db_url: str, items: dict[str, int]) -> dict[str, Actor]:
    """The office (李科长), the contacts of A01 (张三) and A02 (财政局联络人)."""
    return {
        "office": make_user(db_url, "likz", UserRole.OFFICE, name="李科长"),
        "a01": make_user(db_url, "A01lx", UserRole.DEPARTMENT, department="A01", name="张三"),
        "a02": make_user(db_url, "A02lx", UserRole.DEPARTMENT, department="A02", name="财政局"),
    }


def act(url: str, actor: Actor, item_id: int, action: Action | str, **kw: Any) -> Any:
    """One move through the use case, in its own unit of work."""
    as_of = kw.pop("as_of", D)
    jurisdiction = kw.pop("jurisdiction", "juxian")
    cmd = Act(jurisdiction=jurisdiction, item_id=item_id, action=action, **kw)
    with UnitOfWork(app_for(url)) as uow:
        return rectification.act(uow, cmd, actor, as_of)


def item_row(url: str, item_id: int) -> dict[str, Any]:
    ri = table(RectificationItem)
    with get_engine(url).connect() as conn:
        return dict(conn.execute(select(ri).where(ri.c.id == item_id)).one()._mapping)


def events(url: str, item_id: int) -> list[dict[str, Any]]:
    re_ = table(RectificationEvent)
    with get_engine(url).connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(re_).where(re_.c.item_id == item_id).order_by(re_.c.seq))
        ]


def audits(url: str, item_id: int) -> list[dict[str, Any]]:
    al = table(AuditLog)
    with get_engine(url).connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(al)
                .where(al.c.entity == "rectification_item", al.c.entity_key == str(item_id))
                .order_by(al.c.id)
            )
        ]


def notices(url: str) -> list[dict[str, Any]]:
    n = table(Notification)
    with get_engine(url).connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(n).where(n.c.kind == "rectification_notice").order_by(n.c.id)
            )
        ]


def run(*args: str, url: str) -> Any:
    return runner.invoke(cli, [*args, "--db", url])


# ------------------------------------------------------------------ CLI happy paths


def test_cli_walks_items_through_every_action(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path, home: Path
) -> None:
    a01, a02 = items[STAFFING], items[CHAIN]
    proof = tmp_path / "入编备案表.pdf"
    proof.write_bytes(b"%PDF-1.4 proof of registration")

    r = run("rectify", "report", str(a01), "--progress", "已启动整改", "--as-of", "2022-07-05",
            "--as", "A01lx", "--version", "1", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "待整改 → 整改中" in r.output and "version 2" in r.output and "by 张三" in r.output
    r = run("rectify", "report", str(a01), "--progress", "已补办3人入编手续",
            "--as-of", "2022-07-06", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "progress recorded" in r.output, r.output
    r = run("rectify", "report", str(a01), "--fixed", "--progress", "全部补办完毕",
            "--evidence", str(proof), "--as-of", "2022-07-08", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "整改中 → 已报整改完成" in r.output, r.output
    r = run("rectify", "verify", str(a01), "--reject", "--note", "缺少花名册",
            "--as-of", "2022-07-11", "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "重新整改" in r.output and "1 notice" in r.output, r.output
    r = run("rectify", "extend", str(a01), "--days", "5", "--reason", "等待人社局盖章",
            "--as-of", "2022-07-11", "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "deadline 2022-08-08" in r.output, r.output
    r = run("rectify", "report", str(a01), "--fixed", "--progress", "花名册已补",
            "--evidence", str(proof), "--as-of", "2022-07-12", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("rectify", "verify", str(a01), "--accept", "--note", "整改到位",
            "--as-of", "2022-07-13", "--as", "likz", "--json", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["status"], out["status_label"], out["seq"], out["notices"]) == (
        "verified_closed", "已验收销号", 8, 1,
    )  # fmt: skip

    r = run("rectify", "cannot-solve", str(a02), "--explanation", "配套资金由省级统筹",
            "--alternative", "申请县级周转资金", "--as-of", "2022-07-06", "--as", "A02lx",
            url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "申请无法解决" in r.output, r.output
    r = run("rectify", "decide", str(a02), "--deny", "--note", "县级可解决",
            "--as-of", "2022-07-07", "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "申请无法解决 → 整改中" in r.output, r.output
    r = run("rectify", "cannot-solve", str(a02), "--explanation", "省级文件限制",
            "--alternative", "按季度报送进度", "--as-of", "2022-07-08", "--as", "A02lx",
            url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("rectify", "decide", str(a02), "--approve", "--note", "同意",
            "--as-of", "2022-07-09", "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "无法解决(已作政策解释)" in r.output, r.output

    row = item_row(db_url, a01)
    assert row["status"] == "verified_closed" and row["closed_on"] == date(2022, 7, 13)
    assert row["extensions"] == 1 and row["deadline"] == date(2022, 8, 8)
    assert row["version"] == 8 and row["last_response_on"] == date(2022, 7, 12)
    assert [e["seq"] for e in events(db_url, a01)] == list(range(1, 9))
    row2 = item_row(db_url, a02)
    assert row2["status"] == "cannot_solve" and row2["alternative"] == "按季度报送进度"

    # the department heard of each office decision (reject, extend, accept, deny, approve), once,
    # signed by the jurisdiction's office
    got = [(n["idempotency_key"], n["subject"]) for n in notices(db_url)]
    assert len(got) == 5
    assert got[0] == (f"item:{a01}:event:5:a01", f"【整改验收未通过】县发展和改革局 整改事项 {a01}")
    assert "整改期限已延长" in got[1][1] and "a02" in got[3][0] and "同意按无法解决" in got[4][1]
    body = notices(db_url)[0]["body"]
    assert "意见：缺少花名册" in body and "经办：李科长" in body and "莒县县委编办" in body

    r = run("rectify", "show", str(a01), "--json", "--as", "likz", url=db_url)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["item"]["status"] == "verified_closed" and shown["allowed"] == ["reopen"]
    actions = [h["action"] for h in shown["history"]]
    assert actions == ["issued", "start", "progress", "report_fixed", "verify_reject", "extend",
                       "report_fixed", "verify_accept"]  # fmt: skip
    reject = shown["history"][4]
    assert (reject["actor"], reject["reason"], reject["role"]) == (
        "李科长",
        "缺少花名册",
        "coordinator",
    )
    assert shown["history"][1]["actor"] == "张三" and shown["history"][1]["role"] == "department"
    assert shown["history"][3]["evidence_files"][0]["name"] == "入编备案表.pdf"
    r = run("rectify", "show", str(a01), "--as", "A01lx", url=db_url)
    assert r.exit_code == 0 and "验收不通过" in r.output and "缺少花名册" in r.output

    r = run("rectifications", "--json", "--status", "in_progress", "--as", "likz", url=db_url)
    assert r.exit_code == 0, r.output
    assert [x["id"] for x in json.loads(r.output)] == []
    r = run("rectifications", "--json", "--department", "A02", "--year", "2022", "--as", "likz",
            url=db_url)  # fmt: skip
    listed = json.loads(r.output)
    assert [x["id"] for x in listed] == [items[CHAIN], items[SATISFACTION]]
    assert listed[0]["department_name"] == "县财政局" and listed[0]["status"] == "cannot_solve"
    assert {"supervising_section", "extensions", "version", "escalation_level", "category",
            "severity", "deadline", "title", "status_label", "category_label", "severity_label",
            "escalation_level_label"} <= set(listed[0])  # fmt: skip
    r = run("rectifications", "--as", "likz", url=db_url)
    assert r.exit_code == 0 and "县教育和体育局" in r.output
    # a department user sees its own items only
    r = run("rectifications", "--json", "--as", "A02lx", url=db_url)
    assert {x["department"] for x in json.loads(r.output)} == {"A02"}


@pytest.mark.reliability
def test_a_department_user_cannot_answer_another_departments_item(
    db_url: str, items: dict[str, int], home: Path
) -> None:
    """The issue's "done": D01lx (here A01lx) on a D02 (A02) item exits non-zero, nothing changes."""
    make_user(db_url, "root", UserRole.ADMIN)
    r = runner.invoke(
        cli,
        ["users", "add", "A01lx", "--role", "department", "--department", "A01",
         "--password-stdin", "--as", "root", "--db", db_url],
        input="a-long-Passw0rd-for-A01\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    before = snapshot(db_url, without_refusals=True)
    r = run("rectify", "report", str(items[CHAIN]), "--progress", "x", "--as-of", "2022-07-11",
            "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 3, r.output
    assert "user A01lx (department of A01) may not respond" in r.output
    assert "is not of department A01" in r.output
    assert snapshot(db_url, without_refusals=True) == before
    # and its own item, yes
    r = run("rectify", "report", str(items[STAFFING]), "--progress", "x", "--as-of", "2022-07-11",
            "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ refusals


def test_illegal_moves_are_refused_with_the_allowed_list_and_change_nothing(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path, home: Path
) -> None:
    item = items[STAFFING]
    before = snapshot(db_url)
    r = run("rectify", "verify", str(item), "--accept", "--note", "x", "--as-of", "2022-07-11",
            "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 1
    assert "cannot verify_accept" in r.output and "allowed: start, report_fixed" in r.output
    assert "Traceback" not in r.output
    r = run("rectify", "report", str(item), "--fixed", "--progress", "done", "--as-of",
            "2022-07-11", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "needs evidence" in r.output
    r = run("rectify", "report", str(item), "--progress", "x", "--evidence", "/nonexistent.pdf",
            "--as-of", "2022-07-11", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "no such file" in r.output
    r = run("rectify", "report", "999", "--progress", "x", "--as", "A01lx", url=db_url)
    assert r.exit_code == 1 and "no rectification item 999" in r.output
    r = run("rectify", "report", str(item), "--progress", "x", "--as-of", "2022-07-01",
            "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "before the item was issued" in r.output
    r = run("rectifications", "--status", "done", "--as", "likz", url=db_url)
    assert r.exit_code == 1 and "is not a status" in r.output
    r = run("rectify", "report", str(item), "--progress", "x", url=db_url)
    assert r.exit_code == 1 and "who is acting" in r.output
    # the state machine's capacity check stays: the office recording the department's own
    # answer cannot extend in that capacity
    with pytest.raises(TransitionError, match="a department cannot extend"):
        act(db_url, people["office"], item, Action.EXTEND, reason="x", extend_by=3,
            capacity=Capacity.DEPARTMENT)  # fmt: skip
    assert snapshot(db_url) == before
    # items are scoped to the jurisdiction through their department
    import_path(db_url, write_small_county(tmp_path / "other"), year=2022, jurisdiction="other",
                actor="t")  # fmt: skip
    everywhere = make_user(db_url, "hq", UserRole.OFFICE, jurisdiction=None)
    with pytest.raises(ItemNotFound, match=f"no rectification item {item} in this jurisdiction"):
        act(db_url, everywhere, item, "respond", reason="x", jurisdiction="other")
    with pytest.raises(PermissionDenied, match="belongs to another jurisdiction"):
        act(db_url, people["office"], item, "respond", reason="x", jurisdiction="other")
    with pytest.raises(UserError, match="no jurisdiction 'nowhere'"):
        act(db_url, everywhere, item, "respond", reason="x", jurisdiction="nowhere")
    assert item_row(db_url, item)["version"] == 1


def test_refusal_through_the_installed_entry_point_prints_no_traceback(
    sqlite_db: str, tmp_path: Path, home: Path
) -> None:
    items = make_items(sqlite_db, tmp_path)
    make_user(sqlite_db, "likz", UserRole.OFFICE)
    before = snapshot(sqlite_db)
    env = {**os.environ, "BIHUAN_HOME": str(home), "BIHUAN_CONFIG_DIR": str(REPO_CONFIG)}
    proc = subprocess.run(
        [sys.executable, "-c", "from bihuan.cli import main; main()", "rectify", "verify",
         str(items[MISSING]), "--accept", "--as-of", "2022-07-11", "--db", sqlite_db,
         "--as", "likz"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "allowed: start, report_fixed, request_cannot_solve, extend" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(sqlite_db) == before


# ------------------------------------------------------------------ optimistic locking


@pytest.mark.reliability
def test_second_of_two_users_who_saw_version_1_gets_a_conflict(
    db_url: str, items: dict[str, int], people: dict[str, Actor], home: Path
) -> None:
    item = items[CHAIN]
    # both looked at the item at version 1; the office extends it first
    act(db_url, people["office"], item, Action.EXTEND, reason="材料待省里批复", extend_by=3,
        expected_version=1)  # fmt: skip
    before = snapshot(db_url)
    with pytest.raises(
        ConflictError, match=r"item \d+ was changed by someone else \(version 1, now 2\)"
    ):
        act(db_url, people["a02"], item, "respond", reason="开始整改", expected_version=1)
    assert snapshot(db_url) == before
    r = run("rectify", "report", str(item), "--progress", "x", "--version", "1", "--as-of",
            "2022-07-11", "--as", "A02lx", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "changed by someone else" in r.output
    assert "Traceback" not in r.output
    row = item_row(db_url, item)
    assert row["version"] == 2 and row["extensions"] == 1 and row["status"] == "open"


@pytest.mark.postgres
@pytest.mark.reliability
def test_interleaved_transactions_never_lose_an_update(
    pg_url: str, tmp_path: Path, home: Path
) -> None:
    """Two transactions both read version 1 (READ COMMITTED, truly concurrent on PostgreSQL):
    the first commits, the second's guarded UPDATE matches no row and it rolls back."""
    from bihuan.migrate import upgrade

    upgrade(pg_url)
    item = make_items(pg_url, tmp_path)[SATISFACTION]
    a02 = make_user(pg_url, "A02lx", UserRole.DEPARTMENT, department="A02", name="财政局")
    other = make_user(pg_url, "A02b", UserRole.DEPARTMENT, department="A02", name="另一人")
    app = app_for(pg_url)
    first_cmd = Act(jurisdiction="juxian", item_id=item, action=Action.START, reason="第一人")
    second_cmd = Act(jurisdiction="juxian", item_id=item, action=Action.REQUEST_CANNOT_SOLVE,
                     explanation="e", alternative="a")  # fmt: skip
    with UnitOfWork(app) as w1:
        first = rectification.prepare_act(w1, first_cmd, a02, D)
        with pytest.raises(ConflictError, match=r"version 1, now 2"), UnitOfWork(app) as w2:
            second = rectification.prepare_act(w2, second_cmd, other, D)
            assert second.loaded.state.version == 1
            rectification.store_move(w1, first, a02)
            w1.commit()
            rectification.store_move(w2, second, other)
    row = item_row(pg_url, item)
    assert row["status"] == "in_progress" and row["version"] == 2 and row["explanation"] == ""
    assert [e["actor"] for e in events(pg_url, item)] == ["编办王主任", "财政局"]


def test_concurrent_writers_without_a_version_both_land(
    db_url: str, items: dict[str, int], home: Path
) -> None:
    """Two office users extend the same item at once: both extensions are kept (seq 2 and 3,
    version 3), the second one computed from the first one's result, not from a stale read."""
    item = items[MISSING]
    users = [make_user(db_url, login, UserRole.OFFICE, name=name) for login, name in
             (("jia", "甲"), ("yi", "乙"))]  # fmt: skip
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def extend(who: Actor) -> None:
        barrier.wait()
        try:
            act(db_url, who, item, Action.EXTEND, reason=f"{who.display_name}批准", extend_by=2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=extend, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # On PostgreSQL the loser of the race may get a conflict instead (both read version 1);
    # either way nothing is lost: every landed extension is in the row and the history.
    landed = 2 - len(errors)
    assert all(isinstance(e, ConflictError) for e in errors), errors
    row = item_row(db_url, item)
    assert row["extensions"] == landed and row["version"] == 1 + landed
    assert len(events(db_url, item)) == 1 + landed
    assert len(audits(db_url, item)) == landed


# ------------------------------------------------------------------ history, audit, evidence


def test_history_audit_and_evidence_are_recorded(
    db_url: str, items: dict[str, int], people: dict[str, Actor], tmp_path: Path, home: Path
) -> None:
    from bihuan.settings import get_settings

    item = items[STAFFING]
    files = [tmp_path / "整改报告.docx", tmp_path / "花名册.xlsx"]
    files[0].write_bytes(b"report " * 1000)
    files[1].write_bytes(b"roster")
    var = get_settings().var_dir
    a01 = people["a01"]
    out = act(db_url, a01, item, Action.REPORT_FIXED, reason="已整改", evidence=files,
              evidence_refs=["莒编发〔2022〕5号"])  # fmt: skip
    assert out.status is Status.REPORTED_FIXED and out.seq == 2 and out.notices == 0
    assert out.capacity is Capacity.DEPARTMENT and out.evidence_refs == ["莒编发〔2022〕5号"]
    for f, ev in zip(files, out.evidence, strict=True):
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        assert ev.sha256 == sha and ev.path == f"evidence/{item}/{sha[:12]}-{f.name}"
        assert (var / ev.path).read_bytes() == f.read_bytes()
    ev_row = events(db_url, item)[-1]
    assert ev_row["actor"] == "张三" and ev_row["on_date"] == D and ev_row["reason"] == "已整改"
    assert ev_row["from_status"] == "open" and ev_row["to_status"] == "reported_fixed"
    assert ev_row["evidence"] == [e.path for e in out.evidence] + ["莒编发〔2022〕5号"]
    (a,) = audits(db_url, item)
    assert (a["user_id"], a["actor"], a["action"]) == (
        a01.user_id, "A01lx", "rectify_report_fixed",
    )  # fmt: skip
    d = a["details"]
    assert (d["from"], d["to"], d["reason"], d["role"], d["on_date"], d["seq"], d["by"]) == (
        "open", "reported_fixed", "已整改", "department", "2022-07-11", 2, "张三",
    )  # fmt: skip
    assert [x["sha256"] for x in d["evidence_files"]] == [e.sha256 for e in out.evidence]
    assert d["evidence_refs"] == ["莒编发〔2022〕5号"]
    # the same file again (a second report after a reject) is stored once, by content
    act(db_url, people["office"], item, Action.VERIFY_REJECT, reason="再补")
    act(db_url, a01, item, Action.REPORT_FIXED, reason="补齐", evidence=files[:1])
    assert len(list((var / "evidence" / str(item)).iterdir())) == 2


def test_cli_asks_for_an_extension_and_the_office_declines_or_grants_it(
    db_url: str, items: dict[str, int], people: dict[str, Actor], home: Path
) -> None:
    a01 = items[STAFFING]
    r = run("rectify", "request-extension", str(a01), "--days", "10", "--reason", "等待人社局盖章",
            "--as-of", "2022-07-05", "--as", "A01lx", "--version", "1", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "待整改; deadline" in r.output and "version 2" in r.output, r.output
    assert item_row(db_url, a01)["extension_request_days"] == 10
    r = run("rectify", "request-extension", str(a01), "--days", "5", "--reason", "再申请",
            "--as-of", "2022-07-05", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "no extension request pending" in r.output, r.output
    r = run("rectify", "decline-extension", str(a01), "--note", "理由不充分",
            "--as-of", "2022-07-06", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 3 and "may not decide" in r.output, r.output  # the office only
    r = run("rectify", "decline-extension", str(a01), "--note", "理由不充分",
            "--as-of", "2022-07-06", "--as", "likz", "--json", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["action"] == "decline_extension"
    assert item_row(db_url, a01)["extension_request_days"] is None
    (notice,) = notices(db_url)
    assert notice["subject"] == f"【不同意延期申请】县发展和改革局 整改事项 {a01}"
    r = run("rectify", "request-extension", str(a01), "--days", "10", "--reason", "仍需等待",
            "--as-of", "2022-07-07", "--as", "A01lx", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("rectify", "extend", str(a01), "--days", "8", "--reason", "同意延长8个工作日",
            "--as-of", "2022-07-08", "--as", "likz", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    row = item_row(db_url, a01)
    assert row["extensions"] == 1 and row["extension_request_days"] is None
    assert [a["details"].get("requested_days") for a in audits(db_url, a01)][-1] == "10"
