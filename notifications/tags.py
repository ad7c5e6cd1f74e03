"""Apprise tags of the people bihuan writes to: a department's contact and head, the leadership.

The tag scheme (see config/apprise.example.yml): `d01` the department's contact (联络人; the
import defaults a department's notify tags to its lower-cased code), `d01-head` its head
(主要负责人), the supervising sections' own tags from config [findings.sections], `leadership`
the office leadership (编办领导).
"""

from __future__ import annotations

from bihuan.core.reminders import LEADERSHIP_TAG

# The apprise entry of the office's own SMTP account (a mailto:// or mailtos:// URL): a
# department's contact without a channel of its own is mailed through it at its contact_email.
SMTP_ACCOUNT_TAG = "office-smtp"


def contact_tags(code: str, notify_tags: str) -> list[str]:
    """A department's contact tags: its configured notify tags, else its lower-cased code."""
    return [t.strip() for t in (notify_tags or code.lower()).split(",") if t.strip()]


def head_tag(code: str) -> str:
    """The tag of a department's head (主要负责人)."""
    return f"{code.lower()}-head"


__all__ = ["LEADERSHIP_TAG", "SMTP_ACCOUNT_TAG", "contact_tags", "head_tag"]
