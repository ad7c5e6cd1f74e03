"""Server commands: `bihuan server` (a Prefect server on loopback), `bihuan serve` (run the
scheduled deployments), `bihuan deploy` (register them to a work pool), `bihuan deployments`.

Schedules, the UI, the approval form and workers need a real Prefect server: Prefect's local
(ephemeral) mode, which one-shot commands use, does not run the scheduler.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bihuan.cli import DbOpt, JsonOpt, console, ctx_for, err_console, print_json
from bihuan.errors import UserError

if TYPE_CHECKING:
    from bihuan.app import AppContext
    from bihuan.deployments import DeploymentSpec

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    app.command("deployments")(deployments)


def api_url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/api"


def require_server() -> str:
    """The configured Prefect API URL, checked to answer; else a message saying what to do."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise UserError(
            "PREFECT_API_URL is not set, and Prefect's local mode does not run schedules.\n"
            "Start a server in another shell with `bihuan server`, then here:\n"
            f"  export PREFECT_API_URL={api_url_for('127.0.0.1', 4200)}"
        )
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=5)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise UserError(
            f"no Prefect server answers at PREFECT_API_URL={url} ({type(exc).__name__}); "
            "start it with `bihuan server` or fix PREFECT_API_URL"
        ) from None
    return str(url)


def server_env(host: str, env: dict[str, str]) -> dict[str, str]:
    """The Prefect server's environment. Off loopback it must ask for a credential: the
    server has no users of its own, and its API runs flows and reads every artifact."""
    if host in LOOPBACK:
        return env
    auth = env.get("PREFECT_SERVER_API_AUTH_STRING", "")
    if ":" not in auth or len(auth.split(":", 1)[1]) < 12:
        raise UserError(
            f"refusing to listen on {host}: the Prefect server would be open to the network. "
            "Set PREFECT_SERVER_API_AUTH_STRING=user:password (a password of 12+ characters; "
            "clients then set PREFECT_API_AUTH_STRING to the same), or keep --host 127.0.0.1 "
            "and put an authenticating proxy in front"
        )
    # the server's own clients (its services, `bihuan serve` in this environment) use it too
    return {**env, "PREFECT_API_AUTH_STRING": env.get("PREFECT_API_AUTH_STRING") or auth}


def server(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port of the API and UI.")] = 4200,
) -> None:
    """Start a Prefect server (schedules, UI, approval forms) with the offline settings.

    Its database and logs stay in PREFECT_HOME (default var/prefect). Stop it with Ctrl-C."""
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    env = server_env(host, dict(os.environ))
    url = api_url_for(host, port)
    console.print(f"Prefect server starting; PREFECT_HOME={home}")
    console.print(f"  UI:   {url.removesuffix('/api')}")
    console.print(f"  in other shells:  export PREFECT_API_URL={url}")
    console.print("  then `bihuan serve` runs the scheduled deployments")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    # Forward a terminate to the server so a supervisor (systemd, a test) can stop us cleanly.
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise UserError(
            f"the Prefect server exited with code {code}; is port {port} already in use? try --port"
        )


def _warn_missing_stages(specs: list[DeploymentSpec]) -> None:
    from flows.scheduled import stage_available

    for spec in specs:
        missing = [n for n in spec.needs if not stage_available(n)]
        if missing:
            err_console.print(
                f"[yellow]warning:[/yellow] {spec.full_name} needs flows not installed yet "
                f"({', '.join(missing)}); its runs will fail until they are"
            )


JurisdictionsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--jurisdiction",
        "-j",
        help="A jurisdiction to schedule (repeat for several). Default: BIHUAN_JURISDICTION.",
    ),
]
RunAsOpt = Annotated[
    str | None,
    typer.Option(
        "--run-as",
        help="The office (编办) service account the scheduled runs act for "
        "(`bihuan users add scheduler --role office --no-password`). Default: BIHUAN_USER.",
    ),
]


def _scheduled(
    ctx: AppContext, jurisdictions: list[str] | None, run_as: str | None
) -> tuple[list[str], str]:
    """The jurisdictions to schedule and the checked user their runs act for."""
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    codes = list(dict.fromkeys(jurisdictions or [ctx.jurisdiction]))
    login = run_as or ctx.settings.user
    if not login:
        raise UserError(
            "scheduled runs act for an office user: give --run-as LOGIN (create a service "
            "account with `bihuan users add scheduler --role office --no-password`)"
        )
    with UnitOfWork(ctx, readonly=True) as uow:
        identity.scheduler_actor(uow, login, codes)
    return codes, login


def serve(jurisdiction: JurisdictionsOpt = None, run_as: RunAsOpt = None, db: DbOpt = None) -> None:
    """Register the scheduled deployments on the Prefect server and run them as they come due.

    Needs PREFECT_API_URL (see `bihuan server`). Schedules stay active when this stops."""
    from bihuan.deployments import build_deployments, deployment_specs
    from bihuan.migrate import require_current
    from bihuan.runtime import export_for_subprocesses

    api = require_server()
    ctx = ctx_for(db)
    require_current(ctx.db_url)
    codes, login = _scheduled(ctx, jurisdiction, run_as)
    export_for_subprocesses(ctx.db_url)
    _warn_missing_stages(deployment_specs(ctx.policy))
    deps = build_deployments(ctx.policy, jurisdictions=codes, run_as=login)
    console.print(
        f"serving {len(deps)} deployments for {', '.join(codes)} on {api}, run as {login}",
        highlight=False,
    )
    from prefect import serve as prefect_serve

    # pause_on_shutdown=False: a restart of this process must not silently pause the schedules.
    prefect_serve(*deps, pause_on_shutdown=False, print_starting_message=False)


def deploy(
    work_pool: Annotated[
        str, typer.Option("--work-pool", help="Prefect work pool the workers poll.")
    ],
    jurisdiction: JurisdictionsOpt = None,
    run_as: RunAsOpt = None,
    db: DbOpt = None,
) -> None:
    """Register the scheduled deployments to a work pool, for `prefect worker start -p POOL`.

    Workers run the flows from this project home and read BIHUAN_DATABASE_URL from their own
    environment."""
    from bihuan.deployments import build_deployments, deployment_specs

    require_server()
    ctx = ctx_for(db)
    codes, login = _scheduled(ctx, jurisdiction, run_as)
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(work_pool)
        except ObjectNotFound:
            raise UserError(
                f"no work pool {work_pool!r} on the Prefect server; create it with "
                f"`prefect work-pool create {work_pool} --type process`"
            ) from None
    _warn_missing_stages(deployment_specs(ctx.policy))
    for dep in build_deployments(
        ctx.policy, jurisdictions=codes, run_as=login, work_pool=work_pool
    ):
        dep.apply()
        console.print(f"registered {dep.flow_name}/{dep.name} → work pool {work_pool}")


def deployments(db: DbOpt = None, json: JsonOpt = False) -> None:
    """List the scheduled deployments with their cron schedule and time zone (from config)."""
    from bihuan.cli import print_table
    from bihuan.deployments import deployment_specs
    from flows.scheduled import stage_available

    ctx = ctx_for(db)
    data = []
    for spec in deployment_specs(ctx.policy):
        row = spec.to_dict()
        row["ready"] = all(stage_available(n) for n in spec.needs)
        data.append(row)
    if json:
        print_json(data)
        return
    print_table(
        "定时运行 deployments",
        ["deployment", "cron", "timezone", "ready"],
        [[d["full_name"], d["cron"], d["timezone"], d["ready"]] for d in data],
    )
