"""The portal's composition root: `create_app(ctx)` builds the FastAPI application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bihuan.app import AppContext
from bihuan.clock import utc_now
from bihuan.services.problems import ApprovalRuns
from bihuan.web import errors
from bihuan.web.routes import (
    admin,
    api,
    api_cycle,
    api_loop,
    audit,
    auth,
    common,
    issued_lists,
    office,
    rectification,
    results,
)
from bihuan.web.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    ctx: AppContext,
    *,
    clock: Callable[[], datetime] = utc_now,
    approval_runs: ApprovalRuns | None = None,
) -> FastAPI:
    """The portal over one installation and jurisdiction. `clock` gives "now" to the session
    and throttling rules (tests pass their own); `approval_runs` finds and resumes the paused
    issue-problem-lists runs of a Prefect server (None: no server, approvals apply here)."""
    app = FastAPI(
        title="闭环 bihuan API",
        summary="Departments, ledgers and (in coming releases) findings, problem lists and "
        "rectifications, scoped like the token's user.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    app.state.clock = clock
    app.state.approval_runs = approval_runs
    for router in (auth.public, auth.router, common.router, admin.router, audit.router):
        app.include_router(router)
    app.include_router(office.router)
    app.include_router(results.router)
    # the rectification loop: items, their moves and evidence, the queues, the issued lists
    for router in (rectification.router, issued_lists.router):
        app.include_router(router)
    app.include_router(api.router)
    app.include_router(api_cycle.router)
    app.include_router(api_loop.router)
    app.include_router(api.docs)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)
    app.add_middleware(SecurityHeaders, trust_proxy=ctx.settings.trust_proxy)
    return app


def healthz() -> dict[str, str]:
    """For a load balancer or systemd: the process answers (no database query, no data)."""
    return {"status": "ok"}
