"""results: annual scores, the red / yellow / green board, consequences and the year-end report.

The rules are in bihuan/services/results.py; this flow runs them for the user `run_as` in
`jurisdiction`, then writes the comprehensive report (综合评估情况报告) to
``var/reports/<jurisdiction>-<year>-综合评估情况报告.html`` (and a PDF beside it when a Chinese
font is installed), with a table artifact of the board and a Markdown summary of the report.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bihuan.core.access import Permission
from bihuan.report import report_markdown, report_path, write_report
from bihuan.report_pdf import pdf_beside
from bihuan.services import identity
from bihuan.services import results as service
from bihuan.services.results import ResultsSummary
from bihuan.services.uow import UnitOfWork
from flows.common import artifact_key, artifact_rows, flow_app, resolve_as_of, run_actor


@task(name="store-results", cache_policy=NO_CACHE)
def store_results_task(jurisdiction: str, run_as: str, year: int, as_of: date) -> ResultsSummary:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        actor = identity.actor_for(uow, run_as)
        return service.compute_results(uow, jurisdiction, year, actor, as_of)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_task(jurisdiction: str, run_as: str, year: int, as_of: date) -> tuple[str, str]:
    """Write the report from the database; returns its path and its Markdown summary."""
    app = flow_app(jurisdiction)
    with UnitOfWork(app, readonly=True) as uow:
        actor = identity.actor_for(uow, run_as)
        data = service.report_data(uow, actor, jurisdiction, year, as_of)
    path = write_report(data, report_path(app.settings.var_dir, jurisdiction, year))
    pdf_beside(path)  # skipped, with an info log, on a machine without a Chinese font
    return str(path), report_markdown(data)


def _board_table(summary: ResultsSummary) -> list[dict[str, object]]:
    return [
        {
            "名次 rank": r.rank,
            "范围 scope": r.scope_label,
            "代码 code": r.code,
            "部门 name": r.name,
            "类别 category": r.category_label,
            "得分 score": round(r.score, 2),
            "榜单 colour": r.colour_label,
            "同分规则 tie rule": r.tie_rule_label,
            "结果运用 consequences": "、".join(
                c.kind_label for c in r.consequences if c.kind != "assessment_points"
            ),
        }
        for r in summary.board
    ]


@flow(name="results", flow_run_name="results-{jurisdiction}-{year}")
def results(jurisdiction: str, run_as: str, year: int, as_of: date | None = None) -> ResultsSummary:
    """Annual scores, the red / yellow / green board (红黄绿榜), consequences (结果运用) and the
    year-end comprehensive report (综合评估情况报告)."""
    run_actor(flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, f"publish the {year} results")
    day = resolve_as_of(as_of)
    summary = store_results_task(jurisdiction, run_as, year, day)
    path, markdown = write_report_task(jurisdiction, run_as, year, day)
    summary.report_path = path
    board, cut = artifact_rows(_board_table(summary))
    create_table_artifact(
        key=artifact_key("board", jurisdiction, year),
        table=board,
        description=f"{jurisdiction} {year}年度红黄绿榜 (board){cut}",
    )
    create_markdown_artifact(
        key=artifact_key("report", jurisdiction, year),
        markdown=markdown + f"\n\n报告文件 (report file): `{path}`\n",
        description=f"{jurisdiction} {year}年度综合评估情况报告 summary",
    )
    return summary
