"""`bihuan init DIR`: a new installation folder, from which everything runs (BIHUAN_HOME=DIR)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bihuan.cli import console, err_console
from bihuan.clock import business_today
from bihuan.errors import UserError
from bihuan.runtime import ENV_FILE, remove_unused_prefect_home, shipped

# Generated per installation, never overwritten: changing the peer-token secret makes stored
# peer-rating tokens unmatchable, changing the session secret signs everyone out.
SECRETS = ("BIHUAN_PEER_TOKEN_SECRET", "BIHUAN_SESSION_SECRET")
POLICY = "config/policy.toml"
APPRISE = "config/apprise.yml"
# The paths the files in deploy/ are written for; the copies in DIR/deploy/ get the real ones.
DEPLOY_HOME = "/srv/bihuan"
DEPLOY_BIN = "/opt/bihuan/venv/bin/"

APPRISE_SKELETON = """\
# apprise recipients (通知接收人) of this bihuan installation, written by `bihuan init`.
#
# Nothing here is live: every channel below is commented out, and bihuan reads this file only
# once BIHUAN_APPRISE_CONFIG in bihuan.env names it; until then nothing leaves this machine.
# Once filled in, this file holds tokens and passwords: keep it mode 600, owned by the user the
# services run as. bihuan masks its URLs and tokens in logs, messages and database rows.
#
# Format: apprise's YAML (https://github.com/caronc/apprise/wiki/config_yaml). Each URL gets
# `tag:` entries; bihuan sends to one tag at a time, so it knows which recipient failed.
# Recommended: one URL per tag. The tags bihuan uses (`bihuan departments` lists the codes):
#   d01, d02, ...        a department's contact (部门联络人), by department code
#   d01-head, ...        the department head (部门主要负责人), when a reminder escalates
#   section-<code>       a supervising section of the office (督促科室), e.g. section-jdjc
#   leadership           the office leadership (编办领导), top of the escalation ladder
#
# DingTalk (钉钉), WeCom (企业微信) and Feishu (飞书) bots answer HTTP 200 even when they reject a
# message; bihuan reads their errcode and records such a message as failed, never as sent.
#
# To start: delete the "# " in front of `version:`, `urls:` and of the entries you need, put in
# the real address, token or key, and name this file in bihuan.env (BIHUAN_APPRISE_CONFIG).

# version: 1
# urls:
#   # E-mail over SMTP with STARTTLS on port 587 (add ?mode=ssl for port 465).
#   - "mailtos://bihuan:SMTP-PASSWORD@smtp.example.gov.cn:587?to=d01@example.gov.cn&from=bihuan@example.gov.cn":
#       - tag: d01
#   # WeCom group bot (企业微信群机器人): wecombot://<webhook key>
#   - "wecombot://WECOMBOTKEY":
#       - tag: d01-head
#   # DingTalk group bot (钉钉群机器人) with signing: dingtalk://<secret>@<access_token>/
#   # (letters and digits only). With the "custom keyword" check, the keyword must be 整改.
#   - "dingtalk://SIGNINGSECRET0000@ACCESSTOKEN0000/":
#       - tag: section-jdjc
#   # Feishu group bot (飞书群机器人): feishu://<webhook token>
#   - "feishu://FEISHUWEBHOOKTOKEN":
#       - tag: leadership
#   # The local sink (本地发件箱) writes each message as a file into var/outbox/: for a trial.
#   - "bihuan://outbox":
#       - tag: d02
"""


def new_secret() -> str:
    """256 random bits, URL-safe: no quoting needed in an env file or a systemd unit."""
    return secrets.token_urlsafe(32)


def env_file_text(home: Path, secret_values: dict[str, str], today: date) -> str:
    """The installation's env file: read by the systemd units (EnvironmentFile=) and by every
    bihuan process whose home is `home`. Plain KEY=VALUE lines and whole-line comments only, the
    format both systemd and bihuan read the same way."""
    lines = [
        f"# bihuan installation {home}: settings and secrets (安装配置与密钥).",
        f"# Written by `bihuan init` on {today.isoformat()}. Read by the systemd units",
        "# (EnvironmentFile=) and by every bihuan command run with BIHUAN_HOME set to this folder",
        "# (or from this folder). One KEY=VALUE per line, no quotes needed, comments on their own",
        "# lines. Keep it mode 600, owned by the user the services run as; never mail or commit it.",
        "",
        f"BIHUAN_HOME={home}",
        "",
        "# The database. Unset: SQLite in var/bihuan.db (a trial on one machine). For real use,",
        "# PostgreSQL (docs/operations.md):",
        "# BIHUAN_DATABASE_URL=postgresql://bihuan:PASSWORD@127.0.0.1:5432/bihuan",
        "",
        "# The jurisdiction (县) commands work on when no -j is given: the code you import.",
        "# BIHUAN_JURISDICTION=juxian",
        "",
        "# The notification channels: fill in config/apprise.yml, then remove the '# ' below.",
        "# Until then nothing leaves this machine: scheduled runs keep the messages queued and say",
        "# the channels are missing; `bihuan track` / `dispatch` from a shell write them as files",
        "# into var/outbox/ (through a var/apprise.yml they write for that).",
        f"# BIHUAN_APPRISE_CONFIG={home / APPRISE}",
        "",
        "# The portal's public address, for the links in reminders and problem lists.",
        "# BIHUAN_BASE_URL=https://bihuan.example.gov.cn",
        "",
        "# Secrets generated for this installation. Changing BIHUAN_PEER_TOKEN_SECRET makes the",
        "# stored peer-rating tokens unmatchable; changing BIHUAN_SESSION_SECRET signs everyone out.",
        *(f"{key}={value}" for key, value in secret_values.items()),
        "",
        "# Prefect: its home (run history, logs) and the offline settings.",
        f"PREFECT_HOME={home / 'var' / 'prefect'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED=false",
        "DO_NOT_TRACK=1",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT=false",
        "# Once the Prefect server runs (bihuan-prefect-server.service or `bihuan server`), so that",
        "# commands from a shell show up in its UI (unset: each command starts a temporary one):",
        "# PREFECT_API_URL=http://127.0.0.1:4200/api",
        "# The Prefect server's own database (PostgreSQL needs the pg_trgm extension; unset: SQLite",
        "# in PREFECT_HOME):",
        "# PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg://prefect:PASSWORD@127.0.0.1:5432/prefect",
        "# A password on the Prefect API and UI: the same value on the server and on its clients.",
        "# PREFECT_SERVER_API_AUTH_STRING=admin:PASSWORD",
        "# PREFECT_API_AUTH_STRING=admin:PASSWORD",
        "",
    ]
    return "\n".join(lines)


def deploy_files(home: Path, bin_dir: Path) -> dict[str, str]:
    """The systemd units and the nginx site of deploy/, with this installation's folder and
    this program's bin directory in place of /srv/bihuan and /opt/bihuan/venv/bin."""
    out = {}
    for path in sorted(shipped("deploy").iterdir()):
        if path.suffix not in {".service", ".timer", ".conf"}:
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        text = "".join(
            line
            if line.lstrip().startswith("#")  # the comments keep describing the shipped file
            else line.replace(DEPLOY_BIN, f"{bin_dir}/").replace(DEPLOY_HOME, str(home))
            for line in lines
        )
        header = (
            f"# Written by `bihuan init` for {home} and {bin_dir}; "
            "`bihuan init --force` writes it again.\n"
        )
        out[path.name] = header + text
    return out


def _env_keys(text: str) -> set[str]:
    """The variables an env file sets to a non-empty value (read as bihuan.runtime reads it)."""
    import io

    from dotenv import dotenv_values

    return {k for k, v in dotenv_values(stream=io.StringIO(text), interpolate=False).items() if v}


def _write_private(path: Path, text: str) -> None:
    """A new file readable by its owner only, from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def init(
    directory: Annotated[
        Path,
        typer.Argument(help="The installation folder, e.g. /srv/bihuan (created if missing)."),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Complete an existing installation: write what is missing and add missing "
            "secrets. Never overwrites bihuan.env, config/policy.toml or config/apprise.yml.",
        ),
    ] = False,
) -> None:
    """Create an installation folder: bihuan.env with fresh secrets, config/policy.toml to edit,
    config/apprise.yml (nothing live), var/, and deploy/ (systemd units, nginx site)."""
    # `import bihuan` made a Prefect home in the folder this was run from; init needs none.
    remove_unused_prefect_home()
    home = directory.expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise UserError(f"{home} exists and is not a folder; choose another path")
    env_path, policy_path, apprise_path = home / ENV_FILE, home / POLICY, home / APPRISE
    existing = [p for p in (env_path, policy_path, apprise_path) if p.exists()]
    if existing and not force:
        names = ", ".join(str(p.relative_to(home)) for p in existing)
        raise UserError(
            f"{home} already holds a bihuan installation ({names}); nothing was changed. "
            "To complete it, run again with --force: missing files are written and missing "
            "secrets added; bihuan.env, policy.toml and apprise.yml are never overwritten."
        )

    done: list[tuple[str, str]] = []
    for folder in (home / "config", home / "var" / "prefect", home / "deploy"):
        folder.mkdir(parents=True, exist_ok=True)
    # the database, uploaded evidence and backups: for the service user only
    (home / "var").chmod(0o700)

    if env_path.exists():
        text = env_path.read_text(encoding="utf-8")
        added = [key for key in SECRETS if key not in _env_keys(text)]
        if added:
            with env_path.open("a", encoding="utf-8") as f:
                f.write("\n# Added by `bihuan init --force`.\n")
                f.writelines(f"{key}={new_secret()}\n" for key in added)
        env_path.chmod(0o600)
        done.append((ENV_FILE, f"kept; added {', '.join(added)}" if added else "kept"))
    else:
        secret_values = {key: new_secret() for key in SECRETS}
        _write_private(env_path, env_file_text(home, secret_values, business_today()))
        done.append((ENV_FILE, "created: settings and fresh secrets, mode 600"))

    if policy_path.exists():
        done.append((POLICY, "kept"))
    else:
        shutil.copyfile(shipped("config") / "policy.toml", policy_path)
        done.append((POLICY, "created: the default policy, to edit for your county"))

    if apprise_path.exists():
        done.append((APPRISE, "kept"))
    else:
        _write_private(apprise_path, APPRISE_SKELETON)
        done.append((APPRISE, "created: channel examples, all commented out"))

    bin_dir = Path(sys.executable).parent  # where this program's bihuan and prefect are
    for name, text in deploy_files(home, bin_dir).items():
        (home / "deploy" / name).write_text(text, encoding="utf-8")
    done.append(("deploy/", "systemd units and the nginx site, with these paths"))
    done.append(("var/", "databases, Prefect's home, reports, outbox, evidence, backups"))

    console.print(f"bihuan installation in [bold]{home}[/bold]", highlight=False, soft_wrap=True)
    for name, what in done:
        console.print(f"  {name:<20} {what}", highlight=False, markup=False, soft_wrap=True)
    console.print(_next_steps(home), highlight=False, markup=False, soft_wrap=True)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        err_console.print(
            f"[yellow]note:[/yellow] these files belong to root; the services read bihuan.env "
            f"as their own user: chown -R bihuan:bihuan {home}",
            highlight=False,
            soft_wrap=True,
        )


def _next_steps(home: Path) -> str:
    return f"""
next steps (docs/operations.md explains each one):
  export BIHUAN_HOME={home}     every bihuan command then uses this installation
  1. the database: SQLite in var/ for a trial; for real use set BIHUAN_DATABASE_URL
     (PostgreSQL) in {home / ENV_FILE}
  2. bihuan db upgrade
  3. bihuan users add NAME --role admin --password-stdin      the first administrator
  4. edit config/policy.toml (the policy) and config/apprise.yml (the channels; then name it
     in bihuan.env: until then no message leaves this machine)
  5. run it: the systemd units and the nginx site in {home / "deploy"},
     or by hand: bihuan server, bihuan serve, bihuan web"""


def register(app: typer.Typer) -> None:
    app.command("init")(init)
