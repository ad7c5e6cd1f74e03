"""The apprise adapter (发送通道): the one place that knows apprise's quirks.

- Recipients are apprise tags from an apprise YAML config per installation
  (settings.apprise_config, else var/apprise.yml). A tag may hold several URLs; each URL is sent
  to on its own and its result kept (`DeliveryResult.targets`, keyed by `target_key`, a one-way
  hash), so the outbox retries only the URLs that did not receive a message.
- `Channels.batch(limits)` is one dispatcher run: `mailto://` / `mailtos://` URLs go through our
  own SMTP transport (notifications/smtp.py: one connection per server for the whole run, a
  stable Message-ID), every other URL through apprise; every send has the run's connect and read
  timeouts (apprise's `cto` / `rto`, unless the URL sets its own) and apprise never retries by
  itself; a channel (SMTP server, bot API) that fails to connect `breaker_failures` times in a
  row is skipped for the rest of the run (`DeliveryResult.deferred`).
- apprise never raises; its result (an `AppriseResult` in apprise 2, True/False/None in 1.x) is
  turned into a `DeliveryResult`. "No channel for this tag" is a configuration error, never "sent".
- DingTalk, WeCom bot, Feishu and Lark answer HTTP 200 with a non-zero `errcode` / `code` when
  they reject a message (bad token, keyword or signature check, rate limit) and apprise counts
  that as delivered. `install_bot_reply_check()` makes such a reply a failed send. None of them
  takes several messages in one call, so they are sent one message per call.
- URLs and their secret parts never reach a log record, a result or the database: a
  `logging.Filter` on the apprise and urllib3 loggers masks every configured secret, and every
  error returned here is masked the same way.

docs/notifications.md has the whole story.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import ssl
import threading
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import apprise
import yaml

import notifications.sink  # registers the bihuan:// local sink scheme
from bihuan.core.outbox import CircuitBreaker, Outgoing, SendLimits, TargetResult, message_id
from bihuan.errors import ConfigError
from notifications.smtp import MailPool, MailRoute, SmtpFailure
from notifications.tags import SMTP_ACCOUNT_TAG

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
    # What each URL of the tag answered (empty from senders that do not know).
    targets: tuple[TargetResult, ...] = ()
    # Nothing was tried: every URL left is on a channel the run's circuit breaker closed.
    deferred: bool = False


# --------------------------------------------------------------------------------------------
# Secret masking


class SecretMasker(logging.Filter):
    """Replaces every known secret (whole URLs, passwords, tokens) in a log record by ***."""

    # Above this many secrets, mask() scans the text once through an index of the secrets'
    # first characters instead of searching the text for each secret: a province's config holds
    # tens of thousands, and every log record passes through here.
    INDEX_ABOVE = 64

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._known: set[str] = set()
        # every secret, longest first (a whole URL is masked before its parts), while few
        self._few: tuple[str, ...] = ()
        # the secrets by their first characters, each prefix's longest first
        self._index: dict[str, tuple[str, ...]] = {}

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            new: list[str] = []
            for s in secrets:
                if s and len(s) >= _MIN_SECRET:
                    for k in (s, quote(s, safe=""), unquote(s)):
                        if len(k) >= _MIN_SECRET and k not in self._known:
                            self._known.add(k)
                            new.append(k)
            if not new:
                return
            # Incremental: a large config's tags load one at a time, each adding a few secrets
            # to tens of thousands. Readers see either a prefix's old tuple or its new one.
            grouped: dict[str, list[str]] = {}
            for k in new:
                grouped.setdefault(k[:_MIN_SECRET], []).append(k)
            for prefix, ks in grouped.items():
                merged = (*self._index.get(prefix, ()), *ks)
                self._index[prefix] = tuple(sorted(merged, key=len, reverse=True))
            few = len(self._known) <= self.INDEX_ABOVE
            self._few = tuple(sorted(self._known, key=len, reverse=True)) if few else ()

    def mask(self, text: str) -> str:
        few = self._few
        if few or len(self._known) <= self.INDEX_ABOVE:
            for secret in few:
                if secret in text:
                    text = text.replace(secret, MASK)
            return text
        return self._mask_indexed(text, self._index)

    @staticmethod
    def _mask_indexed(text: str, index: dict[str, tuple[str, ...]]) -> str:
        """Left to right, the longest secret starting at each position becomes ***."""
        out: list[str] = []
        start = i = 0
        last = len(text) - _MIN_SECRET
        while i <= last:
            candidates = index.get(text[i : i + _MIN_SECRET])
            if candidates:
                for secret in candidates:
                    if text.startswith(secret, i):
                        out.append(text[start:i])
                        out.append(MASK)
                        i = start = i + len(secret)
                        break
                else:
                    i += 1
            else:
                i += 1
        if not out:
            return text
        out.append(text[start:])
        return "".join(out)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._known:
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
    def context_for(cls, insecure: bool) -> ssl.SSLContext:
        """The shared verifying (or, for `verify=no` URLs, non-verifying) context."""
        return cls._context(insecure)

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


def _load_yaml(text: str) -> Any:
    try:
        # the C loader where libyaml is there: a province's config has tens of thousands of URLs
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None


def _raw_urls(text: str, data: Any = None) -> list[str]:
    """URL strings in an apprise YAML config (`urls:` entries are strings or one-key mappings)."""
    if data is None:
        data = _load_yaml(text)
    entries = data.get("urls") if isinstance(data, dict) else None
    urls: list[str] = []
    for entry in entries or []:
        if isinstance(entry, str):
            urls.append(entry)
        elif isinstance(entry, dict):
            urls.extend(str(k) for k in entry)
    return urls


def target_key(url: str) -> str:
    """The one-way key of one URL in the per-URL delivery record (NotificationDelivery): a hash
    of the URL without its password, so the record never holds a URL, and a weak SMTP password
    cannot be guessed from it offline (what remains, hosts, addresses and bot tokens, is either
    public or long and random)."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            user = parts.username or ""
            host = parts.hostname or ""
            netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
            url = parts._replace(netloc=netloc).geturl()
    except ValueError:
        pass
    return hashlib.sha256(f"bihuan-target\n{url}".encode()).hexdigest()[:32]


def _channel_of(service: Any, route: MailRoute | None) -> str:
    """What the run's circuit breaker counts failures against: the SMTP server, a chat bot's
    API host (one hanging WeCom API stops every WeCom tag), or the URL's host."""
    if route is not None:
        return route.where
    endpoint = getattr(type(service), "notify_url", None)
    name = str(getattr(service, "service_name", type(service).__name__))
    if isinstance(endpoint, str) and "://" in endpoint:
        try:
            return f"{name} {urlsplit(endpoint.split('{', 1)[0]).hostname or ''}".strip()
        except ValueError:
            return name
    host = getattr(service, "host", "") or ""
    port = getattr(service, "port", None)
    return f"{name} {host}" + (f":{port}" if port else "")


def _connection_failure(outcome: Any) -> bool:
    """Whether apprise's result for one URL says the service could not be reached (timeouts,
    refused or dropped connections), as opposed to a rejected message."""
    status = getattr(getattr(outcome, "status", None), "name", "")
    if status == "TIMEOUT":
        return True
    try:
        lines = [e.message for e in outcome.logs()]
    except Exception:
        return False
    text = " ".join(lines).lower()
    return any(
        w in text for w in ("connection error", "timed out", "timeout", "connection refused")
    )


def _short_label(service: Any) -> str:
    """The masked URL without its query string, to name a URL in an error."""
    private = service.url(privacy=True)
    try:
        parts = urlsplit(private)
        private = f"{parts.scheme}://{parts.netloc}{parts.path}"
    except ValueError:
        pass
    return MASKER.mask(private)


@dataclass
class _Target:
    """One loaded URL: its apprise service, its delivery key and breaker channel, and, for
    mailto/mailtos, the route our own SMTP sender uses."""

    service: Any
    key: str
    channel: str
    route: MailRoute | None
    label: str  # the masked URL, for errors
    explicit_cto: bool
    explicit_rto: bool
    _single: apprise.Apprise | None = None

    def to(self, address: str) -> _Target:
        """This mail account sending to `address` only (its own To/Cc/Bcc left aside)."""
        assert self.route is not None
        route = replace(self.route, to=((False, address),), cc=frozenset(), bcc=frozenset())
        return replace(self, route=route, key=target_key(f"{self.key}->{address}"), _single=None)

    def single(self) -> apprise.Apprise:
        if self._single is None:
            # one URL: no thread pool needed to send to it
            self._single = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
            self._single.add(self.service)
        return self._single


class SendBatch:
    """The sends of one dispatcher run: open SMTP connections shared by every message of the
    run, the timeouts, and a circuit breaker per channel. Use through `Channels.batch(limits)`."""

    def __init__(self, channels: Channels, limits: SendLimits) -> None:
        self.channels = channels
        self.limits = limits
        self.breaker = CircuitBreaker(limits.breaker_failures)
        self.mail = MailPool(
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            tls_context=_SharedTLSContext.context_for,
        )
        # the run's timeouts, on every URL loaded now and on those a large config loads later,
        # when a message first goes to their tag
        self._timed: set[int] = set()
        self._set_timeouts(channels.loaded_targets())

    @property
    def closed_channels(self) -> list[str]:
        """Channels the breaker closed in this run (no secrets in these names)."""
        return [MASKER.mask(c) for c in self.breaker.opened]

    def close(self) -> None:
        self.mail.close()

    def deliver(self, message: Outgoing) -> DeliveryResult:
        """Send one message to every URL of its tag that has not received it yet. Never raises
        for a delivery problem."""
        targets = self.channels.targets_for(message.tag)
        if not targets and message.email and self.channels.smtp_account is not None:
            # a department contact without a channel of its own: its contact_email, through
            # the office's SMTP account
            targets = [self.channels.smtp_account.to(message.email)]
        if not targets:
            return self.channels.no_channel(message.tag)
        self._set_timeouts(targets)
        results: list[TargetResult] = []
        for target in targets:
            if target.key in message.delivered:
                results.append(TargetResult(target.key, ok=True, earlier=True))
                continue
            if not self.breaker.allows(target.channel):
                results.append(
                    TargetResult(
                        target.key,
                        ok=False,
                        skipped=True,
                        error=MASKER.mask(
                            f"{target.channel}: not tried, {self.breaker.threshold} connection "
                            "failures in a row in this run (waits for the next run)"
                        ),
                    )
                )
                continue
            result, connection_failed = self._send_one(target, message)
            self.breaker.record(target.channel, connection_failed=connection_failed)
            results.append(result)
        return _combine(results)

    def _set_timeouts(self, targets: list[_Target]) -> None:
        """apprise's own timeouts (4 s for HTTP plugins, 15 s for SMTP) become the run's unless
        the URL sets `cto=` / `rto=` itself; apprise never retries by itself (the outbox does)."""
        for target in targets:
            if id(target.service) in self._timed:
                continue
            self._timed.add(id(target.service))
            if not target.explicit_cto:
                target.service.socket_connect_timeout = self.limits.connect_timeout
            if not target.explicit_rto:
                target.service.socket_read_timeout = self.limits.read_timeout

    def _send_one(self, target: _Target, message: Outgoing) -> tuple[TargetResult, bool]:
        if target.route is not None:
            mid = (
                message_id(message.jurisdiction, message.notification_id, target.route.domain)
                if message.notification_id is not None
                else None
            )
            try:
                self.mail.send(
                    target.route, message.subject, message.body, message_id=mid,
                    notice=message.notice, attachment=message.attachment or None,
                )  # fmt: skip
            except SmtpFailure as exc:
                error = _clip(MASKER.mask(f"{target.label}: {exc}"))
                return TargetResult(target.key, ok=False, error=error), exc.connection
            except Exception as exc:  # a bug in building or sending: a failed attempt, masked
                error = _clip(MASKER.mask(f"{target.label}: {type(exc).__name__}: {exc}"))
                return TargetResult(target.key, ok=False, error=error), False
            return TargetResult(target.key, ok=True), False
        if message.attachment and not Path(message.attachment).is_file():
            error = f"the attachment {Path(message.attachment).name} is missing from var/"
            return TargetResult(target.key, ok=False, error=error), False
        try:
            outcome = target.single().notify(
                body=message.body, title=message.subject, attach=message.attachment or None
            )
        except Exception as exc:  # apprise promises not to raise; if it does, it is a failed send
            error = _clip(MASKER.mask(f"apprise raised {type(exc).__name__}: {exc}"))
            return TargetResult(target.key, ok=False, error=error), False
        result = interpret(outcome, tag=message.tag, source=self.channels.source)
        if result.ok:
            return TargetResult(target.key, ok=True), False
        return (
            TargetResult(target.key, ok=False, error=result.error),
            _connection_failure(outcome),
        )


def _combine(results: list[TargetResult]) -> DeliveryResult:
    """One message's result from its URLs' results."""
    ok = all(r.ok for r in results)
    tried = [r for r in results if not r.skipped and not r.earlier]
    deferred = not tried and any(r.skipped for r in results)
    errors = [r.error for r in results if not r.ok and r.error]
    message = "; ".join(errors)
    if not ok and any(r.ok for r in results):
        message = "some URLs failed (the others received it and are skipped on retry): " + message
    return DeliveryResult(
        ok, "" if ok else _clip(message or "failed"), targets=tuple(results), deferred=deferred
    )


# Above this many URLs a config's URLs are instantiated per tag, when first sent to.
LAZY_ABOVE = 500
_TOP_LEVEL = {"version", "urls"}


def _entries_by_tag(data: Any) -> dict[str, list[Any]] | None:
    """The `urls:` entries of an apprise YAML document grouped by tag, each entry narrowed to
    the option sets that carry the tag; None when the document uses anything beyond plain
    `urls:` entries with `tag:` options (tag groups, `include:`, global tags, the `always` tag,
    priorities), which only apprise itself should interpret: such a config loads whole."""
    from apprise.utils.parse import parse_list

    if not isinstance(data, dict) or set(data) - _TOP_LEVEL:
        return None
    grouped: dict[str, list[Any]] = {}
    for entry in data.get("urls") or []:
        if isinstance(entry, str):
            continue  # untagged: never chosen by a tag
        if not isinstance(entry, dict) or len(entry) != 1:
            return None
        [(url, options)] = entry.items()
        if options is None:
            continue
        option_sets = options if isinstance(options, list) else [options]
        for option in option_sets:
            if not isinstance(option, dict):
                return None
            tags = parse_list(option.get("tag") or "")
            if any(t == "always" or ":" in t or "=" in t for t in tags):
                return None
            for tag in tags:
                grouped.setdefault(tag, []).append({url: [option]})
    return grouped


class Channels:
    """The recipients of one installation, loaded from an apprise YAML config."""

    def __init__(
        self,
        config_text: str,
        *,
        source: str = "<apprise config>",
        rate_limit: float | None = None,
        limits: SendLimits | None = None,
    ) -> None:
        self.source = source
        self.limits = limits or SendLimits()  # for sends outside a batch
        self._rate_limit = rate_limit
        data = _load_yaml(config_text)
        raw_urls = _raw_urls(config_text, data)
        if not raw_urls:
            raise ConfigError(
                f"{source}: no `urls:` entries found. Write an apprise YAML config with `urls:` and a "
                "`tag:` per URL (see config/apprise.example.yml)."
            )
        install_masking()
        # Known before apprise parses anything, so even a parse-time log line is masked.
        MASKER.add(s for u in raw_urls for s in url_secrets(u))
        self.declared = len(raw_urls)
        self.loaded = 0
        self._targets: list[_Target] = []
        # The URLs of each tag, indexed once: matching a tag against every URL of a county's
        # config (hundreds of tags) on each send cost more than the send itself.
        self._by_tag: dict[str, list[_Target]] = {}
        # A large config (a province's: one URL per recipient, tens of thousands) is not
        # instantiated whole: apprise takes ~3 ms a URL, so a county's dispatcher would spend a
        # minute loading the other counties' URLs. Its entries are grouped by tag here and a
        # tag's URLs are loaded, by apprise from the same YAML, when a message first goes to it.
        self._unloaded = _entries_by_tag(data) if len(raw_urls) > LAZY_ABOVE else None
        self._unloadable: set[str] = set()
        if self._unloaded is None:
            config = apprise.AppriseConfig()
            if not config.add_config(config_text, format="yaml"):
                raise ConfigError(
                    f"{source}: not a valid apprise YAML config (see config/apprise.example.yml)."
                )
            every = apprise.Apprise()
            every.add(config)
            services = list(every)  # instantiates every URL now, not at the first send
            if not services:
                raise ConfigError(
                    f"{source}: none of the {len(raw_urls)} URL(s) could be loaded; check each "
                    "URL's scheme and token against https://github.com/caronc/apprise/wiki."
                )
            self._add(services)
        self.smtp_account = self._smtp_account()

    def _add(self, services: list[Any], tag: str | None = None) -> None:
        """Targets for apprise `services` (all of them, or those of `tag`), indexed by tag."""
        # one call: adding secrets re-sorts the masker's list (quadratic one URL at a time)
        MASKER.add(secret for service in services for secret in service_secrets(service))
        for service in services:
            if self._rate_limit is not None:
                # apprise waits between two sends through the same URL (5.5 s by default);
                # tests and the local sink have no reason to.
                service.request_rate_per_sec = self._rate_limit
            target = self._target(service)
            self._targets.append(target)
            tags = {str(t) for t in service.tags}
            for t in tags if tag is None else tags & {tag}:
                self._by_tag.setdefault(t, []).append(target)
        self.loaded += len(services)

    def _load_tag(self, tag: str) -> None:
        """Instantiate the URLs of `tag` from a large config (once)."""
        if self._unloaded is None or tag not in self._unloaded:
            return
        entries = self._unloaded.pop(tag)
        text = yaml.safe_dump({"version": 1, "urls": entries}, allow_unicode=True)
        config = apprise.AppriseConfig()
        services: list[Any] = []
        if config.add_config(text, format="yaml"):
            every = apprise.Apprise()
            every.add(config)
            services = list(every)
        if services:
            self._add(services, tag)
        else:
            self._unloadable.add(tag)

    def _load_all(self) -> None:
        while self._unloaded:
            self._load_tag(next(iter(self._unloaded)))

    def _smtp_account(self) -> _Target | None:
        """The office's SMTP account (the URL tagged `office-smtp`), if configured: it mails a
        department contact that has no channel of its own at the department's contact_email."""
        accounts = self.targets_for(SMTP_ACCOUNT_TAG)
        if not accounts:
            return None
        if len(accounts) > 1 or accounts[0].route is None:
            raise ConfigError(
                f"{self.source}: tag {SMTP_ACCOUNT_TAG!r} is the office's SMTP account: give it "
                "exactly one mailto:// or mailtos:// URL (without pgp=), e.g. "
                "mailtos://USER:PASSWORD@smtp.example.gov.cn?from=bianban@example.gov.cn"
            )
        return accounts[0]

    @staticmethod
    def _target(service: Any) -> _Target:
        url = service.url()  # before anything below changes what it prints
        route = MailRoute.of(service)
        kind = type(service)
        explicit_cto = service.socket_connect_timeout != kind.socket_connect_timeout
        explicit_rto = service.socket_read_timeout != kind.socket_read_timeout
        service.retry = 0  # the outbox retries, with backoff and a record of every attempt
        return _Target(
            service=service,
            key=target_key(url),
            channel=_channel_of(service, route),
            route=route,
            label=_short_label(service),
            explicit_cto=explicit_cto,
            explicit_rto=explicit_rto,
        )

    @classmethod
    def from_file(
        cls, path: Path, *, rate_limit: float | None = None, limits: SendLimits | None = None
    ) -> Channels:
        if not path.exists():
            raise ConfigError(
                f"apprise config {path} does not exist. Copy config/apprise.example.yml there and "
                "fill in real URLs, or set BIHUAN_APPRISE_CONFIG to another file."
            )
        return cls(
            path.read_text(encoding="utf-8"), source=str(path), rate_limit=rate_limit, limits=limits
        )

    def tags(self) -> set[str]:
        return set(self._by_tag) | set(self._unloaded or ())

    def describe(self) -> list[dict[str, Any]]:
        """Each URL in its masked form with its tags, safe to print or store."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        described = []
        for target in self.targets():
            # a URL with several tags, loaded lazily once per tag, is still one URL
            tags = tuple(sorted(str(t) for t in target.service.tags))
            if (target.key, tags) not in seen:
                seen.add((target.key, tags))
                described.append({"url": target.service.url(privacy=True), "tags": list(tags)})
        return described

    def targets(self) -> list[_Target]:
        """Every URL of the config (a large one is instantiated whole for this)."""
        self._load_all()
        return list(self._targets)

    def loaded_targets(self) -> list[_Target]:
        """The URLs instantiated so far (all of them, unless the config is large)."""
        return list(self._targets)

    def targets_for(self, tag: str) -> list[_Target]:
        self._load_tag(tag)
        return self._by_tag.get(tag, [])

    def no_channel(self, tag: str) -> DeliveryResult:
        if tag in self._unloadable:
            return DeliveryResult(
                False,
                f"the URL(s) of tag {tag!r} in {self.source} could not be loaded; check each "
                "URL's scheme and token against https://github.com/caronc/apprise/wiki",
                permanent=True,
            )
        return DeliveryResult(
            False,
            f"no channel configured for tag {tag!r} (add a URL with `tag: {tag}` to {self.source})",
            permanent=True,
        )

    def mask(self, text: str) -> str:
        """`text` with every secret of the loaded configuration (and any loaded before) masked."""
        return MASKER.mask(text)

    @contextlib.contextmanager
    def batch(self, limits: SendLimits | None = None) -> Iterator[SendBatch]:
        """The sends of one run: SMTP connections kept open across messages, the timeouts of
        `limits`, a circuit breaker per channel; everything is closed at the end."""
        run = SendBatch(self, limits or self.limits)
        try:
            yield run
        finally:
            run.close()

    def deliver(self, message: Outgoing) -> DeliveryResult:
        """Send one message on its own (a batch of one)."""
        with self.batch() as run:
            return run.deliver(message)

    def send(self, tag: str, subject: str, body: str) -> DeliveryResult:
        """Send one message to every URL carrying `tag`. Never raises for a delivery problem."""
        return self.deliver(Outgoing(tag=tag, subject=subject, body=body))


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
    "SendBatch",
    "bot_reply_error",
    "default_config_path",
    "demo_config",
    "install_bot_reply_check",
    "install_masking",
    "interpret",
    "load_channels",
    "service_secrets",
    "target_key",
    "url_secrets",
    "write_demo_config",
]
