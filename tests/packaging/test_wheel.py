"""The wheel, installed for real: built as `make dist` builds it, installed into a fresh
virtualenv, then `bihuan init`, `bihuan db upgrade` and the demo run from the installation
folder with the checkout nowhere on sys.path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def find_uv() -> str:
    """As the Makefile finds it: on the PATH, else the one it installed into .tools/."""
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.fail("no uv: run `make setup` first (it installs uv into .tools/)")
    return uv


def run(argv: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{argv}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """This session's environment without anything that points at the checkout or its settings."""
    drop = ("BIHUAN_", "PREFECT_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def tracked_files(folder: str, pattern: str = "*") -> set[str]:
    """Files of the checkout that belong in the wheel (no caches)."""
    base = ROOT / folder
    return {
        str(p.relative_to(ROOT))
        for p in base.rglob(pattern)
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def check_contents(names: set[str]) -> None:
    migrations = {
        n.replace("migrations/", "bihuan/_migrations/", 1) for n in tracked_files("migrations")
    }
    assert migrations and migrations <= names
    assert {"bihuan/_migrations/env.py", "bihuan/_migrations/script.py.mako"} <= names
    assert {
        "bihuan/_config/policy.toml",
        "bihuan/_config/apprise.example.yml",
        "bihuan/_config/prefect-logging.yml",
    } <= names
    deploy = {n.replace("deploy/", "bihuan/_deploy/", 1) for n in tracked_files("deploy")}
    assert deploy and deploy <= names
    templates = tracked_files("notifications/templates")
    assert templates and templates <= names
    # the portal's pages and assets, once it has them
    assert tracked_files("bihuan/web/templates") <= names
    assert tracked_files("bihuan/web/static") <= names
    for package in ("bihuan", "flows", "models", "notifications"):
        assert f"{package}/__init__.py" in names
    # nothing of a checkout's own: no tests, local config, var/ or caches
    assert not [
        n
        for n in names
        if n.startswith(("tests/", "var/", "config/", "migrations/", "benchmarks/"))
        or "__pycache__" in n
        or n.endswith("apprise.yml")
    ]


def install(uv: str, venv: Path, wheel: Path, constraints: Path, work: Path) -> str:
    """The wheel and its dependencies, as an operator installs them, from uv's cache. When the
    cache cannot answer the resolver offline (it keeps the index pages uv fetched last), the
    dependencies come from uv.lock instead (by URL, as `make setup` installs them) and the
    wheel on top; `uv pip check` then holds the wheel's requirements against them."""
    env = clean_env(UV_PYTHON_DOWNLOADS="never")
    py = venv / "bin" / "python"
    common = ["--offline", "--compile-bytecode", "--python", py]
    proc = subprocess.run(
        [uv, "pip", "install", *common, "-c", constraints, wheel],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    how = "uv pip install (offline, resolved from the wheel)"
    if proc.returncode != 0:
        assert "network" in proc.stderr or "offline" in proc.stderr, proc.stderr
        lock_env = {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}
        run(
            [
                uv,
                "sync",
                "--frozen",
                "--offline",
                "--no-dev",
                "--no-install-project",
                "--compile-bytecode",
            ],
            cwd=ROOT,
            env=lock_env,
            timeout=900,
        )
        run([uv, "pip", "install", *common, "--no-deps", wheel], cwd=work, env=env)
        how = "dependencies from uv.lock (the cache lacked index pages), then the wheel"
    run([uv, "pip", "check", "--python", py], cwd=work, env=env)
    return how


def test_the_wheel_installs_and_runs_from_an_installation_folder(tmp_path: Path) -> None:
    uv = find_uv()
    timings: dict[str, float] = {}
    start = time.monotonic()

    def lap(name: str) -> None:
        nonlocal start
        timings[name] = round(time.monotonic() - start, 1)
        start = time.monotonic()

    dist = tmp_path / "dist"
    run([uv, "build", "--out-dir", dist], cwd=ROOT, env=clean_env(UV_PYTHON_DOWNLOADS="never"))
    (wheel,) = dist.glob("bihuan-*.whl")
    constraints = dist / "constraints.txt"
    export = ["--quiet", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"]
    run(
        [uv, "export", *export, "--format", "requirements-txt", "--output-file", constraints],
        cwd=ROOT,
        env=clean_env(),
    )
    check_contents(wheel_names(wheel))
    lap("build")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=clean_env())
    how = install(uv, venv, wheel, constraints, tmp_path)
    lap("install")

    bihuan = venv / "bin" / "bihuan"
    elsewhere = tmp_path / "elsewhere"  # the cwd: nothing may be written here
    elsewhere.mkdir()
    # the installed code, not the checkout's; with no installation config, the default policy
    # shipped in the wheel
    bare = tmp_path / "bare"
    bare.mkdir()
    code = (
        "import sys, bihuan; from bihuan.settings import get_settings as g; "
        "print(bihuan.__file__); print(g().policy_dir); print(sys.path)"
    )
    where = run(
        [venv / "bin" / "python", "-c", code], cwd=elsewhere, env=clean_env(BIHUAN_HOME=str(bare))
    )
    package, policy_dir = where.splitlines()[:2]
    assert package.startswith(str(venv)) and str(ROOT) not in where, where
    assert policy_dir.startswith(str(venv)) and policy_dir.endswith("bihuan/_config")

    # run from anywhere, init leaves nothing behind in the folder it was run from
    home = tmp_path / "srv" / "bihuan"
    out = run([bihuan, "init", home], cwd=elsewhere, env=clean_env())
    assert list(elsewhere.iterdir()) == []
    assert "bihuan db upgrade" in out
    assert (home / "bihuan.env").stat().st_mode & 0o777 == 0o600
    lap("init")

    installed = clean_env(BIHUAN_HOME=str(home))
    out = run([bihuan, "db", "upgrade"], cwd=elsewhere, env=installed)
    assert "database at revision" in out and (home / "var" / "bihuan.db").exists()
    # from the installation folder itself, its env file is found without BIHUAN_HOME
    revision = out.split()[-1]
    assert run([bihuan, "db", "current"], cwd=home, env=clean_env()).strip() == revision
    lap("db upgrade")

    out = run([bihuan, "demo", "--year", "2022"], cwd=elsewhere, env=installed, timeout=900)
    lap("demo --year 2022")
    var = home / "var"
    assert "demo database:" in out and str(var / "demo.db") in out
    assert str(ROOT) not in out
    assert (var / "demo.db").stat().st_size > 0
    assert list((var / "reports").glob("*/*2022*.html"))
    assert len(list((var / "outbox").glob("*.txt"))) > 100
    assert any((var / "prefect").iterdir())  # Prefect's home in the installation
    assert list(elsewhere.iterdir()) == []

    print(f"\nwheel {wheel.name}: {wheel.stat().st_size:,} bytes; install: {how}")
    print("seconds: " + ", ".join(f"{k} {v}" for k, v in timings.items()))
