"""Policy use cases (政策配置): who may change config/policy.toml, and the record of each change."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bihuan.core.access import Actor, Permission
from bihuan.errors import UserError
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork


def check_may_change_policy(uow: UnitOfWork, actor: Actor, what: str) -> None:
    """Refuse (and record) unless the actor manages policy (an admin)."""
    require(uow, actor, Permission.MANAGE_POLICY, action=what)


def record_calendar_import(
    uow: UnitOfWork,
    actor: Actor,
    *,
    year: int,
    path: Path,
    holidays: int,
    workdays: int,
    as_of: date,
) -> None:
    """The audit row of an imported State Council holiday notice (节假日安排通知)."""
    check_may_change_policy(uow, actor, f"import the {year} holiday notice")
    uow.audit.record(
        actor,
        action="calendar_notice_imported",
        entity="policy",
        key=f"calendar.years.{year}",
        details={"path": str(path), "holidays": holidays, "workdays": workdays, "as_of": as_of},
    )


def refuse_shipped_default(path: Path) -> None:
    """The default policy inside an installed package is not the installation's to edit: an
    upgrade would silently replace it."""
    from bihuan.runtime import PACKAGE

    if path.resolve().is_relative_to((PACKAGE / "_config").resolve()):
        raise UserError(
            f"{path} is the default policy shipped inside the installed package; create the "
            "installation's own with `bihuan init DIR` (and BIHUAN_HOME=DIR), or give --config"
        )
