"""Blank import templates: one .xlsx with a note on every column, and one CSV per sheet."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bihuan.ingest.cells import safe_row
from bihuan.ingest.schema import SHEETS, Column
from bihuan.ingest.validate import TASKS_PER_SECTION, type_hint

WORKBOOK_NAME = "bihuan-template.xlsx"

_GUIDE = [
    "导入格式说明 (bihuan import)",
    "",
    "1. 一个 .xlsx 文件 (也接受 WPS / Excel 97–2003 的 .xls 和 .ods), 每类数据一个工作表, "
    "工作表名用下表中的中文表名 (或英文名); 也可以用一个文件夹, 每个工作表存为一个 CSV 文件 "
    "(<英文名>.csv 或 <中文表名>.csv, UTF-8 或 GBK 编码)。",
    "2. 表头是中文列名 (也接受英文列名), 表头上方可以有标题行 (前 10 行内); 空行会被跳过。"
    "把鼠标移到表头单元格上可以看到该列的说明、类型和是否必填。",
    "3. 只填数值, 不要用公式 (公式单元格会被拒绝)。日期写成 2022-06-15 或设为日期格式; "
    "是否列填 是 / 否; 选项列填下拉说明中的中文 (也接受英文值)。",
    "4. 导入时先检查全部数据, 有任何错误则一行也不写入, 并列出每个错误所在的文件、工作表、行、列和原因。"
    "改正后重新导入即可; 重复导入同一文件不会产生重复数据, 修改过的数据会就地更新并记入审计日志。",
    "5. 标注 [按年度] 的工作表属于某一年度, 导入时需指定年度: bihuan import 文件 --year 2022。"
    "标注 [分阶段] 的工作表每行要填 阶段 (年中 或 年底)。",
    f"6. 每个业务科室应有 {TASKS_PER_SECTION} 项重点工作任务; 数量不符时给出提示, 但仍会导入。",
    "7. 部门互评为匿名评价: 评价部门代码只用于防止重复评价, 不会保存; 互评一经导入不可修改。",
    "",
]


def _note(col: Column) -> str:
    parts = [col.note] if col.note else []
    parts.append(f"类型: {type_hint(col)}")
    parts.append("必填" if col.required else "选填")
    parts.append(f"英文列名: {col.key}")
    return "\n".join(parts)


def write_templates(out_dir: str | Path) -> list[Path]:
    """Write bihuan-template.xlsx and csv/<key>.csv (header only) into out_dir; return the paths."""
    out = Path(out_dir)
    (out / "csv").mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    guide = wb.active
    assert guide is not None
    guide.title = "说明"
    for line in _GUIDE:
        guide.append(safe_row(guide, [line]))
    guide.append(safe_row(guide, ["中文表名", "英文名", "内容", "按年度", "分阶段", "唯一键"]))
    for cell in guide[guide.max_row]:
        cell.font = Font(bold=True)
    for sheet in SHEETS:
        key_cols = " + ".join(sheet.column(k).zh for k in sheet.natural_key)
        guide.append(
            safe_row(
                guide,
                [
                    sheet.zh,
                    sheet.key,
                    sheet.note,
                    "是" if sheet.yearly else "否",
                    "是" if sheet.phase_scoped else "否",
                    key_cols,
                ],
            )
        )
    guide["A1"].font = Font(bold=True, size=14)
    for letter, width in zip("ABCDEF", (18, 22, 70, 8, 8, 30), strict=True):
        guide.column_dimensions[letter].width = width
    guide.sheet_properties.tabColor = "1F6F43"

    required_fill = PatternFill("solid", fgColor="FCE4D6")
    optional_fill = PatternFill("solid", fgColor="E2EFDA")
    written = [out / WORKBOOK_NAME]
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet.zh)
        ws.append(safe_row(ws, [c.zh for c in sheet.columns]))
        for idx, col in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=1, column=idx)
            cell.font = Font(bold=True)
            cell.fill = required_fill if col.required else optional_fill
            cell.alignment = Alignment(horizontal="center")
            cell.comment = Comment(_note(col), "bihuan", width=260, height=140)
            ws.column_dimensions[get_column_letter(idx)].width = max(12, 2 * len(col.zh) + 4)
        ws.freeze_panes = "A2"
        path = out / "csv" / f"{sheet.key}.csv"
        # UTF-8 with BOM: Excel on Chinese Windows opens it without garbling the headers
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerow([c.zh for c in sheet.columns])
        written.append(path)
    wb.save(out / WORKBOOK_NAME)
    return written
