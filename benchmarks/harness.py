"""One benchmark run: a fresh database, a synthetic jurisdiction, every stage of the cycle timed.

The stages run through the real flows under Prefect (local mode, or whatever Prefect the caller
set up), in the order of a year: mid-year collection and assessment (年中), problem lists with
auto-approval (问题清单), one day of rectification tracking (整改跟踪) well after the deadlines,
dispatch of the outbox to a loopback SMTP server, year-end collection and assessment (年底),
results (结果运用: board, consequences, report) and the next January's re-check (次年复查).
Then the plain-SQL baseline scores the same data and is checked against what the flows stored.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import baseline
from benchmarks.smtp import CountingSmtp, write_config
from benchmarks.synth import SIZES, Size
from benchmarks.timing import OwnTime, RssSampler, instrument, peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "BIHUAN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
YEAR = 2025  # chinese_calendar knows 2025 and 2026 (the re-check runs in January 2026)
JURISDICTION = "bench"
BENCH_OFFICE = "bench-office"  # the office user (a service account) the stages run as
# The stages whose data work the baseline does too (scoring both phases, the board).
BASELINE_STAGES = ("assess_mid_year", "assess_year_end", "results")


@dataclass
class Database:
    url: str
    drop: Callable[[], None]


def create_database(backend: str, workdir: Path, label: str) -> Database:
    """A fresh, migrated database: a SQLite file, or a new schema on the local PostgreSQL."""
    from bihuan.db import get_engine
    from bihuan.migrate import upgrade

    if backend == "sqlite":
        path = workdir / f"bench-{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"

        def drop() -> None:
            get_engine(url).dispose()

    elif backend == "postgresql":
        from sqlalchemy import create_engine, text

        schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"

        def drop() -> None:
            get_engine(url).dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    else:
        raise ValueError(f"unknown backend {backend!r}: use sqlite or postgresql")
    upgrade(url)
    return Database(url, drop)


def load_synthetic(url: str, size: Size, seed: int, *, in_process: bool = False) -> dict[str, Any]:
    """Load in a child process, so this process's peak RSS is the cycle's, not the generator's
    (`in_process` for tiny sizes in tests, where starting a process costs more than loading)."""
    if in_process:
        from benchmarks.synth import load
        from bihuan.app import app_context
        from bihuan.db import get_engine

        summary = load(get_engine(url), size, policy=app_context(url).policy, year=YEAR, seed=seed)
        return {"rows": summary.rows, "total_rows": summary.total_rows}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.synth", "--url", url, "--departments",
         str(size.departments), "--name", size.name, "--seed", str(seed), "--year", str(YEAR)],
        cwd=REPO, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def create_bench_office(url: str, jurisdiction: str = JURISDICTION) -> str:
    """The office user the stages run as (with the admin that creates it); returns its login."""
    from bihuan.app import app_context
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork
    from bihuan.vocab import UserRole

    today = date(YEAR, 1, 1)
    with UnitOfWork(app_context(url, jurisdiction)) as uow:
        if uow.users.by_login(BENCH_OFFICE) is None:
            if uow.users.by_login("bench-admin") is None:
                identity.add_user(
                    uow, identity.AddUser(login="bench-admin", role=UserRole.ADMIN), None, today
                )
            admin = identity.actor_for(uow, "bench-admin")
            identity.add_user(
                uow,
                identity.AddUser(
                    login=BENCH_OFFICE, role=UserRole.OFFICE, jurisdiction=jurisdiction
                ),
                admin,
                today,
            )
    return BENCH_OFFICE


def recipient_tags(url: str) -> list[str]:
    """Every apprise tag of the benchmark jurisdiction (for the SMTP channel config)."""
    from bihuan.app import app_context
    from bihuan.services import identity, notifications
    from bihuan.services.uow import UnitOfWork

    with UnitOfWork(app_context(url, JURISDICTION), readonly=True) as uow:
        office = identity.actor_for(uow, BENCH_OFFICE)
        return notifications.recipient_tags(uow, office, JURISDICTION)


@contextmanager
def bench_environment(url: str, workdir: Path, apprise: Path) -> Iterator[None]:
    """Point the flows (which read settings from the environment) at the benchmark database."""
    from bihuan.settings import reset_settings

    values = {
        "BIHUAN_DATABASE_URL": url,
        "BIHUAN_JURISDICTION": JURISDICTION,
        "BIHUAN_HOME": str(workdir),
        "BIHUAN_CONFIG_DIR": str(REPO / "config"),
        "BIHUAN_APPRISE_CONFIG": str(apprise),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    reset_settings()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()


def warm_up_prefect() -> float:
    """Start Prefect (the local server in local mode) with a trivial flow; returns seconds."""
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()
    return time.perf_counter() - started


def _stages(
    jurisdiction: str = JURISDICTION, run_as: str = BENCH_OFFICE
) -> list[tuple[str, Callable[[], Any], Callable[[Any], int]]]:
    """(name, call, rows it handled) for each stage, in the order of the year (the province
    benchmark's county flow runs the same stages for its own jurisdiction)."""
    from flows.assess import assess
    from flows.collect import collect_indicators
    from flows.dispatch import dispatch_notifications
    from flows.problems import issue_problem_lists
    from flows.recheck import recheck
    from flows.results import results
    from flows.track import track_rectifications
    from models import PhaseKind

    mid, end = PhaseKind.MID_YEAR, PhaseKind.YEAR_END
    as_office = {"jurisdiction": jurisdiction, "run_as": run_as}
    after_mid, after_end = date(YEAR, 7, 1), date(YEAR + 1, 1, 5)
    return [
        ("collect_mid_year", lambda: collect_indicators(**as_office, year=YEAR, phase=mid,
                                                        as_of=after_mid),
         lambda s: s.departments),
        ("assess_mid_year",
         lambda: assess(**as_office, year=YEAR, phase=mid, as_of=after_mid, seed=1),
         lambda s: s.departments),
        ("problem_lists",
         lambda: issue_problem_lists(jurisdiction=jurisdiction, run_as=run_as, year=YEAR,
                                     phase=mid, as_of=date(YEAR, 7, 2),
                                     auto_approve=run_as, wait_for_approval=False),
         lambda s: s.items_created),
        # Two months on, every item is due or overdue: the heaviest day the tracker can have.
        ("track", lambda: track_rectifications(jurisdiction=jurisdiction, run_as=run_as,
                                               as_of=date(YEAR, 9, 1), dispatch=False),
         lambda s: s.active_items),
        ("dispatch", lambda: dispatch_notifications(jurisdiction=jurisdiction,
                                                    run_as=run_as, as_of=date(YEAR, 9, 1)),
         lambda s: s.sent),
        ("collect_year_end", lambda: collect_indicators(**as_office, year=YEAR, phase=end,
                                                        as_of=after_end),
         lambda s: s.departments),
        ("assess_year_end",
         lambda: assess(**as_office, year=YEAR, phase=end, as_of=after_end, seed=1),
         lambda s: s.departments),
        ("results", lambda: results(jurisdiction=jurisdiction, run_as=run_as, year=YEAR,
                                    as_of=after_end),
         lambda s: s.departments),
        ("recheck", lambda: recheck(jurisdiction=jurisdiction, run_as=run_as, year=YEAR + 1,
                                    as_of=date(YEAR + 1, 1, 12)),
         lambda s: s.prior_items),
    ]  # fmt: skip


def run_size(
    size: Size | str,
    backend: str,
    workdir: Path,
    *,
    seed: int = 7,
    log: Callable[[str], None] = lambda _m: None,
    load_in_process: bool = False,
) -> dict[str, Any]:
    """Benchmark one size on one backend; returns the JSON object of latest.json."""
    from bihuan.app import app_context
    from bihuan.db import get_engine
    from bihuan.runtime import no_flow_heartbeat

    size = SIZES[size] if isinstance(size, str) else size
    workdir.mkdir(parents=True, exist_ok=True)
    db = create_database(backend, workdir, size.name)
    try:
        started = time.perf_counter()
        loaded = load_synthetic(db.url, size, seed, in_process=load_in_process)
        load_seconds = time.perf_counter() - started
        log(f"{size.name}/{backend}: loaded {loaded['total_rows']:,} rows in {load_seconds:.1f} s")
        create_bench_office(db.url)
        apprise = workdir / f"apprise-{size.name}-{backend}.yml"
        own, report_time = OwnTime(), OwnTime()
        with CountingSmtp() as smtp, bench_environment(db.url, workdir, apprise):
            write_config(apprise, smtp, recipient_tags(db.url))
            prefect_start = warm_up_prefect()
            restore = instrument(own, exclude=report_time)
            stages: dict[str, dict[str, Any]] = {}
            # the stages run in this process as the CLI runs them: without the flow heartbeat
            # (bihuan.runtime.no_flow_heartbeat), which costs every flow run up to 1 s
            try:
                with no_flow_heartbeat():
                    for name, call, count in _stages():
                        own.reset()
                        report_time.reset()
                        with RssSampler() as rss:
                            t0 = time.perf_counter()
                            summary = call()
                            wall = time.perf_counter() - t0
                        mine = min(own.seconds(), wall)
                        rows = int(count(summary))
                        stages[name] = {
                            "seconds": round(wall, 3),
                            "own_seconds": round(mine, 3),
                            "prefect_seconds": round(wall - mine, 3),
                            "report_seconds": round(report_time.seconds(), 3),
                            "rows": rows,
                            "rows_per_second": round(rows / wall, 1) if wall > 0 else None,
                            "peak_rss_mb": round(rss.peak, 1),
                        }
                        log(f"  {name:<17} {wall:8.2f} s  (ours {mine:7.2f} s)  rows {rows:,}")
            finally:
                restore()
            mails = smtp.received
        policy = app_context(db.url, JURISDICTION).policy
        base = baseline.compute(db.url, policy, year=YEAR, jurisdiction=JURISDICTION)
        agreement = baseline.check_against_flows(db.url, base, year=YEAR)
        log(
            f"  baseline          {base.seconds:8.2f} s  agrees: {agreement.ok} "
            f"(max diff {agreement.max_total_diff:.2e})"
        )
        from benchmarks.synth import count_open_items

        open_items = count_open_items(get_engine(db.url))
    finally:
        db.drop()
    total = sum(s["seconds"] for s in stages.values())
    prefect = sum(s["prefect_seconds"] for s in stages.values())
    data_work = sum(stages[s]["own_seconds"] - stages[s]["report_seconds"] for s in BASELINE_STAGES)
    return {
        "size": size.name,
        "backend": backend,
        "departments": size.departments,
        "indicators": loaded["rows"].get("indicator", 0),
        "survey_responses": sum(
            loaded["rows"].get(t, 0) for t in ("townrating", "peerrating", "publicrating")
        ),
        "open_items": open_items,
        "rows_loaded": loaded["total_rows"],
        "load_seconds": round(load_seconds, 2),
        "prefect_start_seconds": round(prefect_start, 2),
        "total_seconds": round(total, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "prefect_share": round(prefect / total, 3) if total else None,
        # Prefect's own machinery per stage (wall time minus ours): the issue 13.2 goal is 0.3 s
        "stage_prefect_median_seconds": round(
            statistics.median(s["prefect_seconds"] for s in stages.values()), 3
        ),
        "stage_prefect_max_seconds": round(max(s["prefect_seconds"] for s in stages.values()), 3),
        "rows_per_second": round(loaded["total_rows"] / total, 1) if total else None,
        "baseline_seconds": round(base.seconds, 3),
        "data_work_seconds": round(data_work, 3),
        "ratio_to_baseline": round(data_work / base.seconds, 2) if base.seconds else None,
        "baseline_agrees": agreement.ok,
        "baseline_max_diff": agreement.max_total_diff,
        "baseline_mismatches": agreement.mismatches[:10],
        "mails_received": mails,
        "stages": {name: s["seconds"] for name, s in stages.items()},
        "stage_details": stages,
    }
