"""results: annual scores, the red / yellow / green board, consequences and the year-end report.

The rules are in bihuan/services/results.py; this flow runs them for the user `run_as` in
`jurisdiction`, then writes the comprehensive report (综合评估情况报告) per database and run to
``var/reports/<database>/<jurisdiction>-<year>-<UTC stamp>[-暂定].html`` (and a PDF beside it
when a Chinese font is installed) with a copy as ``<jurisdiction>-<year>-latest.html``, so no run
overwrites another's report; plus a table artifact of the board and a Markdown summary.
"""

from __future__ import annotations

import shutil
from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bihuan.clock import utc_now
from bihuan.core.access import Permission
from bihuan.report import report_markdown, report_paths, write_report
from bihuan.report_pdf import pdf_beside
from bihuan.services import identity
from bihuan.services import results as service
from bihuan.services.results import ResultsSummary
from bihuan.services.uow import UnitOfWork
from flows.common import artifact_key, artifact_rows, flow_app, resolve_as_of, run_actor


@task(name="store-results", cache_policy=NO_CACHE)
def store_results_task(
    jurisdiction: str, run_as: str, year: int, as_of: date, provisional: bool = False
) -> ResultsSummary:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        actor = identity.actor_for(uow, run_as)
        return service.compute_results(
            uow, jurisdiction, year, actor, as_of, provisional=provisional
        )


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_task(
    jurisdiction: str, run_as: str, year: int, as_of: date
) -> tuple[str, str, str]:
    """Write this run's report from the database and refresh the latest copy; returns the
    run's path, the latest copy's path and the Markdown summary."""
    app = flow_app(jurisdiction)
    with UnitOfWork(app, readonly=True) as uow:
        actor = identity.actor_for(uow, run_as)
        data = service.report_data(uow, actor, jurisdiction, year, as_of)
    target, latest = report_paths(
        app.settings.var_dir,
        app.db_url,
        jurisdiction,
        year,
        utc_now(),  # the run's stamp in the file name, not a business date
        provisional=data.provisional,
    )
    path = write_report(data, target)
    shutil.copyfile(path, latest)
    pdf = pdf_beside(path)  # skipped, with an info log, on a machine without a Chinese font
    if pdf is not None:
        shutil.copyfile(pdf, latest.with_suffix(".pdf"))
    return str(path), str(latest), report_markdown(data)


def _board_table(summary: ResultsSummary) -> list[dict[str, object]]:
    return [
        {
            "名次 rank": r.rank,
            "范围 scope": r.scope_label,
            "代码 code": r.code,
            "部门 name": r.name,
            "类别 category": r.category_label,
            "得分 score": round(r.score, 2),
            "榜单 colour": r.colour_label + (f"（{r.provisional_label}）" if r.provisional else ""),
            "同分规则 tie rule": r.tie_rule_label,
            "结果运用 consequences": "、".join(
                c.kind_label for c in r.consequences if c.kind != "assessment_points"
            ),
        }
        for r in summary.board
    ]


@flow(name="results", flow_run_name="results-{jurisdiction}-{year}")
def results(
    jurisdiction: str,
    run_as: str,
    year: int,
    as_of: date | None = None,
    provisional: bool = False,
) -> ResultsSummary:
    """Annual scores, the red / yellow / green board (红黄绿榜), consequences (结果运用) and the
    year-end comprehensive report (综合评估情况报告). Refused before the year-end assessment
    unless `provisional` (a board marked 暂定, nothing notified)."""
    run_actor(flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, f"publish the {year} results")
    day = resolve_as_of(as_of)
    summary = store_results_task(jurisdiction, run_as, year, day, provisional)
    path, latest, markdown = write_report_task(jurisdiction, run_as, year, day)
    summary.report_path, summary.report_latest = path, latest
    board, cut = artifact_rows(_board_table(summary))
    create_table_artifact(
        key=artifact_key("board", jurisdiction, year),
        table=board,
        description=f"{jurisdiction} {year}年度红黄绿榜{summary.provisional_label} (board){cut}",
    )
    create_markdown_artifact(
        key=artifact_key("report", jurisdiction, year),
        markdown=markdown + f"\n\n报告文件 (report file): `{path}`\n",
        description=f"{jurisdiction} {year}年度综合评估情况报告 summary",
    )
    return summary
