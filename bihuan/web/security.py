"""HTTP-level protections of the portal: security headers, cookies, the client's address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

SESSION_COOKIE = "bihuan_session"
# the sign-in form's CSRF token before there is a session (double submit: cookie == field)
LOGIN_COOKIE = "bihuan_login"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline script or style anywhere, the API docs included (they load a static init script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
# A rendered document (a problem list's preview, the year-end report) is a page of its own with
# its inline <style> and SVG: it may style itself, and nothing else: no script at all, no
# request anywhere, no form. A route opts in by sending exactly this header (document_response).
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "form-action 'none'; base-uri 'none'"
)
HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def forwarded_https(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"x-forwarded-proto":
            return value.decode("latin-1").split(",")[-1].strip().lower() == "https"
    return False


class SecurityHeaders:
    """ASGI middleware: the security headers on every response (pages, API, static files and
    errors alike), `Cache-Control: no-store` on everything but static files (pages show a
    signed-in user's data), and HSTS when the request came over https."""

    def __init__(self, app: ASGIApp, *, trust_proxy: bool) -> None:
        self.app = app
        self.trust_proxy = trust_proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        https = scope.get("scheme") == "https" or (
            self.trust_proxy and forwarded_https(scope.get("headers", []))
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", [])
                document = (b"content-security-policy", DOCUMENT_CSP.encode()) in given
                headers = [(k, v) for k, v in given if k.decode("latin-1").lower() not in _LOWER]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if document:
                    headers = [
                        (k, DOCUMENT_CSP.encode() if k == b"Content-Security-Policy" else v)
                        for k, v in headers
                    ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_LOWER = {k.lower() for k in HEADERS} | {"cache-control"}


def document_response(html: str) -> Response:
    """A rendered document (autoescaped HTML with its own inline style) under DOCUMENT_CSP."""
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})


def is_https(request: Request, *, trust_proxy: bool) -> bool:
    """Whether the browser talks https to us: the request's own scheme, or (behind a trusted
    proxy, BIHUAN_TRUST_PROXY) the proxy's X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    return trust_proxy and forwarded_https(list(request.headers.raw))


def client_address(request: Request, *, trust_proxy: bool) -> str:
    """The address throttling counts: the peer, or behind a trusted proxy the last address of
    X-Forwarded-For (the one that proxy added; earlier ones are the client's own claims)."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return (request.client.host if request.client else "")[:64]


def set_cookie(
    response: Response, name: str, value: str, *, secure: bool, max_age: int | None = None
) -> None:
    """HttpOnly, SameSite=Lax, Path=/, and Secure over https."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


def clear_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a path of this site (no scheme, no //host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
