"""The issued problem lists (问题清单): the index by year, one list with its items, and the list
as the department received it, to download as HTML or PDF.

A department user sees its own issued lists (another department's is 404); the downloads are
attachments. The PDF is the same HTML through WeasyPrint, which needs a Chinese (CJK) font on
the server: without one the list's page says so and the PDF address explains it instead of
serving boxes for characters.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from bihuan.services import problems
from bihuan.web.deps import Ctx, PageActor, ReadUow, csrf_session
from bihuan.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_session)])

Year = Annotated[int, Query(ge=1900, le=2999)]


@cache
def pdf_available() -> bool:
    """Whether the server can write Chinese PDFs (asked once per process: fc-list is slow)."""
    from bihuan.report_pdf import has_cjk_font

    return has_cjk_font()


def _attachment(body: bytes | str, media_type: str, filename: str) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/problem-lists")
def index(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    year: Annotated[int | None, Query(ge=1900, le=2999)] = None,
) -> Response:
    data = problems.problem_list_index(uow, actor, ctx.jurisdiction, year)
    return render(request, "issued_lists.html", data=data)


@router.get("/problem-lists/{year}/{phase}/{code}")
def one(
    request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, year: int, phase: str, code: str
) -> Response:
    doc = problems.problem_list_document(uow, actor, ctx.jurisdiction, year, phase, code)
    return render(request, "issued_list.html", doc=doc, pdf=pdf_available())


def _filename(doc: problems.ProblemListDocument, ext: str) -> str:
    return f"{doc.department_name}{doc.year}年度{doc.phase_label}问题清单.{ext}"


@router.get("/problem-lists/{year}/{phase}/{code}/html")
def download_html(
    actor: PageActor, uow: ReadUow, ctx: Ctx, year: int, phase: str, code: str
) -> Response:
    doc = problems.problem_list_document(uow, actor, ctx.jurisdiction, year, phase, code)
    _subject, html = problems.document_html(doc)
    return _attachment(html, "text/html; charset=utf-8", _filename(doc, "html"))


@router.get("/problem-lists/{year}/{phase}/{code}/pdf")
def download_pdf(
    request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, year: int, phase: str, code: str
) -> Response:
    doc = problems.problem_list_document(uow, actor, ctx.jurisdiction, year, phase, code)
    if not pdf_available():
        return render(
            request,
            "error.html",
            title="暂不能生成 PDF",
            detail="服务器未安装中文字体（如 fonts-wqy-microhei），生成的 PDF 会缺字；"
            "请下载 HTML 版本，在浏览器中打开后打印或另存为 PDF。",
        )
    from bihuan.report_pdf import html_to_pdf_bytes

    _subject, html = problems.document_html(doc)
    pdf = html_to_pdf_bytes(html, _filename(doc, "pdf"), has_cjk_font=lambda: True)
    return _attachment(pdf, "application/pdf", _filename(doc, "pdf"))
