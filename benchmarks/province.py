"""A real province on Prefect's own machinery, and one giant jurisdiction (issue 13.3).

`python -m benchmarks.run --size province` (or `python -m benchmarks.province`):

1. Seeds 136 counties (县级, 40–120 departments each, about 10,000 in all; `--counties N` for
   fewer) into a PostgreSQL database of its own, `bihuan_bench_province_seed`, each county its
   own jurisdiction written by `benchmarks.synth.load`, with one provincial office service
   account (no jurisdiction: it may act in every county) that runs and approves the stages.
2. Starts `bihuan server` on a free loopback port with its own PREFECT_HOME under
   var/bench/province/, creates a process work pool and registers the `county-year` flow below
   as a deployment of it.
3. For 1 worker, then 2 workers (`prefect worker start --limit 1` each, so the number of
   workers is the number of counties running at once): copies the seeded database to
   `bihuan_bench_province` (CREATE DATABASE ... TEMPLATE, so both rounds start from the same
   data), submits one `county-year` flow run per county with the county as its parameter,
   starts the workers and waits until every county's run is final. Each county's run is a
   process of its own (the process worker's); inside it every stage of the year is a flow run
   of its own (a subflow, named after the county), so the server holds one flow run per county
   and stage. One county gets `fail_first_attempt=True`: its first attempt fails before the
   tracking stage, Prefect retries that county's run (`retries=1`) and the stages already done
   are re-run as the no-ops our natural keys make them; no other county is touched.
4. Samples every process the server and the workers start (VmHWM from /proc, once a second),
   and reads the per-county wall times from the server (start to end of each county's run).

Why stages are subflows, not deployment runs of their own: a process worker starts a fresh
Python process per run (3–7 s of imports here before any work), so 136 × 9 stage runs would spend
most of the province's time importing Prefect. The county's run keeps the flow heartbeat (the
server detects a crashed county by it); its stage subflows run in the same process without one
(Prefect's heartbeat costs every flow run up to 1 s when it ends: PLATFORM_NOTES).

`--size giant` runs `benchmarks.harness.run_size` for one jurisdiction of 10,000 departments on
PostgreSQL against a loopback Prefect server whose log is kept, to tell whether the server
refused any event as too large ("Refusing to publish event": a sign of large task parameters).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prefect import flow

from benchmarks.harness import PG_ADMIN_URL, YEAR

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VAR = REPO / "var" / "bench"
POOL = "bihuan-province"
DEPLOYMENT = "province-bench"
FLOW = "county-year"
OFFICE = "province-office"  # the provincial office's service account (every county)
RUN_DB = "bihuan_bench_province"
COUNTIES = 136  # Shandong's county-level divisions
MIN_DEPTS, MODE_DEPTS, MAX_DEPTS = 40, 60, 120  # triangular: mean 73, about 10,000 in all
FAIL_BEFORE = "collect_mid_year"  # where the injected failure stops a county's first attempt
REFUSED = "Refusing to publish event"


# ------------------------------------------------------------------------------------------
# The flow the workers run: one county's year, each stage a flow run of its own.


@flow(name=FLOW, flow_run_name="county-year-{jurisdiction}", retries=1, retry_delay_seconds=1)
def county_year(
    jurisdiction: str, run_as: str, fail_first_attempt: bool = False
) -> dict[str, float]:
    """Every stage of `jurisdiction`'s year in order, as `run_as`; returns seconds per stage.
    `fail_first_attempt` injects a failure before the tracking stage on the first attempt
    (the benchmark's retry-isolation check)."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from benchmarks.harness import _stages

    seconds: dict[str, float] = {}
    # The stage subflows share this process, whose own run keeps its heartbeat.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for name, call, _rows in _stages(jurisdiction, run_as):
            if fail_first_attempt and name == FAIL_BEFORE and flow_run.run_count <= 1:
                raise RuntimeError(f"injected failure in {jurisdiction} before {name} (attempt 1)")
            started = time.perf_counter()
            call()
            seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


# ------------------------------------------------------------------------------------------
# Data: the counties, their database.


def county_sizes(counties: int = COUNTIES, seed: int = 7) -> list[tuple[str, int]]:
    """(jurisdiction code, departments) per county, 40–120 departments each."""
    rng = random.Random(seed)
    return [
        (f"c{k + 1:03d}", round(rng.triangular(MIN_DEPTS, MAX_DEPTS, MODE_DEPTS)))
        for k in range(counties)
    ]


def database_url(name: str) -> str:
    """The URL of database `name` on the benchmark's PostgreSQL server."""
    parts = urlsplit(PG_ADMIN_URL)
    return f"{parts.scheme}://{parts.netloc}/{name}"


def _admin() -> Any:
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def create_database(name: str, template: str | None = None) -> str:
    """(Re)create database `name` (a benchmark database only), empty or copied from `template`."""
    from sqlalchemy import text

    if not name.startswith("bihuan_bench_"):
        raise ValueError(f"refusing to create or drop {name!r}: not a bihuan_bench_ database")
    drop_database(name)
    admin = _admin()
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        admin.dispose()
    return database_url(name)


def drop_database(name: str) -> None:
    from sqlalchemy import text

    from bihuan.db import get_engine

    if not name.startswith("bihuan_bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a bihuan_bench_ database")
    get_engine(database_url(name)).dispose()
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def seed_province(
    url: str,
    sizes: list[tuple[str, int]],
    *,
    seed: int = 7,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Migrate `url` and write every county into it, then the provincial office account."""
    from benchmarks.synth import Size, load
    from bihuan.app import app_context
    from bihuan.db import get_engine
    from bihuan.migrate import upgrade
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork
    from bihuan.vocab import UserRole

    upgrade(url)
    engine = get_engine(url)
    policy = app_context(url).policy
    started, rows = time.perf_counter(), 0
    for k, (code, departments) in enumerate(sizes):
        summary = load(
            engine, Size(code, departments), policy=policy, year=YEAR, seed=seed * 1000 + k,
            jurisdiction=code,
        )  # fmt: skip
        rows += summary.total_rows
        if (k + 1) % 20 == 0 or k + 1 == len(sizes):
            log(f"  seeded {k + 1}/{len(sizes)} counties, {rows:,} rows")
    today = date(YEAR, 1, 1)
    with UnitOfWork(app_context(url, sizes[0][0])) as uow:
        identity.add_user(
            uow, identity.AddUser(login="bench-admin", role=UserRole.ADMIN), None, today
        )
        admin = identity.actor_for(uow, "bench-admin")
        identity.add_user(uow, identity.AddUser(login=OFFICE, role=UserRole.OFFICE), admin, today)
    engine.dispose()
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def all_recipient_tags(url: str, codes: list[str]) -> list[str]:
    """Every apprise tag of every county (one loopback SMTP config serves them all)."""
    from bihuan.app import app_context
    from bihuan.services import identity, notifications
    from bihuan.services.uow import UnitOfWork

    tags: set[str] = set()
    for code in codes:
        with UnitOfWork(app_context(url, code), readonly=True) as uow:
            office = identity.actor_for(uow, OFFICE)
            tags.update(notifications.recipient_tags(uow, office, code))
    return sorted(tags)


# ------------------------------------------------------------------------------------------
# Processes: the Prefect server and the workers, each in a session of its own.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A subprocess's environment: no inherited Prefect or bihuan settings, nothing reaches out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BIHUAN_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_LOGGING_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PREFECT_WORKER_QUERY_SECONDS="1",  # default 10: an idle worker would wait that long
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        BIHUAN_CONFIG_DIR=str(REPO / "config"),
        BIHUAN_HOME=str(home),
        PYTHONPATH=str(REPO),  # the flow-run processes import benchmarks.*
    )
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process group we created for `proc`, then kill what lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with suppress(ProcessLookupError):
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop(proc)


def wait_healthy(api: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Prefect server exited ({proc.returncode}):\n{_tail(log)}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"Prefect server not healthy after {timeout} s:\n{_tail(log)}")


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextmanager
def prefect_server(home: Path) -> Iterator[tuple[str, Path, int]]:
    """`bihuan server` on a free loopback port with PREFECT_HOME `home`; yields (api, log,
    the server's process id)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = home / "server.log"
    cmd = [str(BIN / "bihuan"), "server", "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, offline_env(home), log) as proc:
        wait_healthy(api, proc, log)
        yield api, log, proc.pid


@contextmanager
def prefect_api(api: str) -> Iterator[Any]:
    """Within the block this process's Prefect calls go to `api`; yields a sync client."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        yield client


class RssMonitor:
    """Peak resident memory (VmHWM) of every process under the given roots, once a second.

    Each root is labelled (server, worker); the processes a worker starts are `flow_run`."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.roots: dict[int, str] = {}
        self.peaks: dict[int, tuple[str, float, str]] = {}  # pid -> (role, MB, command)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-monitor", daemon=True)

    def watch(self, pid: int, role: str) -> None:
        self.roots[pid] = role

    def __enter__(self) -> RssMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        import psutil

        for root, role in list(self.roots.items()):
            try:
                proc = psutil.Process(root)
                family = [(proc, role)] + [
                    (child, "flow_run" if role == "worker" else role)
                    for child in proc.children(recursive=True)
                ]
            except psutil.Error:
                continue
            for p, r in family:
                mb = _hwm_mb(p.pid)
                if mb is None:
                    continue
                if role == "worker" and r == "flow_run" and not self._is_flow_run(p):
                    continue
                old = self.peaks.get(p.pid)
                if old is None or mb > old[1]:
                    cmd = old[2] if old else _cmdline(p)
                    self.peaks[p.pid] = (r, mb, cmd)

    @staticmethod
    def _is_flow_run(p: Any) -> bool:
        # the flow-run process itself, not a short-lived helper it starts (e.g. `uname`)
        return "python" in _cmdline(p)

    def by_role(self) -> dict[str, dict[str, float]]:
        out: dict[str, list[float]] = {}
        for role, mb, _cmd in self.peaks.values():
            out.setdefault(role, []).append(mb)
        return {
            role: {"processes": len(v), "max": round(max(v), 1), "p50": round(_pct(v, 50), 1)}
            for role, v in sorted(out.items())
        }

    def max_mb(self) -> float:
        return round(max((mb for _r, mb, _c in self.peaks.values()), default=0.0), 1)


def _cmdline(p: Any) -> str:
    with suppress(Exception):
        return " ".join(p.cmdline())[:200]
    return ""


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ------------------------------------------------------------------------------------------
# The province: seed once, run with 1 then 2 workers.


def create_pool_and_deployment(api: str) -> Any:
    """The process work pool and the `county-year` deployment bound to it; returns its id."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.runner.storage import LocalStorage
    from prefect.workers.process import ProcessWorker

    with prefect_api(api) as client:  # what `prefect work-pool create POOL --type process` does
        client.create_work_pool(
            WorkPoolCreate(
                name=POOL, type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ),
            overwrite=True,
        )  # fmt: skip
    with prefect_api(api):
        deployment = county_year.to_deployment(
            name=DEPLOYMENT, work_pool_name=POOL, tags=["bihuan-bench"],
            description="One county's year, each stage a subflow (benchmarks/province.py)",
        )  # fmt: skip
        # like bihuan.deployments.build_deployments: the worker runs this checkout's code
        deployment.entrypoint = "benchmarks/province.py:county_year"
        deployment.storage = LocalStorage(path=str(REPO))
        return deployment.apply()


def _read_runs(client: Any, **filters: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter

    out, offset = [], 0
    while True:
        page = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(**filters), limit=200, offset=offset
        )
        out += page
        if len(page) < 200:
            return out
        offset += 200


def run_round(
    *,
    api: str,
    server_pid: int,
    home: Path,
    deployment_id: Any,
    url: str,
    codes: list[str],
    workers: int,
    fail: str | None,
    apprise: Path,
    timeout: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Submit one county-year run per county, run them with `workers` workers, collect."""
    from prefect.client.schemas.filters import (
        FlowRunFilterDeploymentId,
        FlowRunFilterParentFlowRunId,
    )

    env = offline_env(
        home, PREFECT_API_URL=api, BIHUAN_DATABASE_URL=url, BIHUAN_APPRISE_CONFIG=str(apprise)
    )
    with prefect_api(api) as client:
        submitted = {
            code: client.create_flow_run_from_deployment(
                deployment_id,
                parameters={"jurisdiction": code, "run_as": OFFICE,
                            "fail_first_attempt": code == fail},
                tags=[f"workers-{workers}"],
            ).id
            for code in codes
        }  # fmt: skip
    log(f"  submitted {len(submitted)} county runs; starting {workers} worker(s)")
    logs = [home / f"worker-{workers}-{i + 1}.log" for i in range(workers)]
    with RssMonitor() as rss, ExitStack() as stack:
        started = time.perf_counter()
        for i in range(workers):
            cmd = [str(BIN / "prefect"), "worker", "start", "-p", POOL, "--type", "process",
                   "--limit", "1", "--name", f"province-{workers}-{i + 1}"]  # fmt: skip
            proc = stack.enter_context(running(cmd, env, logs[i]))
            rss.watch(proc.pid, "worker")
        # the server's processes are measured too (its RSS grows with the flow runs it holds)
        rss.watch(server_pid, "server")
        runs: list[Any] = []
        with prefect_api(api) as client:
            while True:
                runs = _read_runs(
                    client, deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])
                )
                mine = [r for r in runs if r.id in set(submitted.values())]
                final = sum(1 for r in mine if r.state and r.state.is_final())
                elapsed = time.perf_counter() - started
                if final == len(submitted):
                    break
                if elapsed > timeout:
                    raise RuntimeError(
                        f"{len(submitted) - final} county runs not final after {timeout:.0f} s"
                    )
                time.sleep(2)
            wall = time.perf_counter() - started
            by_id = {r.id: r for r in mine}
            stages = _read_runs(
                client, parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=list(by_id))
            )
            flows = {f.id: f.name for f in client.read_flows(limit=200)}
            # from the worker taking a run (Pending) to the run starting in its process
            latency = {code: _start_latency(client, run_id) for code, run_id in submitted.items()}
    refused = sum(p.read_text(errors="replace").count(REFUSED) for p in logs)
    result = _summarise(
        workers, wall, submitted, by_id, stages, flows, rss, fail=fail, refused=refused
    )
    starts = [v for v in latency.values() if v is not None]
    result["process_start_seconds"] = {
        "p50": round(_pct(starts, 50), 2), "max": round(max(starts, default=0.0), 2)
    }  # fmt: skip
    return result


def _start_latency(client: Any, run_id: Any) -> float | None:
    states = sorted(client.read_flow_run_states(run_id), key=lambda st: st.timestamp)
    pending = next((st.timestamp for st in states if st.type.value == "PENDING"), None)
    running = next((st.timestamp for st in states if st.type.value == "RUNNING"), None)
    if pending is None or running is None:
        return None
    return (running - pending).total_seconds()


def _stage_key(run: Any, flows: dict[Any, str]) -> str:
    name = flows.get(run.flow_id, "?")
    phase = (run.parameters or {}).get("phase")
    return f"{name}:{phase}" if phase else name


def _summarise(
    workers: int,
    wall: float,
    submitted: dict[str, Any],
    runs: dict[Any, Any],
    stages: list[Any],
    flows: dict[Any, str],
    rss: RssMonitor,
    *,
    fail: str | None,
    refused: int,
) -> dict[str, Any]:
    county_seconds: dict[str, float] = {}
    states: dict[str, str] = {}
    run_counts: dict[str, int] = {}
    for code, run_id in submitted.items():
        run = runs[run_id]
        states[code] = run.state.type.value if run.state else "?"
        run_counts[code] = run.run_count
        if run.start_time and run.end_time:
            county_seconds[code] = round((run.end_time - run.start_time).total_seconds(), 2)
    per_stage: dict[str, dict[str, int]] = {}  # county -> stage -> completed runs
    stage_seconds: dict[str, list[float]] = {}
    for s in stages:
        code = (s.parameters or {}).get("jurisdiction")  # every stage flow names its county
        if s.state and s.state.is_completed():
            per = per_stage.setdefault(str(code), {})
            key = _stage_key(s, flows)
            per[key] = per.get(key, 0) + 1
            if s.start_time and s.end_time:
                took = (s.end_time - s.start_time).total_seconds()
                stage_seconds.setdefault(key, []).append(took)
    stage_keys = sorted({k for per in per_stage.values() for k in per})
    one_per_stage = all(
        per_stage.get(code, {}).get(k) == 1 for code in submitted for k in stage_keys
    )
    values = list(county_seconds.values())
    others = [c for c in submitted if c != fail]
    return {
        "workers": workers,
        "total_seconds": round(wall, 1),
        "counties": len(submitted),
        "completed": sum(1 for s in states.values() if s == "COMPLETED"),
        "states": sorted(set(states.values())),
        "per_county": {
            "min": round(min(values, default=0), 2),
            "p50": round(_pct(values, 50), 2),
            "p90": round(_pct(values, 90), 2),
            "max": round(max(values, default=0), 2),
            "slowest": max(county_seconds, key=lambda c: county_seconds[c]) if values else None,
        },
        "county_seconds": county_seconds,
        "stage_runs": len(stages),
        "stage_seconds_mean": {
            k: round(statistics.fmean(v), 2) for k, v in sorted(stage_seconds.items())
        },
        "stages_per_county": len(stage_keys),
        "one_completed_run_per_county_and_stage": one_per_stage,
        "retry": {
            "county": fail,
            "run_count": run_counts.get(fail) if fail else None,
            "state": states.get(fail) if fail else None,
            "others_completed_first_attempt": all(
                states[c] == "COMPLETED" and run_counts[c] == 1 for c in others
            ),
        },
        "peak_rss_mb": rss.max_mb(),
        "peak_rss_mb_by_role": rss.by_role(),
        "refused_events": refused,
    }


def run_province(
    *,
    counties: int = COUNTIES,
    workers: tuple[int, ...] = (1, 2),
    departments: int | None = None,
    seed: int = 7,
    fail: bool = True,
    keep: bool = False,
    timeout: float | None = None,
    home: Path | None = None,
    database: str = RUN_DB,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The province benchmark; returns latest.json's `province` object. `departments` gives
    every county the same size (tests); the default draws 40–120 per county. `home` (default
    var/bench/province) holds the Prefect server's home and the logs; `database` names the
    database the rounds run in (its seed is `database`_seed)."""
    from benchmarks.smtp import CountingSmtp, write_config

    sizes = county_sizes(counties, seed)
    if departments is not None:
        sizes = [(code, departments) for code, _n in sizes]
    codes = [code for code, _n in sizes]
    total_depts = sum(n for _c, n in sizes)
    failing = codes[len(codes) // 2] if fail and codes else None
    seed_db = f"{database}_seed"
    home = home or VAR / "province"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    log(f"province: {len(sizes)} counties, {total_depts:,} departments → {seed_db}")
    seed_url = create_database(seed_db)
    rounds: dict[int, dict[str, Any]] = {}
    try:
        seeded = seed_province(seed_url, sizes, seed=seed, log=log)
        log(f"  seeded {seeded['rows']:,} rows in {seeded['seconds']} s")
        apprise = home / "apprise.yml"
        with (
            CountingSmtp() as smtp,
            prefect_server(home / "prefect") as (api, server_log, server_pid),
        ):
            write_config(apprise, smtp, all_recipient_tags(seed_url, codes))
            from bihuan.db import get_engine

            get_engine(seed_url).dispose()  # a template database must have no connections
            deployment_id = create_pool_and_deployment(api)
            for n in workers:
                url = create_database(database, template=seed_db)
                load_before = round(os.getloadavg()[0], 1)
                mails_before = smtp.received
                log(f"  round: {n} worker(s)")
                result = run_round(
                    api=api, server_pid=server_pid, home=home / "prefect", deployment_id=deployment_id, url=url,
                    codes=codes, workers=n, fail=failing, apprise=apprise,
                    timeout=timeout or 600 + 300 * len(codes) / n,
                    log=log,
                )  # fmt: skip
                result["mails"] = smtp.received - mails_before
                result["load_average_1m"] = [load_before, round(os.getloadavg()[0], 1)]
                rounds[n] = result
                pc = result["per_county"]
                log(
                    f"  {n} worker(s): {result['total_seconds']} s, {result['completed']}/"
                    f"{len(codes)} completed, per county p50 {pc['p50']} s p90 {pc['p90']} s "
                    f"max {pc['max']} s, peak RSS {result['peak_rss_mb']} MB "
                    f"{result['peak_rss_mb_by_role']}"
                )
                log(f"  retry: {result['retry']}; one run per county and stage: "
                    f"{result['one_completed_run_per_county_and_stage']}")  # fmt: skip
            server_refused = server_log.read_text(errors="replace").count(REFUSED)
    finally:
        if not keep:
            drop_database(database)
            drop_database(seed_db)
    best = rounds[max(rounds)] if rounds else {}
    return {
        "jurisdictions": len(sizes),
        "departments": total_depts,
        "departments_per_county": {"min": min(n for _c, n in sizes),
                                   "max": max(n for _c, n in sizes)},
        "rows_loaded": seeded["rows"],
        "load_seconds": seeded["seconds"],
        "workers": {n: r["total_seconds"] for n, r in rounds.items()},
        "total_seconds": best.get("total_seconds"),
        "peak_rss_mb": max((r["peak_rss_mb"] for r in rounds.values()), default=None),
        "per_county": {k: v for k, v in best.get("per_county", {}).items()},
        "stage_runs_per_county": best.get("stages_per_county"),
        "one_completed_run_per_county_and_stage": all(
            r["one_completed_run_per_county_and_stage"] for r in rounds.values()
        ),
        "retry": {n: r["retry"] for n, r in rounds.items()},
        "refused_events": server_refused + sum(r["refused_events"] for r in rounds.values()),
        "rounds": {n: {k: v for k, v in r.items() if k != "county_seconds"}
                   for n, r in rounds.items()},
        "county_seconds": best.get("county_seconds", {}),
    }  # fmt: skip


# ------------------------------------------------------------------------------------------
# The giant: one jurisdiction of 10,000 departments, against a server whose log we keep.


def run_giant(
    *, seed: int = 7, size: str = "giant", log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`harness.run_size("giant", "postgresql")` with PREFECT_API_URL at a loopback server."""
    from benchmarks.harness import run_size

    home = VAR / size
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with prefect_server(home / "prefect") as (api, server_log, _pid):
        saved = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api
        try:
            with prefect_api(api):
                result = run_size(size, "postgresql", home / "work", seed=seed, log=log)
        finally:
            if saved is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = saved
        refused = server_log.read_text(errors="replace").count(REFUSED)
    result["refused_events"] = refused
    log(f"{size}: {result['total_seconds']} s, peak RSS {result['peak_rss_mb']} MB, "
        f"'{REFUSED}' {refused} time(s)")  # fmt: skip
    return result


# ------------------------------------------------------------------------------------------
# BENCHMARKS.md section.


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def render_markdown(province: dict[str, Any] | None, giant: dict[str, Any] | None) -> str:
    """The province and giant section of BENCHMARKS.md (empty when neither ran)."""
    lines: list[str] = []
    if province:
        p = province
        total = p.get("total_seconds")
        rss = p.get("peak_rss_mb")
        lines += [
            "## Province: many counties on a Prefect work pool (`make bench SIZE=province`)",
            "",
            f"{p['jurisdictions']} jurisdictions of {p['departments_per_county']['min']}–"
            f"{p['departments_per_county']['max']} departments ({p['departments']:,} in all, "
            f"{p['rows_loaded']:,} rows seeded in {p['load_seconds']} s) in one PostgreSQL "
            "database; a loopback Prefect server, a process work pool, one `county-year` run "
            "per county (each stage a subflow run of its own), workers with `--limit 1`.",
            "",
            "| workers | wall s | completed | per county p50 s | p90 s | max s | peak RSS MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, r in sorted(p.get("rounds", {}).items(), key=lambda kv: int(kv[0])):
            c = r["per_county"]
            lines.append(
                f"| {n} | {r['total_seconds']} | {r['completed']}/{r['counties']} | {c['p50']} | "
                f"{c['p90']} | {c['max']} | {r['peak_rss_mb']} |"
            )
        lines += [""]
        for n, r in sorted(p.get("rounds", {}).items(), key=lambda kv: int(kv[0])):
            roles = ", ".join(
                f"{role} {v['max']} MB (max of {v['processes']})"
                for role, v in r["peak_rss_mb_by_role"].items()
            )
            lines.append(f"- peak RSS per process, {n} worker(s): {roles}")
        retry = next(iter(p.get("retry", {}).values()), None)
        if retry and retry.get("county"):
            lines.append(
                f"- retry isolation: county {retry['county']} failed its first attempt "
                f"(injected) and was retried by Prefect (run_count {retry['run_count']}, final "
                f"{retry['state']}); every other county completed on its first attempt: "
                f"{'yes' if retry['others_completed_first_attempt'] else 'NO'}"
            )
        best = p.get("rounds", {}).get(max(p.get("rounds") or {0: 0}, key=int), {})
        if best:
            means = ", ".join(f"{k} {v}" for k, v in best["stage_seconds_mean"].items())
            start = best["process_start_seconds"]
            lines.append(
                f"- where a county's time goes ({best['workers']} workers, mean s per stage "
                f"subflow): {means}; a worker taking a run until it runs (a new process): "
                f"p50 {start['p50']} s, max {start['max']} s; load average (1 min) before and "
                f"after: {best.get('load_average_1m')}"
            )
        if total is not None and p["jurisdictions"] < COUNTIES:
            total = round(total * COUNTIES / p["jurisdictions"], 1)
            lines.append(
                f"- a reduced run ({p['jurisdictions']} of {COUNTIES} counties): the whole "
                f"province at the same rate would take about {total} s"
            )
        lines += [
            f"- one completed flow run per county and stage: "
            f"{'yes' if p.get('one_completed_run_per_county_and_stage') else 'NO'} "
            f"({p.get('stage_runs_per_county')} stages per county)",
            f"- goal: the province's year < 10 minutes: {_met(total is not None and total < 600)}"
            f" ({total} s with {max(p.get('workers') or {0: 0}, key=int)} workers); "
            f"every process < 1 GB: {_met(rss is not None and rss < 1024)} ({rss} MB)",
            "",
        ]
    if giant:
        g = giant
        lines += [
            "## Giant: one jurisdiction of 10,000 departments (`make bench SIZE=giant`)",
            "",
            f"PostgreSQL, against a loopback Prefect server: {g['total_seconds']} s for the "
            f"year, peak RSS {g['peak_rss_mb']} MB; the server refused "
            f'{g.get("refused_events", "?")} event(s) as too large ("{REFUSED}").',
            "",
            "| stage | seconds |",
            "|---|---|",
            *[f"| {k} | {v} |" for k, v in g.get("stages", {}).items()],
            "",
            f"- goal < 5 minutes: {_met(g['total_seconds'] < 300)}; < 2 GB: "
            f"{_met(g['peak_rss_mb'] < 2048)}; no large parameters: "
            f"{_met(g.get('refused_events') == 0)}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The province benchmark (issue 13.3).")
    parser.add_argument("--counties", type=int, default=COUNTIES)
    parser.add_argument("--departments", type=int, default=None, help="same size for each county")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--giant", action="store_true", help="run the giant jurisdiction instead")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    if args.giant:
        result = {"giant": run_giant(seed=args.seed, log=log)}
    else:
        workers = tuple(int(w) for w in args.workers.split(",") if w.strip())
        result = {
            "province": run_province(
                counties=args.counties, workers=workers, departments=args.departments,
                seed=args.seed, keep=args.keep, log=log,
            )
        }  # fmt: skip
    text = json.dumps(result, indent=1, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
