"""deploy/ checked by the programs that will read it: systemd's own unit verifier and `nginx -t`,
on the copies `bihuan init` writes (this checkout's virtualenv, a temporary installation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bihuan.commands.init import deploy_files
from tests.optional import require_program


def write_copies(tmp_path: Path) -> Path:
    home = tmp_path / "inst"
    (home / "var").mkdir(parents=True)
    (home / "bihuan.env").write_text("BIHUAN_HOME=" + str(home) + "\n", encoding="utf-8")
    out = tmp_path / "deploy"
    out.mkdir()
    for name, text in deploy_files(home, Path(sys.executable).parent).items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """Unknown keys, bad values and missing programs are what `systemd-analyze verify` reports;
    it must report nothing."""
    require_program("systemd-analyze", "systemd", "checking the systemd units in deploy/")
    units = sorted(str(p) for p in write_copies(tmp_path).iterdir() if p.suffix != ".conf")
    proc = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    require_program("nginx", "nginx-light", "checking the nginx site in deploy/")
    require_program("openssl", "openssl", "a throwaway certificate for `nginx -t`")
    site = (write_copies(tmp_path) / "nginx-bihuan.conf").read_text(encoding="utf-8")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed = ["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=bihuan.example.gov.cn"]
    subprocess.run(
        ["openssl", "req", *self_signed, *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = (
        site.replace("/etc/ssl/bihuan/fullchain.pem", str(cert))
        .replace("/etc/ssl/bihuan/privkey.pem", str(key))
        .replace("/var/log/nginx/", f"{tmp_path}/")
    )
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["nginx", "-t", "-q", "-c", str(main), "-p", f"{tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
