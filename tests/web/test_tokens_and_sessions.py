"""Tokens and sessions through the use cases and the CLI: who may, what is stored, what is kept."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime

import pytest
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.core.access import Actor
from bihuan.core.websecurity import secret_hash
from bihuan.errors import NotFound, PermissionDenied
from bihuan.services import audit, identity, web_auth
from bihuan.services.uow import UnitOfWork
from tests.users import app_for
from tests.web.conftest import Portal

_register_commands()
runner = CliRunner()


def _cli(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--db", url])
    return result.exit_code, result.output


def _actor(url: str, login: str) -> Actor:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        return identity.actor_for(uow, login)


def _snapshot(url: str, now: datetime) -> dict[str, object]:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        admin = identity.actor_for(uow, "admin")
        return {
            "tokens": [t.model_dump() for t in web_auth.list_tokens(uow, admin, now)],
            "sessions": [s.model_dump() for s in web_auth.list_sessions(uow, admin, now)],
        }


def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(portal: Portal) -> None:
    code, out = _cli(
        portal.url, "tokens", "create", "--user", "office", "--name", "报表", "--as", "office"
    )
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("bihuan_") and len(token) > 40
    code, listed = _cli(portal.url, "tokens", "list", "--json", "--as", "office")
    rows = json.loads(listed)
    assert len(rows) == 1 and rows[0]["state"] == "active" and rows[0]["name"] == "报表"
    assert token not in listed and secret_hash(token) not in listed
    assert token.startswith(rows[0]["prefix"])
    b = portal.browser()
    assert b.api("/api/v1/me", token).json()["login"] == "office"
    code, out = _cli(portal.url, "tokens", "revoke", str(rows[0]["id"]), "--as", "office")
    assert code == 0, out
    assert b.api("/api/v1/me", token).status_code == 401
    listed_after = json.loads(_cli(portal.url, "tokens", "list", "--json", "--as", "office")[1])
    assert listed_after[0]["state"] == "revoked"


def test_only_an_admin_creates_tokens_for_others(portal: Portal) -> None:
    code, out = _cli(portal.url, "tokens", "create", "--user", "office", "--as", "leader")
    assert code == 3 and "may not" in out
    code, out = _cli(portal.url, "tokens", "create", "--user", "office", "--as", "admin", "--json")
    assert code == 0, out
    made = json.loads(out)
    assert made["user"] == "office" and made["created_by"] == "admin"
    # the token acts as its user, not as the admin who made it
    b = portal.browser()
    assert b.api("/api/v1/me", made["token"]).json()["role"] == "office"
    # the office user sees it among their own, and may revoke it
    mine = json.loads(_cli(portal.url, "tokens", "list", "--json", "--as", "office")[1])
    assert [t["id"] for t in mine] == [made["id"]]


USE_CASES: dict[str, Callable[[UnitOfWork, Actor, datetime, dict[str, int]], object]] = {
    "create a token for another user": lambda uow, a, now, ids: web_auth.create_token(
        uow, web_auth.CreateToken(user="office"), a, now
    ),
    "list everyone's sessions": lambda uow, a, now, ids: web_auth.list_sessions(uow, a, now),
    "revoke another user's session": lambda uow, a, now, ids: web_auth.revoke_session(
        uow, a, ids["session"], now
    ),
    "revoke every session of a user": lambda uow, a, now, ids: web_auth.revoke_user_sessions(
        uow, a, "office", now
    ),
    "revoke another user's token": lambda uow, a, now, ids: web_auth.revoke_token(
        uow, a, ids["token"], now
    ),
}


@pytest.mark.parametrize("who", ["D01lx", "leader", "disabled"])
@pytest.mark.parametrize("what", sorted(USE_CASES))
def test_refused_and_nothing_changes(portal_both: Portal, who: str, what: str) -> None:
    url, now = portal_both.url, portal_both.clock()
    portal_both.signed_in("office")
    with UnitOfWork(app_for(url)) as uow:
        office = identity.actor_for(uow, "office")
        web_auth.create_token(uow, web_auth.CreateToken(user="office"), office, now)
        admin = identity.actor_for(uow, "admin")
        ids = {
            "session": web_auth.list_sessions(uow, admin, now, login="office")[0].id,
            "token": web_auth.list_tokens(uow, admin, now, login="office")[0].id,
        }
    if who == "disabled":
        actor = _actor(url, "auditor")  # an actor read before the account was disabled
        with UnitOfWork(app_for(url)) as uow:
            identity.set_active(uow, "auditor", False, identity.actor_for(uow, "admin"), now.date())
    else:
        actor = _actor(url, who)
    before = _snapshot(url, now)
    with pytest.raises((PermissionDenied, NotFound)), UnitOfWork(app_for(url)) as uow:
        USE_CASES[what](uow, actor, now, ids)
    assert _snapshot(url, now) == before


def test_admin_actions_are_audited_under_the_admin(portal_both: Portal) -> None:
    url, now = portal_both.url, portal_both.clock()
    portal_both.signed_in("office")
    admin = _actor(url, "admin")
    with UnitOfWork(app_for(url)) as uow:
        new = web_auth.create_token(uow, web_auth.CreateToken(user="office"), admin, now)
        web_auth.revoke_token(uow, admin, new.view.id, now)
        assert web_auth.revoke_user_sessions(uow, admin, "office", now) == 1
    with UnitOfWork(app_for(url), readonly=True) as uow:
        entries = audit.read_log(uow, admin, key="office").entries
    mine = {e.action: e.user_id for e in entries if e.actor == "admin"}
    mine.pop("user_added")
    assert mine == {
        "api_token_created": admin.user_id,
        "api_token_revoked": admin.user_id,
        "sessions_revoked": admin.user_id,
    }


def test_sessions_commands(portal: Portal) -> None:
    b = portal.signed_in("office")
    code, out = _cli(portal.url, "sessions", "list", "--json", "--as", "admin")
    assert code == 0, out
    rows = json.loads(out)
    assert [r["login"] for r in rows] == ["office"] and rows[0]["role_label"] == "编办"
    code, out = _cli(portal.url, "sessions", "list", "--as", "leader")
    assert code == 3
    code, out = _cli(portal.url, "sessions", "revoke", str(rows[0]["id"]), "--as", "admin")
    assert code == 0, out
    assert b.get("/").status_code == 303
    portal.signed_in("office")
    portal.signed_in("office")
    code, out = _cli(portal.url, "sessions", "revoke", "--user", "office", "--as", "admin")
    assert code == 0 and "ended 2 session" in out
    code, out = _cli(portal.url, "sessions", "revoke", "999", "--as", "admin")
    assert code == 1 and "no session 999" in out
    # disabling a user ends their sessions
    portal.signed_in("leader")
    assert _cli(portal.url, "users", "disable", "leader", "--as", "admin")[0] == 0
    assert json.loads(_cli(portal.url, "sessions", "list", "--json", "--as", "admin")[1]) == []


def test_help_stays_fast_without_the_web_stack() -> None:
    code = (
        "import sys\n"
        "from bihuan.cli import app, _register_commands\n"
        "_register_commands()\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0 and 'web' in r.output, r.output\n"
        "r = CliRunner().invoke(app, ['web', '--help'])\n"
        "assert r.exit_code == 0 and '--port' in r.output, r.output\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
