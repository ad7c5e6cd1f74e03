"""`bihuan init DIR` on a real folder, and every bihuan process then running from it
(BIHUAN_HOME=DIR): its env file, its config and var/, the default policy without one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values
from typer.testing import CliRunner, Result

from bihuan.cli import _register_commands, app
from bihuan.commands.init import APPRISE_SKELETON, SECRETS
from bihuan.errors import ConfigError
from bihuan.runtime import shipped
from bihuan.settings import Settings

_register_commands()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def init(*args: str) -> Result:
    return runner.invoke(app, ["init", *args])


def env_of(home: Path) -> dict[str, str | None]:
    return dotenv_values(home / "bihuan.env", interpolate=False)


def snapshot(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


def test_init_creates_an_installation(tmp_path: Path) -> None:
    home = tmp_path / "srv" / "bihuan"
    result = init(str(home))
    assert result.exit_code == 0, result.output
    assert "bihuan db upgrade" in result.output
    assert "bihuan users add NAME --role admin --password-stdin" in result.output

    env = env_of(home)
    assert env["BIHUAN_HOME"] == str(home)
    assert env["PREFECT_HOME"] == str(home / "var" / "prefect")
    for key in SECRETS:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", env[key] or ""), key
    assert env["BIHUAN_PEER_TOKEN_SECRET"] != env["BIHUAN_SESSION_SECRET"]
    # nothing that would make a fresh installation talk to a server or send a message
    assert "PREFECT_API_URL" not in env and "BIHUAN_APPRISE_CONFIG" not in env

    assert (home / "bihuan.env").stat().st_mode & 0o777 == 0o600
    assert (home / "config" / "apprise.yml").stat().st_mode & 0o777 == 0o600
    assert (home / "var").stat().st_mode & 0o777 == 0o700
    assert (home / "var" / "prefect").is_dir()
    default = (shipped("config") / "policy.toml").read_bytes()
    assert (home / "config" / "policy.toml").read_bytes() == default


def test_the_deploy_copies_carry_this_installation_s_paths(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    assert init(str(home)).exit_code == 0
    copies = sorted((home / "deploy").iterdir())
    shipped_names = sorted(
        p.name for p in shipped("deploy").iterdir() if p.suffix in {".service", ".timer", ".conf"}
    )
    assert [p.name for p in copies] == shipped_names
    bin_dir = Path(sys.executable).parent
    for path in copies:
        settings = [line for line in path.read_text(encoding="utf-8").splitlines() if "=" in line]
        assert not any("/srv/bihuan" in s or "/opt/bihuan/venv" in s for s in settings), path
        if path.suffix == ".service":
            assert f"EnvironmentFile={home}/bihuan.env" in settings
            assert f"ReadWritePaths={home}/var" in settings
            assert any(s.startswith(f"ExecStart={bin_dir}/") for s in settings), path


def test_each_installation_gets_its_own_secrets(tmp_path: Path) -> None:
    assert init(str(tmp_path / "a")).exit_code == 0
    assert init(str(tmp_path / "b")).exit_code == 0
    a, b = env_of(tmp_path / "a"), env_of(tmp_path / "b")
    for key in SECRETS:
        assert a[key] != b[key]


def test_an_existing_installation_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    assert init(str(home)).exit_code == 0
    before = snapshot(home)
    result = init(str(home))
    assert result.exit_code == 1
    assert "already holds a bihuan installation" in result.output
    assert "--force" in result.output and "nothing was changed" in result.output
    assert snapshot(home) == before


def test_force_completes_an_installation_and_never_overwrites(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    assert init(str(home)).exit_code == 0
    env_path = home / "bihuan.env"
    first = env_of(home)
    # the operator's edits, an installation from before the session secret, a lost var/
    (home / "config" / "policy.toml").write_text("# edited\n", encoding="utf-8")
    (home / "config" / "apprise.yml").write_text("urls: []\n", encoding="utf-8")
    lines = env_path.read_text(encoding="utf-8").splitlines(keepends=True)
    env_path.write_text(
        "".join(x for x in lines if not x.startswith("BIHUAN_SESSION_SECRET=")), encoding="utf-8"
    )
    env_path.chmod(0o644)
    (home / "var" / "prefect").rmdir()
    (home / "var").rmdir()

    result = init(str(home), "--force")
    assert result.exit_code == 0, result.output
    assert "added BIHUAN_SESSION_SECRET" in result.output
    assert (home / "config" / "policy.toml").read_text(encoding="utf-8") == "# edited\n"
    assert (home / "config" / "apprise.yml").read_text(encoding="utf-8") == "urls: []\n"
    after = env_of(home)
    assert after["BIHUAN_PEER_TOKEN_SECRET"] == first["BIHUAN_PEER_TOKEN_SECRET"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", after["BIHUAN_SESSION_SECRET"] or "")
    assert after["BIHUAN_SESSION_SECRET"] != first["BIHUAN_SESSION_SECRET"]
    assert env_path.stat().st_mode & 0o777 == 0o600
    assert (home / "var" / "prefect").is_dir()

    # and again: nothing left to add, nothing changed but the regenerated deploy copies
    before = {k: v for k, v in snapshot(home).items() if not k.startswith("deploy/")}
    assert init(str(home), "--force").exit_code == 0
    assert {k: v for k, v in snapshot(home).items() if not k.startswith("deploy/")} == before


def test_a_file_in_the_way_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("", encoding="utf-8")
    result = init(str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "is not a folder" in result.output


# ---------------------------------------------------------------- the apprise skeleton


def test_the_apprise_skeleton_sends_nothing() -> None:
    from notifications.channels import Channels

    with pytest.raises(ConfigError, match="no `urls:` entries"):
        Channels(APPRISE_SKELETON, source="apprise.yml")


def test_the_apprise_skeleton_examples_load_once_uncommented() -> None:
    """The operator's first step is to delete the "# " in front of the examples: what they get
    must be a valid config with one tag per channel."""
    from notifications.channels import Channels

    body = APPRISE_SKELETON[APPRISE_SKELETON.index("# version: 1") :]
    text = "\n".join(line.removeprefix("# ") for line in body.splitlines())
    channels = Channels(text, source="apprise.yml")
    assert channels.loaded == 5
    assert channels.tags() == {"d01", "d01-head", "section-jdjc", "leadership", "d02"}
    schemes = {entry["url"].split("://")[0] for entry in channels.describe()}
    assert schemes == {"mailtos", "wecombot", "dingtalk", "feishu", "bihuan"}


# ---------------------------------------------------------------- running from the installation


def bihuan_python(code: str, *, home: Path | None, cwd: Path, **env: str) -> subprocess.Popen:
    """A fresh process (the env file is read when bihuan is imported) with BIHUAN_HOME=home and
    none of this test session's BIHUAN_ / PREFECT_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BIHUAN_", "PREFECT_"))}
    if home is not None:
        clean["BIHUAN_HOME"] = str(home)
    clean.update(env)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


SHOW_SETTINGS = """
import json, os
from bihuan.settings import get_settings
s = get_settings()
print(json.dumps({
    "db_url": s.db_url,
    "policy_dir": str(s.policy_dir),
    "peer_token_secret": s.peer_token_secret.get_secret_value(),
    "prefect_home": os.environ["PREFECT_HOME"],
    "session_secret": os.environ.get("BIHUAN_SESSION_SECRET"),
}))
"""


def run_settings(home: Path | None, cwd: Path, **env: str) -> dict[str, str]:
    proc = bihuan_python(SHOW_SETTINGS, home=home, cwd=cwd, **env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return dict(json.loads(out))


def test_every_setting_comes_from_the_installation(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    assert init(str(home)).exit_code == 0
    env = env_of(home)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = run_settings(home, elsewhere)
    assert shown == {
        "db_url": f"sqlite:///{home / 'var' / 'bihuan.db'}",
        "policy_dir": str(home / "config"),
        "peer_token_secret": env["BIHUAN_PEER_TOKEN_SECRET"],
        "prefect_home": str(home / "var" / "prefect"),
        "session_secret": env["BIHUAN_SESSION_SECRET"],
    }
    assert list(elsewhere.iterdir()) == []


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    assert init(str(home)).exit_code == 0
    other = tmp_path / "other.db"
    shown = run_settings(home, tmp_path, BIHUAN_DATABASE_URL=str(other))
    assert shown["db_url"] == f"sqlite:///{other}"


def test_an_unreadable_env_file_stops_the_program(tmp_path: Path) -> None:
    """(A folder in its place: tests run as root, who can read any file.)"""
    (tmp_path / "bihuan.env").mkdir()
    proc = bihuan_python("import bihuan", home=tmp_path, cwd=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert f"cannot read {tmp_path / 'bihuan.env'}" in err
    assert "Traceback" not in err


def test_without_an_installation_config_the_default_policy_is_used(tmp_path: Path) -> None:
    assert Settings(home=tmp_path, config_dir=None).policy_dir == shipped("config")
    own = tmp_path / "config"
    own.mkdir()
    (own / "policy.toml").write_text("", encoding="utf-8")
    assert Settings(home=tmp_path, config_dir=None).policy_dir == own
    assert Settings(home=tmp_path, config_dir=tmp_path / "x").policy_dir == tmp_path / "x"
