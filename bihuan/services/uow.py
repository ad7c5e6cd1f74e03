"""The unit of work: one transaction over the repositories, and the installation's policy."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlmodel import Session

from bihuan.db import get_engine, read_engine
from bihuan.errors import PermissionDenied

if TYPE_CHECKING:
    from bihuan.app import AppContext
    from bihuan.policy import Policy
    from bihuan.repositories.assessment import AssessmentRepo
    from bihuan.repositories.audit import AuditChainRepo, AuditRepo
    from bihuan.repositories.findings import FindingsRepo
    from bihuan.repositories.ledger import LedgerRepo
    from bihuan.repositories.notifications import NotificationRepo
    from bihuan.repositories.org import DepartmentRepo, JurisdictionRepo
    from bihuan.repositories.recheck import RecheckRepo
    from bihuan.repositories.rectification import RectificationRepo
    from bihuan.repositories.results import ReportRepo, ResultsRepo
    from bihuan.repositories.tracking import TrackingRepo
    from bihuan.repositories.users import UserRepo
    from bihuan.repositories.web import WebAccessRepo
    from bihuan.settings import Settings


class UnitOfWork:
    """`with UnitOfWork(app) as uow:` commits on success and rolls back on any error.

    `readonly=True` opens a read transaction (on SQLite a deferred BEGIN, which reads a WAL
    snapshot and never waits for a writer) and never commits. A refused action
    (PermissionDenied) is recorded in the audit log after the rollback, in a transaction of
    its own, so the refusal is kept and nothing of the refused work is.
    """

    def __init__(self, app: AppContext, *, readonly: bool = False) -> None:
        self.app = app
        self.readonly = readonly
        self._session: Session | None = None
        self.checked_users: set[int] = set()  # users found active in this transaction

    # ------------------------------------------------------------------ the transaction

    def __enter__(self) -> Self:
        _require_database_file(self.app.db_url)
        bind = read_engine(self.app.db_url) if self.readonly else get_engine(self.app.db_url)
        self._session = Session(bind, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc is None and not self.readonly:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
            self._session = None
        if isinstance(exc, PermissionDenied):
            record_refusal(self.app, exc)

    def commit(self) -> None:
        """Commit what is done so far and go on in a new transaction (long batch jobs)."""
        self.session.commit()

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    # ------------------------------------------------------------------ configuration

    @property
    def policy(self) -> Policy:
        return self.app.policy

    @property
    def settings(self) -> Settings:
        return self.app.settings

    # ------------------------------------------------------------------ repositories

    @cached_property
    def jurisdictions(self) -> JurisdictionRepo:
        from bihuan.repositories.org import JurisdictionRepo

        return JurisdictionRepo(self.session)

    @cached_property
    def departments(self) -> DepartmentRepo:
        from bihuan.repositories.org import DepartmentRepo

        return DepartmentRepo(self.session)

    @cached_property
    def users(self) -> UserRepo:
        from bihuan.repositories.users import UserRepo

        return UserRepo(self.session)

    @cached_property
    def ledger(self) -> LedgerRepo:
        from bihuan.repositories.ledger import LedgerRepo

        return LedgerRepo(self.session)

    @cached_property
    def assessment(self) -> AssessmentRepo:
        from bihuan.repositories.assessment import AssessmentRepo

        return AssessmentRepo(self.session)

    @cached_property
    def findings(self) -> FindingsRepo:
        from bihuan.repositories.findings import FindingsRepo

        return FindingsRepo(self.session)

    @cached_property
    def rectification(self) -> RectificationRepo:
        from bihuan.repositories.rectification import RectificationRepo

        return RectificationRepo(self.session)

    @cached_property
    def audit(self) -> AuditRepo:
        from bihuan.repositories.audit import AuditRepo

        return AuditRepo(self.session)

    @cached_property
    def audit_chain(self) -> AuditChainRepo:
        from bihuan.repositories.audit import AuditChainRepo

        return AuditChainRepo(self.session)

    @cached_property
    def recheck(self) -> RecheckRepo:
        from bihuan.repositories.recheck import RecheckRepo

        return RecheckRepo(self.session)

    @cached_property
    def report(self) -> ReportRepo:
        from bihuan.repositories.results import ReportRepo

        return ReportRepo(self.session)

    @cached_property
    def results(self) -> ResultsRepo:
        from bihuan.repositories.results import ResultsRepo

        return ResultsRepo(self.session)

    @cached_property
    def notifications(self) -> NotificationRepo:
        from bihuan.repositories.notifications import NotificationRepo

        return NotificationRepo(self.session)

    @cached_property
    def tracking(self) -> TrackingRepo:
        from bihuan.repositories.tracking import TrackingRepo

        return TrackingRepo(self.session)

    @cached_property
    def web_access(self) -> WebAccessRepo:
        from bihuan.repositories.web import WebAccessRepo

        return WebAccessRepo(self.session)


def _require_database_file(url: str) -> None:
    """A mistyped --db must not leave an empty SQLite file behind (SQLite creates one on
    connect): only `bihuan db upgrade` and the demo create databases."""
    from pathlib import Path

    from bihuan.errors import UserError

    if not url.startswith("sqlite:///"):
        return
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:" and not Path(path).exists():
        raise UserError(
            f"no database at {path}: create it with `bihuan db upgrade --db {path}`, "
            "or check --db / BIHUAN_DATABASE_URL"
        )


def record_refusal(app: AppContext, exc: PermissionDenied) -> None:
    """Write the audit row of a refused action in a transaction of its own."""
    from bihuan.db import audit, session_scope

    with session_scope(app.db_url) as session:
        audit(
            session,
            actor=exc.login or "?",
            user_id=exc.user_id,
            action="access_denied",
            entity="permission",
            entity_key=exc.action,
            jurisdiction_id=exc.jurisdiction_id,
            details={"reason": exc.reason, "message": str(exc)},
        )
