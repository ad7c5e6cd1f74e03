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
    """A file that cannot be read at all (not a workbook, too large, a zip bomb)."""

    def __init__(self, issue: ImportIssue):
        super().__init__(str(issue))
        self.issue = issue
