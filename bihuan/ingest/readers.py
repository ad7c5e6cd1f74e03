"""Reading a workbook (.xlsx) or a folder of CSV files into raw rows, defensively.

Nothing here interprets values beyond finding the sheets and columns: that is validate.py's job.
Hostile or broken files stop here with a clear message: a CSV renamed to .xlsx, oversized files,
zip bombs (the declared uncompressed size is checked before openpyxl opens the archive), and
formula cells (read as their text, never evaluated, and reported as errors).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import defusedxml  # noqa: F401  (openpyxl parses XML through defusedxml once it is importable)
import openpyxl
from openpyxl.utils import get_column_letter

from bihuan.ingest.issues import ImportIssue, ReadError, Severity
from bihuan.ingest.schema import SHEET_NAMES, SHEETS, Sheet

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
MAX_ROWS = 200_000

if not openpyxl.DEFUSEDXML:  # pragma: no cover - a broken installation, not a user mistake
    raise RuntimeError("defusedxml must be installed so that openpyxl parses XML safely")


@dataclass
class RawRow:
    row: int  # as the user sees it: the header is row 1
    values: dict[str, Any]  # column key -> cell value as read (str, int, float, date, bool)
    cells: dict[str, str] = field(default_factory=dict)  # column key -> cell name, e.g. "C7"


@dataclass
class RawSheet:
    sheet: Sheet
    file: str  # the file name shown in messages
    title: str  # the sheet's name as written in the file
    headers: dict[str, str]  # column key -> header text as written
    rows: list[RawRow]


@dataclass
class RawWorkbook:
    source: str
    sheets: dict[str, RawSheet]  # by Sheet.key, in the order of schema.SHEETS
    issues: list[ImportIssue]


@dataclass(frozen=True)
class Caps:
    max_file_bytes: int = MAX_FILE_BYTES
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES
    max_rows: int = MAX_ROWS


def read_path(path: Path, caps: Caps | None = None) -> RawWorkbook:
    """Read one .xlsx or a folder of CSV files; raise ReadError when it cannot be read at all."""
    caps = caps or Caps()
    path = Path(path)
    if not path.exists():
        raise ReadError(_fatal(path.name, f"{path} does not exist; give an .xlsx file or a folder"))
    if path.is_dir():
        return _read_csv_folder(path, caps)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, caps)
    if suffix == ".csv":
        raise ReadError(
            _fatal(
                path.name,
                "a single CSV file is one sheet; put the CSV files in a folder (one per sheet, "
                "named <sheet key>.csv or <中文表名>.csv) and import the folder",
            )
        )
    if suffix == ".xls":
        raise ReadError(
            _fatal(path.name, "old .xls workbooks are not supported; save it as .xlsx in Excel")
        )
    raise ReadError(_fatal(path.name, "expected an .xlsx workbook or a folder of CSV files"))


def _fatal(file: str, message: str, sheet: str = "") -> ImportIssue:
    return ImportIssue(file, sheet, None, "", message)


def _check_size(path: Path, caps: Caps) -> None:
    size = path.stat().st_size
    if size > caps.max_file_bytes:
        raise ReadError(
            _fatal(
                path.name,
                f"file is {size / 1e6:.1f} MB, above the limit of {caps.max_file_bytes / 1e6:.1f} MB; "
                "split it (e.g. one year or one phase per file)",
            )
        )


def _match_headers(
    sheet: Sheet, header_row: list[Any], file: str, title: str, issues: list[ImportIssue]
) -> dict[int, str]:
    """Map column positions to column keys; headers may be Chinese or the English key."""
    by_name = {c.zh: c.key for c in sheet.columns} | {c.key.lower(): c.key for c in sheet.columns}
    positions: dict[int, str] = {}
    seen: dict[str, str] = {}
    for idx, raw in enumerate(header_row):
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        key = by_name.get(text) or by_name.get(text.lower())
        letter = get_column_letter(idx + 1)
        if key is None:
            issues.append(
                ImportIssue(
                    file,
                    title,
                    1,
                    text,
                    f"column {text!r} (cell {letter}1) is not part of sheet {sheet.zh}; ignored",
                    Severity.WARNING,
                )
            )
            continue
        if key in seen:
            issues.append(
                ImportIssue(
                    file,
                    title,
                    1,
                    text,
                    f"column {text!r} appears twice (also as {seen[key]!r}); keep one",
                )
            )
            continue
        seen[key] = text
        positions[idx] = key
    for col in sheet.columns:
        if col.required and col.key not in seen:
            issues.append(
                ImportIssue(
                    file,
                    title,
                    1,
                    col.zh,
                    f"required column {col.zh} ({col.key}) is missing from the header row",
                )
            )
    return positions


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _collect_rows(
    sheet: Sheet,
    rows: Any,
    file: str,
    title: str,
    caps: Caps,
    issues: list[ImportIssue],
) -> tuple[dict[str, str], list[RawRow]]:
    iterator = iter(rows)
    header: list[Any] | None = None
    header_line = 0
    for line, values in enumerate(iterator, start=1):
        if values and not all(_blank(v) for v in values):
            header, header_line = list(values), line
            break
    if header is None:
        return {}, []
    positions = _match_headers(sheet, header, file, title, issues)
    headers = {key: str(header[idx]).strip() for idx, key in positions.items()}
    out: list[RawRow] = []
    for line, values in enumerate(iterator, start=header_line + 1):
        if not values or all(_blank(v) for v in values):
            continue
        if len(out) >= caps.max_rows:
            raise ReadError(
                _fatal(
                    file,
                    f"more than {caps.max_rows:,} data rows; split the sheet into several files",
                    title,
                )
            )
        picked: dict[str, Any] = {}
        cells: dict[str, str] = {}
        for idx, key in positions.items():
            value = values[idx] if idx < len(values) else None
            if isinstance(value, str):
                value = value.strip()
                if value == "":
                    value = None
            picked[key] = value
            cells[key] = f"{get_column_letter(idx + 1)}{line}"
        out.append(RawRow(line, picked, cells))
    return headers, out


def _read_xlsx(path: Path, caps: Caps, names: dict[str, Sheet] | None = None) -> RawWorkbook:
    """Read an .xlsx under the caps; `names` maps sheet titles to their format (default: the
    ledger's; other workbooks, e.g. the rectification round trip, pass their own)."""
    known = names or SHEET_NAMES
    _check_size(path, caps)
    if not zipfile.is_zipfile(path):
        raise ReadError(
            _fatal(
                path.name,
                "not an .xlsx workbook (the file is not a zip archive; is it a CSV or an old .xls "
                "renamed to .xlsx?). Open it in Excel and save as .xlsx, or put CSV files in a folder",
            )
        )
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(
            _fatal(path.name, f"damaged .xlsx archive ({exc}); save it again")
        ) from None
    # Reading a member never yields more than its declared size, so the sum of the declared
    # sizes bounds what openpyxl can inflate: a zip bomb is refused before anything is unpacked.
    if declared > caps.max_unzipped_bytes:
        raise ReadError(
            _fatal(
                path.name,
                f"the workbook unpacks to {declared / 1e6:,.0f} MB, above the limit of "
                f"{caps.max_unzipped_bytes / 1e6:,.0f} MB; this looks like a zip bomb or an "
                "oversized file, and was not opened",
            )
        )
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a malformed package
        raise ReadError(
            _fatal(
                path.name,
                f"cannot open the workbook ({type(exc).__name__}: {exc}); save it again in Excel",
            )
        ) from None
    issues: list[ImportIssue] = []
    found: dict[str, RawSheet] = {}
    try:
        for ws in wb.worksheets:
            title = ws.title
            sheet = known.get(title.strip()) or known.get(title.strip().lower())
            if sheet is None:
                if title.strip() != "说明":
                    issues.append(
                        ImportIssue(
                            path.name,
                            title,
                            None,
                            "",
                            f"sheet {title!r} is not part of the format; ignored",
                            Severity.WARNING,
                        )
                    )
                continue
            if sheet.key in found:
                issues.append(
                    _fatal(
                        path.name,
                        f"sheet {sheet.zh} appears twice (as {found[sheet.key].title!r} and "
                        f"{title!r}); keep one",
                        title,
                    )
                )
                continue
            # The <dimension> tag may be missing or wrong; without a reset, openpyxl would stop
            # at the stated size and silently drop the rows below it.
            ws.reset_dimensions()  # type: ignore[union-attr]
            headers, rows = _collect_rows(
                sheet, ws.iter_rows(values_only=True), path.name, title, caps, issues
            )
            found[sheet.key] = RawSheet(sheet, path.name, title, headers, rows)
    finally:
        wb.close()
    return RawWorkbook(str(path), found if names else _in_schema_order(found), issues)


def read_xlsx(path: Path, names: dict[str, Sheet], caps: Caps | None = None) -> RawWorkbook:
    """Read a workbook of another format (sheets given by `names`) with the same defences."""
    path = Path(path)
    if not path.exists():
        raise ReadError(_fatal(path.name, f"{path} does not exist; give an .xlsx file"))
    if path.suffix.lower() not in {".xlsx", ".xlsm"}:
        raise ReadError(_fatal(path.name, "expected an .xlsx workbook; save it as .xlsx in Excel"))
    return _read_xlsx(path, caps or Caps(), names)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves "CSV" in the ANSI code page, i.e. GBK; gb18030 is its
        # superset and decodes every byte sequence GBK can produce.
        return data.decode("gb18030")


def _read_csv_folder(folder: Path, caps: Caps) -> RawWorkbook:
    issues: list[ImportIssue] = []
    found: dict[str, RawSheet] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise ReadError(
            _fatal(
                folder.name,
                "no .csv files in this folder; name them <sheet key>.csv or <中文表名>.csv "
                "(run `bihuan template` for the list)",
            )
        )
    for file in files:
        sheet = SHEET_NAMES.get(file.stem.strip()) or SHEET_NAMES.get(file.stem.strip().lower())
        if sheet is None:
            issues.append(
                ImportIssue(
                    file.name,
                    "",
                    None,
                    "",
                    "file name matches no sheet of the format; ignored",
                    Severity.WARNING,
                )
            )
            continue
        if sheet.key in found:
            issues.append(
                _fatal(
                    file.name,
                    f"sheet {sheet.zh} is given twice (also {found[sheet.key].file}); keep one",
                    sheet.zh,
                )
            )
            continue
        _check_size(file, caps)
        text = _decode(file.read_bytes())
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            headers, rows = _collect_rows(sheet, reader, file.name, sheet.zh, caps, issues)
        except csv.Error as exc:
            raise ReadError(
                _fatal(file.name, f"malformed CSV ({exc}); save it again as CSV", sheet.zh)
            ) from None
        found[sheet.key] = RawSheet(sheet, file.name, sheet.zh, headers, rows)
    return RawWorkbook(str(folder), _in_schema_order(found), issues)


def _in_schema_order(found: dict[str, RawSheet]) -> dict[str, RawSheet]:
    return {s.key: found[s.key] for s in SHEETS if s.key in found}
