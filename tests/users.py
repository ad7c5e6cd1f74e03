"""Test helpers: users and actors made through the production use cases."""

from __future__ import annotations

from datetime import date

from pydantic import SecretStr

from bihuan.app import AppContext, app_context
from bihuan.core.access import Actor
from bihuan.services import identity
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole

TODAY = date(2026, 12, 3)
PASSWORD = "test-password-1"


def app_for(url: str, jurisdiction: str = "juxian") -> AppContext:
    return app_context(url, jurisdiction)


def make_user(
    url: str,
    login: str,
    role: UserRole | str,
    *,
    jurisdiction: str | None = "juxian",
    department: str | None = None,
    section: str = "",
    password: str | None = None,
    name: str = "",
) -> Actor:
    """Create a user (bootstrapping an admin first if the installation has none) and return
    its actor. Without `password` it is a service account (no hash to compute: fast)."""
    app = app_for(url, jurisdiction or "juxian")
    role = UserRole(role)
    with UnitOfWork(app) as uow:
        admin = None
        if uow.users.count() == 0 and role != UserRole.ADMIN:
            identity.add_user(
                uow,
                identity.AddUser(login="admin", role=UserRole.ADMIN),
                None,
                TODAY,
            )
            admin = identity.actor_for(uow, "admin")
        elif uow.users.count() > 0:
            first_admin = next(
                (u for u, _j, _d in uow.users.with_scope() if u.role == UserRole.ADMIN), None
            )
            admin = identity.actor_for(uow, first_admin.login) if first_admin else None
        identity.add_user(
            uow,
            identity.AddUser(
                login=login,
                display_name=name,
                role=role,
                jurisdiction=None if role == UserRole.ADMIN and not department else jurisdiction,
                department=department,
                section=section,
                password=SecretStr(password) if password else None,
            ),
            admin,
            TODAY,
        )
        return identity.actor_for(uow, login)


def office(url: str, login: str = "office", jurisdiction: str = "juxian") -> Actor:
    """An office (编办) user of the jurisdiction, created on first use."""
    with UnitOfWork(app_for(url, jurisdiction)) as uow:
        if uow.users.by_login(login) is not None:
            return identity.actor_for(uow, login)
    return make_user(url, login, UserRole.OFFICE, jurisdiction=jurisdiction, name="编办王主任")
