"""Our own small SMTP sender for `mailto://` / `mailtos://` targets: one connection per server for
a whole dispatcher run, explicit connect and read timeouts, a stable Message-ID.

apprise opens, greets, authenticates and closes one SMTP conversation per message, sets a fresh
random Message-ID on every attempt (so a repeat looks like a new mail) and uses one 15 s timeout
for everything. Here the URL is still parsed by apprise (its NotifyEmail object gives the host,
port, security mode, credentials, From/To/Cc/Bcc and extra headers) and the message is still
built by apprise's own `NotifyEmail.prepare_emails`; only the transport is ours:

- `MailPool` keeps one open `smtplib` connection per (server, port, mode, user) for the run and
  sends every message of the run through it (issue 13.5: ≤ 1.2× a bare smtplib loop);
- every connection has a connect timeout (TCP, TLS handshake) and a read timeout (each reply);
- a connection the server closed while idle is re-opened once, and only before the MAIL command
  (nothing of the message left yet); any failure from RCPT on is reported, never retried here:
  the outbox decides (a timeout after DATA may mean delivered, so the retry carries the same
  notice number and Message-ID);
- bodies are sent as text/plain UTF-8 (our messages are plain text: apprise's default HTML
  alternative joined the lines of the text part and passed markup through in the HTML part).
"""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprise import AppriseAttachment
from apprise.common import NotifyFormat
from apprise.plugins.email.base import PGP_MODE_DEFAULT, NotifyEmail
from apprise.plugins.email.smtp import SMTP_DEFAULT_PORTS, SMTPSecureMode

APPLICATION = "bihuan"
_MESSAGE_ID = re.compile(r"^Message-ID:[^\n]*\n", re.MULTILINE | re.IGNORECASE)


class SmtpFailure(Exception):
    """A message that did not go out. `connection`: the server could not be reached or talked to
    (refused, timed out, dropped, TLS or login failed), which the run's circuit breaker counts."""

    def __init__(self, message: str, *, connection: bool) -> None:
        super().__init__(message)
        self.connection = connection


@dataclass(frozen=True)
class MailRoute:
    """What apprise parsed from one mailto/mailtos URL (its secrets stay in memory only)."""

    host: str
    port: int
    mode: str  # SMTPSecureMode: insecure, ssl, starttls
    user: str | None
    password: str | None = field(repr=False)
    verify: bool
    from_addr: tuple[Any, str]
    to: tuple[tuple[Any, str], ...]
    cc: frozenset[str] = frozenset()
    bcc: frozenset[str] = frozenset()
    reply_to: frozenset[str] = frozenset()
    names: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    headers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    tzinfo: Any = field(default=None, compare=False, hash=False)

    @classmethod
    def of(cls, service: Any) -> MailRoute | None:
        """The route of an apprise email service, or None when apprise must send it itself
        (PGP signing or encryption)."""
        if not isinstance(service, NotifyEmail):
            return None
        if getattr(service, "pgp_mode", PGP_MODE_DEFAULT) != PGP_MODE_DEFAULT:
            return None
        mode = service.secure_mode or SMTPSecureMode.INSECURE
        return cls(
            host=service.smtp_host or service.host,
            port=int(service.port or SMTP_DEFAULT_PORTS.get(mode, 25)),
            mode=mode,
            user=service.user or None,
            password=service.password or None,
            verify=bool(service.verify_certificate),
            from_addr=tuple(service.from_addr),  # type: ignore[arg-type]
            to=tuple(tuple(t) for t in service.targets),  # type: ignore[misc]
            cc=frozenset(service.cc),
            bcc=frozenset(service.bcc),
            reply_to=frozenset(service.reply_to),
            names=dict(service.names),
            headers={str(k): str(v) for k, v in service.headers.items()},
            tzinfo=getattr(service, "tzinfo", None),
        )

    @property
    def connection_key(self) -> tuple[Any, ...]:
        return (self.host, self.port, self.mode, self.user, self.password, self.verify)

    @property
    def where(self) -> str:
        return f"smtp {self.host}:{self.port}"

    @property
    def domain(self) -> str:
        """The sender's domain: the right-hand side of every Message-ID of this route."""
        address = self.from_addr[1] if self.from_addr else ""
        return address.rpartition("@")[2] or self.host


@functools.cache
def _local_hostname() -> str:
    # smtplib asks socket.getfqdn() (a DNS lookup) for every connection; once per process will do
    return socket.getfqdn()


class _ReadTimeout:
    """The connect timeout for the TCP connect and TLS handshake, then the read timeout for
    every reply (smtplib uses one timeout for both)."""

    read_timeout: float = 10.0

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        sock.settimeout(self.read_timeout)
        return sock


class _SMTP(_ReadTimeout, smtplib.SMTP):
    pass


class _SMTPSSL(_ReadTimeout, smtplib.SMTP_SSL):
    pass


def build(route: MailRoute, subject: str, body: str, *, message_id: str | None,
          notice: str | None, attachment: str | None = None,
          ) -> list[tuple[str, list[str], str]]:  # fmt: skip
    """The messages of one send, one per To address, as apprise builds them (text/plain, with
    `attachment` as a MIME part when given), with our Message-ID in place of apprise's random
    one: (envelope from, envelope to, message)."""
    headers = {"X-Application": APPLICATION, **route.headers}
    if notice:
        headers["X-Bihuan-Notice"] = notice
    out = []
    for email in NotifyEmail.prepare_emails(
        subject=subject,
        body=body,
        from_addr=route.from_addr,
        to=list(route.to),
        cc=set(route.cc),
        bcc=set(route.bcc),
        reply_to=set(route.reply_to),
        smtp_host=route.domain,
        notify_format=NotifyFormat.TEXT,
        headers=headers,
        names=route.names,
        tzinfo=route.tzinfo,
        attach=_attachment(attachment) if attachment else None,
    ):
        text = email.body
        if message_id:
            head, sep, rest = text.partition("\n\n")
            head = _MESSAGE_ID.sub("", head + "\n", count=1).rstrip("\n")
            text = f"{head}\nMessage-ID: {message_id}{sep}{rest}"
        out.append((route.from_addr[1], list(email.to_addrs), text))
    return out


def _attachment(path: str) -> AppriseAttachment:
    if not Path(path).is_file():
        raise FileNotFoundError(f"the attachment {Path(path).name} is missing from var/")
    return AppriseAttachment(path)


class MailPool:
    """Open SMTP connections of one run, one per server and account; `close()` ends them."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        tls_context: Callable[[bool], ssl.SSLContext],
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._tls_context = tls_context
        self._open: dict[tuple[Any, ...], smtplib.SMTP] = {}
        self.connections = 0  # opened in this run (the benchmark reports it)

    def send(
        self,
        route: MailRoute,
        subject: str,
        body: str,
        *,
        message_id: str | None = None,
        notice: str | None = None,
        attachment: str | None = None,
    ) -> None:
        """Send one message to every To address of `route`; raises SmtpFailure."""
        try:
            messages = build(
                route, subject, body, message_id=message_id, notice=notice, attachment=attachment
            )
        except Exception as exc:  # apprise's builder: no recipient, a bad address
            raise SmtpFailure(f"cannot build the message: {exc}", connection=False) from exc
        for sender, recipients, text in messages:
            self._transmit(route, sender, recipients, text)

    def close(self) -> None:
        for conn in self._open.values():
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit()
            with contextlib.suppress(OSError):
                conn.close()
        self._open.clear()

    # ------------------------------------------------------------------ the conversation

    def _connect(self, route: MailRoute) -> smtplib.SMTP:
        context = self._tls_context(not route.verify)
        conn: smtplib.SMTP
        if route.mode == SMTPSecureMode.SSL:
            conn = _SMTPSSL(
                local_hostname=_local_hostname(), timeout=self.connect_timeout, context=context
            )
        else:
            conn = _SMTP(local_hostname=_local_hostname(), timeout=self.connect_timeout)
        conn.read_timeout = self.read_timeout  # type: ignore[attr-defined]
        try:
            code, reply = conn.connect(route.host, route.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
            conn.ehlo()
            if route.mode == SMTPSecureMode.STARTTLS:
                conn.starttls(context=context)
                conn.ehlo()
            if route.user and route.password:
                conn.login(route.user, route.password)
        except BaseException:
            with contextlib.suppress(OSError):
                conn.close()
            raise
        self.connections += 1
        return conn

    def _connection(self, route: MailRoute) -> tuple[smtplib.SMTP, bool]:
        key = route.connection_key
        conn = self._open.get(key)
        if conn is not None:
            return conn, True
        try:
            conn = self._connect(route)
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpFailure(
                f"cannot open an SMTP session with {route.where}: {_describe(exc)}",
                connection=True,
            ) from exc
        self._open[key] = conn
        return conn, False

    def _drop(self, route: MailRoute) -> None:
        conn = self._open.pop(route.connection_key, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def _transmit(self, route: MailRoute, sender: str, recipients: list[str], text: str) -> None:
        for first_try in (True, False):
            conn, reused = self._connection(route)
            try:
                code, reply = conn.mail(sender)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                self._drop(route)
                if reused and first_try:
                    continue  # closed while idle: nothing of this message was sent yet
                raise SmtpFailure(f"{route.where}: {_describe(exc)}", connection=True) from exc
            if code == 421 and reused and first_try:
                self._drop(route)  # the server is closing an idle connection
                continue
            break
        try:
            if code != 250:
                self._reset(conn)
                raise SmtpFailure(
                    f"{route.where} refused the sender: {code} {_text(reply)}",
                    connection=code == 421,
                )
            refused = {}
            for rcpt in recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = f"{code} {_text(reply)}"
            if len(refused) == len(recipients):
                self._reset(conn)
                raise SmtpFailure(
                    f"{route.where} refused every recipient: {refused}", connection=False
                )
            code, reply = conn.data(text)
            if code != 250:
                self._reset(conn)
                raise SmtpFailure(
                    f"{route.where} refused the message: {code} {_text(reply)}",
                    connection=code == 421,
                )
        except SmtpFailure:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            # Timed out or dropped after MAIL: the message may or may not have been accepted;
            # the outbox retries it later with the same notice number and Message-ID.
            self._drop(route)
            raise SmtpFailure(f"{route.where}: {_describe(exc)}", connection=True) from exc
        if refused:
            raise SmtpFailure(f"{route.where} refused some recipients: {refused}", connection=False)

    def _reset(self, conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            conn.rset()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


__all__ = ["MailPool", "MailRoute", "SmtpFailure", "build"]
