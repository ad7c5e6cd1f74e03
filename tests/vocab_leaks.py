"""The enum code values of bihuan/vocab.py found as words in a text meant for people (issue 10.6):
listings, documents, messages and artifacts show the Chinese labels, never the codes."""

from __future__ import annotations

import re

from bihuan import vocab

CODES: frozenset[str] = frozenset(
    member.value
    for enum in vars(vocab).values()
    if isinstance(enum, type)
    and issubclass(enum, vocab.LabelledEnum)
    and enum is not vocab.LabelledEnum
    for member in enum
)
# A code as a word: not part of a longer identifier, tag or file name (d01-head, section-ops).
_WORD = re.compile(r"(?<![A-Za-z0-9_\-./])[a-z][a-z_\-]*[a-z](?![A-Za-z0-9_\-])")
_URL = re.compile(r"https?://\S+")
_CODE_SPAN = re.compile(r"`[^`\n]*`")  # a command to type, in Markdown
_TAG = re.compile(r"<[^>]+>")


def leaked_codes(text: str, *, html: bool = False, markdown: bool = False) -> set[str]:
    """The codes found as words in `text` (links, and with `html` tags, with `markdown`
    code spans, left out: they are addresses and commands, not words)."""
    text = _URL.sub(" ", text)
    if html:
        text = _TAG.sub(" ", text)
    if markdown:
        text = _CODE_SPAN.sub(" ", text)
    return {w for w in _WORD.findall(text) if w in CODES}


def table_body(output: str) -> str:
    """A command's output without the header rows of its Rich tables (bilingual column names
    such as "department 部门" are the English beside the Chinese, not a code)."""
    lines, head = [], False
    for line in output.splitlines():
        if line.startswith("┏"):
            head = True
        elif line.startswith("┡"):
            head = False
        elif not head:
            lines.append(line)
    return "\n".join(lines)
