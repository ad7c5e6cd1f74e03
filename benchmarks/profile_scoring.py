"""Profile the data work of scoring without Prefect: load → score → store for both phases.

Runs the same service calls as the assess flow's tasks (plan_assessment, then score_batch and
store_scores per batch of departments) on a fresh synthetic SQLite jurisdiction, then a
re-run of the year-end phase (nothing changed: every row compared, none written), then the
plain-SQL baseline on the same data; prints seconds per step and the ratio, and with
``--profile`` the top of cProfile's cumulative listing. Usage:

    .venv/bin/python -m benchmarks.profile_scoring --departments 620 [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import baseline
from benchmarks.harness import JURISDICTION, YEAR, create_bench_office, create_database
from benchmarks.synth import Size


def _assess_phase(url: str, login: str, kind: Any, as_of: date) -> int:
    """The assess flow's data work for one phase, in process; returns rows written."""
    from bihuan.app import app_context
    from bihuan.services import assessment, identity
    from bihuan.services.uow import UnitOfWork

    app = app_context(url, JURISDICTION)
    with UnitOfWork(app, readonly=True) as uow:
        actor = identity.actor_for(uow, login)
        plan = assessment.plan_assessment(uow, JURISDICTION, YEAR, kind, actor)
    changed = 0
    for batch in plan.batches:
        with UnitOfWork(app, readonly=True) as uow:
            scores = assessment.score_batch(
                uow, JURISDICTION, YEAR, kind, batch.department_ids, actor
            )
        with UnitOfWork(app) as uow:
            changed += assessment.store_scores(
                uow, JURISDICTION, YEAR, kind, scores, actor, as_of
            ).changed
    return changed


def _collect(url: str, login: str, kind: Any, as_of: date) -> None:
    from bihuan.app import app_context
    from bihuan.services import assessment, identity
    from bihuan.services.uow import UnitOfWork

    with UnitOfWork(app_context(url, JURISDICTION)) as uow:
        actor = identity.actor_for(uow, login)
        assessment.open_and_collect(uow, JURISDICTION, YEAR, kind, actor, as_of)


def _timed(label: str, fn: Callable[[], Any], prof: cProfile.Profile | None) -> float:
    """Wall seconds of `fn`; CPU seconds are printed beside them (steadier on a busy machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    result = fn()
    if prof is not None:
        prof.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    shown = "" if result is None else f"rows written {result}"
    print(f"{label:<28} {seconds:8.3f} s  (cpu {cpu:6.3f} s)  {shown}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    from benchmarks.harness import load_synthetic
    from bihuan.app import app_context
    from models import PhaseKind

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=620)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 30")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bihuan-profile-"))
    db = create_database("sqlite", workdir, "profile")
    try:
        load_synthetic(db.url, Size("profile", args.departments), args.seed, in_process=True)
        login = create_bench_office(db.url)
        mid, end = PhaseKind.MID_YEAR, PhaseKind.YEAR_END
        after_mid, after_end = date(YEAR, 7, 1), date(YEAR + 1, 1, 5)
        _collect(db.url, login, mid, after_mid)
        _collect(db.url, login, end, after_end)
        prof = cProfile.Profile() if args.profile else None
        ours = _timed("assess mid-year", lambda: _assess_phase(db.url, login, mid, after_mid), prof)
        ours += _timed(
            "assess year-end", lambda: _assess_phase(db.url, login, end, after_end), prof
        )
        _timed(
            "re-run year-end (no change)",
            lambda: _assess_phase(db.url, login, end, after_end),
            prof,
        )
        policy = app_context(db.url, JURISDICTION).policy
        cpu = time.process_time()
        base = baseline.compute(db.url, policy, year=YEAR, jurisdiction=JURISDICTION)
        agreement = baseline.check_against_flows(db.url, base, year=YEAR)
        # the board is the results stage's, not run here: compare the phases' totals only
        totals_ok = not [m for m in agreement.mismatches if not m.startswith("board")]
        cpu = time.process_time() - cpu
        print(f"{'baseline (both phases+board)':<28} {base.seconds:8.3f} s  (cpu {cpu:6.3f} s)")
        print(
            f"ratio (both phases / baseline): {ours / base.seconds:.2f}; totals agree: "
            f"{totals_ok} ({agreement.compared_totals} compared, "
            f"max diff {agreement.max_total_diff:.1e})"
        )
        if prof is not None:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    finally:
        db.drop()


if __name__ == "__main__":
    main()
