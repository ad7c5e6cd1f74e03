"""Evidence files judged by content: what is accepted, what is refused whatever its name says."""

from __future__ import annotations

import io
import zipfile

import pytest

from bihuan.core.evidence import (
    MB,
    EvidenceRefused,
    Kind,
    UploadLimits,
    check_count,
    check_upload,
    identify,
    media_type,
)

LIMITS = UploadLimits.from_settings(max_mb=1, max_files=3)

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
TEXT = "整改报告：已完成。".encode()

MAIN = {
    "docx": ("word/document.xml", "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml"),
}


def ooxml(kind: str, *, macro: bool = False, vba: bool = False) -> bytes:
    part, ctype = MAIN[kind]
    if macro:
        ctype = "ms-word.document.macroEnabled.main+xml"
    types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/{part}" ContentType="application/vnd.'
        f'openxmlformats-officedocument.{ctype}"/></Types>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr(part, "<x/>")
        if vba:
            zf.writestr("word/vbaProject.bin", b"\x00")
    return buf.getvalue()


def odf(mimetype: str, *, stored: bool = True, first: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if not first:
            zf.writestr("content.xml", "<x/>")
        zf.writestr(
            zipfile.ZipInfo("mimetype"),
            mimetype,
            compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
        )
        zf.writestr("content.xml" if first else "styles.xml", "<x/>")
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("evil.exe", EXE)
    return buf.getvalue()


def check(name: str, body: bytes, limits: UploadLimits = LIMITS) -> Kind:
    return check_upload(name, len(body), io.BytesIO(body), limits)


@pytest.mark.parametrize(
    ("name", "body", "kind"),
    [
        ("整改报告.pdf", PDF, Kind.PDF),
        ("现场照片.JPG", JPEG, Kind.JPEG),
        ("现场照片.jpeg", JPEG, Kind.JPEG),
        ("截图.png", PNG, Kind.PNG),
        ("制度.docx", ooxml("docx"), Kind.DOCX),
        ("台账.xlsx", ooxml("xlsx"), Kind.XLSX),
        ("汇报.pptx", ooxml("pptx"), Kind.PPTX),
        ("制度.odt", odf("application/vnd.oasis.opendocument.text"), Kind.ODT),
        ("台账.ods", odf("application/vnd.oasis.opendocument.spreadsheet"), Kind.ODS),
        ("汇报.odp", odf("application/vnd.oasis.opendocument.presentation"), Kind.ODP),
        ("旧制度.doc", OLE2, Kind.OLE2),
        ("旧台账.xls", OLE2, Kind.OLE2),
    ],
)
def test_accepted_kinds(name: str, body: bytes, kind: Kind) -> None:
    assert check(name, body) is kind


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("报告.pdf", HTML),  # an HTML page named .pdf
        ("照片.png", EXE),  # an .exe named .png
        ("照片.jpg", ELF),
        ("图.png", SVG),
        ("说明.pdf", TEXT),
        ("制度.docx", plain_zip()),  # a zip without content types
        ("制度.docx", ooxml("docx", macro=True)),  # macro-enabled
        ("制度.docx", ooxml("docx", vba=True)),
        ("制度.odt", odf("application/vnd.oasis.opendocument.text", stored=False)),
        ("制度.odt", odf("application/vnd.oasis.opendocument.text", first=False)),
        ("制度.odt", odf("text/html")),
        ("坏.docx", b"PK\x03\x04 not really a zip"),
        ("page.html", HTML),
        ("run.exe", EXE),
        ("note.txt", TEXT),
    ],
)
def test_refused_whatever_the_name_says(name: str, body: bytes) -> None:
    with pytest.raises(EvidenceRefused, match="不是允许的佐证材料类型"):
        check(name, body)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("报告.png", PDF),
        ("照片.pdf", JPEG),
        ("制度.xlsx", ooxml("docx")),
        ("报告", PDF),
        ("旧.ppt", OLE2),
    ],
)
def test_a_name_that_lies_about_an_accepted_content_is_refused(name: str, body: bytes) -> None:
    with pytest.raises(EvidenceRefused, match="扩展名不符"):
        check(name, body)


def test_size_and_count_caps() -> None:
    with pytest.raises(EvidenceRefused, match="超过单个文件 1 MB 的上限"):
        check_upload("大.pdf", MB + 1, io.BytesIO(PDF), LIMITS)
    with pytest.raises(EvidenceRefused, match="是空的"):
        check("空.pdf", b"")
    check_count(3, LIMITS)
    with pytest.raises(EvidenceRefused, match="最多上传 3 个"):
        check_count(4, LIMITS)


def test_identify_leaves_the_stream_at_its_start() -> None:
    fh = io.BytesIO(ooxml("xlsx"))
    fh.seek(7)
    assert identify(fh) is Kind.XLSX
    assert fh.tell() == 0


def test_media_types_of_downloads() -> None:
    assert media_type(Kind.PDF, "a.pdf") == "application/pdf"
    assert media_type(Kind.OLE2, "a.xls") == "application/vnd.ms-excel"
    assert media_type(Kind.OLE2, "a.doc") == "application/msword"
    assert media_type(None, "old-evidence.txt") == "application/octet-stream"
