"""The commands the README and docs/pages show, read from their code blocks.

A ``bash`` block holds commands (one per line, ``\\`` continues a line, ``# ...`` comments);
a ``text`` block holds ``$ command`` lines, each followed by the output the page promises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "pages").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Shown:
    page: str
    command: str
    output: tuple[str, ...] = ()  # what a text block prints after it


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for i, char in enumerate(line):
        if char in "'\"" and quote in (None, char):
            quote = None if quote else char
        elif char == "#" and quote is None and (i == 0 or line[i - 1] == " "):
            return line[:i].rstrip()
    return line.rstrip()


def _bash(body: str) -> list[str]:
    commands, pending = [], ""
    for raw in body.splitlines():
        line = _strip_comment(raw)
        if not line.strip() and not pending:
            continue
        pending = f"{pending} {line.strip()}" if pending else line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        if pending.count("'") % 2:  # a quoted argument goes on over the next line
            continue
        commands.append(re.sub(r"\s+", " ", pending))
        pending = ""
    return commands


def _text(body: str) -> list[tuple[str, tuple[str, ...]]]:
    found: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            found.append((_strip_comment(line[2:]), []))
        elif found and line.strip():
            found[-1][1].append(line)
    return [(command, tuple(output)) for command, output in found]


def shown_commands() -> list[Shown]:
    """Every command shown on the pages, in page order."""
    shown = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        for lang, body in _BLOCK.findall(page.read_text()):
            if lang in ("bash", "sh", "shell", "console"):
                shown += [Shown(name, command) for command in _bash(body)]
            elif lang == "text":
                shown += [Shown(name, command, output) for command, output in _text(body)]
    return shown
