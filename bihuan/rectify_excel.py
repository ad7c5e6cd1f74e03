"""The Excel round trip of the rectification ledger (整改台账): the workbook adapter.

`export_open_items` writes one workbook per department (整改台账-<code>-<name>.xlsx) with the
items that still need work (待整改, 整改中, 重新整改) that the user may see, as the use case
`rectification.export_rows` lists them. Grey columns are read-only and go back unchanged; the
department fills the yellow ones. Every text is written as a text cell, so a finding titled
"=HYPERLINK(…)" cannot become a formula in Excel or WPS.

`import_responses` reads the filled workbook (.xlsx, or .xls / .ods if WPS or LibreOffice saved
it so) with the importer's defences and cell rules (size cap, zip-bomb check, defusedxml,
formulas refused with the cell named, codes normalised, title rows above the header), then, in
one unit of work, prepares EVERY row through the use case (`rectification.prepare_act`, which
checks the user's permission on the item, the version and the state machine, writing nothing)
and lists every problem with file, sheet, row and column: a bad 是/否, fixed without evidence,
cannot-solve without explanation or alternative, an unknown item (or one the user may not
touch: the same answer), another department's item, a stale version, a move the state machine
refuses. Only a clean workbook is applied: all rows in that one transaction, each through
`rectification.store_move`, audited under the importing user's id. A department user imports
its own department's workbook, the office any department's on the department's behalf. The
messages are in Chinese: the department's contact reads them. No SQL here: this module is an
adapter, like the commands.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.datavalidation import DataValidation

from bihuan.core.access import Actor
from bihuan.core.rectification import Action, TransitionError
from bihuan.errors import ConflictError, PermissionDenied, UserError
from bihuan.ingest.cells import Formula, normalise_code, safe_row
from bihuan.ingest.issues import ImportIssue, ReadError, Severity
from bihuan.ingest.readers import RawRow, read_workbook
from bihuan.ingest.schema import ColType, Column, Sheet
from bihuan.services import rectification
from bihuan.services.rectification import (
    RESPOND,
    Act,
    ItemElsewhere,
    ItemNotFound,
    ItemRow,
    Outcome,
    PreparedMove,
    StaleItem,
)
from bihuan.services.uow import UnitOfWork, record_refusal
from bihuan.vocab import Capacity, UserRole

if TYPE_CHECKING:
    from bihuan.app import AppContext

TEXT_MAX = 1000

_RO = "只读"  # read-only note in the column descriptions


def _col(
    key: str,
    zh: str,
    kind: ColType = ColType.TEXT,
    required: bool = False,
    note: str = "",
    code: bool = False,
) -> Column:
    return Column(key, zh, kind, required, note, max_len=TEXT_MAX, code=code)


SHEET = Sheet(
    key="rectification",
    zh="整改台账",
    note="每行一个整改事项; 灰色列只读, 黄色列由部门填写",
    columns=(
        _col("item_id", "事项编号", ColType.INT, True, f"{_RO}: 整改事项编号"),
        _col("version", "版本", ColType.INT, True, f"{_RO}: 导出时的版本, 用于防止覆盖他人修改"),
        _col("department", "部门代码", note=f"{_RO}", code=True),
        _col("title", "问题", note=f"{_RO}"),
        _col("deadline", "整改期限", ColType.DATE, note=f"{_RO}"),
        _col("status", "当前状态", note=f"{_RO}"),
        _col("progress", "整改进展", required=True, note="本次整改进展情况"),
        _col("fixed", "是否已整改完成", ColType.BOOL, True, "是 / 否; 填“是”须填写佐证材料"),
        _col(
            "evidence", "佐证材料", required=True, note="佐证材料名称或文号, 多个用分号或换行分隔"
        ),
        _col(
            "cannot_solve",
            "申请无法解决",
            ColType.BOOL,
            True,
            "是 / 否; 填“是”须填写政策解释和替代措施",
        ),
        _col("explanation", "政策解释", required=True, note="申请无法解决时填写"),
        _col("alternative", "替代措施", required=True, note="申请无法解决时填写"),
    ),
    natural_key=("item_id",),
    yearly=False,
)
READ_ONLY = ("item_id", "version", "department", "title", "deadline", "status")
FILL = ("progress", "fixed", "evidence", "cannot_solve", "explanation", "alternative")
ZH = {c.key: c.zh for c in SHEET.columns}
BLANK_ANSWER = ("", "否", "", "否", "", "")  # the fill columns as exported

_GREY = PatternFill("solid", fgColor="E7E6E6")
_YELLOW = PatternFill("solid", fgColor="FFF2CC")
_TOP_WRAP = Alignment(wrap_text=True, vertical="top")
_WIDTH = {"title": 48, "progress": 40, "evidence": 30, "explanation": 30, "alternative": 30}


def describe(issue: ImportIssue) -> str:
    """An issue as the department's contact reads it: where (in Chinese), then what to do."""
    parts = [issue.file]
    if issue.sheet:
        parts.append(f"工作表“{issue.sheet}”")
    if issue.row is not None:
        parts.append(f"第 {issue.row} 行")
    if issue.column:
        parts.append(f"“{issue.column}”列")
    return f"{', '.join(parts)}: {issue.message}"


class ResponsesRejected(UserError):
    """A filled workbook with errors: nothing was applied; `issues` lists every one."""

    def __init__(self, file: str, issues: list[ImportIssue]):
        lines = "\n".join(f"  {describe(i)}" for i in issues)
        super().__init__(
            f"{file}: 共 {len(issues)} 处错误, 整个文件未导入, 请改正后重新导入:\n{lines}"
        )
        self.issues = issues


class ResponsesConflict(ResponsesRejected, ConflictError):
    """Some rows were exported before someone else changed the item (a stale version)."""


@dataclass
class ImportResult:
    file: str
    applied: int = 0
    skipped: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)


# ------------------------------------------------------------------ export


def _file_safe(text: str) -> str:
    return re.sub(r'[\x00-\x1f/\\:*?"<>|]+', "_", text).strip(" .") or "部门"


def export_open_items(
    app: AppContext,
    actor: Actor,
    out_dir: Path,
    *,
    department: str | None = None,
    year: int | None = None,
) -> list[Path]:
    """One workbook per department with the open items `actor` may see (its own department's,
    a section's supervised items, the office's any or all); the paths written, by code."""
    with UnitOfWork(app, readonly=True) as uow:
        rows = rectification.export_rows(
            uow, actor, app.jurisdiction, department=department, year=year
        )
    return write_workbooks(rows, out_dir)


def write_workbooks(rows: Sequence[ItemRow], out_dir: Path) -> list[Path]:
    """Write the rows, grouped by department, one workbook each; the paths, sorted by code."""
    by_dept: dict[tuple[str, str], list[ItemRow]] = defaultdict(list)
    for r in rows:
        by_dept[(r.department, r.department_name)].append(r)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for (code, name), items in sorted(by_dept.items()):
        path = out_dir / f"整改台账-{_file_safe(code)}-{_file_safe(name)}.xlsx"
        _write_workbook(path, code, name, items)
        paths.append(path)
    return paths


def _write_workbook(path: Path, code: str, name: str, items: list[ItemRow]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET.zh
    cols = list(SHEET.columns)
    ws.append(safe_row(ws, [c.zh for c in cols]))
    for r in items:
        values = [r.id, r.version, r.department, r.title, r.deadline, r.status_label]
        ws.append(safe_row(ws, [*values, *BLANK_ANSWER]))
    n = len(items) + 1
    for idx, col in enumerate(cols, start=1):
        letter = openpyxl.utils.get_column_letter(idx)
        fill = _GREY if col.key in READ_ONLY else _YELLOW
        head = ws.cell(row=1, column=idx)
        head.font = Font(bold=True)
        head.fill = fill
        first: StyleArray | None = None
        for row in range(2, n + 1):
            cell = ws.cell(row=row, column=idx)
            if first is not None:
                # the column's style as the first row got it, by its ids in the workbook's
                # style tables (what assigning the same objects again would find there),
                # keeping the cell's own attributes (a text cell's quote prefix)
                style = cell._style
                if style is None:  # a cell nothing styled yet (as the descriptors do)
                    style = cell._style = StyleArray()
                style.alignmentId = first.alignmentId
                if col.key in READ_ONLY:
                    style.fillId = first.fillId
                if col.kind is ColType.DATE:
                    style.numFmtId = first.numFmtId
                continue
            cell.alignment = _TOP_WRAP
            if col.key in READ_ONLY:
                cell.fill = _GREY
            if col.kind is ColType.DATE:
                cell.number_format = "yyyy-mm-dd"
            first = cell._style
        ws.column_dimensions[letter].width = _WIDTH.get(col.key, 14)
        if col.kind is ColType.BOOL and n > 1:
            dv = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
            dv.error, dv.errorTitle = "请填写 是 或 否", "输入有误"
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{n}")
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("说明")
    lines: list[list[Any]] = [
        [f"{name} ({code}) 整改台账 — 请在黄色列填写, 灰色列请勿修改"],
        [],
        ["列", "说明"],
        *([col.zh, col.note] for col in cols),
        [],
        ["是否已整改完成 填“是”: 报告整改完成, 须在“佐证材料”中列明材料; 由编办验收销号。"],
        ["申请无法解决 填“是”: 须填写“政策解释”和“替代措施”, 由编办审核。"],
        ["只填“整改进展”: 记录为整改中。整行不填: 本次不报送该事项。"],
        ["请直接填写文字, 不要使用公式。也可另存为 .xls 或 .ods 后导入。"],
    ]
    for line in lines:
        notes.append(safe_row(notes, line))
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 60
    wb.properties.title = f"整改台账 {code} {name}"
    wb.properties.keywords = f"bihuan-rectify:{code}"
    wb.save(path)


# ------------------------------------------------------------------ import


_YES = {"是", "y", "yes", "true", "1", "√", "已完成"}
_NO = {"否", "n", "no", "false", "0", ""}


def _yes_no(value: Any) -> bool | None:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_READ_ZH = {
    "missing": "文件不存在",
    "format": "不是可导入的工作簿; 请导入导出的 .xlsx 文件 (WPS 另存的 .xls 或 .ods 也可以)",
    "not_workbook": "不是 Excel 工作簿 (可能是改了扩展名的 CSV 或网页); 请在 Excel 或 WPS 中另存为 .xlsx 后导入",
    "too_large": "文件过大; 请只保留导出的整改台账",
    "zip_bomb": "文件解压后过大, 疑似异常文件, 未打开",
    "too_many_rows": "行数过多; 请只保留导出的整改事项",
    "too_many_columns": "右侧有过多填写了内容的列; 请删除多余的单元格",
    "damaged": "文件已损坏, 无法打开; 请在 Excel 或 WPS 中重新保存后导入",
    "duplicate_sheet": f"“{SHEET.zh}”工作表出现了两次; 请只保留一个",
}


def _in_chinese(issue: ImportIssue) -> ImportIssue:
    """A reader's message for the department's contact; the English detail stays in brackets
    for whoever helps them."""
    if issue.kind == "missing_column":
        message = f"缺少“{issue.column}”列; 请勿删除或修改表头"
    elif issue.kind == "duplicate_column":
        message = f"“{issue.column}”列出现了两次; 请只保留一列"
    elif issue.kind in _READ_ZH:
        message = f"{_READ_ZH[issue.kind]} (详情: {issue.message})"
    else:
        message = issue.message
    return replace(issue, message=message)


def _refs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;；\n]+", text) if p.strip()]


@dataclass
class _Row:
    raw: RawRow
    item_id: int
    version: int
    department: str
    progress: str
    fixed: bool
    evidence: list[str]
    cannot_solve: bool
    explanation: str
    alternative: str


@dataclass
class _Book:
    """A read workbook: its rows that answer an item, and every problem found so far."""

    file: str
    title: str = ""
    rows: list[_Row] = field(default_factory=list)
    skipped: int = 0
    issues: list[ImportIssue] = field(default_factory=list)
    conflict: bool = False  # a stale version among the issues

    def err(self, raw: RawRow, key: str, message: str) -> None:
        self.issues.append(ImportIssue(self.file, self.title, raw.row, ZH.get(key, key), message))

    def reject(self) -> ResponsesRejected:
        order = list(ZH.values())
        self.issues.sort(
            key=lambda i: (i.row or 0, order.index(i.column) if i.column in order else 99)
        )
        return (ResponsesConflict if self.conflict else ResponsesRejected)(self.file, self.issues)


def import_responses(app: AppContext, path: Path, *, actor: Actor, as_of: date) -> ImportResult:
    """Check every row of a filled workbook, then apply all of them in one transaction or none.

    Refused (PermissionDenied, recorded) unless `actor` is a department user or the office. A
    row about an item the user may not touch is answered like an unknown item, and each such
    refusal is recorded in the audit log once the import's transaction has rolled back."""
    path = Path(path)
    with UnitOfWork(app, readonly=True) as uow:  # refuse before reading a byte of the file
        rectification.check_workbook_import(uow, actor, app.jurisdiction)
    book = _read(path)
    refusals: list[PermissionDenied] = []
    try:
        with UnitOfWork(app) as uow:
            rectification.check_workbook_import(uow, actor, app.jurisdiction)
            prepared = _prepare(uow, app.jurisdiction, book, actor, as_of, refusals)
            if book.issues:
                raise book.reject()
            return _store(uow, book, prepared, actor)
    finally:
        # caught per row, so the unit of work did not record them: recorded here, after the
        # rollback, each in a transaction of its own
        for exc in refusals:
            record_refusal(app, exc)


def _read(path: Path) -> _Book:
    """The workbook's answer rows, with every problem the file itself shows (no database)."""
    try:
        workbook = read_workbook(path, {SHEET.zh: SHEET, SHEET.key: SHEET})
    except ReadError as exc:
        raise ResponsesRejected(path.name, [_in_chinese(exc.issue)]) from None
    issues = [_in_chinese(i) for i in workbook.issues if i.severity is Severity.ERROR]
    sheet = workbook.sheets.get(SHEET.key)
    if sheet is None:
        issues.append(
            ImportIssue(
                path.name,
                "",
                None,
                "",
                f"没有名为“{SHEET.zh}”的工作表; 请导入由 `bihuan rectify export` 导出的整改台账",
            )
        )
    if issues or sheet is None:
        raise ResponsesRejected(path.name, issues)
    book = _Book(path.name, sheet.title)
    seen: dict[int, int] = {}  # item id -> first row that answers it
    for raw in sheet.rows:
        row = _read_row(book, raw, seen)
        if row is not None:
            book.rows.append(row)
    return book


def _read_row(book: _Book, raw: RawRow, seen: dict[int, int]) -> _Row | None:
    """One row's answer if it is filled in and well formed; its problems go to `book`."""
    err = book.err
    v = raw.values
    formulas = [k for k in ZH if isinstance(v.get(k), Formula)]
    for key in formulas:
        err(
            raw,
            key,
            f"单元格 {raw.cells.get(key, '')} 是公式 ({str(v[key])[:40]}); "
            "请直接填写内容, 不要使用公式",
        )
    if formulas:
        return None
    filled = {k: v.get(k) for k in FILL}
    if all(_yes_no(filled[k]) is False for k in ("fixed", "cannot_solve")) and not any(
        _text(filled[k]) for k in ("progress", "evidence", "explanation", "alternative")
    ):
        book.skipped += 1
        return None
    ok = True
    item_id, version = _int(v.get("item_id")), _int(v.get("version"))
    if item_id is None:
        err(raw, "item_id", f"{_text(v.get('item_id'))!r} 不是事项编号; 请勿修改灰色列")
        ok = False
    if item_id is not None and item_id in seen:
        err(
            raw,
            "item_id",
            f"事项 {item_id} 出现了两次 (另见第 {seen[item_id]} 行); 请只保留一行",
        )
        ok = False
    elif item_id is not None:
        seen[item_id] = raw.row
    if version is None:
        err(raw, "version", f"{_text(v.get('version'))!r} 不是版本号; 请勿修改灰色列")
        ok = False
    flags: dict[str, bool] = {}
    for key in ("fixed", "cannot_solve"):
        yn = _yes_no(filled[key])
        if yn is None:
            err(raw, key, f"{_text(filled[key])!r} 不是“是”或“否”; 请填写 是 或 否")
            ok = False
        flags[key] = bool(yn)
    texts = {k: _text(filled[k]) for k in ("progress", "evidence", "explanation", "alternative")}
    for key, value in texts.items():
        if len(value) > TEXT_MAX:
            err(raw, key, f"共 {len(value)} 字, 超过 {TEXT_MAX} 字的上限; 请精简")
            ok = False
    if flags["fixed"] and flags["cannot_solve"]:
        err(
            raw,
            "cannot_solve",
            "“是否已整改完成”和“申请无法解决”不能同时为“是”; 请只保留一个“是”",
        )
        ok = False
    if flags["fixed"] and not texts["evidence"]:
        err(
            raw,
            "evidence",
            "“是否已整改完成”为“是”, 但未填写佐证材料; 请在“佐证材料”中列明材料名称或文号",
        )
        ok = False
    if flags["cannot_solve"]:
        for key in ("explanation", "alternative"):
            if not texts[key]:
                err(raw, key, f"“申请无法解决”为“是”: 请填写“{ZH[key]}”")
                ok = False
    elif texts["explanation"] or texts["alternative"]:
        key = "explanation" if texts["explanation"] else "alternative"
        err(raw, key, "已填写, 但“申请无法解决”不是“是”; 请改为“是”, 或清空此单元格")
        ok = False
    if not flags["fixed"] and not flags["cannot_solve"] and not texts["progress"]:
        err(raw, "progress", "请填写“整改进展”(本次做了哪些工作), 或整行留空")
        ok = False
    if not ok:
        return None
    assert item_id is not None and version is not None
    return _Row(
        raw,
        item_id,
        version,
        normalise_code(_text(v.get("department"))),
        texts["progress"],
        flags["fixed"],
        _refs(texts["evidence"]),
        flags["cannot_solve"],
        texts["explanation"],
        texts["alternative"],
    )


def _prepare(
    uow: UnitOfWork,
    jurisdiction: str,
    book: _Book,
    actor: Actor,
    as_of: date,
    refusals: list[PermissionDenied],
) -> list[tuple[_Row, PreparedMove]]:
    """Every row through the use case's checks (permission, department, version, state
    machine), nothing written; each row's problem goes to `book`, each refusal to `refusals`."""
    # A department user answers for its own department; the office for the department the
    # workbook is of: what its rows say (the export writes one code), else the first item's.
    if actor.role is UserRole.DEPARTMENT:
        department = actor.department_code
    else:
        counts = Counter(r.department for r in book.rows if r.department)
        department = counts.most_common(1)[0][0] if counts else None
    prepared: list[tuple[_Row, PreparedMove]] = []
    for r in book.rows:
        cmd = Act(
            jurisdiction=jurisdiction,
            item_id=r.item_id,
            action=_action(r),
            expected_version=r.version,
            department=department,
            reason=r.progress,
            evidence_refs=tuple(r.evidence),
            explanation=r.explanation,
            alternative=r.alternative,
            capacity=Capacity.DEPARTMENT,
        )
        try:
            p = rectification.prepare_act(uow, cmd, actor, as_of)
        except (ItemNotFound, PermissionDenied) as exc:
            # another department's item reads exactly like one that does not exist
            if isinstance(exc, PermissionDenied):
                refusals.append(exc)
            book.err(r.raw, "item_id", f"本县没有编号为 {r.item_id} 的整改事项; 请勿修改灰色列")
            continue
        except ItemElsewhere as exc:  # only the office gets here: it may see every item
            book.err(
                r.raw,
                "item_id",
                f"事项 {r.item_id} 属于 {exc.department} ({exc.department_name}), "
                f"不属于本台账的部门 {exc.expected}; 请在该部门自己的整改台账中填报",
            )
            continue
        except StaleItem as exc:
            _stale(book, r, exc)
            continue
        except TransitionError as exc:
            # the state machine's reason, in Chinese (its labels, never its codes)
            book.err(r.raw, "status", f"当前状态下不能这样填报: {exc.zh}; 如有疑问请联系编办")
            continue
        except UserError:
            book.err(r.raw, "status", "当前状态下不能这样填报, 请联系编办")
            continue
        department = department or p.loaded.department_code
        prepared.append((r, p))
    return prepared


def _action(r: _Row) -> Action | str:
    if r.fixed:
        return Action.REPORT_FIXED
    if r.cannot_solve:
        return Action.REQUEST_CANNOT_SOLVE
    return RESPOND


def _stale(book: _Book, r: _Row, exc: StaleItem) -> None:
    book.conflict = True
    book.err(
        r.raw,
        "version",
        f"事项 {r.item_id} 在本台账导出后已被他人修改 (导出时版本 {exc.seen}, 现为 "
        f"{exc.now}); 请重新导出整改台账, 再填写此行",
    )


def _store(
    uow: UnitOfWork, book: _Book, prepared: list[tuple[_Row, PreparedMove]], actor: Actor
) -> ImportResult:
    """Store every prepared move in the unit of work's transaction, audited under `actor`."""
    result = ImportResult(book.file, skipped=book.skipped)
    by_action: Counter[str] = Counter()
    for r, p in prepared:
        try:
            out = rectification.store_move(
                uow, p, actor, source={"file": book.file, "sheet": book.title, "row": r.raw.row}
            )
        except StaleItem as exc:  # changed by someone else since it was prepared
            _stale(book, r, exc)
            raise book.reject() from None
        result.outcomes.append(out)
        by_action[out.action] += 1
    result.applied = len(prepared)
    result.by_action = dict(by_action)
    return result
