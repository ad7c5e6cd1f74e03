"""Legacy entry points of the rectification ledger, for callers not yet on the use cases.

The ledger lives in bihuan/services/rectification.py (use cases: `act`, `list_items`,
`item_history`, `mark_alternative_lapsed`) and bihuan/repositories/rectification.py (queries).
What is left here serves code that still works on a bare session and without a user:

- bihuan/rectify_excel.py (the workbook import applies every row in one transaction):
  `jurisdiction_id`, `load_item`, `prepare`, `store` and the names it imports;
- tests of other areas that make a move without a user (tests/flows/test_track.py,
  tests/integration/test_rectify_excel.py): `act`.

Moves made here are audited with a free-text actor and no user id. Remove this module once
those callers run the use case with the acting user (services.rectification.prepare_act /
store_move per workbook row, services.rectification.act elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bihuan.app import AppContext, app_context
from bihuan.core.rectification import Action, ItemState, Role
from bihuan.core.workdays import WorkCalendar
from bihuan.db import session_scope
from bihuan.errors import UserError
from bihuan.repositories.org import JurisdictionRepo
from bihuan.repositories.rectification import LoadedItem, RectificationRepo
from bihuan.services.rectification import (
    PROGRESS,
    PROGRESS_LABEL,
    RESPOND,
    EvidenceFile,
    ItemNotFound,
    Outcome,
    PreparedMove,
    hash_evidence,
    prepare,
    store_move,
)
from bihuan.services.uow import UnitOfWork

__all__ = [
    "PROGRESS",
    "PROGRESS_LABEL",
    "RESPOND",
    "EvidenceFile",
    "LoadedItem",
    "Outcome",
    "PreparedMove",
    "act",
    "hash_evidence",
    "jurisdiction_id",
    "load_item",
    "prepare",
    "store",
]


class _SessionWork(UnitOfWork):
    """The repositories over a session the caller owns (and commits)."""

    def __init__(self, session: Session, app: AppContext) -> None:
        super().__init__(app)
        self._session = session


def jurisdiction_id(session: Session, code: str) -> int:
    jur = JurisdictionRepo(session).require(code)
    assert jur.id is not None
    return jur.id


def load_item(session: Session, jur_id: int, item_id: int) -> LoadedItem:
    loaded = RectificationRepo(session).load(jur_id, item_id)
    if loaded is None:
        raise ItemNotFound(item_id)
    return loaded


def store(
    session: Session,
    p: PreparedMove,
    *,
    var_dir: Path,
    source: dict[str, Any] | None = None,
) -> Outcome:
    """Write a prepared move in the caller's transaction (audited without a user id)."""
    work = _SessionWork(session, app_context(None, p.loaded.jurisdiction_code or None))
    return store_move(work, p, None, source=source, var_dir=var_dir)


def act(
    url: str,
    *,
    jurisdiction: str,
    item_id: int,
    action: Action | str,
    actor: str,
    role: Role,
    as_of: date,
    expected_version: int | None = None,
    reason: str = "",
    evidence: Sequence[Path | str] = (),
    evidence_refs: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
    var_dir: Path | None = None,
) -> ItemState:
    """One move in its own transaction, by a free-text `actor` in capacity `role` (no user,
    no permission check: for callers not yet moved onto services.rectification.act)."""
    if not actor.strip():
        raise UserError("say who acts (actor is empty)")
    app = app_context(url, jurisdiction)
    if action == Action.EXTEND and cal is None:
        cal = WorkCalendar.from_policy(app.policy.calendar)
    with session_scope(url) as session:
        loaded = load_item(session, jurisdiction_id(session, jurisdiction), item_id)
        prepared = prepare(
            loaded,
            action,
            actor=actor,
            role=role,
            as_of=as_of,
            expected_version=expected_version,
            reason=reason,
            evidence_files=hash_evidence(item_id, evidence),
            evidence_refs=evidence_refs,
            explanation=explanation,
            alternative=alternative,
            extend_by=extend_by,
            cal=cal,
        )
        store_move(
            _SessionWork(session, app),
            prepared,
            None,
            var_dir=var_dir or app.settings.var_dir,
        )
        return prepared.transition.item
