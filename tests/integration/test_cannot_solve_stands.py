"""An agreed "cannot be solved" item (无法解决, with its alternative) is not raised again for the
same indicator at year-end or in the next year while the alternative stands (issue 10.6), on
SQLite and PostgreSQL; once the office records the alternative as lapsed, it is raised again."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlalchemy import select, update

from bihuan.db import session_scope, table, upsert
from bihuan.ingest.load import import_path
from bihuan.services import problems, recheck
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from models import Cycle, Department, DepartmentAssessment, Phase, RectificationItem
from tests.integration.test_problem_services import (  # noqa: F401 (the fixture)
    _breakdown,
    approve_as,
    raise_as,
    rows,
    scored,
)
from tests.users import app_for, office

END = PhaseKind.YEAR_END
MID = PhaseKind.MID_YEAR
SUBJECT = "indicator:A01-S1-01"  # A01's 重点项目投资额 scores 45 in every phase below


def store_scores(url: str, year: int, phase: PhaseKind) -> None:
    """A01 and A02 assessed in `phase` of `year` as in the small county's mid-year."""
    with session_scope(url) as session:
        c, p, d = table(Cycle), table(Phase), table(Department)
        phase_id = session.execute(
            select(p.c.id)
            .join(c, c.c.id == p.c.cycle_id)
            .where(c.c.year == year, p.c.kind == phase.value)
        ).scalar_one()
        depts = dict(session.execute(select(d.c.code, d.c.id)).tuples().all())
        upsert(
            session,
            DepartmentAssessment,
            [
                {
                    "phase_id": phase_id,
                    "department_id": depts[code],
                    "total": 70.0,
                    "satisfaction": 90.0,
                    "breakdown": _breakdown(code),
                    "as_of": date(year, 7, 1),
                }
                for code in ("A01", "A02")
            ],
            keys=["phase_id", "department_id"],
        )


def raised(url: str, year: int, phase: PhaseKind) -> set[str]:
    with UnitOfWork(app_for(url)) as uow:
        problems.raise_findings(uow, "juxian", year, phase, office(url), date(year, 7, 2))
    return {
        k
        for (k,) in rows(
            url,
            "SELECT f.key FROM finding f JOIN cycle c ON c.id = f.cycle_id "
            "JOIN department d ON d.id = f.department_id "
            "WHERE c.year = :y AND f.phase_kind = :p AND d.code = 'A01'",
            y=year,
            p=phase.value,
        )
    }


def agree_cannot_solve(url: str) -> int:
    """The mid-year item of A01-S1-01, agreed as cannot be solved with an alternative (stored
    directly: the state machine's path there is tested with the rectification services)."""
    [(item_id,)] = rows(
        url,
        "SELECT r.id FROM rectificationitem r JOIN finding f ON f.id = r.finding_id "
        "WHERE f.key = :k",
        k=f"mid-year:{SUBJECT}",
    )
    ri = table(RectificationItem)
    with session_scope(url) as session:
        session.execute(
            update(ri)
            .where(ri.c.id == item_id)
            .values(
                status="cannot_solve",
                explanation="受国家产业政策调整影响,年度投资目标无法完成",
                alternative="以储备项目前期工作进度替代投资额考核",
            )
        )
    return int(item_id)


def ledger_2023(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "indicators.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [
                ["code", "department", "section", "name", "kind", "unit"],
                ["A01-S1-01", "A01", "S1", "重点项目投资额", "定量", "万元"],
                ["A01-S1-02", "A01", "S1", "制定年度改革方案", "定性", ""],
            ]
        )
    return folder


def test_an_agreed_cannot_solve_item_is_not_raised_again_while_its_alternative_stands(
    scored: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = scored
    raise_as(url, office(url))
    approve_as(url, office(url))
    item = agree_cannot_solve(url)

    # year-end of the same year: the same indicator still fails, but is not raised again
    store_scores(url, 2022, END)
    assert f"year-end:{SUBJECT}" not in raised(url, 2022, END)
    # the next year, while the alternative stands
    import_path(url, ledger_2023(tmp_path / "y2023"), year=2023, jurisdiction="juxian", actor="t")
    store_scores(url, 2023, MID)
    assert f"mid-year:{SUBJECT}" not in raised(url, 2023, MID)

    # the office records the alternative as lapsed: the problem is raised again
    with UnitOfWork(app_for(url)) as uow:
        recheck.mark_alternative_lapsed(
            uow, item, "替代措施已不适用", office(url), date(2023, 7, 2)
        )
    assert f"mid-year:{SUBJECT}" in raised(url, 2023, MID)
    assert f"year-end:{SUBJECT}" in raised(url, 2022, END)
