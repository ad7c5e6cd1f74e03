"""The portal's credentials (门户访问): sessions, API tokens and failed sign-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import ApiToken, SignInFailure, User, WebSession


@dataclass(frozen=True)
class SessionRow:
    """A session with its user, for the admin's listing (never the token's hash)."""

    id: int
    login: str
    display_name: str
    role: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    revoked_reason: str
    address: str
    user_agent: str


@dataclass(frozen=True)
class TokenRow:
    """A token with its user's and creator's logins (never the token's hash)."""

    id: int
    user_id: int
    login: str
    user_jurisdiction_id: int | None
    name: str
    prefix: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _in_scope(stmt, jurisdiction_id: int | None):  # type: ignore[no-untyped-def]
    """Users of one jurisdiction and the installation-wide ones (as UserRepo.with_scope)."""
    if jurisdiction_id is None:
        return stmt
    return stmt.where(
        (col(User.jurisdiction_id) == jurisdiction_id) | col(User.jurisdiction_id).is_(None)
    )


class WebAccessRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ sessions

    def add_session(
        self, *, user_id: int, token_hash: str, now: datetime, address: str, user_agent: str
    ) -> WebSession:
        row = WebSession(
            token_hash=token_hash,
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            address=address[:64],
            user_agent=user_agent[:200],
        )
        self.session.add(row)
        self.session.flush()
        return row

    def session_by_hash(self, token_hash: str) -> WebSession | None:
        return self.session.exec(
            select(WebSession).where(WebSession.token_hash == token_hash)
        ).first()

    def session_by_id(self, session_id: int) -> WebSession | None:
        return self.session.get(WebSession, session_id)

    def touch_session(self, session_id: int, now: datetime) -> None:
        self.session.execute(
            update(WebSession)
            .where(col(WebSession.id) == session_id, col(WebSession.last_seen_at) < now)
            .values(last_seen_at=now)
        )

    def revoke_session(self, session_id: int, now: datetime, reason: str) -> bool:
        done = self.session.execute(
            update(WebSession)
            .where(col(WebSession.id) == session_id, col(WebSession.revoked_at).is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def revoke_user_sessions(
        self, user_id: int, now: datetime, reason: str, *, keep: int | None = None
    ) -> int:
        """Revoke every open session of a user (but `keep`, the one making the change)."""
        stmt = update(WebSession).where(
            col(WebSession.user_id) == user_id, col(WebSession.revoked_at).is_(None)
        )
        if keep is not None:
            stmt = stmt.where(col(WebSession.id) != keep)
        done = self.session.execute(stmt.values(revoked_at=now, revoked_reason=reason))
        return int(done.rowcount)  # type: ignore[attr-defined]

    def sessions(
        self,
        *,
        jurisdiction_id: int | None,
        created_after: datetime,
        seen_after: datetime,
        user_id: int | None = None,
    ) -> list[SessionRow]:
        """Open sessions (not revoked, within both timeouts), newest first."""
        stmt = (
            select(WebSession, User)
            .join(User, col(User.id) == col(WebSession.user_id))
            .where(
                col(WebSession.revoked_at).is_(None),
                col(WebSession.created_at) > created_after,
                col(WebSession.last_seen_at) > seen_after,
            )
            .order_by(col(WebSession.id).desc())
        )
        if user_id is not None:
            stmt = stmt.where(col(WebSession.user_id) == user_id)
        return [
            SessionRow(
                id=s.id or 0,
                login=u.login,
                display_name=u.display_name,
                role=u.role,
                created_at=s.created_at,
                last_seen_at=s.last_seen_at,
                revoked_at=s.revoked_at,
                revoked_reason=s.revoked_reason,
                address=s.address,
                user_agent=s.user_agent,
            )
            for s, u in self.session.exec(_in_scope(stmt, jurisdiction_id))
        ]

    # ------------------------------------------------------------------ API tokens

    def add_token(
        self,
        *,
        user_id: int,
        name: str,
        token_hash: str,
        prefix: str,
        now: datetime,
        created_by_id: int | None,
        expires_at: datetime,
    ) -> int:
        token = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            prefix=prefix,
            created_at=now,
            created_by_id=created_by_id,
            expires_at=expires_at,
        )
        self.session.add(token)
        self.session.flush()
        assert token.id is not None
        return token.id

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return self.session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()

    def touch_token(self, token_id: int, now: datetime) -> None:
        self.session.execute(
            update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now)
        )

    def revoke_token(self, token_id: int, now: datetime) -> None:
        self.session.execute(
            update(ApiToken)
            .where(col(ApiToken.id) == token_id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )

    def tokens(
        self,
        *,
        jurisdiction_id: int | None = None,
        user_id: int | None = None,
        token_id: int | None = None,
    ) -> list[TokenRow]:
        """Tokens with their users' logins, newest first."""
        creator = aliased(User)
        stmt = (
            select(ApiToken, User, creator.login)
            .join(User, col(User.id) == col(ApiToken.user_id))
            .join(creator, col(creator.id) == col(ApiToken.created_by_id), isouter=True)
            .order_by(col(ApiToken.id).desc())
        )
        if user_id is not None:
            stmt = stmt.where(col(ApiToken.user_id) == user_id)
        if token_id is not None:
            stmt = stmt.where(col(ApiToken.id) == token_id)
        return [
            TokenRow(
                id=t.id or 0,
                user_id=t.user_id,
                login=u.login,
                user_jurisdiction_id=u.jurisdiction_id,
                name=t.name,
                prefix=t.prefix,
                created_at=t.created_at,
                created_by=by,
                expires_at=t.expires_at,
                last_used_at=t.last_used_at,
                revoked_at=t.revoked_at,
            )
            for t, u, by in self.session.exec(_in_scope(stmt, jurisdiction_id))
        ]

    # ------------------------------------------------------------------ failed sign-ins

    def record_failure(self, login: str, address: str, at: datetime) -> None:
        self.session.add(SignInFailure(login=login[:64], address=address[:64], at=at))
        self.session.flush()

    def failures_since(
        self, since: datetime, *, login: str | None = None, address: str | None = None
    ) -> list[datetime]:
        stmt = select(SignInFailure.at).where(col(SignInFailure.at) > since)
        if login is not None:
            stmt = stmt.where(SignInFailure.login == login)
        if address is not None:
            stmt = stmt.where(SignInFailure.address == address)
        return list(self.session.exec(stmt))

    def clear_failures(self, login: str) -> None:
        self.session.execute(delete(SignInFailure).where(col(SignInFailure.login) == login))

    def prune_failures(self, before: datetime) -> None:
        self.session.execute(delete(SignInFailure).where(col(SignInFailure.at) < before))

    def count_failures(self) -> int:
        return int(self.session.exec(select(func.count()).select_from(SignInFailure)).one())
