"""Validating raw rows into typed records, collecting every error (not only the first).

Pure: no database, no files. What the database already holds (codes defined by earlier imports)
comes in as a `Known`; the result is typed records per sheet plus errors and warnings, each
naming the file, sheet, row and column as the user sees them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from bihuan.ingest.cells import (
    PLAUSIBLE_SERIALS,
    Formula,
    excel_serial_date,
    lookalike_key,
    normalise_code,
    read_date,
)
from bihuan.ingest.issues import ImportIssue, Severity, summarise
from bihuan.ingest.readers import RawRow, RawSheet, RawWorkbook
from bihuan.ingest.schema import SHEETS_BY_KEY, ColType, Column, Sheet
from models.base import LABELS
from models.enums import IndicatorKind, QualitativeLevel

TASKS_PER_SECTION = 13

_TRUE = {"是", "true", "1", "yes", "y", "t", "在用"}
_FALSE = {"否", "false", "0", "no", "n", "f", "停用"}
_INT = re.compile(r"^[+-]?\d+$")
_TYPE_ZH = {
    ColType.TEXT: "文本",
    ColType.INT: "整数",
    ColType.FLOAT: "数字",
    ColType.DATE: "日期 YYYY-MM-DD",
    ColType.BOOL: "是/否",
    ColType.ENUM: "选项",
}


@dataclass
class Known:
    """Codes the database already holds for this jurisdiction (and year, for yearly ones)."""

    departments: set[str] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)
    towns: set[str] = field(default_factory=set)
    sections: set[tuple[str, str]] = field(default_factory=set)
    indicators: dict[str, str] = field(default_factory=dict)  # code -> IndicatorKind value
    central_tasks: set[str] = field(default_factory=set)
    links: set[tuple[str, str]] = field(default_factory=set)  # (task, department)
    commissioners: set[str] = field(default_factory=set)
    hotline_cases: set[str] = field(default_factory=set)  # case numbers of the year


@dataclass
class Record:
    row: int
    values: dict[str, Any]  # column key -> typed value (None = blank), for present columns


@dataclass
class ValidSheet:
    sheet: Sheet
    file: str
    title: str
    present: frozenset[str]  # column keys that are in the file's header row
    records: list[Record]


@dataclass
class Validated:
    sheets: dict[str, ValidSheet]
    issues: list[ImportIssue]

    @property
    def errors(self) -> list[ImportIssue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[ImportIssue]:
        return [i for i in self.issues if not i.is_error]


def enum_choices(enum: type[StrEnum]) -> str:
    return " / ".join(f"{LABELS.get(m.value, m.value)} ({m.value})" for m in enum)


def type_hint(col: Column) -> str:
    """The type of a column in Chinese, for messages and template notes."""
    if col.kind is ColType.ENUM and col.enum is not None:
        return "选项: " + " / ".join(LABELS.get(m.value, m.value) for m in col.enum)
    hint = _TYPE_ZH[col.kind]
    if col.min is not None and col.max is not None:
        hint += f", {col.min:g}–{col.max:g}"
    return hint


class _CellError(ValueError):
    def __init__(self, message: str, kind: str = ""):
        super().__init__(message)
        self.kind = kind


# Per kind of cell error: how a summary line says what is wrong with the cells, and what to do
# (see issues.summarise).
SUMMARY_PHRASES: dict[str, tuple[str, str]] = {
    "formula": ("hold formulas", "Enter the values themselves, not formulas (不要用公式)."),
    "length": ("are longer than the column allows", "Shorten them."),
    "int": ("are not whole numbers (整数)", "Enter whole numbers."),
    "number": ("are not numbers (数字)", "Enter numbers."),
    "range": ("are out of range", "See the column's range in the template note."),
    "date": (
        "are not dates (日期)",
        "Enter dates such as 2022-06-15, or make the column a date column.",
    ),
    "bool": ("are not 是 or 否", "Enter 是 or 否."),
    "enum": ("hold an unknown choice", "Use one of the choices in the template note."),
    "blank": ("are blank but required (必填)", "Fill them in."),
    "unknown_code": (
        "refer to unknown codes (未知代码)",
        "Add the codes to their sheet first, or correct them.",
    ),
    "lookalike": (
        "hold codes that look like existing ones (仅大小写/空格不同)",
        "Write the existing code, or choose a clearly different one.",
    ),
    "duplicate": ("repeat a key of an earlier row (重复)", "Keep one row per key."),
}


def shown(value: Any) -> str:
    """A cell's content as an example in a message."""
    if isinstance(value, Formula):
        value = value.text
    elif isinstance(value, date):
        value = value.isoformat()
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "…" + text[-1]


def convert(col: Column, value: Any) -> Any:
    """One cell to its typed value; raises _CellError with a message for the user."""
    if isinstance(value, Formula):
        raise _CellError(
            f"formula not allowed ({value.text[:40]!r}); enter the value itself, not a formula "
            "(请填写数值, 不要用公式)",
            "formula",
        )
    kind = col.kind
    if kind is ColType.TEXT:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = value.isoformat() if isinstance(value, date) else str(value)
        if col.code:
            text = normalise_code(text)
        if len(text) > col.max_len:
            raise _CellError(
                f"{len(text)} characters, longer than the limit of {col.max_len}; shorten it",
                "length",
            )
        return text
    if kind is ColType.INT:
        number: Any
        if isinstance(value, bool):
            raise _CellError(f"expected a whole number (整数), got {value!r}", "int")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT.match(value.replace(",", "")):
            number = int(value.replace(",", ""))
        else:
            raise _CellError(f"expected a whole number (整数), got {value!r}", "int")
        _check_range(col, number)
        return number
    if kind is ColType.FLOAT:
        if isinstance(value, bool):
            raise _CellError(f"expected a number (数字), got {value!r}", "number")
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.replace(",", ""))
            except ValueError:
                raise _CellError(f"expected a number (数字), got {value!r}", "number") from None
        else:
            raise _CellError(f"expected a number (数字), got {value!r}", "number")
        if not math.isfinite(number):
            raise _CellError(f"expected a finite number (数字), got {value!r}", "number")
        _check_range(col, number)
        return number
    if kind is ColType.DATE:
        day = read_date(value)
        if day is not None:
            return day
        if isinstance(value, int | float) and not isinstance(value, bool):
            as_serial = excel_serial_date(value)
            low, high = (excel_serial_date(n) for n in PLAUSIBLE_SERIALS)
            hint = f" (as an Excel date number it would be {as_serial})" if as_serial else ""
            raise _CellError(
                f"{value:g} is a number, not a date{hint}; dates from {low} to {high} are "
                "accepted as Excel date numbers, otherwise enter the date, e.g. 2022-06-15 "
                "(日期 YYYY-MM-DD)",
                "date",
            )
        raise _CellError(
            f"expected a date such as 2022-06-15 (日期 YYYY-MM-DD), got {value!r}", "date"
        )
    if kind is ColType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _CellError(f"expected 是 or 否 (yes / no), got {value!r}", "bool")
    if kind is ColType.ENUM:
        assert col.enum is not None
        text = str(value).strip()
        for member in col.enum:
            if text == LABELS.get(member.value) or text.lower() == member.value:
                # the plain value: enum members hash unlike their strings in key tuples
                return member.value
        raise _CellError(f"unknown value {text!r}; use one of {enum_choices(col.enum)}", "enum")
    raise AssertionError(f"unhandled column type {kind}")  # pragma: no cover


def _check_range(col: Column, number: float) -> None:
    low, high = col.min, col.max
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        else:
            bounds = f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise _CellError(f"{number:g} is out of range; must be {bounds}", "range")


class _Checker:
    """Collects issues for one sheet, located at a row and a column."""

    def __init__(self, raw: RawSheet, issues: list[ImportIssue]):
        self.raw = raw
        self.issues = issues

    def header(self, key: str) -> str:
        return self.raw.headers.get(key) or self.raw.sheet.column(key).zh

    def error(
        self,
        row: int | None,
        key: str,
        message: str,
        *,
        kind: str = "",
        cell: str = "",
        value: str = "",
    ) -> None:
        column = self.header(key) if key else ""
        self.issues.append(
            ImportIssue(
                self.raw.file,
                self.raw.title,
                row,
                column,
                message,
                kind=kind,
                cell=cell,
                value=value,
            )
        )

    def warn(self, row: int | None, key: str, message: str) -> None:
        column = self.header(key) if key else ""
        self.issues.append(
            ImportIssue(self.raw.file, self.raw.title, row, column, message, Severity.WARNING)
        )


def _typed_rows(raw: RawSheet, check: _Checker) -> list[tuple[RawRow, dict[str, Any], bool]]:
    """Convert each row; keep the values that did convert, and whether the row is clean."""
    out = []
    columns = [col for col in raw.sheet.columns if col.key in raw.headers]
    for row in raw.rows:
        values: dict[str, Any] = {}
        clean = True
        for col in columns:
            value = row.values.get(col.key)
            if value is not None:
                cell = row.cells.get(col.key, "")
                try:
                    value = convert(col, value)
                except _CellError as exc:
                    check.error(
                        row.row,
                        col.key,
                        f"cell {cell}: {exc}" if cell else str(exc),
                        kind=exc.kind,
                        cell=cell,
                        value=shown(row.values.get(col.key)),
                    )
                    clean = False
                    continue
                if value == "":  # a code of invisible characters only
                    value = None
            values[col.key] = value
            if value is None and col.required:
                cell = row.cells.get(col.key, "")
                check.error(
                    row.row,
                    col.key,
                    f"required value is blank; fill in {col.zh} (必填)",
                    kind="blank",
                    cell=cell,
                    value="(blank)",
                )
                clean = False
        out.append((row, values, clean))
    return out


@dataclass(frozen=True)
class _Defines:
    """A sheet that defines codes: the column, what a code names, and what it is unique within."""

    column: str
    what: str
    scope: str | None = None  # sections: a section code is unique within its department


DEFINES: dict[str, _Defines] = {
    "teams": _Defines("code", "team"),
    "departments": _Defines("code", "department"),
    "sections": _Defines("code", "business section", scope="department"),
    "towns": _Defines("code", "town"),
    "commissioners": _Defines("code", "commissioner"),
    "indicators": _Defines("code", "indicator"),
    "central_tasks": _Defines("code", "central task"),
    "hotline_cases": _Defines("case_no", "hotline case"),
    "public_ratings": _Defines("response_key", "survey response"),
}


def _known_codes(key: str, known: Known) -> set[tuple[Any, str]]:
    """(scope, code) of what the database already holds for a defining sheet."""
    if key == "sections":
        return set(known.sections)
    pool: Iterable[str] = {
        "teams": known.teams,
        "departments": known.departments,
        "towns": known.towns,
        "commissioners": known.commissioners,
        "indicators": known.indicators,
        "central_tasks": known.central_tasks,
        "hotline_cases": known.hotline_cases,
    }.get(key, ())
    return {(None, code) for code in pool}


def _lookalike_codes(
    typed: dict[str, list[tuple[RawRow, dict[str, Any], bool]]],
    checkers: dict[str, _Checker],
    known: Known,
) -> set[tuple[str, int]]:
    """A new code that differs from a known one (in the database or on an earlier row) only in
    case, spaces or dashes is a slip, not a new department: an error naming both codes.
    Returns the (sheet, row) of the rows refused."""
    refused: set[tuple[str, int]] = set()
    for key, rows in typed.items():
        spec = DEFINES.get(key)
        if spec is None or not rows:
            continue
        check = checkers[key]
        exact = _known_codes(key, known)
        seen: dict[tuple[Any, str], tuple[str, str]] = {
            (scope, lookalike_key(code)): (code, "in the database") for scope, code in exact
        }
        for row, v, _ in rows:
            code = v.get(spec.column)
            if code is None:
                continue
            scope = v.get(spec.scope) if spec.scope else None
            if (scope, code) in exact:
                continue
            look = (scope, lookalike_key(code))
            other = seen.get(look)
            if other is None:
                seen[look] = (code, f"on row {row.row}")
                exact.add((scope, code))
                continue
            cell = row.cells.get(spec.column, "")
            within = f" of department {scope}" if scope else ""
            check.error(
                row.row,
                spec.column,
                f"cell {cell}: {spec.what} code {code!r} looks like the existing {spec.what}"
                f"{within} {other[0]!r} ({other[1]}): they differ only in case, spaces or "
                f"dashes. Write {other[0]} if it is the same {spec.what}, or choose a code that "
                f"differs by more (代码与已有代码 {other[0]} 仅大小写、空格或连字符不同)",
                kind="lookalike",
                cell=cell,
                value=shown(code),
            )
            refused.add((key, row.row))
    return refused


class _Pool:
    """The codes a reference may name, with their look-alike keys built on first need."""

    def __init__(self, codes: Iterable[Any]):
        self.codes = codes
        self._looks: dict[str, Any] | None = None

    def __contains__(self, value: Any) -> bool:
        return value in self.codes

    def lookalike(self, value: str) -> Any:
        if self._looks is None:
            self._looks = {}
            for code in self.codes:
                self._looks.setdefault(lookalike_key(str(code)), code)
        return self._looks.get(lookalike_key(value))


def validate(raw: RawWorkbook, known: Known, *, year: int | None) -> Validated:
    """Type every cell, then check keys and references across sheets and the database."""
    issues: list[ImportIssue] = list(raw.issues)
    typed: dict[str, list[tuple[RawRow, dict[str, Any], bool]]] = {}
    checkers: dict[str, _Checker] = {}
    for key, sheet_raw in raw.sheets.items():
        check = _Checker(sheet_raw, issues)
        checkers[key] = check
        if sheet_raw.sheet.yearly and year is None and sheet_raw.rows:
            check.error(
                None,
                "",
                f"sheet {sheet_raw.sheet.zh} holds one year's data; give the year "
                "(`bihuan import PATH --year 2022`)",
            )
        typed[key] = _typed_rows(sheet_raw, check)
    refused = _lookalike_codes(typed, checkers, known)

    def codes(sheet: str, col: str = "code") -> set[Any]:
        return {v[col] for _, v, _ in typed.get(sheet, []) if v.get(col) is not None}

    departments = codes("departments") | known.departments
    teams = codes("teams") | known.teams
    towns = codes("towns") | known.towns
    sections = {
        (v["department"], v["code"])
        for _, v, _ in typed.get("sections", [])
        if v.get("department") is not None and v.get("code") is not None
    } | known.sections
    kinds = dict(known.indicators)
    for _, v, _ in typed.get("indicators", []):
        if v.get("code") is not None and v.get("kind") is not None:
            kinds[v["code"]] = IndicatorKind(v["kind"]).value
    tasks = codes("central_tasks") | known.central_tasks
    links = {
        (v["task"], v["department"])
        for _, v, _ in typed.get("central_task_links", [])
        if v.get("task") is not None and v.get("department") is not None
    } | known.links
    pools: dict[int, _Pool] = {}

    def ref(
        check: _Checker,
        row: RawRow,
        key: str,
        value: Any,
        pool: Iterable[Any],
        what: str,
        where: str,
    ) -> bool:
        if value is None or value in pool:
            return True
        cell = row.cells.get(key, "")
        at = f"cell {cell}: " if cell else ""
        found = pools.setdefault(id(pool), _Pool(pool)).lookalike(str(value))
        if found is not None:
            check.error(
                row.row,
                key,
                f"{at}unknown {what} {value!r}; it looks like {found!r}, which differs only in "
                f"case, spaces or dashes: write {found} (仅大小写、空格或连字符不同)",
                kind="lookalike",
                cell=cell,
                value=shown(value),
            )
            return False
        check.error(
            row.row,
            key,
            f"{at}unknown {what} {value!r}: not in sheet {where} of this file nor in the "
            f"database; add it to sheet {where} first (未知代码)",
            kind="unknown_code",
            cell=cell,
            value=shown(value),
        )
        return False

    out: dict[str, ValidSheet] = {}
    for key, rows in typed.items():
        sheet_raw = raw.sheets[key]
        sheet = sheet_raw.sheet
        check = checkers[key]
        records: list[Record] = []
        first_seen: dict[tuple[Any, ...], int] = {}
        for row, v, clean in rows:
            ok = clean and (key, row.row) not in refused
            nk = tuple(v.get(k) for k in sheet.natural_key)
            if all(part is not None for part in nk):
                if nk in first_seen:
                    names = " + ".join(check.header(k) for k in sheet.natural_key)
                    shown_key = " / ".join(str(p) for p in nk)
                    last = sheet.natural_key[-1]
                    cell = row.cells.get(last, "")
                    check.error(
                        row.row,
                        last,
                        f"duplicate {names} {shown_key!r}: already on row {first_seen[nk]}; keep one row (重复)",
                        kind="duplicate",
                        cell=cell,
                        value=shown(shown_key),
                    )
                    ok = False
                else:
                    first_seen[nk] = row.row
            ok &= _cross_check(
                key,
                check,
                row,
                v,
                year,
                ref,
                departments,
                teams,
                towns,
                sections,
                kinds,
                tasks,
                links,
            )
            if ok:
                records.append(Record(row.row, v))
        out[key] = ValidSheet(
            sheet, sheet_raw.file, sheet_raw.title, frozenset(sheet_raw.headers), records
        )

    _section_task_counts(typed, checkers, issues)
    return Validated(out, summarise(issues, SUMMARY_PHRASES))


def _cross_check(
    key: str,
    check: _Checker,
    raw_row: RawRow,
    v: dict[str, Any],
    year: int | None,
    ref: Any,
    departments: set[str],
    teams: set[str],
    towns: set[str],
    sections: set[tuple[str, str]],
    kinds: dict[str, str],
    tasks: set[str],
    links: set[tuple[str, str]],
) -> bool:
    ok = True
    row = raw_row.row
    dept_sheet = SHEETS_BY_KEY["departments"].zh
    if "department" in v:
        ok &= ref(
            check,
            raw_row,
            "department",
            v["department"],
            departments,
            "department code (部门代码)",
            dept_sheet,
        )
    if key == "departments":
        ok &= ref(
            check,
            raw_row,
            "team",
            v.get("team"),
            teams,
            "team code (评估小组代码)",
            SHEETS_BY_KEY["teams"].zh,
        )
    elif key == "commissioners":
        ok &= ref(
            check,
            raw_row,
            "team",
            v.get("team"),
            teams,
            "team code (评估小组代码)",
            SHEETS_BY_KEY["teams"].zh,
        )
        ok &= ref(
            check,
            raw_row,
            "former_department",
            v.get("former_department"),
            departments,
            "department code (部门代码)",
            dept_sheet,
        )
    elif key == "indicators":
        dept, section = v.get("department"), v.get("section")
        if dept in departments and section is not None and (dept, section) not in sections:
            cell = raw_row.cells.get("section", "")
            similar = [
                s for d, s in sections if d == dept and lookalike_key(s) == lookalike_key(section)
            ]
            hint = (
                f"; it looks like {similar[0]!r}, which differs only in case, spaces or dashes: "
                f"write {similar[0]}"
                if similar
                else f"; add it to sheet {SHEETS_BY_KEY['sections'].zh} first"
            )
            check.error(
                row,
                "section",
                f"cell {cell}: department {dept} has no business section {section!r}{hint} "
                "(科室代码未定义)",
                kind="lookalike" if similar else "unknown_code",
                cell=cell,
                value=shown(section),
            )
            ok = False
    elif key in ("indicator_history", "submissions"):
        code = v.get("indicator")
        ok &= ref(
            check,
            raw_row,
            "indicator",
            code,
            kinds,
            "indicator code (指标代码)",
            SHEETS_BY_KEY["indicators"].zh,
        )
        kind = kinds.get(code) if code is not None else None
        if key == "indicator_history":
            hist_year = v.get("year")
            if year is not None and hist_year is not None and hist_year >= year:
                check.error(
                    row,
                    "year",
                    f"{hist_year} is not before the import year {year}; 往年数据 holds earlier years only",
                )
                ok = False
            if kind == IndicatorKind.QUALITATIVE.value:
                check.warn(
                    row,
                    "indicator",
                    f"indicator {code} is qualitative (定性); prior-year values are used for quantitative (定量) ones only",
                )
        elif kind == IndicatorKind.QUALITATIVE.value and v.get("level") is None:
            check.error(
                row,
                "level",
                f"indicator {code} is qualitative (定性): fill in 定性等次 ({enum_choices(QualitativeLevel)})",
            )
            ok = False
        elif kind == IndicatorKind.QUANTITATIVE.value and v.get("value") is None:
            check.error(
                row,
                "value",
                f"indicator {code} is quantitative (定量): fill in the value (数值必填)",
            )
            ok = False
    elif key in ("central_task_links", "central_task_results"):
        task = v.get("task")
        ok &= ref(
            check,
            raw_row,
            "task",
            task,
            tasks,
            "central task code (任务代码)",
            SHEETS_BY_KEY["central_tasks"].zh,
        )
        dept = v.get("department")
        if (
            key == "central_task_results"
            and task in tasks
            and dept in departments
            and (task, dept) not in links
        ):
            check.error(
                row,
                "department",
                f"department {dept} has no part in central task {task}; add the link to sheet "
                f"{SHEETS_BY_KEY['central_task_links'].zh} first",
            )
            ok = False
    elif key == "town_ratings":
        ok &= ref(
            check,
            raw_row,
            "town",
            v.get("town"),
            towns,
            "town code (乡镇代码)",
            SHEETS_BY_KEY["towns"].zh,
        )
    elif key == "peer_ratings":
        rater, ratee = v.get("rater"), v.get("ratee")
        ok &= ref(
            check, raw_row, "rater", rater, departments, "department code (部门代码)", dept_sheet
        )
        ok &= ref(
            check, raw_row, "ratee", ratee, departments, "department code (部门代码)", dept_sheet
        )
        if rater is not None and rater == ratee:
            check.error(
                row,
                "ratee",
                f"department {rater} rates itself; self-rating is not allowed (不能评价本部门)",
            )
            ok = False
    elif key == "hotline_cases":
        received, due, closed = v.get("received_on"), v.get("due_on"), v.get("closed_on")
        if received and due and due < received:
            check.error(row, "due_on", f"due date {due} is before the received date {received}")
            ok = False
        if received and closed and closed < received:
            check.error(
                row, "closed_on", f"closed date {closed} is before the received date {received}"
            )
            ok = False
    return ok


def _section_task_counts(
    typed: dict[str, list[tuple[RawRow, dict[str, Any], bool]]],
    checkers: dict[str, _Checker],
    issues: list[ImportIssue],
) -> None:
    """The ledger has 13 key tasks per business section; another count is worth a look, no more."""
    if "indicators" not in typed:
        return
    counts: Counter[tuple[str, str]] = Counter()
    first_row: dict[tuple[str, str], int] = {}
    for row, v, _ in typed["indicators"]:
        pair = (v.get("department"), v.get("section"))
        if pair[0] is None or pair[1] is None:
            continue
        counts[pair] += 1  # type: ignore[index]
        first_row.setdefault(pair, row.row)  # type: ignore[arg-type]
    for _, v, _ in typed.get("sections", []):
        pair = (v.get("department"), v.get("code"))
        if pair[0] is not None and pair[1] is not None:
            counts.setdefault(pair, 0)  # type: ignore[arg-type]
    check = checkers["indicators"]
    for (dept, section), n in sorted(counts.items()):
        if n != TASKS_PER_SECTION:
            check.warn(
                first_row.get((dept, section)),
                "section",
                f"section {dept}/{section} has {n} key tasks, not {TASKS_PER_SECTION} "
                f"(每个业务科室应有 {TASKS_PER_SECTION} 项重点工作任务); imported anyway",
            )
