"""User-facing errors: a message that says where and what to do, and an exit code."""

from __future__ import annotations


class UserError(Exception):
    """A user's mistake: printed without a traceback; exit code 1 unless given."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    exit_code = 2


class ConflictError(UserError):
    """A concurrent edit: the row changed since it was read."""
