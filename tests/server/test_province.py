"""The province benchmark's machinery on a mini-province (issue 13.3): two counties seeded into
a PostgreSQL database of their own, a loopback Prefect server, a process work pool and two
workers; one county-year run per county, each stage a flow run of its own, and one county's
injected first-attempt failure retried by Prefect without touching the other county."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from benchmarks.province import database_url, drop_database, run_province
from bihuan.db import get_engine

pytestmark = [pytest.mark.server, pytest.mark.postgres]

STAGES = {
    "collect-indicators:mid-year",
    "assess:mid-year",
    "issue-problem-lists:mid-year",
    "track-rectifications",
    "dispatch-notifications",
    "collect-indicators:year-end",
    "assess:year-end",
    "results",
    "recheck",
}


def test_mini_province_runs_each_county_and_stage_once_and_retries_one_county(
    tmp_path: Path,
) -> None:
    database = f"bihuan_bench_province_t{uuid.uuid4().hex[:8]}"
    try:
        out = run_province(
            counties=2, departments=4, workers=(2,), home=tmp_path / "province",
            database=database, keep=True, timeout=150, log=lambda _m: None,
        )  # fmt: skip
        r = out["rounds"][2]
        assert (out["jurisdictions"], out["departments"]) == (2, 8)
        assert r["completed"] == 2 and r["states"] == ["COMPLETED"]
        # one completed flow run per county and stage, and no other stage runs
        assert set(r["stage_seconds_mean"]) == STAGES
        assert r["stage_runs"] == 2 * len(STAGES)
        assert out["one_completed_run_per_county_and_stage"] is True
        # the second county failed its first attempt and Prefect retried only that county
        assert r["retry"] == {
            "county": "c002",
            "run_count": 2,
            "state": "COMPLETED",
            "others_completed_first_attempt": True,
        }
        assert r["peak_rss_mb_by_role"]["flow_run"]["processes"] == 2
        assert 0 < out["peak_rss_mb"] < 1024
        # both counties' years are in the run database, each in its own jurisdiction
        with get_engine(database_url(database)).connect() as conn:
            per_county = conn.execute(
                text(
                    "SELECT j.code, count(*) FROM departmentassessment a "
                    "JOIN department d ON d.id = a.department_id "
                    "JOIN jurisdiction j ON j.id = d.jurisdiction_id GROUP BY j.code ORDER BY 1"
                )
            ).all()
        assert [tuple(row) for row in per_county] == [("c001", 8), ("c002", 8)]  # 2 phases
    finally:
        drop_database(database)
        drop_database(f"{database}_seed")
