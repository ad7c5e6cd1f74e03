"""The apprise internals our patches rely on (notifications/channels.py), checked on the
installed apprise: a new apprise that moves them fails here, not silently in production."""

from __future__ import annotations

import importlib
import inspect

import apprise

from notifications import channels


def test_apprise_is_the_version_the_patches_were_written_against() -> None:
    assert apprise.__version__ == "2.0.1", (
        "apprise changed: re-check the errcode and masking patches in notifications/channels.py "
        "against its plugins, then update the pin in pyproject.toml and this test"
    )


def test_bot_plugins_post_through_their_module_level_requests() -> None:
    for module_name in channels.BOT_PLUGIN_MODULES:
        module = importlib.import_module(module_name)
        assert isinstance(module.requests, channels._BotReplyCheckingRequests), module_name
        source = inspect.getsource(module)
        assert "requests.post(" in source, f"{module_name} no longer posts with requests.post"


def test_smtp_plugin_makes_its_tls_context_through_module_level_ssl() -> None:
    from apprise.plugins.email import smtp

    source = inspect.getsource(smtp)
    assert "ssl.create_default_context()" in source
    assert "check_hostname" in source and "ssl.CERT_NONE" in source
    assert smtp.ssl.create_default_context is channels._SharedTLSContext


def test_notify_answers_a_result_that_interpret_understands() -> None:
    # apprise 2 answers an AppriseResult with a status, results and logs (channels.interpret)
    outcome = apprise.Apprise().notify(title="t", body="b")  # nothing configured
    assert outcome.status.name == "NOMATCH"
    assert callable(outcome.call_logs) and list(outcome) == []
    result = channels.interpret(outcome, tag="d01")
    assert (
        not result.ok and result.permanent and "no channel configured for tag 'd01'" in result.error
    )


def test_email_plugin_gives_what_our_smtp_sender_reads() -> None:
    """notifications/smtp.py reads apprise's parsed mailto URL and builds the message with
    apprise's own `prepare_emails`, then replaces its random Message-ID by ours."""
    from notifications.smtp import MailRoute, build

    service = apprise.Apprise.instantiate(
        "mailtos://user:pw@mail.example.org:465?from=bihuan@example.org&to=d01@example.org"
        "&cc=c@example.org&+X-Extra=1&mode=ssl"
    )
    route = MailRoute.of(service)
    assert route is not None
    assert (route.host, route.port, route.mode, route.user, route.password) == (
        "mail.example.org", 465, "ssl", "user", "pw",
    )  # fmt: skip
    assert route.from_addr[1] == "bihuan@example.org" and route.to[0][1] == "d01@example.org"
    assert route.cc == {"c@example.org"} and route.headers == {"X-Extra": "1"}
    [(sender, recipients, text)] = build(
        route, "主题", "正文", message_id="<bihuan-juxian-1@example.org>", notice="N-1"
    )
    head = text.partition("\n\n")[0]
    assert head.count("Message-ID:") == 1 and "<bihuan-juxian-1@example.org>" in head
    assert "X-Bihuan-Notice: N-1" in head and "X-Extra: 1" in head
    assert sender == "bihuan@example.org" and set(recipients) == {
        "d01@example.org",
        "c@example.org",
    }


def test_prefect_starts_its_temporary_server_with_module_level_subprocess() -> None:
    """flows/local_server.py swaps `subprocess` in Prefect's server module for a watchdog."""
    from prefect.server.api import server

    source = inspect.getsource(server.SubprocessASGIServer._run_uvicorn_command)
    assert "subprocess.Popen(" in source and '"uvicorn"' in source and '"-m"' in source
