"""apprise's SMTP plugin gets shared TLS contexts, never a loosened shared one."""

from __future__ import annotations

import ssl

import pytest
from apprise.plugins.email import smtp as smtp_plugin

import notifications.channels  # noqa: F401  (installs the shared contexts)


def test_the_plugin_gets_shared_contexts_and_turning_verification_off_never_leaks() -> None:
    a = smtp_plugin.ssl.create_default_context()
    b = smtp_plugin.ssl.create_default_context()
    assert a.wrap_socket.__self__ is b.wrap_socket.__self__  # one CA-store load per process
    assert a.verify_mode == ssl.CERT_REQUIRED and a.check_hostname is True
    b.check_hostname = False  # what the plugin does for verify=no
    b.verify_mode = ssl.CERT_NONE
    assert b.verify_mode == ssl.CERT_NONE and b.check_hostname is False
    assert a.verify_mode == ssl.CERT_REQUIRED and a.check_hostname is True
    fresh = smtp_plugin.ssl.create_default_context()
    assert fresh.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(AttributeError):
        fresh.minimum_version = ssl.TLSVersion.TLSv1
    assert smtp_plugin.ssl.CERT_NONE == ssl.CERT_NONE  # the rest of the module is untouched
