"""Scale-out on Prefect's own machinery: a Prefect server on PostgreSQL, a process work pool, a
worker in its own process, our deployments registered to the pool, a cycle run by the worker,
its results in PostgreSQL (issue 6 item 5)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from sqlalchemy import create_engine, text

from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from bihuan.migrate import upgrade
from bihuan.vocab import UserRole
from tests.conftest import PG_ADMIN_URL
from tests.flows.small_county import write_small_county
from tests.server.conftest import (
    BIN,
    free_port,
    offline_env,
    prefect_api,
    prefect_cli,
    running,
    wait_healthy,
    wait_until,
)
from tests.users import make_user

pytestmark = [pytest.mark.server, pytest.mark.postgres]

POOL = "bihuan-test-pool"


@pytest.fixture
def prefect_pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the Prefect server (with pg_trgm), dropped afterwards."""
    name = f"prefect_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(PG_ADMIN_URL)
    server_url = f"postgresql+psycopg://{parts.netloc}/{name}"
    db = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with db.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    db.dispose()
    try:
        yield f"postgresql+asyncpg://{parts.netloc}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rows(url: str, sql: str) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_worker_runs_a_cycle_from_a_postgres_backed_server(
    tmp_path: Path, prefect_pg_database: str, pg_url: str
) -> None:
    upgrade(pg_url)
    import_path(
        pg_url, write_small_county(tmp_path / "county"), year=2022, jurisdiction="juxian", actor="t"
    )
    make_user(pg_url, "likz", UserRole.OFFICE, name="李科长")  # runs and approves the cycle
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server_env = offline_env(home, PREFECT_SERVER_DATABASE_CONNECTION_URL=prefect_pg_database)
    env = offline_env(home, PREFECT_API_URL=api, BIHUAN_DATABASE_URL=pg_url)
    server_log, worker_log = home / "server.log", home / "worker.log"
    server_cmd = [str(BIN / "bihuan"), "server", "--host", "127.0.0.1", "--port", str(port)]
    with running(server_cmd, server_env, server_log) as server:
        wait_healthy(api, server, server_log)
        prefect_cli(env, "work-pool", "create", POOL, "--type", "process")
        prefect_cli_bihuan(env, "deploy", "--work-pool", POOL, "-j", "juxian", "--run-as", "likz")
        with prefect_api(api) as client:
            pools = {d.name: d.work_pool_name for d in client.read_deployments()}
        assert len(pools) == 4 and set(pools.values()) == {POOL}, pools
        with running([str(BIN / "prefect"), "worker", "start", "-p", POOL], env, worker_log):
            out = prefect_cli(
                env,
                "deployment",
                "run",
                "mid-year-assessment/mid-year-assessment",
                "--params",
                json.dumps(
                    {
                        "year": 2022,
                        "as_of": "2022-07-04",
                        "seed": 7,
                        "jurisdiction": "juxian",
                        "run_as": "likz",
                        "auto_approve": "likz",
                    }
                ),
            )
            match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
            assert match, out
            run_id = UUID(match.group(1))
            with prefect_api(api) as client:

                def finished() -> Any:
                    run = client.read_flow_run(run_id)
                    return run if run.state and run.state.is_final() else None

                run = wait_until(
                    finished, timeout=180, what="the worker to finish the run", log=worker_log
                )
        assert run.state.is_completed(), f"{run.state}\n{worker_log.read_text()[-4000:]}"
        assert run.work_pool_name == POOL
        assert str(run_id) in worker_log.read_text()  # submitted by our worker process
    # the Prefect server kept its state in PostgreSQL ...
    server_db = prefect_pg_database.replace("+asyncpg", "+psycopg")
    engine = create_engine(server_db)
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT state_type FROM flow_run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
    engine.dispose()
    assert state == "COMPLETED"
    # ... and the cycle's results are in our PostgreSQL schema
    assert rows(pg_url, "SELECT count(*) FROM departmentassessment")[0][0] == 3
    assert rows(pg_url, "SELECT count(*) FROM rectificationitem")[0][0] == 4
    approved = rows(pg_url, "SELECT actor FROM auditlog WHERE action = 'problem_lists_approved'")
    assert approved == [("likz",)]


def prefect_cli_bihuan(env: dict[str, str], *args: str) -> str:
    import subprocess

    done = subprocess.run(
        [str(BIN / "bihuan"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"bihuan {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout
