"""Installation settings (env prefix BIHUAN_): where the database, config and var/ live.

They come from the environment, which includes the installation's env file
(`$BIHUAN_HOME/bihuan.env`, written by `bihuan init`; loaded by bihuan.runtime when bihuan is
imported, so that Prefect's own variables in it reach Prefect too)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bihuan.runtime import project_home, shipped


def normalise_db_url(value: str) -> str:
    """Accept a database URL or a plain path to a SQLite file; PostgreSQL goes through psycopg 3."""
    value = value.strip()
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


# The development default of BIHUAN_PEER_TOKEN_SECRET: the importer refuses to store peer
# ratings with it (the anonymity of 部门互评 rests on the secret); the demo uses its own.
DEV_PEER_SECRET = "bihuan-local-development-secret"
DEMO_PEER_SECRET = "bihuan-demo-only-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIHUAN_", extra="ignore")

    home: Path = Field(default_factory=project_home)
    database_url: str = ""
    config_dir: Path | None = None
    jurisdiction: str = "juxian"
    # The secret behind the one-way tokens of anonymous peer ratings (部门互评). Never stored in
    # the database; without it, a stored token cannot be matched to a rater.
    peer_token_secret: SecretStr = SecretStr(DEV_PEER_SECRET)
    apprise_config: Path | None = None
    # Who acts from the command line (`--as` overrides) and, when the installation requires it,
    # that user's password (never logged; a prompt asks when it is not set).
    user: str = ""
    password: SecretStr | None = None
    cli_require_password: bool = True
    # threads | dask | tcp://scheduler:8786 (see flows/runners.py)
    task_runner: str = "threads"
    task_runner_workers: int | None = None
    # The web portal (`bihuan web`, docs/web.md). The address people open, used in links that
    # messages carry (unset: messages carry no link, rather than one to a guessed host);
    # sessions expire after `session_idle_minutes` without a request and
    # `session_absolute_hours` after sign-in whatever happens.
    base_url: str = ""
    session_idle_minutes: int = Field(default=30, gt=0)
    session_absolute_hours: int = Field(default=12, gt=0)
    # Sign-in throttling: this many failures for one login, or from one address, within
    # `login_window_minutes` lock further attempts for `login_lockout_minutes`.
    login_failures_per_account: int = Field(default=5, gt=0)
    login_failures_per_address: int = Field(default=20, gt=0)
    login_window_minutes: int = Field(default=15, gt=0)
    login_lockout_minutes: int = Field(default=15, gt=0)
    # Behind a reverse proxy (nginx) on this machine: believe its X-Forwarded-Proto (https: the
    # cookie gets Secure) and X-Forwarded-For (the client address throttling counts). Off, a
    # client could claim any address.
    trust_proxy: bool = False
    # Evidence uploads (佐证材料) in the portal: each file at most this many MB, at most this
    # many files per submission.
    upload_max_mb: int = Field(default=20, gt=0, le=50)  # 50: what the evidence store takes
    upload_max_files: int = Field(default=10, gt=0, le=100)

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalise_db_url(value) if value else value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(
                "BIHUAN_BASE_URL must start with http:// or https:// (the portal's address "
                "as people open it, e.g. https://bihuan.example.gov.cn); leave it unset for no links"
            )
        return value.rstrip("/")

    @property
    def var_dir(self) -> Path:
        return self.home / "var"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'bihuan.db'}"

    @property
    def policy_dir(self) -> Path:
        """BIHUAN_CONFIG_DIR, else the installation's config/ when it holds a policy.toml, else
        the default policy shipped with the program (an installation without its own config)."""
        if self.config_dir:
            return self.config_dir
        own = self.home / "config"
        return own if (own / "policy.toml").exists() else shipped("config")

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"


_overrides: dict[str, object] = {}


@lru_cache
def get_settings() -> Settings:
    return Settings(**_overrides)  # type: ignore[arg-type]


def override_settings(**values: object) -> None:
    """Settings given on the command line (`--db`) for the rest of this process: flows run
    in-process read them like the environment's, without the command rewriting os.environ."""
    _overrides.update({k: v for k, v in values.items() if v is not None})
    get_settings.cache_clear()


def reset_settings() -> None:
    _overrides.clear()
    get_settings.cache_clear()
