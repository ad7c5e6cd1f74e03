"""The rectification shell and `bihuan rectify ...` on real SQLite and PostgreSQL databases."""

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
from bihuan.core.rectification import Action, Role, Status, TransitionError
from bihuan.db import get_engine, session_scope, table
from bihuan.errors import ConflictError, UserError
from bihuan.ingest.load import import_path
from bihuan.rectify import act, act_outcome, jurisdiction_id, load_item, prepare, store
from models import AuditLog, Notification, RectificationEvent, RectificationItem
from tests.flows.small_county import write_small_county

from .rectify_items import REPO_CONFIG, make_items, snapshot

cli = typer.Typer(cls=BihuanGroup)  # the same error handling as the real `bihuan` app
rectify_commands.register(cli)
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
    db_url: str, items: dict[str, int], tmp_path: Path, home: Path
) -> None:
    a01, a02 = items[STAFFING], items[CHAIN]
    proof = tmp_path / "入编备案表.pdf"
    proof.write_bytes(b"%PDF-1.4 proof of registration")

    r = run("rectify", "report", str(a01), "--progress", "已启动整改", "--as-of", "2022-07-05",
            "--actor", "张三", "--version", "1", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "待整改 → 整改中" in r.output and "version 2" in r.output
    r = run("rectify", "report", str(a01), "--progress", "已补办3人入编手续",
            "--as-of", "2022-07-06", "--actor", "张三", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "progress recorded" in r.output, r.output
    r = run("rectify", "report", str(a01), "--fixed", "--progress", "全部补办完毕",
            "--evidence", str(proof), "--as-of", "2022-07-08", "--actor", "张三", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "整改中 → 已报整改完成" in r.output, r.output
    r = run("rectify", "verify", str(a01), "--reject", "--note", "缺少花名册",
            "--as-of", "2022-07-11", "--actor", "李科长", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "重新整改" in r.output and "1 notice" in r.output, r.output
    r = run("rectify", "extend", str(a01), "--days", "5", "--reason", "等待人社局盖章",
            "--as-of", "2022-07-11", "--actor", "李科长", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "deadline 2022-08-08" in r.output, r.output
    r = run("rectify", "report", str(a01), "--fixed", "--progress", "花名册已补",
            "--evidence", str(proof), "--as-of", "2022-07-12", "--actor", "张三", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("rectify", "verify", str(a01), "--accept", "--note", "整改到位",
            "--as-of", "2022-07-13", "--actor", "李科长", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "已验收销号" in r.output, r.output

    r = run("rectify", "cannot-solve", str(a02), "--explanation", "配套资金由省级统筹",
            "--alternative", "申请县级周转资金", "--as-of", "2022-07-06", "--actor", "财政局",
            url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "申请无法解决" in r.output, r.output
    r = run("rectify", "decide", str(a02), "--deny", "--note", "县级可解决",
            "--as-of", "2022-07-07", "--actor", "李科长", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "申请无法解决 → 整改中" in r.output, r.output
    r = run("rectify", "cannot-solve", str(a02), "--explanation", "省级文件限制",
            "--alternative", "按季度报送进度", "--as-of", "2022-07-08", url=db_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("rectify", "decide", str(a02), "--approve", "--note", "同意",
            "--as-of", "2022-07-09", "--actor", "王主任", url=db_url)  # fmt: skip
    assert r.exit_code == 0 and "无法解决(已作政策解释)" in r.output, r.output

    row = item_row(db_url, a01)
    assert row["status"] == "verified_closed" and row["closed_on"] == date(2022, 7, 13)
    assert row["extensions"] == 1 and row["deadline"] == date(2022, 8, 8)
    assert row["version"] == 8 and row["last_response_on"] == date(2022, 7, 12)
    assert [e["seq"] for e in events(db_url, a01)] == list(range(1, 9))
    row2 = item_row(db_url, a02)
    assert row2["status"] == "cannot_solve" and row2["alternative"] == "按季度报送进度"

    # the department heard of each office decision (reject, extend, accept, deny, approve), once
    got = [(n["idempotency_key"], n["subject"]) for n in notices(db_url)]
    assert len(got) == 5
    assert got[0] == (f"item:{a01}:event:5:a01", f"【整改验收未通过】县发展和改革局 整改事项 {a01}")
    assert "整改期限已延长" in got[1][1] and "a02" in got[3][0] and "同意按无法解决" in got[4][1]

    r = run("rectify", "show", str(a01), "--json", url=db_url)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["item"]["status"] == "verified_closed" and shown["allowed"] == ["reopen"]
    actions = [h["action"] for h in shown["history"]]
    assert actions == ["issued", "start", "progress", "report_fixed", "verify_reject", "extend",
                       "report_fixed", "verify_accept"]  # fmt: skip
    assert (
        shown["history"][4]["actor"] == "李科长" and shown["history"][4]["reason"] == "缺少花名册"
    )
    r = run("rectify", "show", str(a01), url=db_url)
    assert r.exit_code == 0 and "验收不通过" in r.output and "缺少花名册" in r.output

    r = run("rectifications", "--json", "--status", "in_progress", url=db_url)
    assert r.exit_code == 0, r.output
    assert [x["id"] for x in json.loads(r.output)] == []
    r = run("rectifications", "--json", "--department", "A02", "--year", "2022", url=db_url)
    listed = json.loads(r.output)
    assert [x["id"] for x in listed] == [items[CHAIN], items[SATISFACTION]]
    assert listed[0]["department_name"] == "县财政局" and listed[0]["status"] == "cannot_solve"
    assert {"supervising_section", "extensions", "version", "escalation_level", "category",
            "severity", "deadline", "title"} <= set(listed[0])  # fmt: skip
    r = run("rectifications", url=db_url)
    assert r.exit_code == 0 and "县教育和体育局" in r.output


# ------------------------------------------------------------------ refusals


def test_illegal_moves_are_refused_with_the_allowed_list_and_change_nothing(
    db_url: str, items: dict[str, int], tmp_path: Path, home: Path
) -> None:
    item = items[STAFFING]
    before = snapshot(db_url)
    r = run("rectify", "verify", str(item), "--accept", "--note", "x", "--as-of", "2022-07-11",
            url=db_url)  # fmt: skip
    assert r.exit_code == 1
    assert "cannot verify_accept" in r.output and "allowed: start, report_fixed" in r.output
    assert "Traceback" not in r.output
    r = run("rectify", "report", str(item), "--fixed", "--progress", "done", "--as-of",
            "2022-07-11", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "needs evidence" in r.output
    r = run("rectify", "report", str(item), "--progress", "x", "--evidence", "/nonexistent.pdf",
            "--as-of", "2022-07-11", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "no such file" in r.output
    r = run("rectify", "report", "999", "--progress", "x", url=db_url)
    assert r.exit_code == 1 and "no rectification item 999" in r.output
    r = run("rectify", "report", str(item), "--progress", "x", "--as-of", "2022-07-01",
            url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "before the item was issued" in r.output
    r = run("rectifications", "--status", "done", url=db_url)
    assert r.exit_code == 1 and "is not a status" in r.output
    with pytest.raises(TransitionError, match="a department cannot extend"):
        act(db_url, jurisdiction="juxian", item_id=item, action=Action.EXTEND, actor="部门",
            role=Role.DEPARTMENT, as_of=D, reason="x", extend_by=3)  # fmt: skip
    assert snapshot(db_url) == before
    # items are scoped to the jurisdiction through their department
    import_path(db_url, write_small_county(tmp_path / "other"), year=2022, jurisdiction="other",
                actor="t")  # fmt: skip
    with pytest.raises(UserError, match=f"no rectification item {item} in this jurisdiction"):
        act(db_url, jurisdiction="other", item_id=item, action="respond", actor="x",
            role=Role.DEPARTMENT, as_of=D, reason="x")  # fmt: skip
    with pytest.raises(UserError, match="no jurisdiction 'nowhere'"):
        act(db_url, jurisdiction="nowhere", item_id=item, action="respond", actor="x",
            role=Role.DEPARTMENT, as_of=D, reason="x")  # fmt: skip
    assert item_row(db_url, item)["version"] == 1


def test_refusal_through_the_installed_entry_point_prints_no_traceback(
    sqlite_db: str, tmp_path: Path, home: Path
) -> None:
    items = make_items(sqlite_db, tmp_path)
    before = snapshot(sqlite_db)
    env = {**os.environ, "BIHUAN_HOME": str(home), "BIHUAN_CONFIG_DIR": str(REPO_CONFIG)}
    proc = subprocess.run(
        [sys.executable, "-c", "from bihuan.cli import main; main()", "rectify", "verify",
         str(items[MISSING]), "--accept", "--as-of", "2022-07-11", "--db", sqlite_db],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "allowed: start, report_fixed, request_cannot_solve, extend" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(sqlite_db) == before


# ------------------------------------------------------------------ optimistic locking


def test_second_of_two_users_who_saw_version_1_gets_a_conflict(
    db_url: str, items: dict[str, int], home: Path
) -> None:
    item = items[CHAIN]
    # both looked at the item at version 1; the coordinator extends it first
    act(db_url, jurisdiction="juxian", item_id=item, action=Action.EXTEND, actor="李科长",
        role=Role.COORDINATOR, as_of=D, reason="材料待省里批复", extend_by=3,
        expected_version=1)  # fmt: skip
    before = snapshot(db_url)
    with pytest.raises(
        ConflictError, match=r"item \d+ was changed by someone else \(version 1, now 2\)"
    ):
        act(db_url, jurisdiction="juxian", item_id=item, action="respond", actor="财政局",
            role=Role.DEPARTMENT, as_of=D, reason="开始整改", expected_version=1)  # fmt: skip
    assert snapshot(db_url) == before
    r = run("rectify", "report", str(item), "--progress", "x", "--version", "1", "--as-of",
            "2022-07-11", url=db_url)  # fmt: skip
    assert r.exit_code == 1 and "changed by someone else" in r.output
    assert "Traceback" not in r.output
    row = item_row(db_url, item)
    assert row["version"] == 2 and row["extensions"] == 1 and row["status"] == "open"


@pytest.mark.postgres
def test_interleaved_transactions_never_lose_an_update(
    pg_url: str, tmp_path: Path, home: Path
) -> None:
    """Two transactions both read version 1 (READ COMMITTED, truly concurrent on PostgreSQL):
    the first commits, the second's guarded UPDATE matches no row and it rolls back."""
    from bihuan.migrate import upgrade

    upgrade(pg_url)
    item = make_items(pg_url, tmp_path)[SATISFACTION]
    var = tmp_path / "var"
    with session_scope(pg_url) as s1:
        jid = jurisdiction_id(s1, "juxian")
        first = prepare(load_item(s1, jid, item), Action.START, actor="财政局",
                        role=Role.DEPARTMENT, as_of=D, reason="第一人")  # fmt: skip
        with pytest.raises(ConflictError, match=r"version 1, now 2"), session_scope(pg_url) as s2:
            second = prepare(
                load_item(s2, jid, item), Action.REQUEST_CANNOT_SOLVE, actor="另一人",
                role=Role.DEPARTMENT, as_of=D, explanation="e", alternative="a",
            )  # fmt: skip
            assert second.loaded.state.version == 1
            store(s1, first, var_dir=var)
            s1.commit()
            store(s2, second, var_dir=var)
    row = item_row(pg_url, item)
    assert row["status"] == "in_progress" and row["version"] == 2 and row["explanation"] == ""
    assert [e["actor"] for e in events(pg_url, item)] == ["office", "财政局"]


def test_concurrent_writers_without_a_version_both_land(
    db_url: str, items: dict[str, int], home: Path
) -> None:
    """Two threads extend the same item at once: both extensions are kept (seq 2 and 3,
    version 3), the second one computed from the first one's result, not from a stale read."""
    item = items[MISSING]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def extend(who: str) -> None:
        barrier.wait()
        try:
            act(db_url, jurisdiction="juxian", item_id=item, action=Action.EXTEND, actor=who,
                role=Role.COORDINATOR, as_of=D, reason=f"{who}批准", extend_by=2)  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=extend, args=(n,)) for n in ("甲", "乙")]
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
    db_url: str, items: dict[str, int], tmp_path: Path, home: Path
) -> None:
    item = items[STAFFING]
    files = [tmp_path / "整改报告.docx", tmp_path / "花名册.xlsx"]
    files[0].write_bytes(b"report " * 1000)
    files[1].write_bytes(b"roster")
    var = tmp_path / "var"
    out = act_outcome(db_url, jurisdiction="juxian", item_id=item, action=Action.REPORT_FIXED,
                      actor="张三", role=Role.DEPARTMENT, as_of=D, reason="已整改",
                      evidence=files, evidence_refs=["莒编发〔2022〕5号"], var_dir=var)  # fmt: skip
    assert out.item.status is Status.REPORTED_FIXED and out.seq == 2 and out.notices == 0
    for f, ev in zip(files, out.evidence, strict=True):
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        assert ev.sha256 == sha and ev.path == f"evidence/{item}/{sha[:12]}-{f.name}"
        assert (var / ev.path).read_bytes() == f.read_bytes()
    ev_row = events(db_url, item)[-1]
    assert ev_row["actor"] == "张三" and ev_row["on_date"] == D and ev_row["reason"] == "已整改"
    assert ev_row["from_status"] == "open" and ev_row["to_status"] == "reported_fixed"
    assert ev_row["evidence"] == [e.path for e in out.evidence] + ["莒编发〔2022〕5号"]
    (a,) = audits(db_url, item)
    assert a["actor"] == "张三" and a["action"] == "rectify_report_fixed"
    d = a["details"]
    assert (d["from"], d["to"], d["reason"], d["role"], d["on_date"], d["seq"]) == (
        "open", "reported_fixed", "已整改", "department", "2022-07-11", 2,
    )  # fmt: skip
    assert [x["sha256"] for x in d["evidence_files"]] == [e.sha256 for e in out.evidence]
    assert d["evidence_refs"] == ["莒编发〔2022〕5号"]
    # the same file again (a second report after a reject) is stored once, by content
    act(db_url, jurisdiction="juxian", item_id=item, action=Action.VERIFY_REJECT, actor="李科长",
        role=Role.COORDINATOR, as_of=D, reason="再补", var_dir=var)  # fmt: skip
    act(db_url, jurisdiction="juxian", item_id=item, action=Action.REPORT_FIXED, actor="张三",
        role=Role.DEPARTMENT, as_of=D, reason="补齐", evidence=files[:1], var_dir=var)  # fmt: skip
    assert len(list((var / "evidence" / str(item)).iterdir())) == 2
