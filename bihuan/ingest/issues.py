"""What an import found wrong: one issue per cell, row or file, with where it is and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class ImportIssue:
    """An error or warning located as the user sees it in Excel: row 1 is the header row."""

    file: str
    sheet: str
    row: int | None
    column: str
    message: str
    severity: Severity = Severity.ERROR
    # For summarising many issues of one kind in one column into one line (see `summarise`):
    kind: str = ""  # e.g. "date", "number", "unknown_code"; "" = never summarised
    cell: str = ""  # e.g. "G7"
    value: str = ""  # the cell's content as shown in an example
    count: int = 1  # how many cells this issue stands for (more than 1 for a summary line)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def where(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


class ReadError(Exception):
    """A file that cannot be read at all (not a workbook, too large, a zip bomb); the issue's
    `kind` says which, so a caller that speaks to another audience can word it its own way."""

    def __init__(self, issue: ImportIssue):
        super().__init__(str(issue))
        self.issue = issue


SUMMARY_AFTER = 5  # more issues than this of one kind in one column become one line
EXAMPLES = 3


def summarise(issues: list[ImportIssue], phrases: dict[str, tuple[str, str]]) -> list[ImportIssue]:
    """Replace each run of more than SUMMARY_AFTER issues of one kind in one column by one line:
    "8,136 cells are not dates, e.g. G2 = '44722x', …; cells G2:G8137. <what to do>".

    `phrases` maps a kind to (what is wrong with the cells, what to do). A wrong format in one
    column is one mistake made many times; thousands of lines would push the rest off screen.
    """
    groups: dict[tuple[str, str, str, str, Severity], list[ImportIssue]] = {}
    for issue in issues:
        if issue.kind in phrases and issue.cell:
            key = (issue.file, issue.sheet, issue.column, issue.kind, issue.severity)
            groups.setdefault(key, []).append(issue)
    big = {key: group for key, group in groups.items() if len(group) > SUMMARY_AFTER}
    if not big:
        return issues
    out: list[ImportIssue] = []
    done: set[tuple[str, str, str, str, Severity]] = set()
    for issue in issues:
        key = (issue.file, issue.sheet, issue.column, issue.kind, issue.severity)
        if key not in big:
            out.append(issue)
            continue
        if key in done:
            continue
        done.add(key)
        group = big[key]
        what, todo = phrases[issue.kind]
        examples = ", ".join(f"{i.cell} = {i.value}" for i in group[:EXAMPLES])
        rows = [i.row for i in group if i.row is not None]
        letters = issue.cell.rstrip("0123456789")
        span = f"; cells {letters}{min(rows)}:{letters}{max(rows)}" if rows else ""
        n = sum(i.count for i in group)
        out.append(
            ImportIssue(
                issue.file,
                issue.sheet,
                None,
                issue.column,
                f"{n:,} cells {what}, e.g. {examples}{span}. {todo}",
                issue.severity,
                kind=issue.kind,
                cell=issue.cell,
                count=n,
            )
        )
    return out
