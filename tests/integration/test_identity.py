"""Users, sign-in and refusals against real SQLite and PostgreSQL, without Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import select

from bihuan.core.access import Permission, Target
from bihuan.errors import AuthenticationError, PermissionDenied, UserError
from bihuan.services import identity
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from models import AuditLog, User
from tests.users import PASSWORD, TODAY, app_for, make_user


def audit_rows(url: str) -> list[tuple[int | None, str, str, str]]:
    from bihuan.db import session_scope

    with session_scope(url) as s:
        return [
            (r.user_id, r.actor, r.action, r.entity_key)
            for r in s.exec(select(AuditLog).order_by(AuditLog.id))  # type: ignore[arg-type]
        ]


def test_the_first_user_must_be_an_admin(db_url: str) -> None:
    app = app_for(db_url)
    first = identity.AddUser(login="wang", role=UserRole.OFFICE)
    with (
        pytest.raises(UserError, match="first user of an installation must be an admin"),
        UnitOfWork(app) as uow,
    ):
        identity.add_user(uow, first, None, TODAY)
    with UnitOfWork(app) as uow:
        view = identity.add_user(
            uow,
            identity.AddUser(login="root", role=UserRole.ADMIN, password=SecretStr(PASSWORD)),
            None,
            TODAY,
        )
    assert view.role == UserRole.ADMIN and view.can_sign_in and view.jurisdiction is None
    with pytest.raises(UserError, match="users exist already"), UnitOfWork(app) as uow:
        identity.add_user(uow, identity.AddUser(login="x2", role=UserRole.ADMIN), None, TODAY)
    rows = audit_rows(db_url)
    assert rows[-1][2] == "user_bootstrap" and rows[-1][0] is not None


def test_password_is_hashed_with_argon2_and_never_stored_clear(db_url: str) -> None:
    make_user(db_url, "wang", UserRole.OFFICE, password=PASSWORD)
    with UnitOfWork(app_for(db_url), readonly=True) as uow:
        user = uow.users.by_login("wang")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert user.must_change_password  # an admin made it


def test_sign_in_checks_password_and_audits_failures(db_url: str) -> None:
    make_user(db_url, "wang", UserRole.OFFICE, password=PASSWORD)
    app = app_for(db_url)
    with UnitOfWork(app) as uow:
        actor = identity.sign_in(uow, "wang", PASSWORD)
    assert actor.role == UserRole.OFFICE and actor.jurisdiction_code == "juxian"
    for login, password in (("wang", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as err, UnitOfWork(app) as uow:
            identity.sign_in(uow, login, password)
        assert "unknown user, wrong password or disabled account" in str(err.value)
    failed = [r for r in audit_rows(db_url) if r[2] == "sign_in_failed"]
    assert [(r[1], r[3]) for r in failed] == [("wang", "wang"), ("nobody", "nobody")]
    assert failed[0][0] is not None and failed[1][0] is None


def test_refusal_rolls_back_and_is_recorded_with_the_real_user(db_url: str) -> None:
    leader = make_user(db_url, "lead", UserRole.LEADER)
    app = app_for(db_url)
    before = len(audit_rows(db_url))
    with pytest.raises(PermissionDenied) as err, UnitOfWork(app) as uow:
        uow.users.add(User(login="sneaky", display_name="x", role=UserRole.ADMIN))
        require(uow, leader, Permission.RUN_CYCLE, Target(jurisdiction_id=leader.jurisdiction_id))
    assert str(err.value).startswith("user lead (leader) may not run_cycle")
    assert err.value.exit_code == 3
    with UnitOfWork(app, readonly=True) as uow:
        assert uow.users.by_login("sneaky") is None  # nothing of the refused work stays
    rows = audit_rows(db_url)
    assert len(rows) == before + 1
    assert rows[-1] == (leader.user_id, "lead", "access_denied", "run_cycle")


def test_disabled_user_is_refused_at_the_next_action(db_url: str) -> None:
    make_user(db_url, "root", UserRole.ADMIN)
    office = make_user(db_url, "wang", UserRole.OFFICE)
    app = app_for(db_url)
    with UnitOfWork(app) as uow:
        root = identity.actor_for(uow, "root")
        identity.set_active(uow, "wang", False, root, TODAY)
    with pytest.raises(PermissionDenied, match="the account is disabled"), UnitOfWork(app) as uow:
        require(uow, office, Permission.RUN_CYCLE)
    with pytest.raises(AuthenticationError), UnitOfWork(app) as uow:
        identity.actor_for(uow, "wang")


def test_department_user_needs_an_existing_department(db_url: str) -> None:
    make_user(db_url, "root", UserRole.ADMIN)
    with pytest.raises(UserError, match="no department 'D01' in 'juxian'"):
        make_user(db_url, "D01lx", UserRole.DEPARTMENT, department="D01")
    with pytest.raises(UserError, match="needs --department"):
        make_user(db_url, "xx", UserRole.DEPARTMENT)
    with pytest.raises(UserError, match="--section NAME"):
        make_user(db_url, "yy", UserRole.SECTION, section="no such section")


def test_only_admins_list_and_reset(db_url: str) -> None:
    make_user(db_url, "root", UserRole.ADMIN, password=PASSWORD)
    office = make_user(db_url, "wang", UserRole.OFFICE, password=PASSWORD)
    app = app_for(db_url)
    with pytest.raises(PermissionDenied), UnitOfWork(app) as uow:
        identity.list_users(uow, office)
    with UnitOfWork(app) as uow:
        root = identity.actor_for(uow, "root")
        assert [v.login for v in identity.list_users(uow, root)] == ["root", "wang"]
        identity.reset_password(uow, "wang", SecretStr("another-pass-2"), root, TODAY)
    with UnitOfWork(app) as uow:
        assert identity.sign_in(uow, "wang", "another-pass-2").login == "wang"
    with UnitOfWork(app) as uow:
        identity.change_own_password(
            uow, office, SecretStr("another-pass-2"), SecretStr("third-pass-33"), TODAY
        )
        user = uow.users.by_login("wang")
        assert user is not None and not user.must_change_password


def test_department_accounts_for_every_department_with_one_initial_password(
    db_url: str, tmp_path: Path
) -> None:
    from bihuan.ingest.load import import_path

    from .workbooks import YEAR, good_rows, write_xlsx

    import_path(
        db_url,
        write_xlsx(tmp_path / "x.xlsx", good_rows()),
        year=YEAR,
        jurisdiction="juxian",
        actor="t",
    )
    make_user(db_url, "root", UserRole.ADMIN)
    make_user(db_url, "D02contact", UserRole.DEPARTMENT, department="D02")
    app = app_for(db_url)
    with UnitOfWork(app) as uow:
        root = identity.actor_for(uow, "root")
        result = identity.add_department_accounts(
            uow,
            identity.DepartmentAccounts(jurisdiction="juxian", password=SecretStr(PASSWORD)),
            root,
            TODAY,
        )
    assert result.created == ["D01lx", "D03lx"] and result.existing == ["D02lx"]
    with UnitOfWork(app) as uow:
        d01 = identity.sign_in(uow, "D01lx", PASSWORD)
        user = uow.users.by_login("D03lx")
        assert user is not None and user.must_change_password
    assert d01.department_code == "D01" and d01.role == UserRole.DEPARTMENT
