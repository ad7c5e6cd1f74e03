"""A small hand-built county (3 departments) written as a CSV folder, loaded by the importer.

The expected scores in test_assessment.py are computed by hand from these rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

FIVE = [
    "party_management",
    "approved_matters",
    "setup_compliance",
    "real_name",
    "off_establishment",
]

SHEETS: dict[str, list[list[object]]] = {
    "teams": [
        ["code", "name", "category"],
        ["T1", "经济部门监管评估小组", "经济部门"],
        ["T2", "非经济部门监管评估小组", "非经济部门"],
    ],
    "departments": [
        ["code", "name", "category", "team", "head_name"],
        ["A01", "县发展和改革局", "经济部门", "T1", "张三"],
        ["A02", "县财政局", "经济部门", "T1", "李四"],
        ["B01", "县教育和体育局", "非经济部门", "T2", "王五"],
    ],
    "sections": [
        ["department", "code", "name"],
        ["A01", "S1", "综合科"],
        ["A02", "S1", "预算科"],
        ["B01", "S1", "基础教育科"],
    ],
    "towns": [["code", "name"], *[[f"Z{i}", f"第{i}镇"] for i in range(1, 6)]],
    "commissioners": [
        ["code", "name", "team", "former_department"],
        ["C1", "赵一", "T1", ""],
        ["C2", "钱二", "T2", ""],
        ["C3", "孙三", "T2", "A01"],
        ["C4", "周四", "", ""],
    ],
    "indicators": [
        # 累计指标 否: the mid-year values below are full-year figures (按全年口径), compared
        # with last year's and the target as the hand computations in the tests expect
        [
            "code",
            "department",
            "section",
            "name",
            "kind",
            "unit",
            "direction",
            "target",
            "weight",
            "cumulative",
        ],
        ["A01-S1-01", "A01", "S1", "重点项目投资额", "定量", "万元", "越高越好", "", "1", "否"],
        ["A01-S1-02", "A01", "S1", "制定年度改革方案", "定性", "", "", "", "1", ""],
        ["A02-S1-01", "A02", "S1", "三公经费支出", "定量", "万元", "越低越好", "40", "1", "否"],
        ["A02-S1-02", "A02", "S1", "预算绩效管理办法", "定性", "", "", "", "1", ""],
        ["B01-S1-01", "B01", "S1", "课后服务实施方案", "定性", "", "", "", "1", ""],
    ],
    "indicator_history": [
        ["indicator", "year", "value"],
        ["A01-S1-01", 2021, 100],
        ["A02-S1-01", 2021, 50],
    ],
    "staffing_checks": [
        ["phase", "department", "check", "problems", "problem_type"],
        *[
            [
                "年中",
                "A01",
                k,
                1 if k == "real_name" else 0,
                "入编出编不及时" if k == "real_name" else "",
            ]
            for k in FIVE
        ],
        *[["年中", "B01", k, 0, ""] for k in FIVE],
    ],
    "central_tasks": [["code", "name"], ["CT1", "招商引资"]],
    "central_task_links": [
        ["task", "department", "role"],
        ["CT1", "A01", "牵头部门"],
        ["CT1", "A02", "配合单位"],
    ],
    "central_task_results": [
        ["phase", "task", "department", "delivered_pct", "shortfall"],
        ["年中", "CT1", "A01", 100, ""],
        ["年中", "CT1", "A02", 60, "配套资金未按期拨付"],
    ],
    "submissions": [
        ["phase", "indicator", "value", "level", "method", "submitted_on"],
        ["年中", "A01-S1-01", 110, "", "数据采集", "2022-06-10"],
        ["年中", "A01-S1-02", "", "已制定并落实", "材料报送", "2022-06-10"],
        ["年中", "A02-S1-01", 45, "", "数据采集", "2022-06-12"],
        ["年中", "A02-S1-02", "", "已制定未落实", "材料报送", "2022-06-12"],
    ],
    "town_ratings": [
        [
            "phase",
            "town",
            "department",
            "overall",
            "efficiency",
            "policy_effect",
            "guidance",
            "unblocking",
            "rated_on",
        ],
        *[["年中", f"Z{i}", "A01", 5, 5, 5, 5, 5, "2022-06-20"] for i in range(1, 6)],
        *[["年中", f"Z{i}", "A02", 3, 3, 3, 3, 3, "2022-06-20"] for i in range(1, 6)],
    ],
    "peer_ratings": [
        [
            "phase",
            "rater",
            "ratee",
            "style",
            "efficiency",
            "quality",
            "cooperation",
            "one_go",
            "rated_on",
        ],
        ["年中", "A02", "A01", 1, 1, 1, 1, 1, "2022-06-21"],
        ["年中", "B01", "A01", 1, 1, 1, 1, 1, "2022-06-21"],
    ],
    "public_ratings": [
        ["phase", "response_key", "department", "level", "rated_on"],
        *[["年中", f"R{i}", "A01", "满意", "2022-06-22"] for i in range(1, 6)],
    ],
}


def write_small_county(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, rows in SHEETS.items():
        with (folder / f"{key}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return folder
