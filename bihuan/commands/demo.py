"""`bihuan demo`: build the demo county (莒县) from scratch, through the importer users use.

The demo is a list of steps over one `DemoRun`: SETUP_STEPS once, YEAR_STEPS for each year asked
for, FINISH_STEPS at the end. Later stages (assessment, the closed loop, re-check, results) add
their own step functions to these lists.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from bihuan.cli import console, ctx_for
from bihuan.demo.generator import DemoSummary, build_demo_workbook
from bihuan.demo.names import JURISDICTION, JURISDICTION_NAME
from bihuan.ingest.schema import SHEETS_BY_KEY
from models.enums import PhaseKind

if TYPE_CHECKING:
    from bihuan.app import AppContext
    from bihuan.core.workdays import WorkCalendar
    from bihuan.demo.loop import Scripted
    from bihuan.ingest.load import ImportReport

DEMO_ACTOR = "demo"
DEMO_APPROVER = "编办王主任"
# The demo's users (demo only): the office coordinator who runs and approves everything.
DEMO_ADMIN = "demo-admin"
DEMO_OFFICE = "wangzr"
DEMO_LEADER = "leader"
DEMO_AUDITOR = "auditor"
DEPARTMENT_LOGIN = "{code}lx"  # D01lx, …
DEPARTMENT_LOGIN_PATTERN = r"D\d+lx"
DEMO_LOGINS = (DEMO_ACTOR, DEMO_ADMIN, DEMO_OFFICE, DEMO_LEADER, DEMO_AUDITOR)
# The tracker runs daily for this many working days after a problem list is issued (through the
# longest deadline and the whole escalation ladder), then weekly: two simulated years in two
# minutes. Production runs it every working day (the `track` deployment).
DAILY_WORKDAYS = 42


@dataclass
class DemoRun:
    """What the steps share: where things go, and what earlier steps produced."""

    ctx: AppContext
    db_url: str
    db_file: Path | None  # the SQLite file, None for a server database
    out_dir: Path
    years: list[int]
    seed: int
    departments: int
    console: Console
    year: int = 0  # the year the YEAR_STEPS are working on
    summaries: dict[int, DemoSummary] = field(default_factory=dict)
    reports: dict[int, ImportReport] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # for steps added by later stages

    def workbook(self, year: int) -> Path:
        return self.out_dir / f"{JURISDICTION}-{year}.xlsx"


Step = Callable[[DemoRun], None]


def recreate_database(run: DemoRun) -> None:
    """Start from an empty database — only when it is new, empty, or holds the demo county
    alone (bihuan/demo/safety.py); anything else is refused, naming what it holds."""
    import re

    from bihuan import migrate
    from bihuan.db import get_engine
    from bihuan.demo import safety

    tags = sorted({s.tag for s in run.ctx.policy.findings.sections.values()})
    ours = re.compile(
        "|".join(re.escape(x) for x in (*DEMO_LOGINS, *tags)) + "|" + DEPARTMENT_LOGIN_PATTERN
    )
    if run.db_file is not None:
        verdict = safety.check_sqlite_file(run.db_file)
        if verdict.reason == "sqlite":
            safety.check_demo_only(run.db_url, jurisdiction=JURISDICTION, demo_logins=ours)
        get_engine(run.db_url).dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{run.db_file}{suffix}").unlink(missing_ok=True)
    elif safety.check_demo_only(run.db_url, jurisdiction=JURISDICTION, demo_logins=ours).wipe:
        migrate.downgrade(run.db_url, "base")
    migrate.upgrade(run.db_url)
    safety.mark(run.db_url, jurisdiction=JURISDICTION, name=JURISDICTION_NAME)
    _demo_users(run)
    run.console.print(f"[green]✓[/green] empty database at [bold]{_where(run)}[/bold]")


def _demo_users(run: DemoRun) -> None:
    """One user per role (demo only: random passwords, printed once at the end by
    show_accounts); the departments' contact accounts come with the departments."""
    from pydantic import SecretStr

    from bihuan.services import identity
    from bihuan.services.passwords import generate_password
    from bihuan.services.uow import UnitOfWork
    from bihuan.vocab import UserRole

    today = date(run.years[0], 1, 1)
    accounts: list[tuple[str, str, str, str]] = run.extra.setdefault("accounts", [])
    sections = sorted(
        {s.tag: s for s in run.ctx.policy.findings.sections.values()}.values(), key=lambda s: s.tag
    )
    people = [
        (DEMO_OFFICE, DEMO_APPROVER, UserRole.OFFICE, ""),
        *[(s.tag, s.name, UserRole.SECTION, s.name) for s in sections],
        (DEMO_LEADER, "县委编委刘副主任", UserRole.LEADER, ""),
        (DEMO_AUDITOR, "审计人员周科长", UserRole.AUDITOR, ""),
    ]
    with UnitOfWork(run.ctx) as uow:
        password = generate_password()
        identity.add_user(
            uow,
            identity.AddUser(
                login=DEMO_ADMIN,
                display_name="系统管理员",
                role=UserRole.ADMIN,
                password=SecretStr(password),
                must_change_password=False,
            ),
            None,
            today,
        )
        accounts.append((DEMO_ADMIN, UserRole.ADMIN.label, "全部", password))
        admin = identity.actor_for(uow, DEMO_ADMIN)
        for login, name, role, section in people:
            password = generate_password()
            identity.add_user(
                uow,
                identity.AddUser(
                    login=login,
                    display_name=name,
                    role=role,
                    jurisdiction=JURISDICTION,
                    section=section,
                    password=SecretStr(password),
                    must_change_password=False,
                ),
                admin,
                today,
            )
            accounts.append((login, role.label, section or JURISDICTION_NAME, password))


def department_accounts(run: DemoRun) -> None:
    """A contact account (部门联络人) for every department the import brought, one demo
    password for all of them (printed once at the end)."""
    from pydantic import SecretStr

    from bihuan.services import identity
    from bihuan.services.passwords import generate_password
    from bihuan.services.uow import UnitOfWork

    password = run.extra.get("department_password") or generate_password()
    with UnitOfWork(run.ctx) as uow:
        admin = identity.actor_for(uow, DEMO_ADMIN)
        result = identity.add_department_accounts(
            uow,
            identity.DepartmentAccounts(
                jurisdiction=JURISDICTION,
                password=SecretStr(password),
                login_pattern=DEPARTMENT_LOGIN,
                must_change_password=False,
            ),
            admin,
            date(run.year, 1, 1),
        )
    if result.created and "department_password" not in run.extra:
        run.extra["department_password"] = password
        first, last = result.created[0], result.created[-1]
        run.extra.setdefault("accounts", []).append(
            (f"{first} … {last}", "部门联络人", "各自部门", password)
        )
    if result.created:
        run.console.print(
            f"[green]✓[/green] {len(result.created)} department accounts (部门联络人) "
            f"{result.created[0]} … {result.created[-1]}"
        )


def show_accounts(run: DemoRun) -> None:
    """The demo's accounts and how to open the portal on the demo database (printed once)."""
    accounts = run.extra.get("accounts", [])
    if not accounts:
        return
    table = Table(title="演示账号 demo accounts (demo only — printed once, not stored in clear)")
    for col in ("login 登录名", "role 角色", "scope 范围", "password 密码"):
        table.add_column(col)
    for row in accounts:
        table.add_row(*[Text(str(v)) for v in row])
    run.console.print(table)
    where = str(run.db_file) if run.db_file is not None else "<the demo database URL>"
    run.console.print(
        f"open the portal on the demo database: [bold]bihuan web --db {where}[/bold] → "
        "http://127.0.0.1:8000 (sign in with an account above); on the command line act as "
        f"one with --as, e.g. `bihuan rectifications --db {where} --as D01lx` "
        "(BIHUAN_PASSWORD=…). Lost a password? `bihuan users reset-password LOGIN`.",
        highlight=False,
    )


def write_workbook(run: DemoRun) -> None:
    """Generate the year's workbook in the documented format (var/demo/juxian-<year>.xlsx)."""
    phases = run.ctx.policy.phases
    windows = {
        PhaseKind.MID_YEAR: (
            (phases.mid_year.opens.month, phases.mid_year.opens.day),
            (phases.mid_year.closes.month, phases.mid_year.closes.day),
        ),
        PhaseKind.YEAR_END: (
            (phases.year_end.opens.month, phases.year_end.opens.day),
            (phases.year_end.closes.month, phases.year_end.closes.day),
        ),
    }
    summary = build_demo_workbook(
        run.workbook(run.year),
        run.year,
        run.seed,
        departments=run.departments,
        windows=windows,
    )
    run.summaries[run.year] = summary
    run.console.print(
        f"[green]✓[/green] {run.year}: wrote [bold]{summary.path}[/bold] "
        f"({summary.departments} departments 部门, {sum(summary.counts.values())} rows)"
    )


def import_workbook(run: DemoRun) -> None:
    """Load the workbook through the same importer as `bihuan import`, with a progress bar."""
    from bihuan.ingest.load import ImportFailed
    from bihuan.services import identity
    from bihuan.services.ingest import ImportCmd, import_inputs
    from bihuan.services.uow import UnitOfWork
    from bihuan.settings import DEMO_PEER_SECRET

    path = run.workbook(run.year)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=run.console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(
                task, description=f"importing {path.name}: {what}", completed=done, total=total
            )

        try:
            with UnitOfWork(run.ctx, readonly=True) as uow:
                office = identity.actor_for(uow, DEMO_OFFICE)
            report = import_inputs(
                run.ctx,
                ImportCmd(
                    path=path, year=run.year, jurisdiction=JURISDICTION, name=JURISDICTION_NAME
                ),
                office,
                progress=progress,
                # the demo's fake ratings need no real secret, and never get the installation's
                peer_secret=DEMO_PEER_SECRET,
            )
        except ImportFailed as exc:
            for issue in exc.report.errors[:50]:
                run.console.print(f"[red]error:[/red] {issue}", highlight=False)
            raise
    run.reports[run.year] = report
    run.console.print(
        f"[green]✓[/green] {run.year}: imported {report.changed} rows in {report.seconds:.1f} s"
    )


def show_loaded(run: DemoRun) -> None:
    """A table of sheet -> rows written by the importer, then the importer's warnings."""
    report = run.reports[run.year]
    summary = run.summaries.get(run.year)
    table = Table(title=f"{JURISDICTION_NAME} {run.year}: loaded 已导入")
    table.add_column("sheet 工作表", no_wrap=True)
    for col in ("rows 行数", "inserted", "updated", "unchanged"):
        table.add_column(col, justify="right")
    for key, counts in report.counts.items():
        rows = summary.counts.get(key, "") if summary else ""
        table.add_row(
            f"{SHEETS_BY_KEY[key].zh} {key}",
            str(rows),
            str(counts["inserted"]),
            str(counts["updated"]),
            str(counts["unchanged"]),
        )
    run.console.print(table)
    for warning in report.warnings:
        run.console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _bind_flows(run: DemoRun) -> None:
    """Flows read the database and jurisdiction from the environment; point them at the demo."""
    import os

    from bihuan.settings import reset_settings

    os.environ["BIHUAN_DATABASE_URL"] = run.db_url
    os.environ["BIHUAN_JURISDICTION"] = JURISDICTION
    reset_settings()


def _cal(run: DemoRun) -> WorkCalendar:
    from bihuan.core.workdays import WorkCalendar

    return WorkCalendar.from_policy(run.ctx.policy.calendar)


def _phase_day(run: DemoRun, kind: PhaseKind) -> date:
    """The demo assesses a phase on the first working day after its window closes."""
    window = getattr(run.ctx.policy.phases, kind.name.lower())
    return _cal(run).add_workdays(window.closes.on(run.year) + timedelta(days=1), 0)


def _assess(run: DemoRun, kind: PhaseKind, day: date) -> None:
    from flows.cycle import annual_cycle

    started = time.perf_counter()
    result = annual_cycle(
        jurisdiction=JURISDICTION,
        run_as=DEMO_OFFICE,
        year=run.year,
        phase=kind,
        as_of=day,
        seed=run.year * 10 + (1 if kind is PhaseKind.MID_YEAR else 2),
    )
    seconds = time.perf_counter() - started
    run.extra.setdefault("assess_seconds", []).append(seconds)
    a, c = result.assessment, result.collection
    scores = [row.total for row in a.scores]
    run.console.print(
        f"[green]✓[/green] {day} {run.year} {kind.label}评估 assessment: "
        f"{c.submitted}/{c.departments} submitted, missing {', '.join(c.missing) or 'none'}; "
        f"scores {min(scores):.1f}–{max(scores):.1f}; on-site draw {len(a.onsite)} departments "
        f"({seconds:.1f} s)"
    )


def _issue_and_run_loop(
    run: DemoRun, kind: PhaseKind, issue_day: date, until: date
) -> list[Scripted]:
    """Problem lists approved by the coordinator, then the departments' responses, the daily
    tracker and the dispatcher, day by day until `until`."""
    from bihuan.demo.loop import LoopStats, issued_items, script, simulate
    from bihuan.runtime import no_flow_heartbeat
    from flows.problems import issue_problem_lists

    with no_flow_heartbeat():
        summary = issue_problem_lists(
            jurisdiction=JURISDICTION,
            run_as=DEMO_OFFICE,
            year=run.year,
            phase=kind,
            as_of=issue_day,
            auto_approve=DEMO_OFFICE,
        )
    run.console.print(
        f"[green]✓[/green] {issue_day} {run.year} {kind.label}问题清单 problem lists: "
        f"{summary.new_findings} findings, {summary.approved_lists} lists approved by "
        f"{summary.approved_by}, {summary.items_created} rectification items"
    )
    cal = _cal(run)
    scope_id = _jurisdiction_id(run)
    items = issued_items(run.db_url, scope_id, issue_day)
    quality = run.summaries[run.year].quality if run.year in run.summaries else {}
    actions = script(items, quality, cal, seed=run.seed + run.year * 7 + len(kind.value))
    stats: LoopStats = run.extra.setdefault("loop", LoopStats())
    started = time.perf_counter()
    simulate(
        run.ctx,
        actions,
        cal.next_workday(issue_day),
        until,
        cal,
        stats,
        run_as=DEMO_OFFICE,
        department_login=DEPARTMENT_LOGIN,
        daily_until=cal.add_workdays(issue_day, DAILY_WORKDAYS),
    )
    run.console.print(
        f"[green]✓[/green] {cal.next_workday(issue_day)} … {until}: departments responded, "
        f"tracker and dispatcher ran every working day ({time.perf_counter() - started:.1f} s)"
    )
    return actions


def _jurisdiction_id(run: DemoRun) -> int:
    from bihuan.db import get_jurisdiction, session_scope

    with session_scope(run.db_url) as session:
        jur = get_jurisdiction(session, JURISDICTION)
        assert jur is not None and jur.id is not None
        return jur.id


def mid_year(run: DemoRun) -> None:
    """Mid-year: assess; re-check last year's items (carried ones count in the score); issue the
    problem lists; run the loop through the rest of the year."""
    from bihuan.vocab import RecheckOutcome
    from flows.recheck import recheck

    _bind_flows(run)
    day = _phase_day(run, PhaseKind.MID_YEAR)
    _assess(run, PhaseKind.MID_YEAR, day)
    if run.year - 1 in run.years:
        checked = recheck(jurisdiction=JURISDICTION, run_as=DEMO_OFFICE, year=run.year, as_of=day)
        counts = "、".join(f"{RecheckOutcome(k).label} {v}" for k, v in checked.counts.items())
        run.console.print(
            f"[green]✓[/green] {day} {run.year}次年复查 re-check of {run.year - 1} items: {counts}; "
            f"{checked.new_findings} carried into {run.year} (重点内容)"
        )
        _assess(run, PhaseKind.MID_YEAR, day)  # the carried items now count in the score
    issue_day = _cal(run).next_workday(day)
    _issue_and_run_loop(run, PhaseKind.MID_YEAR, issue_day, date(run.year, 11, 30))


def year_end(run: DemoRun) -> None:
    """Year-end: assess in early January, issue the problem lists, publish the results (board,
    consequences, report), and keep the loop running until the next mid-year."""
    from bihuan.demo.loop import simulate
    from flows.results import results

    _bind_flows(run)
    day = _phase_day(run, PhaseKind.YEAR_END)
    _assess(run, PhaseKind.YEAR_END, day)
    cal = _cal(run)
    issue_day = cal.next_workday(day)
    results_day = cal.add_workdays(issue_day, 4)
    actions = _issue_and_run_loop(run, PhaseKind.YEAR_END, issue_day, results_day)
    outcome = results(
        jurisdiction=JURISDICTION, run_as=DEMO_OFFICE, year=run.year, as_of=results_day
    )
    run.extra.setdefault("results", {})[run.year] = outcome
    colours = Counter(row.colour.value for row in outcome.board)
    run.console.print(
        f"[green]✓[/green] {results_day} {run.year}结果运用 results: green {colours['green']}, "
        f"yellow {colours['yellow']}, red {colours['red']}; {len(outcome.consequences)} "
        f"consequences; report [bold]{outcome.report_path}[/bold]"
    )
    # the results' notices (the talks with heads) go out the same day
    simulate(run.ctx, [], results_day, results_day, cal, run.extra["loop"], run_as=DEMO_OFFICE)
    if run.year + 1 in run.years:
        # the year-end items are worked on until the next year's mid-year assessment

        simulate(
            run.ctx,
            actions,
            cal.next_workday(results_day),
            date(run.year + 1, 6, 30),
            cal,
            run.extra["loop"],
            run_as=DEMO_OFFICE,
            department_login=DEPARTMENT_LOGIN,
            daily_until=cal.add_workdays(issue_day, DAILY_WORKDAYS),
        )


SHORT_CONSEQUENCES = {
    "staffing_priority": "编制事项优先",
    "staffing_freeze": "次年不考虑编制事项",
    "head_talk": "约谈主要负责人",
}


def show_outcome(run: DemoRun) -> None:
    """What happened: the board, findings, rectification items by state, notifications sent,
    reminders in var/outbox/, and where the reports are."""
    from bihuan.db import session_scope, table
    from bihuan.vocab import NotificationKind, label
    from models import (
        BoardEntry,
        Consequence,
        Cycle,
        Department,
        Finding,
        Notification,
        RectificationItem,
    )
    from models.base import LABELS

    if "results" not in run.extra:
        return
    last = max(run.extra["results"])
    be, d, c, co = table(BoardEntry), table(Department), table(Cycle), table(Consequence)
    f, ri, n = table(Finding), table(RectificationItem), table(Notification)
    with session_scope(run.db_url) as session:
        board = session.execute(
            select(be.c.rank, d.c.code, d.c.name, d.c.category, be.c.score, be.c.colour, be.c.id)
            .join(d, d.c.id == be.c.department_id)
            .join(c, c.c.id == be.c.cycle_id)
            .where(c.c.year == last)
            .order_by(be.c.rank)
        ).all()
        sanctions: dict[str, list[str]] = {}
        for code, kind in session.execute(
            select(d.c.code, co.c.kind)
            .join(d, d.c.id == co.c.department_id)
            .join(c, c.c.id == co.c.cycle_id)
            .where(c.c.year == last, co.c.kind != "assessment_points")
        ):
            sanctions.setdefault(code, []).append(SHORT_CONSEQUENCES.get(kind, kind))
        findings = session.execute(
            select(c.c.year, func.count())
            .select_from(f)
            .join(c, c.c.id == f.c.cycle_id)
            .group_by(c.c.year)
        ).all()
        items = session.execute(select(ri.c.status, func.count()).group_by(ri.c.status)).all()
        notes = session.execute(
            select(n.c.kind, n.c.status, func.count()).group_by(n.c.kind, n.c.status)
        ).all()
    colour = {"green": "green", "yellow": "yellow", "red": "red"}
    table_ = Table(title=f"{JURISDICTION_NAME} {last}年红黄绿榜 board (top and bottom)")
    for col in (
        "rank",
        "code",
        "department 部门",
        "category",
        "score",
        "board",
    ):
        table_.add_column(col, no_wrap=True)
    table_.add_column("consequences 结果运用", overflow="fold")
    shown = [r for r in board if r.rank <= 10 or r.rank > len(board) - 10]
    for r in shown:
        table_.add_row(
            str(r.rank),
            r.code,
            r.name,
            LABELS.get(r.category, r.category),
            f"{r.score:.1f}",
            f"[{colour[r.colour]}]{LABELS.get(r.colour, r.colour)}[/]",
            "、".join(sanctions.get(r.code, [])),
        )
    run.console.print(table_)
    run.console.print("findings 问题: " + ", ".join(f"{y}: {k}" for y, k in sorted(findings)))
    run.console.print(
        "rectification items 整改事项: "
        + ", ".join(f"{LABELS.get(s, s)} {k}" for s, k in sorted(items))
    )
    run.console.print(
        "notifications 通知: "
        + ", ".join(
            f"{label(kind, NotificationKind)}/{LABELS.get(st, st)} {k}"
            for kind, st, k in sorted(notes)
        )
    )
    outbox = run.ctx.settings.outbox_dir
    files = len(list(outbox.glob("*.txt"))) if outbox.exists() else 0
    run.console.print(
        f"messages delivered to the local outbox: {files} files in [bold]{outbox}[/bold]"
    )
    for year, outcome in sorted(run.extra["results"].items()):
        run.console.print(f"{year} report 综合评估情况报告: [bold]{outcome.report_path}[/bold]")


def show_database(run: DemoRun) -> None:
    """Where the demo database is, and how to look into it with the other commands."""
    where = _where(run)
    run.console.print(f"\ndemo database: [bold]{where}[/bold]")
    run.console.print(
        f"look inside: [cyan]bihuan departments --db {where} --as {DEMO_OFFICE}[/cyan]"
    )


def _where(run: DemoRun) -> str:
    return str(run.db_file) if run.db_file is not None else run.db_url.split("@")[-1]


SETUP_STEPS: list[Step] = [recreate_database]
YEAR_STEPS: list[Step] = [
    write_workbook,
    import_workbook,
    department_accounts,
    show_loaded,
    mid_year,
    year_end,
]
FINISH_STEPS: list[Step] = [show_outcome, show_database, show_accounts]


def run_demo(run: DemoRun) -> None:
    for step in SETUP_STEPS:
        step(run)
    for year in run.years:
        run.year = year
        for step in YEAR_STEPS:
            step(run)
    for step in FINISH_STEPS:
        step(run)


def demo(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL, or a plain path to a SQLite file. Default: var/demo.db. "
            "It is deleted and recreated on every run.",
        ),
    ] = None,
    year: Annotated[
        list[int] | None,
        typer.Option(
            "--year",
            help="Cycle year (repeat for several years). Default: 2022 and 2023, so the re-check "
            "and 'red two years running' both happen.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the demo county (same seed, same county).")
    ] = 2022,
    departments: Annotated[
        int,
        typer.Option(
            min=4,
            help="Number of departments 部门 (62 in the source; more for a scale run).",
        ),
    ] = 62,
) -> None:
    """Build the demo county 莒县 (62 departments 部门) in its own database, through the importer."""
    from bihuan.app import app_context
    from bihuan.settings import normalise_db_url

    base = app_context()
    url = normalise_db_url(db) if db else f"sqlite:///{base.settings.var_dir / 'demo.db'}"
    ctx = ctx_for(url, JURISDICTION)
    db_file = Path(url.split("sqlite:///", 1)[1]) if url.startswith("sqlite:///") else None
    run = DemoRun(
        ctx=ctx,
        db_url=url,
        db_file=db_file,
        out_dir=ctx.settings.var_dir / "demo",
        years=sorted(set(year or [2022, 2023])),
        seed=seed,
        departments=departments,
        console=console,
    )
    run_demo(run)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
