"""Portal access use cases (门户登录与令牌): sign-in with throttling, sessions, API tokens.

The rules (expiry, throttling, hashes) are pure, in bihuan/core/websecurity.py; this module
loads and stores through `uow.web_access` and audits. Secrets (a session's cookie value, a new
API token) leave these functions once and are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, SecretStr

from bihuan.core.access import Actor, Permission, Target
from bihuan.core.websecurity import (
    SessionRules,
    ThrottleRules,
    alive_cutoffs,
    csrf_for,
    needs_touch,
    secret_hash,
    session_problem,
    throttle_until,
)
from bihuan.errors import AuthenticationError, NotFound, PermissionDenied
from bihuan.services import identity
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole

if TYPE_CHECKING:
    from bihuan.repositories.web import TokenRow
    from bihuan.settings import Settings

TOKEN_PREFIX = "bihuan_"
PREFIX_SHOWN = 12  # "bihuan_" and five characters: enough to tell tokens apart in a listing
FAILURES_KEPT = timedelta(days=1)


class SignInThrottled(AuthenticationError):
    """Too many failed sign-ins for this login or from this address: try again later."""

    def __init__(self, until: datetime):
        super().__init__(
            f"too many failed sign-ins; try again after {until.isoformat(timespec='minutes')}"
        )
        self.until = until


def session_rules(settings: Settings) -> SessionRules:
    return SessionRules(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def throttle_rules(settings: Settings) -> ThrottleRules:
    return ThrottleRules(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window=timedelta(minutes=settings.login_window_minutes),
        lockout=timedelta(minutes=settings.login_lockout_minutes),
    )


# ------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class NewSession:
    """A session just opened: `secret` goes into the cookie and nowhere else."""

    secret: str
    session_id: int
    csrf_token: str
    actor: Actor
    must_change_password: bool


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user behind a request's session cookie."""

    session_id: int
    actor: Actor
    csrf_token: str
    must_change_password: bool
    needs_touch: bool  # last_seen_at is old enough to be written again (touch_session)


@dataclass(frozen=True)
class SignInCheck:
    """The slow half of a sign-in, done in a read transaction (`check_sign_in`): the throttle
    and the Argon2 check. `sign_in` records the outcome in a short write transaction, so that
    concurrent sign-ins never queue behind each other's password hashing for SQLite's lock."""

    throttled_until: datetime | None
    password: identity.PasswordCheck | None  # None when throttled (the password is not checked)


def check_sign_in(
    uow: UnitOfWork, login: str, password: SecretStr, *, address: str, now: datetime
) -> SignInCheck:
    """Read only: is the login or the address locked, and is the password right."""
    rules = throttle_rules(uow.settings)
    since = now - rules.lookback
    until = throttle_until(
        uow.web_access.failures_since(since, login=login),
        uow.web_access.failures_since(since, address=address) if address else [],
        rules=rules,
        now=now,
    )
    if until is not None:
        return SignInCheck(throttled_until=until, password=None)
    return SignInCheck(
        throttled_until=None,
        password=identity.check_password(uow, login, password.get_secret_value()),
    )


def sign_in(
    uow: UnitOfWork,
    login: str,
    password: SecretStr,
    *,
    address: str,
    user_agent: str,
    now: datetime,
    checked: SignInCheck | None = None,
) -> NewSession:
    """Open a portal session. Refused (SignInThrottled, audited, no password check) while the
    login or the address is locked; a failure is audited by identity.finish_sign_in and counted.
    `checked`: the result of `check_sign_in` in an earlier read transaction (the portal does
    this); without it the check runs here."""
    if checked is None:
        checked = check_sign_in(uow, login, password, address=address, now=now)
    if checked.throttled_until is not None or checked.password is None:
        until = checked.throttled_until or now
        uow.audit.record(
            None,
            action="sign_in_throttled",
            entity="user",
            key=login,
            details={"via": "web", "address": address, "until": until},
            login=login,
        )
        uow.commit()  # kept although sign-in raises
        raise SignInThrottled(until)
    try:
        actor = identity.finish_sign_in(uow, login, checked.password, via="web", address=address)
    except AuthenticationError:
        uow.web_access.record_failure(login, address, now)
        uow.web_access.prune_failures(before=now - FAILURES_KEPT)
        uow.commit()
        raise
    uow.web_access.clear_failures(login)
    secret = secrets.token_urlsafe(32)
    row = uow.web_access.add_session(
        user_id=actor.user_id,
        token_hash=secret_hash(secret),
        now=now,
        address=address,
        user_agent=user_agent,
    )
    assert row.id is not None
    uow.audit.record(
        actor,
        action="signed_in",
        entity="user",
        key=actor.login,
        jurisdiction_id=actor.jurisdiction_id,
        details={"via": "web", "address": address, "session": row.id},
    )
    return NewSession(
        secret=secret,
        session_id=row.id,
        csrf_token=csrf_for(secret),
        actor=actor,
        must_change_password=identity.me(uow, actor).must_change_password,
    )


def resolve_session(uow: UnitOfWork, secret: str, now: datetime) -> SignedIn | None:
    """The user of a session cookie, or None when it is unknown, revoked, idle, expired, or
    its user is disabled. Reads only (see touch_session)."""
    if not secret:
        return None
    row = uow.web_access.session_by_hash(secret_hash(secret))
    if row is None or row.id is None:
        return None
    rules = session_rules(uow.settings)
    problem = session_problem(
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        revoked_at=row.revoked_at,
        now=now,
        rules=rules,
    )
    if problem is not None:
        return None
    user = uow.users.by_id(row.user_id)
    if user is None or not user.active:
        return None
    return SignedIn(
        session_id=row.id,
        actor=identity.actor_for(uow, user.login),
        csrf_token=csrf_for(secret),
        must_change_password=user.must_change_password,
        needs_touch=needs_touch(row.last_seen_at, now, rules),
    )


def touch_session(uow: UnitOfWork, session_id: int, now: datetime) -> None:
    """Keep a session from going idle (written at most once a minute per session)."""
    uow.web_access.touch_session(session_id, now)


def sign_out(uow: UnitOfWork, signed_in: SignedIn, now: datetime, *, address: str = "") -> None:
    if uow.web_access.revoke_session(signed_in.session_id, now, "signed_out"):
        actor = signed_in.actor
        uow.audit.record(
            actor,
            action="signed_out",
            entity="user",
            key=actor.login,
            jurisdiction_id=actor.jurisdiction_id,
            details={"via": "web", "address": address, "session": signed_in.session_id},
        )


def change_password(
    uow: UnitOfWork, signed_in: SignedIn, old: SecretStr, new: SecretStr, now: datetime
) -> None:
    """The signed-in user's own password change (the first-login one included); the user's
    other sessions end, this one goes on."""
    identity.change_own_password(uow, signed_in.actor, old, new, now.date())
    uow.web_access.revoke_user_sessions(
        signed_in.actor.user_id, now, "password_changed", keep=signed_in.session_id
    )


class SessionView(BaseModel):
    """An open session, as `bihuan sessions list --json` and the admin's page show it."""

    id: int
    login: str
    display_name: str
    role: UserRole
    role_label: str
    created_at: datetime
    last_seen_at: datetime
    address: str
    user_agent: str


def list_sessions(
    uow: UnitOfWork, actor: Actor, now: datetime, *, login: str | None = None
) -> list[SessionView]:
    """Open sessions of the admin's users (or of one user), newest first."""
    require(uow, actor, Permission.MANAGE_USERS, action="list portal sessions")
    user_id = None
    if login is not None:
        user = uow.users.by_login(login)
        if user is None:
            raise NotFound(f"no user {login!r}; see `bihuan users list`")
        user_id = user.id
    created_after, seen_after = alive_cutoffs(now, session_rules(uow.settings))
    return [
        SessionView(
            id=r.id,
            login=r.login,
            display_name=r.display_name,
            role=UserRole(r.role),
            role_label=UserRole(r.role).label,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            address=r.address,
            user_agent=r.user_agent,
        )
        for r in uow.web_access.sessions(
            jurisdiction_id=actor.jurisdiction_id,
            created_after=created_after,
            seen_after=seen_after,
            user_id=user_id,
        )
    ]


def revoke_session(uow: UnitOfWork, actor: Actor, session_id: int, now: datetime) -> None:
    """End one session: an admin any of their users', anyone their own."""
    row = uow.web_access.session_by_id(session_id)
    user = uow.users.by_id(row.user_id) if row is not None else None
    if row is None or user is None:
        raise NotFound(f"no session {session_id}; see `bihuan sessions list`")
    if user.id != actor.user_id:
        require(
            uow,
            actor,
            Permission.MANAGE_USERS,
            Target(jurisdiction_id=user.jurisdiction_id, what=f"session {session_id}"),
            action=f"revoke session {session_id} of {user.login}",
        )
    if uow.web_access.revoke_session(session_id, now, "revoked"):
        uow.audit.record(
            actor,
            action="session_revoked",
            entity="user",
            key=user.login,
            jurisdiction_id=user.jurisdiction_id,
            details={"session": session_id},
        )


def revoke_user_sessions(uow: UnitOfWork, actor: Actor, login: str, now: datetime) -> int:
    """End every session of a user (admin); returns how many were open."""
    user = uow.users.by_login(login)
    require(
        uow,
        actor,
        Permission.MANAGE_USERS,
        Target(jurisdiction_id=user.jurisdiction_id if user else None),
        action=f"revoke the sessions of {login}",
    )
    if user is None or user.id is None:
        raise NotFound(f"no user {login!r}; see `bihuan users list`")
    count = uow.web_access.revoke_user_sessions(user.id, now, "revoked")
    uow.audit.record(
        actor,
        action="sessions_revoked",
        entity="user",
        key=login,
        jurisdiction_id=user.jurisdiction_id,
        details={"count": count},
    )
    return count


# ------------------------------------------------------------------ API tokens


class CreateToken(BaseModel):
    """`bihuan tokens create`: for whom, what it is for, how long it lives."""

    user: str
    name: str = Field(default="", max_length=100)
    days: int = Field(default=90, ge=1, le=3650)


class TokenView(BaseModel):
    """A token as `bihuan tokens list --json` shows it (never the secret or its hash)."""

    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: str  # active | expired | revoked
    state_label: str


class NewToken(BaseModel):
    """A token just created: `token` is shown once and stored nowhere."""

    token: SecretStr
    view: TokenView


@dataclass(frozen=True)
class TokenActor:
    token_id: int
    actor: Actor
    needs_touch: bool


_STATE_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}


def _token_view(row: TokenRow, now: datetime) -> TokenView:
    state = (
        "revoked"
        if row.revoked_at is not None
        else "expired"
        if now >= row.expires_at
        else "active"
    )
    return TokenView(
        id=row.id,
        user=row.login,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        state=state,
        state_label=_STATE_LABELS[state],
    )


def _require_own_account(uow: UnitOfWork, actor: Actor, action: str) -> None:
    """What any user may do for themselves (their own tokens), as long as they are active."""
    user = uow.users.by_id(actor.user_id)
    if user is None or not user.active:
        raise PermissionDenied(
            f"{actor.describe} may not {action}: the account is disabled",
            user_id=actor.user_id,
            login=actor.login,
            action=action,
            reason="the account is disabled",
            jurisdiction_id=actor.jurisdiction_id,
        )


def create_token(uow: UnitOfWork, cmd: CreateToken, actor: Actor, now: datetime) -> NewToken:
    """A personal access token acting as `cmd.user`: their own for anyone, another user's for
    an admin (e.g. a service account's). Audited; the secret is returned once."""
    user = uow.users.by_login(cmd.user)
    action = f"create an API token for {cmd.user}"
    if user is not None and user.id == actor.user_id:
        _require_own_account(uow, actor, action)
    else:
        require(
            uow,
            actor,
            Permission.MANAGE_USERS,
            Target(jurisdiction_id=user.jurisdiction_id if user else None),
            action=action,
        )
    if user is None or user.id is None:
        raise NotFound(f"no user {cmd.user!r}; see `bihuan users list`")
    if not user.active:
        raise AuthenticationError(f"user {cmd.user!r} is disabled; enable it first")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uow.web_access.add_token(
        user_id=user.id,
        name=cmd.name,
        token_hash=secret_hash(secret),
        prefix=secret[:PREFIX_SHOWN],
        now=now,
        created_by_id=actor.user_id,
        expires_at=now + timedelta(days=cmd.days),
    )
    uow.audit.record(
        actor,
        action="api_token_created",
        entity="user",
        key=user.login,
        jurisdiction_id=user.jurisdiction_id,
        details={
            "token": token_id,
            "name": cmd.name,
            "prefix": secret[:PREFIX_SHOWN],
            "days": cmd.days,
        },
    )
    return NewToken(
        token=SecretStr(secret),
        view=_token_view(uow.web_access.tokens(token_id=token_id)[0], now),
    )


def list_tokens(
    uow: UnitOfWork, actor: Actor, now: datetime, *, login: str | None = None
) -> list[TokenView]:
    """The actor's own tokens; an admin's listing covers their users (or `login`'s)."""
    own = login == actor.login or (login is None and not actor.can(Permission.MANAGE_USERS))
    if own:
        _require_own_account(uow, actor, "list their API tokens")
        return [_token_view(r, now) for r in uow.web_access.tokens(user_id=actor.user_id)]
    require(uow, actor, Permission.MANAGE_USERS, action="list API tokens")
    user_id = None
    if login is not None:
        user = uow.users.by_login(login)
        if user is None:
            raise NotFound(f"no user {login!r}; see `bihuan users list`")
        user_id = user.id
    rows = uow.web_access.tokens(jurisdiction_id=actor.jurisdiction_id, user_id=user_id)
    return [_token_view(r, now) for r in rows]


def revoke_token(uow: UnitOfWork, actor: Actor, token_id: int, now: datetime) -> TokenView:
    """Revoke a token: one's own, or (admin) any of one's users'. Unknown ids and other users'
    tokens (for a non-admin) are the same NotFound."""
    found = uow.web_access.tokens(token_id=token_id)
    row = found[0] if found else None
    if row is not None and row.user_id == actor.user_id:
        _require_own_account(uow, actor, f"revoke API token {token_id}")
    elif row is None or not actor.can(Permission.MANAGE_USERS):
        raise NotFound(f"no API token {token_id} of yours; see `bihuan tokens list`")
    else:
        require(
            uow,
            actor,
            Permission.MANAGE_USERS,
            Target(jurisdiction_id=row.user_jurisdiction_id, what=f"API token {token_id}"),
            action=f"revoke API token {token_id} of {row.login}",
        )
    uow.web_access.revoke_token(token_id, now)
    uow.audit.record(
        actor,
        action="api_token_revoked",
        entity="user",
        key=row.login,
        jurisdiction_id=row.user_jurisdiction_id,
        details={"token": token_id, "prefix": row.prefix},
    )
    return _token_view(uow.web_access.tokens(token_id=token_id)[0], now)


def actor_for_token(uow: UnitOfWork, secret: str, now: datetime) -> TokenActor:
    """The user a bearer token acts as; AuthenticationError for an unknown, expired or revoked
    token or a disabled user (the API answers 401 to all alike)."""
    row = uow.web_access.token_by_hash(secret_hash(secret)) if secret else None
    if row is None or row.id is None or row.revoked_at is not None or now >= row.expires_at:
        raise AuthenticationError("invalid, expired or revoked API token")
    user = uow.users.by_id(row.user_id)
    if user is None or not user.active:
        raise AuthenticationError("invalid, expired or revoked API token")
    last = row.last_used_at
    return TokenActor(
        token_id=row.id,
        actor=identity.actor_for(uow, user.login),
        needs_touch=last is None or needs_touch(last, now, session_rules(uow.settings)),
    )


def touch_token(uow: UnitOfWork, token_id: int, now: datetime) -> None:
    uow.web_access.touch_token(token_id, now)
