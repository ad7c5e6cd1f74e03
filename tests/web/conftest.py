"""The portal under test: a small county (D01–D03), one user per role, a clock the tests move."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr

from bihuan.app import AppContext
from bihuan.clock import utc_now
from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from bihuan.migrate import upgrade
from bihuan.services import identity, web_auth
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from bihuan.web.app import create_app
from tests.conftest import _pg_schema_url
from tests.integration.workbooks import YEAR, good_rows, write_xlsx
from tests.users import TODAY, app_for
from tests.web.cycle import add_cycle
from tests.web.items import add_items

PASSWORD = "test-password-1"
SECTION = "机关职能运行监管办公室"  # a supervising section of the default policy

# login -> (role, department, section)
ROLE_USERS: dict[str, tuple[UserRole, str | None, str]] = {
    "admin": (UserRole.ADMIN, None, ""),
    "office": (UserRole.OFFICE, None, ""),
    "section": (UserRole.SECTION, None, SECTION),
    "D01lx": (UserRole.DEPARTMENT, "D01", ""),
    "leader": (UserRole.LEADER, None, ""),
    "auditor": (UserRole.AUDITOR, None, ""),
}
ROLES = {role.value: login for login, (role, _d, _s) in ROLE_USERS.items()}


class Clock:
    """ "Now" for the portal's session and throttling rules; tests move it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def add_user(
    url: str,
    login: str,
    role: UserRole,
    *,
    department: str | None = None,
    section: str = "",
    name: str = "",
    password: str = PASSWORD,
    must_change: bool = False,
) -> None:
    """A user made by the production use case, by the bootstrap admin (created first)."""
    app = app_for(url)
    with UnitOfWork(app) as uow:
        admin = None
        if uow.users.count() > 0:
            admin = identity.actor_for(uow, "admin")
        elif role != UserRole.ADMIN:
            raise AssertionError("create the admin first")
        identity.add_user(
            uow,
            identity.AddUser(
                login=login,
                display_name=name or login,
                role=role,
                jurisdiction=None if role == UserRole.ADMIN else "juxian",
                department=department,
                section=section,
                password=SecretStr(password),
                must_change_password=must_change,
            ),
            admin,
            TODAY,
        )


def make_token(url: str, login: str, now: datetime, days: int = 30) -> str:
    with UnitOfWork(app_for(url)) as uow:
        actor = identity.actor_for(uow, login)
        new = web_auth.create_token(
            uow, web_auth.CreateToken(user=login, name="test", days=days), actor, now
        )
    return new.token.get_secret_value()


def build_county(url: str, workdir: Path) -> str:
    """D01–D03 with a YEAR ledger for D01 and D02, one user per role, and YEAR's mid-year
    scores, findings and board (on a migrated database). About 4 s, most of it Argon2: the SQLite tests copy one built per session."""
    import_path(
        url,
        write_xlsx(workdir / "county.xlsx", good_rows()),
        year=YEAR,
        jurisdiction="juxian",
        actor="test",
    )
    for login, (role, department, section) in ROLE_USERS.items():
        add_user(url, login, role, department=department, section=section)
    add_cycle(url)  # scores, findings awaiting approval, the board (tests/web/cycle.py)
    add_items(url)  # D01's and D02's problem lists and rectification items (tests/web/items.py)
    return url


@pytest.fixture(scope="session")
def county_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("county")
    path = where / "county.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    build_county(url, where)
    get_engine(url).dispose()
    return path


def _copy_sqlite(source: Path, target: Path) -> str:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


@pytest.fixture
def county(county_template: Path, tmp_path: Path) -> str:
    """The county on SQLite, a fresh copy for each test."""
    return _copy_sqlite(county_template, tmp_path / "bihuan.db")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def county_both(
    request: pytest.FixtureRequest, county_template: Path, tmp_path: Path
) -> Iterator[str]:
    """The county on SQLite and on PostgreSQL (built afresh there), for the tests where the
    database matters."""
    if request.param == "sqlite":
        yield _copy_sqlite(county_template, tmp_path / "bihuan.db")
        return
    for url in _pg_schema_url():
        upgrade(url)
        yield build_county(url, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(utc_now())


@dataclass
class Browser:
    """A TestClient with the portal's form conventions (the CSRF field, sign-in)."""

    client: TestClient

    def sign_in(self, login: str, password: str = PASSWORD, next_url: str = "/") -> Response:
        form = self.client.get("/login")
        return self.client.post(
            "/login",
            data={
                "login": login,
                "password": password,
                "next": next_url,
                "csrf_token": field(form.text, "csrf_token"),
            },
            follow_redirects=False,
        )

    def csrf(self) -> str:
        """The session's CSRF token, as a form on a page carries it."""
        page = self.client.get("/account/password")
        return field(page.text, "csrf_token")

    def post(self, url: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Response:
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf()
        return self.client.post(url, data=body, follow_redirects=False)

    def get(self, url: str) -> Response:
        return self.client.get(url, follow_redirects=False)

    def api(self, url: str, token: str) -> Response:
        return self.client.get(url, headers={"Authorization": f"Bearer {token}"})


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


class Portal:
    """The portal over one database, and as many browsers (each with its cookies) as a test
    wants."""

    def __init__(self, url: str, clock: Clock, **settings: object) -> None:
        self.url = url
        self.clock = clock
        ctx = app_for(url)
        if settings:  # e.g. trust_proxy=True: the installation's settings, changed
            ctx = AppContext(ctx.settings.model_copy(update=settings), ctx.db_url, ctx.jurisdiction)
        self.app = create_app(ctx, clock=clock)
        self._clients: list[TestClient] = []

    def browser(self) -> Browser:
        client = TestClient(self.app)
        self._clients.append(client)
        return Browser(client)

    def signed_in(self, login: str, password: str = PASSWORD) -> Browser:
        b = self.browser()
        r = b.sign_in(login, password)
        assert r.status_code == 303, r.text
        return b

    def close(self) -> None:
        for c in self._clients:
            c.close()


@pytest.fixture
def portal(county: str, clock: Clock) -> Iterator[Portal]:
    p = Portal(county, clock)
    yield p
    p.close()


@pytest.fixture
def portal_both(county_both: str, clock: Clock) -> Iterator[Portal]:
    p = Portal(county_both, clock)
    yield p
    p.close()


@pytest.fixture
def web_app(portal: Portal) -> FastAPI:
    return portal.app


@pytest.fixture
def browser(portal: Portal) -> Browser:
    return portal.browser()


__all__ = ["PASSWORD", "ROLES", "ROLE_USERS", "YEAR", "Browser", "Clock", "add_user", "make_token"]
