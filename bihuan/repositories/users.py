"""Users (账号): look-up by login, listing, and the counts the bootstrap rule needs."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import Department, Jurisdiction, User


class UserRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_login(self, login: str) -> User | None:
        return self.session.exec(select(User).where(User.login == login)).first()

    def by_id(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def count(self) -> int:
        return int(self.session.exec(select(func.count()).select_from(User)).one())

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        return user

    def save(self, user: User) -> None:
        self.session.add(user)
        self.session.flush()

    def with_scope(
        self, *, jurisdiction_id: int | None = None
    ) -> list[tuple[User, str | None, str | None]]:
        """Users with their jurisdiction and department codes, ordered by login; limited to a
        jurisdiction's users (and the installation-wide ones) when one is given."""
        stmt = (
            select(User, Jurisdiction.code, Department.code)
            .join(Jurisdiction, col(Jurisdiction.id) == col(User.jurisdiction_id), isouter=True)
            .join(Department, col(Department.id) == col(User.department_id), isouter=True)
            .order_by(col(User.login))
        )
        if jurisdiction_id is not None:
            stmt = stmt.where(
                (col(User.jurisdiction_id) == jurisdiction_id) | col(User.jurisdiction_id).is_(None)
            )
        return [(u, j, d) for u, j, d in self.session.exec(stmt)]

    def codes(self, user: User) -> tuple[str | None, str | None]:
        """The jurisdiction and department codes of a user's scope."""
        jur = self.session.get(Jurisdiction, user.jurisdiction_id) if user.jurisdiction_id else None
        dept = self.session.get(Department, user.department_id) if user.department_id else None
        return (jur.code if jur else None, dept.code if dept else None)
