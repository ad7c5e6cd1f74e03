"""`bihuan server` + `bihuan serve` on a real Prefect server: schedules, a run triggered with
`prefect deployment run`, and a problem list paused for approval and resumed with the form's
input (what the UI does), ending in our audit log."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.deployments import deployment_specs
from bihuan.ingest.load import import_path
from bihuan.migrate import upgrade
from bihuan.policy import load_policy
from bihuan.vocab import UserRole
from notifications.channels import write_demo_config
from tests.flows.small_county import write_small_county
from tests.server.conftest import (
    BIN,
    REPO,
    free_port,
    offline_env,
    prefect_api,
    prefect_cli,
    running,
    wait_healthy,
    wait_until,
)
from tests.users import make_user, office

pytestmark = pytest.mark.server

POLICY = load_policy(REPO / "config")
TAGS = [
    *(f"{code}{suffix}" for code in ("a01", "a02", "b01") for suffix in ("", "-head")),
    "section-ops",
    "section-inspection",
    "leadership",
]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`bihuan server` on a free loopback port, PREFECT_HOME in a temporary folder."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    log = home / "server.log"
    cmd = [str(BIN / "bihuan"), "server", "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, offline_env(home), log) as proc:
        api = f"http://127.0.0.1:{port}/api"
        wait_healthy(api, proc, log)
        yield api, home


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{folder / 'bihuan.db'}"
    upgrade(url)
    import_path(
        url, write_small_county(folder / "county"), year=2022, jurisdiction="juxian", actor="t"
    )
    make_user(url, "wangzr", UserRole.OFFICE, name="王主任")  # runs and approves the cycle
    return url


@pytest.fixture(scope="module")
def served(prefect_server: tuple[str, Path], app_db: str) -> Iterator[dict[str, str]]:
    """`bihuan serve` against the server, until the four deployments are registered."""
    api, home = prefect_server
    # every recipient of the small county goes to the local file sink
    config = write_demo_config(home / "apprise.yml", TAGS, home / "outbox")
    env = offline_env(home, PREFECT_API_URL=api, BIHUAN_APPRISE_CONFIG=str(config))
    log = home / "serve.log"
    serve = [str(BIN / "bihuan"), "serve", "--db", app_db, "-j", "juxian", "--run-as", "wangzr"]
    with running(serve, env, log) as proc:

        def registered() -> bool:
            assert proc.poll() is None, log.read_text()[-4000:]
            with prefect_api(api) as client:
                return len(client.read_deployments()) >= 4

        wait_until(registered, timeout=90, what="four deployments", log=log)
        yield env


def rows(url: str, sql: str) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_deployments_are_scheduled_by_cron_in_shanghai_and_active(
    prefect_server: tuple[str, Path], served: dict[str, str]
) -> None:
    api, _ = prefect_server
    specs = {s.full_name: s for s in deployment_specs(POLICY)}
    with prefect_api(api) as client:
        deployments = client.read_deployments()
        flows = {f.id: f.name for f in client.read_flows()}
        found = {f"{flows[d.flow_id]}/{d.name}": d for d in deployments}
        assert set(found) == set(specs)
        for name, dep in found.items():
            assert not dep.paused, name
            [sched] = dep.schedules
            assert sched.active, name
            assert sched.schedule.cron == specs[name].cron
            assert sched.schedule.timezone == "Asia/Shanghai"
        # the scheduler fills the next days of the daily tracker at 09:00 Shanghai time
        daily = found["daily-tracking/daily-tracking"]

        def scheduled() -> list[Any]:
            return [
                r
                for r in client.read_flow_runs(limit=20)
                if r.deployment_id == daily.id and r.state and r.state.is_scheduled()
            ]

        runs = wait_until(scheduled, timeout=60, what="scheduled daily-tracking runs")
    shanghai = {
        r.expected_start_time.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") for r in runs
    }
    assert shanghai == {"09:00"}
    assert all(r.expected_start_time > datetime.now(UTC) for r in runs)


def _run_deployment(env: dict[str, str], name: str, params: dict[str, Any]) -> UUID:
    out = prefect_cli(env, "deployment", "run", name, "--params", json.dumps(params))
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, out
    return UUID(match.group(1))


def test_mid_year_run_pauses_for_approval_and_the_form_input_resumes_it(
    prefect_server: tuple[str, Path], served: dict[str, str], app_db: str
) -> None:
    from prefect.flow_runs import resume_flow_run

    api, home = prefect_server
    parent_id = _run_deployment(
        served,
        "mid-year-assessment/mid-year-assessment",
        {
            "year": 2022,
            "as_of": "2022-07-04",
            "seed": 7,
            "jurisdiction": "juxian",
            "run_as": "wangzr",
        },
    )
    with prefect_api(api) as client:

        def paused() -> Any:
            parent = client.read_flow_run(parent_id)
            assert parent.state and not parent.state.is_final(), parent.state
            for run in client.read_flow_runs(limit=50):
                if run.name == "issue-problem-lists-juxian-2022-mid-year" and run.state.is_paused():
                    return run
            return None

        child = wait_until(paused, timeout=150, what="a paused issue-problem-lists run")
        # nothing reaches a department before approval
        assert rows(app_db, "SELECT count(*) FROM notification")[0][0] == 0
        assert rows(app_db, "SELECT count(*) FROM rectificationitem")[0][0] == 0
        [(drop_id,)] = rows(app_db, "SELECT id FROM finding WHERE key = 'mid-year:submission'")
        # a name that is no office user's login is refused (and recorded); the form asks again
        resume_flow_run(
            child.id,
            run_input={"approver": "王主任", "approve": True, "drop": [], "deadlines": []},
        )

        def refused() -> Any:
            return rows(app_db, "SELECT actor FROM auditlog WHERE action = 'access_denied'") or None

        assert wait_until(refused, timeout=60, what="the refusal") == [("王主任",)]
        child = wait_until(paused, timeout=60, what="the form asking again")
        assert rows(app_db, "SELECT count(*) FROM rectificationitem")[0][0] == 0
        # what the Resume form on the flow-run page submits; deadlines count from the day of
        # approval (approved_on; empty: the day it is submitted), so this replay of 2022 dates
        # its approval in 2022 for the 2022 tracker below to find the lists issued
        resume_flow_run(
            child.id,
            run_input={
                "approver": "wangzr",
                "approve": True,
                "drop": [{"finding_id": drop_id, "reason": "材料已于评估窗口后补交"}],
                "deadlines": [],
                "approved_on": "2022-07-05",
            },
        )

        def finished() -> Any:
            state = client.read_flow_run(parent_id).state
            return state if state and state.is_final() else None

        state = wait_until(finished, timeout=90, what="the mid-year run to finish")
    assert state.is_completed(), f"{state}\n{(home / 'serve.log').read_text()[-4000:]}"
    audit = rows(app_db, "SELECT actor, action, entity_key, details FROM auditlog ORDER BY id")
    approved = [a for a in audit if a.action == "problem_lists_approved"]
    assert [(a.actor, a.entity_key) for a in approved] == [("wangzr", "2022/mid-year")]
    dropped = [a for a in audit if a.action == "finding_dropped"]
    assert [(a.actor, a.entity_key) for a in dropped] == [("wangzr", str(drop_id))]
    details = dropped[0].details
    details = json.loads(details) if isinstance(details, str) else details
    assert details["reason"] == "材料已于评估窗口后补交"
    assert rows(app_db, f"SELECT status FROM finding WHERE id = {drop_id}") == [("dropped",)]
    assert rows(app_db, "SELECT count(*) FROM rectificationitem")[0][0] == 3


def test_daily_tracking_run_triggered_from_the_cli_completes(
    prefect_server: tuple[str, Path], served: dict[str, str], app_db: str
) -> None:
    api, home = prefect_server
    # 2022-10-08 is a Saturday worked in exchange for National Day (调休): a working day
    office(app_db, "office")  # the tracker runs as an office user (the run_as parameter)
    run_id = _run_deployment(
        served,
        "daily-tracking/daily-tracking",
        {"as_of": "2022-10-08", "jurisdiction": "juxian", "run_as": "office"},
    )
    with prefect_api(api) as client:

        def finished() -> Any:
            run = client.read_flow_run(run_id)
            return run if run.state and run.state.is_final() else None

        run = wait_until(finished, timeout=90, what="the daily-tracking run")
        assert run.state.is_completed(), f"{run.state}\n{(home / 'serve.log').read_text()[-4000:]}"
        children = [
            r
            for r in client.read_flow_runs(limit=50)
            if r.name == "track-rectifications-juxian-2022-10-08"
        ]
    assert [c.state.type.value for c in children] == ["COMPLETED"]
    # the tracker worked that day (a holiday would have left no mark) and the dispatcher
    # delivered the approved problem lists and the overdue notices to the sink
    assert rows(app_db, "SELECT value FROM jobstate") == [("2022-10-08",)]
    sent = rows(app_db, "SELECT kind FROM notification WHERE status = 'sent'")
    assert {k for (k,) in sent} >= {"problem_list"}
    assert any((home / "outbox").rglob("*"))


def _flow_run_events(api: str, run_id: UUID, name: str) -> list[dict[str, Any]]:
    """The server's events named `name` about one flow run."""
    import httpx

    body = {
        "filter": {
            "event": {"name": [name]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        },
        "limit": 50,
    }
    response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    return list(response.json()["events"])


def test_served_runs_keep_the_flow_heartbeat_and_cli_runs_go_without(
    prefect_server: tuple[str, Path], served: dict[str, str], app_db: str
) -> None:
    """Issue 13.2: a deployment run by `bihuan serve` sends Prefect's flow-run heartbeat (how the
    server notices a crashed run); the same flow started in-process by the CLI sends none (the
    heartbeat thread costs every in-process run up to a second, bihuan.runtime)."""
    api, home = prefect_server
    office(app_db, "office")
    served_id = _run_deployment(
        served,
        "daily-tracking/daily-tracking",
        {"as_of": "2022-10-10", "jurisdiction": "juxian", "run_as": "office"},
    )
    with prefect_api(api) as client:

        def finished() -> Any:
            run = client.read_flow_run(served_id)
            return run if run.state and run.state.is_final() else None

        run = wait_until(finished, timeout=90, what="the served daily-tracking run")
        assert run.state.is_completed(), f"{run.state}\n{(home / 'serve.log').read_text()[-4000:]}"
    beats = wait_until(
        lambda: _flow_run_events(api, served_id, "prefect.flow-run.heartbeat"),
        timeout=30,
        what="a heartbeat event of the served run",
    )
    assert beats[0]["resource"]["prefect.resource.id"] == f"prefect.flow-run.{served_id}"

    # the CLI: `bihuan track` runs the same flow in its own process, against the same server
    env = {**served, "BIHUAN_CLI_REQUIRE_PASSWORD": "false"}
    done = subprocess.run(
        [str(BIN / "bihuan"), "track", "--as-of", "2022-10-11", "--no-dispatch", "--json",
         "--as", "office", "--db", app_db, "-j", "juxian"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with prefect_api(api) as client:
        [cli_run] = [
            r
            for r in client.read_flow_runs(limit=50)
            if r.name == "track-rectifications-juxian-2022-10-11"
        ]
    assert cli_run.deployment_id is None and cli_run.state.is_completed()
    # once the run's last state change has reached the server's events, so would a heartbeat
    # sent at its start
    wait_until(
        lambda: _flow_run_events(api, cli_run.id, "prefect.flow-run.Completed"),
        timeout=30,
        what="the CLI run's Completed event",
    )
    assert _flow_run_events(api, cli_run.id, "prefect.flow-run.heartbeat") == []
