"""User-facing errors: a message that says where and what to do, and an exit code."""

from __future__ import annotations


class UserError(Exception):
    """A user's mistake: printed without a traceback; exit code 1 unless given. `zh`, when
    given, says the same in Chinese for the portal (the command line prints the message)."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None, zh: str = ""):
        super().__init__(message)
        self.zh = zh
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    exit_code = 2


class ConflictError(UserError):
    """A concurrent edit: the row changed since it was read."""


class PermissionDenied(UserError):
    """A signed-in user tried what their role or scope does not allow; exit code 3.

    The unit of work records the refusal in the audit log after rolling back (see
    bihuan/services/uow.py), so the message and the record name the same user and action.
    `out_of_scope`: the role may do this, but not to this object (another department's item,
    another jurisdiction): the portal answers those like NotFound, so an id reveals nothing."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        user_id: int | None = None,
        login: str = "",
        action: str = "",
        reason: str = "",
        jurisdiction_id: int | None = None,
        out_of_scope: bool = False,
    ):
        super().__init__(message)
        self.user_id = user_id
        self.login = login
        self.action = action
        self.reason = reason
        self.jurisdiction_id = jurisdiction_id
        self.out_of_scope = out_of_scope


class AuthenticationError(UserError):
    """Unknown login, wrong password or a disabled account; exit code 3. The message never says
    which, so it cannot be used to find valid logins."""

    exit_code = 3


class NotFound(UserError):
    """An object that does not exist, or that the acting user may not see: the two answers are
    the same on purpose (the portal answers 404 either way, so a guessed id reveals nothing)."""
