"""What an uploaded evidence file (佐证材料) is, judged by its content, never by its name alone.

Accepted: PDF, JPEG, PNG, Office Open XML (docx, xlsx, pptx — not their macro-enabled kinds),
OpenDocument (odt, ods, odp) and the legacy OLE2 files of Word and Excel (doc, xls). Everything
else is refused, whatever its name says: executables, HTML, SVG, scripts, archives, plain text.
So is a file whose name claims another type than its content (an HTML page named .pdf, an .exe
named .png, or a PDF named .png): the name decides which program opens the download, so it must
tell the truth.

Pure: the checks read the file object they are given (a seekable binary stream) and nothing
else; sizes and counts are limits passed in (settings BIHUAN_UPLOAD_MAX_MB and
BIHUAN_UPLOAD_MAX_FILES).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from bihuan.errors import UserError

MB = 1024 * 1024
HEAD = 16  # bytes read for the magic numbers
# [Content_Types].xml of a real document is a few kB; more is not a document we accept
CONTENT_TYPES_MAX = 256 * 1024


class Kind(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    ODT = "odt"
    ODS = "ods"
    ODP = "odp"
    OLE2 = "ole2"  # Word 97–2003 (.doc) or Excel 97–2003 (.xls)


@dataclass(frozen=True)
class KindInfo:
    label: str
    extensions: tuple[str, ...]  # lower case, with the dot; the first is the usual one
    media_types: tuple[str, ...]  # one per extension, or one for all


KINDS: dict[Kind, KindInfo] = {
    Kind.PDF: KindInfo("PDF 文档", (".pdf",), ("application/pdf",)),
    Kind.JPEG: KindInfo("JPEG 图片", (".jpg", ".jpeg"), ("image/jpeg",)),
    Kind.PNG: KindInfo("PNG 图片", (".png",), ("image/png",)),
    Kind.DOCX: KindInfo(
        "Word 文档",
        (".docx",),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ),
    Kind.XLSX: KindInfo(
        "Excel 工作簿",
        (".xlsx",),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    ),
    Kind.PPTX: KindInfo(
        "PowerPoint 演示文稿",
        (".pptx",),
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    ),
    Kind.ODT: KindInfo("ODF 文本文档", (".odt",), ("application/vnd.oasis.opendocument.text",)),
    Kind.ODS: KindInfo(
        "ODF 电子表格", (".ods",), ("application/vnd.oasis.opendocument.spreadsheet",)
    ),
    Kind.ODP: KindInfo(
        "ODF 演示文稿", (".odp",), ("application/vnd.oasis.opendocument.presentation",)
    ),
    Kind.OLE2: KindInfo(
        "Word/Excel 97–2003 文件",
        (".doc", ".xls"),
        ("application/msword", "application/vnd.ms-excel"),
    ),
}

ACCEPTED = "、".join(e for info in KINDS.values() for e in info.extensions)

# The main part's content type in [Content_Types].xml of each Office Open XML kind.
_OOXML_MAIN = {
    Kind.DOCX: b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    Kind.XLSX: b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    Kind.PPTX: b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": Kind.ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": Kind.ODS,
    b"application/vnd.oasis.opendocument.presentation": Kind.ODP,
}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PNG = b"\x89PNG\r\n\x1a\n"


class EvidenceRefused(UserError):
    """An upload that is not accepted (too big, too many, or not an accepted type)."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int  # per file
    max_files: int  # per submission

    @classmethod
    def from_settings(cls, max_mb: int, max_files: int) -> UploadLimits:
        return cls(max_bytes=max_mb * MB, max_files=max_files)

    @property
    def max_mb(self) -> float:
        return self.max_bytes / MB


def identify(fh: BinaryIO) -> Kind | None:
    """The accepted kind this content is, or None. Reads from the start; leaves the stream at
    the start again."""
    fh.seek(0)
    head = fh.read(HEAD)
    fh.seek(0)
    try:
        if head.startswith(b"%PDF-"):
            return Kind.PDF
        if head.startswith(b"\xff\xd8\xff"):
            return Kind.JPEG
        if head.startswith(_PNG):
            return Kind.PNG
        if head.startswith(_OLE2):
            return Kind.OLE2
        if head.startswith(b"PK\x03\x04"):
            return _zip_kind(fh)
        return None
    finally:
        fh.seek(0)


def _zip_kind(fh: BinaryIO) -> Kind | None:
    try:
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            if not infos:
                return None
            first = infos[0]
            # ODF: the first entry is `mimetype`, stored uncompressed, naming the document type
            if first.filename == "mimetype":
                if first.compress_type != zipfile.ZIP_STORED or first.file_size > 100:
                    return None
                with zf.open(first) as member:
                    return _ODF_MIMETYPES.get(member.read(101).strip())
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names:
                return None
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                return None  # macros: refused whatever the content types say
            with zf.open("[Content_Types].xml") as member:
                types = member.read(CONTENT_TYPES_MAX + 1)
            if len(types) > CONTENT_TYPES_MAX or b"macroEnabled" in types:
                return None
            found = [kind for kind, main in _OOXML_MAIN.items() if main in types]
            return found[0] if len(found) == 1 else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError):
        return None


def extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def media_type(kind: Kind | None, name: str) -> str:
    """The Content-Type a download of this kind is served with (octet-stream when unknown)."""
    if kind is None:
        return "application/octet-stream"
    info = KINDS[kind]
    ext = extension(name)
    if len(info.media_types) > 1 and ext in info.extensions:
        return info.media_types[info.extensions.index(ext)]
    return info.media_types[0]


def check_count(count: int, limits: UploadLimits) -> None:
    if count > limits.max_files:
        raise EvidenceRefused(
            f"一次最多上传 {limits.max_files} 个佐证文件，本次选择了 {count} 个；请分次上传或合并文件。"
        )


def check_upload(name: str, size: int, fh: BinaryIO, limits: UploadLimits) -> Kind:
    """The kind of one uploaded file, or EvidenceRefused saying what is wrong with it."""
    shown = name or "（未命名文件）"
    if size <= 0:
        raise EvidenceRefused(f"文件“{shown}”是空的，请重新选择。")
    if size > limits.max_bytes:
        raise EvidenceRefused(
            f"文件“{shown}”大小 {size / MB:.1f} MB，超过单个文件 {limits.max_mb:g} MB 的上限；"
            "请压缩后上传，或分成几个文件。"
        )
    kind = identify(fh)
    if kind is None:
        raise EvidenceRefused(
            f"文件“{shown}”的内容不是允许的佐证材料类型（按文件内容判断，不看扩展名）。"
            f"允许：{ACCEPTED}。"
        )
    info = KINDS[kind]
    if extension(name) not in info.extensions:
        raise EvidenceRefused(
            f"文件“{shown}”的内容是{info.label}，但扩展名不符；请将扩展名改为 "
            f"{' 或 '.join(info.extensions)} 后再上传。"
        )
    return kind


__all__ = [
    "ACCEPTED",
    "KINDS",
    "MB",
    "EvidenceRefused",
    "Kind",
    "KindInfo",
    "UploadLimits",
    "check_count",
    "check_upload",
    "extension",
    "identify",
    "media_type",
]
