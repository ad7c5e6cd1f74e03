"""Concurrent runs of each stage (reliability scenario 3): two runs of the same stage at once
never duplicate a row or a notification. One of them may give up cleanly (a retryable error);
a later run then completes and changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.errors import UserError
from bihuan.services import problems
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from tests.integration.test_assessment_services import county, run_phase  # noqa: F401
from tests.integration.test_results_services import County, do_recheck, do_results
from tests.integration.test_results_services import county as results_county  # noqa: F401
from tests.users import app_for, office

pytestmark = pytest.mark.reliability
MID = PhaseKind.MID_YEAR


def twice(fn: Callable[[], Any]) -> list[BaseException | None]:
    """Run `fn` in two threads at once; what each raised (None when it went through)."""

    def guarded() -> BaseException | None:
        try:
            fn()
        except Exception as exc:
            return exc
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda _: guarded(), range(2)))


def clean(errors: list[BaseException | None]) -> None:
    """At most one run gave up, and only with a database conflict or a user error: never a
    half-done write (the other run's rows stand alone)."""
    failed = [e for e in errors if e is not None]
    assert len(failed) <= 1, failed
    for e in failed:
        name = type(e).__name__
        assert isinstance(e, UserError) or name in {"IntegrityError", "OperationalError"}, e


def counts(url: str, *queries: str) -> list[int]:
    with get_engine(url).connect() as conn:
        return [int(conn.execute(text(q)).scalar_one()) for q in queries]


def test_two_assessments_of_one_phase_at_once(county: str) -> None:  # noqa: F811
    boss = office(county)
    clean(twice(lambda: run_phase(county, boss)))
    run_phase(county, boss)  # afterwards: completes, changes nothing new
    draws, assessed, requests = counts(
        county,
        "SELECT count(*) FROM onsitedraw",
        "SELECT count(*) FROM departmentassessment",
        "SELECT count(*) FROM submissionrequest",
    )
    assert (draws, assessed, requests) == (1, 3, 3)


def test_two_approvals_of_one_phase_at_once(county: str) -> None:  # noqa: F811
    boss = office(county)
    run_phase(county, boss)
    with UnitOfWork(app_for(county)) as uow:
        problems.raise_findings(uow, "juxian", 2022, MID, boss, date(2022, 7, 4))

    def approve() -> None:
        with UnitOfWork(app_for(county)) as uow:
            problems.approve_problem_lists(
                uow,
                problems.ApproveLists(jurisdiction="juxian", year=2022, phase=MID),
                boss,
                date(2022, 7, 4),
            )

    clean(twice(approve))
    findings, items, lists, messages = counts(
        county,
        "SELECT count(*) FROM finding WHERE status = 'approved'",
        "SELECT count(*) FROM rectificationitem",
        "SELECT count(*) FROM problemlist WHERE status = 'sent'",
        "SELECT count(*) FROM notification WHERE kind = 'problem_list'",
    )
    assert findings == items > 0 and lists > 0
    assert (
        messages
        == counts(
            county,
            "SELECT count(DISTINCT idempotency_key) FROM notification WHERE kind = 'problem_list'",
        )[0]
    )


def test_two_rechecks_and_two_results_at_once(results_county: County) -> None:  # noqa: F811
    c = results_county
    clean(twice(lambda: do_recheck(c)))
    do_recheck(c)
    carried = counts(c.url, "SELECT count(*) FROM finding WHERE category = 'carried_over'")[0]
    keys = counts(
        c.url,
        "SELECT count(*) FROM (SELECT DISTINCT cycle_id, department_id, key FROM finding "
        "WHERE category = 'carried_over') AS k",
    )[0]
    assert carried == keys > 0
    clean(twice(lambda: do_results(c, 2023)))
    do_results(c, 2023)
    board, departments, talks, talk_keys = counts(
        c.url,
        "SELECT count(*) FROM boardentry",
        "SELECT count(*) FROM department",
        "SELECT count(*) FROM notification WHERE kind = 'head_talk'",
        "SELECT count(DISTINCT idempotency_key) FROM notification WHERE kind = 'head_talk'",
    )
    assert board == departments and talks == talk_keys
