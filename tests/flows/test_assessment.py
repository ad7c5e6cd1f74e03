"""The assessment flows on a small hand-built county whose scores are computed by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bihuan.db import get_engine, session_scope, table
from bihuan.ingest.load import import_path
from flows.cycle import annual_cycle
from models import (
    DepartmentAssessment,
    OnsiteAssignment,
    OnsiteDraw,
    PeerBallot,
    PeerRating,
    PhaseKind,
    SubmissionRequest,
)
from tests.flows.small_county import write_small_county
from tests.users import office

MID = PhaseKind.MID_YEAR


@pytest.fixture
def county(tmp_path: Path, db_url: str, use_db: Any) -> str:
    use_db(db_url)
    import_path(
        db_url,
        write_small_county(tmp_path / "county"),
        year=2022,
        jurisdiction="juxian",
        actor="test",
    )
    office(db_url)
    return db_url


def cycle(**kwargs: Any) -> Any:
    """The annual cycle of the small county, run by its office user."""
    return annual_cycle(jurisdiction="juxian", run_as="office", **kwargs)


def totals(url: str) -> dict[str, float]:
    with get_engine(url).connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT d.code, a.total FROM departmentassessment a "
                    "JOIN department d ON d.id = a.department_id"
                )
            ).all()
        )


def test_small_county_matches_hand_computed_scores(county: str) -> None:
    result = cycle(year=2022, phase=MID, as_of=date(2022, 7, 1), seed=7)
    got = totals(county)
    # A01: ledger (100 + 100) / 2 = 100 [110 vs 100 is +10 % → 80 + 2 × 10 = 100; implemented 100]
    #      staffing (100 + 100 + 100 + 75 + 100) / 5 = 95 [one problem: 100 − 25]
    #      central: its own link delivered 100 % → 100
    #      satisfaction: towns all 5 → 100 (5 raters); peers only 2 raters → suppressed;
    #      public 5 × satisfied → 100; town and public share the weight → 100
    #      total 0.55 × 100 + 0.15 × 95 + 0.10 × 100 + 0.20 × 100 = 99.25
    assert got["A01"] == pytest.approx(99.25)
    # A02: 45 vs 50, lower is better: +10 % → trend 100; target 40: 100 × 40 / 45 = 88.889;
    #      indicator = (88.889 + 100) / 2 = 94.444; formulated → 60; ledger = 77.222
    #      staffing not assessed; central 60; satisfaction: towns all 3 → 50
    #      total = (0.55 × 77.222 + 0.10 × 60 + 0.20 × 50) / 0.85 = 68.791
    assert got["A02"] == pytest.approx(
        (0.55 * (((100 * 40 / 45) + 100) / 2 + 60) / 2 + 6 + 10) / 0.85
    )
    assert got["A02"] == pytest.approx(68.7908, abs=1e-4)
    # B01: submitted nothing → ledger 0 (missing); staffing 100; no chain; no ratings
    #      total = (0.55 × 0 + 0.15 × 100) / 0.70 = 21.4286
    assert got["B01"] == pytest.approx(15 / 0.7)
    assert result.collection.missing == ["B01"]
    # the chain: lead counts double → (2 × 100 + 60) / 3; A02 (60 % < 80 %) is responsible
    chain = result.assessment.chains[0]
    assert chain.score == pytest.approx(260 / 3)
    assert chain.responsible == ["A02"]


def test_rerunning_a_phase_changes_nothing(county: str) -> None:
    cycle(year=2022, phase=MID, as_of=date(2022, 7, 1), seed=7)

    def snapshot() -> dict[str, Any]:
        with session_scope(county) as s:
            return {
                "scores": sorted(
                    s.execute(
                        select(
                            table(DepartmentAssessment).c.department_id,
                            table(DepartmentAssessment).c.total,
                            table(DepartmentAssessment).c.computed_at,
                        )
                    ).all()
                ),
                "draws": s.execute(select(func.count()).select_from(table(OnsiteDraw))).scalar(),
                "assignments": sorted(
                    s.execute(
                        select(
                            table(OnsiteAssignment).c.department_id,
                            table(OnsiteAssignment).c.commissioner_id,
                        )
                    ).all()
                ),
                "requests": sorted(
                    s.execute(
                        select(
                            table(SubmissionRequest).c.department_id,
                            table(SubmissionRequest).c.status,
                        )
                    ).all()
                ),
                "audit": s.execute(text("SELECT count(*) FROM auditlog")).scalar(),
            }

    before = snapshot()
    second = cycle(year=2022, phase=MID, as_of=date(2022, 7, 1), seed=99)
    assert snapshot() == before
    assert second.assessment.changed == 0


def test_draw_is_stored_and_avoids_conflicts(county: str) -> None:
    result = cycle(year=2022, phase=MID, as_of=date(2022, 7, 1), seed=7)
    with session_scope(county) as s:
        draw = s.execute(select(table(OnsiteDraw))).one()
        assert draw.seed == 7 and draw.triggered_by == "office"
        assert sorted(draw.candidates) == ["A01", "A02", "B01"]
        pairs = s.execute(
            text(
                "SELECT d.code, c.code FROM onsiteassignment a JOIN department d ON d.id = a.department_id "
                "JOIN commissioner c ON c.id = a.commissioner_id"
            )
        ).all()
    assert pairs and {d for d, _ in pairs} == set(result.assessment.onsite)
    for dept, insp in pairs:
        assert (dept, insp) != ("A01", "C3")  # C3 used to work at A01
        assert not (dept.startswith("A") and insp == "C1")  # T1 contracts A01 and A02
        assert not (dept.startswith("B") and insp in {"C2", "C3"})  # T2 contracts B01


@pytest.mark.reliability
def test_peer_ratings_cannot_be_traced_to_raters(county: str) -> None:
    with session_scope(county) as s:
        ratings = [dict(r._mapping) for r in s.execute(select(table(PeerRating))).all()]
        ballots = [dict(r._mapping) for r in s.execute(select(table(PeerBallot))).all()]
        raters = {"A02", "B01"}
        dept_ids = {str(i) for i in s.execute(text("SELECT id FROM department")).scalars()}
    assert len(ratings) == 2 and len(ballots) == 2
    assert set(ratings[0]) == {
        "id",
        "phase_id",
        "ratee_department_id",
        "style",
        "efficiency",
        "quality",
        "cooperation",
        "one_go",
        "rated_on",
    }
    for row in ratings + ballots:
        for key, value in row.items():
            assert str(value) not in raters, key
    # no column of a ballot matches any column of a rating, so nothing joins the two
    assert not {str(v) for b in ballots for v in b.values() if v != b["phase_id"]} & {
        str(v) for r in ratings for v in r.values()
    }
    assert dept_ids  # sanity: ids exist, and ratee ids are the only department ids in ratings
