"""The REST API: the CLI's --json shapes, pages, JSON errors, and its documentation page."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from tests.web.conftest import YEAR, Portal, make_token

_register_commands()
runner = CliRunner()


def _cli_json(args: list[str], url: str, login: str) -> object:
    result = runner.invoke(app, [*args, "--json", "--db", url, "--as", login])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("login", ["office", "D01lx"])
def test_the_api_returns_what_the_cli_prints(portal_both: Portal, login: str) -> None:
    portal = portal_both
    token = make_token(portal.url, login, portal.clock())
    b = portal.browser()
    for path, args in (
        ("/api/v1/departments", ["departments"]),
        (f"/api/v1/indicators?year={YEAR}", ["indicators", "--year", str(YEAR)]),
    ):
        body = b.api(path + ("&" if "?" in path else "?") + "per_page=500", token).json()
        assert body["items"] == _cli_json(args, portal.url, login), path
        assert body["total"] == len(body["items"]) and body["page"] == 1
    me = b.api("/api/v1/me", token).json()
    assert me["login"] == login and "password_hash" not in me


def test_lists_come_in_pages(portal: Portal) -> None:
    token = make_token(portal.url, "office", portal.clock())
    b = portal.browser()
    url = f"/api/v1/indicators?year={YEAR}"
    everything = b.api(url + "&per_page=500", token).json()
    assert everything["total"] == 26 and everything["per_page"] == 500
    first = b.api(url + "&per_page=10", token).json()
    third = b.api(url + "&per_page=10&page=3", token).json()
    assert first["items"] == everything["items"][:10]
    assert third["items"] == everything["items"][20:] and third["total"] == 26
    assert b.api(url + "&per_page=10&page=9", token).json()["items"] == []
    assert set(first) == {"items", "total", "page", "per_page"}


def test_errors_are_json_with_a_detail(portal: Portal) -> None:
    token = make_token(portal.url, "office", portal.clock())
    b = portal.browser()
    cases = [
        (b.client.get("/api/v1/departments"), 401),
        (b.api("/api/v1/departments", "bihuan_nonsense"), 401),
        (b.api("/api/v1/departments?per_page=0", token), 422),
        (b.api("/api/v1/indicators", token), 422),  # the year is required
        (b.api("/api/v1/indicators?year=2001", token), 400),  # no ledger that year
        (b.api("/api/v1/indicators?year=2022&department=NOPE", token), 404),
        (b.api("/api/v1/nothing-here", token), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        assert "detail" in r.json()
    assert cases[0][0].headers["www-authenticate"] == "Bearer"


def test_the_api_documentation_is_served_from_the_package(portal: Portal) -> None:
    b = portal.browser()
    page = b.get("/api/docs")
    assert page.status_code == 200
    assert 'data-openapi-url="/api/openapi.json"' in page.text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        r = b.get(asset)
        assert r.status_code == 200 and len(r.content) > 100, asset
    assert "http" not in re.sub(r'content="[^"]*"', "", page.text.split("<body>")[1])
    spec = b.get("/api/openapi.json").json()
    paths = set(spec["paths"])
    assert paths >= {"/api/v1/me", "/api/v1/departments", "/api/v1/indicators"}
    assert all(p.startswith("/api/v1/") for p in paths)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert b.get("/docs").status_code == 404 and b.get("/redoc").status_code == 404
