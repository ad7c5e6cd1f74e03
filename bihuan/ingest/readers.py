"""Reading a workbook (.xlsx, .xls, .ods) or a folder of CSV files into raw rows, defensively.

Nothing here interprets values beyond finding the sheets, the header row and the columns: that
is validate.py's job. Hostile or broken files stop here with a clear message: a CSV renamed to
.xlsx, oversized files, zip bombs (the declared uncompressed size is checked before a zip-based
workbook is opened), and formula cells (never evaluated; marked as cells.Formula so that
validation reports them). .xlsx is read with openpyxl (streaming, and it tells a formula from a
value); .xls and .ods with python-calamine, which gives a formula's cached value only, so the
formulas are found separately: in an .ods by scanning its content.xml (`_ods_scan`), in an .xls
by reading its BIFF8 records (biff.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import defusedxml  # noqa: F401  (openpyxl parses XML through defusedxml once it is importable)
import defusedxml.ElementTree as SafeET
import openpyxl
import python_calamine
from openpyxl.utils import get_column_letter

from bihuan.ingest import biff
from bihuan.ingest.cells import Formula
from bihuan.ingest.issues import ImportIssue, ReadError, Severity
from bihuan.ingest.schema import SHEET_NAMES, SHEETS, Sheet

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 1_000  # the widest sheet has 12 columns; a sheet 16,384 wide is a memory trap
HEADER_SCAN = 10  # title rows (莒县2022年度……) may sit above the header: look this far down
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}

if not openpyxl.DEFUSEDXML:  # pragma: no cover - a broken installation, not a user mistake
    raise RuntimeError("defusedxml must be installed so that openpyxl parses XML safely")


@dataclass
class RawRow:
    row: int  # as the user sees it in Excel (title rows above the header count)
    values: dict[
        str, Any
    ]  # column key -> cell value as read (str, int, float, date, bool, Formula)
    cells: dict[str, str] = field(default_factory=dict)  # column key -> cell name, e.g. "C7"


@dataclass
class RawSheet:
    sheet: Sheet
    file: str  # the file name shown in messages
    title: str  # the sheet's name as written in the file
    headers: dict[str, str]  # column key -> header text as written
    rows: list[RawRow]
    header_row: int = 1  # where the header was found


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
    """Read one workbook or a folder of CSV files; raise ReadError when it cannot be read at all."""
    caps = caps or Caps()
    path = Path(path)
    if not path.exists():
        raise ReadError(
            _fatal(
                path.name,
                f"{path} does not exist; give an .xlsx/.xls/.ods file or a folder",
                kind="missing",
            )
        )
    if path.is_dir():
        return _read_csv_folder(path, caps)
    if path.suffix.lower() == ".csv":
        raise ReadError(
            _fatal(
                path.name,
                "a single CSV file is one sheet; put the CSV files in a folder (one per sheet, "
                "named <sheet key>.csv or <中文表名>.csv) and import the folder",
                kind="format",
            )
        )
    return read_workbook(path, SHEET_NAMES, caps, ledger=True)


def read_workbook(
    path: Path, names: dict[str, Sheet], caps: Caps | None = None, *, ledger: bool = False
) -> RawWorkbook:
    """Read an .xlsx, .xls or .ods whose sheets are given by `names` (title or key -> format).

    The ledger's sheets come back in schema order; another format's (e.g. the rectification
    round trip) in workbook order.
    """
    caps = caps or Caps()
    path = Path(path)
    if not path.exists():
        raise ReadError(
            _fatal(path.name, f"{path} does not exist; give an .xlsx file", kind="missing")
        )
    suffix = path.suffix.lower()
    if suffix not in WORKBOOK_SUFFIXES:
        hint = (
            "a WPS .et workbook: in WPS choose 另存为 and save it as .xlsx (or .xls)"
            if suffix == ".et"
            else "save it as .xlsx"
        )
        raise ReadError(
            _fatal(
                path.name,
                f"expected an .xlsx, .xls or .ods workbook or a folder of CSV files; {hint}",
                kind="format",
            )
        )
    _check_size(path, caps)
    with path.open("rb") as fh:
        head = fh.read(8)
    is_zip = zipfile.is_zipfile(path)
    # Offices rename files freely: trust the content, not the suffix (an .xls saved as "x.xlsx"
    # is still an .xls, and WPS happily writes an .xlsx under an .xls name).
    if head == OLE2_MAGIC:
        found, issues = _read_calamine(path, caps, names, formulas=_xls_formulas(path))
    elif is_zip:
        _check_zip(path, caps)
        if _is_ods(path):
            scan: dict[str, dict[tuple[int, int], str | None]] = {
                name: dict(table.formulas) for name, table in _ods_scan(path, caps).items()
            }
            found, issues = _read_calamine(path, caps, names, formulas=scan)
        else:
            found, issues = _read_xlsx(path, caps, names)
    else:
        raise ReadError(
            _fatal(
                path.name,
                f"not an {suffix} workbook (the file is not a zip archive like .xlsx/.ods, nor an old "
                f".xls; "
                f"is it a CSV, an HTML page or another format renamed to {suffix}?). Open it in "
                "Excel or WPS and save as .xlsx, or put CSV files in a folder",
                kind="not_workbook",
            )
        )
    if ledger and not found:
        raise ReadError(
            _fatal(
                path.name,
                "no sheet of this workbook is a sheet of the format, so there is nothing to "
                "import; name the sheets 部门, 履职台账, … (or departments, indicators, …; run "
                "`bihuan template` for the list)",
                kind="empty",
            )
        )
    return RawWorkbook(str(path), _in_schema_order(found) if ledger else found, issues)


def _fatal(file: str, message: str, sheet: str = "", *, kind: str = "") -> ImportIssue:
    return ImportIssue(file, sheet, None, "", message, kind=kind)


def _check_size(path: Path, caps: Caps) -> None:
    size = path.stat().st_size
    if size > caps.max_file_bytes:
        raise ReadError(
            _fatal(
                path.name,
                f"file is {size / 1e6:.1f} MB, above the limit of {caps.max_file_bytes / 1e6:.1f} MB; "
                "split it (e.g. one year or one phase per file)",
                kind="too_large",
            )
        )


def _check_zip(path: Path, caps: Caps) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(
            _fatal(path.name, f"damaged workbook ({exc}); save it again", kind="damaged")
        ) from None
    # Reading a member never yields more than its declared size, so the sum of the declared
    # sizes bounds what a reader can inflate: a zip bomb is refused before anything is unpacked.
    if declared > caps.max_unzipped_bytes:
        raise ReadError(
            _fatal(
                path.name,
                f"the workbook unpacks to {declared / 1e6:,.0f} MB, above the limit of "
                f"{caps.max_unzipped_bytes / 1e6:,.0f} MB; this looks like a zip bomb or an "
                "oversized file, and was not opened",
                kind="zip_bomb",
            )
        )


def _is_ods(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf, zf.open("mimetype") as fh:
            return fh.read(80).startswith(b"application/vnd.oasis.opendocument")
    except (KeyError, zipfile.BadZipFile, OSError):
        return False


# ------------------------------------------------------------------ names and headers

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_DECORATION = re.compile(r"^[*＊]+|[*＊]+$|[(（][^)）]*[)）]$")


def _name_key(text: str) -> str:
    """A sheet title or header as compared: NFKC, no invisible characters or spaces, no case.
    Headers also lose a required-mark and a trailing note: "*部门代码", "部门代码(必填)"."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return "".join(text.split()).casefold()


def _lookup(table: dict[str, Any], text: str) -> Any:
    key = _name_key(text)
    found = table.get(key)
    if found is None:
        bare = _DECORATION.sub("", key)
        found = table.get(bare) if bare else None
    return found


def _sheet_table(names: dict[str, Sheet]) -> dict[str, Sheet]:
    return {_name_key(title): sheet for title, sheet in names.items()}


def _header_table(sheet: Sheet) -> dict[str, str]:
    return {_name_key(c.zh): c.key for c in sheet.columns} | {
        _name_key(c.key): c.key for c in sheet.columns
    }


def _match_headers(
    sheet: Sheet,
    header_row: list[Any],
    line: int,
    file: str,
    title: str,
    issues: list[ImportIssue],
) -> dict[int, str]:
    """Map column positions to column keys; headers may be Chinese or the English key."""
    table = _header_table(sheet)
    positions: dict[int, str] = {}
    seen: dict[str, str] = {}
    for idx, raw in enumerate(header_row):
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        key = _lookup(table, text)
        letter = get_column_letter(idx + 1)
        if key is None:
            issues.append(
                ImportIssue(
                    file,
                    title,
                    line,
                    text,
                    f"column {text!r} (cell {letter}{line}) is not part of sheet {sheet.zh}; ignored",
                    Severity.WARNING,
                )
            )
            continue
        if key in seen:
            issues.append(
                ImportIssue(
                    file,
                    title,
                    line,
                    text,
                    f"column {text!r} (cell {letter}{line}) appears twice (also as {seen[key]!r}); "
                    "keep one",
                    kind="duplicate_column",
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
                    line,
                    col.zh,
                    f"required column {col.zh} ({col.key}) is missing from the header row "
                    f"(row {line})",
                    kind="missing_column",
                )
            )
    return positions


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header_score(sheet: Sheet, values: list[Any]) -> int:
    table = _header_table(sheet)
    return sum(
        1 for v in values if isinstance(v, str) and v.strip() and _lookup(table, v) is not None
    )


def _collect_rows(
    sheet: Sheet,
    rows: Iterable[Any],
    file: str,
    title: str,
    caps: Caps,
    issues: list[ImportIssue],
) -> tuple[dict[str, str], list[RawRow], int]:
    """Find the header (the row among the first HEADER_SCAN that names most of the sheet's
    columns; the first non-blank row if none does), then collect the data rows below it."""
    iterator: Iterator[Any] = iter(rows)
    first: list[tuple[int, list[Any]]] = []
    for line, values in enumerate(iterator, start=1):
        if values and not all(_blank(v) for v in values):
            first.append((line, list(values)))
            if len(first) == HEADER_SCAN:
                break
    if not first:
        return {}, [], 1
    scores = [_header_score(sheet, values) for _, values in first]
    best = max(range(len(first)), key=lambda i: (scores[i], -i))
    at = best if scores[best] > 0 else 0
    header_line, header = first[at]
    positions = _match_headers(sheet, header, header_line, file, title, issues)
    headers = {key: str(header[idx]).strip() for idx, key in positions.items()}
    # Rows already read past the header are data; the rest follow from the iterator, numbered
    # on from the last line read so that every row keeps the number Excel shows.
    last_read = first[-1][0]
    rest = enumerate(iterator, start=last_read + 1)
    out: list[RawRow] = []
    letters = {idx: get_column_letter(idx + 1) for idx in positions}
    for line, values in itertools.chain(first[at + 1 :], rest):
        if not values or all(_blank(v) for v in values):
            continue
        if len(out) >= caps.max_rows:
            raise ReadError(
                _fatal(
                    file,
                    f"more than {caps.max_rows:,} data rows; split the sheet into several files",
                    title,
                    kind="too_many_rows",
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
            cells[key] = f"{letters[idx]}{line}"
        out.append(RawRow(line, picked, cells))
    return headers, out, header_line


def _hidden_warning(file: str, title: str) -> ImportIssue:
    return ImportIssue(
        file,
        title,
        None,
        "",
        f"sheet {title} is hidden in the workbook; it was imported — unhide it or delete it if "
        "it is not meant to be",
        Severity.WARNING,
        kind="hidden_sheet",
    )


class _Sheets:
    """Collects the recognised sheets of one workbook, with the warnings every reader gives."""

    def __init__(self, file: str, names: dict[str, Sheet], caps: Caps):
        self.file = file
        self.table = _sheet_table(names)
        self.caps = caps
        self.found: dict[str, RawSheet] = {}
        self.issues: list[ImportIssue] = []

    def match(self, title: str) -> Sheet | None:
        sheet: Sheet | None = _lookup(self.table, title)
        if sheet is None:
            if _name_key(title) != "说明":
                self.issues.append(
                    ImportIssue(
                        self.file,
                        title,
                        None,
                        "",
                        f"sheet {title!r} is not part of the format; ignored",
                        Severity.WARNING,
                    )
                )
            return None
        if sheet.key in self.found:
            self.issues.append(
                _fatal(
                    self.file,
                    f"sheet {sheet.zh} appears twice (as {self.found[sheet.key].title!r} and "
                    f"{title!r}); keep one",
                    title,
                    kind="duplicate_sheet",
                )
            )
            return None
        return sheet

    def add(self, sheet: Sheet, title: str, rows: Iterable[Any], *, hidden: bool) -> None:
        headers, data, header_line = _collect_rows(
            sheet, rows, self.file, title, self.caps, self.issues
        )
        if hidden and data:
            self.issues.append(_hidden_warning(self.file, title))
        self.found[sheet.key] = RawSheet(sheet, self.file, title, headers, data, header_line)


def _read_xlsx(
    path: Path, caps: Caps, names: dict[str, Sheet]
) -> tuple[dict[str, RawSheet], list[ImportIssue]]:
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a malformed package
        raise ReadError(
            _fatal(
                path.name,
                f"cannot open the workbook ({type(exc).__name__}: {exc}); save it again in Excel",
                kind="damaged",
            )
        ) from None
    sheets = _Sheets(path.name, names, caps)
    try:
        for ws in wb.worksheets:
            sheet = sheets.match(ws.title)
            if sheet is None:
                continue
            # The <dimension> tag may be missing or wrong; without a reset, openpyxl would stop
            # at the stated size and silently drop the rows below it.
            ws.reset_dimensions()  # type: ignore[union-attr]
            sheets.add(
                sheet,
                ws.title,
                _xlsx_values(ws.iter_rows()),
                hidden=getattr(ws, "sheet_state", "visible") != "visible",
            )
    finally:
        wb.close()
    return sheets.found, sheets.issues


def _xlsx_values(rows: Iterable[Any]) -> Iterator[list[Any]]:
    """Cell values, with formula cells as Formula: the cell's type says which is which, so a
    text that merely begins with "=" (a title exported as text) is still text."""
    for row in rows:
        yield [
            Formula(str(getattr(c.value, "text", c.value))) if c.data_type == "f" else c.value
            for c in row
        ]


# ------------------------------------------------------------------ .xls and .ods (calamine)


@dataclass
class _OdsTable:
    rows: int = 0  # rows that hold a value
    columns: int = 0  # the widest such row
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col), 0-based


_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def _repeat(elem: Any, attr: str, cap: int) -> int:
    try:
        return max(1, min(int(elem.get(_T + attr, "1")), cap))
    except ValueError:
        return 1


def _ods_scan(path: Path, caps: Caps) -> dict[str, _OdsTable]:
    """Formula cells and the extent of each table of an .ods, read from content.xml as a stream.

    calamine reports a formula's cached value only, and expands repeated rows and columns
    before we could count them; this scan finds the formulas and refuses a sheet that would
    expand past the caps (a few bytes of XML can declare a million repeated rows).
    """
    tables: dict[str, _OdsTable] = {}
    limit = caps.max_rows + HEADER_SCAN
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh:
            current: _OdsTable | None = None
            row = col = 0
            row_formulas: list[tuple[int, str]] = []
            row_has_value = False
            row_width = 0
            for event, elem in SafeET.iterparse(fh, events=("start", "end")):
                tag = elem.tag
                if tag == _T + "table":
                    if event == "start":
                        current = tables.setdefault(elem.get(_T + "name", ""), _OdsTable())
                        row = 0
                    else:
                        elem.clear()
                elif current is None:
                    continue
                elif tag == _T + "table-row":
                    if event == "start":
                        col, row_formulas, row_has_value, row_width = 0, [], False, 0
                        continue
                    repeat = _repeat(elem, "number-rows-repeated", limit + 1)
                    if row_has_value:
                        current.rows = max(current.rows, row + repeat)
                        current.columns = max(current.columns, row_width)
                    for r in range(row, row + (repeat if row_formulas else 0)):
                        for c, text in row_formulas:
                            current.formulas[(r, c)] = text
                    row += repeat
                    elem.clear()
                    if current.rows > limit or current.columns > MAX_COLUMNS:
                        break
                elif event == "start" and tag in (_T + "table-cell", _T + "covered-table-cell"):
                    repeat = _repeat(elem, "number-columns-repeated", MAX_COLUMNS + 1)
                    formula = elem.get(_T + "formula")
                    if formula is not None:
                        text = formula.split(":", 1)[1] if formula.startswith("of:") else formula
                        row_formulas.extend((c, text) for c in range(col, col + repeat))
                    if elem.get(_O + "value-type") is not None or formula is not None:
                        row_has_value = True
                        row_width = col + repeat
                    col += repeat
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError, OSError) as exc:
        raise ReadError(
            _fatal(path.name, f"damaged .ods workbook ({exc}); save it again", kind="damaged")
        ) from None
    except Exception as exc:  # defusedxml refuses entities and DTDs with its own errors
        raise ReadError(
            _fatal(
                path.name,
                f"the .ods workbook was refused ({type(exc).__name__}: {exc}); save it again",
                kind="damaged",
            )
        ) from None
    for name, table in tables.items():
        if table.rows > limit:
            raise ReadError(
                _fatal(
                    path.name,
                    f"more than {caps.max_rows:,} data rows; split the sheet into several files",
                    name,
                    kind="too_many_rows",
                )
            )
        if table.columns > MAX_COLUMNS:
            raise ReadError(
                _fatal(
                    path.name,
                    f"more than {MAX_COLUMNS:,} columns hold values; delete the stray cells at "
                    "the far right",
                    name,
                    kind="too_many_columns",
                )
            )
    return tables


def _xls_formulas(path: Path) -> dict[str, dict[tuple[int, int], str | None]]:
    """The formula cells of an .xls (text unknown: BIFF stores formulas as parsed tokens)."""
    try:
        cells = biff.formula_cells(path.read_bytes())
    except biff.NotBiff8 as exc:
        # Fail closed: a workbook we cannot check for formulas is not imported.
        raise ReadError(
            _fatal(
                path.name,
                f"cannot read this file as an Excel 97–2003 workbook ({exc}; an older Excel 5.0/95 "
                "or a password-protected file?); open it in Excel or WPS and save it as .xlsx",
                kind="damaged",
            )
        ) from None
    return {name: dict.fromkeys(found) for name, found in cells.items()}


def _read_calamine(
    path: Path,
    caps: Caps,
    names: dict[str, Sheet],
    *,
    formulas: dict[str, dict[tuple[int, int], str | None]],
) -> tuple[dict[str, RawSheet], list[ImportIssue]]:
    """Read with calamine; `formulas` (sheet -> (row, col) -> text, None if unknown) marks the
    cells whose cached values calamine reports as formulas."""
    try:
        # from a file object, calamine tells the format by the content, not by the suffix
        with path.open("rb") as fh:
            wb = python_calamine.CalamineWorkbook.from_filelike(fh)
    except Exception as exc:  # calamine raises its own errors and ValueError for bad files
        raise ReadError(
            _fatal(
                path.name,
                f"cannot open the workbook ({type(exc).__name__}: {exc}); open it in Excel or "
                "WPS and save it again (as .xlsx if it still fails)",
                kind="damaged",
            )
        ) from None
    sheets = _Sheets(path.name, names, caps)
    try:
        for meta in wb.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            sheet = sheets.match(meta.name)
            if sheet is None:
                continue
            try:
                ws = wb.get_sheet_by_name(meta.name)
            except Exception as exc:
                raise ReadError(
                    _fatal(
                        path.name,
                        f"cannot read the sheet ({type(exc).__name__}: {exc}); save it again",
                        meta.name,
                        kind="damaged",
                    )
                ) from None
            end = ws.end or (0, 0)
            if end[0] + 1 > caps.max_rows + HEADER_SCAN:
                raise ReadError(
                    _fatal(
                        path.name,
                        f"more than {caps.max_rows:,} data rows; split the sheet into several files",
                        meta.name,
                        kind="too_many_rows",
                    )
                )
            if end[1] + 1 > MAX_COLUMNS:
                raise ReadError(
                    _fatal(
                        path.name,
                        f"more than {MAX_COLUMNS:,} columns hold values; delete the stray cells "
                        "at the far right",
                        meta.name,
                        kind="too_many_columns",
                    )
                )
            grid = ws.to_python(skip_empty_area=False)
            for (r, c), text in formulas.get(meta.name, {}).items():
                if r < len(grid) and c < len(grid[r]):
                    shown = text if text is not None else f"=… (showing {grid[r][c]!r})"
                    grid[r][c] = Formula(shown)  # type: ignore[call-overload]
            hidden = meta.visible != python_calamine.SheetVisibleEnum.Visible
            sheets.add(sheet, meta.name, grid, hidden=hidden)
    finally:
        wb.close()
    return sheets.found, sheets.issues


# ------------------------------------------------------------------ CSV folders


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves "CSV" in the ANSI code page, i.e. GBK; gb18030 is its
        # superset and decodes every byte sequence GBK can produce.
        return data.decode("gb18030")


def _csv_sheet(table: dict[str, Sheet], stem: str) -> Sheet | None:
    """The sheet a CSV file holds: `<key>.csv`, `<中文表名>.csv`, or LibreOffice's name when it
    saves every sheet of a workbook, `<workbook>-<sheet>.csv`."""
    sheet: Sheet | None = _lookup(table, stem)
    if sheet is None and "-" in stem:
        sheet = _lookup(table, stem.rsplit("-", 1)[1])
    return sheet


def _csv_values(reader: Iterable[list[str]]) -> Iterator[list[Any]]:
    # CSV has no cell types: a value beginning with "=" was a formula in the spreadsheet it
    # came from (and is one again when the file is opened), so it is refused like one.
    for row in reader:
        yield [Formula(v) if v.startswith("=") and len(v) > 1 else v for v in row]


def _read_csv_folder(folder: Path, caps: Caps) -> RawWorkbook:
    issues: list[ImportIssue] = []
    found: dict[str, RawSheet] = {}
    table = _sheet_table(SHEET_NAMES)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    expected = (
        "name them <sheet key>.csv or <中文表名>.csv, e.g. departments.csv or 部门.csv "
        "(LibreOffice's <file>-<sheet>.csv also works; run `bihuan template` for the list)"
    )
    if not files:
        raise ReadError(
            _fatal(folder.name, f"no .csv files in this folder; {expected}", kind="empty")
        )
    matched = [(file, _csv_sheet(table, file.stem)) for file in files]
    if not any(sheet for _, sheet in matched):
        shown = ", ".join(f.name for f in files[:5]) + (" …" if len(files) > 5 else "")
        raise ReadError(
            _fatal(
                folder.name,
                f"none of the {len(files)} CSV files ({shown}) is named after a sheet of the "
                f"format, so there is nothing to import; {expected}",
                kind="empty",
            )
        )
    for file, sheet in matched:
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
            headers, rows, header_line = _collect_rows(
                sheet, _csv_values(reader), file.name, sheet.zh, caps, issues
            )
        except csv.Error as exc:
            raise ReadError(
                _fatal(file.name, f"malformed CSV ({exc}); save it again as CSV", sheet.zh)
            ) from None
        found[sheet.key] = RawSheet(sheet, file.name, sheet.zh, headers, rows, header_line)
    return RawWorkbook(str(folder), _in_schema_order(found), issues)


def _in_schema_order(found: dict[str, RawSheet]) -> dict[str, RawSheet]:
    return {s.key: found[s.key] for s in SHEETS if s.key in found}
