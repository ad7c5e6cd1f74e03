"""Small, valid import workbooks for tests, written as real .xlsx files or CSV folders."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl

from bihuan.ingest.schema import SHEETS, SHEETS_BY_KEY

Rows = dict[str, list[dict[str, Any]]]
YEAR = 2022


def good_rows() -> Rows:
    """Three departments, two sections of 13 tasks each, and a little of every other sheet."""
    depts = ["D01", "D02", "D03"]
    rows: Rows = {
        "teams": [
            {"code": "T1", "name": "经济部门监管评估小组", "category": "经济部门"},
            {"code": "T2", "name": "非经济部门监管评估小组", "category": "非经济部门"},
        ],
        "departments": [
            {
                "code": "D01",
                "name": "县发展和改革局",
                "category": "经济部门",
                "team": "T1",
                "head_name": "王强",
                "contact_email": "d01@juxian.example.cn",
                "active": "是",
            },
            {"code": "D02", "name": "县财政局", "category": "economic", "team": "T1"},
            {
                "code": "D03",
                "name": "县民政局",
                "category": "非经济部门",
                "team": "T2",
                "notify_tags": "d03,minzheng",
            },
        ],
        "sections": [
            {"department": "D01", "code": "S1", "name": "综合科"},
            {"department": "D02", "code": "S1", "name": "预算科"},
        ],
        "towns": [{"code": "Z01", "name": "城阳街道"}, {"code": "Z02", "name": "招贤镇"}],
        "commissioners": [
            {"code": "C01", "name": "李明", "team": "T1", "former_department": "D03"},
            {"code": "C02", "name": "张华", "team": "T2"},
        ],
        "indicators": [],
        "indicator_history": [],
        "staffing_checks": [],
        "central_tasks": [{"code": "CT1", "name": "招商引资", "target": "引进项目 10 个"}],
        "central_task_links": [
            {"task": "CT1", "department": "D01", "role": "牵头部门", "duty": "统筹"},
            {"task": "CT1", "department": "D02", "role": "配合单位"},
        ],
        "central_task_results": [
            {"phase": "年中", "task": "CT1", "department": "D01", "delivered_pct": 90},
            {
                "phase": "年中",
                "task": "CT1",
                "department": "D02",
                "delivered_pct": 55,
                "shortfall": "资金拨付滞后",
            },
        ],
        "submissions": [],
        "town_ratings": [],
        "peer_ratings": [],
        "public_ratings": [],
        "hotline_cases": [],
    }
    for dept in ("D01", "D02"):
        for n in range(1, 14):
            code = f"{dept}-S1-{n:02d}"
            quantitative = n % 2 == 0
            rows["indicators"].append(
                {
                    "code": code,
                    "department": dept,
                    "section": "S1",
                    "name": f"重点工作任务{n}",
                    "kind": "定量" if quantitative else "定性",
                    "unit": "件" if quantitative else None,
                    "target": 100 if quantitative else None,
                }
            )
            if quantitative:
                for y in (YEAR - 2, YEAR - 1):
                    rows["indicator_history"].append(
                        {"indicator": code, "year": y, "value": 80 + n}
                    )
                rows["submissions"].append(
                    {
                        "phase": "年中",
                        "indicator": code,
                        "value": 90 + n,
                        "method": "数据采集",
                        "submitted_on": date(YEAR, 6, 20),
                    }
                )
            else:
                rows["submissions"].append(
                    {
                        "phase": "mid-year",
                        "indicator": code,
                        "level": "已制定并落实",
                        "submitted_on": "2022-06-21",
                    }
                )
    for dept in depts:
        for check in (
            "党管机构编制原则落实情况",
            "机构编制事项落实情况",
            "机构设置合规情况",
            "实名制管理情况",
            "编外人员管理情况",
        ):
            rows["staffing_checks"].append(
                {"phase": "年中", "department": dept, "check": check, "problems": 0}
            )
        for town in ("Z01", "Z02"):
            rows["town_ratings"].append(
                {
                    "phase": "年中",
                    "town": town,
                    "department": dept,
                    "overall": 4,
                    "efficiency": 4.5,
                    "policy_effect": 4,
                    "guidance": 3,
                    "unblocking": 5,
                    "rated_on": date(YEAR, 6, 25),
                }
            )
        for other in depts:
            if other != dept:
                rows["peer_ratings"].append(
                    {
                        "phase": "年中",
                        "rater": dept,
                        "ratee": other,
                        "style": 4,
                        "efficiency": 4,
                        "quality": 5,
                        "cooperation": 3,
                        "one_go": 4,
                        "rated_on": date(YEAR, 6, 26),
                    }
                )
    rows["staffing_checks"][1].update(
        problems=2, problem_type="科室职责交叉", note="两科室职责交叉"
    )
    for i in range(10):
        rows["public_ratings"].append(
            {
                "phase": "年中",
                "response_key": f"R{i:04d}",
                "department": depts[i % 3],
                "level": ["满意", "基本满意", "不满意"][i % 3],
                "rated_on": date(YEAR, 6, 10),
            }
        )
    for i in range(5):
        rows["hotline_cases"].append(
            {
                "case_no": f"12345-{i:05d}",
                "department": depts[i % 3],
                "received_on": date(YEAR, 3, 1 + i),
                "due_on": date(YEAR, 3, 10 + i),
                "closed_on": date(YEAR, 3, 12) if i % 2 else None,
                "satisfaction": "满意" if i % 2 else None,
            }
        )
    return rows


def write_xlsx(path: Path, rows: Rows, *, english: bool = False) -> Path:
    """One sheet per key in schema order; Chinese titles and headers unless `english`."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for sheet in SHEETS:
        if sheet.key not in rows:
            continue
        ws = wb.create_sheet(sheet.key if english else sheet.zh)
        ws.append([c.key if english else c.zh for c in sheet.columns])
        for row in rows[sheet.key]:
            ws.append([row.get(c.key) for c in sheet.columns])
    wb.save(path)
    return path


def write_csv_folder(
    folder: Path, rows: Rows, *, encoding: str = "utf-8-sig", english_names: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, data in rows.items():
        sheet = SHEETS_BY_KEY[key]
        name = sheet.key if english_names else sheet.zh
        with (folder / f"{name}.csv").open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([c.zh for c in sheet.columns])
            for row in data:
                writer.writerow(
                    ["" if row.get(c.key) is None else row.get(c.key) for c in sheet.columns]
                )
    return folder
