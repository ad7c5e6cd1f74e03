"""The apprise adapter (发送通道): the one place that knows apprise's quirks.

- Recipients are apprise tags from an apprise YAML config per installation
  (settings.apprise_config, else var/apprise.yml); one tag per send, so a failure is known per
  recipient.
- apprise never raises; its result (an `AppriseResult` in apprise 2, True/False/None in 1.x) is
  turned into a `DeliveryResult`. "No channel for this tag" is a configuration error, never "sent".
- DingTalk, WeCom bot, Feishu and Lark answer HTTP 200 with a non-zero `errcode` / `code` when
  they reject a message (bad token, keyword or signature check, rate limit) and apprise counts
  that as delivered. `install_bot_reply_check()` makes such a reply a failed send.
- URLs and their secret parts never reach a log record, a result or the database: a
  `logging.Filter` on the apprise and urllib3 loggers masks every configured secret, and every
  error returned here is masked the same way.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import apprise
import yaml

import notifications.sink  # registers the bihuan:// local sink scheme
from bihuan.errors import ConfigError

MASK = "***"
ERROR_MAX = 500
# Loggers that have been seen to print a URL with its token: apprise's own (DEBUG), and
# urllib3's connection pool, which logs the request line (query string included) at DEBUG.
MASKED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "requests")
# Chat-bot plugins that judge success by HTTP status only (apprise 2.0.1).
BOT_PLUGIN_MODULES = {
    "apprise.plugins.dingtalk": "DingTalk",
    "apprise.plugins.wecombot": "WeCom bot",
    "apprise.plugins.feishu": "Feishu",
    "apprise.plugins.lark": "Lark",
}
_SPLIT = re.compile(r"[/:@?&=#,;+\s]+")
_MIN_SECRET = 4

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message to one tag. `error` is already masked."""

    ok: bool
    error: str = ""
    # True when retrying cannot help until someone fixes the configuration (no channel for tag).
    permanent: bool = False


# --------------------------------------------------------------------------------------------
# Secret masking


class SecretMasker(logging.Filter):
    """Replaces every known secret (whole URLs, passwords, tokens) in a log record by ***."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = set(self._secrets)
            for s in secrets:
                if s and len(s) >= _MIN_SECRET:
                    known.add(s)
                    known.add(quote(s, safe=""))
                    known.add(unquote(s))
            # Longest first, so a whole URL is masked before its parts.
            self._secrets = tuple(
                sorted((k for k in known if len(k) >= _MIN_SECRET), key=len, reverse=True)
            )

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string is the logger's problem, not ours
                return True
            masked = self.mask(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


MASKER = SecretMasker()
_installed_on: set[str] = set()


def install_masking(extra_loggers: Iterable[str] = ()) -> SecretMasker:
    """Attach the one masker to the loggers that may print secrets (idempotent)."""
    for name in (*MASKED_LOGGERS, *extra_loggers):
        if name not in _installed_on:
            logging.getLogger(name).addFilter(MASKER)
            _installed_on.add(name)
    return MASKER


def url_secrets(url: str) -> set[str]:
    """The secret-looking parts of a raw URL: the URL itself, its password and query values."""
    # Our own sink holds no secret; masking "bihuan://outbox" would only garble logs.
    found = set() if url.strip().startswith(f"{notifications.sink.SCHEME}://") else {url.strip()}
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return found
    if parts.password:
        found.add(parts.password)
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if value and any(
            w in key.lower() for w in ("token", "key", "secret", "pass", "pwd", "auth")
        ):
            found.add(value)
    return found


def service_secrets(service: Any) -> set[str]:
    """What apprise itself hides in `url(privacy=True)` is, by definition, a secret."""
    full = unquote(service.url())
    private = unquote(service.url(privacy=True))
    hidden = set(_SPLIT.split(full)) - set(_SPLIT.split(private))
    secrets = {t for t in hidden if len(t) >= _MIN_SECRET}
    if hidden:
        secrets |= {full, service.url()}
    return secrets


# --------------------------------------------------------------------------------------------
# Chat bots that say "200 OK" while rejecting the message


def bot_reply_error(status_code: int, text: str) -> str | None:
    """The rejection carried in a 200 reply of DingTalk/WeCom/Feishu/Lark, or None if accepted.

    DingTalk and WeCom answer {"errcode": 0, "errmsg": "ok"}; Feishu and Lark {"code": 0, ...}
    (older Feishu hooks {"StatusCode": 0, ...}). Anything non-zero is a rejection.
    """
    if status_code != 200:
        return None  # the plugin's own status check already fails it
    try:
        reply = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(reply, dict):
        return None
    for code_key, msg_key in (
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ):
        if code_key in reply and reply[code_key] not in (0, "0", None):
            return f"{code_key}={reply[code_key]} {reply.get(msg_key, '')}".strip()
    return None


class _BotReplyCheckingRequests:
    """Stands in for `requests` inside one chat-bot plugin module: a rejecting 200 raises."""

    def __init__(self, real: Any, service: str) -> None:
        self._real = real
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        response = self._real.post(*args, **kwargs)
        problem = bot_reply_error(response.status_code, response.text)
        if problem:
            # Logged on the apprise logger so it lands in apprise's per-send log capture (and so
            # in DeliveryResult.error); the plugin's except-clause then returns False.
            logging.getLogger("apprise").warning(
                "%s rejected the message: %s", self._service, problem
            )
            raise self._real.RequestException(f"{self._service} rejected the message: {problem}")
        return response


def install_bot_reply_check() -> list[str]:
    """Wrap `requests` in each installed chat-bot plugin module (idempotent); returns their names."""
    import importlib

    done = []
    for module_name, service in BOT_PLUGIN_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a plugin missing from this apprise version: nothing to fix
            continue
        current = getattr(module, "requests", None)
        if current is None:
            continue
        if not isinstance(current, _BotReplyCheckingRequests):
            module.requests = _BotReplyCheckingRequests(current, service)  # type: ignore[attr-defined]
        done.append(module_name)
    return done


class _SharedTLSContext:
    """Stands in for the `ssl.SSLContext` apprise's SMTP plugin makes for every message.

    apprise 2.0 calls `ssl.create_default_context()` per message (loading the CA store, ~60 ms
    here, more than the send itself) and then, for `verify=no`, turns verification off on it.
    This proxy hands out one of two contexts built once per process — verifying, or not — and
    switches to the second when the plugin turns verification off, so nothing is ever loosened
    on a shared context."""

    _verified: ssl.SSLContext | None = None
    _unverified: ssl.SSLContext | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        object.__setattr__(self, "_insecure", False)

    @classmethod
    def _context(cls, insecure: bool) -> ssl.SSLContext:
        with cls._lock:
            if insecure:
                if cls._unverified is None:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    cls._unverified = ctx
                return cls._unverified
            if cls._verified is None:
                cls._verified = ssl.create_default_context()
            return cls._verified

    def __setattr__(self, name: str, value: Any) -> None:
        if (name == "check_hostname" and value is False) or (
            name == "verify_mode" and value == ssl.CERT_NONE
        ):
            object.__setattr__(self, "_insecure", True)
            return
        raise AttributeError(f"the shared TLS context does not allow setting {name}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context(object.__getattribute__(self, "_insecure")), name)


def install_smtp_context_cache() -> bool:
    """Point apprise's SMTP plugin at the shared TLS contexts (see _SharedTLSContext)."""
    try:
        from apprise.plugins.email import smtp as smtp_plugin
    except ImportError:  # pragma: no cover - apprise moved it; fall back to its own behaviour
        return False
    proxy = types.SimpleNamespace(
        **{k: getattr(ssl, k) for k in dir(ssl) if not k.startswith("__")}
    )
    proxy.create_default_context = _SharedTLSContext
    smtp_plugin.ssl = proxy  # type: ignore[assignment]
    return True


install_masking()
install_bot_reply_check()
install_smtp_context_cache()


# --------------------------------------------------------------------------------------------
# Loading the configuration and sending


def default_config_path(settings: Any = None) -> Path:
    if settings is None:
        from bihuan.settings import get_settings

        settings = get_settings()
    return (
        Path(settings.apprise_config)
        if settings.apprise_config
        else settings.var_dir / "apprise.yml"
    )


def _raw_urls(text: str) -> list[str]:
    """URL strings in an apprise YAML config (`urls:` entries are strings or one-key mappings)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    entries = data.get("urls") if isinstance(data, dict) else None
    urls: list[str] = []
    for entry in entries or []:
        if isinstance(entry, str):
            urls.append(entry)
        elif isinstance(entry, dict):
            urls.extend(str(k) for k in entry)
    return urls


class Channels:
    """The recipients of one installation, loaded from an apprise YAML config."""

    def __init__(
        self, config_text: str, *, source: str = "<apprise config>", rate_limit: float | None = None
    ) -> None:
        self.source = source
        raw_urls = _raw_urls(config_text)
        if not raw_urls:
            raise ConfigError(
                f"{source}: no `urls:` entries found. Write an apprise YAML config with `urls:` and a "
                "`tag:` per URL (see config/apprise.example.yml)."
            )
        install_masking()
        # Known before apprise parses anything, so even a parse-time log line is masked.
        MASKER.add(s for u in raw_urls for s in url_secrets(u))
        config = apprise.AppriseConfig()
        if not config.add_config(config_text, format="yaml"):
            raise ConfigError(
                f"{source}: not a valid apprise YAML config (see config/apprise.example.yml)."
            )
        self._apprise = apprise.Apprise()
        self._apprise.add(config)
        services = list(self._apprise)  # instantiates every URL now, not at the first send
        if not services:
            raise ConfigError(
                f"{source}: none of the {len(raw_urls)} URL(s) could be loaded; check each URL's "
                "scheme and token against https://github.com/caronc/apprise/wiki."
            )
        for service in services:
            MASKER.add(service_secrets(service))
            if rate_limit is not None:
                # apprise waits between two sends through the same URL (5.5 s by default);
                # tests and the local sink have no reason to.
                service.request_rate_per_sec = rate_limit
        self.loaded = len(services)
        self.declared = len(raw_urls)
        # One small Apprise per tag, built on first use: matching a tag against every URL of a
        # county's config (hundreds of tags) on each send cost more than the send itself.
        self._by_tag: dict[str, apprise.Apprise] = {}

    @classmethod
    def from_file(cls, path: Path, *, rate_limit: float | None = None) -> Channels:
        if not path.exists():
            raise ConfigError(
                f"apprise config {path} does not exist. Copy config/apprise.example.yml there and "
                "fill in real URLs, or set BIHUAN_APPRISE_CONFIG to another file."
            )
        return cls(path.read_text(encoding="utf-8"), source=str(path), rate_limit=rate_limit)

    def tags(self) -> set[str]:
        found: set[str] = set()
        for service in self._apprise:
            found.update(str(t) for t in service.tags)
        return found

    def describe(self) -> list[dict[str, Any]]:
        """Each URL in its masked form with its tags, safe to print or store."""
        return [
            {"url": s.url(privacy=True), "tags": sorted(str(t) for t in s.tags)}
            for s in self._apprise
        ]

    def _for_tag(self, tag: str) -> apprise.Apprise:
        found = self._by_tag.get(tag)
        if found is None:
            # one tag, usually one URL: no thread pool needed to send to it
            found = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
            for service in self._apprise:
                if tag in {str(t) for t in service.tags}:
                    found.add(service)
            self._by_tag[tag] = found
        return found

    def mask(self, text: str) -> str:
        """`text` with every secret of the loaded configuration (and any loaded before) masked."""
        return MASKER.mask(text)

    def send(self, tag: str, subject: str, body: str) -> DeliveryResult:
        """Send one message to every URL carrying `tag`. Never raises for a delivery problem."""
        try:
            outcome = self._for_tag(tag).notify(body=body, title=subject, tag=tag)
        except Exception as exc:  # apprise promises not to raise; if it does, it is a failed send
            return DeliveryResult(
                False, _clip(MASKER.mask(f"apprise raised {type(exc).__name__}: {exc}"))
            )
        return interpret(outcome, tag=tag, source=self.source)


def interpret(outcome: Any, *, tag: str, source: str = "<apprise config>") -> DeliveryResult:
    """Turn whatever apprise returned into a DeliveryResult (apprise 2 result or 1.x bool/None)."""
    no_channel = DeliveryResult(
        False,
        f"no channel configured for tag {tag!r} (add a URL with `tag: {tag}` to {source})",
        permanent=True,
    )
    if outcome is None:
        return no_channel
    if isinstance(outcome, bool):
        return (
            DeliveryResult(True) if outcome else DeliveryResult(False, "apprise reported a failure")
        )
    status = getattr(outcome, "status", None)
    name = getattr(status, "name", str(status))
    if name == "SUCCESS":
        return DeliveryResult(True)
    if name == "NOMATCH":
        return no_channel
    reasons = []
    for service_result in outcome:
        if service_result:
            continue
        lines = [
            e.message for e in service_result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")
        ]
        reasons.append(
            f"{service_result.name} ({service_result.status.name.lower()}): " + " | ".join(lines)
        )
    for entry in outcome.call_logs():
        if entry.level in ("ERROR", "CRITICAL"):
            reasons.append(entry.message)
    message = "; ".join(reasons) or f"apprise status {name}"
    if name == "PARTIAL":
        message = (
            "some channels failed (the others received it and may receive it again on retry): "
            + message
        )
    return DeliveryResult(False, _clip(MASKER.mask(message)))


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def load_channels(settings: Any = None, *, rate_limit: float | None = None) -> Channels:
    """The installation's channels from settings.apprise_config or var/apprise.yml."""
    return Channels.from_file(default_config_path(settings), rate_limit=rate_limit)


def demo_config(tags: Iterable[str], outbox_dir: Path | None = None) -> str:
    """An apprise YAML config that sends every tag to the local sink (for the embedded demo)."""
    extra = {"dir": str(outbox_dir)} if outbox_dir else {}
    entries = [{"tag": t, **extra} for t in sorted(set(tags))]
    doc = {"version": 1, "urls": [{"bihuan://outbox": entries}]}
    header = "# Generated for the demo: every recipient tag goes to the local sink (var/outbox/).\n"
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def write_demo_config(path: Path, tags: Iterable[str], outbox_dir: Path | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(demo_config(tags, outbox_dir), encoding="utf-8")
    return path


__all__ = [
    "MASKER",
    "Channels",
    "DeliveryResult",
    "SecretMasker",
    "bot_reply_error",
    "default_config_path",
    "demo_config",
    "install_bot_reply_check",
    "install_masking",
    "interpret",
    "load_channels",
    "service_secrets",
    "url_secrets",
    "write_demo_config",
]
