"""Where the formula cells of an .xls are: calamine gives only their cached values.

An .xls (Excel 97–2003, as WPS still writes it) is a BIFF8 record stream, "Workbook", inside an
OLE2 compound file. This reads just enough of both to list the cells stored as FORMULA records,
sheet by sheet: the compound file's allocation table to follow the stream's sectors, the
workbook's BOUNDSHEET records to find each sheet, and each sheet's FORMULA records (row and
column only). Everything is bounds-checked and every loop is bounded by the file's size, so a
malformed file raises NotBiff8 instead of hanging or reading past the end.
"""

from __future__ import annotations

import struct

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE
_MAX_REGULAR_SECTOR = 0xFFFFFFFA
_BOF, _EOF, _BOUNDSHEET, _FORMULA = 0x0809, 0x000A, 0x0085, 0x0006
_BIFF8 = 0x0600


class NotBiff8(ValueError):
    """Not an OLE2 file with a BIFF8 workbook stream that this reader understands."""


def _u16(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise NotBiff8("truncated")
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise NotBiff8("truncated")
    return int.from_bytes(data[at : at + 4], "little")


class _Compound:
    """The parts of an OLE2 compound file needed to read one stream."""

    def __init__(self, data: bytes):
        if data[:8] != MAGIC or len(data) < 512:
            raise NotBiff8("not an OLE2 compound file")
        self.data = data
        shift = _u16(data, 0x1E)
        if shift not in (9, 12):
            raise NotBiff8(f"sector size 2**{shift}")
        self.size = 1 << shift
        if _u16(data, 0x20) != 6:
            raise NotBiff8("mini sector size is not 64")
        self.mini_size = 64
        self.mini_cutoff = _u32(data, 0x38)
        n_fat = _u32(data, 0x2C)
        difat = [_u32(data, 0x4C + 4 * i) for i in range(109)]
        # further DIFAT sectors: each holds size/4 - 1 entries and the next sector's number
        sector, visited = _u32(data, 0x44), set[int]()
        per = self.size // 4 - 1
        while sector <= _MAX_REGULAR_SECTOR and len(visited) < _u32(data, 0x48):
            if sector in visited:
                raise NotBiff8("a cycle in the DIFAT chain")
            visited.add(sector)
            block = self.sector(sector)
            difat += [_u32(block, 4 * i) for i in range(per)]
            sector = _u32(block, 4 * per)
        fat_sectors = [s for s in difat if s <= _MAX_REGULAR_SECTOR][:n_fat]
        fat = b"".join(self.sector(s) for s in fat_sectors)
        self.fat = struct.unpack(f"<{len(fat) // 4}I", fat)
        directory = self.chain(_u32(data, 0x30), self.fat, self.sector)
        self.entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
        if not self.entries:
            raise NotBiff8("no directory")
        root = self.entries[0]
        self.ministream = self.chain(_u32(root, 116), self.fat, self.sector)
        minifat = self.chain(_u32(data, 0x3C), self.fat, self.sector)
        self.minifat = struct.unpack(f"<{len(minifat) // 4}I", minifat[: len(minifat) // 4 * 4])

    def sector(self, number: int) -> bytes:
        start = (number + 1) * self.size
        if number > _MAX_REGULAR_SECTOR or start >= len(self.data):
            raise NotBiff8(f"sector {number} is outside the file")
        return self.data[start : start + self.size]

    def mini_sector(self, number: int) -> bytes:
        start = number * self.mini_size
        if start + self.mini_size > len(self.ministream):
            raise NotBiff8(f"mini sector {number} is outside the mini stream")
        return self.ministream[start : start + self.mini_size]

    @staticmethod
    def chain(start: int, table: tuple[int, ...], read: object) -> bytes:
        # A valid chain visits each sector once, so it is never longer than the file: a cycle
        # (a crafted file) would otherwise repeat sectors without end.
        parts: list[bytes] = []
        sector, visited = start, set[int]()
        while sector != _END_OF_CHAIN:
            if sector >= len(table) or sector in visited:
                raise NotBiff8("broken sector chain")
            visited.add(sector)
            parts.append(read(sector))  # type: ignore[operator]
            sector = table[sector]
        return b"".join(parts)

    def stream(self, name: str) -> bytes:
        for entry in self.entries:
            length = min(_u16(entry, 64), 64)
            if (
                entry[66] == 2
                and entry[: max(length - 2, 0)].decode("utf-16-le", "replace") == name
            ):
                size, start = _u32(entry, 120), _u32(entry, 116)
                if size < self.mini_cutoff:
                    data = self.chain(start, self.minifat, self.mini_sector)
                else:
                    data = self.chain(start, self.fat, self.sector)
                return data[:size]
        raise NotBiff8(f"no {name} stream")


def _records(stream: bytes, at: int) -> list[tuple[int, int, int]]:
    """(type, offset of the data, length) from `at` up to and including the next EOF."""
    out = []
    while at + 4 <= len(stream):
        kind, length = _u16(stream, at), _u16(stream, at + 2)
        if at + 4 + length > len(stream):
            raise NotBiff8("a record runs past the end of the stream")
        out.append((kind, at + 4, length))
        at += 4 + length
        if kind == _EOF:
            break
    return out


def formula_cells(data: bytes) -> dict[str, set[tuple[int, int]]]:
    """Sheet name -> (row, column) of its formula cells, 0-based, for a BIFF8 .xls file."""
    stream = _Compound(data).stream("Workbook")
    globals_ = _records(stream, 0)
    if not globals_ or globals_[0][0] != _BOF or _u16(stream, globals_[0][1]) != _BIFF8:
        raise NotBiff8("not a BIFF8 (Excel 97–2003) workbook")
    sheets: list[tuple[str, int]] = []
    for kind, at, length in globals_:
        if kind != _BOUNDSHEET or length < 8:
            continue
        offset, chars, wide = _u32(stream, at), stream[at + 6], stream[at + 7] & 1
        raw = stream[at + 8 : at + 8 + chars * (2 if wide else 1)]
        sheets.append((raw.decode("utf-16-le" if wide else "latin-1", "replace"), offset))
    found: dict[str, set[tuple[int, int]]] = {}
    for name, offset in sheets:
        cells = found.setdefault(name, set())
        for kind, at, length in _records(stream, offset):
            if kind == _FORMULA and length >= 4:
                cells.add((_u16(stream, at), _u16(stream, at + 2)))
    return found
