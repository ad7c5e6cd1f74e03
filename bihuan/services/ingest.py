"""Import use case (导入): a year's inputs from a workbook or a CSV folder, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from bihuan.app import AppContext
from bihuan.core.access import Actor, Permission, Target
from bihuan.ingest.load import ImportReport, ensure_schema, import_path
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork


class ImportCmd(BaseModel):
    path: Path
    year: int | None = None
    jurisdiction: str
    name: str | None = None  # the jurisdiction's name (县名) when created or renamed
    upgrade: bool = False  # migrate the schema first


def import_inputs(
    app: AppContext,
    cmd: ImportCmd,
    actor: Actor,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    peer_secret: str | None = None,
) -> ImportReport:
    """Check that `actor` may import into the jurisdiction, then validate everything and write
    all or nothing (bihuan.ingest.load). The importer runs its own transaction: a workbook is
    validated in full before its one write transaction begins."""
    ensure_schema(app.db_url, upgrade=cmd.upgrade)
    with UnitOfWork(app, readonly=True) as uow:
        jur = uow.jurisdictions.get(cmd.jurisdiction)
        target = Target(
            jurisdiction_id=jur.id if jur else None, what=f"jurisdiction {cmd.jurisdiction}"
        )
        if jur is None and actor.jurisdiction_id is not None:
            # a county's office may not create another county
            target = Target(jurisdiction_id=-1, what=f"jurisdiction {cmd.jurisdiction}")
        require(uow, actor, Permission.IMPORT, target, action=f"import {cmd.path.name}")
    return import_path(
        app.db_url,
        cmd.path,
        year=cmd.year,
        jurisdiction=cmd.jurisdiction,
        actor=actor.login,
        user_id=actor.user_id,
        jurisdiction_name=cmd.name,
        progress=progress,
        policy=app.policy,
        peer_secret=peer_secret or app.settings.peer_token_secret.get_secret_value(),
    )
