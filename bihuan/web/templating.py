"""The portal's pages: one Jinja2 environment (autoescape on) over the documents' environment."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bihuan.clock import BUSINESS_TZ
from bihuan.web.nav import links_for
from notifications.render import environment

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _cn_datetime(value: datetime | str | None) -> str:
    """A timestamp (or its ISO text) in Beijing time, e.g. 2026-12-03 18:05."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def _build_env() -> Environment:
    # An overlay shares the documents' settings (StrictUndefined, trim_blocks) and filters;
    # the portal's templates come first, the documents' stay reachable (e.g. a problem list's
    # preview). Every template is escaped, whatever its name.
    documents = environment()
    env = documents.overlay(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), documents.loader]),  # type: ignore[list-item]
        autoescape=True,
    )
    env.filters = dict(documents.filters)  # our own filters must not leak into the documents
    env.globals = dict(documents.globals)
    env.filters["cn_datetime"] = _cn_datetime
    return env


ENV = _build_env()


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with what the layout needs: the signed-in user (if any), their CSRF token for
    the forms, the office's name and the links of their role."""
    signed = getattr(request.state, "signed_in", None)
    ctx = request.app.state.ctx
    page = {
        "me": signed.actor if signed else None,
        "csrf_token": signed.csrf_token if signed else "",
        "must_change_password": bool(signed and signed.must_change_password),
        "office": ctx.policy.office_name(ctx.jurisdiction),
        "links": links_for(signed.actor) if signed else [],
        "path": request.url.path,
        **context,
    }
    return HTMLResponse(ENV.get_template(name).render(page), status_code=status_code)
