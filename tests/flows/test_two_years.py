"""Two years of the cycle on a six-department county: re-check, board, sanctions, report.

Everything goes through production code (importer, annual-cycle, issue-problem-lists,
recheck, results, the CLI); only the departments' and coordinator's moves on the
rectification ledger are applied with the core state machine and stored directly.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bihuan.core.rectification import Action, ItemState, Role, Status, apply
from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from bihuan.report import database_folder
from flows.cycle import annual_cycle
from flows.problems import issue_problem_lists
from flows.recheck import recheck
from flows.results import results
from models import PhaseKind
from tests.flows.two_year_county import write_county
from tests.users import office

MID = PhaseKind.MID_YEAR
END = PhaseKind.YEAR_END
ROOT = Path(__file__).resolve().parents[2]


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def move(url: str, key: str, steps: list[tuple[Action, Role, dict[str, Any]]], on: date) -> None:
    """Walk the item of finding `key` through the state machine and store the outcome."""
    with get_engine(url).begin() as conn:
        r = conn.execute(
            text(
                "SELECT r.* FROM rectificationitem r JOIN finding f ON f.id = r.finding_id "
                "WHERE f.key = :k"
            ),
            {"k": key},
        ).one()
        state = ItemState(
            id=r.id,
            status=Status(r.status),
            issued_on=date.fromisoformat(str(r.issued_on)),
            deadline=date.fromisoformat(str(r.deadline)),
        )
        seq = conn.execute(
            text("SELECT max(seq) FROM rectificationevent WHERE item_id = :i"), {"i": r.id}
        ).scalar_one()
        for action, role, kw in steps:
            t = apply(state, action, actor="测试", role=role, as_of=on, **kw)
            state = t.item
            seq += 1
            conn.execute(
                text(
                    "INSERT INTO rectificationevent (item_id, seq, from_status, to_status, actor,"
                    " on_date, reason, evidence, at) VALUES (:i, :s, :f, :t, '测试', :d, '', '[]',"
                    " CURRENT_TIMESTAMP)"
                ),
                {
                    "i": r.id,
                    "s": seq,
                    "f": t.event.from_status.value,
                    "t": state.status.value,
                    "d": on,
                },
            )
        closed = on if state.status in (Status.VERIFIED_CLOSED, Status.CANNOT_SOLVE) else None
        conn.execute(
            text(
                "UPDATE rectificationitem SET status = :s, closed_on = :c, explanation = :e,"
                " alternative = :a, version = version + :n WHERE id = :i"
            ),
            {
                "s": state.status.value,
                "c": closed,
                "e": state.explanation,
                "a": state.alternative,
                "n": len(steps),
                "i": r.id,
            },
        )


FIXED = [
    (Action.START, Role.DEPARTMENT, {}),
    (Action.REPORT_FIXED, Role.DEPARTMENT, {"evidence": ["整改报告.pdf"]}),
    (Action.VERIFY_ACCEPT, Role.COORDINATOR, {}),
]
CANNOT = [
    (
        Action.REQUEST_CANNOT_SOLVE,
        Role.DEPARTMENT,
        {"explanation": "受上级政策限制", "alternative": "以购买服务方式替代"},
    ),
    (Action.APPROVE_CANNOT_SOLVE, Role.COORDINATOR, {}),
]


@pytest.fixture
def county(tmp_path: Path, db_url: str, use_db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    config = shutil.copytree(ROOT / "config", tmp_path / "config")
    policy = (config / "policy.toml").read_text(encoding="utf-8")
    assert 'green = "top 16%"\nred = "bottom 16%"' in policy
    (config / "policy.toml").write_text(
        policy.replace('green = "top 16%"\nred = "bottom 16%"', "green = 2\nred = 2"),
        encoding="utf-8",
    )
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(config))
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path))
    monkeypatch.setenv("BIHUAN_JURISDICTION", "juxian")
    use_db(db_url)
    return db_url


def board(url: str, year: int) -> list[tuple[str, int, str, float]]:
    return [
        (code, rank, colour, round(score, 4))
        for code, rank, colour, score in rows(
            url,
            "SELECT d.code, b.rank, b.colour, b.score FROM boardentry b "
            "JOIN department d ON d.id = b.department_id JOIN cycle c ON c.id = b.cycle_id "
            "WHERE c.year = :y ORDER BY b.rank",
            y=year,
        )
    ]


def test_two_years_recheck_board_sanctions_and_report(county: str, tmp_path: Path) -> None:
    url = county
    # ---- 2022: assess, issue, rectify, results
    import_path(
        url, write_county(tmp_path / "y2022", 2022), year=2022, jurisdiction="juxian", actor="t"
    )
    wang = office(url)  # the office user (编办) who runs the re-check and the results
    run = {"jurisdiction": "juxian", "run_as": wang.login}
    annual_cycle(**run, year=2022, phase=MID, as_of=date(2022, 7, 1), seed=1)
    issued = issue_problem_lists(
        jurisdiction="juxian",
        run_as=office(url).login,
        year=2022,
        phase=MID,
        as_of=date(2022, 7, 4),
        auto_approve="office",
        wait_for_approval=False,
    )
    assert issued.items_created == 4
    on = date(2022, 7, 8)
    move(url, "mid-year:indicator:D06-S1-01", FIXED, on)  # fixed, and passes in 2023
    move(url, "mid-year:indicator:D06-S1-02", FIXED, on)  # verified, but fails again in 2023
    move(url, "mid-year:indicator:D05-S1-02", CANNOT, on)  # cannot be solved
    # D02-S1-04 stays open: not fixed
    # before the year-end assessment: refused, or a provisional board (暂定) with --provisional
    early = cli("results", "--year", "2022", "--as-of", "2022-12-01", "--db", url, "--as", "office")
    assert early.exit_code == 1 and "year-end assessment" in early.output, early.output
    assert "--provisional" in early.output and "Traceback" not in early.output
    assert not rows(url, "SELECT id FROM boardentry")
    prov = cli(
        "results", "--year", "2022", "--provisional", "--json", "--as-of", "2022-12-01",
        "--db", url, "--as", "office",
    )  # fmt: skip
    assert prov.exit_code == 0, prov.output
    summary = json.loads(prov.stdout)
    assert summary["provisional"] is True and summary["provisional_label"] == "暂定"
    assert all(r["provisional"] and r["provisional_label"] == "暂定" for r in summary["board"])
    assert "（暂定）" in Path(summary["report_path"]).read_text(encoding="utf-8")
    assert rows(url, "SELECT DISTINCT provisional FROM boardentry") == [(True,)]
    annual_cycle(**run, year=2022, phase=END, as_of=date(2022, 12, 30), seed=1)
    r2022 = results(**run, year=2022, as_of=date(2023, 1, 5))
    assert not r2022.provisional  # the final board replaces the provisional one
    assert rows(url, "SELECT DISTINCT provisional FROM boardentry") == [(False,)]
    # D02 and D03 tie at 75 on the green boundary: D02 has one open item, so D03 goes first
    assert board(url, 2022) == [
        ("D01", 1, "green", 100.0),
        ("D03", 2, "green", 75.0),
        ("D02", 3, "yellow", 75.0),
        ("D04", 4, "yellow", 60.0),
        ("D05", 5, "red", 30.0),
        ("D06", 6, "red", 0.0),
    ]
    assert {r.code: r.tie_rule for r in r2022.board}["D02"] == "open_items"
    assert not [c for c in r2022.consequences if c.kind == "head_talk"]  # no last year

    # ---- 2023: January re-check, mid-year assessment, re-check again, re-assess
    import_path(
        url, write_county(tmp_path / "y2023", 2023), year=2023, jurisdiction="juxian", actor="t"
    )
    jan = recheck(**run, year=2023, as_of=date(2023, 1, 10))
    by_key = {d.item: d.outcome for d in jan.decisions}
    items = dict(
        rows(
            url, "SELECT f.key, r.id FROM rectificationitem r JOIN finding f ON f.id = r.finding_id"
        )
    )
    assert by_key == {
        items["mid-year:indicator:D02-S1-04"]: "carried",
        items["mid-year:indicator:D05-S1-02"]: "stays_cannot_solve",
        items["mid-year:indicator:D06-S1-01"]: "stays_closed",  # no 2023 result yet
        items["mid-year:indicator:D06-S1-02"]: "stays_closed",
    }
    assert jan.new_findings == 1
    annual_cycle(**run, year=2023, phase=MID, as_of=date(2023, 7, 1), seed=1)
    jul = recheck(**run, year=2023, as_of=date(2023, 7, 3))
    outcome = {d.item: (d.outcome, d.reason) for d in jul.decisions}
    assert outcome[items["mid-year:indicator:D06-S1-01"]][0] == "stays_closed"
    assert "已达标" in outcome[items["mid-year:indicator:D06-S1-01"]][1]
    assert outcome[items["mid-year:indicator:D06-S1-02"]][0] == "recurring"
    assert outcome[items["mid-year:indicator:D05-S1-02"]][0] == "stays_cannot_solve"
    assert jul.new_findings == 1 and jul.recorded == 1  # only the new outcome is recorded
    again = recheck(**run, year=2023, as_of=date(2023, 7, 3))
    assert again.new_findings == 0 and again.recorded == 0

    carried = rows(
        url,
        "SELECT d.code, f.key, f.title, f.severity, f.status, f.phase_kind, f.carried_from_id, "
        "old.key FROM finding f JOIN department d ON d.id = f.department_id "
        "JOIN finding old ON old.id = f.carried_from_id JOIN cycle c ON c.id = f.cycle_id "
        "WHERE f.category = 'carried_over' AND c.year = 2023 ORDER BY d.code",
    )
    assert [(c[0], c[1], c[3], c[4], c[5], c[7]) for c in carried] == [
        (
            "D02",
            "carried:2022:mid-year:indicator:D02-S1-04",
            "high",
            "proposed",
            "mid-year",
            "mid-year:indicator:D02-S1-04",
        ),
        (
            "D06",
            "carried:2022:mid-year:indicator:D06-S1-02",
            "high",
            "proposed",
            "mid-year",
            "mid-year:indicator:D06-S1-02",
        ),
    ]
    assert "2022年年中问题延续" in carried[0][2] and "2022年年中问题复发" in carried[1][2]
    # last year's rows keep their status; the carried one gained a history event
    old = dict(
        rows(
            url,
            "SELECT f.key, r.status FROM rectificationitem r JOIN finding f ON f.id = r.finding_id JOIN cycle c ON c.id = f.cycle_id WHERE c.year = 2022",
        )
    )
    assert old == {
        "mid-year:indicator:D02-S1-04": "open",
        "mid-year:indicator:D05-S1-02": "cannot_solve",
        "mid-year:indicator:D06-S1-01": "verified_closed",
        "mid-year:indicator:D06-S1-02": "verified_closed",
    }
    history = rows(
        url,
        "SELECT actor, reason FROM rectificationevent WHERE item_id = :i ORDER BY seq",
        i=items["mid-year:indicator:D02-S1-04"],
    )
    assert history[-1][0] == wang.login and "2023年次年复查：延续整改" in history[-1][1]
    audits = rows(url, "SELECT user_id FROM auditlog WHERE action = 'recheck:2023'")
    assert len(audits) == 5  # four January decisions + the recurrence found in July
    assert {u for (u,) in audits} == {wang.user_id}

    annual_cycle(
        **run, year=2023, phase=MID, as_of=date(2023, 7, 4), seed=1
    )  # re-score with penalty
    no_board = cli(
        "report", "--year", "2023", "--out", str(tmp_path / "x.html"), "--db", url, "--as", "office"
    )
    assert no_board.exit_code == 1 and "bihuan results --year 2023" in no_board.output
    assert "Traceback" not in no_board.output and not (tmp_path / "x.html").exists()
    issue_problem_lists(
        jurisdiction="juxian",
        run_as=office(url).login,
        year=2023,
        phase=MID,
        as_of=date(2023, 7, 5),
        auto_approve="office",
        wait_for_approval=False,
    )
    # the problem that came back is on the 2023 list once, as the carried (serious) finding
    d06_2023 = {
        k
        for (k,) in rows(
            url,
            "SELECT f.key FROM finding f JOIN cycle c ON c.id = f.cycle_id "
            "JOIN department d ON d.id = f.department_id WHERE c.year = 2023 AND d.code = 'D06'",
        )
    }
    assert "carried:2022:mid-year:indicator:D06-S1-02" in d06_2023
    assert "mid-year:indicator:D06-S1-02" not in d06_2023
    annual_cycle(**run, year=2023, phase=END, as_of=date(2023, 12, 29), seed=1)
    r2023 = results(**run, year=2023, as_of=date(2024, 1, 5))
    assert board(url, 2023) == [
        ("D01", 1, "green", 100.0),
        ("D02", 2, "green", 88.0),  # 90 less 2 points for its carried item
        ("D05", 3, "yellow", 80.0),
        ("D03", 4, "yellow", 75.0),
        ("D04", 5, "red", 60.0),
        ("D06", 6, "red", 28.0),  # 30 less 2
    ]
    kinds = {(c.code, c.kind) for c in r2023.consequences}
    assert ("D06", "staffing_freeze") in kinds and ("D06", "head_talk") in kinds
    assert not {
        k for k in kinds if k[0] in ("D04", "D05") and k[1] in ("head_talk", "staffing_freeze")
    }
    assert {k[0] for k in kinds if k[1] == "staffing_priority"} == {"D01", "D02"}
    due = rows(
        url,
        "SELECT c.due_on FROM consequence c JOIN department d ON d.id = c.department_id WHERE d.code = 'D06' AND c.kind = 'head_talk'",
    )
    # ten working days after Fri 2024-01-05
    assert str(due[0][0]) == "2024-01-19"
    notices = rows(
        url,
        "SELECT recipient_tag, kind, subject FROM notification WHERE kind = 'head_talk' ORDER BY recipient_tag",
    )
    assert [(t, k) for t, k, _ in notices] == [
        ("d06-head", "head_talk"),
        ("leadership", "head_talk"),
    ]
    assert "约谈" in notices[0][2]
    # idempotent: a re-run sends nothing new and keeps the board
    rerun = results(**run, year=2023, as_of=date(2024, 1, 8))
    assert len(rows(url, "SELECT id FROM notification WHERE kind = 'head_talk'")) == 2
    assert len(rows(url, "SELECT id FROM boardentry")) == 12
    assert (
        str(rows(url, "SELECT c.due_on FROM consequence c WHERE c.kind = 'head_talk'")[0][0])
        == "2024-01-19"
    )

    # each run's report in the database's folder, stamped; the latest copied beside them
    report, again = Path(r2023.report_path), Path(rerun.report_path)
    folder = tmp_path / "var" / "reports" / database_folder(url)
    assert report.parent == again.parent == folder and report != again
    assert re.fullmatch(r"juxian-2023-\d{8}T\d{6}Z(-\d+)?\.html", report.name), report.name
    assert Path(rerun.report_latest) == folder / "juxian-2023-latest.html"
    assert Path(rerun.report_latest).read_bytes() == again.read_bytes()
    assert re.fullmatch(
        r"juxian-2022-\d{8}T\d{6}Z(-\d+)?-暂定\.html", Path(summary["report_path"]).name
    )
    html = report.read_text(encoding="utf-8")
    assert "县文化和旅游局" in html and "约谈" in html

    # ---- the CLI: board --json, report --out
    out = cli("board", "--year", "2023", "--json", "--db", url, "--as", "office")
    assert out.exit_code == 0, out.output
    data = {r["code"]: r for r in json.loads(out.stdout)}
    assert data["D06"]["colour"] == "red" and data["D06"]["rank"] == 6
    assert {c["kind"] for c in data["D06"]["consequences"]} == {
        "staffing_freeze",
        "head_talk",
        "assessment_points",
    }
    points = next(c for c in data["D01"]["consequences"] if c["kind"] == "assessment_points")
    assert points["points"] == 20.0  # economic, 100 / 100 × 20
    target = tmp_path / "out" / "report.html"
    out = cli(
        "report",
        "--year",
        "2023",
        "--out",
        str(target),
        "--db",
        url,
        "--as-of",
        "2024-01-05",
        "--as",
        "office",
    )
    assert out.exit_code == 0, out.output
    text_ = target.read_text(encoding="utf-8")
    assert "综合情况报告" in text_ and "上年度问题" in text_
    assert "http://" not in text_.replace("http://www.w3.org/2000/svg", "")
    # the latest decision per item: D06-S1-02 counts as recurring, not also as stays_closed
    assert "延续整改1项、问题复发1项、维持无法解决1项、维持销号1项" in text_

    # ---- a lapsed alternative: the cannot-solve item is carried by the next re-check
    cannot = str(items["mid-year:indicator:D05-S1-02"])
    wrong = cli(
        "alternative-lapsed",
        str(items["mid-year:indicator:D02-S1-04"]),
        "--reason",
        "测试",
        "--db",
        url,
        "--as",
        "office",
    )
    assert wrong.exit_code == 1 and "not cannot_solve" in wrong.output
    ok = cli(
        "alternative-lapsed",
        cannot,
        "--reason",
        "替代服务合同已终止",
        "--db",
        url,
        "--as",
        "office",
    )
    assert ok.exit_code == 0, ok.output
    lapsed = recheck(**run, year=2023, as_of=date(2024, 1, 10))
    assert {d.item: d.outcome for d in lapsed.decisions}[int(cannot)] == "carried"
    assert lapsed.new_findings == 1
    assert rows(url, "SELECT status FROM rectificationitem WHERE id = :i", i=int(cannot)) == [
        ("cannot_solve",)
    ]


def cli(*args: str) -> Any:
    from bihuan.cli import _register_commands, app

    _register_commands()
    return CliRunner().invoke(app, list(args))
