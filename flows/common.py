"""What every flow shares: the app context of a run, the acting user, as_of and phase handling."""

from __future__ import annotations

from datetime import date
from typing import Any

from bihuan.app import AppContext, app_context
from bihuan.clock import business_today
from bihuan.core.access import Actor, Permission
from bihuan.errors import UserError
from bihuan.vocab import PhaseKind


def flow_context() -> AppContext:
    """Flows read the database URL from settings (env), never from parameters: parameters are
    stored by Prefect and shown in its UI, and a URL may carry a password."""
    return app_context()


def flow_app(jurisdiction: str) -> AppContext:
    """The context of a run: the database from settings (never a parameter: a URL may carry a
    password), the jurisdiction from the run's own parameter, so Prefect records which county
    a run processed."""
    return app_context(None, jurisdiction)


def run_actor(app: AppContext, run_as: str, permission: Permission, what: str) -> Actor:
    """The user a run acts for (the `run_as` parameter: the CLI's signed-in user, or the
    deployment's service account), checked for `permission` in the run's jurisdiction."""
    from bihuan.core.access import Target
    from bihuan.services import identity
    from bihuan.services.authz import require
    from bihuan.services.uow import UnitOfWork

    with UnitOfWork(app, readonly=True) as uow:
        actor = identity.actor_for(uow, run_as)
        jur = uow.jurisdictions.get(app.jurisdiction)
        require(
            uow,
            actor,
            permission,
            Target(jurisdiction_id=jur.id if jur else None),
            action=f"{what} in {app.jurisdiction}",
        )
    return actor


def resolve_as_of(as_of: date | None) -> date:
    return as_of or business_today()


def parse_phase(phase: str | PhaseKind) -> PhaseKind:
    try:
        return PhaseKind(phase)
    except ValueError:
        raise UserError(f"unknown phase {phase!r}; use mid-year or year-end") from None


def artifact_key(*parts: object) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes only."""
    text = "-".join(str(p) for p in parts).lower()
    return "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in text).strip("-")


# Prefect's server refuses an event over 1.5 MB (PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES), and a
# table artifact travels as one: 10,000 departments' scores (2.5 MB) and board (4.3 MB) were
# refused ("Refusing to publish event"). A county has at most a few hundred rows.
ARTIFACT_ROWS = 1_000


def artifact_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """At most ARTIFACT_ROWS rows of a table artifact, and what to add to its description when
    some were left out."""
    if len(rows) <= ARTIFACT_ROWS:
        return rows, ""
    return rows[:ARTIFACT_ROWS], (
        f"; 仅列前 {ARTIFACT_ROWS} 行, 共 {len(rows)} 行, 完整名单见命令行或门户 "
        f"(first {ARTIFACT_ROWS} of {len(rows)} rows; all of them: the CLI or the portal)"
    )
