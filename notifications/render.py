"""Renders the documents and messages a department reads (问题清单, 整改提醒, 每日汇总) from plain data.

Pure: no database, no apprise. One jinja2 Environment: autoescape on for `*.html`, off for
`*.txt`; `StrictUndefined`, so a missing value is an error instead of a silent blank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bihuan.vocab import label as vocab_label

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Wording of each reminder stage (提醒阶段); keys are what the reminder planner emits.
STAGE_LABELS: dict[str, str] = {
    "pre_due": "到期前提醒",
    "due": "到期提醒",
    "overdue": "逾期催办",
}


@dataclass(frozen=True)
class FindingLine:
    """One finding (问题) as it appears in a problem list."""

    title: str
    category: Any  # a FindingCategory member (its `.label` is shown) or a Chinese string
    severity: Any  # a Severity member or a Chinese string
    evidence: str
    deadline: date
    section: str  # supervising section of the office (督促科室)
    provisional: bool = False  # the deadline is counted on a provisional year (暂定)


@dataclass(frozen=True)
class ProblemListContext:
    """Everything a problem list (问题清单) needs."""

    department: str
    year: int
    phase: Any  # a PhaseKind member or a Chinese string (年中 / 年底)
    findings: Sequence[FindingLine]
    reply_deadline: date
    issued_on: date
    office: str = "县委机构编制委员会办公室"
    link: str = ""  # the list's page in the portal (BIHUAN_BASE_URL); "" for none
    attached: bool = False  # the department's rectification workbook is attached


@dataclass(frozen=True)
class ReminderLine:
    """One rectification item (整改事项) inside a reminder or a digest."""

    department: str
    title: str
    deadline: date
    stage: str  # pre_due | due | overdue
    days: int = 0  # working days left (pre_due) or overdue (overdue)
    level: Any = ""  # an EscalationLevel member or a Chinese string
    link: str = ""  # the item's page in the portal (BIHUAN_BASE_URL); "" for none


@dataclass(frozen=True)
class ReminderContext:
    """A reminder (整改提醒) to one department about one or more items at one stage."""

    department: str
    stage: str
    items: Sequence[ReminderLine]
    deadline: date
    level: Any  # EscalationLevel member or Chinese string
    business_date: date
    office: str = "县委机构编制委员会办公室"


@dataclass(frozen=True)
class DigestContext:
    """One daily digest (每日汇总) for one recipient."""

    recipient: str
    business_date: date
    items: Sequence[ReminderLine] = field(default_factory=list)
    office: str = "县委机构编制委员会办公室"


def _label(value: Any) -> str:
    """Enum members carry their Chinese label, and so does a stored enum value (a bare string,
    looked up in bihuan.vocab); anything else is shown as it is, None as nothing."""
    if value is None:
        return ""
    label = getattr(value, "label", None)
    if label is not None:
        return str(label)
    return vocab_label(value) if isinstance(value, str) else str(value)


def _pct(value: float | None) -> str:
    """A share as a percentage with one decimal (0.125 → 12.5%); — when there is none."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cn_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _md_cell(value: Any) -> str:
    """Text safe inside one cell of a markdown table: no pipe ends it, no line break splits it."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _stage(value: str) -> str:
    try:
        return STAGE_LABELS[value]
    except KeyError:
        raise ValueError(
            f"unknown reminder stage {value!r}; expected one of {sorted(STAGE_LABELS)}"
        ) from None


@cache
def environment() -> Environment:
    """The documents' one jinja2 Environment, built on first use (a listing that renders
    nothing does not import jinja2)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["label"] = _label
    env.filters["cn_date"] = _cn_date
    env.filters["stage"] = _stage
    env.filters["md_cell"] = _md_cell
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env


def __getattr__(name: str) -> Any:
    if name == "ENV":  # the Environment, for those who extend it (the portal's overlay)
        return environment()
    raise AttributeError(f"module 'notifications.render' has no attribute {name!r}")


def _as_mapping(ctx: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(ctx) and not isinstance(ctx, type):
        # Shallow on purpose: nested dataclasses keep their enum members (and so their labels).
        return {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx)}
    if isinstance(ctx, Mapping):
        return dict(ctx)
    raise TypeError(f"render context must be a dataclass or a mapping, not {type(ctx).__name__}")


def _one_line(text: str) -> str:
    # A subject is a mail header: a newline smuggled in through a name must not split it.
    return " ".join(text.split())


def render(name: str, ctx: Any) -> str:
    """Render one template by name (e.g. "reminder.txt") with a dataclass or mapping."""
    return environment().get_template(name).render(_as_mapping(ctx))


def render_problem_list(ctx: ProblemListContext | Mapping[str, Any]) -> tuple[str, str, str]:
    """问题清单 for one department: (subject, html, text)."""
    return (
        _one_line(render("problem_list.subject.txt", ctx)),
        render("problem_list.html", ctx),
        render("problem_list.txt", ctx),
    )


def render_reminder(ctx: ReminderContext | Mapping[str, Any]) -> tuple[str, str, str]:
    """整改提醒 (pre-due, due-day or overdue) for one department: (subject, html, text)."""
    return (
        _one_line(render("reminder.subject.txt", ctx)),
        render("reminder.html", ctx),
        render("reminder.txt", ctx),
    )


def render_digest(ctx: DigestContext | Mapping[str, Any]) -> tuple[str, str]:
    """每日汇总 for one recipient listing all of the day's items: (subject, text)."""
    return _one_line(render("digest.subject.txt", ctx)), render("digest.txt", ctx)


__all__ = [
    "STAGE_LABELS",
    "DigestContext",
    "FindingLine",
    "ProblemListContext",
    "ReminderContext",
    "ReminderLine",
    "environment",
    "render",
    "render_digest",
    "render_problem_list",
    "render_reminder",
]
