"""Chinese labels everywhere a person reads (issue 10.6): on a small demo county run for two
years, no enum code of bihuan/vocab.py (``economic``, ``central_task``, ``medium``,
``staffing_priority``, ``mid-year`` …) appears as a word in the CLI listings' tables (--json
keeps the codes), the problem-list documents, the messages (problem lists, reminders, digests,
notices) or the Prefect artifacts' markdown and tables. The department workbook's errors are
checked in test_rectify_excel.py and the state machine's Chinese reasons in test_rectification.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.core.access import Actor
from bihuan.db import get_engine
from bihuan.services import assessment, identity, problems, results, tracking
from bihuan.services import recheck as recheck_service
from bihuan.services.problems import ApprovalResult, RaiseResult
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from tests.users import app_for
from tests.vocab_leaks import leaked_codes, table_body

REPO = Path(__file__).resolve().parents[2]
BIHUAN = str(Path(sys.executable).parent / "bihuan")
J = "juxian"
OFFICE = "wangzr"  # the demo's office account
YEARS = (2022, 2023)

_register_commands()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`bihuan demo` on four departments, 2022 and 2023: the whole loop, through the flows."""
    home = tmp_path_factory.mktemp("labels")
    db = home / "demo.db"
    env = {
        **os.environ,
        "BIHUAN_HOME": str(home),
        "BIHUAN_CONFIG_DIR": str(REPO / "config"),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [BIHUAN, "demo", "--db", str(db), "--departments", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return f"sqlite:///{db}"


def office(url: str) -> Actor:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        return identity.actor_for(uow, OFFICE)


def no_codes(texts: dict[str, str], **kw: Any) -> None:
    leaks = {where: found for where, t in texts.items() if (found := leaked_codes(t, **kw))}
    assert not leaks, leaks


LISTINGS = [
    ["departments"],
    *[["indicators", "--year", str(y)] for y in YEARS],
    *[["scores", "--year", str(y), "--phase", p.value] for y in YEARS for p in PhaseKind],
    ["scores", "--year", "2023", "--phase", "year-end", "--department", "D01"],
    *[["findings", "--year", str(y), "--limit", "1000"] for y in YEARS],
    *[["problems", "list", "--year", str(y)] for y in YEARS],
    *[["rectifications", "--year", str(y)] for y in YEARS],
    ["notifications", "--limit", "100000"],
    *[["board", "--year", str(y)] for y in YEARS],
]


def test_cli_listings_show_labels_not_codes(demo: str) -> None:
    runner = CliRunner()
    outputs = {}
    for args in LISTINGS:
        done = runner.invoke(app, [*args, "--db", demo, "--as", OFFICE], env={"COLUMNS": "400"})
        assert done.exit_code == 0, (args, done.output)
        outputs[" ".join(args)] = table_body(done.output)
    assert "绿牌" in outputs["board --year 2023"] and "经济部门" in outputs["departments"]
    no_codes(outputs)


def test_messages_and_problem_list_documents_show_labels_not_codes(demo: str) -> None:
    with get_engine(demo).connect() as conn:
        messages = {
            f"notification {nid} ({kind})": f"{subject}\n{body}"
            for nid, kind, subject, body in conn.execute(
                text("SELECT id, kind, subject, body FROM notification")
            )
        }
    kinds = {key.split("(", 1)[1] for key in messages}
    assert len(messages) > 100 and len(kinds) > 3, kinds  # problem lists, reminders, digests …
    no_codes(messages)

    actor = office(demo)
    documents = {}
    with UnitOfWork(app_for(demo), readonly=True) as uow:
        for year in YEARS:
            for listed in problems.list_problem_lists(uow, actor, J, year):
                doc = problems.problem_list_document(
                    uow, actor, J, year, listed.phase, listed.department
                )
                subject, html = problems.document_html(doc)
                documents[f"{year} {listed.phase} {listed.department}"] = f"{subject}\n{html}"
    assert len(documents) >= 8
    no_codes(documents, html=True)


def test_prefect_artifacts_show_labels_not_codes(demo: str) -> None:
    from bihuan.report import report_markdown
    from flows.assess import _markdown as assessment_markdown
    from flows.collect import _summary_markdown as collection_markdown
    from flows.recheck import _markdown as recheck_markdown
    from flows.track import notice_rows, summary_markdown

    actor = office(demo)
    app_ = app_for(demo)
    markdown: dict[str, str] = {}
    tables: dict[str, str] = {}
    phase = PhaseKind.YEAR_END
    with UnitOfWork(app_) as uow:
        collected = assessment.open_and_collect(uow, J, 2023, phase, actor, date(2024, 1, 2))
    markdown["collection"] = collection_markdown(collected)
    with UnitOfWork(app_) as uow:
        draw = assessment.make_or_load_draw(uow, J, 2023, phase, actor)
    with UnitOfWork(app_, readonly=True) as uow:
        plan = assessment.plan_assessment(uow, J, 2023, phase, actor, batch_size=50)
    batches = []
    for batch in plan.batches:
        with UnitOfWork(app_, readonly=True) as uow:
            scores = assessment.score_batch(uow, J, 2023, phase, batch.department_ids, actor)
        with UnitOfWork(app_) as uow:
            batches.append(
                assessment.store_scores(uow, J, 2023, phase, scores, actor, date(2024, 1, 2))
            )
    summary = assessment.summarise(
        J, 2023, phase, date(2024, 1, 2), draw=draw, chains=plan.chains, batches=batches
    )
    markdown["assessment"] = assessment_markdown(summary, draw, plan.chains)
    with UnitOfWork(app_) as uow:
        rechecked = recheck_service.recheck(uow, J, 2023, actor, date(2023, 7, 3))
    markdown["recheck"] = recheck_markdown(rechecked)
    tables["recheck"] = str(
        [(d.category_label, d.status_label, d.outcome_label, d.reason) for d in rechecked.decisions]
    )
    with UnitOfWork(app_) as uow:
        tracked = tracking.track(uow, actor, J, date(2024, 1, 10))
    assert tracked.rows  # open items get their reminders on the next working day
    markdown["track"] = summary_markdown(tracked, None)
    tables["track"] = str([list(row.values()) for row in notice_rows(tracked, app_.policy)])
    with UnitOfWork(app_, readonly=True) as uow:
        markdown["report"] = report_markdown(
            results.report_data(uow, actor, J, 2023, date(2024, 1, 10))
        )
        shown = problems.list_findings(uow, actor, J, 2023)
    raised = RaiseResult(
        jurisdiction=J,
        year=2023,
        phase=phase,
        phase_label=phase.label,
        as_of=date(2024, 1, 2),
        office="莒县县委编办",
        new_findings=len(shown),
        drafts=4,
        pending=len(shown) + 5,
        shown=shown,
    )
    markdown["approval request"] = problems.approval_request(raised)
    markdown["problem lists issued"] = problems.approval_report(
        ApprovalResult(
            jurisdiction=J,
            year=2023,
            phase=phase,
            phase_label=phase.label,
            as_of=date(2024, 1, 3),
            office="莒县县委编办",
            approved=True,
            approved_by=OFFICE,
            approver_name="王",
            pending=len(shown),
            approved_lists=4,
            items_created=len(shown),
            dropped=0,
            deadline_changes=0,
            by_department={"D01": 1},
        )
    )
    # the cells of the findings table artifact (flows/problems.py); its column names are keys
    tables["findings"] = str(
        [
            list(
                row.model_dump(
                    mode="json",
                    include={"department", "department_name", "category_label"}
                    | {"severity_label", "title", "supervising_section"},
                ).values()
            )
            for row in shown
        ]
    )
    no_codes(markdown, markdown=True)
    no_codes(tables)  # the cells: column names are the tables' keys
