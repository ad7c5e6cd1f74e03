"""Identity use cases (账号): sign-in, the actor of a run, and user management by an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from bihuan.core.access import Actor, Permission, Target
from bihuan.errors import AuthenticationError, UserError
from bihuan.services.authz import require
from bihuan.services.passwords import check_strength, hash_password, verify_password
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from models import User, utc_now

LOGIN_PATTERN = r"^[A-Za-z0-9_.@-]{2,64}$"


class AddUser(BaseModel):
    """`bihuan users add`: who, with which role and scope."""

    login: str = Field(pattern=LOGIN_PATTERN)
    display_name: str = ""
    role: UserRole
    jurisdiction: str | None = None  # code; None = every jurisdiction (not for department)
    department: str | None = None  # code, for the department role
    section: str = ""  # supervising section name, for the section role
    password: SecretStr | None = None  # None: a service account that cannot sign in
    must_change_password: bool = True


class UserView(BaseModel):
    """A user as `bihuan users list --json` and the portal show it (never the hash)."""

    login: str
    display_name: str
    role: UserRole
    role_label: str
    jurisdiction: str | None
    department: str | None
    section: str
    active: bool
    can_sign_in: bool
    must_change_password: bool
    last_login_at: str | None


@dataclass(frozen=True)
class Bootstrap:
    """Whether the installation has no users yet (the first admin may be created freely)."""

    empty: bool


# ------------------------------------------------------------------ actors


def _actor(uow: UnitOfWork, user: User) -> Actor:
    jur, dept = uow.users.codes(user)
    return Actor(
        user_id=user.id or 0,
        login=user.login,
        display_name=user.display_name or user.login,
        role=UserRole(user.role),
        jurisdiction_id=user.jurisdiction_id,
        jurisdiction_code=jur,
        department_id=user.department_id,
        department_code=dept,
        section=user.section,
        active=user.active,
    )


def actor_for(uow: UnitOfWork, login: str) -> Actor:
    """The actor of a run started by someone already trusted (a Prefect deployment, a local
    shell where the installation does not require a password): the user must exist and be
    active."""
    user = uow.users.by_login(login)
    if user is None:
        raise UserError(
            f"no user {login!r}; create it with `bihuan users add {login} --role ...` "
            "(see `bihuan users list`)"
        )
    if not user.active:
        raise AuthenticationError(f"user {login!r} is disabled")
    return _actor(uow, user)


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked against the stored hash (Argon2, the slow part of a sign-in), in a
    read transaction so that no write lock is held meanwhile; `finish_sign_in` then records the
    outcome in a short write transaction."""

    ok: bool
    password_hash: str  # the hash the password was checked against ("" for an unknown login)


def check_password(uow: UnitOfWork, login: str, password: str) -> PasswordCheck:
    user = uow.users.by_login(login)
    stored = user.password_hash if user else ""
    ok = verify_password(password, stored) and user is not None and user.active
    return PasswordCheck(ok=ok, password_hash=stored)


def sign_in(
    uow: UnitOfWork, login: str, password: str, *, via: str = "cli", address: str = ""
) -> Actor:
    """Check a password; a failure is audited (with the client's address, from the portal) and
    says nothing about which part was wrong."""
    return finish_sign_in(
        uow, login, check_password(uow, login, password), via=via, address=address
    )


def finish_sign_in(
    uow: UnitOfWork, login: str, check: PasswordCheck, *, via: str = "cli", address: str = ""
) -> Actor:
    """Record a checked sign-in. The account is read again: a password changed or an account
    disabled since the check fails the sign-in."""
    user = uow.users.by_login(login)
    ok = check.ok and user is not None and user.active and user.password_hash == check.password_hash
    if user is None or not ok:
        uow.audit.record(
            None if user is None else _actor(uow, user),
            action="sign_in_failed",
            entity="user",
            key=login,
            jurisdiction_id=user.jurisdiction_id if user else None,
            details={"via": via, "address": address} if address else {"via": via},
            login=login,
        )
        uow.commit()  # the failure is kept even though sign-in raises
        raise AuthenticationError(
            f"sign-in failed for {login!r}: unknown user, wrong password or disabled account"
        )
    user.last_login_at = utc_now()
    uow.users.save(user)
    return _actor(uow, user)


# ------------------------------------------------------------------ user management (admin)


def is_empty(uow: UnitOfWork) -> Bootstrap:
    return Bootstrap(empty=uow.users.count() == 0)


def add_user(uow: UnitOfWork, cmd: AddUser, actor: Actor | None, as_of: date) -> UserView:
    """Create a user. With no users at all, the first one may be created without an actor, and
    it must be an admin (the bootstrap of a new installation)."""
    if actor is None:
        if uow.users.count() > 0:
            raise UserError(
                "users exist already: act as an admin (`--as LOGIN`, or BIHUAN_USER) to add one"
            )
        if cmd.role != UserRole.ADMIN:
            raise UserError(
                "the first user of an installation must be an admin (--role admin); "
                "that admin then adds the others"
            )
    else:
        require(uow, actor, Permission.MANAGE_USERS, action=f"add user {cmd.login}")
    if uow.users.by_login(cmd.login) is not None:
        raise UserError(f"user {cmd.login!r} exists already; see `bihuan users list`")
    jurisdiction_id, department_id = _scope(uow, cmd)
    if cmd.password is not None:
        problem = check_strength(cmd.password.get_secret_value())
        if problem:
            raise UserError(f"user {cmd.login}: {problem}")
    now = utc_now()
    user = uow.users.add(
        User(
            login=cmd.login,
            display_name=cmd.display_name or cmd.login,
            role=cmd.role,
            jurisdiction_id=jurisdiction_id,
            department_id=department_id,
            section=cmd.section,
            password_hash=hash_password(cmd.password.get_secret_value()) if cmd.password else "",
            must_change_password=bool(cmd.password) and cmd.must_change_password,
            password_changed_at=now if cmd.password else None,
            created_at=now,
            updated_at=now,
        )
    )
    record_as = actor or _actor(uow, user)
    uow.audit.record(
        record_as,
        action="user_added" if actor else "user_bootstrap",
        entity="user",
        key=cmd.login,
        jurisdiction_id=jurisdiction_id,
        details={
            "role": cmd.role.value,
            "department": cmd.department,
            "section": cmd.section,
            "service_account": cmd.password is None,
            "as_of": as_of,
        },
    )
    return _view(uow, user)


class DepartmentAccounts(BaseModel):
    """`bihuan users add-departments`: one contact account (部门联络人) per department."""

    jurisdiction: str
    password: SecretStr  # the initial password of every new account; each must change it
    login_pattern: str = "{code}lx"  # e.g. D01lx
    must_change_password: bool = True


class DepartmentAccountsResult(BaseModel):
    created: list[str]
    existing: list[str]


def add_department_accounts(
    uow: UnitOfWork, cmd: DepartmentAccounts, actor: Actor, as_of: date
) -> DepartmentAccountsResult:
    """Give every active department of a jurisdiction that has none a department account, with
    one initial password (hashed once: each account still has its own row and must change it)."""
    jur = uow.jurisdictions.require(cmd.jurisdiction)
    require(
        uow,
        actor,
        Permission.MANAGE_USERS,
        Target(jurisdiction_id=jur.id),
        action=f"add department accounts in {cmd.jurisdiction}",
    )
    if "{code}" not in cmd.login_pattern:
        raise UserError("--pattern must contain {code}, e.g. {code}lx")
    problem = check_strength(cmd.password.get_secret_value())
    if problem:
        raise UserError(problem)
    assert jur.id is not None
    hashed = hash_password(cmd.password.get_secret_value())
    have = {u.department_id for u, _j, _d in uow.users.with_scope(jurisdiction_id=jur.id)}
    created, existing = [], []
    now = utc_now()
    for dept in uow.departments.views(jur.id):
        login = cmd.login_pattern.format(code=dept.code)
        if dept.id in have or uow.users.by_login(login) is not None:
            existing.append(login)
            continue
        uow.users.add(
            User(
                login=login,
                display_name=f"{dept.name}联络人",
                role=UserRole.DEPARTMENT,
                jurisdiction_id=jur.id,
                department_id=dept.id,
                password_hash=hashed,
                must_change_password=cmd.must_change_password,
                password_changed_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        created.append(login)
    if created:
        uow.audit.record(
            actor,
            action="users_added",
            entity="user",
            key=f"departments:{cmd.jurisdiction}",
            jurisdiction_id=jur.id,
            details={"logins": created, "role": UserRole.DEPARTMENT.value, "as_of": as_of},
        )
    return DepartmentAccountsResult(created=created, existing=existing)


def _scope(uow: UnitOfWork, cmd: AddUser) -> tuple[int | None, int | None]:
    role = cmd.role
    if role == UserRole.DEPARTMENT and not cmd.department:
        raise UserError("a department user needs --department CODE (部门代码)")
    if role != UserRole.DEPARTMENT and cmd.department:
        raise UserError("--department is only for the department role")
    if role == UserRole.SECTION:
        names = {s.name for s in uow.policy.findings.sections.values()}
        if cmd.section not in names:
            raise UserError(
                f"a section user needs --section NAME, one of the supervising sections in "
                f"config/policy.toml [findings.sections]: {', '.join(sorted(names))}"
            )
    elif cmd.section:
        raise UserError("--section is only for the section role")
    if cmd.jurisdiction is None:
        if role in (UserRole.DEPARTMENT, UserRole.SECTION):
            raise UserError(f"a {role.value} user belongs to one jurisdiction: give -j CODE")
        return None, None
    jur = uow.jurisdictions.get_or_create(cmd.jurisdiction)
    department_id = None
    if cmd.department:
        assert jur.id is not None
        dept = uow.departments.by_code(jur.id, cmd.department)
        if dept is None:
            raise UserError(
                f"no department {cmd.department!r} in {cmd.jurisdiction!r}; import the "
                "departments first (`bihuan import`), see `bihuan departments`"
            )
        department_id = dept.id
    return jur.id, department_id


def _view(uow: UnitOfWork, user: User) -> UserView:
    jur, dept = uow.users.codes(user)
    return _view_of(user, jur, dept)


def _view_of(user: User, jur: str | None, dept: str | None) -> UserView:
    role = UserRole(user.role)
    return UserView(
        login=user.login,
        display_name=user.display_name,
        role=role,
        role_label=role.label,
        jurisdiction=jur,
        department=dept,
        section=user.section,
        active=user.active,
        can_sign_in=bool(user.password_hash) and user.active,
        must_change_password=user.must_change_password,
        last_login_at=user.last_login_at.isoformat() if user.last_login_at else None,
    )


def list_users(uow: UnitOfWork, actor: Actor) -> list[UserView]:
    require(uow, actor, Permission.MANAGE_USERS, action="list users")
    return [
        _view_of(u, j, d) for u, j, d in uow.users.with_scope(jurisdiction_id=actor.jurisdiction_id)
    ]


def me(uow: UnitOfWork, actor: Actor) -> UserView:
    """The signed-in user's own account (GET /api/v1/me); any active user may read it."""
    user = uow.users.by_id(actor.user_id)
    if user is None or not user.active:
        raise AuthenticationError(f"user {actor.login!r} is disabled")
    return _view(uow, user)


def _managed(uow: UnitOfWork, actor: Actor, login: str, action: str) -> User:
    user = uow.users.by_login(login)
    require(
        uow,
        actor,
        Permission.MANAGE_USERS,
        Target(jurisdiction_id=user.jurisdiction_id if user else None),
        action=f"{action} {login}",
    )
    if user is None:
        raise UserError(f"no user {login!r}; see `bihuan users list`")
    return user


def set_active(uow: UnitOfWork, login: str, active: bool, actor: Actor, as_of: date) -> UserView:
    user = _managed(uow, actor, login, "enable user" if active else "disable user")
    if not active and user.id == actor.user_id:
        raise UserError("you cannot disable your own account; ask another admin")
    user.active = active
    user.updated_at = utc_now()
    uow.users.save(user)
    if not active:  # a disabled user's portal sessions end now
        uow.web_access.revoke_user_sessions(user.id or 0, user.updated_at, "disabled")
    uow.audit.record(
        actor,
        action="user_enabled" if active else "user_disabled",
        entity="user",
        key=login,
        jurisdiction_id=user.jurisdiction_id,
        details={"as_of": as_of},
    )
    return _view(uow, user)


def reset_password(
    uow: UnitOfWork, login: str, password: SecretStr, actor: Actor, as_of: date
) -> UserView:
    """An admin sets a new password; the user must change it at the next sign-in."""
    user = _managed(uow, actor, login, "reset the password of")
    _set_password(user, password, must_change=user.id != actor.user_id)
    uow.users.save(user)
    # whoever held the old password is signed out of the portal
    uow.web_access.revoke_user_sessions(user.id or 0, user.updated_at, "password_reset")
    uow.audit.record(
        actor,
        action="password_reset",
        entity="user",
        key=login,
        jurisdiction_id=user.jurisdiction_id,
        details={"as_of": as_of},
    )
    return _view(uow, user)


def change_own_password(
    uow: UnitOfWork, actor: Actor, old: SecretStr, new: SecretStr, as_of: date
) -> None:
    """A signed-in user changes their own password (the first-login change included)."""
    user = uow.users.by_id(actor.user_id)
    if user is None or not verify_password(old.get_secret_value(), user.password_hash):
        raise AuthenticationError("the current password is wrong")
    if old.get_secret_value() == new.get_secret_value():
        raise UserError("the new password must differ from the current one")
    _set_password(user, new, must_change=False)
    uow.users.save(user)
    uow.audit.record(
        actor,
        action="password_changed",
        entity="user",
        key=user.login,
        jurisdiction_id=user.jurisdiction_id,
        details={"as_of": as_of},
    )


def _set_password(user: User, password: SecretStr, *, must_change: bool) -> None:
    problem = check_strength(password.get_secret_value())
    if problem:
        raise UserError(f"user {user.login}: {problem}")
    user.password_hash = hash_password(password.get_secret_value())
    user.must_change_password = must_change
    user.password_changed_at = utc_now()
    user.updated_at = utc_now()


def require_role(actor: Actor, *roles: UserRole, what: str) -> None:
    """For places that name a user by role (the approver of a problem list): a clear error."""
    if actor.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise UserError(f"{what}: user {actor.login} is {actor.role.value}, not {names}")


__all__: list[Any] = [
    "AddUser",
    "UserView",
    "actor_for",
    "add_user",
    "change_own_password",
    "list_users",
    "me",
    "reset_password",
    "set_active",
    "sign_in",
]


def scheduler_actor(uow: UnitOfWork, login: str, jurisdictions: list[str]) -> Actor:
    """The user scheduled runs act for: it must exist, be active, hold the office role and
    cover every jurisdiction scheduled (a service account without a password is best: it
    cannot sign in anywhere)."""
    actor = actor_for(uow, login)
    require_role(actor, UserRole.OFFICE, what="--run-as")
    for code in jurisdictions:
        jur = uow.jurisdictions.get(code)
        if jur is None:
            raise UserError(
                f"no jurisdiction {code!r} in the database; load one with `bihuan import`"
            )
        require(
            uow,
            actor,
            Permission.RUN_CYCLE,
            Target(jurisdiction_id=jur.id),
            action=f"run the scheduled cycle of {code}",
        )
    return actor
