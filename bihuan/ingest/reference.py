"""The workbook format reference (docs/workbook-format.md), generated from the importer's schema.

`python -m bihuan.ingest.reference > docs/workbook-format.md` writes it; a test fails when the
file and the schema (bihuan/ingest/schema.py) differ, so the reference cannot drift from what
`bihuan import` accepts.
"""

from __future__ import annotations

from bihuan.ingest.schema import SHEETS, ColType, Column, Sheet

HEADER = """\
# The workbook format (导入格式)

<!-- Generated from bihuan/ingest/schema.py by `python -m bihuan.ingest.reference`; do not edit
by hand: tests/unit/test_workbook_reference.py fails when this file and the schema differ. -->

Everything a year's cycle needs comes in through `bihuan import PATH --year Y`: one workbook
(.xlsx, .xls or .ods) with one sheet per kind of data, or a folder of CSV files (`<key>.csv` or
`<中文表名>.csv`). Sheets and columns are named by their Chinese title or their English key.
`bihuan template --out DIR` writes a blank workbook with a note on every header cell. Sheets load
in the order below, so later sheets may refer to codes defined earlier in the same file or
already in the database. Yearly sheets need `--year`; phase-scoped ones have a 阶段 column
(年中 / 年底). How messy files are read (title rows, dates, look-alike codes, formulas, hidden
sheets): [workbooks.md](workbooks.md).
"""


def _type(col: Column) -> str:
    if col.kind is ColType.ENUM:
        return "enum"
    return col.kind.value


def _row(col: Column) -> str:
    cells = [
        col.zh,
        f"`{col.key}`",
        _type(col),
        "yes" if col.required else "no",
        col.note.replace("|", "\\|"),
    ]
    return "| " + " | ".join(cells) + " |"


def sheet_markdown(sheet: Sheet) -> str:
    scope = " — per year" if sheet.yearly else ""
    lines = [
        f"## {sheet.zh} (`{sheet.key}`){scope}",
        "",
        f"{sheet.note}. Natural key: {', '.join(sheet.natural_key)}.",
        "",
        "| column (中文) | key | type | required | note |",
        "|---|---|---|---|---|",
        *(_row(c) for c in sheet.columns),
    ]
    return "\n".join(lines)


def markdown() -> str:
    return HEADER + "\n" + "\n\n".join(sheet_markdown(s) for s in SHEETS) + "\n"


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    print(markdown(), end="")
