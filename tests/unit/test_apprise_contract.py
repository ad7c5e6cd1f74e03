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
