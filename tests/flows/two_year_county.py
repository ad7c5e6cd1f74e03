"""A six-department county over two years (2022, 2023) with a known board, as CSV folders.

Only the performance ledger is filled (no staffing checks, chains or ratings), the same levels
at mid-year and at year-end, so each department's total (and annual score) is its ledger score: the mean of its qualitative indicators by weight
(implemented 100, formulated 60, not formulated 0). With [board] green = 2, red = 2:

2022  D01 100 green | D03 75 green | D02 75 yellow | D04 60 yellow | D05 30 red | D06 0 red
      (D02 and D03 tie at 75 on the green boundary; D02 has an open item, so D03 goes first
      by the tie rule, though its code is larger)
2023  D01 100 green | D02 90 − 2 = 88 green (one carried item) | D05 80 | D03 75 |
      D04 60 red | D06 30 − 2 = 28 red (red two years running: freeze and head talk)
"""

from __future__ import annotations

import csv
from pathlib import Path

IMPL, FORM, NOT = "已制定并落实", "已制定未落实", "未制定"

# department → [(indicator suffix, weight, 2022 level, 2023 level)]
LEDGER: dict[str, list[tuple[str, int, str, str]]] = {
    "D01": [("01", 1, IMPL, IMPL), ("02", 1, IMPL, IMPL)],
    "D02": [
        ("01", 1, IMPL, IMPL),
        ("02", 1, IMPL, IMPL),
        ("03", 1, IMPL, IMPL),
        ("04", 1, NOT, FORM),
    ],
    "D03": [("01", 5, FORM, FORM), ("02", 3, IMPL, IMPL)],
    "D04": [("01", 1, FORM, FORM), ("02", 1, FORM, FORM)],
    "D05": [("01", 1, FORM, IMPL), ("02", 1, NOT, FORM)],
    "D06": [("01", 1, NOT, FORM), ("02", 1, NOT, NOT)],
}
NAMES = {
    "D01": "县发展和改革局",
    "D02": "县财政局",
    "D03": "县商务局",
    "D04": "县教育和体育局",
    "D05": "县民政局",
    "D06": "县文化和旅游局",
}


def sheets(year: int) -> dict[str, list[list[object]]]:
    level_at = 2 if year == 2022 else 3
    economic = {"D01", "D02", "D03"}
    return {
        "teams": [
            ["code", "name", "category"],
            ["T1", "经济部门监管评估小组", "经济部门"],
            ["T2", "非经济部门监管评估小组", "非经济部门"],
        ],
        "departments": [
            ["code", "name", "category", "team", "head_name"],
            *[
                [
                    c,
                    n,
                    "经济部门" if c in economic else "非经济部门",
                    "T1" if c in economic else "T2",
                    "某某",
                ]
                for c, n in NAMES.items()
            ],
        ],
        "sections": [["department", "code", "name"], *[[c, "S1", "综合科"] for c in NAMES]],
        "towns": [["code", "name"], *[[f"Z{i}", f"第{i}镇"] for i in range(1, 6)]],
        "commissioners": [
            ["code", "name", "team", "former_department"],
            ["C1", "赵一", "T1", ""],
            ["C2", "钱二", "T2", ""],
            ["C3", "孙三", "", ""],
        ],
        "indicators": [
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
            ],
            *[
                [f"{c}-S1-{s}", c, "S1", f"重点任务{s}", "定性", "", "", "", w]
                for c, rows in LEDGER.items()
                for s, w, *_ in rows
            ],
        ],
        "submissions": [
            ["phase", "indicator", "value", "level", "method", "submitted_on"],
            *[
                [phase, f"{c}-S1-{row[0]}", "", row[level_at], "材料报送", f"{year}-{month}-10"]
                for phase, month in (("年中", "06"), ("年底", "12"))
                for c, rows in LEDGER.items()
                for row in rows
            ],
        ],
    }


def write_county(folder: Path, year: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, rows in sheets(year).items():
        with (folder / f"{key}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return folder
