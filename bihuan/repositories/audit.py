"""The audit log (审计日志): every change and every refusal, with the user who made it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bihuan.core.access import Actor
from bihuan.db import audit


class AuditRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        actor: Actor | None,
        *,
        action: str,
        entity: str,
        key: str,
        jurisdiction_id: int | None = None,
        details: dict[str, Any] | None = None,
        login: str | None = None,
    ) -> None:
        """Append one row in the unit of work's transaction. `actor` None is only for what no
        user did (a failed sign-in of an unknown login); `login` then names who was tried."""
        audit(
            self.session,
            actor=actor.login if actor else (login or "?"),
            user_id=actor.user_id if actor else None,
            action=action,
            entity=entity,
            entity_key=key,
            jurisdiction_id=jurisdiction_id,
            details=details,
        )
