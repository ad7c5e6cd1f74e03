"""What one cell means, read or written: codes, dates, formulas, and text that stays text.

Shared by the ledger importer, the rectification workbook and every workbook writer, so that a
cell is read the same way wherever a county office sends it from, and written so that Excel or
WPS can never turn a piece of user text into a formula.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from openpyxl.cell.cell import ERROR_CODES, Cell, WriteOnlyCell

# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Formula:
    """A cell the reader knows to be a formula (never evaluated; the text is for messages)."""

    text: str

    def __str__(self) -> str:
        return self.text


# Characters that are invisible or look like a plain space but are not one: copied from web
# pages, WeChat and WPS they end up inside codes, and "D06" + U+200B is a different code.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00a0\u202f\u2007"), None)
# Dashes that people (and input methods) type for "-": NFKC leaves these alone.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\ufe63"), "-")
_SPACE = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    """The code as meant: NFKC (full-width Ｄ０１ → D01), invisible characters removed, trimmed."""
    if text.isascii():  # the common case; NFKC and the invisible characters are not ASCII
        return text.strip()
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip()


def lookalike_key(code: str) -> str:
    """What two codes share when a reader would take one for the other: case, spaces and dash
    variants ignored. Two different codes with one key are a typing slip, not two departments."""
    return _SPACE.sub("", normalise_code(code).translate(_DASHES)).casefold()


# Excel's 1900 date system: serial 1 is 1900-01-01 and serial 60 the 1900-02-29 that never
# was (Lotus 1-2-3's leap-year bug, kept by Excel), so from 61 on the epoch is 1899-12-30.
_EPOCH = date(1899, 12, 30)
_EPOCH_BEFORE_BUG = date(1899, 12, 31)
MAX_SERIAL = 2_958_465  # 9999-12-31
# Serials read as dates in a date column: 1950-01-01 .. 2099-12-31. A number outside (2022, a
# year; 7, a count) is a mistake to report, not a date in 1905 or 1900 to import silently.
PLAUSIBLE_SERIALS = (18_264, 73_050)
_SERIAL_TEXT = re.compile(r"^\d{5}(\.\d+)?$")


def excel_serial_date(serial: float) -> date | None:
    """The date of an Excel serial number (a date cell formatted as General), or None."""
    if isinstance(serial, bool) or not 1 <= serial < MAX_SERIAL + 1:
        return None
    days = int(serial)
    if days == 60:
        return None
    return (_EPOCH if days > 60 else _EPOCH_BEFORE_BUG) + timedelta(days=days)


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    # a datetime written as text, as Excel and WPS show one: 2022-06-24 00:00:00
    r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?$"
)


def read_date(value: Any) -> date | None:
    """A date from a date cell, a serial number, or text such as 2022-06-15; None if it is not."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _plausible_serial(value)
    if isinstance(value, str):
        text = value.strip()
        m = _DATE.match(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
        if _SERIAL_TEXT.match(text):  # a CSV saved from a General-formatted date column
            return _plausible_serial(float(text))
    return None


def _plausible_serial(serial: float) -> date | None:
    low, high = PLAUSIBLE_SERIALS
    return excel_serial_date(serial) if low <= serial < high + 1 else None


# ------------------------------------------------------------------ writing

# A text beginning with one of these is a formula (or a DDE payload) to Excel, WPS or a CSV
# reader once the cell is edited or the text is pasted; written as a text cell with Excel's
# quote prefix (the ' shown in the formula bar) it stays text even when edited.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(ws: Any, value: str) -> Cell:
    """A cell holding `value` as text, whatever it starts with (openpyxl would store a str that
    begins with "=" as a formula and "#N/A" as an error value)."""
    cell = WriteOnlyCell(ws, value)
    cell.data_type = "s"
    if value.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell


def _needs_text_cell(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(FORMULA_TRIGGERS) or value in ERROR_CODES)


def safe_row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """Values for `ws.append` (normal or write-only) in which every str is written as text.

    openpyxl already stores other strings as text; only the ones it would reinterpret become
    explicit text cells, so a 30,000-row demo workbook costs no more to write.
    """
    return [text_cell(ws, v) if _needs_text_cell(v) else v for v in values]


def set_value(cell: Cell, value: Any) -> None:
    """Assign a value to a cell of a normal worksheet; a str is always stored as text."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True
