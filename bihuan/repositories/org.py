"""Jurisdictions and departments (县, 部门): look-ups every use case starts from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from bihuan.errors import NotFound, UserError
from models import AssessmentTeam, Department, Jurisdiction


@dataclass(frozen=True)
class DepartmentView:
    """A department as listings show it (部门)."""

    id: int
    code: str
    name: str
    category: str
    team: str | None
    head_name: str
    contact_name: str
    contact_email: str
    notify_tags: str
    active: bool


class JurisdictionRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Jurisdiction | None:
        return self.session.exec(select(Jurisdiction).where(Jurisdiction.code == code)).first()

    def by_id(self, jurisdiction_id: int) -> Jurisdiction | None:
        return self.session.get(Jurisdiction, jurisdiction_id)

    def require(self, code: str) -> Jurisdiction:
        jur = self.get(code)
        if jur is None or jur.id is None:
            raise UserError(
                f"no jurisdiction {code!r} in the database; load one with `bihuan import`"
            )
        return jur

    def get_or_create(self, code: str, name: str | None = None) -> Jurisdiction:
        jur = self.get(code)
        if jur is None:
            jur = Jurisdiction(code=code, name=name or code)
            self.session.add(jur)
            self.session.flush()
        return jur

    def all(self) -> list[Jurisdiction]:
        return list(self.session.exec(select(Jurisdiction).order_by(col(Jurisdiction.code))))


class DepartmentRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_code(self, jurisdiction_id: int, code: str) -> Department | None:
        return self.session.exec(
            select(Department).where(
                Department.jurisdiction_id == jurisdiction_id, Department.code == code
            )
        ).first()

    def by_id(self, department_id: int) -> Department | None:
        return self.session.get(Department, department_id)

    def require_code(self, jurisdiction_id: int, code: str) -> Department:
        dept = self.by_code(jurisdiction_id, code)
        if dept is None or dept.id is None:
            raise NotFound(f"no department {code!r}; see `bihuan departments`")
        return dept

    def views(self, jurisdiction_id: int, *, only: int | None = None) -> list[DepartmentView]:
        """Departments of a jurisdiction with their team code, ordered by code."""
        stmt = (
            select(Department, AssessmentTeam.code)
            .join(
                AssessmentTeam,
                col(AssessmentTeam.id) == col(Department.team_id),
                isouter=True,
            )
            .where(Department.jurisdiction_id == jurisdiction_id)
            .order_by(col(Department.code))
        )
        if only is not None:
            stmt = stmt.where(Department.id == only)
        return [
            DepartmentView(
                id=d.id or 0,
                code=d.code,
                name=d.name,
                category=d.category,
                team=team,
                head_name=d.head_name,
                contact_name=d.contact_name,
                contact_email=d.contact_email,
                notify_tags=d.notify_tags,
                active=d.active,
            )
            for d, team in self.session.exec(stmt)
        ]
