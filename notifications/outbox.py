"""The transactional outbox (发件箱), for code that still holds a bare session.

The outbox lives in `bihuan.repositories.notifications` (`uow.notifications.enqueue`, claims,
attempts, listings) and its use cases in `bihuan.services.notifications` (dispatch, list,
resend), with the delivery guarantees stated there. This module keeps `enqueue(session, ...)`
working for the callers not yet moved onto a unit of work.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from bihuan.core.outbox import NewMessage
from bihuan.repositories.notifications import NotificationRepo


def enqueue(
    session: Session,
    *,
    jurisdiction_id: int,
    key: str,
    department_id: int | None,
    recipient_tag: str,
    kind: str,
    subject: str,
    body: str,
    business_date: date,
    not_before: datetime | None = None,
) -> bool:
    """Add one message in the caller's transaction; False if the key was already there.

    It becomes due at the start of its business day (Asia/Shanghai) unless `not_before` says
    otherwise, so a simulated calendar (the demo, tests) and the real clock both work.
    """
    return NotificationRepo(session).enqueue(
        NewMessage(
            jurisdiction_id=jurisdiction_id,
            key=key,
            department_id=department_id,
            recipient_tag=recipient_tag,
            kind=kind,
            subject=subject,
            body=body,
            business_date=business_date,
            not_before=not_before,
        )
    )


__all__ = ["enqueue"]
