"""What every flow shares: the app context, the cycle and phase it works on, as_of handling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from bihuan.app import AppContext, app_context
from bihuan.core.access import Actor, Permission
from bihuan.db import get_jurisdiction
from bihuan.errors import UserError
from models import Cycle, Jurisdiction, Phase, PhaseKind, business_today


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


@dataclass(frozen=True)
class Scope:
    jurisdiction: Jurisdiction
    cycle: Cycle
    phase: Phase

    @property
    def jurisdiction_id(self) -> int:
        assert self.jurisdiction.id is not None
        return self.jurisdiction.id

    @property
    def cycle_id(self) -> int:
        assert self.cycle.id is not None
        return self.cycle.id

    @property
    def phase_id(self) -> int:
        assert self.phase.id is not None
        return self.phase.id


def load_scope(session: Session, ctx: AppContext, year: int, phase: PhaseKind) -> Scope:
    """The jurisdiction, cycle and phase rows a run works on, or a clear error."""
    jur = get_jurisdiction(session, ctx.jurisdiction)
    if jur is None:
        raise UserError(
            f"no jurisdiction {ctx.jurisdiction!r} in the database; load one with `bihuan import`"
        )
    cycle = session.exec(
        select(Cycle).where(Cycle.jurisdiction_id == jur.id, Cycle.year == year)
    ).first()
    if cycle is None:
        raise UserError(
            f"no {year} cycle for {ctx.jurisdiction!r}; import its ledger with "
            f"`bihuan import PATH --year {year}`"
        )
    row = session.exec(select(Phase).where(Phase.cycle_id == cycle.id, Phase.kind == phase)).first()
    if row is None:
        window = getattr(ctx.policy.phases, phase.name.lower())
        row = Phase(
            cycle_id=cycle.id,  # type: ignore[arg-type]
            kind=phase,
            window_start=window.opens.on(year),
            window_end=window.closes.on(year),
        )
        session.add(row)
        session.flush()
    return Scope(jurisdiction=jur, cycle=cycle, phase=row)


def artifact_key(*parts: object) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes only."""
    text = "-".join(str(p) for p in parts).lower()
    return "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in text).strip("-")
