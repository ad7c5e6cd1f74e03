"""The apprise adapter against real servers on loopback: SMTP, chat-bot webhooks, the sink."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bihuan.errors import ConfigError
from bihuan.settings import Settings
from notifications.channels import (
    Channels,
    bot_reply_error,
    demo_config,
    load_channels,
)
from tests.integration.mailserver import PASSWORD, MailServer, Webhook, _WebhookHandler


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[int, type[_WebhookHandler]]]:
    hook = Webhook()
    yield hook.port, hook.handler
    hook.stop()


def _yaml(*entries: tuple[str, str]) -> str:
    lines = ["version: 1", "urls:"]
    for url, tag in entries:
        lines += [f'  - "{url}":', f"    - tag: {tag}"]
    return "\n".join(lines) + "\n"


def test_smtp_delivers_chinese_message_once_to_the_tagged_recipient(mail: MailServer) -> None:
    channels = Channels(
        _yaml((mail.url("d01@example.org"), "d01"), (mail.url("head@example.org"), "d01-head")),
        rate_limit=0,
    )
    result = channels.send(
        "d01", "【整改提醒】县财政局：1项整改事项今日到期", "请于今日报送整改完成情况。\n县委编办"
    )
    assert result.ok and result.error == ""
    assert len(mail.received) == 1
    got = mail.received[0]
    assert got.rcpt_tos == ["d01@example.org"]
    assert got.subject == "【整改提醒】县财政局：1项整改事项今日到期"
    assert "请于今日报送整改完成情况。" in got.text and "县委编办" in got.text
    assert mail.logins == ["bihuan"]


@pytest.mark.reliability
def test_no_channel_for_tag_is_a_configuration_failure(mail: MailServer) -> None:
    channels = Channels(
        _yaml((mail.url("d01@example.org"), "d01")), source="var/apprise.yml", rate_limit=0
    )
    result = channels.send("d02-head", "主题", "正文")
    assert not result.ok and result.permanent
    assert "no channel configured for tag 'd02-head'" in result.error
    assert "var/apprise.yml" in result.error
    assert mail.received == []


@pytest.mark.reliability
def test_smtp_down_is_a_retryable_failure(mail: MailServer) -> None:
    channels = Channels(_yaml((mail.url("d01@example.org"), "d01")), rate_limit=0)
    mail.stop()
    result = channels.send("d01", "主题", "正文")
    assert not result.ok and not result.permanent
    assert "Email" in result.error or "mail" in result.error.lower()
    assert PASSWORD not in result.error


# Each chat bot: URL template in the plugin, a URL for our config, a rejecting and an accepting reply.
BOTS = [
    (
        "dingtalk",
        "http://127.0.0.1:{port}/robot/send?access_token={{token}}",
        "dingtalk://DTSECRETTOKEN0123/",
        {"errcode": 310000, "errmsg": "keywords not in content"},
        {"errcode": 0, "errmsg": "ok"},
    ),
    (
        "wecombot",
        "http://127.0.0.1:{port}/cgi-bin/webhook/send?key={{key}}",
        "wecombot://WECOMSECRETKEY0123",
        {"errcode": 93000, "errmsg": "invalid webhook url"},
        {"errcode": 0, "errmsg": "ok"},
    ),
    (
        "feishu",
        "http://127.0.0.1:{port}/open-apis/bot/v2/hook/{{token}}/",
        "feishu://FEISHUSECRETTOKEN0123",
        {"code": 19024, "msg": "Key Words Not Found"},
        {"code": 0, "msg": "success"},
    ),
    (
        "lark",
        "http://127.0.0.1:{port}/open-apis/bot/v2/hook/",
        "lark://LARKSECRETTOKEN0123",
        {"code": 9499, "msg": "Bad Request"},
        {"StatusCode": 0, "StatusMessage": "success"},
    ),
]


@pytest.mark.parametrize(
    ("module", "notify_url", "url", "rejected", "accepted"), BOTS, ids=[b[0] for b in BOTS]
)
@pytest.mark.reliability
def test_chat_bot_200_with_errcode_is_a_failure(
    module: str,
    notify_url: str,
    url: str,
    rejected: dict[str, Any],
    accepted: dict[str, Any],
    webhook: tuple[int, type[_WebhookHandler]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real plugin posts to a real HTTP server; only its hard-coded host is redirected."""
    import importlib

    plugin_module = importlib.import_module(f"apprise.plugins.{module}")
    plugin = next(
        getattr(plugin_module, n)
        for n in dir(plugin_module)
        if n.startswith("Notify")
        and getattr(getattr(plugin_module, n), "secure_protocol", None) == module
    )
    port, handler = webhook
    monkeypatch.setattr(plugin, "notify_url", notify_url.format(port=port))
    channels = Channels(_yaml((url, "section-jdjc")), rate_limit=0)
    token = url.split("://", 1)[1].strip("/")

    handler.reply = rejected
    with caplog.at_level(logging.DEBUG):
        result = channels.send("section-jdjc", "整改提醒", "请按期整改")
    assert len(handler.seen) == 1, "the message did reach the bot"
    assert not result.ok and not result.permanent
    code = next(v for k, v in rejected.items() if k in ("errcode", "code"))
    assert f"={code}" in result.error
    assert token not in result.error and token not in caplog.text

    handler.reply = accepted
    assert channels.send("section-jdjc", "整改提醒", "请按期整改").ok


def test_bot_reply_error_reads_only_json_200_replies() -> None:
    assert bot_reply_error(200, '{"errcode": 310000, "errmsg": "keywords not in content"}') == (
        "errcode=310000 keywords not in content"
    )
    assert (
        bot_reply_error(200, '{"code": 19021, "msg": "sign match fail"}')
        == "code=19021 sign match fail"
    )
    assert bot_reply_error(200, '{"errcode": 0, "errmsg": "ok"}') is None
    assert bot_reply_error(200, "ok") is None
    assert bot_reply_error(200, "[1, 2]") is None
    assert bot_reply_error(500, '{"errcode": 1}') is None  # the plugin already fails on the status


@pytest.mark.reliability
def test_tokens_never_reach_logs_or_results(
    mail: MailServer, webhook: tuple[int, type[_WebhookHandler]], caplog: pytest.LogCaptureFixture
) -> None:
    port, handler = webhook
    handler.reply = {"ok": True}
    json_url = f"json://user:SECRETTOKEN@127.0.0.1:{port}/hook"
    config = _yaml((json_url, "d01"), (mail.url("d01@example.org"), "d01-head"))
    with caplog.at_level(logging.DEBUG):
        channels = Channels(config, rate_limit=0)
        ok_json = channels.send("d01", "主题", "正文")
        ok_mail = channels.send("d01-head", "主题", "正文")
        mail.stop()
        failed_mail = channels.send("d01-head", "主题", "正文")
    assert ok_json.ok and ok_mail.ok and not failed_mail.ok
    assert len(handler.seen) == 1 and len(mail.received) == 1
    text = caplog.text
    # The capture really holds the DEBUG lines that used to carry the secrets.
    assert "JSON POST URL: http://127.0.0.1" in text and "urllib3.connectionpool" in text
    assert "***" in text
    for secret in ("SECRETTOKEN", PASSWORD):
        assert secret not in text
        assert secret not in failed_mail.error
        assert all(secret not in d["url"] for d in channels.describe())


def test_local_sink_writes_one_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    channels = Channels(demo_config(["d01", "d01-head", "leadership"], outbox), rate_limit=0)
    assert channels.tags() == {"d01", "d01-head", "leadership"}
    assert channels.send("d01-head", "【逾期催办】县财政局", "请立即整改。").ok
    assert channels.send("leadership", "【每日汇总】", "共 3 项").ok
    files = sorted(p.name for p in outbox.iterdir())
    assert len(files) == 2
    head = next(outbox.glob("*-d01-head-*.txt"))
    assert head.read_text(encoding="utf-8") == "主题：【逾期催办】县财政局\n\n请立即整改。"
    assert not channels.send("d02", "x", "y").ok


def test_local_sink_keeps_an_attachment_beside_its_message(tmp_path: Path) -> None:
    from bihuan.core.outbox import Outgoing

    outbox, book = tmp_path / "outbox", tmp_path / "整改台账-D01-县财政局.xlsx"
    book.write_bytes(b"PK\x03\x04 a workbook")
    channels = Channels(demo_config(["d01"], outbox), rate_limit=0)
    sent = channels.deliver(Outgoing("d01", "问题清单", "正文", attachment=str(book)))
    assert sent.ok, sent.error
    [copy] = outbox.glob("*-d01-*-整改台账-D01-县财政局.xlsx")
    assert copy.read_bytes() == book.read_bytes()
    book.unlink()  # gone from var/: a failed send that says so, never a message without it
    missing = channels.deliver(Outgoing("d01", "问题清单", "正文2", attachment=str(book)))
    assert not missing.ok and "attachment" in missing.error


def test_sink_defaults_to_settings_outbox_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path))
    from bihuan.settings import reset_settings

    reset_settings()
    channels = Channels(demo_config(["d01"]), rate_limit=0)
    assert channels.send("d01", "主题", "正文").ok
    assert len(list((tmp_path / "var" / "outbox").glob("*-d01-*.txt"))) == 1


def test_missing_or_empty_config_is_a_clear_user_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(ConfigError, match=r"apprise\.yml does not exist.*apprise\.example\.yml"):
        load_channels(settings)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "apprise.yml").write_text("urls: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no `urls:` entries"):
        load_channels(settings)
    (tmp_path / "var" / "apprise.yml").write_text(
        _yaml(("nosuchscheme://x", "d01")), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="could be loaded"):
        load_channels(settings)


def test_example_config_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "apprise.example.yml"
    channels = Channels.from_file(example, rate_limit=0)
    assert {"d01", "d01-head", "section-jdjc", "leadership"} <= channels.tags()


def test_a_province_sized_config_loads_a_tag_when_a_message_first_goes_to_it(
    mail: MailServer, webhook: tuple[int, type[_WebhookHandler]], caplog: pytest.LogCaptureFixture
) -> None:
    # One URL per recipient across many counties: more URLs than LAZY_ABOVE. A county's run
    # instantiates only the URLs of the tags it sends to; the secrets of all are masked at once.
    from bihuan.core.outbox import Outgoing, SendLimits
    from notifications.channels import LAZY_ABOVE, MASKER

    port, handler = webhook
    handler.reply = {"ok": True}
    many = [(mail.url(f"d{i}@example.org"), f"d{i}") for i in range(599)]
    unsent = f"json://user:UNSENTTOKEN@127.0.0.1:{port}/other"
    config = _yaml(
        *many,
        (unsent, "d599"),
        (f"json://user:PROVINCETOKEN@127.0.0.1:{port}/hook", "bot"),
        (mail.url("pair@example.org"), "p1, p2"),
        ("nosuchscheme://nowhere/at/all", "broken"),
    )
    assert len(many) > LAZY_ABOVE
    with caplog.at_level(logging.DEBUG):
        channels = Channels(config, source="province.yml", rate_limit=0)
        assert (channels.loaded, channels.declared) == (0, 603)
        assert {"d0", "d599", "bot", "p1", "p2", "broken"} <= channels.tags()
        # a URL not yet loaded is already a secret
        assert "UNSENTTOKEN" not in MASKER.mask(f"failed: {unsent}")

        limits = SendLimits(connect_timeout=2, read_timeout=3)
        with channels.batch(limits) as run:
            sent = run.deliver(Outgoing(tag="d7", subject="主题", body="正文"))
            bot = run.deliver(Outgoing(tag="bot", subject="主题", body="正文"))
            pair = run.deliver(Outgoing(tag="p2", subject="主题", body="正文"))
            broken = run.deliver(Outgoing(tag="broken", subject="主题", body="正文"))
            nobody = run.deliver(Outgoing(tag="d9999", subject="主题", body="正文"))
        assert sent.ok and bot.ok and pair.ok
        assert channels.loaded == 3  # d7, bot, p2: nothing else was instantiated
        [d7] = channels.targets_for("d7")
        assert (d7.service.socket_connect_timeout, d7.service.socket_read_timeout) == (2, 3)
    assert sorted(m.rcpt_tos[0] for m in mail.received) == ["d7@example.org", "pair@example.org"]
    assert len(handler.seen) == 1
    assert not broken.ok and broken.permanent and "could not be loaded" in broken.error
    assert "province.yml" in broken.error
    assert not nobody.ok and "no channel configured for tag 'd9999'" in nobody.error
    assert "PROVINCETOKEN" not in caplog.text and "***" in caplog.text
    # describing the config loads the rest, still without a secret
    described = channels.describe()
    assert len(described) == 602 and channels.loaded >= 602
    for secret in ("PROVINCETOKEN", "UNSENTTOKEN", PASSWORD):
        assert not any(secret in d["url"] for d in described)
