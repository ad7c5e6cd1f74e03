"""The local sink (本地发件箱): an apprise scheme `bihuan://` that writes each message to a file.

Importing this module registers the scheme with apprise (globally, once). A message sent to
`bihuan://outbox` lands in `settings.outbox_dir` (var/outbox/); a `dir:` key beside the tag
in the YAML config (or `?dir=/some/dir` in a plain URL) overrides the directory. Each file is `<date>-<tag>-<short hash>.txt` holding the subject and
the body in UTF-8, so the embedded demo shows every reminder without a mail server; an
attachment (the problem list's rectification workbook) is copied beside it as
`<date>-<tag>-<short hash>-<its name>`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from apprise.decorators import notify

from models.base import BUSINESS_TZ

SCHEME = "bihuan"

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


def sink_filename(day: str, tag: str, subject: str, body: str) -> str:
    """`<date>-<tag>-<short hash>.txt`; the hash of the content keeps a re-send in the same file."""
    digest = hashlib.sha256(f"{tag}\n{subject}\n{body}".encode()).hexdigest()[:10]
    safe_tag = _UNSAFE.sub("_", tag).strip("_") or "untagged"
    return f"{day}-{safe_tag}-{digest}.txt"


def _directory(meta: dict[str, Any]) -> Path:
    # Three spellings, because apprise 2.0.1's YAML loader fails on a custom scheme's query string
    # (KeyError 'password'): a `dir:` key beside `tag:` in YAML, `?dir=` in a plain URL, or the
    # path itself (bihuan://outbox/srv/bihuan/outbox).
    qsd = meta.get("qsd") or {}
    chosen = meta.get("dir") or qsd.get("dir") or meta.get("fullpath")
    if chosen:
        return Path(unquote(str(chosen))).expanduser()
    # Imported lazily: settings read the environment, and tests reset them between cases.
    from bihuan.settings import get_settings

    return get_settings().outbox_dir


def write_message(directory: Path, tag: str, subject: str, body: str, *, day: str) -> Path:
    """Write one message atomically (temp file + rename) so a reader never sees half of it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / sink_filename(day, tag, subject, body)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"主题：{subject}\n\n{body}", encoding="utf-8")
    tmp.replace(path)
    return path


@notify(on=SCHEME, name="bihuan local outbox")
def _deliver(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    tags = sorted(meta.get("tag") or ()) or ["untagged"]
    # The file date is the business day in Asia/Shanghai, when the message was written.
    day = datetime.now(BUSINESS_TZ).date().isoformat()
    path = write_message(_directory(meta), "+".join(tags), title, body, day=day)
    for attachment in kwargs.get("attach") or ():
        # beside the message, named after it: <message>-<the attachment's name>
        source = Path(attachment.path)
        shutil.copyfile(source, path.with_name(f"{path.stem}-{source.name}"))
    return True


__all__ = ["SCHEME", "sink_filename", "write_message"]
