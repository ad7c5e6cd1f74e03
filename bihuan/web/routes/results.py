"""Results (结果运用), read-only: the board (红黄绿榜), each department's score with its
breakdown ("why 71.4"), trends across years, and the year-end report.

Leaders (县委编委), the office, admins and auditors read all of it; a department user the board
and its own department's scores; a supervising section the board. The use cases decide.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from bihuan.core.access import Permission
from bihuan.core.breakdown import Breakdown
from bihuan.report import COLOUR_HEX, render_report
from bihuan.report_charts import trend_svg
from bihuan.services import assessment, results
from bihuan.vocab import Component, PhaseKind
from bihuan.web.deps import Ctx, PageActor, ReadUow, Today, csrf_session
from bihuan.web.security import document_response
from bihuan.web.templating import render

router = APIRouter(prefix="/results", include_in_schema=False, dependencies=[Depends(csrf_session)])

OptionalYear = Annotated[int | None, Query(ge=1900, le=2999)]


def _latest(request: Request, uow: ReadUow, actor: PageActor, ctx: Ctx, path: str) -> Response:
    """A page asked for without a year: the latest year with a board, or a page saying none."""
    years = results.board_years(uow, actor, ctx.jurisdiction)
    if not years:
        return render(request, "results_none.html")
    return RedirectResponse(f"{path}?year={years[-1]}", status_code=303)


@router.get("/board")
def board(
    request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, year: OptionalYear = None
) -> Response:
    if year is None:
        return _latest(request, uow, actor, ctx, "/results/board")
    rows = results.board(uow, actor, ctx.jurisdiction, year)
    return render(
        request,
        "results_board.html",
        year=year,
        rows=rows,
        reads_results=actor.can(Permission.READ_RESULTS),
        pdf=has_cjk_font(),
    )


@router.get("/trends")
def trends(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    department: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    found = results.trends(uow, actor, ctx.jurisdiction, department or None)
    charts = {
        d.code: trend_svg(
            [
                (p.year, p.score, COLOUR_HEX.get(p.colour.value, "#666"), f"第{p.rank}名")
                for p in d.points
            ],
            title=f"{d.name}历年年度得分",
        )
        for d in found.departments
    }
    return render(request, "results_trends.html", trends=found, charts=charts)


@router.get("/report")
def report(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    today: Today,
    year: OptionalYear = None,
) -> Response:
    """The year-end comprehensive report (综合评估情况报告) as the self-contained HTML document."""
    if year is None:
        return _latest(request, uow, actor, ctx, "/results/report")
    data = results.report_data(uow, actor, ctx.jurisdiction, year, today)
    return document_response(render_report(data))


@router.get("/report.pdf")
def report_pdf(
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    today: Today,
    year: Annotated[int, Query(ge=1900, le=2999)],
) -> Response:
    """The report as PDF (needs a CJK font on the server: without one, a page that says so)."""
    from bihuan.report_pdf import html_to_pdf, require_cjk_font

    require_cjk_font(Path(f"report-{year}.pdf"), has_cjk_font=has_cjk_font)
    data = results.report_data(uow, actor, ctx.jurisdiction, year, today)
    with tempfile.TemporaryDirectory(prefix="bihuan-report-") as tmp:
        out = html_to_pdf(render_report(data), Path(tmp) / "report.pdf", has_cjk_font=lambda: True)
        body = out.read_bytes()
    name = f"{ctx.jurisdiction}-{year}-report.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@lru_cache(maxsize=1)
def has_cjk_font() -> bool:
    """Whether the server can render the PDF report (fontconfig asked once per process)."""
    from bihuan.report_pdf import has_cjk_font as probe

    return probe()


# ------------------------------------------------------------------ scores ("why 71.4")

Year = Annotated[int, Query(ge=1900, le=2999)]


@router.get("/scores")
def scores(
    request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, year: Year, phase: PhaseKind
) -> Response:
    """The phase's scores, best first (a department user: its own)."""
    rows = assessment.list_scores(uow, actor, ctx.jurisdiction, year, phase)
    return render(
        request, "results_scores.html", year=year, phase=phase, phases=list(PhaseKind), rows=rows
    )


@router.get("/scores/{code}")
def score(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    code: str,
    year: Year,
    phase: PhaseKind,
) -> Response:
    """Why a department got its score: the component table, the explanation laid out, and the
    indicators (another department's is 404 for a department user, like a guessed code)."""
    found = assessment.score_explanation(uow, actor, ctx.jurisdiction, year, phase, code)
    return render(
        request,
        "results_score.html",
        year=year,
        phase=phase,
        other=next(p for p in PhaseKind if p != phase),
        found=found,
        components=_components(found.breakdown),
        lines=_lines(found.text),
    )


@dataclass(frozen=True)
class ComponentRow:
    label: str
    score: float | None
    weight: float
    points: float | None  # score × effective weight: what it adds to the total


def _components(b: Breakdown) -> list[ComponentRow]:
    rows = []
    for comp in Component:
        c = b.component(comp)
        rows.append(
            ComponentRow(
                label=comp.label,
                score=c.score,
                weight=c.effective_weight,
                points=None if c.score is None else c.score * c.effective_weight,
            )
        )
    return rows


@dataclass(frozen=True)
class Line:
    level: int  # 0: a part's heading, 1: an item of it, 2: a detail of the item
    text: str


def _lines(text: str) -> list[Line]:
    """The explanation's lines by their indentation (explain() indents by two spaces)."""
    out = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        out.append(Line(level=min(indent // 2, 2), text=raw.strip()))
    return out
