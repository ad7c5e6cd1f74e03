"""The workbook reference in docs/ is the importer's schema, word for word."""

from __future__ import annotations

from pathlib import Path

from bihuan.ingest.reference import markdown
from bihuan.ingest.schema import SHEETS

DOC = Path(__file__).resolve().parents[2] / "docs" / "workbook-format.md"


def test_the_reference_is_generated_from_the_schema() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/workbook-format.md differs from bihuan/ingest/schema.py: regenerate it with "
        "`python -m bihuan.ingest.reference > docs/workbook-format.md`"
    )


def test_every_sheet_and_column_is_in_the_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    for sheet in SHEETS:
        assert f"(`{sheet.key}`)" in text
        for col in sheet.columns:
            assert f"| {col.zh} | `{col.key}` |" in text
