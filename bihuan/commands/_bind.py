"""Transitional (issue 9): the environment binding of the commands whose flows still read the
jurisdiction from settings (problems, results, notify) and of `bihuan serve`, whose deployment
runs start in subprocesses that see only the environment. Goes away when they take the
jurisdiction as a parameter; the assessment commands (commands/cycle.py) no longer use it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bihuan.cli import ctx_for

if TYPE_CHECKING:
    from bihuan.app import AppContext


def bind_flows_to(db: str | None, jurisdiction: str | None) -> AppContext:
    """Flows read the database and jurisdiction from the environment (never from parameters,
    which Prefect stores and shows); point them at what the command was given."""
    from bihuan.migrate import require_current
    from bihuan.settings import reset_settings

    ctx = ctx_for(db, jurisdiction)
    require_current(ctx.db_url)
    os.environ["BIHUAN_DATABASE_URL"] = ctx.db_url
    os.environ["BIHUAN_JURISDICTION"] = ctx.jurisdiction
    reset_settings()
    return ctx
