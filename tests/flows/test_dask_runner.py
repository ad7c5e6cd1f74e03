"""Per-department fan-out on a local Dask cluster gives the same scores as threads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bihuan.errors import ConfigError
from bihuan.ingest.load import import_path
from bihuan.settings import override_settings
from flows.cycle import annual_cycle
from flows.runners import make_task_runner
from models import PhaseKind
from tests.flows.small_county import write_small_county
from tests.users import office


def test_unknown_runner_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="BIHUAN_TASK_RUNNER='gpu'"):
        make_task_runner("gpu")
    assert type(make_task_runner("tcp://scheduler:8786")).__name__ == "DaskTaskRunner"


def test_scoring_threads_are_bounded_by_the_connection_pool() -> None:
    """Unbounded threads (Prefect's default) ran all 200 scoring batches of a 10,000-department
    jurisdiction at once; they timed out waiting for one of the pool's 15 connections."""
    from flows.assess import assess
    from flows.runners import THREADS

    assert assess.task_runner._max_workers == THREADS <= 5  # pool_size of bihuan.db engines
    assert make_task_runner("threads")._max_workers == THREADS
    assert make_task_runner("threads", workers=2)._max_workers == 2


@pytest.mark.dask
def test_assessment_on_a_local_dask_cluster_matches_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for runner in ("threads", "dask"):
        url = f"sqlite:///{tmp_path / runner}.db"
        from bihuan.migrate import upgrade

        upgrade(url)
        # as `bihuan assess --db URL` gives it: an in-process setting, not the environment
        monkeypatch.delenv("BIHUAN_DATABASE_URL", raising=False)
        monkeypatch.setenv("BIHUAN_TASK_RUNNER", runner)
        monkeypatch.setenv("BIHUAN_TASK_RUNNER_WORKERS", "2")
        override_settings(database_url=url)
        import_path(
            url,
            write_small_county(tmp_path / f"c-{runner}"),
            year=2022,
            jurisdiction="juxian",
            actor="t",
        )
        out = annual_cycle(
            jurisdiction="juxian",
            run_as=office(url).login,
            year=2022,
            phase=PhaseKind.MID_YEAR,
            as_of=date(2022, 7, 1),
            seed=7,
        )
        results[runner] = {row.code: row.total for row in out.assessment.scores}
    assert results["dask"] == results["threads"]
    assert results["dask"]["A01"] == pytest.approx(99.2, abs=0.06)
