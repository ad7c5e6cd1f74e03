"""The composition root: settings, policy and database URL that every command and flow gets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bihuan.errors import ConfigError
from bihuan.policy import Policy, PolicyError, load_policy
from bihuan.settings import Settings, get_settings, normalise_db_url


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db_url: str
    jurisdiction: str

    @cached_property
    def policy(self) -> Policy:
        try:
            return load_policy(self.settings.policy_dir)
        except PolicyError as exc:
            raise ConfigError(f"bad policy configuration:\n{exc}") from None


def app_context(db: str | None = None, jurisdiction: str | None = None) -> AppContext:
    settings = get_settings()
    url = normalise_db_url(db) if db else settings.db_url
    return AppContext(
        settings=settings, db_url=url, jurisdiction=jurisdiction or settings.jurisdiction
    )
