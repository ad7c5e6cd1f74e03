"""The permission check every use case starts with: the pure rules plus the user's state."""

from __future__ import annotations

from bihuan.core.access import Actor, Permission, Target, check
from bihuan.errors import PermissionDenied
from bihuan.services.uow import UnitOfWork


def require(
    uow: UnitOfWork,
    actor: Actor,
    permission: Permission,
    target: Target | None = None,
    *,
    action: str | None = None,
) -> None:
    """Refuse (PermissionDenied, recorded by the unit of work) unless `actor` may do it.

    The user is re-read once per transaction, so an account disabled after sign-in stops
    working at its next action. `action` names what was tried in the message (default: the
    permission)."""
    what = action or permission.value
    if actor.user_id not in uow.checked_users:
        user = uow.users.by_id(actor.user_id)
        if user is None or not user.active:
            _deny(actor, what, "the account is disabled", target)
        uow.checked_users.add(actor.user_id)
    reason = check(actor, permission, target)
    if reason is not None:
        # the role may do it, only not to this object: the portal answers 404 (see errors.py)
        _deny(actor, what, reason, target, out_of_scope=actor.can(permission))


def _deny(
    actor: Actor, action: str, reason: str, target: Target | None, *, out_of_scope: bool = False
) -> None:
    raise PermissionDenied(
        f"{actor.describe} may not {action}: {reason}",
        user_id=actor.user_id,
        login=actor.login,
        action=action,
        reason=reason,
        jurisdiction_id=(target.jurisdiction_id if target else None) or actor.jurisdiction_id,
        out_of_scope=out_of_scope,
    )


def jurisdiction_target(jurisdiction_id: int | None, what: str = "") -> Target:
    return Target(jurisdiction_id=jurisdiction_id, what=what)
