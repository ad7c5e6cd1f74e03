"""Real servers on loopback for tests: SMTP (aiosmtpd) that can go down and come back on the same
port (and be slow), an SMTP port that accepts connections and never answers, and a JSON webhook
that answers like a chat bot."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "bihuan", "SMTPPASSWORD42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["message-id"])

    @property
    def notice(self) -> str:
        return str(self.message["x-bihuan-notice"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class MailServer:
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering each message (a slow server)
    sessions: int = 0  # SMTP connections (EHLO/HELO greetings) seen
    _controller: Controller | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def _auth(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    def start(self) -> None:
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._auth,
            auth_require_tls=False,  # loopback test server without TLS
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, to: str, user: str = USER, password: str = PASSWORD) -> str:
        # mailto:// (not mailtos://) means plain SMTP; `smtp=` names the server, `to=`/`from=` the
        # envelope. apprise defaults to no TLS for mailto://, which a loopback server needs.
        return (
            f"mailto://{user}:{password}@127.0.0.1:{self.port}"
            f"?smtp=127.0.0.1&from=bihuan@example.org&to={to}"
        )


class SilentServer:
    """A TCP port that accepts connections and never says a word (a hung SMTP server)."""

    def __init__(self, port: int | None = None) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port or 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # held open, never answered

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()  # a blocked accept() would keep the port bound
        for conn in self.accepted:
            conn.close()
        self._sock.close()


class _WebhookHandler(BaseHTTPRequestHandler):
    reply: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.seen.append(self.rfile.read(length).decode())
        body = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Webhook:
    """A JSON webhook on loopback that answers HTTP 200 with `reply` (like a chat bot does)."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.handler: type[_WebhookHandler] = type(
            "Handler", (_WebhookHandler,), {"reply": reply or {}, "seen": []}
        )
        self._server = HTTPServer(("127.0.0.1", 0), self.handler)
        self.port = int(self._server.server_port)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def seen(self) -> list[str]:
        return self.handler.seen

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
