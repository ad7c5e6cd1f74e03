"""deploy/: every command the systemd units start exists with the options they give it, each
service runs hardened as the bihuan user from the installation, and nginx fronts the portal."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from bihuan.cli import _register_commands, app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = sorted(DEPLOY.glob("*.service"))
TIMERS = sorted(DEPLOY.glob("*.timer"))
NGINX = DEPLOY / "nginx-bihuan.conf"
HOME = "/srv/bihuan"
VENV_BIN = "/opt/bihuan/venv/bin/"

# Commands the units start that land with another branch (none now: the portal has landed).
NOT_YET_MERGED: set[str] = set()


def unit_settings(path: Path) -> dict[str, list[str]]:
    """section.key -> values, in order (a key may repeat, as Environment= does)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def command_lines() -> list[tuple[str, list[str]]]:
    """(unit, argv) of every Exec*= line, without systemd's prefixes (-, @, +, !)."""
    found = []
    for path in SERVICES:
        for key, values in unit_settings(path).items():
            if key.startswith("Service.Exec"):
                found.extend((path.name, shlex.split(v.lstrip("-@+!:"))) for v in values)
    return found


def by_program(name: str) -> list[tuple[str, list[str]]]:
    return [(unit, argv) for unit, argv in command_lines() if Path(argv[0]).name == name]


def test_the_units_are_there() -> None:
    assert {p.name for p in SERVICES} == {
        "bihuan-web.service",
        "bihuan-prefect-server.service",
        "bihuan-worker.service",
        "bihuan-backup.service",
    }
    assert {p.name for p in TIMERS} == {"bihuan-backup.timer"}
    assert by_program("bihuan") and by_program("prefect")


def _bihuan_command(argv: list[str]) -> tuple[Any, str, list[str]]:
    """The Typer command `argv` names (None if a word is unknown), its path, and what is left."""
    _register_commands()
    command: Any = typer.main.get_command(app)
    args, path = list(argv[1:]), "bihuan"
    while isinstance(command, TyperGroup) and args and not args[0].startswith("-"):
        sub = command.get_command(typer.Context(command), args[0])
        if sub is None:
            return None, f"{path} {args[0]}", args
        command, path = sub, f"{path} {args.pop(0)}"
    return command, path, args


@pytest.mark.parametrize(
    ("unit", "argv"), by_program("bihuan"), ids=[" ".join(a[1:3]) for _, a in by_program("bihuan")]
)
def test_every_bihuan_command_in_the_units_exists(unit: str, argv: list[str]) -> None:
    command, path, rest = _bihuan_command(argv)
    first = argv[1]
    if first in NOT_YET_MERGED:
        assert command is None, (
            f"`bihuan {first}` exists now: remove it from NOT_YET_MERGED in {__file__}"
        )
        pytest.skip(f"`bihuan {first}` lands with another branch (NOT_YET_MERGED)")
    assert command is not None, f"{unit}: `{path}` is not a bihuan command"
    # parsing the unit's arguments checks that every option it gives exists and takes its value
    try:
        command.make_context(path, list(rest))
    except Exception as exc:  # click's UsageError (Typer vendors click, privately)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"{unit}: `{' '.join(argv)}`: {message}")


@pytest.mark.parametrize(
    ("unit", "argv"),
    by_program("prefect"),
    ids=[" ".join(a[1:3]) for _, a in by_program("prefect")],
)
def test_every_prefect_command_in_the_units_exists(unit: str, argv: list[str]) -> None:
    args = argv[1:]
    first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    words = args[:first_option]  # the command and subcommand, e.g. worker start
    options = [a.split("=")[0] for a in args[first_option:] if a.startswith("--")]
    prefect = Path(sys.executable).parent / "prefect"
    help_run = subprocess.run(
        [str(prefect), *words, "--help"], capture_output=True, text=True, timeout=120
    )
    assert help_run.returncode == 0, f"{unit}: `prefect {' '.join(words)}` is not a command"
    for option in options:
        assert re.search(rf"{re.escape(option)}\b", help_run.stdout), (
            f"{unit}: `prefect {' '.join(words)}` has no option {option}"
        )


def test_other_programs_are_named_by_absolute_path() -> None:
    for unit, argv in command_lines():
        assert argv[0].startswith(("/", VENV_BIN)), f"{unit}: {argv[0]}"


@pytest.mark.parametrize("path", SERVICES, ids=[p.name for p in SERVICES])
def test_each_service_runs_hardened_as_bihuan_from_the_installation(path: Path) -> None:
    s = unit_settings(path)
    expected = {
        "Service.User": ["bihuan"],
        "Service.Group": ["bihuan"],
        "Service.EnvironmentFile": [f"{HOME}/bihuan.env"],
        "Service.WorkingDirectory": [HOME],
        "Service.NoNewPrivileges": ["yes"],
        "Service.ProtectSystem": ["strict"],
        "Service.ReadWritePaths": [f"{HOME}/var"],
        "Service.PrivateTmp": ["yes"],
        "Service.ProtectHome": ["yes"],
    }
    assert {k: s.get(k) for k in expected} == expected
    assert s["Service.ExecStart"][0].startswith(VENV_BIN)
    if path.name != "bihuan-backup.service":  # started by its timer
        assert s["Install.WantedBy"] == ["multi-user.target"]
        assert s["Service.Restart"] == ["on-failure"]


def test_services_that_talk_to_prefect_know_the_server() -> None:
    """Without PREFECT_API_URL a worker starts a temporary server of its own and never sees a
    scheduled run; the portal could not resume a paused one."""
    for name in ("bihuan-worker.service", "bihuan-web.service"):
        env = unit_settings(DEPLOY / name)["Service.Environment"]
        assert "PREFECT_API_URL=http://127.0.0.1:4200/api" in env
    server = unit_settings(DEPLOY / "bihuan-prefect-server.service")["Service.ExecStart"][0]
    assert "--host 127.0.0.1 --port 4200" in server


def test_the_backup_timer_starts_the_backup() -> None:
    timer = unit_settings(DEPLOY / "bihuan-backup.timer")
    assert timer["Timer.Unit"] == ["bihuan-backup.service"]
    assert timer["Timer.Persistent"] == ["true"]
    assert timer["Install.WantedBy"] == ["timers.target"]


def test_nginx_fronts_the_portal_over_tls() -> None:
    conf = NGINX.read_text(encoding="utf-8")
    directives = [
        line.strip()
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    web = unit_settings(DEPLOY / "bihuan-web.service")["Service.ExecStart"][0]
    port = re.search(r"--port (\d+)", web)
    assert port, web
    assert f"proxy_pass http://127.0.0.1:{port.group(1)};" in directives
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in directives
    assert "proxy_set_header Host $host;" in directives
    assert any(d.startswith("listen 443 ssl") for d in directives)
    assert any(
        d.startswith('add_header Strict-Transport-Security "max-age=') and d.endswith("always;")
        for d in directives
    )
    assert "client_max_body_size 20m;" in directives
    assert "return 301 https://$host$request_uri;" in directives
