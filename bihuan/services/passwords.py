"""Password hashing (Argon2id through pwdlib): the one place that sees a clear-text password."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 8


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """False for an empty hash (a service account) as for a wrong password."""
    if not hashed:
        # spend the same time as a real check, so timing does not tell accounts apart
        _hasher().verify(password, _DUMMY)
        return False
    return _hasher().verify(password, hashed)


def check_strength(password: str) -> str | None:
    """None when acceptable, else what is wrong (for the user)."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "a password may not begin or end with spaces"
    return None


def generate_password(length: int = 14) -> str:
    """A random password of letters and digits without look-alikes (for demo and reset)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


_DUMMY = "$argon2id$v=19$m=65536,t=3,p=4$8tZrJN9HRaMb8PZdM1IhwA$9HIFu1Z/WLcEPyTyly1+mzvG65thyCwHVis77hBneaw"
