"""The ledger importer against real .xlsx files, CSV folders and real databases."""

from __future__ import annotations

import copy
import hashlib
import hmac
import struct
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

import models
from bihuan.db import get_engine
from bihuan.ingest.load import ImportFailed, ImportReport, import_path
from bihuan.ingest.readers import Caps
from models import AuditLog, Department, Indicator, PeerBallot, PeerRating, Phase, Submission

from .workbooks import YEAR, Rows, good_rows, write_csv_folder, write_xlsx


def run(url: str, path: Path, **kw: Any) -> ImportReport:
    kw.setdefault("year", YEAR)
    return import_path(url, path, jurisdiction="juxian", actor="tester", **kw)


def failed(url: str, path: Path, **kw: Any) -> ImportFailed:
    with pytest.raises(ImportFailed) as info:
        run(url, path, **kw)
    return info.value


def table_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in models.metadata.tables.items()
        }


def messages(exc: ImportFailed) -> str:
    return "\n".join(str(i) for i in exc.report.errors)


@pytest.mark.reliability
def test_good_workbook_loads_and_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "juxian-2022.xlsx", good_rows())
    report = run(db_url, path, jurisdiction_name="莒县")
    assert report.errors == [] and report.warnings == []
    assert report.counts["departments"] == {"inserted": 3, "updated": 0, "unchanged": 0}
    assert report.counts["indicators"]["inserted"] == 26
    assert report.counts["peer_ratings"]["inserted"] == 6
    with Session(get_engine(db_url)) as session:
        depts = {d.code: d for d in session.exec(select(Department)).scalars()}  # type: ignore[call-overload]
        assert depts["D01"].notify_tags == "d01"  # defaults to the lowercase code
        assert depts["D03"].notify_tags == "d03,minzheng"
        assert depts["D01"].category == "economic" and depts["D02"].category == "economic"
        assert depts["D01"].head_name == "王强" and depts["D01"].active is True
        assert depts["D01"].team_id is not None and depts["D01"].team_id == depts["D02"].team_id
        windows = {
            p.kind: (p.window_start.isoformat(), p.window_end.isoformat())
            for p in session.exec(select(Phase)).scalars()
        }  # type: ignore[call-overload]
        assert windows["mid-year"][0].startswith("2022-06")
        assert windows["year-end"][0].startswith("2022-12")
        levels = (
            session.execute(select(Submission.level).where(Submission.level.is_not(None)))
            .scalars()
            .all()
        )  # type: ignore[union-attr]
        assert set(levels) == {"implemented"}
    before, audits = table_counts(db_url), table_counts(db_url)["auditlog"]
    assert audits == 1  # one summary row for the first import

    again = run(db_url, path, jurisdiction_name="莒县")
    assert again.changed == 0
    assert all(c["inserted"] == c["updated"] == 0 for c in again.counts.values())
    assert table_counts(db_url) == before  # no rows, no audit noise


def test_csv_folder_in_utf8_with_english_file_names(sqlite_db: str, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path / "csv", good_rows(), english_names=True)
    report = run(sqlite_db, folder)
    assert report.counts["submissions"]["inserted"] == 26
    assert report.counts["hotline_cases"]["inserted"] == 5


def test_gbk_csv_folder_loads(sqlite_db: str, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path / "gbk", good_rows(), encoding="gbk")
    assert (folder / "部门.csv").read_bytes().find("县财政局".encode("gbk")) > 0
    run(sqlite_db, folder)
    with get_engine(sqlite_db).connect() as conn:
        names = set(conn.execute(text("SELECT name FROM department")).scalars())
    assert names == {"县发展和改革局", "县财政局", "县民政局"}


def test_english_sheet_names_and_headers(sqlite_db: str, tmp_path: Path) -> None:
    report = run(sqlite_db, write_xlsx(tmp_path / "en.xlsx", good_rows(), english=True))
    assert report.counts["indicators"]["inserted"] == 26


@pytest.mark.reliability
def test_formula_cells_are_rejected_naming_the_cell(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "f.xlsx", good_rows())
    wb = openpyxl.load_workbook(path)
    ws = wb["履职台账"]
    ws["I2"] = "=SUM(1,2)"  # 权重 of the first indicator
    wb.save(path)
    exc = failed(sqlite_db, path)
    [issue] = exc.report.errors
    assert (issue.sheet, issue.row, issue.column) == ("履职台账", 2, "权重")
    assert "I2" in issue.message and "formula not allowed" in issue.message
    assert table_counts(sqlite_db)["department"] == 0


@pytest.mark.reliability
def test_csv_renamed_to_xlsx_is_a_clear_error(sqlite_db: str, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path / "c", {"departments": good_rows()["departments"]})
    fake = tmp_path / "ledger.xlsx"
    fake.write_bytes((folder / "部门.csv").read_bytes())
    exc = failed(sqlite_db, fake)
    assert "not a zip archive" in messages(exc) and "CSV" in messages(exc)


def test_oversized_sheet_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", good_rows())
    exc = failed(sqlite_db, path, max_rows=20)
    assert "more than 20 data rows" in messages(exc)
    assert table_counts(sqlite_db)["department"] == 0


def test_oversized_file_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", good_rows())
    exc = failed(sqlite_db, path, caps=Caps(max_file_bytes=1000))
    assert "above the limit" in messages(exc)


@pytest.mark.reliability
def test_zip_bomb_is_refused_before_unpacking(sqlite_db: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<x/>" * 8)
    data = bytearray(bomb.read_bytes())
    # declare ~4 GB uncompressed in the central directory, which is what the check reads
    at = data.rindex(b"PK\x01\x02")  # the central-directory entry of the last member
    data[at + 24 : at + 28] = struct.pack("<I", 0xFFFF0000)
    bomb.write_bytes(bytes(data))
    assert bomb.stat().st_size < 1000
    exc = failed(sqlite_db, bomb)
    assert "zip bomb" in messages(exc)


@pytest.mark.reliability
def test_wrong_types_all_reported_and_nothing_written(sqlite_db: str, tmp_path: Path) -> None:
    run(sqlite_db, write_xlsx(tmp_path / "good.xlsx", good_rows()))
    before = table_counts(sqlite_db)
    rows = good_rows()
    rows["departments"][0]["category"] = "农业部门"
    rows["departments"][1]["name"] = None
    rows["indicators"][0]["weight"] = "abc"
    rows["town_ratings"][0]["overall"] = 7
    rows["submissions"][0]["submitted_on"] = "2022-13-45"
    rows["departments"][2]["active"] = "maybe"
    exc = failed(sqlite_db, write_xlsx(tmp_path / "bad.xlsx", rows))
    where = {(i.sheet, i.row, i.column) for i in exc.report.errors}
    assert where >= {
        ("部门", 2, "类别"),
        ("部门", 3, "部门名称"),
        ("部门", 4, "是否在用"),
        ("履职台账", 2, "权重"),
        ("镇街评价", 2, "全面履职"),
        ("报送情况", 2, "报送日期"),
    }
    text_ = messages(exc)
    assert "经济部门" in text_ and "out of range" in text_ and "YYYY-MM-DD" in text_
    assert table_counts(sqlite_db) == before  # all or nothing


def test_unknown_department_codes(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows["hotline_cases"][0]["department"] = "D99"
    rows["indicators"][3]["department"] = "D77"
    exc = failed(sqlite_db, write_xlsx(tmp_path / "u.xlsx", rows))
    text_ = messages(exc)
    assert "unknown department code (部门代码) 'D99'" in text_ and "'D77'" in text_
    assert len(exc.report.errors) == 2
    assert {i.column for i in exc.report.errors} == {"部门代码"}


def test_codes_already_in_the_database_are_known(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "all.xlsx", rows))
    only = {"hotline_cases": rows["hotline_cases"] + [dict(rows["hotline_cases"][0], case_no="N1")]}
    report = run(sqlite_db, write_xlsx(tmp_path / "more.xlsx", only))
    assert report.counts["hotline_cases"] == {"inserted": 1, "updated": 0, "unchanged": 5}


def test_duplicate_indicator_codes(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows["indicators"][5]["code"] = rows["indicators"][1]["code"]
    exc = failed(sqlite_db, write_xlsx(tmp_path / "d.xlsx", rows))
    dup = [i for i in exc.report.errors if "duplicate" in i.message]
    assert len(dup) == 1 and dup[0].row == 7 and "already on row 3" in dup[0].message


def test_section_with_twelve_tasks_is_only_a_warning(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    dropped = rows["indicators"].pop()  # the 13th task of D02/S1 (quantitative? no: odd n)
    rows["submissions"] = [s for s in rows["submissions"] if s["indicator"] != dropped["code"]]
    rows["indicator_history"] = [
        h for h in rows["indicator_history"] if h["indicator"] != dropped["code"]
    ]
    report = run(sqlite_db, write_xlsx(tmp_path / "w.xlsx", rows))
    assert [w.message for w in report.warnings if "12 key tasks" in w.message]
    assert report.counts["indicators"]["inserted"] == 25


def test_qualitative_needs_level_quantitative_needs_value(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows["submissions"][0]["level"] = None  # D01-S1-01 is qualitative
    rows["submissions"][1]["value"] = None  # D01-S1-02 is quantitative
    exc = failed(sqlite_db, write_xlsx(tmp_path / "q.xlsx", rows))
    cols = {(i.row, i.column) for i in exc.report.errors}
    assert cols == {(2, "定性等次"), (3, "数值")}


def test_yearly_sheets_need_a_year(sqlite_db: str, tmp_path: Path) -> None:
    exc = failed(sqlite_db, write_xlsx(tmp_path / "y.xlsx", good_rows()), year=None)
    assert "--year" in messages(exc)
    rows = good_rows()
    report = run(
        sqlite_db,
        write_xlsx(
            tmp_path / "org.xlsx", {"departments": rows["departments"], "teams": rows["teams"]}
        ),
        year=None,
    )
    assert report.counts["departments"]["inserted"] == 3


def test_corrected_file_updates_in_place_and_audits(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "v1.xlsx", rows))
    before = table_counts(sqlite_db)
    fixed = copy.deepcopy(rows)
    fixed["departments"][0]["name"] = "县发展和改革局 (更正)"
    fixed["departments"][1]["team"] = "T2"
    fixed["indicators"][1]["target"] = 120
    fixed["submissions"][1]["value"] = 99.5
    report = run(sqlite_db, write_xlsx(tmp_path / "v2.xlsx", fixed))
    assert report.counts["departments"] == {"inserted": 0, "updated": 2, "unchanged": 1}
    assert report.counts["indicators"]["updated"] == 1
    assert report.counts["submissions"]["updated"] == 1
    after = table_counts(sqlite_db)
    assert {k: v for k, v in after.items() if k != "auditlog"} == {
        k: v for k, v in before.items() if k != "auditlog"
    }
    with Session(get_engine(sqlite_db)) as session:
        rows_ = session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()  # type: ignore[arg-type]
        new = rows_[before["auditlog"] :]
        by_key = {(a.entity, a.entity_key): a.details for a in new if a.action == "import.update"}
        assert by_key[("departments", "D01")]["changes"]["name"] == [
            "县发展和改革局",
            "县发展和改革局 (更正)",
        ]
        assert by_key[("departments", "D02")]["changes"]["team_id"] == ["T1", "T2"]
        assert by_key[("indicators", "D01-S1-02")]["changes"]["target"] == [100.0, 120.0]
        assert ("submissions", "mid-year/D01-S1-02") in by_key
        assert [a.action for a in new].count("import") == 1
        assert (
            session.execute(
                select(Indicator.target).where(Indicator.code == "D01-S1-02")
            ).scalar_one()
            == 120
        )  # type: ignore[arg-type]


def test_column_left_out_keeps_the_stored_value(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "v1.xlsx", rows))
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "部门"
    ws.append(["部门代码", "部门名称", "类别"])
    ws.append(["D03", "县民政局", "非经济部门"])
    wb.save(tmp_path / "partial.xlsx")
    report = run(sqlite_db, tmp_path / "partial.xlsx", year=None)
    assert report.counts["departments"]["unchanged"] == 1
    with get_engine(sqlite_db).connect() as conn:
        tags = conn.execute(
            text("SELECT notify_tags FROM department WHERE code='D03'")
        ).scalar_one()
    assert tags == "d03,minzheng"


@pytest.mark.reliability
def test_peer_ratings_are_anonymous_in_storage(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "p.xlsx", rows))
    engine = get_engine(sqlite_db)
    with engine.connect() as conn:
        ballots = [dict(r._mapping) for r in conn.execute(select(PeerBallot.__table__))]  # type: ignore[attr-defined]
        ratings = [dict(r._mapping) for r in conn.execute(select(PeerRating.__table__))]  # type: ignore[attr-defined]
        audit_text = " ".join(
            str(d) for d in conn.execute(text("SELECT details FROM auditlog")).scalars()
        )
        dept_ids = dict(conn.execute(text("SELECT code, id FROM department")).all())
    assert len(ballots) == len(ratings) == 6
    assert set(ballots[0]) == {"id", "phase_id", "token"}
    assert "rater" not in " ".join(PeerRating.__table__.c.keys())  # type: ignore[attr-defined]
    assert not {b["id"] for b in ballots} & {r["id"] for r in ratings}
    # Nothing stored names a rater: no code, no id, no unkeyed hash of the pair.
    phase_id = ballots[0]["phase_id"]
    for rater in dept_ids:
        plain = {rater, rater.lower(), str(dept_ids[rater])}
        for ratee in dept_ids:
            pair = f"{phase_id}:{rater}:{ratee}".encode()
            plain.add(hashlib.sha256(pair).hexdigest())
        for stored in ballots:
            assert not plain & {str(v) for v in stored.values()} - {str(phase_id)}
        assert rater not in audit_text  # the audit summary holds counts, never codes
    keyed = {
        hmac.new(b"test-secret", f"{phase_id}:{a}:{b}".encode(), hashlib.sha256).hexdigest()
        for a in dept_ids
        for b in dept_ids
        if a != b
    }
    assert {b["token"] for b in ballots} == keyed  # only the secret maps a token to a pair
    assert {r["ratee_department_id"] for r in ratings} == set(dept_ids.values())


def test_peer_rating_reimport_skips_and_change_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "p1.xlsx", rows))
    report = run(
        sqlite_db, write_xlsx(tmp_path / "p2.xlsx", {"peer_ratings": rows["peer_ratings"]})
    )
    assert report.counts["peer_ratings"] == {"inserted": 0, "updated": 0, "unchanged": 6}
    assert table_counts(sqlite_db)["peerrating"] == 6
    changed = copy.deepcopy(rows["peer_ratings"])
    changed[0]["style"] = 1
    exc = failed(sqlite_db, write_xlsx(tmp_path / "p3.xlsx", {"peer_ratings": changed}))
    assert "cannot be changed once cast" in messages(exc) and exc.report.errors[0].row == 2
    assert table_counts(sqlite_db)["peerrating"] == 6


def test_self_rating_is_rejected(sqlite_db: str, tmp_path: Path) -> None:
    rows: Rows = good_rows()
    rows["peer_ratings"][0]["ratee"] = rows["peer_ratings"][0]["rater"]
    exc = failed(sqlite_db, write_xlsx(tmp_path / "s.xlsx", rows))
    assert any("self-rating" in i.message for i in exc.report.errors)


@pytest.mark.reliability
def test_xml_bomb_is_refused_by_the_parser_and_nothing_is_written(
    sqlite_db: str, tmp_path: Path
) -> None:
    """A billion-laughs DTD in a sheet: defusedxml refuses the entities before any expansion."""
    good = write_xlsx(tmp_path / "good.xlsx", good_rows())
    bomb = tmp_path / "bomb.xlsx"
    dtd = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = data.decode()
                if body.startswith("<?xml"):
                    body = body.split("?>", 1)[1]
                data = (dtd + body).encode()
            zout.writestr(item, data)
    exc = failed(sqlite_db, bomb)
    assert "cannot open the workbook" in messages(exc)
    assert table_counts(sqlite_db)["department"] == 0


@pytest.mark.reliability
def test_ratings_from_several_files_do_not_point_at_their_raters(
    sqlite_db: str, tmp_path: Path
) -> None:
    """Each department sends its own file of peer ratings: after each import the phase's ratings
    are rewritten in one new random order with new ids, and the audit rows carry no peer-rating
    counts, so neither row order, ids nor the log groups ratings by file (that is, by rater)."""
    rows = good_rows()
    by_rater: dict[str, list[dict[str, Any]]] = {}
    for r in rows["peer_ratings"]:
        by_rater.setdefault(r["rater"], []).append(r)
    base = {k: v for k, v in rows.items() if k != "peer_ratings"}
    run(sqlite_db, write_xlsx(tmp_path / "base.xlsx", base))
    engine = get_engine(sqlite_db)

    def stored() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT rowid, id FROM peerrating"))]

    seen_ids: set[str] = set()
    for i, (rater, ratings) in enumerate(sorted(by_rater.items())):
        run(sqlite_db, write_xlsx(tmp_path / f"{rater}.xlsx", {"peer_ratings": ratings}))
        now = stored()
        ids = {row[1] for row in now}
        assert not ids & seen_ids, "ids must not survive an import: they would date the rating"
        seen_ids |= ids
        assert len(now) == sum(len(v) for _, v in sorted(by_rater.items())[: i + 1])
    with engine.connect() as conn:
        details = [str(d) for d in conn.execute(text("SELECT details FROM auditlog")).scalars()]
    assert not any("peer_ratings" in d for d in details)
